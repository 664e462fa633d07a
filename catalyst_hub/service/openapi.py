"""``GET api/openapi.json``: the OpenAPI description of the service (openapi.yaml), public."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jupyterhub.utils import url_path_join

from .base import APIHandler, Service

SPEC = Path(__file__).with_name("openapi.yaml")


@cache
def load_spec() -> dict[str, Any]:
    """The packaged description, as written (paths relative to the service's prefix)."""
    with SPEC.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def spec_for(service: Service) -> dict[str, Any]:
    """The description with this deployment's addresses: the service's prefix, the hub's
    OAuth endpoints and the name of the login cookie."""
    spec = copy.deepcopy(load_spec())
    spec["servers"] = [{"url": service.service_prefix.rstrip("/") or "/"}]
    schemes = spec["components"]["securitySchemes"]
    auth = service.hub_auth
    schemes["hubCookie"]["name"] = auth.cookie_name
    hub_api = url_path_join(auth.hub_prefix, "api/oauth2/")
    flow = schemes["hubOAuth"]["flows"]["authorizationCode"]
    flow["authorizationUrl"] = url_path_join(hub_api, "authorize")
    flow["tokenUrl"] = url_path_join(hub_api, "token")
    return spec


class OpenAPIHandler(APIHandler):
    """The API's description; no authentication needed (it holds no data)."""

    async def prepare(self) -> None:
        return None

    def get(self) -> None:
        self.write_json(spec_for(self.catalyst))
