"""a month's days in its month row (a JSON list), not a row per day

A hub sends its month again every day; at its end a hub of 20 communities sends 620 days,
of which one or two changed. Comparing and writing them row by row cost more than all the
rest of storing the month; the days are read for one community's page only, so they are
kept as sent, with the month, and replaced with it.

Revision ID: c003_days_in_months
Revises: c002_badges_issued
Create Date: 2026-12-07 15:00:00
"""

import json
from datetime import date
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision = "c003_days_in_months"
down_revision = "c002_badges_issued"
branch_labels = None
depends_on = None

DAY_COLUMNS = ("active_day", "active_7d", "active_30d", "new_members", "activated")
HIDDEN = {"suppressed": True}

days_table = sa.table(
    "consortium_days",
    sa.column("hub", sa.String),
    sa.column("community", sa.String),
    sa.column("day", sa.Date),
    sa.column("provisional", sa.Boolean),
    *(sa.column(c, sa.Integer) for c in DAY_COLUMNS),
)
months_table = sa.table(
    "consortium_months",
    sa.column("hub", sa.String),
    sa.column("community", sa.String),
    sa.column("month", sa.Date),
    sa.column("days", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("consortium_months") as batch:
        batch.add_column(sa.Column("days", sa.Text(), nullable=False, server_default="[]"))
    conn = op.get_bind()
    d, m = days_table.c, months_table.c
    update = (
        sa.update(months_table)
        .where(
            m.hub == sa.bindparam("k_hub"),
            m.community == sa.bindparam("k_community"),
            m.month == sa.bindparam("k_month"),
        )
        .values(days=sa.bindparam("v_days"))
    )
    # a hub at a time: its rows in memory, never the whole table's
    for (hub,) in conn.execute(sa.select(d.hub).distinct()).all():
        rows = conn.execute(
            sa.select(days_table).where(d.hub == hub).order_by(d.community, d.day)
        ).mappings()
        months = []
        for (community, month), group in groupby(
            rows, lambda r: (r["community"], r["day"].replace(day=1))
        ):
            # the rows kept no "fewer than k": a hidden figure is migrated as hidden
            sent = [
                [
                    r["day"].isoformat(),
                    bool(r["provisional"]),
                    *(HIDDEN if r[c] is None else r[c] for c in DAY_COLUMNS),
                ]
                for r in group
            ]
            months.append(
                {
                    "k_hub": hub,
                    "k_community": community,
                    "k_month": month,
                    "v_days": json.dumps(sent),
                }
            )
        if months:
            conn.execute(update, months)
    op.drop_table("consortium_days")


def downgrade() -> None:
    op.create_table(
        "consortium_days",
        sa.Column("hub", sa.String(64), nullable=False),
        sa.Column("community", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=True) for c in DAY_COLUMNS),
        sa.PrimaryKeyConstraint("hub", "community", "day"),
    )
    conn = op.get_bind()
    m = months_table.c
    for (hub,) in conn.execute(sa.select(m.hub).distinct()).all():
        rows = [
            {
                "hub": hub,
                "community": community,
                "day": date.fromisoformat(day),
                "provisional": provisional,
                **{
                    c: None if isinstance(v, dict) else v
                    for c, v in zip(DAY_COLUMNS, figures, strict=True)
                },
            }
            for community, sent in conn.execute(sa.select(m.community, m.days).where(m.hub == hub))
            for day, provisional, *figures in json.loads(sent)
        ]
        if rows:
            conn.execute(sa.insert(days_table), rows)
    with op.batch_alter_table("consortium_months") as batch:
        batch.drop_column("days")
