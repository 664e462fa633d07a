"""``catalyst-hub demo --consortium``: three demo hubs and the consortium they publish to.

The first hub (``demo``, Latin America) has two community groups, the staff account and
the consortium service; ``kivu`` (Africa) and ``pampa`` (Latin America) have no groups
(each hub is one community, as on the real hubs). Each has its own database, secret and
processes, a month of demo data, and publishes to the consortium every few seconds with
its own credential. Ctrl-C stops everything.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from .localhub import LocalHub, ProxyMissing, free_ports

HUBS = {
    "demo": ("Andes and Sahel (demo)", "Latin America"),
    "kivu": ("Kivu", "Africa"),
    "pampa": ("Pampa", "Latin America"),
}
RESEARCHERS = {
    "kivu": [f"{n}@kivu.example.org" for n in ("neema", "baraka", "amani", "zawadi", "imani")],
    "pampa": [
        f"{n}@pampa.example.org" for n in ("valentina", "tomas", "camila", "joaquin", "martina")
    ],
}
#: the demo's communities are small: k = 3 lets the consortium show some figures
DEMO_K = 3


def consortium_service(port: int, config_path: Path, staff: str) -> str:
    return f"""
from catalyst_hub.consortium.scopes import CUSTOM_SCOPES as CONSORTIUM_SCOPES
c.JupyterHub.custom_scopes.update(CONSORTIUM_SCOPES)
c.JupyterHub.services.append({{
    "name": "consortium",
    "url": "http://127.0.0.1:{port}",
    "command": [{sys.executable!r}, "-m", "catalyst_hub", "consortium", "--config={config_path}"],
    "display": True,
    "oauth_no_confirm": True,
    "oauth_client_allowed_scopes": list(CONSORTIUM_SCOPES),
}})
c.JupyterHub.load_roles.append({{
    "name": "consortium-staff-demo",
    "scopes": ["custom:consortium:admin", "access:services!service=consortium"],
    "users": [{staff!r}],
}})
"""


def publishing(url: str, token_file: Path) -> str:
    return (
        f"c.CatalystService.consortium_url = {url!r}\n"
        f"c.CatalystService.consortium_token_file = {str(token_file)!r}\n"
        "c.CatalystService.consortium_interval = 10\n"
        f"c.CatalystService.min_group_size = {DEMO_K}\n"
        "c.CatalystService.consortium_public_communities = ['andes', 'default']\n"
    )


def run_consortium_demo(app, COMMUNITIES, LEAD: str, STAFF: str, ADMIN: str) -> None:
    """Run it, with the demo's communities and accounts (``catalyst_hub.demo``)."""
    import secrets

    from .consortium.store import ConsortiumStore, upgrade
    from .store import make_engine
    from .timeutil import utcnow

    root = Path(app.workdir).resolve() / "consortium"
    root.mkdir(parents=True, exist_ok=True)
    port = free_ports(1)[0]
    consortium_url = f"http://127.0.0.1:{port}/services/consortium/"
    config = root / "consortium_config.py"
    db_url = f"sqlite:///{root / 'consortium.sqlite'}"
    config.write_text(
        "c = get_config()  # noqa\n"
        f"c.ConsortiumBase.db_url = {db_url!r}\n"
        "c.ConsortiumService.upgrade_db = True\n"
        "c.ConsortiumService.hubs = "
        + repr({h: {"name": n, "region": r} for h, (n, r) in HUBS.items()})
        + "\n"
    )
    engine = make_engine(db_url)
    upgrade(engine)
    store = ConsortiumStore(engine)
    for hub in HUBS:
        token_file = root / f"{hub}.token"
        if not token_file.exists():
            token_file.write_text(store.create_credential(hub, "demo", utcnow())[1])
            token_file.chmod(0o600)
    engine.dispose()

    hubs: dict[str, LocalHub] = {}
    passwords: dict[str, dict[str, str]] = {}
    for hub in HUBS:
        workdir = root / hub
        app.data_dir = str(workdir / "catalyst")
        app.db_url = f"sqlite:///{workdir / 'catalyst' / 'catalyst_hub.sqlite'}"
        app.hub_name = hub
        app.excluded_users = {STAFF, ADMIN}
        app.secret_file = str(workdir / "catalyst" / "catalyst_hub_secret")
        if hub == "demo":
            communities = COMMUNITIES
            groups = {f"community-{c}": list(names) for c, names in COMMUNITIES.items()}
            groups.update({"leads-andes": [LEAD], "catalyst-admins": [ADMIN]})
            users = [*(n for names in COMMUNITIES.values() for n in names), LEAD, STAFF, ADMIN]
        else:
            communities = {"default": RESEARCHERS[hub]}
            groups = {"catalyst-admins": [ADMIN]}
            users = [*RESEARCHERS[hub], ADMIN]
        (workdir / "catalyst").mkdir(parents=True, exist_ok=True)
        app.seed_demo_data(communities)
        passwords[hub] = {u: secrets.token_urlsafe(6) for u in users}
        hubs[hub] = LocalHub(
            workdir,
            users=passwords[hub],
            groups=groups,
            admins={ADMIN},
            db_url=app.db_url,
            hub_name=hub,
            port=app.port if hub == "demo" else None,
            extra_hub_config=consortium_service(port, config, STAFF) if hub == "demo" else "",
            extra_service_config=(
                f"c.CatalystApp.excluded_users = {sorted(app.excluded_users)!r}\n"
                f"c.CatalystApp.secret_file = {app.secret_file!r}\n"
                + publishing(consortium_url, root / f"{hub}.token")
            ),
        )
    stop: list[bool] = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    with ExitStack() as stack:
        try:
            for local in hubs.values():
                local.start(timeout=120)
                stack.callback(local.stop)
        except ProxyMissing as e:
            app.log.critical("%s", e)
            app.exit(1)
        except (RuntimeError, TimeoutError) as e:
            app.log.critical("a demo hub did not start: %s", e)
            app.exit(1)
        lines = ["", "catalyst_hub consortium demo: three hubs publishing to one consortium", ""]
        for name, local in hubs.items():
            display, region = HUBS[name]
            lines.append(f"  {display} ({region}): {local.url}")
            for user, password in passwords[name].items():
                if user in (STAFF, ADMIN) or name == "demo":
                    lines.append(f"      {user}  {password}")
        lines += [
            "",
            f"  the consortium (log in on the first hub as {STAFF}):",
            f"      {hubs['demo'].url}services/consortium/",
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)
        while not stop and all(h.proc is not None and h.proc.poll() is None for h in hubs.values()):
            time.sleep(0.5)
        print("\nStopping the demo hubs…", flush=True)
