"""A consortium service in this process, on a MockHub (the staff's hub), and hubs that
publish to it: each a real CatalystService (its own database and secret) whose publisher
sends over HTTP, with data from the synthetic consortium generator."""

from __future__ import annotations

import os
import secrets
import uuid
from datetime import timedelta

import pytest

from catalyst_hub.pytest_plugin import POSTGRES_URL, missing, postgres_admin

READ, ADMIN = "custom:consortium:read", "custom:consortium:admin"


@pytest.fixture
def consortium_db_url(catalyst_db_url, tmp_path):
    """The consortium's own database, on the engine of the test's hub database: a SQLite
    file, or a PostgreSQL database of its own."""
    if catalyst_db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'consortium.sqlite'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"consortium_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = postgres_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}: {e}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class ConsortiumTestHub:
    def __init__(self, hub, service, url: str) -> None:
        self.hub, self.service, self.base = hub, service, url

    @property
    def store(self):
        return self.service.store

    def url(self, path: str = "") -> str:
        from jupyterhub.utils import url_path_join

        return url_path_join(self.base, self.service.service_prefix, path)

    def token(self, name: str, roles: list[str] = (), scopes: list[str] | None = None) -> str:
        from jupyterhub.roles import grant_role
        from jupyterhub.tests.utils import add_user

        user = add_user(self.hub.db, app=self.hub, name=name)
        for role in roles:
            grant_role(self.hub.db, user.orm_user, role)
        self.hub.db.commit()
        return user.new_api_token(**({"scopes": scopes} if scopes is not None else {}))

    async def request(self, method: str, path: str, token: str | None = None, **kwargs):
        from jupyterhub.tests.utils import async_requests

        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"token {token}"
        kwargs.setdefault("allow_redirects", False)
        return await getattr(async_requests, method.lower())(
            self.url(path), headers=headers, **kwargs
        )

    def credential(self, hub: str) -> str:
        from catalyst_hub.timeutil import utcnow

        return self.store.create_credential(hub, "test", utcnow())[1]


@pytest.fixture
def consortium_hubs() -> dict:
    return {}


@pytest.fixture
async def consortium(hub_app, consortium_db_url, consortium_hubs, tmp_path):
    """The consortium service on a MockHub; roles ``consortium-staff``, ``consortium-admin``."""
    from jupyterhub.utils import url_path_join
    from traitlets.config import Config

    from catalyst_hub.consortium import scopes
    from catalyst_hub.consortium.app import ConsortiumService
    from catalyst_hub.localhub import free_ports

    port, hub_port, proxy_port, proxy_api_port = free_ports(4)
    url = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(16)
    base_url = "/@/space%20word/"
    prefix = url_path_join(base_url, "services/consortium/")
    hub_prefix = url_path_join(base_url, "hub/")
    config = Config(
        {
            "ConsortiumBase": {"db_url": consortium_db_url},
            "ConsortiumService": {
                "url": url,
                "service_prefix": prefix,
                "upgrade_db": True,
                "hubs": consortium_hubs,
                "metrics_cache": 0.0,
                # summaries parsed in a thread: a process per test would add its start
                # (test_consortium_store_days and the end-to-end tests run the process)
                "parse_processes": 0,
            },
            "HubOAuth": {
                "api_token": token,
                "api_url": f"http://127.0.0.1:{hub_port}{hub_prefix}api",
                "oauth_client_id": "service-consortium",
                "oauth_redirect_uri": url_path_join(prefix, "oauth_callback"),
                "hub_prefix": hub_prefix,
                "base_url": prefix,
                "access_scopes": {"access:services!service=consortium"},
            },
        }
    )
    ConsortiumService.clear_instance()
    service = ConsortiumService(config=config)
    service.initialize([])
    await service.start_server()
    hub = await hub_app(
        {
            "JupyterHub": {
                "services": [
                    {
                        "name": "consortium",
                        "url": url,
                        "api_token": token,
                        "oauth_no_confirm": True,
                        "oauth_client_allowed_scopes": list(scopes.CUSTOM_SCOPES),
                    }
                ],
                "custom_scopes": scopes.CUSTOM_SCOPES,
                "load_roles": [
                    {"name": "user", "scopes": ["self", "access:services!service=consortium"]},
                    {"name": "consortium-staff", "scopes": [scopes.READ]},
                    {"name": "consortium-admin", "scopes": [scopes.ADMIN]},
                ],
                "hub_ip": "127.0.0.1",
                "hub_port": hub_port,
                "bind_url": f"http://127.0.0.1:{proxy_port}{base_url}",
            },
            "ConfigurableHTTPProxy": {
                "api_url": f"http://127.0.0.1:{proxy_api_port}",
                "pid_file": str(tmp_path / "proxy.pid"),
            },
        }
    )
    yield ConsortiumTestHub(hub, service, url)
    await service.stop()


class PublishingHub:
    """A hub's catalyst service (not listening: only its store and publisher run)."""

    def __init__(self, service, publisher) -> None:
        self.service, self.publisher = service, publisher

    @property
    def store(self):
        return self.service.store


@pytest.fixture
async def make_publishing_hub(catalyst_db_url, tmp_path):
    """``await make(consortium, "andes", "Andes", "Latin America", communities=3, ...)``: a
    hub (named uniquely: hubs of every test share the PostgreSQL test database) with 45 days
    of synthetic data whose publisher sends to ``consortium`` with a credential of its own,
    named and placed in a region by the consortium's configuration."""
    from traitlets.config import Config

    from catalyst_hub.seed import Consortium, catalog_episodes, seed_store
    from catalyst_hub.service.app import CatalystService
    from catalyst_hub.service.publisher import Publisher
    from catalyst_hub.timeutil import utcnow

    made = []

    async def make(
        consortium,
        hub_name: str,
        display: str = "",
        region: str = "",
        communities: int = 3,
        members: int = 60,
        events: int = 3000,
        k: int = 5,
        public: tuple = (),
    ) -> PublishingHub:
        name = f"{hub_name}-{uuid.uuid4().hex[:6]}"
        consortium.service.hubs = {
            **consortium.service.hubs,
            name: {"name": display or hub_name, "region": region or "—"},
        }
        credential = consortium.credential(name)
        consortium_url = consortium.url()
        config = Config(
            {
                "CatalystApp": {
                    "hub_name": name,
                    "db_url": catalyst_db_url,
                    "secret_file": str(tmp_path / f"{name}.secret"),
                },
                "CatalystService": {
                    "consortium_url": consortium_url,
                    "consortium_token": credential,
                    "consortium_backoff": 0.001,
                    "consortium_backoff_max": 0.002,
                    "consortium_public_communities": list(public),
                    "collector_enabled": False,
                    "consent_mode": "opt-out",
                    "min_group_size": k,
                },
            }
        )
        service = CatalystService(config=config)
        service.initialize([])
        if events:
            plan = Consortium(
                communities=communities,
                members=members,
                days=45,
                events=events,
                seed=len(made),
                end=utcnow().date() - timedelta(days=1),
                episodes=catalog_episodes(service.store.catalog),
                hub=name,
            )
            seed_store(service.store, plan, "ingest", quiet=True)
        publisher = Publisher(parent=service, app=service)
        hub = PublishingHub(service, publisher)
        hub.name = name
        made.append(hub)
        return hub

    yield make
    for hub in made:
        await hub.publisher.stop()
        await hub.service.stop()
