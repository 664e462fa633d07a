"""xAPI forwarding: which statements the LRS has acknowledged, and the forwarder's progress

``xapi_sent`` holds one row per statement an LRS acknowledged (its keyed id, per member, so
an erasure removes the member's rows with the rest of their data); ``xapi_forwarder`` one
row per hub with what the admin sees of the forwarder (last success, last error, totals).

Revision ID: 0012_xapi_forwarding
Revises: 0011_session_end_app_activity
Create Date: 2026-12-03 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_xapi_forwarding"
down_revision = "0011_session_end_app_activity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "xapi_sent",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("sent", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "member_id", "statement_id"),
    )
    op.create_table(
        "xapi_forwarder",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("lrs_url", sa.String(2048), nullable=False),
        sa.Column("sent_total", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("last_attempt", sa.DateTime(), nullable=True),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("hub"),
    )


def downgrade() -> None:
    op.drop_table("xapi_forwarder")
    op.drop_table("xapi_sent")
