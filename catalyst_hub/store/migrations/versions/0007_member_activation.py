"""member activation: when each member reached the last step of their checklist

Reports counted activated members (every step of their community's checklist reached) by
grouping the checklist steps of every member of a community, at every call. The projector
now keeps ``members.activated``, and reports read one index row per activated member.

The checklists are the hub's catalog, which a migration does not have: the column starts
empty, and ``activation_checklists`` has no row for any hub. ``catalyst-hub db upgrade``
then computes it from ``member_steps`` for the hub it is configured for, and every service
does so on start for its own hub when the checklists it was computed with are not its
catalog's (``Projector.ensure_activation``), before it serves a report. No rebuild needed.

Revision ID: 0007_member_activation
Revises: 0006_events_member_key
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_member_activation"
down_revision = "0006_events_member_key"
branch_labels = None
depends_on = None

INDEX = ["hub", "community", "activated", "first_seen", "member_id"]


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activated", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_members_hub_community_activated", INDEX)
    op.create_table(
        "activation_checklists",
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("checklists", sa.Text(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hub"),
    )


def downgrade() -> None:
    op.drop_table("activation_checklists")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_hub_community_activated")
        batch_op.drop_column("activated")
