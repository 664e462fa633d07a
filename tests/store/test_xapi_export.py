"""``catalyst-hub export --xapi FILE``: the hub's statements as JSON lines, the same as the
API gives, from the command line with the deployment's config."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import uuid

import catalyst_hub.store  # noqa: F401  (loads before ingest: projections and store import each other)
from catalyst_hub.catalog import Catalog
from catalyst_hub.identity import load_or_create_secret
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.interop.xapi import hub_statements
from catalyst_hub.projections import Projector
from catalyst_hub.store import Store, make_engine, upgrade


def test_export_writes_the_statements_as_json_lines(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalyst_hub.sqlite'}"
    secret = load_or_create_secret(tmp_path / "catalyst_hub_secret")
    engine = make_engine(url)
    upgrade(engine, secrets={"andes": secret})
    store = Store(engine, "andes", secret, Projector(Catalog.load()))
    ana, bo = store.member_id("ana"), store.member_id("bo")
    for member, decision in ((ana, "given"), (bo, "withdrawn")):
        raws = [
            {
                "id": str(uuid.uuid4()),
                "schema": "consent",
                "version": 1,
                "time": "2026-03-02T09:00:00Z",
                "payload": {"decision": decision, "notice_version": "1"},
            },
            {
                "id": str(uuid.uuid4()),
                "schema": "exercise_completed",
                "version": 1,
                "time": "2026-03-02T10:00:00Z",
                "payload": {
                    "lesson": "hub-basics",
                    "episode": "first-notebook",
                    "exercise": "hello",
                },
            },
        ]
        Ingestor(store).ingest(raws, Sender(member, "andes", "member"))
    config = tmp_path / "catalyst_config.py"
    config.write_text(
        "c.CatalystApp.hub_name = 'andes'\n"
        "c.CatalystApp.hub_url = 'https://andes.example.org'\n"
        f"c.CatalystApp.db_url = {url!r}\n"
        f"c.CatalystApp.data_dir = {str(tmp_path)!r}\n"
    )
    out = tmp_path / "statements.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "catalyst_hub", "export", f"--config={config}", f"--xapi={out}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == hub_statements(store, "https://andes.example.org")
    # ana accepted the notice, bo objected: only ana's records leave the hub
    assert {s["actor"]["account"]["name"] for s in lines} == {ana}
    assert any(s["object"]["id"].endswith("/exercises/hello") for s in lines)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600

    run = subprocess.run(
        [sys.executable, "-m", "catalyst_hub", "export", f"--config={config}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    engine.dispose()
