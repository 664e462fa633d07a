"""badges: Open Badges 3.0 credentials earned in training, and their revocation list

Revision ID: 0015_badges
Revises: 0014_consortium_publisher
Create Date: 2026-12-03 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_badges"
down_revision = "0014_consortium_publisher"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "badges",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("lesson", sa.String(64), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued", sa.DateTime(), nullable=False),
        sa.Column("claimed", sa.DateTime(), nullable=True),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "id"),
    )
    op.create_index(
        "ix_badges_hub_member_lesson", "badges", ["hub", "member_id", "lesson"], unique=True
    )
    op.create_index("ix_badges_hub_community_lesson", "badges", ["hub", "community", "lesson"])
    op.create_table(
        "badge_status",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("hub", "status_index"),
    )


def downgrade() -> None:
    op.drop_table("badge_status")
    op.drop_index("ix_badges_hub_community_lesson", table_name="badges")
    op.drop_index("ix_badges_hub_member_lesson", table_name="badges")
    op.drop_table("badges")
