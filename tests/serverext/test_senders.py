"""The server extension sends with the member's own token: what the service refuses from a
member never enters the outbox (it would be refused with 403 on every delivery)."""

from __future__ import annotations

import json

import pytest
from conftest import settle
from tornado.httpclient import HTTPClientError


@pytest.mark.parametrize(
    "event, rule",
    [
        (
            {"schema": "activity", "version": 1, "payload": {"kind": "server", "count": 1}},
            "x-value-senders of kind",
        ),
        (
            {
                "schema": "episode_completed",
                "version": 1,
                "payload": {"lesson": "a", "episode": "b", "signed_off_by": "someone"},
            },
            "x-senders of signed_off_by",
        ),
    ],
    ids=["server-activity", "signed-off-self-report"],
)
async def test_what_only_the_service_asserts_is_not_queued(
    catalyst, fake_service, jp_fetch, event, rule
):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("catalyst", "events", method="POST", body=json.dumps({"events": [event]}))
    assert e.value.code == 400
    [error] = json.loads(e.value.response.body)["errors"]
    assert "not accepted from a member" in error["message"] and rule in error["message"]
    await settle(catalyst)
    assert fake_service.events == {}


def test_the_recorder_refuses_what_a_member_may_not_assert(catalyst):
    from catalyst_hub.events import SenderRefused

    with pytest.raises(SenderRefused, match="x-value-senders of source"):
        catalyst.recorder.record("step_reached", {"step": "use_git", "source": "lead"})
