"""the consortium's tables: hub credentials, months and days of summaries

Revision ID: c001_consortium_tables
Revises:
Create Date: 2026-12-03 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c001_consortium_tables"
down_revision = None
branch_labels = None
depends_on = None

MONTH_COLUMNS = (
    "members",
    "active_members",
    "mean_dau",
    "new_members",
    "activated_in_period",
    "learners",
    "episodes_completed",
    "champions_trained",
    "sessions",
    "server_hours",
)
FLOAT_COLUMNS = {"mean_dau", "server_hours"}
SUMMED = (
    "members",
    "active_members",
    "new_members",
    "activated_in_period",
    "learners",
    "episodes_completed",
    "champions_trained",
    "sessions",
    "server_hours",
)
DAY_COLUMNS = ("active_day", "active_7d", "active_30d", "new_members", "activated")


def upgrade() -> None:
    op.create_table(
        "consortium_credentials",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.Column("last_used", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consortium_credentials_hub", "consortium_credentials", ["hub"])
    op.create_table(
        "consortium_hub_months",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.DateTime(), nullable=False),
        sa.Column("min_group_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "month"),
    )
    op.create_index("ix_consortium_hub_months_month", "consortium_hub_months", ["month", "hub"])
    op.create_table(
        "consortium_months",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        *(
            sa.Column(c, sa.Float() if c in FLOAT_COLUMNS else sa.Integer(), nullable=True)
            for c in MONTH_COLUMNS
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "community", "month"),
    )
    op.create_index(
        "ix_consortium_months_month", "consortium_months", ["month", "hub", "community"]
    )
    op.create_table(
        "consortium_hub_totals",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("communities", sa.Integer(), nullable=False),
        *(
            sa.Column(c, sa.Float() if c in FLOAT_COLUMNS else sa.Integer(), nullable=False)
            for c in SUMMED
        ),
        *(sa.Column(f"{c}_hidden", sa.Integer(), nullable=False) for c in SUMMED),
        sa.PrimaryKeyConstraint("hub", "month"),
    )
    op.create_index("ix_consortium_hub_totals_month", "consortium_hub_totals", ["month", "hub"])
    op.create_table(
        "consortium_days",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=True) for c in DAY_COLUMNS),
        sa.PrimaryKeyConstraint("hub", "community", "day"),
    )


def downgrade() -> None:
    op.drop_table("consortium_days")
    op.drop_table("consortium_hub_totals")
    op.drop_table("consortium_months")
    op.drop_table("consortium_hub_months")
    op.drop_table("consortium_credentials")
