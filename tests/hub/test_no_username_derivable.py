"""No username is recoverable from the tables without the deployment's secret.

The tables are made by the real code paths (the collector polling a MockHub whose usernames
are email addresses, the ingest API, the service's pages); then, knowing a list of candidate
usernames but not the secret, every derivation an attacker could try (the name itself, plain
hashes of it, uuid3/uuid5 of it, and uuid5 with the namespace the collector used to publish
in its source, over every field of the rows) must match nothing outside ``identities``.
"""

from __future__ import annotations

import hashlib
import uuid

from jupyterhub.tests.utils import api_request
from sqlalchemy import MetaData, Table, inspect, select

from catalyst_hub.pytest_plugin import wait_for_server

USERS = ["ana.silva@example.org", "kofi@uni.example.edu", "Bea.Moreno@Example.org"]
#: the namespace of the collector's former uuid5 ids (it was in the source: anyone has it)
OLD_NAMESPACE = uuid.UUID("6f1c1c3e-2b7a-4e8e-9d56-3c1f0a6e7b21")
NAMESPACES = [
    OLD_NAMESPACE,
    uuid.NAMESPACE_DNS,
    uuid.NAMESPACE_URL,
    uuid.NAMESPACE_OID,
    uuid.NAMESPACE_X500,
]


def all_rows(store) -> dict[str, list[dict]]:
    """Every row of this hub in every table but ``identities`` (found in the database)."""
    metadata = MetaData()
    out = {}
    with store.connect() as conn:
        for name in inspect(conn).get_table_names():
            if name in ("identities", "alembic_version"):
                continue
            table = Table(name, metadata, autoload_with=conn)
            query = select(table)
            if "hub" in table.c:
                query = query.where(table.c.hub == store.hub)
            out[name] = [dict(row._mapping) for row in conn.execute(query)]
    return out


def candidates(hub: str, username: str, rows: dict[str, list[dict]]) -> set[str]:
    """What could be derived from ``username`` without the secret."""
    forms = {username, username.lower()}
    found = set(forms)
    for form in forms:
        for message in (form, f"{hub}\x00{form}", f"{hub}/{form}", f"{hub}:{form}"):
            data = message.encode()
            for algorithm in ("md5", "sha1", "sha256", "sha512", "blake2b"):
                digest = hashlib.new(algorithm, data).hexdigest()
                found |= {digest, digest[:32], digest[:16]}
            for namespace in NAMESPACES:
                found |= {str(uuid.uuid5(namespace, message)), str(uuid.uuid3(namespace, message))}
        # the collector's former ids: uuid5 of hub, username and what the event describes,
        # for everything the events say (server names, start times, days)
        parts = [("logged_in",)]
        for event in rows.get("events", []):
            payload = event["payload"] or {}
            server, started = payload.get("server_name", ""), payload.get("started")
            day = str(event["time"])[:10]
            parts += [(server, day, "activity"), ("", day, "activity")]
            if started:
                parts += [(server, started, "start"), (server, started, "stop")]
        for part in parts:
            found.add(str(uuid.uuid5(OLD_NAMESPACE, "/".join([hub, form, *part]))))
    return {value for value in found if len(value) >= 8}


async def test_no_candidate_username_matches_any_row(catalyst_service, make_event):
    hub = catalyst_service
    for name in USERS:
        token = hub.token(name, groups=["community-andes"])
        r = await hub.request(
            "post",
            "api/events",
            token,
            json=[
                make_event("action", {"action": "cell_executed", "language": "python"}),
                make_event("activity", {"kind": "kernel", "count": 3, "seconds": 60}),
            ],
        )
        assert r.status_code == 200 and r.json()["stored"] == 2, r.text
        r = await hub.request("post", "me/steps", token, data={"step": "use_git"})
        assert r.status_code == 200, r.text
        r = await api_request(hub.hub, "users", name, "server", method="post")
        assert r.status_code in (201, 202), r.text
        await wait_for_server(hub.hub, name)
    collector = hub.service.collector
    await collector.poll()
    for name in USERS:
        await api_request(hub.hub, "users", name, "server", method="delete")
        await wait_for_server(hub.hub, name, running=False)
    await collector.poll()

    rows = all_rows(hub.store)
    schemas = {e["schema"] for e in rows["events"]}
    assert {"server_started", "server_stopped", "action", "activity", "step_reached"} <= schemas
    assert len(rows["server_sessions"]) == len(USERS)

    cells = [
        (table, column, str(value).lower())
        for table, table_rows in rows.items()
        for row in table_rows
        for column, value in row.items()
        if value is not None
    ]
    for name in USERS:
        derived = {c.lower() for c in candidates(hub.store.hub, name, rows)}
        matches = [(t, c) for t, c, text in cells for d in derived if d in text]
        assert matches == [], (name, matches)
