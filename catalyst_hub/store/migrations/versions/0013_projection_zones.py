"""projection zones: the time zone each hub's daily projections were built in

``daily_activity`` and ``app_activity`` rows, and every report's days, are calendar days in
the hub's configured time zone (``c.CatalystApp.timezone``). Until now they were UTC days:
this migration records "UTC" for every hub that has members, so a service configured with
another zone says that the projections need ``catalyst-hub rebuild`` rather than mixing the
two.

Revision ID: 0013_projection_zones
Revises: 0012_xapi_forwarding
Create Date: 2026-12-03 14:00:00
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0013_projection_zones"
down_revision = "0012_xapi_forwarding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    zones = op.create_table(
        "projection_zones",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hub"),
    )
    conn = op.get_bind()
    members = sa.table("members", sa.column("hub", sa.String(64)))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    hubs = conn.execute(sa.select(members.c.hub).distinct()).scalars().all()
    if hubs:
        op.bulk_insert(zones, [{"hub": hub, "timezone": "UTC", "updated": now} for hub in hubs])


def downgrade() -> None:
    op.drop_table("projection_zones")
