"""consortium publisher: the durable queue of summaries a hub sends its consortium

``consortium_outbox`` holds the months still to send (the document as queued, its attempts,
when to try again and the last error), ``consortium_published`` what the consortium
acknowledged (the fingerprint of each month's figures, so a month is sent again only when
they change), ``consortium_state`` the last sequence number and the last success and error.
New tables only: nothing to migrate.

Revision ID: 0014_consortium_publisher
Revises: 0013_projection_zones
Create Date: 2026-12-03 14:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_consortium_publisher"
down_revision = "0013_projection_zones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consortium_outbox",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("queued", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("hub", "month"),
    )
    op.create_table(
        "consortium_published",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("published", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "month"),
    )
    op.create_table(
        "consortium_state",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_success", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_time", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("hub"),
    )


def downgrade() -> None:
    op.drop_table("consortium_state")
    op.drop_table("consortium_published")
    op.drop_table("consortium_outbox")
