"""``catalyst-hub demo``: a real local JupyterHub with the catalyst service and demo data.

Two communities (from JupyterHub groups), researchers at every stage of onboarding, a
training lead, consortium staff and an admin, a month of activity on SQLite. The researchers
who went furthest completed every episode of "hub-basics": their ``me`` page issues them its
badge. Passwords are printed on screen; Ctrl-C stops the hub, the proxy, the service and
the servers.
"""

from __future__ import annotations

import random
import secrets
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

from traitlets import Bool, Integer, Unicode

from .catalyst_app import CatalystApp
from .events import envelope, names
from .ingest import Ingestor, Sender
from .localhub import LocalHub, ProxyMissing
from .seed import sender_kind
from .timeutil import isoformat, utcnow

COMMUNITIES = {
    "andes": [
        "ana@andes.example.org",
        "jorge@andes.example.org",
        "lucia@andes.example.org",
        "mateo@andes.example.org",
        "sofia@andes.example.org",
        "diego@andes.example.org",
    ],
    "sahel": [
        "amina@sahel.example.org",
        "kofi@sahel.example.org",
        "fatou@sahel.example.org",
        "ibrahim@sahel.example.org",
        "awa@sahel.example.org",
    ],
}
LEAD = "luis@andes.example.org"
STAFF = "staff@consortium.example.org"
ADMIN = "admin"
#: How far each researcher got: the number of onboarding steps reached (drop-off)
PROGRESS = [8, 7, 6, 5, 4, 3, 2, 1]
STEP_ACTIONS = [
    (names.ACTION, {"action": "logged_in"}),
    None,  # server_started: a real session below
    (names.ACTION, {"action": "kernel_started", "language": "python"}),
    (names.ACTION, {"action": "file_uploaded"}),
    (names.ACTION, {"action": "cell_executed"}),
    (names.ACTION, {"action": "git_cloned"}),
    (names.ACTION, {"action": "notebook_saved"}),
    None,  # server stopped: the session's end
]


def demo_events(username: str, reached: int, rng: random.Random, now: datetime) -> list[dict]:
    """A month of one researcher's events: sessions, onboarding actions, training."""
    events = []

    def add(schema: str, payload: dict, when: datetime) -> None:
        events.append(envelope(schema, payload, time=when))

    first = now - timedelta(days=rng.randint(12, 28), hours=rng.randint(0, 8))
    profile = "rstudio" if rng.random() < 0.35 else "jupyterlab"
    day = first
    sessions = 0
    while day < now - timedelta(hours=2) and sessions < reached * 2:
        start = day.replace(hour=rng.randint(8, 16), minute=rng.randint(0, 59))
        if start > now - timedelta(hours=2):
            break
        stop = start + timedelta(minutes=rng.randint(30, 150))
        started = isoformat(start)
        add(
            names.SERVER_STARTED,
            {
                "server_name": "",
                "started": started,
                "profile": profile,
                "size": rng.choice(["small", "medium", "large"]),
            },
            start,
        )
        add(
            names.ACTIVITY,
            {
                "kind": "proxy" if profile == "rstudio" else "kernel",
                "count": rng.randint(5, 40),
                "seconds": rng.randint(600, 3600),
                "app": profile,
            },
            start + timedelta(minutes=20),
        )
        if reached >= 8:
            add(
                names.SERVER_STOPPED,
                {
                    "server_name": "",
                    "started": started,
                    "last_activity": isoformat(stop - timedelta(minutes=5)),
                },
                stop,
            )
        sessions += 1
        day += timedelta(days=rng.choice([1, 1, 2, 3, 7]))
    for i, step in enumerate(STEP_ACTIONS[:reached]):
        if step:
            add(step[0], step[1], first + timedelta(hours=i * rng.randint(1, 20)))
    exercises = [
        ("hub-basics", "first-notebook", "hello"),
        ("hub-basics", "first-notebook", "variables"),
        ("hub-basics", "data-files", "read-csv"),
        ("hub-basics", "data-files", "plot"),
    ]
    for lesson, episode, exercise in exercises[: max(0, reached - 3)]:
        add(
            names.EXERCISE_COMPLETED,
            {"lesson": lesson, "episode": episode, "exercise": exercise},
            first + timedelta(days=2, hours=rng.randint(0, 30)),
        )
    if reached >= 7:
        # with every exercise above, the lesson's last episode: its badge is earned
        add(
            names.EPISODE_COMPLETED,
            {"lesson": "hub-basics", "episode": "persistence", "source": "self"},
            first + timedelta(days=4),
        )
    add(names.CONSENT, {"decision": "given", "notice_version": "1"}, first)
    return [e for e in events if e["time"] <= isoformat(now)]


class DemoApp(CatalystApp):
    name = "catalyst-hub demo"
    description = "Run a local JupyterHub with the catalyst service, two communities and demo data."

    aliases = {**CatalystApp.aliases, "port": "DemoApp.port", "workdir": "DemoApp.workdir"}
    flags = {
        "consortium": (
            {"DemoApp": {"consortium": True}},
            "Three demo hubs in two regions publishing to a consortium service (on the first).",
        )
    }
    consortium = Bool(
        False,
        config=True,
        help="""Run three demo hubs (the first with community groups, two without) and the
        consortium service on the first, to which all three publish.""",
    )

    port = Integer(8000, config=True, help="Port of the hub's public URL.")
    workdir = Unicode(
        ".demo", config=True, help="Folder for the demo hub's databases, homes and logs."
    )

    def start(self) -> None:
        if self.consortium:
            from .demo_consortium import run_consortium_demo

            run_consortium_demo(self, COMMUNITIES, LEAD, STAFF, ADMIN)
            return
        workdir = Path(self.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        passwords = {
            name: secrets.token_urlsafe(6)
            for usernames in COMMUNITIES.values()
            for name in usernames
        }
        passwords.update(
            {
                LEAD: secrets.token_urlsafe(6),
                STAFF: secrets.token_urlsafe(6),
                ADMIN: secrets.token_urlsafe(6),
            }
        )
        groups = {f"community-{c}": list(usernames) for c, usernames in COMMUNITIES.items()}
        groups["community-andes"].append(LEAD)
        groups.update(
            {"leads-andes": [LEAD], "consortium-staff": [STAFF], "catalyst-admins": [ADMIN]}
        )

        db_url = f"sqlite:///{workdir / 'catalyst' / 'catalyst_hub.sqlite'}"
        self.data_dir = str(workdir / "catalyst")
        self.db_url = db_url
        self.hub_name = "demo"
        self.excluded_users = {STAFF, ADMIN}
        self.seed_demo_data()

        hub = LocalHub(
            workdir,
            users=passwords,
            groups=groups,
            admins={ADMIN},
            db_url=db_url,
            hub_name="demo",
            port=self.port,
            extra_service_config=f"c.CatalystApp.excluded_users = {sorted(self.excluded_users)!r}\nc.Collector.poll_interval = 10\n",
        )
        stop = []
        signal.signal(signal.SIGINT, lambda *_: stop.append(True))
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        try:
            # stops everything it started when it fails (or is interrupted) on the way up
            hub.start(timeout=120)
        except ProxyMissing as e:
            self.log.critical("%s", e)
            self.exit(1)
        except (RuntimeError, TimeoutError) as e:
            self.log.critical("the demo hub did not start: %s", e)
            self.exit(1)
        try:
            self.print_welcome(hub, passwords)
            while not stop and hub.proc is not None and hub.proc.poll() is None:
                time.sleep(0.5)
            if not stop:
                self.log.critical("the hub stopped by itself; see %s", hub.log_path)
        finally:
            print("\nStopping the demo hub…", flush=True)
            hub.stop()

    def seed_demo_data(self, communities: dict[str, list[str]] | None = None) -> None:
        communities = communities or COMMUNITIES
        store = self.init_store(check=True)
        from sqlalchemy import func, select

        from .store import tables as t

        with store.connect() as conn:
            if conn.execute(
                select(func.count()).select_from(t.events).where(t.events.c.hub == store.hub)
            ).scalar():
                self.log.info("demo data already present in %s", self.db_url)
                return
        rng = random.Random(2026)
        now = utcnow()
        ingestor = Ingestor(store)
        items = []
        for community, usernames in communities.items():
            for i, name in enumerate(usernames):
                member_id = store.member_id(name)
                items += [
                    (e, Sender(member_id, community, sender_kind(e["schema"], e["payload"])))
                    for e in demo_events(name, PROGRESS[i % len(PROGRESS)], rng, now)
                ]
        stored, _ = ingestor.ingest_trusted(items)
        self.log.info(
            "demo data: %d events for %d researchers",
            len(stored),
            sum(map(len, communities.values())),
        )
        assert self.engine is not None  # set by init_store
        self.engine.dispose()

    @staticmethod
    def print_welcome(hub, passwords: dict[str, str]) -> None:
        roles = {
            LEAD: "training lead (andes)",
            STAFF: "consortium staff",
            ADMIN: "hub + catalyst admin",
        }
        width = max(map(len, passwords)) + 2
        lines = [
            "",
            f"catalyst_hub demo is running at {hub.url}",
            f"  researcher page: {hub.service_url}me",
            "",
            f"  {'username'.ljust(width)}{'password'.ljust(12)}role",
        ]
        for name, password in passwords.items():
            community = next((c for c, usernames in COMMUNITIES.items() if name in usernames), "")
            lines.append(
                f"  {name.ljust(width)}{password.ljust(12)}{roles.get(name, 'researcher (' + community + ')')}"
            )
        lines += ["", "Press Ctrl-C to stop.", ""]
        print("\n".join(lines), flush=True)
