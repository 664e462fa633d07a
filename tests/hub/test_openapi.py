"""The OpenAPI description (catalyst_hub/service/openapi.yaml) says what the service serves.

Every route of ``CatalystService.handlers()`` is described, every described path is routed
(to the handler its ``x-route`` names, and no earlier route catches it), and the methods of
each path are exactly those its handler implements. The service serves the description at
``api/openapi.json`` to anyone.
"""

from __future__ import annotations

import itertools
import re

import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_30
from tornado import web

from catalyst_hub.service.app import CatalystService
from catalyst_hub.service.openapi import load_spec

PREFIX = "/services/catalyst/"
METHODS = ("get", "head", "post", "delete", "patch", "put", "options")
#: Values of path parameters: every enum value, else these examples.
EXAMPLES = {
    "community": ["andes", "sahel-2"],
    "cohort_id": ["7", "12345"],
    "badge_id": ["0b8f3c52-4a0e-4c1e-9d59-2f6f1d6b1a77"],
    "lesson": ["hub-basics", "v1.2"],
    "program": ["champions", "v1.2"],
}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def routes() -> list[tuple[str, type]]:
    """(pattern relative to the service prefix, handler), in tornado's matching order."""
    service = CatalystService(service_prefix=PREFIX)
    out = []
    for pattern, handler in service.handlers():
        assert pattern.startswith(PREFIX), pattern
        out.append((pattern[len(PREFIX) :], handler))
    return out


def implemented(handler: type) -> set[str]:
    """HTTP methods a handler implements itself (overriding RequestHandler's 405)."""
    return {m for m in METHODS if getattr(handler, m) is not getattr(web.RequestHandler, m)}


def path_parameters(spec, path: str, item: dict) -> dict[str, list[str]]:
    params = {}
    operations = [op for method, op in item.items() if method in METHODS]
    for op in operations:
        for param in op.get("parameters", []):
            if "$ref" in param:
                param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
            if param["in"] == "path":
                params[param["name"]] = param["schema"].get("enum") or EXAMPLES[param["name"]]
    named = set(re.findall(r"{(\w+)}", path))
    assert named == set(params), (path, named, set(params))
    return params


def concrete_paths(spec, path: str, item: dict) -> list[str]:
    """The path with every combination of its parameters' values, relative to the prefix."""
    params = path_parameters(spec, path, item)
    names = sorted(params)
    out = []
    for values in itertools.product(*(params[n] for n in names)):
        concrete = path
        for name, value in zip(names, values, strict=True):
            concrete = concrete.replace("{" + name + "}", str(value))
        out.append(concrete.removeprefix("/"))
    return out


def test_the_description_is_valid_openapi_3(spec):
    jsonschema.Draft4Validator(OPENAPI_30).validate(spec)
    assert spec["openapi"].startswith("3.")
    ids = [
        op["operationId"]
        for item in spec["paths"].values()
        for m, op in item.items()
        if m in METHODS
    ]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_route_is_described_and_every_described_path_is_routed(spec, routes):
    described = {item["x-route"] for item in spec["paths"].values()}
    routed = {pattern for pattern, _ in routes}
    assert routed - described == set(), "routes missing from openapi.yaml"
    assert described - routed == set(), "x-route values that are not routes"

    by_pattern = dict(routes)
    for path, item in spec["paths"].items():
        for concrete in concrete_paths(spec, path, item):
            # tornado serves the first route whose pattern matches the whole path
            first = next((p for p, _ in routes if re.fullmatch(p, concrete)), None)
            assert first == item["x-route"], (path, concrete, first)
            handler = by_pattern[first]
            methods = {m for m in item if m in METHODS}
            assert methods == implemented(handler), (path, handler.__name__)


def test_every_route_has_a_described_path_per_form(spec, routes):
    """Routes with an optional ``.csv``/``.json`` suffix are described with and without it."""
    for pattern, _ in routes:
        paths = [p for p, item in spec["paths"].items() if item["x-route"] == pattern]
        if "(?P<suffix>" in pattern:
            assert len(paths) == 2 and any(p.endswith(".{format}") for p in paths), pattern
        else:
            assert len(paths) == 1, (pattern, paths)


def resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def test_errors_are_documented(spec):
    """Authenticated operations say what happens without a login and without the scope;
    every JSON error is ``{status, message}``."""
    error = "#/components/schemas/Error"
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            responses = {code: resolve(spec, r) for code, r in op["responses"].items()}
            public = op.get("security", spec["security"]) == []
            if not public:
                assert "403" in responses, (method, path)
                assert {"302", "401"} & set(responses) or method == "post", (method, path)
            for code, response in responses.items():
                assert response.get("description"), (method, path, code)
                if code.startswith("4"):
                    content = response.get("content", {})
                    assert content, (method, path, code)
                    json_schema = content.get("application/json", {}).get("schema")
                    if json_schema is not None:
                        refs = re.findall(r"'\$ref': '([^']+)'", str(json_schema))
                        assert error in refs, (method, path, code)
            if "requestBody" in op:
                assert {"400", "413"} <= set(responses), (method, path)


async def test_the_service_serves_the_description_to_anyone(catalyst_service, spec):
    r = await catalyst_service.request("get", "api/openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    served = r.json()
    assert served["paths"] == spec["paths"]
    assert served["servers"] == [{"url": catalyst_service.service.service_prefix.rstrip("/")}]
    auth = catalyst_service.service.hub_auth
    schemes = served["components"]["securitySchemes"]
    assert schemes["hubCookie"]["name"] == auth.cookie_name
    flow = schemes["hubOAuth"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == auth.hub_prefix + "api/oauth2/authorize"
    jsonschema.Draft4Validator(OPENAPI_30).validate(served)
