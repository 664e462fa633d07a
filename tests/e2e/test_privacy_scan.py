"""Usernames only in the identity table: the whole demo workload on a real hub, then a scan of
every table, export, report and page for any user's username.

Usernames are often email addresses (personal data under LGPD, POPIA and the Kenyan and
Nigerian data protection acts). What is allowed, precisely:

- the ``identities`` table (the one place that links a username to its member id);
- a member's own export (``api/me/export``): their own username, in ``identity`` only;
- a page seen by a signed-in person: their own username (the hub's navigation shows it);
- a training lead's cohort page (per-learner progress, by design): the usernames of the
  cohort's learners, each read written to the audit log.

Nothing else: no other table, no other export (CSV and JSON reports, /metrics, the overview),
no other page. A username is looked for as written, lowercased, URL-encoded (both ways) and
HTML-escaped. Tables are enumerated from the database itself, so a table added later is
scanned without changing this test.
"""

from __future__ import annotations

import html
import re
import shutil
import time
import uuid
from urllib.parse import quote, quote_plus

import pytest
import requests
from sqlalchemy import create_engine, inspect, select, text

from catalyst_hub import demo
from catalyst_hub.store import tables as t
from harness.realhub import RealHub

pytestmark = pytest.mark.e2e

RESEARCHERS = [name for names in demo.COMMUNITIES.values() for name in names]
EVERYONE = [*RESEARCHERS, demo.LEAD, demo.STAFF, demo.ADMIN]
#: the researcher who erases their data at the end, and the one whose server runs
ERASED, WITH_SERVER = demo.COMMUNITIES["sahel"][0], demo.COMMUNITIES["andes"][0]


def variants(username: str) -> set[str]:
    forms = {username, username.lower(), quote(username, safe=""), quote_plus(username)}
    forms |= {html.escape(f) for f in list(forms)} | {username.replace("@", "&#64;")}
    return {f for f in forms if len(f) >= 5}  # "admin" itself is a word pages may use


def hits(text: str, names=EVERYONE) -> set[str]:
    """The usernames any variant of which occurs in ``text``."""
    low = text.lower()
    return {name for name in names for v in variants(name) if v.lower() in low}


def word_hits(text: str) -> set[str]:
    """Like ``hits``, with "admin" (a word pages may use) matched as a JSON/CSV value only."""
    found = hits(text, [n for n in EVERYONE if n != demo.ADMIN])
    if re.search(r'["\s,>]admin["\s,<]', text):
        found.add(demo.ADMIN)
    return found


@pytest.fixture(scope="module")
def demo_hub(tmp_path_factory):
    if not shutil.which("configurable-http-proxy", path=RealHub(".").environment()["PATH"]):
        from catalyst_hub.pytest_plugin import missing

        missing("configurable-http-proxy is not installed: run `make setup`")
    workdir = tmp_path_factory.mktemp("privacy-scan")
    db_url = f"sqlite:///{workdir / 'catalyst' / 'catalyst_hub.sqlite'}"
    # the demo's month of data, seeded as `catalyst-hub demo` does
    app = demo.DemoApp(
        data_dir=str(workdir / "catalyst"),
        db_url=db_url,
        hub_name="demo",
        excluded_users={demo.STAFF, demo.ADMIN},
    )
    app.seed_demo_data()
    groups = {f"community-{c}": list(names) for c, names in demo.COMMUNITIES.items()}
    groups["community-andes"].append(demo.LEAD)
    groups.update(
        {
            "leads-andes": [demo.LEAD],
            "consortium-staff": [demo.STAFF],
            "catalyst-admins": [demo.ADMIN],
        }
    )
    hub = RealHub(
        workdir,
        users={name: uuid.uuid4().hex for name in EVERYONE},
        groups=groups,
        admins={demo.ADMIN},
        db_url=db_url,
        hub_name="demo",
        extra_service_config=(
            f"c.CatalystApp.excluded_users = {sorted({demo.STAFF, demo.ADMIN})!r}\n"
            "c.CatalystService.min_group_size = 2\n"
        ),
    )
    hub.start(timeout=120)
    hub.api("post", "users", json={"usernames": EVERYONE})
    try:
        yield hub, {name: hub.token(name) for name in EVERYONE}
    finally:
        hub.stop()


def get(hub, path, token, **kwargs) -> requests.Response:
    r = hub.service_get(path, token, **kwargs)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    return r


def test_usernames_only_in_the_identity_table(demo_hub):
    hub, tokens = demo_hub
    lead = tokens[demo.LEAD]
    andes = demo.COMMUNITIES["andes"]

    # -- the workload: a real server and its extension, the collector, API calls, pages -----
    url = hub.start_server(WITH_SERVER)
    server_token = hub.server_token(WITH_SERVER)
    r = requests.post(
        f"{url}catalyst/events",
        headers={"Authorization": f"token {server_token}"},
        json={
            "events": [
                {"schema": "action", "version": 1, "payload": {"action": "git_committed"}},
                {
                    "schema": "exercise_completed",
                    "version": 1,
                    "payload": {
                        "lesson": "hub-basics",
                        "episode": "data-files",
                        "exercise": "plot",
                    },
                },
                {
                    "schema": "consent",
                    "version": 1,
                    "payload": {"decision": "given", "notice_version": "1"},
                },
            ]
        },
        timeout=30,
    )
    assert r.status_code == 202, r.text
    for name in RESEARCHERS[:4]:
        event = {
            "id": str(uuid.uuid4()),
            "schema": "activity",
            "version": 1,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "payload": {"kind": "ui", "count": 3, "app": "jupyterlab"},
        }
        r = hub.service_post("api/events", tokens[name], json={"events": [event]})
        assert r.status_code == 200, r.text
    # a training lead: a cohort, learners added by username, a sign-off, the cohort's pages
    r = hub.service_post(
        "training/",
        lead,
        json={
            "community": "andes",
            "name": "Andes spring",
            "language": "es",
            "lessons": ["hub-basics"],
        },
    )
    assert r.status_code == 201, r.text
    cohort = r.json()["cohort"]
    r = hub.service_post(f"training/cohorts/{cohort}/learners", lead, json={"usernames": andes[:3]})
    assert r.status_code == 200, r.text
    learners = get(hub, f"training/cohorts/{cohort}.json", lead).json()
    member_ids = [m for m in _member_ids(learners)]
    assert len(member_ids) == 3
    r = hub.service_post(
        f"training/cohorts/{cohort}/signoff",
        lead,
        json={"learner": member_ids[0], "lesson": "hub-basics", "episode": "persistence"},
    )
    assert r.status_code == 200, r.text

    # the collector has seen the server; then it stops
    engine = create_engine(hub.db_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(
                text("SELECT count(*) FROM server_sessions WHERE stopped IS NULL")
            ).scalar():
                break
        time.sleep(0.5)
    hub.stop_server(WITH_SERVER)

    # -- what each person sees ---------------------------------------------------------------
    seen: list[tuple[str, str, set[str]]] = []  # (viewer, what, usernames found)

    def look(viewer: str, path: str) -> str:
        body = get(hub, path, tokens[viewer]).text
        seen.append((viewer, path, word_hits(body)))
        return body

    for name in RESEARCHERS:
        for path in ("me", "privacy", "api/me", "me/erase"):
            look(name, path)
        export = get(hub, "api/me/export", tokens[name]).json()
        assert [row["username"] for row in export["identity"]] == [name]
        # own username in the identity rows only; nobody else's anywhere
        without_identity = {k: v for k, v in export.items() if k != "identity"}
        assert word_hits(repr(without_identity)) == set(), (name, "export")
    reports = ["reports/", "reports/overview", "reports/overview.csv", "reports/overview.json"]
    for community in demo.COMMUNITIES:
        for kind in ("adoption", "funnel", "usage", "month"):
            reports += [f"reports/communities/{community}/{kind}{s}" for s in ("", ".csv", ".json")]
    for path in reports:
        look(demo.STAFF, path)
    for path in ("metrics", "reports/overview.json", "reports/audit", "reports/audit.json"):
        look(demo.ADMIN, path)
    for path in ("training/", "training.json", "reports/"):
        look(demo.LEAD, path)
    cohort_pages = [
        f"training/cohorts/{cohort}",
        f"training/cohorts/{cohort}.json",
        f"training/cohorts/{cohort}.csv",
    ]
    for path in cohort_pages:
        look(demo.LEAD, path)

    # -- then one researcher erases their data ------------------------------------------------
    r = hub.service_post("api/me/erase", tokens[ERASED], json={"confirm": True})
    assert r.status_code == 200, r.text

    # -- pages and exports: the viewer's own name, and a lead's learners on cohort pages ------
    cohort_learners = set(andes[:3])
    for viewer, path, found in seen:
        allowed = {viewer} | (cohort_learners if path in cohort_pages else set())
        assert found <= allowed, f"{path} seen by {viewer} shows {sorted(found - allowed)}"
    # the cohort page does show its learners (so the check above can fail)
    cohort_seen = [found for _, path, found in seen if path == cohort_pages[0]]
    assert cohort_seen and cohort_seen[0] >= cohort_learners

    # -- every table but identities ----------------------------------------------------------
    inspector = inspect(engine)
    tables = inspector.get_table_names()
    assert set(t.metadata.tables) <= set(tables)
    scanned = 0
    with engine.connect() as conn:
        for table in tables:
            if table == t.identities.name:
                continue
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                scanned += 1
                found = hits(" | ".join(str(v) for v in row))
                assert not found, f"{table} names {sorted(found)}: {row}"
        identities = dict(
            conn.execute(select(t.identities.c.username, t.identities.c.member_id)).all()
        )
        # every learner the lead's cohort page showed by name is in the audit log
        a = t.audit_log.c
        audited = set(
            conn.execute(
                select(a.subject).where(a.actor == identities[demo.LEAD], a.subject.is_not(None))
            ).scalars()
        )
    engine.dispose()
    assert scanned > 500  # the demo's month of events and projections, at least
    # the erased researcher is gone from the identity table too; the others are there
    assert ERASED not in identities
    assert WITH_SERVER in identities and demo.LEAD in identities
    assert {identities[name] for name in cohort_learners} <= audited
    # and the scanner finds names in rows when they are there (the identity table's)
    assert hits(" | ".join(identities)) == set(identities)


def _member_ids(cohort_json) -> list[str]:
    """Learners' member ids from a cohort's JSON (``members`` or ``learners`` rows)."""
    data = cohort_json.get("cohort", cohort_json)
    members = data.get("members") or []
    if members and isinstance(members[0], dict):
        return [m.get("member_id") or m.get("id") for m in members]
    if members:
        return list(members)
    rows = cohort_json.get("learners") or cohort_json.get("rows") or []
    return [r.get("member_id") or r.get("learner") for r in rows]
