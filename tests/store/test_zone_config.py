"""``c.CatalystApp.timezone``: validated, and a service does not start on daily tables built
in another zone until ``catalyst-hub rebuild`` has rebuilt them."""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select
from traitlets import TraitError
from traitlets.config import Config

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.catalyst_app import CatalystApp
from catalyst_hub.cli import RebuildApp
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.seed import sender_kind
from catalyst_hub.store import tables as t

BUENOS_AIRES = "America/Argentina/Buenos_Aires"


def app_of(cls, db_url: str, hub: str, tmp_path, zone: str | None = None) -> CatalystApp:
    settings = {"hub_name": hub, "db_url": db_url, "secret_file": str(tmp_path / "secret")}
    if zone is not None:
        settings["timezone"] = zone
    cls.clear_instance()
    return cls(config=Config({"CatalystApp": settings}), data_dir=str(tmp_path))


def days(store) -> list[date]:
    da = t.daily_activity.c
    with store.connect() as conn:
        return sorted(conn.execute(select(da.day).where(da.hub == store.hub)).scalars())


def test_an_unknown_zone_is_a_config_error(tmp_path):
    with pytest.raises(TraitError, match=r"timezone: unknown time zone 'America/Atlantis'"):
        CatalystApp(config=Config({"CatalystApp": {"timezone": "America/Atlantis"}}))
    assert CatalystApp().timezone == "UTC"


def test_a_changed_zone_needs_a_rebuild(catalyst_db_url, catalyst_hub_name, tmp_path, make_event):
    # a hub in UTC records an evening in Buenos Aires: 01:30 UTC on June 1
    app = app_of(CatalystApp, catalyst_db_url, catalyst_hub_name, tmp_path)
    store = app.init_store()
    store.consent_mode = "opt-out"  # recording without a decision, as in opt-out hubs
    event = make_event(
        "activity", {"kind": "kernel", "count": 1}, datetime(2026, 6, 1, 1, 30, tzinfo=timezone.utc)
    )
    stored, _ = Ingestor(store).ingest(
        [event], Sender(store.member_id("ana"), "andes", sender_kind("activity", {}))
    )
    assert stored and days(store) == [date(2026, 6, 1)]
    app.engine.dispose()

    # the operator sets the hub's zone: the service refuses its UTC days, saying what to run
    app = app_of(CatalystApp, catalyst_db_url, catalyst_hub_name, tmp_path, BUENOS_AIRES)
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    app.log.addHandler(handler)
    with pytest.raises(SystemExit) as exited:
        app.init_store()
    assert exited.value.code == 1
    assert any(
        "time zone UTC" in m and BUENOS_AIRES in m and "catalyst-hub rebuild" in m for m in messages
    ), messages
    app.engine.dispose()

    # rebuild (which starts on them) makes them days of Buenos Aires; then the service starts
    rebuild = app_of(RebuildApp, catalyst_db_url, catalyst_hub_name, tmp_path, BUENOS_AIRES)
    rebuild.start()
    assert days(rebuild.store) == [date(2026, 5, 31)]
    rebuild.engine.dispose()
    app = app_of(CatalystApp, catalyst_db_url, catalyst_hub_name, tmp_path, BUENOS_AIRES)
    assert days(app.init_store()) == [date(2026, 5, 31)]
    app.engine.dispose()


def test_a_new_hub_takes_the_configured_zone(catalyst_db_url, catalyst_hub_name, tmp_path):
    app = app_of(CatalystApp, catalyst_db_url, catalyst_hub_name, tmp_path, BUENOS_AIRES)
    store = app.init_store()
    assert store.zone.key == BUENOS_AIRES and store.projector.zone is store.zone
    z = t.projection_zones.c
    with store.connect() as conn:
        assert conn.execute(select(z.timezone).where(z.hub == store.hub)).scalar() == BUENOS_AIRES
    app.engine.dispose()
