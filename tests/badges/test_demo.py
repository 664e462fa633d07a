"""The demo's month of data earns badges: its most advanced researchers completed every
episode of the lesson with a badge, which their ``me`` page issues as they look."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalyst_hub import demo
from catalyst_hub.badges.issuer import BadgeIssuer
from catalyst_hub.badges.keys import Keyring
from catalyst_hub.workflows.badges import member_badges

pytestmark = pytest.mark.clock


def test_the_demo_seeds_researchers_who_earned_a_badge(tmp_path):
    app = demo.DemoApp(
        data_dir=str(tmp_path),
        db_url=f"sqlite:///{tmp_path / 'catalyst_hub.sqlite'}",
        hub_name="demo",
        excluded_users={demo.STAFF, demo.ADMIN},
    )
    app.seed_demo_data()
    store = app.init_store(check=True)
    issuer = BadgeIssuer(
        "http://127.0.0.1:8000/services/catalyst/", {}, Keyring(Ed25519PrivateKey.generate())
    )
    earned = {}
    for community, usernames in demo.COMMUNITIES.items():
        for name in usernames:
            badges = member_badges(store, issuer, store.member_id(name), community, "en")
            earned[name] = [(b["lesson"], b["claimed"], b["revoked"]) for b in badges]
    # the first researcher of each community went furthest: hub-basics, earned, not claimed
    # (nobody had "Sharing your work" signed off: no training path's badge)
    assert earned["ana@andes.example.org"] == [("hub-basics", None, None)]
    assert earned["amina@sahel.example.org"] == [("hub-basics", None, None)]
    assert (
        earned["jorge@andes.example.org"]
        == earned["kofi@sahel.example.org"]
        == earned["ana@andes.example.org"]
    )
    # and those who stopped early earned nothing
    assert earned["diego@andes.example.org"] == []
