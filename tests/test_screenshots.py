"""The README's screenshot script (``make screenshots``) asks for pages the demo serves: each
path is a route of its service, and its researcher is one the demo earns the badge for.
(Cheap: no process is started; the script itself runs the demo.)"""

from __future__ import annotations

import re

from catalyst_hub import demo
from catalyst_hub.consortium.app import ConsortiumService
from catalyst_hub.service.handlers import default_handlers
from harness.screenshots import RESEARCHER, SHOTS

BADGE_ID = "3f2b6a7e-0c1d-4e5f-8a9b-0c1d2e3f4a5b"


def routes(service: str) -> list[str]:
    if service == "catalyst":
        return [pattern for pattern, *_ in default_handlers]
    prefix = "/services/consortium/"
    consortium = ConsortiumService(service_prefix=prefix)
    return [pattern.removeprefix(prefix) for pattern, *_ in consortium.handlers()]


def test_every_page_of_the_screenshots_is_a_route_of_its_service():
    for shot in SHOTS:
        path = shot.path.replace("<id>", BADGE_ID)
        matching = [r for r in routes(shot.service) if re.fullmatch(r, path)]
        assert matching, f"{shot.file}: no route of {shot.service} serves {path!r}"


def test_the_researcher_shown_earns_the_badge_in_the_demo():
    for usernames in demo.COMMUNITIES.values():
        if RESEARCHER in usernames:
            # demo_events completes the badge's last episode from 7 steps reached
            assert demo.PROGRESS[usernames.index(RESEARCHER) % len(demo.PROGRESS)] >= 7
            return
    raise AssertionError(f"{RESEARCHER} is not a researcher of the demo")
