"""Pytest fixtures for catalyst_hub and for deployments that extend it.

Opt-in, as jupyter_server_fileid's are: a conftest.py says
``pytest_plugins = ["catalyst_hub.pytest_plugin"]``. Engines:

- ``catalyst_db_url`` is parametrized over SQLite and PostgreSQL. The PostgreSQL server is
  found at ``$CATALYST_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
  each test session creates a database of its own there and drops it at the end.
  Where none answers the PostgreSQL cases skip, unless ``$CATALYST_REQUIRE_ALL`` is set (CI),
  which turns the skip into a failure.
- Every test gets its own ``hub`` name: rows carry it, so tests sharing one PostgreSQL
  database never see each other's rows (which is also how hubs share a database).
- ``--clock=HH:MM`` runs the tests marked ``clock`` (those that build data relative to now)
  with the clock set to that UTC time of today, still ticking (time-machine): CI runs them
  again at 00:05 and at 23:55, where "an hour ago" or "in ten minutes" is another day.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

import pytest

POSTGRES_URL = os.environ.get(
    "CATALYST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--clock",
        metavar="HH:MM",
        default=None,
        help="Run the tests marked clock with the UTC clock set to HH:MM of today.",
    )


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "clock: builds data relative to the current time (run again with --clock=00:05 and 23:55)",
    )


@pytest.fixture(autouse=True)
def catalyst_clock(request):
    """With ``--clock=HH:MM``, a test marked ``clock`` starts at HH:MM UTC of today; the clock
    goes on from there (a MockHub and the service share the process, so both see it)."""
    at = request.config.getoption("--clock")
    if not at or request.node.get_closest_marker("clock") is None:
        yield None
        return
    from datetime import datetime, time, timezone

    import time_machine

    hours, minutes = (int(x) for x in at.split(":"))
    start = datetime.combine(
        datetime.now(timezone.utc).date(), time(hours, minutes), tzinfo=timezone.utc
    )
    with time_machine.travel(start, tick=True):
        yield start


def earlier_today(hours: float = 1.0):
    """An aware time ``hours`` before now, but within today (UTC): for data a report of the
    current calendar day must count, whatever the hour the test runs at."""
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(midnight, now - timedelta(hours=hours))


def require_all() -> bool:
    """In CI every optional component (PostgreSQL, Chromium) must be present."""
    return os.environ.get("CATALYST_REQUIRE_ALL", "").lower() not in ("", "0", "false", "no")


def missing(what: str) -> None:
    """Skip for a missing component locally; fail in CI."""
    if require_all():
        pytest.fail(f"{what} (CATALYST_REQUIRE_ALL is set, so this fails instead of skipping)")
    pytest.skip(what)


def postgres_admin():
    """An engine on the test PostgreSQL server for creating and dropping databases. It
    checks a pooled connection before use: fault tests restart the server mid-session."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(
        make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=True,
    )


@pytest.fixture(scope="session")
def _postgres_database():
    """A database of this test session's own on the PostgreSQL server (created, migrated,
    dropped at the end), so runs of different versions never share a schema."""
    import time

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from catalyst_hub.store import make_engine, upgrade

    name = f"catalyst_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = None
    error: Exception | None = None
    for _ in range(30):  # a server restarting (fault tests elsewhere) answers again soon
        try:
            admin = postgres_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            break
        except Exception as e:  # no server, or refused
            error, admin = e, None
            time.sleep(1)
    if admin is None:
        yield error
        return
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalyst_db_url(request, tmp_path) -> str:
    """A migrated database URL: a fresh SQLite file, or the shared PostgreSQL test database."""
    if request.param == "sqlite":
        from catalyst_hub.store import make_engine, upgrade

        url = f"sqlite:///{tmp_path / 'catalyst.sqlite'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    url = request.getfixturevalue("_postgres_database")
    if isinstance(url, Exception):
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {url}")
    return url


@pytest.fixture
def catalyst_hub_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def catalyst_store(catalyst_db_url, catalyst_hub_name):
    """A Store on a migrated database with the packaged catalog, for this test's hub.

    Its ``consent_mode`` is "opt-out" (members record until they object), so tests of
    projections and reports need no consent events; tests of the consent rules set
    ``store.consent_mode = "opt-in"``, the service's default (``catalyst_service`` keeps it)."""
    from catalyst_hub.catalog import Catalog
    from catalyst_hub.projections import Projector
    from catalyst_hub.store import Store, make_engine

    engine = make_engine(catalyst_db_url)
    store = Store(engine, catalyst_hub_name, b"test-secret-" + b"0" * 32, Projector(Catalog.load()))
    store.consent_mode = "opt-out"
    yield store
    engine.dispose()


@pytest.fixture
def make_event():
    """Build an event envelope: ``make_event("action", {"action": "cell_executed"}, time=...)``."""
    from catalyst_hub.events import envelope

    def _make(schema: str, payload: dict, time=None, version: int = 1, id=None) -> dict:
        return envelope(schema, payload, time=time, version=version, id=id)

    return _make


class CatalystTestHub:
    """A MockHub with the catalyst service running in the same event loop.

    ``token(name, groups=[...], roles=[...])`` creates the user (and groups) on the hub and
    returns an API token with the user's full permissions; ``request`` calls the service
    directly (bypassing the proxy, which only adds latency here).
    """

    def __init__(self, hub, service, service_url: str) -> None:
        self.hub = hub
        self.service = service
        self.service_url = service_url

    @property
    def store(self):
        return self.service.store

    def url(self, path: str = "") -> str:
        from jupyterhub.utils import url_path_join

        return url_path_join(self.service_url, self.service.service_prefix, path)

    def user(
        self, name: str, groups: Sequence[str] = (), roles: Sequence[str] = (), admin: bool = False
    ):
        from jupyterhub import orm
        from jupyterhub.roles import grant_role
        from jupyterhub.tests.utils import add_user

        db = self.hub.db
        user = add_user(db, app=self.hub, name=name, admin=admin)
        for group_name in groups:
            group = orm.Group.find(db, group_name)
            if group is None:
                group = orm.Group(name=group_name)
                db.add(group)
            if user.orm_user not in group.users:
                group.users.append(user.orm_user)
        db.commit()
        for role in roles:
            grant_role(db, user.orm_user, role)
        db.commit()
        return user

    def token(
        self,
        name: str,
        groups: Sequence[str] = (),
        roles: Sequence[str] = (),
        admin: bool = False,
        scopes=None,
        consent: str | None = "given",
    ) -> str:
        """An API token of the user ``name``; with ``consent`` ("given" or "withdrawn") the
        user has answered the service's current notice so, through the service's own path
        (as the ``me`` page records it); ``consent=None`` leaves them undecided."""
        user = self.user(name, groups=groups, roles=roles, admin=admin)
        kwargs = {"scopes": scopes} if scopes is not None else {}
        token = user.new_api_token(**kwargs)
        if consent is not None:
            self.decide(name, consent, groups)
        return token

    def decide(self, name: str, decision: str, groups: Sequence[str] = ()) -> None:
        """Record ``name``'s decision on the current notice, as ``POST me/consent`` does."""
        from catalyst_hub.events.names import CONSENT
        from catalyst_hub.reports.progress import member_progress
        from catalyst_hub.service.api import record_own_event

        service = self.service
        actor = service.actor_for({"name": name, "groups": list(groups)})
        known = member_progress(service.store, actor.member_id, actor.community, "en")["consent"]
        if known == {"decision": decision, "version": service.consent_notice_version}:
            return  # another token of the same user
        record_own_event(
            service,
            actor,
            CONSENT,
            {"decision": decision, "notice_version": service.consent_notice_version},
        )

    async def request(self, method: str, path: str, token: str | None = None, **kwargs):
        from jupyterhub.tests.utils import async_requests

        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"token {token}"
        return await getattr(async_requests, method.lower())(
            self.url(path), headers=headers, **kwargs
        )

    async def create_cohort(
        self,
        token: str,
        community: str = "andes",
        name: str = "Workshop",
        lessons: Sequence[str] = ("hub-basics",),
        **fields,
    ) -> str:
        """Create a training cohort with ``token`` (a lead's or an admin's); returns its id."""
        r = await self.request(
            "post",
            "training/",
            token,
            json={"name": name, "community": community, "lessons": list(lessons), **fields},
        )
        assert r.status_code == 201, r.text
        return r.json()["cohort"]


async def wait_for_server(hub, name: str, running: bool = True) -> None:
    """Wait until the MockHub ``hub`` reports ``name``'s default server ready (or gone), and
    not pending; TimeoutError after about 20 s (a hang, never a timing assertion)."""
    import asyncio

    from jupyterhub.tests.utils import api_request

    for _ in range(200):
        model = (await api_request(hub, "users", name)).json()
        server = (model.get("servers") or {}).get("")
        if bool(server and server.get("ready")) == running and not (server or {}).get("pending"):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(name)


def catalyst_hub_config(service_url: str, token: str, roles: list[dict] | None = None) -> dict:
    """JupyterHub config registering the catalyst service (as a deployment would)."""
    from catalyst_hub.service import scopes

    return {
        "JupyterHub": {
            "services": [
                {
                    "name": "catalyst",
                    "url": service_url,
                    "api_token": token,
                    "oauth_no_confirm": True,
                    "oauth_client_allowed_scopes": list(scopes.CUSTOM_SCOPES),
                }
            ],
            "custom_scopes": scopes.CUSTOM_SCOPES,
            "load_roles": [
                {"name": "user", "scopes": ["self", "access:services!service=catalyst"]},
                {
                    "name": "catalyst-service",
                    "scopes": scopes.SERVICE_TOKEN_SCOPES,
                    "services": ["catalyst"],
                },
                *(roles or []),
            ],
        }
    }


@pytest.fixture
def catalyst_hub_roles() -> list[dict]:
    """Extra ``load_roles`` for the test hub; override in a test module to add leads etc."""
    return []


@pytest.fixture
def catalyst_config() -> dict:
    """Extra traitlets config for the service (``{"CatalystService": {...}}``); override it."""
    return {}


@pytest.fixture
async def catalyst_service(
    hub_app, catalyst_db_url, catalyst_hub_name, catalyst_hub_roles, catalyst_config, tmp_path
):
    """A MockHub and the catalyst service talking to it, on this test's database."""
    import secrets

    from jupyterhub.utils import url_path_join
    from traitlets.config import Config

    from catalyst_hub.localhub import free_ports
    from catalyst_hub.service.app import CatalystService

    # every port of the service, the hub and the proxy, distinct (MockHub would pick the
    # proxy's one at a time, and could pick the hub's port, not yet listening)
    port, hub_port, proxy_port, proxy_api_port = free_ports(4)
    service_url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    # MockHub's fixed base URL; the service starts first so the hub finds it up at once
    base_url = "/@/space%20word/"
    prefix = url_path_join(base_url, "services/catalyst/")
    hub_prefix = url_path_join(base_url, "hub/")
    config = Config(
        {
            "CatalystApp": {
                "hub_name": catalyst_hub_name,
                "db_url": catalyst_db_url,
                "secret_file": str(tmp_path / "secret"),
            },
            # the hub's public address (the proxy's), as JupyterHub would give it
            "CatalystService": {
                "url": service_url,
                "service_prefix": prefix,
                "badge_base_url": f"http://127.0.0.1:{proxy_port}{prefix}",
            },
            "Collector": {"poll_interval": 3600},
            "HubOAuth": {
                "api_token": token,
                "api_url": f"http://127.0.0.1:{hub_port}{hub_prefix}api",
                "oauth_client_id": "service-catalyst",
                "oauth_redirect_uri": url_path_join(prefix, "oauth_callback"),
                "hub_prefix": hub_prefix,
                "base_url": prefix,
                "access_scopes": {"access:services!service=catalyst"},
            },
        }
    )
    config.merge(Config(catalyst_config))
    CatalystService.clear_instance()
    service = CatalystService(config=config)
    service.initialize([])
    await service.start_server()
    hub_config = catalyst_hub_config(service_url, token, catalyst_hub_roles)
    hub_config["JupyterHub"].update(
        hub_ip="127.0.0.1", hub_port=hub_port, bind_url=f"http://127.0.0.1:{proxy_port}{base_url}"
    )
    hub_config["ConfigurableHTTPProxy"] = {
        "api_url": f"http://127.0.0.1:{proxy_api_port}",
        # a pid file of its own: JupyterHub kills the proxy named in an existing one, which
        # would be another test run's in the same folder
        "pid_file": str(tmp_path / "proxy.pid"),
    }
    hub = await hub_app(hub_config)
    assert hub.hub.api_url == service.hub_auth.api_url, (hub.hub.api_url, service.hub_auth.api_url)
    yield CatalystTestHub(hub, service, service_url)
    await service.stop()
