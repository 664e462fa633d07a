"""consortium versions: what each version of a month's summary showed of its counts

``consortium_versions`` holds, per community, month and figure, each value a version of the
month's summary had and whether one showed it, so that a later version can hide what two
versions would give away by their difference. New table only: nothing to migrate (the
next version of a month is checked against itself onwards).

Revision ID: 0017_consortium_versions
Revises: 0016_consortium_public_pages
Create Date: 2026-12-07 15:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_consortium_versions"
down_revision = "0016_consortium_public_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consortium_versions",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(255), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("shown", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "community", "month", "figure", "value"),
    )


def downgrade() -> None:
    op.drop_table("consortium_versions")
