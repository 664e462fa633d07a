"""The extension in a Jupyter server: quiet outside JupyterHub, the local API, consent."""

from __future__ import annotations

import json

import pytest
from conftest import TOKEN, settle, wait_for
from tornado.httpclient import HTTPClientError


def _events(*events: dict) -> str:
    return json.dumps({"events": list(events)})


EXERCISE = {
    "schema": "exercise_completed",
    "version": 1,
    "payload": {"lesson": "python-intro", "episode": "variables", "exercise": "ex1"},
}


class TestOutsideJupyterHub:
    @pytest.fixture
    def catalyst_config(self, monkeypatch):
        monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
        monkeypatch.delenv("CATALYST_SERVICE_URL", raising=False)
        return {"CatalystExtension": {"service_url": "", "api_token": ""}}

    async def test_inactive(self, catalyst, jp_fetch, jp_serverapp, caplog):
        assert not catalyst.active
        assert catalyst.outbox is None and catalyst.detectors == []
        r = await jp_fetch("catalyst", "progress")
        assert json.loads(r.body) == {"active": False}
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("catalyst", "events", method="POST", body=_events(EXERCISE))
        assert e.value.code == 404
        # nothing hooked into the server
        assert all("Catalyst" not in t.__name__ for t in jp_serverapp.web_app.transforms)


async def test_inactive_logs_one_line(jp_configurable_serverapp, capsys):
    config = {
        "ServerApp": {"jpserver_extensions": {"catalyst_hub.serverext": True}},
        "CatalystExtension": {"service_url": "", "api_token": ""},
    }
    app = jp_configurable_serverapp(config=config)
    await app.extension_manager.start_all_extensions()
    lines = [line for line in capsys.readouterr().err.splitlines() if "catalyst_hub:" in line]
    assert len(lines) == 1
    assert lines[0].startswith("[I ")
    assert lines[0].endswith(
        "catalyst_hub: inactive (no $JUPYTERHUB_API_TOKEN and a service URL "
        "($CATALYST_SERVICE_URL)): not recording anything"
    )


async def test_events_api_queues_and_sends(catalyst, fake_service, jp_fetch):
    r = await jp_fetch(
        "catalyst",
        "events",
        method="POST",
        body=_events(
            EXERCISE,
            {
                "schema": "action",
                "version": 1,
                "payload": {"action": "cell_executed", "language": "python"},
            },
            {"schema": "activity", "version": 1, "payload": {"kind": "ui", "count": 4}},
            {"schema": "step_reached", "version": 1, "payload": {"step": "use_git"}},
        ),
    )
    assert r.code == 202
    assert json.loads(r.body) == {"queued": 4, "recording": True}
    await wait_for(lambda: len(fake_service.events) == 3, message="3 events")
    catalyst.recorder.flush_activity()
    await wait_for(lambda: len(fake_service.events) == 4, message="activity")
    by_schema = {e["schema"]: e for e in fake_service.events.values()}
    assert by_schema["exercise_completed"]["payload"] == EXERCISE["payload"]
    assert by_schema["step_reached"]["payload"] == {"step": "use_git", "source": "self"}
    assert by_schema["activity"]["payload"]["count"] == 4
    # every request carried the server's token
    assert set(fake_service.auth_headers) == {f"token {TOKEN}"}
    # envelopes: uuid id, ISO UTC time, the service's fields only
    assert set(by_schema["action"]) == {"id", "schema", "version", "time", "payload"}
    assert by_schema["action"]["time"].endswith("Z")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        json.dumps({"events": []}),
        json.dumps([EXERCISE]),
        _events({**EXERCISE, "payload": {"lesson": "x"}}),
        _events({**EXERCISE, "schema": "server_started"}),
        _events({**EXERCISE, "id": "mine"}),
        _events(
            {
                "schema": "episode_completed",
                "version": 1,
                "payload": {"lesson": "a", "episode": "b", "source": "lead"},
            }
        ),
        _events({**EXERCISE, "version": 9}),
        _events(*[EXERCISE] * 101),
    ],
    ids=[
        "not-json",
        "empty",
        "bare-list",
        "invalid-payload",
        "collector-schema",
        "extra-field",
        "lead-sign-off",
        "unknown-version",
        "too-many",
    ],
)
async def test_events_api_rejects(catalyst, fake_service, jp_fetch, body):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("catalyst", "events", method="POST", body=body)
    assert e.value.code == 400
    assert json.loads(e.value.response.body)["message"]
    await settle(catalyst)
    assert fake_service.events == {}


async def test_one_bad_event_queues_nothing(catalyst, fake_service, jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "catalyst", "events", method="POST", body=_events(EXERCISE, {**EXERCISE, "payload": {}})
        )
    assert [err["index"] for err in json.loads(e.value.response.body)["errors"]] == [1]
    await settle(catalyst)
    assert fake_service.events == {}


async def test_events_api_needs_authentication(catalyst, jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "catalyst",
            "events",
            method="POST",
            body=_events(EXERCISE),
            headers={"Authorization": ""},
        )
    assert e.value.code == 403


async def test_events_api_checks_xsrf_for_cookie_sessions(catalyst, jp_fetch, jp_serverapp):
    # a browser session without the xsrf token (a cross-site form) is refused
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "catalyst",
            "events",
            method="POST",
            body=_events(EXERCISE),
            headers={"Authorization": "", "Cookie": "username-127-0-0-1=forged"},
        )
    assert e.value.code == 403


async def test_progress(catalyst, fake_service, jp_fetch):
    r = await jp_fetch("catalyst", "progress", params={"lang": "es"})
    data = json.loads(r.body)
    assert data["active"] is True and data["stale"] is False
    assert data["language"] == "es"
    assert fake_service.progress_requests[-1] == "es"

    fake_service.up = False
    r = await jp_fetch("catalyst", "progress", params={"lang": "es"})
    data = json.loads(r.body)
    assert data["stale"] is True and data["language"] == "es"
    # another language never fetched: the last known state, whatever its language
    r = await jp_fetch("catalyst", "progress", params={"lang": "pt"})
    assert json.loads(r.body)["stale"] is True


async def test_progress_cached(catalyst, fake_service, jp_fetch):
    catalyst.progress.cache_seconds = 3600
    for _ in range(3):
        await jp_fetch("catalyst", "progress", params={"lang": "en"})
    assert fake_service.progress_requests.count("en") == 1


async def test_progress_service_never_reached(catalyst, fake_service, jp_fetch):
    fake_service.up = False
    r = await jp_fetch("catalyst", "progress")
    assert json.loads(r.body) == {"active": True, "stale": True}


async def test_consent_withdrawn_from_the_frontend(catalyst, fake_service, jp_fetch):
    withdraw = {
        "schema": "consent",
        "version": 1,
        "payload": {"decision": "withdrawn", "notice_version": "1"},
    }
    r = await jp_fetch("catalyst", "events", method="POST", body=_events(withdraw))
    assert json.loads(r.body) == {"queued": 1, "recording": False}
    await wait_for(lambda: fake_service.of("consent"), message="consent event")

    r = await jp_fetch("catalyst", "events", method="POST", body=_events(EXERCISE))
    assert json.loads(r.body) == {"queued": 0, "recording": False}
    await jp_fetch("api", "contents", method="POST", body=json.dumps({"type": "notebook"}))
    catalyst.recorder.flush_activity()
    await settle(catalyst)
    assert [e["schema"] for e in fake_service.events.values()] == ["consent"]

    # giving consent again resumes recording
    give = {
        "schema": "consent",
        "version": 1,
        "payload": {"decision": "given", "notice_version": "1"},
    }
    await jp_fetch("catalyst", "events", method="POST", body=_events(give))
    await jp_fetch("api", "contents", method="POST", body=json.dumps({"type": "notebook"}))
    await wait_for(
        lambda: fake_service.actions() == ["notebook_created"], message="recording again"
    )


async def test_consent_withdrawn_from_the_service(catalyst, fake_service, jp_fetch):
    fake_service.progress["consent"] = {"decision": "withdrawn", "version": "1"}
    await jp_fetch("catalyst", "progress")
    assert not catalyst.recorder.recording
    await jp_fetch("api", "contents", method="POST", body=json.dumps({"type": "notebook"}))
    catalyst.recorder.flush_activity()
    await settle(catalyst)
    assert fake_service.events == {}
    # remembered across restarts
    assert await catalyst.outbox.run(catalyst.outbox.store.get_state, "consent") == "withdrawn"
