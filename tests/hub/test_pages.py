"""The researcher's pages (me, privacy) on a MockHub, against SQLite and PostgreSQL."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import select
from tornado.web import create_signed_value

from catalyst_hub.store import tables as t

STATIC = Path(__file__).parents[2] / "catalyst_hub" / "service" / "static"


def login_cookies(catalyst_service, token: str) -> dict[str, str]:
    """The cookie HubOAuth sets after a browser's OAuth login, holding ``token``."""
    service = catalyst_service.service
    secret = service.http_server.request_callback.settings["cookie_secret"]
    name = service.hub_auth.cookie_name
    return {name: create_signed_value(secret, name, token).decode("ascii")}


def states(html: str, attribute: str = "data-step-id") -> dict[str, str]:
    """{id: state} of the page's step (or episode) items."""
    return dict(re.findall(rf'{attribute}="([^"]+)" data-state="([^"]+)"', html))


def xsrf_field(html: str) -> str:
    match = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert match, "no xsrf field in the page"
    return match.group(1)


async def send(catalyst_service, token, *events):
    r = await catalyst_service.request("post", "api/events", token, json={"events": list(events)})
    assert r.status_code == 200, r.text
    return r.json()


async def test_me_page_shows_the_same_states_as_api_me(catalyst_service, make_event):
    token = catalyst_service.token("ana@example.org", groups=["community-andes"])
    await send(
        catalyst_service,
        token,
        make_event("action", {"action": "logged_in"}),
        make_event("action", {"action": "cell_executed"}),
        make_event(
            "exercise_completed",
            {"lesson": "hub-basics", "episode": "first-notebook", "exercise": "hello"},
        ),
        make_event(
            "episode_completed", {"lesson": "sharing", "episode": "publish", "source": "self"}
        ),
    )
    api = (await catalyst_service.request("get", "api/me", token)).json()
    r = await catalyst_service.request("get", "me", token)
    assert r.status_code == 200, r.text
    html = r.text
    assert states(html) == {s["id"]: s["state"] for s in api["steps"]}
    assert states(html)["login"] == "done" and states(html)["start_server"] == "next"
    api_episodes = {
        e["id"]: e["state"]
        for p in api["training"]["programs"]
        for lesson in p["lessons"]
        for e in lesson["episodes"]
    }
    assert states(html, "data-episode-id") == api_episodes
    assert api_episodes["first-notebook"] == "started" and api_episodes["publish"] == "done"
    assert "ana@example.org" in html  # the member's own name, in the navigation bar
    assert 'lang="en"' in html


async def test_api_me_has_the_consent_notice(catalyst_service):
    token = catalyst_service.token("ana@example.org")
    body = (await catalyst_service.request("get", "api/me?lang=fr", token)).json()
    assert body["notice"]["version"] == "1"
    assert body["notice"]["title"] and "365" in body["notice"]["body"]
    assert body["notice"]["title"] != "What this hub records about your work"  # French


async def test_me_page_in_spanish_by_choice_and_the_choice_sticks(catalyst_service):
    token = catalyst_service.token("ana@example.org")
    r = await catalyst_service.request("get", "me?lang=es", token)
    assert r.status_code == 200
    assert '<html lang="es">' in r.text
    assert "Inicia sesión en tu hub" in r.text
    assert "Tu lista de pasos" in r.text
    assert r.cookies.get("catalyst-lang") == "es"
    # the cookie alone keeps Spanish, over the browser's Accept-Language
    r = await catalyst_service.request(
        "get", "me", token, cookies={"catalyst-lang": "es"}, headers={"Accept-Language": "fr"}
    )
    assert '<html lang="es">' in r.text


async def test_me_page_follows_accept_language(catalyst_service):
    token = catalyst_service.token("ana@example.org", consent=None)
    r = await catalyst_service.request(
        "get", "me", token, headers={"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.5"}
    )
    assert '<html lang="pt">' in r.text
    assert "Entre no seu hub" in r.text
    assert "Aceitar" in r.text


async def test_me_page_is_small(catalyst_service, make_event):
    token = catalyst_service.token("ana@example.org")
    await send(catalyst_service, token, make_event("action", {"action": "logged_in"}))
    html = (await catalyst_service.request("get", "me", token)).content
    css = (STATIC / "catalyst.css").read_bytes()
    assert len(html) + len(css) < 100 * 1024, (len(html), len(css))
    assert b"<script" not in html  # works without JavaScript


async def test_hostile_names_are_escaped(catalyst_service):
    name = "<script>alert(1)</script>@example.org"
    token = catalyst_service.token(name, groups=['community-<img src=x onerror="alert(2)">'])
    html = (await catalyst_service.request("get", "me", token)).text
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.org" in html
    assert "&lt;img src=x onerror=" in html


async def test_browsers_are_sent_to_log_in(catalyst_service):
    r = await catalyst_service.request("get", "me", allow_redirects=False)
    assert r.status_code == 302
    assert "oauth2/authorize" in r.headers["Location"]


async def test_self_report_with_the_xsrf_token_over_cookie_auth(catalyst_service):
    token = catalyst_service.token("ana@example.org")
    cookies = login_cookies(catalyst_service, token)
    r = await catalyst_service.request("get", "me", cookies=cookies)
    assert r.status_code == 200, r.text
    assert states(r.text)["run_code"] == "todo"
    cookies["_xsrf"] = r.cookies["_xsrf"]
    xsrf = xsrf_field(r.text)
    assert unescape(xsrf) == cookies["_xsrf"]

    r = await catalyst_service.request(
        "post",
        "me/steps",
        data={"step": "run_code", "_xsrf": xsrf},
        cookies=cookies,
        allow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["Location"].endswith("me?status=saved#step-run_code")

    store = catalyst_service.store
    with store.connect() as conn:
        rows = conn.execute(
            select(t.events).where(t.events.c.hub == store.hub, t.events.c.schema != "consent")
        ).all()
    # viewing the checklist recorded the login; the form, the step
    assert sorted((row.schema, row.payload) for row in rows) == [
        ("action", {"action": "logged_in"}),
        ("step_reached", {"step": "run_code", "source": "self"}),
    ]
    assert {row.member_id for row in rows} == {store.member_id("ana@example.org")}

    r = await catalyst_service.request("get", "me?status=saved", cookies=cookies)
    assert states(r.text)["run_code"] == "done"
    assert 'data-status="saved"' in r.text


async def test_self_report_without_the_xsrf_token_is_refused(catalyst_service):
    token = catalyst_service.token("ana@example.org", consent=None)
    cookies = login_cookies(catalyst_service, token)
    r = await catalyst_service.request("get", "me", cookies=cookies)
    cookies["_xsrf"] = r.cookies["_xsrf"]
    for data in ({"step": "run_code"}, {"step": "run_code", "_xsrf": "forged"}):
        r = await catalyst_service.request(
            "post", "me/steps", data=data, cookies=cookies, allow_redirects=False
        )
        assert r.status_code == 403, r.text
        assert r.headers["Content-Type"].startswith("text/html")
        assert "xsrf" in r.text.lower()
    # and a JSON 403 from the API
    r = await catalyst_service.request(
        "post", "api/me/erase", json={"confirm": True}, cookies=cookies
    )
    assert r.status_code == 403
    assert r.json()["status"] == 403
    store = catalyst_service.store
    with store.connect() as conn:
        rows = conn.execute(select(t.events).where(t.events.c.hub == store.hub)).all()
    # nothing: not the forged steps, and not yet the login her look at the page proved (held
    # until she decides on the recording notice)
    assert rows == []


async def test_self_report_of_an_episode_with_a_token(catalyst_service):
    token = catalyst_service.token("ana@example.org")
    r = await catalyst_service.request(
        "post",
        "me/episodes",
        token,
        data={"lesson": "hub-basics", "episode": "persistence"},
        allow_redirects=False,
    )
    assert r.status_code == 303, r.text
    api = (await catalyst_service.request("get", "api/me", token)).json()
    episode = api["training"]["programs"][0]["lessons"][0]["episodes"][2]
    assert (episode["id"], episode["state"], episode["source"]) == ("persistence", "done", "self")


@pytest.mark.parametrize(
    "path, data",
    [
        ("me/steps", {"step": "login"}),  # detected, not self-reported
        ("me/steps", {"step": "no-such-step"}),
        ("me/episodes", {"lesson": "hub-basics", "episode": "first-notebook"}),  # has exercises
        ("me/consent", {"decision": "maybe"}),
    ],
)
async def test_what_cannot_be_reported_by_hand_is_refused(catalyst_service, path, data):
    token = catalyst_service.token("ana@example.org", consent=None)
    r = await catalyst_service.request("post", path, token, data=data, allow_redirects=False)
    assert r.status_code == 400, r.text
    store = catalyst_service.store
    with store.connect() as conn:
        assert conn.execute(select(t.events).where(t.events.c.hub == store.hub)).first() is None


async def test_consent_notice_until_decided_then_privacy_choices(catalyst_service):
    token = catalyst_service.token("ana@example.org", consent=None)
    html = (await catalyst_service.request("get", "me", token)).text
    assert 'id="consent-notice"' in html and 'id="privacy-choices"' not in html
    assert "365 days" in html

    r = await catalyst_service.request(
        "post", "me/consent", token, data={"decision": "given"}, allow_redirects=False
    )
    assert r.status_code == 303
    html = (await catalyst_service.request("get", "me", token)).text
    assert 'id="consent-notice"' not in html
    assert 'data-consent="given"' in html
    assert 'id="consent-opt-out"' in html
    api = (await catalyst_service.request("get", "api/me", token)).json()
    assert api["consent"] == {"decision": "given", "version": "1"}


@pytest.mark.parametrize("catalyst_config", [{"CatalystService": {"consent_notice_version": "2"}}])
async def test_a_new_notice_version_asks_again(catalyst_service):
    token = catalyst_service.token("ana@example.org", consent=None)
    member = catalyst_service.store.member_id("ana@example.org")
    catalyst_service.service.ingestor.ingest_trusted(
        [
            (
                {
                    "id": "6f1c9c52-8a0b-4c1e-9d55-3a1f6b0e2a11",
                    "schema": "consent",
                    "version": 1,
                    "time": "2024-01-01T00:00:00Z",
                    "payload": {"decision": "given", "notice_version": "1"},
                },
                _sender(member),
            )
        ]
    )
    html = (await catalyst_service.request("get", "me", token)).text
    assert 'id="consent-notice"' in html and 'data-notice-version="2"' in html


def _sender(member_id):
    from catalyst_hub.ingest import Sender

    return Sender(member_id=member_id, community="default")


@pytest.mark.parametrize(
    "catalyst_config",
    [{"CatalystService": {"retention_days": 90, "consent_notice_version": "2024-06"}}],
)
@pytest.mark.parametrize(
    "lang, days",
    [("en", "90 days"), ("es", "90 días"), ("pt", "90 dias"), ("fr", "90 jours")],
)
async def test_privacy_page_states_the_actual_settings(catalyst_service, lang, days):
    r = await catalyst_service.request("get", f"privacy?lang={lang}")  # public: no login needed
    assert r.status_code == 200, r.text
    html = r.text
    assert f'<html lang="{lang}">' in html
    assert 'data-retention-days="90"' in html
    assert days in html
    assert 'data-notice-version="2024-06"' in html
    assert "2024-06" in html


async def test_root_leads_to_the_member_page(catalyst_service):
    token = catalyst_service.token("ana@example.org")
    r = await catalyst_service.request("get", "", token, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/services/catalyst/me")


def test_hub_home_page_links_to_the_member_page():
    """jupyter_config/templates extends JupyterHub's own templates (as template_paths does)."""
    import types

    import jupyterhub
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader

    hub_templates = Path(jupyterhub.__file__).parents[4] / "share" / "jupyterhub" / "templates"
    if not (hub_templates / "home.html").exists():  # installed elsewhere (e.g. a system prefix)
        from jupyterhub.app import JupyterHub

        hub_templates = Path(JupyterHub().template_paths[0])
    ours = Path(__file__).parents[2] / "jupyter_config" / "templates"
    env = Environment(
        loader=ChoiceLoader(
            [
                PrefixLoader({"templates": FileSystemLoader([str(hub_templates)])}, "/"),
                FileSystemLoader([str(ours), str(hub_templates)]),
            ]
        ),
        autoescape=True,
    )
    service = types.SimpleNamespace(name="catalyst", href="/services/catalyst/")
    other = types.SimpleNamespace(name="grafana", href="/services/grafana/")
    user = types.SimpleNamespace(
        name="ana",
        admin=False,
        spawner=types.SimpleNamespace(options_form=None),
        all_spawners=lambda include_default=True: [],
    )
    html = env.get_template("home.html").render(
        base_url="/hub/",
        prefix="/",
        user=user,
        services=[service, other],
        default_server=types.SimpleNamespace(active=False),
        url="/hub/spawn",
        parsed_scopes=set(),
        static_url=lambda path, **kw: "/hub/static/" + path,
        xsrf="x",
        allow_named_servers=False,
        logout_url="/hub/logout",
    )
    assert re.search(r'id="catalyst-getting-started"[^>]*href="/services/catalyst/me"', html, re.S)
    assert '<a class="dropdown-item" href="/services/catalyst/me">Getting started</a>' in html
    assert '<a class="dropdown-item" href="/services/grafana/">grafana</a>' in html
    assert 'id="start"' in html  # JupyterHub's own home page is still there


def test_a_deployment_notice_replaces_the_packaged_one():
    from traitlets import TraitError
    from traitlets.config import Config

    from catalyst_hub.service.app import CatalystService

    config = Config(
        {
            "CatalystService": {
                "retention_days": 30,
                "consent_notice_version": "2025-01",
                "consent_notice": {
                    "es": {"title": "Aviso", "body": "Se borra a los {retention_days} días. {otro}"}
                },
            }
        }
    )
    service = CatalystService(config=config)
    # a language the deployment did not write falls back to one it did
    assert service.consent_notice_for("fr") == {
        "version": "2025-01",
        "mode": "opt-in",
        "title": "Aviso",
        "body": "Se borra a los 30 días. {otro}",
    }
    with pytest.raises(TraitError):
        CatalystService(config=Config({"CatalystService": {"consent_notice": {"en": "text"}}}))
