"""Badges issued per community in the month report, its view from outside the community and
the summary sent to the consortium: counted like the other figures, hidden below k members."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.badges.issuer import BadgeIssuer
from catalyst_hub.badges.keys import Keyring
from catalyst_hub.consortium.store import validate_summary
from catalyst_hub.events import LEAD, MEMBER, envelope
from catalyst_hub.events.names import EPISODE_COMPLETED
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.reports.badges import badges_issued
from catalyst_hub.reports.common import Period
from catalyst_hub.reports.monthly import month_report
from catalyst_hub.reports.outside import month_outside
from catalyst_hub.reports.summary import community_month, month_figures, month_summary
from catalyst_hub.reports.suppression import suppress
from catalyst_hub.workflows.badges import award_badges

pytestmark = [pytest.mark.postgres, pytest.mark.clock]

K = 5
HUB_BASICS = ["first-notebook", "data-files", "persistence"]
SHARING = ["git-basics", "publish"]
HIDDEN = {"suppressed": True}


def complete(store, member, lesson, episodes, community, kind=MEMBER):
    payload = {"lesson": lesson, "source": "self"}
    if kind == LEAD:
        payload = {**payload, "source": "lead", "signed_off_by": "lead-id"}
    Ingestor(store).ingest_trusted(
        [
            (
                envelope(EPISODE_COMPLETED, {**payload, "episode": episode}),
                Sender(member, community, kind),
            )
            for episode in episodes
        ]
    )


@pytest.fixture
def issued(catalyst_store):
    """Six members of andes earned hub-basics (one of them sharing too, and with it the whole
    champions path: three badges), two of sahel."""
    store = catalyst_store
    issuer = BadgeIssuer(
        "https://hub.example.org/services/catalyst/", {}, Keyring(Ed25519PrivateKey.generate())
    )
    for community, names in (("andes", [f"a{i}" for i in range(6)]), ("sahel", ["s0", "s1"])):
        for name in names:
            member = store.member_id(name)
            complete(store, member, "hub-basics", HUB_BASICS, community)
            if name == "a0":
                complete(store, member, "sharing", SHARING, community, kind=LEAD)
            assert award_badges(store, issuer, member, community, "en")
    return store


def this_month(store) -> Period:
    today = store.today()
    whole = Period.month(today.year, today.month, store.zone)
    return Period(whole.start, min(whole.end, today), store.zone)


def test_badges_issued_in_a_period(issued):
    period = this_month(issued)
    andes = badges_issued(issued, "andes", period)
    assert (andes.badges, andes.earners) == (8, 6)
    sahel = badges_issued(issued, "sahel", period)
    assert (sahel.badges, sahel.earners) == (2, 2)
    before = Period.month(period.start.year - 1, period.start.month, issued.zone)
    assert badges_issued(issued, "andes", before).badges == 0


def test_the_month_report_and_its_view_from_outside(issued):
    today = issued.today()
    for community, count in (("andes", 8), ("sahel", 2)):
        report = month_report(issued, community, today.year, today.month, today=today)
        figure = next(f for f in report.figures if f.key == "badges_issued")
        assert (figure.value, figure.previous) == (count, 0)
        outside = month_outside(report, K)
        # 8 badges (a path's counts like a lesson's) of 6 members shown; 2 badges of 2
        # members would single them out
        shown = outside.value("badges_issued")
        assert shown == 8 if community == "andes" else shown.to_json() == HIDDEN
        assert outside.value("badges_issued_previous") == 0
        assert outside.to_json()["figures"]["badges_issued"] == (
            8 if community == "andes" else HIDDEN
        )


def test_the_consortium_summary_counts_badges_as_the_month_report(issued):
    today = issued.today()
    first = today.replace(day=1)
    doc = month_summary(issued, first, K, today=today)
    figures = {c["community"]: c["figures"] for c in doc["communities"]}
    assert figures["andes"]["badges_issued"] == 8
    assert figures["sahel"]["badges_issued"] == HIDDEN
    validate_summary(
        {**doc, "hub": "h", "sequence": 1, "generated": "2026-12-03T00:00:00Z"}, doc["month"]
    )
    # with k = 1 the exact count; below k of the members who received them, hidden
    assert (
        suppress(month_figures(community_month(issued, "sahel", first, today)), 1)["badges_issued"]
        == 2
    )
    assert (
        suppress(month_figures(community_month(issued, "andes", first, today)), 7)[
            "badges_issued"
        ].to_json()
        == HIDDEN
    )


def test_an_older_hubs_summary_without_badges_still_validates(issued):
    today = issued.today()
    doc = month_summary(issued, today.replace(day=1), K, today=today)
    for c in doc["communities"]:
        del c["figures"]["badges_issued"]
    validate_summary(
        {**doc, "hub": "h", "sequence": 1, "generated": "2026-12-03T00:00:00Z"}, doc["month"]
    )
