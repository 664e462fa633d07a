"""``catalyst-hub``: the command line, a traitlets Application with subcommands."""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets import Bool, Dict, List, Unicode
from traitlets.config import Application

from . import __version__
from .catalog import Catalog
from .catalyst_app import CatalystApp
from .identity import load_or_create_secret
from .projections import Projector
from .store import Store, make_engine, upgrade


class DbUpgradeApp(CatalystApp):
    name = "catalyst-hub db upgrade"
    description = "Create or migrate catalyst_hub's tables to this version (Alembic)."

    other_hub_secret_files = Dict(
        value_trait=Unicode(),
        config=True,
        help="""{hub name: secret file} of the other hubs sharing this database, for
        migrations that re-key rows with each hub's secret (this hub's is secret_file).""",
    )

    def start(self) -> None:
        self.engine = make_engine(self.db_url)
        secrets = {}
        for hub, path in self.other_hub_secret_files.items():
            if not Path(path).is_file():  # another hub's: never made up here
                self.log.critical("no secret file %s (of hub %s)", path, hub)
                self.exit(1)
            secrets[hub] = load_or_create_secret(path)
        secrets[self.hub_name] = load_or_create_secret(self.secret_file)
        upgrade(self.engine, secrets=secrets)
        # what a migration cannot compute without the hub's catalog (the service does it too
        # when it starts, for its own hub)
        projector = Projector(Catalog.load(self.catalog_files), zone=self.zone)
        self.ensure_activation(projector)
        with self.engine.begin() as conn:
            built = projector.built_zone(conn, self.hub_name)
        if built != self.timezone:
            # the service refuses to start on them (CatalystApp.check_zone)
            self.log.warning(
                "the daily tables of hub %s are days of the time zone %s, not of the "
                "configured %s: run `catalyst-hub rebuild` with this configuration",
                self.hub_name,
                built,
                self.timezone,
            )
        self.log.info(
            "database %s is up to date", self.engine.url.render_as_string(hide_password=True)
        )


class DbApp(Application):
    name = "catalyst-hub db"
    description = "Manage catalyst_hub's database."
    subcommands = {"upgrade": (DbUpgradeApp, DbUpgradeApp.description)}

    def start(self) -> None:
        if self.subapp is None:
            self.print_help()
            self.exit(1)
            return  # (exit raised SystemExit)
        self.subapp.start()


class RebuildApp(CatalystApp):
    name = "catalyst-hub rebuild"
    description = """Recompute every projection of this hub from its event log (after a
    change of detection rules, of idle_cull_timeout or of timezone)."""
    rebuilds_projections = True

    def start(self) -> None:
        import time

        store = self.init_store(check=True)
        began = time.perf_counter()
        replayed = store.rebuild()
        self.log.info(
            "rebuilt projections from %d events in %.1f s", replayed, time.perf_counter() - began
        )


class ExportApp(CatalystApp):
    name = "catalyst-hub export"
    description = """Export this hub's pseudonymous records for other systems.
    --parquet=DIR writes the event log and daily tables as Parquet partitions by hub and
    month (DuckDB, ClickHouse, BigQuery, Spark), incrementally: a later run rewrites only the
    partitions that changed; needs the `parquet` extra (pip install "catalyst-hub[parquet]").
    --xapi=FILE writes the learning records as xAPI statements, JSON lines, oldest first
    (- for standard output; --community=NAME to narrow)."""

    aliases = {
        **CatalystApp.aliases,
        "parquet": "ExportApp.parquet",
        "xapi": "ExportApp.xapi_file",
        "community": "ExportApp.only_communities",
    }
    parquet = Unicode("", config=True, help="Folder of the Parquet export (created if missing).")
    xapi_file = Unicode("", config=True, help="Write the xAPI statements here (JSON lines).")
    only_communities = List(
        Unicode(), config=True, help="xAPI: only these communities (default: every community)."
    )

    def start(self) -> None:
        from .warehouse import MissingExtra, require_pyarrow

        if not (self.parquet or self.xapi_file):
            self.log.critical("say what to export: --parquet=DIR or --xapi=FILE")
            self.exit(2)
        if self.parquet:
            try:
                require_pyarrow()
            except MissingExtra as e:
                self.log.critical("%s", e)
                self.exit(2)
        store = self.init_store(check=True)
        if self.xapi_file:
            self.export_xapi(store)
        if self.parquet:
            self.export_parquet(store)

    def export_xapi(self, store: Store) -> None:
        from .interop.xapi import write_statements

        # the service's consent mode decides whose records may leave the hub
        store.consent_mode = self.config.CatalystService.get("consent_mode", "opt-in")
        written = write_statements(
            store, self.hub_url, self.xapi_file, self.only_communities or None
        )
        self.log.info("exported %d xAPI statements", written)

    def export_parquet(self, store: Store) -> None:
        import time

        from .warehouse import ExportError
        from .warehouse.parquet import export_parquet

        began = time.perf_counter()
        try:
            summary = export_parquet(store, self.parquet, log=self.log.info)
        except ExportError as e:
            self.log.critical("%s", e)
            self.exit(1)
        self.log.info(
            "exported %d rows of hub %s to %s in %.1f s: %d partition(s) written",
            summary.rows,
            self.hub_name,
            self.parquet,
            time.perf_counter() - began,
            summary.written,
        )


class ConfigApp(Application):
    name = "catalyst-hub config"
    description = """Write the example configuration (jupyterhub_config.py, catalyst_config.py,
    Zero to JupyterHub values, Grafana dashboard, hub templates) into a folder, or print one
    file (--print=NAME). Existing files are kept unless --overwrite."""

    aliases = {"output": "ConfigApp.output", "print": "ConfigApp.print_file"}
    flags = {
        "overwrite": ({"ConfigApp": {"overwrite": True}}, "Replace files that exist already."),
    }
    output = Unicode(".", config=True, help="Folder to write the example files into.")
    print_file = Unicode("", config=True, help="Print this example file instead of writing.")
    overwrite = Bool(False, config=True, help="Replace files that exist already.")

    def start(self) -> None:
        from . import hubconfig

        if self.print_file:
            try:
                sys.stdout.write(hubconfig.config_path(self.print_file).read_text("utf-8"))
            except (FileNotFoundError, IsADirectoryError) as e:
                self.log.critical("%s", e)
                self.exit(2)
            return
        written = hubconfig.write_examples(self.output, overwrite=self.overwrite)
        for path in written:
            print(path)
        kept = len(hubconfig.EXAMPLE_FILES) - len(written)
        if kept:
            print(
                f"kept {kept} file(s) that exist already (--overwrite replaces them)",
                file=sys.stderr,
            )


class CatalystHubApp(Application):
    name = "catalyst-hub"
    version = __version__
    description = "catalyst_hub: onboarding, training and per-community usage for JupyterHub."
    subcommands = {
        "service": (
            "catalyst_hub.service.app.CatalystService",
            "Run the catalyst service (JupyterHub managed service).",
        ),
        "db": (DbApp, DbApp.description),
        "config": (ConfigApp, "Write or print the example hub and service configuration."),
        "rebuild": (RebuildApp, RebuildApp.description),
        "export": (ExportApp, "Export the pseudonymous records (Parquet, xAPI statements)."),
        "demo": (
            "catalyst_hub.demo.DemoApp",
            "Run a local JupyterHub with the catalyst service and demo data.",
        ),
        "consortium": (
            "catalyst_hub.consortium.app.ConsortiumService",
            "Run the consortium service (many hubs' summaries side by side), or manage it.",
        ),
        "seed": (
            "catalyst_hub.seed.SeedApp",
            "Write a synthetic consortium into the store (benchmarks).",
        ),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_help()
            self.exit(1)
            return  # (exit raised SystemExit)
        self.subapp.start()


def main(argv: list[str] | None = None) -> None:
    app = CatalystHubApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
