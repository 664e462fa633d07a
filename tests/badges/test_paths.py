"""A whole training path's badge (SQLite and PostgreSQL): the catalog's validation, issuing
when the path's last requirement is met (episodes ingested, a lead's sign-off), the
credential, revocation with and after a lesson's badge, erasure and opt-out."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import catalyst_hub.store  # noqa: F401  (loads before ingest)
from catalyst_hub.badges import credentials as cr
from catalyst_hub.badges.issuer import BadgeIssuer
from catalyst_hub.badges.keys import Keyring
from catalyst_hub.catalog import Catalog, CatalogError
from catalyst_hub.events import LEAD, MEMBER, envelope
from catalyst_hub.events.names import CONSENT, EPISODE_COMPLETED
from catalyst_hub.ingest import Ingestor, Sender
from catalyst_hub.projections import Projector
from catalyst_hub.reports.badges import badges_per_community, learner_badges
from catalyst_hub.store import Store
from catalyst_hub.store import badges as sb
from catalyst_hub.store.privacy import erase_member
from catalyst_hub.timeutil import utcnow
from catalyst_hub.workflows.badges import award_badges, claim_badge, member_badges, revoke_badge

pytestmark = pytest.mark.postgres

HUB_BASICS = ["first-notebook", "data-files", "persistence"]
SHARING = ["git-basics", "publish"]
PATH = "path:champions"
TEXT = {"en": "A", "es": "B", "pt": "C", "fr": "D"}


@pytest.fixture
def issuer() -> BadgeIssuer:
    return BadgeIssuer(
        "https://hub.example.org/services/catalyst/",
        {"name": "Andes hub"},
        Keyring(Ed25519PrivateKey.generate()),
    )


def complete(store, member, lesson, episodes, kind=MEMBER):
    payload = {"lesson": lesson, "source": "self"}
    if kind == LEAD:
        payload = {**payload, "source": "lead", "signed_off_by": "lead-id"}
    Ingestor(store).ingest_trusted(
        [
            (
                envelope(EPISODE_COMPLETED, {**payload, "episode": episode}),
                Sender(member_id=member, community="andes", kind=kind),
            )
            for episode in episodes
        ]
    )


def verify(store, issuer, credential):
    def lists(url):
        revoked = sb.revoked_indexes(store)
        return issuer.status_list(revoked, utcnow()) if url == issuer.status_list_url else None

    return cr.verify(credential, issuer.issuer, issuer.keys, lists, utcnow())


def keys(store, member) -> set[str]:
    return {row.lesson for row in sb.member_badges(store, member)}


def with_catalog(store: Store, catalog: Catalog) -> Store:
    """The same database and hub, with another catalog."""
    other = Store(store.engine, store.hub, store.secret, Projector(catalog, zone=store.zone))
    other.consent_mode = store.consent_mode
    return other


# -- the catalog ---------------------------------------------------------------------------


def catalog_file(tmp_path, badge, lesson_badge=None, lessons=True):
    lesson = {
        "id": "basics",
        "title": TEXT,
        "episodes": [{"id": "one", "title": TEXT}],
    }
    if lesson_badge is not None:
        lesson["badge"] = lesson_badge
    program = {"id": "starter", "title": TEXT, "lessons": [lesson] if lessons else []}
    if badge is not None:
        program["badge"] = badge
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"training": {"programs": [program]}}), "utf-8")
    return path


def badge(**changes):
    return {"name": TEXT, "description": TEXT, "criteria": TEXT, **changes}


def test_the_packaged_catalog_has_a_path_badge():
    catalog = Catalog.load()
    award = catalog.badges()[PATH]
    assert award.is_path and award.catalog_id == "champions"
    assert award.badge.rule == "lessons"
    assert [lesson.id for lesson in award.lessons] == ["hub-basics", "sharing"]
    # "Sharing your work" is signed off, so the path needs its sign-offs
    assert [(lesson.id, signed) for lesson, signed in award.requirements()] == [
        ("hub-basics", False),
        ("sharing", True),
    ]
    assert catalog.paths_with("sharing") == catalog.paths_with("hub-basics") == [PATH]
    assert catalog.paths_with("nope") == []


def test_a_valid_path_badge_loads(tmp_path):
    path = catalog_file(
        tmp_path, badge(rule="signed-off", image="https://hub.example.org/starter.png")
    )
    award = Catalog.load([path]).badges()["path:starter"]
    assert (award.badge.rule, award.badge.image) == (
        "signed-off",
        "https://hub.example.org/starter.png",
    )
    assert [signed for _, signed in award.requirements()] == [True]
    # the rule defaults to "lessons"
    assert Catalog.load([catalog_file(tmp_path, badge())]).badges()["path:starter"].badge.rule == (
        "lessons"
    )


@pytest.mark.parametrize(
    ("program_badge", "lesson_badge", "lessons", "message"),
    [
        (badge(name={"en": "A", "es": "B"}), None, True, "program starter: badge name has no text in pt, fr"),
        (badge(criteria="Only English"), None, True, "program starter: badge criteria must give the text"),
        (badge(description={**TEXT, "fr": " "}), None, True, "program starter: badge description has no text in fr"),
        (badge(rule="episodes"), None, True, "program starter: badge rule 'episodes' is not one of lessons, signed-off"),
        (badge(image="starter.png"), None, True, "program starter: badge image must be an https://"),
        (badge(), None, False, "program starter: badge: the program has no lesson with episodes"),
        ("yes", None, True, "program starter: badge must be a mapping"),
        # a lesson's badge is validated the same way, with its own rules
        (None, badge(rule="lessons"), True, "lesson basics: badge rule 'lessons' is not one of episodes, signed-off"),
        (None, badge(name={"en": "A"}), True, "lesson basics: badge name has no text in es, pt, fr"),
    ],
)  # fmt: skip
def test_catalog_errors_name_the_program_and_field(
    tmp_path, program_badge, lesson_badge, lessons, message
):
    path = catalog_file(tmp_path, program_badge, lesson_badge, lessons)
    with pytest.raises(CatalogError) as caught:
        Catalog.load([path])
    assert str(caught.value).startswith(f"catalog {path}: ")
    assert message in str(caught.value)


def test_a_path_badge_needs_an_id_fit_for_its_address(tmp_path):
    path = catalog_file(tmp_path, badge())
    path.write_text(path.read_text("utf-8").replace("id: starter", "id: 'a path'"), "utf-8")
    with pytest.raises(CatalogError, match="program a path: id: a program with a badge"):
        Catalog.load([path])


# -- issuing -------------------------------------------------------------------------------


def test_the_path_badge_comes_with_the_last_sign_off(catalyst_store, issuer):
    store, ana = catalyst_store, catalyst_store.member_id("ana")
    complete(store, ana, "hub-basics", HUB_BASICS)
    assert len(award_badges(store, issuer, ana, "andes", "en")) == 1  # the lesson's only
    complete(store, ana, "sharing", SHARING)  # self-reported: the path needs the sign-offs
    assert award_badges(store, issuer, ana, "andes", "en") == []
    complete(store, ana, "sharing", SHARING[:1], kind=LEAD)
    assert award_badges(store, issuer, ana, "andes", "en") == []
    complete(store, ana, "sharing", SHARING[1:], kind=LEAD)
    sharing, path = award_badges(store, issuer, ana, "andes", "es")
    assert award_badges(store, issuer, ana, "andes", "en") == []  # once
    assert keys(store, ana) == {"hub-basics", "sharing", PATH}
    row = sb.badge(store, path)
    credential = json.loads(row.credential)
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["id"] == issuer.url("badges/achievements/paths/champions")
    assert achievement["achievementType"] == "LearningProgram"
    assert achievement["name"] == credential["name"] == "Champion del hub"
    assert "itinerario" in achievement["criteria"]["narrative"]
    assert achievement["image"]["id"] == issuer.url("badges/achievements/paths/champions.svg")
    # a lesson's badge has no achievementType and its own achievement id
    lesson = json.loads(sb.badge(store, sharing).credential)["credentialSubject"]["achievement"]
    assert "achievementType" not in lesson
    assert lesson["id"] == issuer.url("badges/achievements/sharing") != achievement["id"]
    # nothing about the learner until they claim it
    assert set(credential["credentialSubject"]) == {"type", "achievement"}
    assert ana not in row.credential and "ana" not in row.credential
    assert verify(store, issuer, credential).verified
    claimed = claim_badge(store, issuer, ana, path, {"email": "ana@example.org"}, "fr")
    credential = json.loads(claimed.credential)
    assert credential["id"] == issuer.credential_id(path)
    assert credential["credentialSubject"]["achievement"]["achievementType"] == "LearningProgram"
    assert cr.email_matches(credential["credentialSubject"]["identifier"][0], "ana@example.org")
    assert verify(store, issuer, credential).verified
    # listed for the learner like a lesson's badge, labelled as a path
    listed = {b["id"]: b for b in member_badges(store, issuer, ana, "andes", "pt")}
    assert listed[path] | {"issued": None, "claimed": None} == {
        "id": path,
        "kind": "path",
        "lesson": None,
        "path": "champions",
        "name": "Champion do hub",
        "description": listed[path]["description"],
        "path_title": "Formação de Champions do hub",
        "issued": None,
        "claimed": None,
        "revoked": None,
        "public_url": issuer.credential_id(path),
    }
    assert (listed[sharing]["kind"], listed[sharing]["lesson"], listed[sharing]["path"]) == (
        "lesson",
        "sharing",
        None,
    )
    # and in the staff views
    assert set(learner_badges(store, [ana])[ana]) == {"hub-basics", "sharing", PATH}
    counts = [(c.lesson, c.path, c.issued, c.claimed) for c in badges_per_community(store)]
    assert counts == [
        ("hub-basics", None, 1, 0),
        ("sharing", None, 1, 0),
        (None, "champions", 1, 1),
    ]


def test_the_path_badge_comes_with_the_last_episode(catalyst_store, issuer):
    """Signed off first, the path is complete when the last episode of the other lesson is
    ingested: its badge and the lesson's come together."""
    store, ben = catalyst_store, catalyst_store.member_id("ben")
    complete(store, ben, "sharing", SHARING, kind=LEAD)
    complete(store, ben, "hub-basics", HUB_BASICS[:2])
    assert len(award_badges(store, issuer, ben, "andes", "en")) == 1  # sharing
    complete(store, ben, "hub-basics", HUB_BASICS[2:])
    assert len(award_badges(store, issuer, ben, "andes", "en")) == 2
    assert keys(store, ben) == {"sharing", "hub-basics", PATH}


def test_a_signed_off_path_needs_every_episode_signed_off(catalyst_store, issuer):
    base = Catalog.load()
    [champions] = base.programs
    strict = replace(champions, badge=replace(champions.badge, rule="signed-off"))
    store = with_catalog(catalyst_store, Catalog(base.steps, [strict], base.communities))
    caro = store.member_id("caro")
    complete(store, caro, "hub-basics", HUB_BASICS)
    complete(store, caro, "sharing", SHARING, kind=LEAD)
    assert keys(store, caro) == set() and len(award_badges(store, issuer, caro, "andes", "en")) == 2
    assert PATH not in keys(store, caro)
    complete(store, caro, "hub-basics", HUB_BASICS, kind=LEAD)
    [path] = award_badges(store, issuer, caro, "andes", "en")
    assert sb.badge(store, path).lesson == PATH


def test_a_path_whose_lessons_award_no_badge(catalyst_store, issuer):
    """The path's badge rests on the progress, not on the lessons' badges."""
    base = Catalog.load()
    [champions] = base.programs
    bare = replace(champions, lessons=tuple(replace(les, badge=None) for les in champions.lessons))
    store = with_catalog(catalyst_store, Catalog(base.steps, [bare], base.communities))
    dan = store.member_id("dan")
    complete(store, dan, "hub-basics", HUB_BASICS)
    complete(store, dan, "sharing", SHARING[:1])
    assert award_badges(store, issuer, dan, "andes", "en") == []
    complete(store, dan, "sharing", SHARING[1:])  # without a lesson badge: episodes complete
    [path] = award_badges(store, issuer, dan, "andes", "en")
    assert keys(store, dan) == {PATH}


def test_no_path_badge_for_an_opted_out_or_erased_member(catalyst_store, issuer):
    store = catalyst_store
    out, gone = store.member_id("out"), store.member_id("gone")
    for member in (out, gone):
        complete(store, member, "hub-basics", HUB_BASICS)
        complete(store, member, "sharing", SHARING[:1], kind=LEAD)
    assert len(award_badges(store, issuer, gone, "andes", "en")) == 1
    Ingestor(store).ingest_trusted(
        [
            (
                envelope(CONSENT, {"decision": "withdrawn", "notice_version": "1"}),
                Sender(member_id=out, community="andes", kind=MEMBER),
            )
        ]
    )
    erase_member(store, gone)
    for member in (out, gone):
        complete(store, member, "sharing", SHARING[1:], kind=LEAD)
        assert award_badges(store, issuer, member, "andes", "en") == []
        assert sb.member_badges(store, member) == []


def test_erasure_deletes_an_unclaimed_path_badge(catalyst_store, issuer):
    store, eve = catalyst_store, catalyst_store.member_id("eve")
    complete(store, eve, "hub-basics", HUB_BASICS)
    complete(store, eve, "sharing", SHARING, kind=LEAD)
    *_, path = award_badges(store, issuer, eve, "andes", "en")
    erase_member(store, eve)
    assert sb.badge(store, path) is None and sb.member_badges(store, eve) == []
    assert award_badges(store, issuer, eve, "andes", "en") == []


# -- revocation ----------------------------------------------------------------------------


def test_revoking_a_lessons_badge_revokes_the_paths(catalyst_store, issuer):
    store, fay, gil = (catalyst_store, *map(catalyst_store.member_id, ("fay", "gil")))
    for member in (fay, gil):
        complete(store, member, "hub-basics", HUB_BASICS)
        complete(store, member, "sharing", SHARING, kind=LEAD)
    basics, sharing, path = award_badges(store, issuer, fay, "andes", "en")
    *_, gils_path = award_badges(store, issuer, gil, "andes", "en")
    row, also = revoke_badge(store, sharing, "signed off by mistake", utcnow())
    assert row.revoked is not None and also == [path]
    revoked = sb.badge(store, path)
    assert revoked.revoked is not None and "signed off by mistake" in revoked.reason
    for badge_id, reason in ((sharing, "revoked"), (path, "revoked"), (basics, None)):
        assert verify(store, issuer, json.loads(sb.badge(store, badge_id).credential)).reason == (
            reason
        )
    # another member's path badge stands; again is harmless
    assert sb.badge(store, gils_path).revoked is None
    assert revoke_badge(store, sharing, "again", utcnow())[1] == []
    assert sb.badge(store, sharing).reason == "signed off by mistake"
    assert award_badges(store, issuer, fay, "andes", "en") == []  # neither comes back


def test_revoking_the_paths_badge_leaves_the_lessons(catalyst_store, issuer):
    store, hal = catalyst_store, catalyst_store.member_id("hal")
    complete(store, hal, "hub-basics", HUB_BASICS)
    complete(store, hal, "sharing", SHARING, kind=LEAD)
    basics, sharing, path = award_badges(store, issuer, hal, "andes", "en")
    assert revoke_badge(store, path, "mistake", utcnow())[1] == []
    assert [sb.badge(store, b).revoked is None for b in (basics, sharing, path)] == [
        True,
        True,
        False,
    ]
    assert award_badges(store, issuer, hal, "andes", "en") == []


def test_a_revoked_lesson_badge_bars_the_path_badge(catalyst_store, issuer):
    store, ivy = catalyst_store, catalyst_store.member_id("ivy")
    complete(store, ivy, "hub-basics", HUB_BASICS)
    [basics] = award_badges(store, issuer, ivy, "andes", "en")
    row, also = revoke_badge(store, basics, "exercises copied", utcnow())
    assert row.revoked is not None and also == []
    complete(store, ivy, "sharing", SHARING, kind=LEAD)
    [sharing] = award_badges(store, issuer, ivy, "andes", "en")
    assert keys(store, ivy) == {"hub-basics", "sharing"}
    assert sb.badge(store, sharing).lesson == "sharing"
