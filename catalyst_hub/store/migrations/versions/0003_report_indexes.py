"""report indexes: covering indexes for the staff reports' grouped queries

Reports count members per community and day, per checklist step and per training episode.
These indexes hold every column those queries read, so both engines answer them from the
index alone, and their cost follows the rows of the period, not the size of the tables.

Revision ID: 0003_report_indexes
Revises: 0002
Create Date: 2026-11-25 15:40:00
"""

from alembic import op

revision = "0003_report_indexes"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("daily_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_activity_hub_community_day")
        batch_op.create_index(
            "ix_daily_activity_hub_community_day_member",
            ["hub", "community", "day", "member_id"],
            unique=False,
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_hub_community")
        batch_op.create_index(
            "ix_members_hub_community_first_seen",
            ["hub", "community", "first_seen", "member_id"],
            unique=False,
        )
    with op.batch_alter_table("member_steps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_steps_hub_member_step_reached",
            ["hub", "member_id", "step", "reached"],
            unique=False,
        )
    with op.batch_alter_table("training_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_training_progress_hub_community")
        batch_op.create_index(
            "ix_training_progress_hub_community_member",
            ["hub", "community", "member_id", "completed"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("training_progress", schema=None) as batch_op:
        batch_op.drop_index("ix_training_progress_hub_community_member")
        batch_op.create_index(
            "ix_training_progress_hub_community", ["hub", "community", "lesson"], unique=False
        )
    with op.batch_alter_table("member_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_member_steps_hub_member_step_reached")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_hub_community_first_seen")
        batch_op.create_index("ix_members_hub_community", ["hub", "community"], unique=False)
    with op.batch_alter_table("daily_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_activity_hub_community_day_member")
        batch_op.create_index(
            "ix_daily_activity_hub_community_day", ["hub", "community", "day"], unique=False
        )
