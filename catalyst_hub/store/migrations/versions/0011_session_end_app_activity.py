"""session end, app activity: believable server-hours, and time per app

``server_sessions.ended`` is when a session ended as far as the log tells: its stop, but no
later than its last activity (or start) plus the hub's idle-cull timeout, nor than the same
server's next start.
Reports counted a session with no stop up to "now" and added up one server's overlapping
sessions. This migration computes the column for the existing rows with the default timeout
(an hour; ``catalyst-hub rebuild`` recomputes it with the configured one).

``app_activity`` holds time per member, day and app (JupyterLab, RStudio or another proxied
app, terminal) from the server extension's activity: ``catalyst-hub rebuild`` fills it from
the events already stored.

Revision ID: 0011_session_end_app_activity
Revises: 0010_erasures_keyed_ids
Create Date: 2026-12-03 12:00:00
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0011_session_end_app_activity"
down_revision = "0010_erasures_keyed_ids"
branch_labels = None
depends_on = None

INDEX = "ix_server_sessions_hub_community_started_kind"
KIND = ["environment", "profile", "size"]
BEFORE = ["hub", "community", "started", "member_id", "stopped", "last_activity", *KIND]
AFTER = ["hub", "community", "started", "member_id", "ended", *KIND]
#: the projector's default (``CatalystApp.idle_cull_timeout``)
IDLE = timedelta(hours=1)


def upgrade() -> None:
    op.create_table(
        "app_activity",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hub", "member_id", "day", "app"),
    )
    op.create_index(
        "ix_app_activity_hub_community_day_app",
        "app_activity",
        ["hub", "community", "day", "app", "member_id", "seconds"],
    )
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ended", sa.DateTime(), nullable=True))
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, AFTER)
    _fill_ended()


def _fill_ended() -> None:
    """The projector's rule (``projector.session_ends``), restated here so this migration
    stays what it was when later code changes."""
    sessions = sa.table(
        "server_sessions",
        sa.column("hub"),
        sa.column("member_id"),
        sa.column("server_name"),
        sa.column("started", sa.DateTime()),
        sa.column("stopped", sa.DateTime()),
        sa.column("last_activity", sa.DateTime()),
        sa.column("ended", sa.DateTime()),
    )
    s = sessions.c
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            s.hub, s.member_id, s.server_name, s.started, s.stopped, s.last_activity
        ).order_by(s.hub, s.member_id, s.server_name, s.started)
    ).all()
    updates = []
    for i, (hub, member, server, started, stopped, last) in enumerate(rows):
        after = rows[i + 1] if i + 1 < len(rows) else None
        following = after[3] if after is not None and after[:3] == (hub, member, server) else None
        end = (last or started) + IDLE
        if stopped is not None:
            end = min(end, stopped)
        if following is not None:
            end = min(end, following)
        updates.append(
            {
                "k_hub": hub,
                "k_member": member,
                "k_server": server,
                "k_started": started,
                "v_ended": max(end, started),
            }
        )
    if updates:
        conn.execute(
            sa.update(sessions)
            .where(
                s.hub == sa.bindparam("k_hub"),
                s.member_id == sa.bindparam("k_member"),
                s.server_name == sa.bindparam("k_server"),
                s.started == sa.bindparam("k_started"),
            )
            .values(ended=sa.bindparam("v_ended")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("server_sessions", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.create_index(INDEX, BEFORE)
        batch_op.drop_column("ended")
    op.drop_index("ix_app_activity_hub_community_day_app", table_name="app_activity")
    op.drop_table("app_activity")
