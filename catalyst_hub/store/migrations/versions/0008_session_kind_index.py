"""session kind index: a period's sessions per environment, profile and size from the index

The usage report breaks a community's sessions of a period down by environment, profile and
size, and counts who used each. With those three in the (community, started) index after
member, stop and last activity, neither engine reads the table's rows for it (SQLite went to
the table once per session: most of the report's time).

Revision ID: 0008_session_kind_index
Revises: 0007_member_activation
Create Date: 2026-11-25 19:00:00
"""

from alembic import op

revision = "0008_session_kind_index"
down_revision = "0007_member_activation"
branch_labels = None
depends_on = None

BEFORE = ["hub", "community", "started", "member_id", "stopped", "last_activity"]
COLUMNS = [*BEFORE, "environment", "profile", "size"]


def upgrade() -> None:
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_server_sessions_hub_community_started_member")
        batch_op.create_index("ix_server_sessions_hub_community_started_kind", COLUMNS)


def downgrade() -> None:
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_server_sessions_hub_community_started_kind")
        batch_op.create_index("ix_server_sessions_hub_community_started_member", BEFORE)
