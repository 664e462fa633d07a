"""The configuration every catalyst command shares: hub, database, secret, catalog."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from traitlets import Float, Instance, Integer, List, Set, TraitError, Unicode, default, validate
from traitlets.config import Application, catch_config_error

from . import __version__
from .catalog import Catalog
from .communities import CommunityMapper
from .identity import Actor, load_or_create_secret
from .private_files import make_private_dir
from .projections import Projector
from .store import DatabaseNeedsUpgrade, Store, check_current, make_engine, upgrade
from .store.engine import current_revision
from .timeutil import zone_named

if TYPE_CHECKING:
    from .projections import Projector


class CatalystApp(Application):
    """Base of the ``catalyst-hub`` commands. Configure with ``c.CatalystApp.<trait>`` in a
    config file (``--config``) that the service, the CLI and the demo all read."""

    version = __version__
    aliases = {
        "config": "CatalystApp.config_file",
        "db-url": "CatalystApp.db_url",
        "hub-name": "CatalystApp.hub_name",
        "data-dir": "CatalystApp.data_dir",
        "log-level": "Application.log_level",
    }
    classes = [CommunityMapper]

    @default("log_level")
    def _default_log_level(self):
        return "INFO"

    config_file = Unicode("", config=True, help="A Python config file to load (traitlets).")

    hub_name = Unicode(
        config=True,
        help="""Id of this hub, stored on every row so several hubs can share one database.
        Default: $CATALYST_HUB_NAME, else 'hub'.""",
    )

    @default("hub_name")
    def _default_hub_name(self):
        return os.environ.get("CATALYST_HUB_NAME", "hub")

    data_dir = Unicode(
        config=True,
        help="Folder for the SQLite database and the secret (default: the working folder).",
    )

    @default("data_dir")
    def _default_data_dir(self):
        return os.environ.get("CATALYST_DATA_DIR", os.getcwd())

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy database URL. SQLite (default: catalyst_hub.sqlite in data_dir) or
        PostgreSQL (postgresql://user@host/db, through psycopg 3).""",
    )

    @default("db_url")
    def _default_db_url(self):
        return (
            os.environ.get("CATALYST_DB_URL")
            or f"sqlite:///{Path(self.data_dir) / 'catalyst_hub.sqlite'}"
        )

    secret_file = Unicode(
        config=True,
        help="""File with the pseudonymization secret (created, mode 0600, if missing).
        Keep it: member ids cannot be recomputed without it.""",
    )

    @default("secret_file")
    def _default_secret_file(self):
        return os.environ.get("CATALYST_SECRET_FILE") or str(
            Path(self.data_dir) / "catalyst_hub_secret"
        )

    catalog_files = List(
        Unicode(),
        config=True,
        help="Catalog YAML files, merged in order (default: the packaged catalog).",
    )
    excluded_users = Set(
        Unicode(),
        config=True,
        help="Usernames (staff, test and service accounts) left out of statistics.",
    )
    idle_cull_timeout = Float(
        3600.0,
        min=1,
        config=True,
        help="""Seconds an idle server runs before the hub culls it (jupyterhub-idle-culler's
        --timeout). A server session with no recorded stop ends this long after its last
        activity. Run `catalyst-hub rebuild` after changing it.""",
    )

    hub_url = Unicode(
        config=True,
        help="""The hub's public URL (https://hub.example.org/): the homePage of members'
        xAPI accounts and the root of activity ids. Default: $JUPYTERHUB_PUBLIC_URL, else
        http://<hub_name>.invalid/ (set it before sending statements anywhere).""",
    )

    @default("hub_url")
    def _default_hub_url(self):
        return os.environ.get("JUPYTERHUB_PUBLIC_URL") or f"http://{self.hub_name}.invalid/"

    lrs_url = Unicode(
        "",
        config=True,
        help="""xAPI endpoint of a Learning Record Store (https://lrs.example.org/xAPI/): the
        service sends the hub's statements there (empty: it sends none).""",
    )
    lrs_username = Unicode("", config=True, help="Basic-auth username at the LRS.")
    lrs_password = Unicode("", config=True, help="Basic-auth password at the LRS.")
    lrs_credentials_file = Unicode(
        "",
        config=True,
        help="A file holding username:password for the LRS (instead of the two above).",
    )
    lrs_batch_size = Integer(200, min=1, max=5000, config=True, help="Statements per POST.")
    lrs_interval = Float(
        60.0, min=0.01, config=True, help="Seconds between rounds of sending to the LRS."
    )
    lrs_backoff_max = Float(
        900.0, min=0.01, config=True, help="Longest wait after failed rounds (seconds)."
    )

    timezone = Unicode(
        "UTC",
        config=True,
        help="""The hub's time zone, an IANA name ('America/Argentina/Buenos_Aires'): daily
        tables and reports count calendar days there, so a community sees its own days
        ("today", a month, a day's active members). Times are stored in UTC whatever it is;
        the metrics' rolling windows (24h, 7d, 30d) do not depend on it. The daily tables
        are built in it: after changing it the service refuses to start until
        `catalyst-hub rebuild` has rebuilt them (days before a retention purge's horizon
        keep the zone they were counted in).""",
    )

    @validate("timezone")
    def _validate_timezone(self, proposal):
        try:
            zone_named(proposal["value"])
        except ValueError as e:
            raise TraitError(f"c.CatalystApp.timezone: {e}") from None
        return proposal["value"]

    @property
    def zone(self) -> ZoneInfo:
        """The hub's time zone (``timezone``)."""
        return zone_named(self.timezone)

    #: whether this command rebuilds the projections (in the configured zone), so need not
    #: refuse to run on projections built in another
    rebuilds_projections = False

    communities = Instance(CommunityMapper)
    engine = Instance(Engine, allow_none=True)
    store = Instance(Store, allow_none=True)

    @default("communities")
    def _default_communities(self):
        return CommunityMapper(parent=self)

    @property
    def is_postgres(self) -> bool:
        return self.db_url.startswith("postgres")

    @catch_config_error
    def initialize(self, argv=None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
            # command-line options win over the file
            self.update_config(self.cli_config)

    def init_store(self, check: bool = True) -> Store:
        make_private_dir(self.data_dir)
        self.engine = make_engine(self.db_url)
        secret = load_or_create_secret(self.secret_file)
        if check and current_revision(self.engine) is None:
            # a new, empty database: create the tables, as JupyterHub does with its own
            self.log.info(
                "creating catalyst_hub tables in %s",
                self.engine.url.render_as_string(hide_password=True),
            )
            upgrade(self.engine, secrets={self.hub_name: secret})
        if check:
            try:
                check_current(self.engine)
            except DatabaseNeedsUpgrade as e:
                self.log.critical("%s", e)
                self.exit(1)
        self.store = Store(
            self.engine,
            self.hub_name,
            secret,
            Projector(
                Catalog.load(self.catalog_files),
                idle_cull_timeout=self.idle_cull_timeout,
                zone=self.zone,
            ),
        )
        self.store.excluded_members = {self.store.member_id(u) for u in self.excluded_users}
        if check:
            assert isinstance(self.store.projector, Projector)  # the one built above
            if not self.rebuilds_projections:
                self.check_zone(self.store.projector)
            self.ensure_activation(self.store.projector)
        return self.store

    def check_zone(self, projector: Projector) -> None:
        """Exit with a clear message when this hub's daily projections were built in another
        time zone than the configured one: their days would not be this zone's days."""
        assert self.engine is not None  # made by init_store, before this check
        with self.engine.begin() as conn:
            built = projector.built_zone(conn, self.hub_name)
        if built != self.timezone:
            config = f" --config={self.config_file}" if self.config_file else ""
            self.log.critical(
                "The daily tables of hub %s are days of the time zone %s, and "
                "c.CatalystApp.timezone is %s. Run `catalyst-hub rebuild%s` to rebuild them "
                "in %s (or set c.CatalystApp.timezone = %r).",
                self.hub_name,
                built,
                self.timezone,
                config,
                self.timezone,
                built,
            )
            self.exit(1)

    def ensure_activation(self, projector: Projector) -> None:
        """Compute this hub's ``members.activated`` from its steps unless it was computed with
        the catalog's checklists: a database just migrated to the column, or a catalog whose
        checklists changed. Before the service serves anything (reports read the column)."""
        began = time.perf_counter()
        assert self.engine is not None  # set by init_store
        with self.engine.begin() as conn:
            computed = projector.ensure_activation(conn, self.hub_name)
        if computed:
            self.log.info(
                "computed which members of hub %s are activated, with this catalog's "
                "checklists, in %.1f s",
                self.hub_name,
                time.perf_counter() - began,
            )

    def actor_for(self, model: dict) -> Actor:
        """The Actor of a JupyterHub user model (records the identity on first sight, so it
        may query the database)."""
        assert self.store is not None  # set by init_store
        return self._actor(model, self.store.member_id(model["name"]))

    def known_actor(self, model: dict) -> Actor | None:
        """The Actor of a user whose identity this process has already seen, or None: no
        database work, so a request handler can call it on the event loop."""
        assert self.store is not None  # set by init_store
        member_id = self.store.known_member_id(model["name"])
        return None if member_id is None else self._actor(model, member_id)

    def _actor(self, model: dict, member_id: str) -> Actor:
        groups = list(model.get("groups") or [])
        return Actor(
            username=model["name"],
            kind=model.get("kind", "user"),
            member_id=member_id,
            community=self.communities.community_for(groups),
            scopes=set(model.get("scopes") or []),
            groups=groups,
            admin=bool(model.get("admin")),
        )
