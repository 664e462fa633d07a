"""session report index: sessions of a period per community, read from the index alone

The overview sums every community's sessions and server-hours of a period and counts who
started them; with member, stop and last activity in the index, neither engine reads the
table's rows for it.

Revision ID: 0005_session_report_index
Revises: 0004_retention_horizons
Create Date: 2026-11-25 15:55:00
"""

from alembic import op

revision = "0005_session_report_index"
down_revision = "0004_retention_horizons"
branch_labels = None
depends_on = None

COLUMNS = ["hub", "community", "started", "member_id", "stopped", "last_activity"]


def upgrade() -> None:
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_server_sessions_hub_community_started")
        batch_op.create_index("ix_server_sessions_hub_community_started_member", COLUMNS)


def downgrade() -> None:
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_server_sessions_hub_community_started_member")
        batch_op.create_index(
            "ix_server_sessions_hub_community_started", ["hub", "community", "started"]
        )
