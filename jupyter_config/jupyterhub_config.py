"""JupyterHub configuration with the catalyst service: a plain hub (no Kubernetes).

Copy it next to your own config, or load it from yours with ``load_subconfig``. Everything
the hub needs for catalyst is here; the service's own settings (database, community mapping,
catalog, consent notice...) live in ``catalyst_config.py`` (``c.CatalystApp.*``,
``c.CatalystService.*``, ``c.CommunityMapper.*``), read by the service. The demo
(``make demo``) and the end-to-end tests start a hub with this very file; the environment
variables below are how they set ports and folders.
"""

import os
import shutil
import sys

from catalyst_hub.hubconfig import home_page_messages
from catalyst_hub.service.scopes import CUSTOM_SCOPES, SERVICE_TOKEN_SCOPES

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

SERVICE_NAME = os.environ.get("CATALYST_SERVICE_NAME", "catalyst")
SERVICE_PORT = int(os.environ.get("CATALYST_SERVICE_PORT", "10101"))
HERE = os.path.dirname(os.path.abspath(__file__))
SERVICE_CONFIG = os.environ.get("CATALYST_SERVICE_CONFIG", os.path.join(HERE, "catalyst_config.py"))

c.JupyterHub.ip = os.environ.get("CATALYST_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("CATALYST_HUB_PORT", "8000"))
if os.environ.get("CATALYST_HUB_API_PORT"):
    c.JupyterHub.hub_port = int(os.environ["CATALYST_HUB_API_PORT"])
if os.environ.get("CATALYST_PROXY_API_PORT"):
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['CATALYST_PROXY_API_PORT']}"

# The hub's public address (with its base URL): JupyterHub gives each managed service its
# public URL from it ($JUPYTERHUB_PUBLIC_URL), and the ids of the service's badges come from
# that. Set it on a real hub: c.JupyterHub.public_url = "https://hub.example.org/".
if os.environ.get("CATALYST_PUBLIC_URL"):
    c.JupyterHub.public_url = os.environ["CATALYST_PUBLIC_URL"]

# -- the catalyst service -------------------------------------------------------------------
# custom scopes: reading reports, training leads, administration, scraping metrics
c.JupyterHub.custom_scopes = CUSTOM_SCOPES

c.JupyterHub.services = [
    {
        "name": SERVICE_NAME,
        "url": f"http://127.0.0.1:{SERVICE_PORT}",
        "command": [sys.executable, "-m", "catalyst_hub", "service", f"--config={SERVICE_CONFIG}"],
        "environment": {
            key: os.environ[key]
            for key in ("CATALYST_DATA_DIR", "CATALYST_DB_URL", "CATALYST_HUB_NAME", "PATH")
            if key in os.environ
        },
        "display": True,  # in the hub's Services menu
        "oauth_no_confirm": True,
        # browser tokens of the service may carry these (intersected with the user's own)
        "oauth_client_allowed_scopes": list(CUSTOM_SCOPES),
    }
]

# the hub's home page links to the researcher's page; the Services menu names it
c.JupyterHub.template_paths = [os.path.join(HERE, "templates")]
c.JupyterHub.template_vars = {
    "catalyst_service_name": SERVICE_NAME,
    # the "Getting started" button and sentence in every language (the page picks one)
    "catalyst_home_messages": home_page_messages(),
}

c.JupyterHub.load_roles = [
    # every user may use the service: send events about themselves, read their own progress
    {"name": "user", "scopes": ["self", f"access:services!service={SERVICE_NAME}"]},
    # least privilege for the service's own token: the collector lists users and servers
    {"name": "catalyst-service", "scopes": SERVICE_TOKEN_SCOPES, "services": [SERVICE_NAME]},
]

# Prometheus scrapes /services/catalyst/metrics with a token of its own: a service with both
# scopes it needs (using the service at all, and reading metrics).
if os.environ.get("CATALYST_PROMETHEUS_TOKEN"):
    c.JupyterHub.services.append(
        {"name": "prometheus", "api_token": os.environ["CATALYST_PROMETHEUS_TOKEN"]}
    )
    c.JupyterHub.load_roles.append(
        {
            "name": "catalyst-metrics",
            "scopes": [f"access:services!service={SERVICE_NAME}", "custom:catalyst:metrics"],
            "services": ["prometheus"],
        }
    )

# Examples: a training lead of one community, consortium staff, catalyst administrators.
# A role that names groups creates them on the hub, and most hubs have no groups: these are
# off unless CATALYST_EXAMPLE_ROLES=1 (the demo turns them on). To grant a role to people,
# name them: {"name": "catalyst-lead-andes", "scopes": [...], "users": ["luis@example.org"]}.
if os.environ.get("CATALYST_EXAMPLE_ROLES") == "1":
    c.JupyterHub.load_roles += [
        {
            "name": "catalyst-lead-andes",
            "scopes": ["custom:catalyst:training!group=community-andes"],
            "groups": ["leads-andes"],
        },
        {
            "name": "catalyst-staff",
            "scopes": ["custom:catalyst:reports"],
            "groups": ["consortium-staff"],
        },
        {
            "name": "catalyst-admin",
            "scopes": ["custom:catalyst:admin", "custom:catalyst:metrics"],
            "groups": ["catalyst-admins"],
        },
    ]

# -- single-user servers --------------------------------------------------------------------
# a server's own token may send events to the service (the server extension's outbox)
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE_NAME}",
]
# the server extension needs the service's address; JUPYTERHUB_SERVICE_URL in a single-user
# server is the server's own URL, not the service's
public = os.environ.get("CATALYST_PUBLIC_URL", f"http://127.0.0.1:{c.JupyterHub.port}/")
c.Spawner.environment = {"CATALYST_SERVICE_URL": f"{public.rstrip('/')}/services/{SERVICE_NAME}/"}
c.Spawner.default_url = "/lab"

if os.environ.get("CATALYST_LOCAL_SPAWNER"):
    # demo and tests: servers as local processes, homes in a folder
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(
        os.environ["CATALYST_LOCAL_SPAWNER"], "{username}"
    )
    c.Spawner.cmd = [shutil.which("jupyterhub-singleuser") or "jupyterhub-singleuser"]
    c.Spawner.args = ["--allow-root"] if os.getuid() == 0 else []
    c.Spawner.http_timeout = 60
    c.Spawner.start_timeout = 60
