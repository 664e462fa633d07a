"""retention horizons: how far back each hub's raw events were purged

Rebuilding the projections after a purge keeps the rows that depend on purged events (daily
totals before the horizon, steps and training reached before it...) instead of losing them.

Revision ID: 0004_retention_horizons
Revises: 0003_report_indexes
Create Date: 2026-11-25 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_retention_horizons"
down_revision = "0003_report_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_horizons",
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("horizon", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hub"),
    )
    # A hub purged before this revision gets its horizon from the next purge, which the
    # service runs as soon as it starts (before deleting anything more).


def downgrade() -> None:
    op.drop_table("retention_horizons")
