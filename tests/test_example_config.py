"""The example hub configuration fits hubs without groups: loading it creates none, unless
the example roles are asked for; the scraper's role has both scopes a scrape needs."""

from __future__ import annotations

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from catalyst_hub.hubconfig import config_path


def load_roles(monkeypatch, **environment: str) -> list[dict]:
    for name in ("CATALYST_EXAMPLE_ROLES", "CATALYST_PROMETHEUS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    path = config_path("jupyterhub_config.py")
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    return list(config.JupyterHub.load_roles)


def test_no_role_names_groups_by_default(monkeypatch):
    roles = load_roles(monkeypatch)
    assert {r["name"] for r in roles} == {"user", "catalyst-service"}
    assert not [r for r in roles if r.get("groups")]


def test_the_example_roles_are_opt_in(monkeypatch):
    roles = {r["name"]: r for r in load_roles(monkeypatch, CATALYST_EXAMPLE_ROLES="1")}
    assert roles["catalyst-lead-andes"]["groups"] == ["leads-andes"]
    assert roles["catalyst-staff"]["scopes"] == ["custom:catalyst:reports"]


def test_the_scraper_role_grants_access_and_metrics(monkeypatch):
    roles = {r["name"]: r for r in load_roles(monkeypatch, CATALYST_PROMETHEUS_TOKEN="t" * 32)}
    assert set(roles["catalyst-metrics"]["scopes"]) == {
        "access:services!service=catalyst",
        "custom:catalyst:metrics",
    }
    assert roles["catalyst-metrics"]["services"] == ["prometheus"]


@pytest.mark.parametrize("name", ["z2jh-values.yaml"])
def test_zero_to_jupyterhub_values_name_no_groups(name):
    values = yaml.safe_load(config_path(name).read_text())
    roles = values["hub"]["loadRoles"]
    assert not [r for r in roles.values() if r.get("groups")]
    assert set(roles["catalyst-metrics"]["scopes"]) == {
        "access:services!service=catalyst",
        "custom:catalyst:metrics",
    }


def test_the_home_page_messages_exist_in_every_language():
    from catalyst_hub.hubconfig import home_page_messages
    from catalyst_hub.i18n import LANGUAGES

    messages = home_page_messages()
    assert set(messages) == set(LANGUAGES)
    english = messages["en"]
    for language in set(LANGUAGES) - {"en"}:
        for key, text in messages[language].items():
            assert text and text != english[key], (language, key)
