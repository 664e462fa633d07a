"""``catalyst-hub export --xapi FILE``: the hub's statements as JSON lines."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson
from traitlets import List, Unicode

from ..catalyst_app import CatalystApp
from ..private_files import PRIVATE_FILE
from .xapi import hub_statements


class ExportApp(CatalystApp):
    name = "catalyst-hub export"
    description = """Export this hub's learning records: --xapi=FILE writes its xAPI
    statements as JSON lines (one statement a line, oldest first; - for standard output)."""

    aliases = {
        **CatalystApp.aliases,
        "xapi": "ExportApp.xapi_file",
        "community": "ExportApp.only_communities",
    }

    xapi_file = Unicode("", config=True, help="Write the xAPI statements here (JSON lines).")
    only_communities = List(
        Unicode(), config=True, help="Only these communities (default: every community)."
    )

    def start(self) -> None:
        if not self.xapi_file:
            self.log.critical("say what to export: --xapi=FILE")
            self.exit(2)
        store = self.init_store(check=True)
        # the service's consent mode decides whose records may leave the hub
        store.consent_mode = self.config.CatalystService.get("consent_mode", "opt-in")
        statements = hub_statements(store, self.hub_url, self.only_communities or None)
        lines = b"".join(orjson.dumps(s) + b"\n" for s in statements)
        if self.xapi_file == "-":
            sys.stdout.buffer.write(lines)
            sys.stdout.flush()
        else:
            path = Path(self.xapi_file)
            partial = path.with_name(path.name + ".partial")
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            with os.fdopen(fd, "wb") as f:
                f.write(lines)
            os.replace(partial, path)
        self.log.info("exported %d xAPI statements", len(statements))
