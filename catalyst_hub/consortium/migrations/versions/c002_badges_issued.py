"""badges issued per community and month (an optional figure of the summary)

Revision ID: c002_badges_issued
Revises: c001_consortium_tables
Create Date: 2026-12-03 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c002_badges_issued"
down_revision = "c001_consortium_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consortium_months") as batch:
        batch.add_column(sa.Column("badges_issued", sa.Integer(), nullable=True))
    with op.batch_alter_table("consortium_hub_totals") as batch:
        batch.add_column(
            sa.Column("badges_issued", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("badges_issued_hidden", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("consortium_hub_totals") as batch:
        batch.drop_column("badges_issued_hidden")
        batch.drop_column("badges_issued")
    with op.batch_alter_table("consortium_months") as batch:
        batch.drop_column("badges_issued")
