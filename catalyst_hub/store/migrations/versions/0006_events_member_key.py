"""the event log by member: key (hub, member_id, id), time index (hub, member_id, time)

The key was the event id alone. Ids are random UUIDs, so every event of an ingest batch
landed on a different page of the key's index, and a commit of 1,000 events wrote about
1,000 index pages: at a million events, SQLite spent some 24 µs per event in the commit.
Keyed by member first, one sender's batch fills a few neighbouring pages (about 1 µs per
event). It also means a member cannot make another member's event a "duplicate" by sending
its id first. The (hub, member_id) index is the key's prefix now, and goes.

Likewise the time index: (hub, time) took a page per event when many members' backlogs of
the same hours arrived together (after an outage of the service); (hub, member_id, time)
takes a few per batch. Nothing reads events by time across members: rebuilds read the log
in key order, and retention purges member by member.

Revision ID: 0006_events_member_key
Revises: 0005_session_report_index
Create Date: 2026-11-25 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_events_member_key"
down_revision = "0005_session_report_index"
branch_labels = None
depends_on = None


def _events(key: list[str]) -> sa.Table:
    """The events table as revisions 0001-0005 made it, keyed by ``key``, no index."""
    return sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("community", sa.String(length=255), nullable=False),
        sa.Column("schema", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("received", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="events_pkey"),
    )


def _rekey(key: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a key in place: batch mode copies the table into one made
        # with the new key
        with op.batch_alter_table("events", recreate="always", copy_from=_events(key)):
            pass
    else:
        op.drop_constraint("events_pkey", "events", type_="primary")
        op.create_primary_key("events_pkey", "events", key)


def upgrade() -> None:
    op.drop_index("ix_events_hub_member", table_name="events")
    op.drop_index("ix_events_hub_time", table_name="events")
    _rekey(["hub", "member_id", "id"])
    op.create_index("ix_events_hub_member_time", "events", ["hub", "member_id", "time"])


def downgrade() -> None:
    op.drop_index("ix_events_hub_member_time", table_name="events")
    _rekey(["id"])
    op.create_index("ix_events_hub_member", "events", ["hub", "member_id"])
    op.create_index("ix_events_hub_time", "events", ["hub", "time"])
