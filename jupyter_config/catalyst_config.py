"""Configuration of the catalyst service (traitlets, like JupyterHub's own).

JupyterHub starts the service with ``--config=<this file>``; ``catalyst-hub db upgrade``
and ``catalyst-hub rebuild`` accept the same option.
"""

c = get_config()  # noqa: F821

# Id of this hub, stored on every row (several hubs may share one PostgreSQL database).
# c.CatalystApp.hub_name = "andes-hub"

# Database: SQLite in data_dir by default; PostgreSQL for shared or large deployments.
# c.CatalystApp.db_url = "postgresql://catalyst@db.example.org/catalyst"

# Keep this file safe and backed up: member ids are keyed hashes made with it.
# c.CatalystApp.secret_file = "/srv/catalyst/catalyst_hub_secret"

# Communities from JupyterHub groups: "community-andes" -> "andes"; anyone else is in the
# default community (hubs without groups are one community: the hub itself).
c.CommunityMapper.group_prefix = "community-"
# c.CommunityMapper.group_map = {"uct-researchers": "cape-town"}
# c.CommunityMapper.default_community = "andes"

# Catalog files (onboarding steps, training), merged over the packaged default.
# c.CatalystApp.catalog_files = ["/srv/catalyst/catalog.yaml"]

# Staff, test and service accounts left out of statistics.
# c.CatalystApp.excluded_users = {"admin", "hub-champion@example.org"}

# How recording starts: "opt-in" (default) stores only the essential events (the decision,
# server start and stop) until a member accepts the notice; "opt-out" where the legal basis
# is legitimate interest. The notice and the privacy page say which.
# c.CatalystService.consent_mode = "opt-in"

# Hubs sharing this database with other secrets: their secret files, for `db upgrade`.
# c.DbUpgradeApp.other_hub_secret_files = {"sahel-hub": "/srv/sahel/catalyst_hub_secret"}

# Ingest limits.
# c.CatalystService.max_batch_events = 1000
# c.CatalystService.max_body_bytes = 4 * 1024 * 1024

# Collector: how often the hub's REST API is polled for server sessions.
# c.Collector.poll_interval = 60

# How long the hub lets an idle server run (jupyterhub-idle-culler's --timeout): a server
# session with no recorded stop ends this long after its last activity. After a change, run
# `catalyst-hub rebuild`.
# c.CatalystApp.idle_cull_timeout = 3600

# Open Badges 3.0 for the catalog's lessons and paths that declare a badge: the issuer profile in every
# badge, the service's public URL (the ids of the issuer, badges and revocation list; by
# default the one JupyterHub gives the service when c.JupyterHub.public_url is set, and
# without either the service issues no badges and says so in its log), and the
# Ed25519 signing key (created 0600 beside the secret file if missing). To rotate the key,
# name a new file and keep the old one in badge_retired_key_files: its badges still verify.
# c.CatalystService.badge_issuer = {
#     "name": "Andes Open Science Hub",
#     "url": "https://andes.example.org",
#     "description": "Training of the Andes research community",
#     "image": "https://andes.example.org/logo.png",
# }
# c.CatalystService.badge_base_url = "https://hub.andes.example.org/services/catalyst/"
# c.CatalystService.badge_key_file = "/srv/catalyst/catalyst_badge_key.pem"
# c.CatalystService.badge_retired_key_files = []

# Learning records as xAPI statements: the hub's public URL (actors' homePage, activity ids)
# and, to send them to a Learning Record Store, its xAPI endpoint and basic-auth account
# (a file holding username:password, readable by the service only).
# c.CatalystApp.hub_url = "https://hub.example.org/"
# c.CatalystApp.lrs_url = "https://lrs.example.org/xAPI/"
# c.CatalystApp.lrs_credentials_file = "/srv/catalyst/lrs-credentials"
