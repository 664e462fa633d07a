"""erasure tombstones, and the collector's event ids keyed with the deployment's secret

``member_erasures`` remembers, by member id, who erased their data and when: no writer
records them until they accept the notice again, nor anything dated before the erasure.

The collector made its event ids as uuid5 of hub and username (with a namespace in the
source): with a copy of the events and a list of candidate emails anyone could name every
member. They are now a keyed hash (``catalyst_hub.identity.keyed_uuid``) of hub, member id and
what the event describes. This migration re-keys the existing ones to exactly the ids the
collector now makes, so polling after the upgrade deduplicates against them. It needs each
hub's secret: ``catalyst-hub db upgrade --config=...`` passes its hub's (Alembic attribute
``secrets``, {hub: secret}); a hub whose old-style ids are found without its secret stops
the migration, with the command to run. Each secret is checked against the hub's identities.

Revision ID: 0010_erasures_keyed_ids
Revises: 0009_step_member_community
Create Date: 2026-12-03 11:00:00
"""

import uuid

import sqlalchemy as sa
from alembic import context, op

from catalyst_hub.identity import keyed_uuid, member_id

revision = "0010_erasures_keyed_ids"
down_revision = "0009_step_member_community"
branch_labels = None
depends_on = None

#: the namespace the collector's ids used before this revision (published: not a secret)
OLD_NAMESPACE = uuid.UUID("6f1c1c3e-2b7a-4e8e-9d56-3c1f0a6e7b21")
COLLECTOR_SCHEMAS = ("action", "activity", "server_started", "server_stopped")

events = sa.table(
    "events",
    sa.column("id", sa.String),
    sa.column("hub", sa.String),
    sa.column("member_id", sa.String),
    sa.column("schema", sa.String),
    sa.column("time", sa.DateTime),
    sa.column("payload", sa.JSON),
)
identities = sa.table(
    "identities",
    sa.column("hub", sa.String),
    sa.column("username", sa.String),
    sa.column("member_id", sa.String),
)
sessions = sa.table(
    "server_sessions",
    sa.column("hub", sa.String),
    sa.column("member_id", sa.String),
    sa.column("server_name", sa.String),
)


def _old(*parts: str) -> str:
    return str(uuid.uuid5(OLD_NAMESPACE, "/".join(parts)))


def _new_ids(conn, hub: str, username: str, member: str) -> dict[str, list[str]]:
    """Old id -> the parts of its new id, for every collector event of one member."""
    rows = conn.execute(
        sa.select(events.c.id, events.c.schema, events.c.time, events.c.payload).where(
            events.c.hub == hub,
            events.c.member_id == member,
            events.c.schema.in_(COLLECTOR_SCHEMAS),
        )
    ).all()
    servers = {""} | {
        name
        for (name,) in conn.execute(
            sa.select(sessions.c.server_name).where(
                sessions.c.hub == hub, sessions.c.member_id == member
            )
        )
    }
    servers |= {r.payload.get("server_name", "") for r in rows if r.schema == "server_started"}
    found: dict[str, list[str]] = {}
    for r in rows:
        candidates: list[tuple[str, list[str]]] = []
        if r.schema == "action" and r.payload.get("action") == "logged_in":
            candidates.append((_old(hub, username, "logged_in"), ["logged_in"]))
        elif r.schema in ("server_started", "server_stopped"):
            server, started = r.payload.get("server_name", ""), r.payload.get("started")
            if started:  # as the collector wrote it, which is what it hashed
                if r.schema == "server_started":
                    candidates.append(
                        (_old(hub, username, server, started, "start"), [server, started, "start"])
                    )
                else:
                    candidates.append(
                        (_old(hub, member, server, started, "stop"), [server, started, "stop"])
                    )
        elif r.schema == "activity" and r.payload.get("kind") == "server":
            day = r.time.date().isoformat() if not isinstance(r.time, str) else r.time[:10]
            for server in servers:
                candidates.append(
                    (_old(hub, username, server, day, "activity"), [server, day, "activity"])
                )
        for old, parts in candidates:
            if old == r.id:
                found[old] = parts
                break
    return found


def upgrade() -> None:
    secrets: dict[str, bytes] = context.config.attributes.get("secrets") or {}
    conn = op.get_bind()
    # every check before any write (SQLite runs DDL outside the migration's transaction)
    plan: list[tuple[str, str, str, str]] = []
    for ident in conn.execute(sa.select(identities)).all():
        hub, username, member = ident.hub, ident.username, ident.member_id
        found = _new_ids(conn, hub, username, member)
        if not found:
            continue
        secret = secrets.get(hub)
        if secret is None:
            raise RuntimeError(
                f"hub {hub!r} has collector events to re-key with its secret: run "
                "`catalyst-hub db upgrade --config=<that hub's catalyst_config.py>`"
            )
        if member_id(secret, hub, username) != member:
            raise RuntimeError(
                f"the secret given for hub {hub!r} is not the one its member ids were made "
                "with: run `catalyst-hub db upgrade` with that hub's secret_file"
            )
        plan += [
            (hub, member, old, keyed_uuid(secret, hub, member, *parts))
            for old, parts in found.items()
        ]
    op.create_table(
        "member_erasures",
        sa.Column("hub", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("erased", sa.DateTime, nullable=False),
        sa.Column("accepted", sa.DateTime),
    )
    for hub, member, old, new in plan:
        conn.execute(
            sa.update(events)
            .where(events.c.hub == hub, events.c.member_id == member, events.c.id == old)
            .values(id=new)
        )


def downgrade() -> None:
    # the keyed ids stay (uuid5 of usernames is what this revision removes)
    op.drop_table("member_erasures")
