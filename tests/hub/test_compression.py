"""Responses are gzip-compressed for clients that accept it: many members are on slow links."""

from __future__ import annotations

import gzip

import pytest


@pytest.fixture
def catalyst_hub_roles():
    return [{"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]}]


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("me", "text/html"),
        ("privacy", "text/html"),
        ("api/me", "application/json"),
        ("reports/communities/default/adoption", "text/html"),
        ("reports/communities/default/adoption.csv?days=365", "text/csv"),
        ("reports/communities/default/adoption.json", "application/json"),
        ("api/openapi.json", "application/json"),
    ],
)
async def test_pages_and_exports_are_compressed(catalyst_service, path, content_type):
    admin = catalyst_service.token("champion@uni.example.org", roles=["catalyst-admin"])
    r = await catalyst_service.request(
        "get", path, admin, headers={"Accept-Encoding": "gzip"}, stream=True
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith(content_type)
    # (bodies under 1 kB are sent as they are: compressing them saves nothing)
    assert r.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in r.headers.get("Vary", "")
    wire = r.raw.read(decode_content=False)
    body = gzip.decompress(wire)
    assert len(wire) < len(body)


async def test_a_client_that_does_not_accept_gzip_gets_plain_text(catalyst_service):
    token = catalyst_service.token("ana@uni.example.org")
    r = await catalyst_service.request("get", "me", token, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert "Content-Encoding" not in r.headers
    assert "<html" in r.text.lower()
