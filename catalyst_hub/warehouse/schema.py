"""The schema document of an export: every table and column, written as ``SCHEMA.md`` (for
people) and ``schema.json`` (for tools) into the export's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..store import warehouse as w

PARTITION_COLUMNS = {
    "hub": "the hub (folder `hub=`): each hub's service exports its own rows",
    "month": "the month (folder `month=YYYY-MM`, UTC) of the table's partition column",
}

TABLES = {
    "events": "The event log, the one source of truth: every fact as it was stored.",
    "members": "One row per member: community, when first and last seen, consent, activation.",
    "member_steps": "Onboarding steps reached: one row per member and step, at its earliest time.",
    "daily_activity": "Activity per member and UTC day.",
    "training_progress": "Training progress per member and episode.",
    "exercise_completions": "Exercises completed per member.",
    "server_sessions": "Server sessions (from the hub's collector), one per start.",
    "app_activity": "Time per app (JupyterLab, RStudio, proxied apps, terminal) per member and day.",
}

_MEMBER = "keyed pseudonymous member id (HMAC of hub and username with the hub's secret)"
_COMMUNITY = "the member's community"

COLUMNS: dict[str, dict[str, str]] = {
    "events": {
        "id": "event id (UUID), unique per member",
        "member_id": _MEMBER,
        "community": "the sender's community when the event was stored",
        "schema": "event schema name (`catalyst_hub/events/schemas/<schema>/v<version>.json`)",
        "version": "event schema version",
        "time": "when it happened (UTC), as the sender said",
        "received": "when the service stored it (UTC)",
        "payload": "the event's fields as JSON text, valid against its schema",
    },
    "members": {
        "member_id": _MEMBER,
        "community": _COMMUNITY,
        "first_seen": "time of the member's earliest event (UTC)",
        "last_active": "time of the member's latest event (UTC)",
        "consent": "decision on the recording notice: given, withdrawn, or empty (none)",
        "consent_version": "version of the notice decided on",
        "consent_time": "when the decision was made (UTC)",
        "activated": "when the member reached the last step of their community's checklist",
    },
    "member_steps": {
        "member_id": _MEMBER,
        "step": "onboarding step id of the catalog",
        "community": _COMMUNITY,
        "reached": "when the step was first reached (UTC)",
    },
    "daily_activity": {
        "member_id": _MEMBER,
        "day": "UTC day",
        "community": _COMMUNITY,
        "events": "events of the member that day (saturating counter)",
        "seconds": "active seconds that day",
    },
    "training_progress": {
        "member_id": _MEMBER,
        "lesson": "lesson id of the training catalog",
        "episode": "episode id within the lesson",
        "community": _COMMUNITY,
        "exercises_done": "exercises of the episode completed",
        "first_activity": "first training activity in the episode (UTC)",
        "completed": "when the episode was completed (UTC); empty: started, not done",
        "source": "how it was completed: `exercises` (all ran), `self` (reported by the learner) or `lead` (signed off)",
        "signed_off_by": "member id of the lead who signed it off (`erased` if they erased their data)",
    },
    "exercise_completions": {
        "member_id": _MEMBER,
        "lesson": "lesson id",
        "episode": "episode id",
        "exercise": "exercise id",
        "completed": "when the exercise first ran without error (UTC)",
    },
    "server_sessions": {
        "member_id": _MEMBER,
        "server_name": "the named server (empty: the default server)",
        "started": "when the server started (UTC)",
        "community": _COMMUNITY,
        "stopped": "when the stop was recorded (UTC); empty: none recorded",
        "last_activity": "the server's last activity the hub reported (UTC)",
        "ended": "when the session ended as far as the log tells (stop, or last activity plus the idle-cull timeout, or the next start)",
        "profile": "spawner profile chosen",
        "environment": "environment (image) chosen",
        "size": "server size chosen",
    },
    "app_activity": {
        "member_id": _MEMBER,
        "day": "UTC day",
        "app": "app: lab, rstudio, a proxied app's name, or terminal",
        "community": _COMMUNITY,
        "events": "activity reports of that app that day",
        "seconds": "active seconds in that app that day (a minute counts once)",
    },
}

INTRO = """\
Pseudonymous: members are named by keyed member ids only; no username or email is in any
file (the hub's identities table is never exported). Rows of members who erased their data,
and of the staff and service accounts the hub leaves out of statistics, are not exported; an
export after an erasure rewrites the partitions that held them.

Layout: `<table>/hub=<hub>/month=<YYYY-MM>/part-0.parquet` (Hive-style partitions; `hub` and
`month` are folder names, not columns of the files). Times are UTC timestamps (microseconds).
`_manifest.json` holds each partition's content fingerprint: a later export rewrites only the
partitions whose rows changed, each replaced at once by a rename.
"""


def schema_document(tables: list[w.ExportTable], schemas: dict[str, Any]) -> dict[str, Any]:
    """The document as data: per table its description, partition column and columns."""
    doc: dict[str, Any] = {"partitioning": PARTITION_COLUMNS, "tables": {}}
    for table in tables:
        columns = []
        for f in schemas[table.name]:
            columns.append(
                {
                    "name": f.name,
                    "type": str(f.type),
                    "nullable": f.nullable,
                    "description": COLUMNS[table.name][f.name],
                }
            )
        doc["tables"][table.name] = {
            "description": TABLES[table.name],
            "partitioned_by_month_of": table.month_column.name,
            "path": f"{table.name}/hub=<hub>/month=<YYYY-MM>/part-0.parquet",
            "columns": columns,
        }
    return doc


def markdown(doc: dict[str, Any]) -> str:
    lines = ["# catalyst_hub warehouse export", "", INTRO]
    lines += ["Partition columns (from the folders):", ""]
    lines += [f"- `{k}`: {v}" for k, v in doc["partitioning"].items()]
    for name, table in doc["tables"].items():
        lines += ["", f"## {name}", "", table["description"]]
        lines += ["", f"Partitioned by the month of `{table['partitioned_by_month_of']}`.", ""]
        lines += ["| column | type | empty | description |", "| --- | --- | --- | --- |"]
        for c in table["columns"]:
            empty = "yes" if c["nullable"] else "no"
            lines.append(f"| `{c['name']}` | {c['type']} | {empty} | {c['description']} |")
    return "\n".join(lines) + "\n"


def write_schema(folder: Path, doc: dict[str, Any]) -> None:
    for name, text in (
        ("schema.json", json.dumps(doc, indent=1) + "\n"),
        ("SCHEMA.md", markdown(doc)),
    ):
        path = folder / name
        if path.exists() and path.read_text("utf-8") == text:
            continue  # as it was: left untouched
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
