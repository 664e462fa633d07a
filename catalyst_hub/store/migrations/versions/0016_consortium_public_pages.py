"""consortium public pages: a community champion's choice of a public consortium page

``consortium_public_pages`` holds, per community, whether its champion chose a public page on
the consortium, when and by whom (a keyed member id). New table only: nothing to migrate.

Revision ID: 0016_consortium_public_pages
Revises: 0015_badges
Create Date: 2026-12-03 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_consortium_public_pages"
down_revision = "0015_badges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consortium_public_pages",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("changed", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("hub", "community"),
    )


def downgrade() -> None:
    op.drop_table("consortium_public_pages")
