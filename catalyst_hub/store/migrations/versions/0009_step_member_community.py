"""step member community: member_steps rows carry their member's current community

The Prometheus metrics count members per community and onboarding step. ``member_steps``
kept the community of the event that reached each step, so the count joined every row to
``members`` for the member's community (70 ms at 10,000 members). The projector now keeps
``member_steps.community`` equal to ``members.community``, and the count reads the
(community, step) index alone. This migration gives the existing rows their member's
community; its downgrade leaves them so (a step counted in its member's community).

Revision ID: 0009_step_member_community
Revises: 0008_session_kind_index
Create Date: 2026-11-25 21:00:00
"""

from alembic import op

revision = "0009_step_member_community"
down_revision = "0008_session_kind_index"
branch_labels = None
depends_on = None

FOLLOW_MEMBERS = """
UPDATE member_steps SET community = (
    SELECT members.community FROM members
    WHERE members.hub = member_steps.hub AND members.member_id = member_steps.member_id
)
WHERE community <> (
    SELECT members.community FROM members
    WHERE members.hub = member_steps.hub AND members.member_id = member_steps.member_id
)
"""


def upgrade() -> None:
    op.execute(FOLLOW_MEMBERS)


def downgrade() -> None:
    # nothing to undo: each step row stays in its member's community
    pass
