"""The consortium's own tables (a metadata of their own: a consortium database holds no
hub's tables, and its Alembic history is ``consortium/migrations``, version table
``consortium_alembic_version``).

Figures are as the hubs sent them, after their suppression: NULL is a hidden figure (the
``figures`` JSON keeps whether it was "fewer than k" or hidden to protect another, and
``days`` each day's figures as sent).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

HUB = 64
NAME = 255

#: One credential per hub (several while one replaces another): the hash of its secret only.
credentials = Table(
    "consortium_credentials",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hub", String(HUB), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("created_by", String(NAME), nullable=False),
    Column("revoked", DateTime),
    Column("last_used", DateTime),
    Index("ix_consortium_credentials_hub", "hub"),
)

#: The latest version of each hub's month (its sequence number): older versions are refused.
hub_months = Table(
    "consortium_hub_months",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
    Column("received", DateTime, nullable=False),
    Column("min_group_size", Integer, nullable=False),
    Index("ix_consortium_hub_months_month", "month", "hub"),
)

MONTH_COLUMNS = (
    "members",
    "active_members",
    "mean_dau",
    "new_members",
    "activated_in_period",
    "learners",
    "episodes_completed",
    "champions_trained",
    "sessions",
    "server_hours",
)
FLOAT_COLUMNS = {"mean_dau", "server_hours"}
#: Figures a hub may leave out of its summary (hubs older than the figure send none):
#: NULL in ``months`` when hidden or not sent, counted as hidden only when hidden.
OPTIONAL_COLUMNS = ("badges_issued",)

months = Table(
    "consortium_months",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("community", String(NAME), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("through", Date, nullable=False),
    Column("provisional", Boolean, nullable=False),
    Column("public", Boolean, nullable=False),
    *(Column(c, Float if c in FLOAT_COLUMNS else Integer) for c in MONTH_COLUMNS),
    Column("detail", Text, nullable=False),
    *(Column(c, Integer) for c in OPTIONAL_COLUMNS),
    # the month's days as the hub sent them, a JSON list of [day, provisional,
    # *DAY_COLUMNS] (a suppressed figure as sent): read for one community's page only, and
    # replaced whole with the month, never row by row (a hub sends its month every day: at
    # its end, 31 days of each community)
    Column("days", Text, nullable=False, server_default="[]"),
    Index("ix_consortium_months_month", "month", "hub", "community"),
)

#: The columns added up per hub and month in ``hub_totals``.
SUMMED = (
    "members",
    "active_members",
    "new_members",
    "activated_in_period",
    "learners",
    "episodes_completed",
    "champions_trained",
    "sessions",
    "server_hours",
)

#: Per hub and month, written with its communities: how many, and each figure's total over
#: the communities that show it and how many hide it. Pages over many months and hubs read
#: these (a row per hub and month), never the community rows.
hub_totals = Table(
    "consortium_hub_totals",
    metadata,
    Column("hub", String(HUB), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("communities", Integer, nullable=False),
    *(Column(c, Float if c in FLOAT_COLUMNS else Integer, nullable=False) for c in SUMMED),
    *(Column(f"{c}_hidden", Integer, nullable=False) for c in SUMMED),
    *(Column(c, Integer, nullable=False, server_default="0") for c in OPTIONAL_COLUMNS),
    *(Column(f"{c}_hidden", Integer, nullable=False, server_default="0") for c in OPTIONAL_COLUMNS),
    Index("ix_consortium_hub_totals_month", "month", "hub"),
)

#: The figures of each day of a month, in ``months.days``.
DAY_COLUMNS = ("active_day", "active_7d", "active_30d", "new_members", "activated")
