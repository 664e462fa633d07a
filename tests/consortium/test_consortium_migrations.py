"""The consortium's Alembic history: it makes the tables of the code, and moving the days
into their month rows (c003) keeps every day, there and back."""

from __future__ import annotations

from datetime import date

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, insert, inspect, select

from catalyst_hub.consortium import tables as ct
from catalyst_hub.consortium.store import ConsortiumStore, alembic_config, upgrade
from catalyst_hub.store import make_engine


def test_migrations_make_the_tables_of_the_code(consortium_db_url):
    engine = make_engine(consortium_db_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": "consortium_alembic_version"}
        )
        differences = compare_metadata(context, ct.metadata)
    engine.dispose()
    assert differences == []


def month_row(community: str, month: date) -> dict:
    return {
        "hub": "h",
        "community": community,
        "month": month,
        "through": month.replace(day=3),
        "provisional": False,
        "public": False,
        **dict.fromkeys(ct.MONTH_COLUMNS, 1),
        "detail": '{"figures": {}, "steps": {}, "apps": {}}',
    }


def test_days_move_into_their_months_and_back(consortium_db_url):
    engine = make_engine(consortium_db_url)
    upgrade(engine, "c002_badges_issued")
    old = MetaData()
    months = Table("consortium_months", old, autoload_with=engine)
    days = Table("consortium_days", old, autoload_with=engine)
    day_rows = [
        {
            "hub": "h",
            "community": community,
            "day": day,
            "provisional": day.day == 3,
            "active_day": None if day.day == 2 else day.day,  # hidden by the hub
            "active_7d": 7,
            "active_30d": 30,
            "new_members": 0,
            "activated": 1,
        }
        for community in ("a", "b")
        for month in (date(2026, 1, 1), date(2026, 2, 1))
        for day in (month, month.replace(day=2), month.replace(day=3))
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(months),
            [month_row(c, m) for c in ("a", "b") for m in (date(2026, 1, 1), date(2026, 2, 1))],
        )
        conn.execute(insert(days), day_rows)
    upgrade(engine)
    assert "consortium_days" not in inspect(engine).get_table_names()
    store = ConsortiumStore(engine)
    read = [
        {"hub": "h", "community": c, **d}
        for c in ("a", "b")
        for d in store.community_days("h", c, date(2026, 1, 1), date(2026, 2, 28))
    ]
    assert read == day_rows

    command.downgrade(alembic_config(engine), "c002_badges_issued")
    with engine.connect() as conn:
        back = Table("consortium_days", MetaData(), autoload_with=conn)
        rows = conn.execute(select(back).order_by(back.c.community, back.c.day)).mappings()
        assert [dict(r) for r in rows] == day_rows
    assert "days" not in {c["name"] for c in inspect(engine).get_columns("consortium_months")}
    engine.dispose()
