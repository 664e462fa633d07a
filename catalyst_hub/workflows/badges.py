"""Badge workflows: awarding what a learner earned, claiming, revoking.

A lesson's badge is earned when every one of its episodes is completed (rule ``episodes``) or
signed off by a training lead (``signed-off``). A training path's (a program's) badge is earned
when every lesson of the path is complete, each by its own measure (rule ``lessons``: a lesson
whose badge is ``signed-off`` needs its sign-offs, any other lesson its episodes completed), or
when every episode of the path is signed off (``signed-off``); it rests on the progress, not on
the lessons' badges, so it is earned whether or not the lessons award one. Awarding runs where
that becomes visible (the learner's ``me`` page and ``api/me``, a lead's sign-off): it is
idempotent (one badge per member and key) and issues nothing for a member who erased their
data or opted out.

Revoking a lesson's badge (a mistaken sign-off) revokes with it the member's badges of the
paths that need the lesson, and no path badge is issued while one of its lessons' badges is
revoked: the path's badge says the same as the lesson's and more. Revoking a path's badge
leaves the lessons' badges standing.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from ..badges.credentials import issue, open_badge
from ..badges.issuer import BadgeIssuer
from ..catalog import Award, localized, split_key
from ..store import Store
from ..store import badges as sb
from ..store import tables as t
from ..store.privacy import WITHDRAWN, recording_states
from ..timeutil import isoformat, utcnow


class ClaimError(ValueError):
    """A claim that cannot be made (not the member's badge, no usable identity)."""


def earned(award: Award, progress: dict[tuple[str, str], tuple]) -> datetime | None:
    """When the badge was earned (its last requirement's completion), or None."""
    times = []
    for lesson, signed_off in award.requirements():
        for episode in lesson.episodes:
            completed, source = progress.get((lesson.id, episode.id), (None, None))
            if completed is None or (signed_off and source != "lead"):
                return None
            times.append(completed)
    return max(times) if times else None


def _earned_now(
    store: Store, conn: Connection, catalog_badges: dict[str, Award], member_id: str
) -> list[tuple[str, datetime]]:
    """(badge key, when earned) of the badges the member has earned and not received; none for
    a member who erased their data or opted out, no path's while one of its lessons' badges is
    revoked."""
    state = recording_states(store, [member_id], conn).get(member_id)
    if state is not None and (state.erased is not None or state.decision == WITHDRAWN):
        return []
    held = sb.held_badges(conn, store.hub, member_id)
    wanted = [
        award
        for key, award in catalog_badges.items()
        if key not in held and not any(held.get(lesson.id) for lesson in award.lessons)
    ]
    if not wanted:
        return []
    tp = t.training_progress.c
    lessons = sorted({lesson.id for award in wanted for lesson in award.lessons})
    progress = {
        (row.lesson, row.episode): (row.completed, row.source)
        for row in conn.execute(
            select(tp.lesson, tp.episode, tp.completed, tp.source).where(
                tp.hub == store.hub, tp.member_id == member_id, tp.lesson.in_(lessons)
            )
        )
    }
    found = []
    for award in wanted:
        when = earned(award, progress) if progress else None
        if when is not None:
            found.append((award.key, when))
    return found


def award_badges(
    store: Store, issuer: BadgeIssuer, member_id: str, community: str, language: str
) -> list[str]:
    """Issue the badges the member has earned and not yet received; returns their ids.

    Read first, without a write transaction (the ``me`` page asks on every load); what is
    found is checked again in the transaction that issues it."""
    catalog_badges = store.catalog.badges()
    if not catalog_badges:
        return []
    with store.connect() as conn:
        if not _earned_now(store, conn, catalog_badges, member_id):
            return []
    issued: list[str] = []
    try:
        with store.begin() as conn:
            now = utcnow()
            for key, when in _earned_now(store, conn, catalog_badges, member_id):
                # an event may be dated a few minutes ahead of this clock: valid from now then
                when = min(when, now)
                badge_id = str(uuid.uuid4())
                index = sb.next_status_index(conn, store.hub)
                credential = issuer_credential(
                    issuer, catalog_badges[key], badge_id, index, when, language
                )
                signed = _sign(issuer, credential, now)
                sb.insert_badge(
                    conn,
                    store.hub,
                    sb.BadgeRow(badge_id, member_id, community, key, index, when, None, signed),
                )
                issued.append(badge_id)
    except IntegrityError:
        # another request issued the same badge (or took the same status index) meanwhile
        return []
    return issued


def issuer_credential(
    issuer: BadgeIssuer,
    award: Award,
    badge_id: str,
    index: int,
    when: datetime,
    language: str,
    identity: dict | None = None,
) -> dict:
    return open_badge(
        credential_id=issuer.credential_id(badge_id),
        issuer=issuer.issuer,
        achievement=issuer.achievement(award, language),
        valid_from=when,
        status_list_url=issuer.status_list_url,
        status_index=index,
        identity=identity,
    )


def _sign(issuer: BadgeIssuer, credential: dict, now: datetime) -> str:
    return json.dumps(issue(credential, issuer.keys, issuer.issuer, now), ensure_ascii=False)


def claim_badge(
    store: Store,
    issuer: BadgeIssuer,
    member_id: str,
    badge_id: str,
    identity: dict,
    language: str,
) -> sb.BadgeRow:
    """The learner claims their badge with the identity they chose (``{"email"}`` or
    ``{"url"}``): it is signed again with it. Raises ClaimError."""
    found = sb.badge(store, badge_id)
    if found is None or found.member_id != member_id:
        raise ClaimError("not your badge")
    award = store.catalog.badges().get(found.lesson)
    if award is None:
        raise ClaimError("this badge is no longer in the catalog")
    credential = issuer_credential(
        issuer, award, badge_id, found.status_index, found.issued, language, identity
    )
    now = utcnow()
    if not sb.set_claimed(store, badge_id, member_id, _sign(issuer, credential, now), now):
        raise ClaimError("not your badge")
    claimed = sb.badge(store, badge_id)
    if claimed is None:  # erased meanwhile
        raise ClaimError("not your badge")
    return claimed


def member_badges(
    store: Store, issuer: BadgeIssuer, member_id: str, community: str, language: str
) -> list[dict]:
    """Award what the member has earned, then list their badges, for their page."""
    award_badges(store, issuer, member_id, community, language)
    catalog = store.catalog.badges()
    listed = []
    for row in sb.member_badges(store, member_id):
        award = catalog.get(row.lesson)
        lesson, path = split_key(row.lesson)
        credential = json.loads(row.credential)
        listed.append(
            {
                "id": row.id,
                "kind": "lesson" if path is None else "path",
                "lesson": lesson,
                "path": path,
                "name": localized(award.badge.name, language)
                if award
                else credential.get("name", row.lesson),
                "description": localized(award.badge.description, language) if award else "",
                "path_title": localized(award.title, language) if award and award.is_path else None,
                "issued": isoformat(row.issued),
                "claimed": isoformat(row.claimed),
                "revoked": isoformat(row.revoked),
                "public_url": issuer.credential_id(row.id),
            }
        )
    return listed


def revoke_badge(
    store: Store, badge_id: str, reason: str, when: datetime
) -> tuple[sb.BadgeRow | None, list[str]]:
    """A catalyst admin revokes a badge; a lesson's takes with it the member's badges of the
    paths that need the lesson. Returns the badge (None if there is none) and the ids of the
    path badges revoked with it."""
    found = sb.badge(store, badge_id)
    if found is None:
        return None, []
    paths = set(store.catalog.paths_with(found.lesson))
    also = [
        row.id
        for row in sb.member_badges(store, found.member_id)
        if row.lesson in paths and row.revoked is None
    ]
    why = f"{reason} (with the badge of its lesson {found.lesson})"
    row = sb.revoke(store, badge_id, reason, when, [(other, why) for other in also])
    return row, also
