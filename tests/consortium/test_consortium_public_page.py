"""A community's champion publishes or unpublishes its public page on the consortium: the
hub's API (who may, what is written and audited) and the consortium page after the next
publish."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from catalyst_hub.store import publish_queue
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import utcnow
from catalyst_hub.workflows.consortium import (
    ACTION,
    public_communities,
    public_page,
    set_public_page,
)

pytestmark = pytest.mark.clock

PAGE = "api/consortium/communities/{}/public-page"


@pytest.fixture
def catalyst_hub_roles():
    return [
        {"name": "lead-andes", "scopes": ["custom:catalyst:training!group=community-andes"]},
        {"name": "reports-andes", "scopes": ["custom:catalyst:reports!group=community-andes"]},
        {"name": "lead-sahel", "scopes": ["custom:catalyst:training!group=community-sahel"]},
        {"name": "consortium", "scopes": ["custom:catalyst:reports"]},
        {"name": "catalyst-admin", "scopes": ["custom:catalyst:admin"]},
    ]


def stored(store) -> tuple[list[tuple], list[tuple]]:
    p, a = t.consortium_public_pages.c, t.audit_log.c
    with store.connect() as conn:
        pages = conn.execute(
            select(p.community, p.public, p.changed_by).where(p.hub == store.hub)
        ).all()
        audits = conn.execute(
            select(a.actor, a.community, a.detail)
            .where(a.hub == store.hub, a.action == ACTION)
            .order_by(a.id)
        ).all()
    return [tuple(r) for r in pages], [tuple(r) for r in audits]


async def in_every_language(svc, path: str, token: str, texts: tuple) -> list[str]:
    """The page at ``path`` in en, es, pt and fr, each with its text of ``texts``."""
    pages = []
    for lang, text in zip(("en", "es", "pt", "fr"), texts, strict=True):
        separator = "&" if "?" in path else "?"
        r = await svc.request("get", f"{path}{separator}lang={lang}", token)
        assert r.status_code == 200 and text in r.text, (lang, r.text)
        pages.append(r.text)
    return pages


async def test_a_champion_chooses_their_communitys_page(catalyst_service):
    svc = catalyst_service
    store = svc.store
    lead = svc.token("lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"])
    reporter = svc.token(
        "reports@andes.example.org", groups=["community-andes"], roles=["reports-andes"]
    )
    other = svc.token("lead@sahel.example.org", groups=["community-sahel"], roles=["lead-sahel"])
    staff = svc.token("consortium-staff", roles=["consortium"])
    plain = svc.token("ana@andes.example.org", groups=["community-andes"])

    r = await svc.request("get", PAGE.format("andes"), lead)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "community": "andes",
        "public": False,
        "chosen": False,
        "changed": None,
        "url": None,
    }

    # another community's champion, staff, a plain member: 403 with a message, nothing written
    for token in (other, staff, plain):
        r = await svc.request("put", PAGE.format("andes"), token, json={"public": True})
        assert r.status_code == 403 and r.json()["message"], r.text
    r = await svc.request("get", PAGE.format("andes"), other)
    assert r.status_code == 403 and r.json()["message"]
    # bad bodies: 400, nothing written
    for body in ({"public": "yes"}, {}, [True]):
        r = await svc.request("put", PAGE.format("andes"), lead, json=body)
        assert r.status_code == 400 and r.json()["message"], r.text
    assert stored(store) == ([], [])

    r = await svc.request("put", PAGE.format("andes"), lead, json={"public": True})
    assert r.status_code == 200, r.text
    assert r.json()["public"] is True and r.json()["chosen"] is True
    r = await svc.request("get", PAGE.format("andes"), staff)
    assert r.status_code == 200 and r.json()["public"] is True
    # the training scope or the reports scope of the community: both are its champions
    r = await svc.request("put", PAGE.format("andes"), reporter, json={"public": False})
    assert r.status_code == 200 and r.json()["public"] is False

    lead_id = store.member_id("lead@andes.example.org")
    reporter_id = store.member_id("reports@andes.example.org")
    pages, audits = stored(store)
    assert pages == [("andes", False, reporter_id)]
    assert audits == [(lead_id, "andes", "public"), (reporter_id, "andes", "private")]
    # keyed member ids only: no username in the rows
    assert "andes.example.org" not in repr((pages, audits))
    assert public_communities(store, ["andes", "sahel"]) == {"sahel"}


async def test_the_champions_page_and_its_form(catalyst_service):
    svc = catalyst_service
    lead = svc.token("lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"])
    other = svc.token("lead@sahel.example.org", groups=["community-sahel"], roles=["lead-sahel"])
    form = "consortium/communities/andes/public-page"
    r = await svc.request("get", form, lead)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert 'name="_xsrf"' in r.text and 'value="yes"' in r.text
    assert "Not public" in r.text and "Make it public" in r.text
    r = await svc.request("get", form, other)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("text/html")
    r = await svc.request("post", form, other, data={"public": "yes"})
    assert r.status_code == 403
    r = await svc.request("post", form, lead, data={"public": "maybe"})
    assert r.status_code == 400
    assert stored(svc.store) == ([], [])
    r = await svc.request("post", form, lead, data={"public": "yes"}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith(form + "?saved=1")
    await in_every_language(
        svc,
        f"{form}?saved=1",
        lead,
        ("Make it private", "Hacerla privada", "Torná-la privada", "La rendre privée"),
    )
    assert stored(svc.store)[0] == [("andes", True, svc.store.member_id("lead@andes.example.org"))]


async def test_the_consortium_page_follows_the_champions_choice(consortium, make_publishing_hub):
    andes = await make_publishing_hub(consortium, "andes", "Andes", "Latin America", k=3)
    assert await andes.publisher.run_once(full=True) >= 1
    page = f"public/{andes.name}/community1"
    r = await consortium.request("get", page + ".json")
    assert r.status_code == 404

    set_public_page(andes.store, "community1", True, "champion-id")
    # chosen, not yet published: the hub names no address
    assert public_page(andes.store, "community1", [], consortium.url()).url is None
    assert await andes.publisher.run_once() >= 1
    r = await consortium.request("get", page)
    assert r.status_code == 200, r.text
    assert "community1" in r.text
    # published: the address the hub shows its champion is the consortium's page
    url = public_page(andes.store, "community1", [], consortium.url()).url
    assert url == consortium.url(page)
    r = await consortium.request("get", url.removeprefix(consortium.url()))
    assert r.status_code == 200
    assert public_page(andes.store, "community0", [], consortium.url()).url is None
    r = await consortium.request("get", f"public/{andes.name}/community0.json")
    assert r.status_code == 404

    # unpublished: the next publish makes it private again
    set_public_page(andes.store, "community1", False, "champion-id")
    assert await andes.publisher.run_once() >= 1
    r = await consortium.request("get", page + ".json")
    assert r.status_code == 404


def test_an_erased_champion_leaves_the_choice_without_their_id(catalyst_store):
    from catalyst_hub.store.privacy import ERASED_MEMBER, erase_member

    store = catalyst_store
    champion = store.member_id("champion@andes.example.org")
    set_public_page(store, "andes", True, champion)
    erasure = erase_member(store, champion)
    assert erasure.rows["consortium_public_pages.changed_by"] == 1
    assert stored(store)[0] == [("andes", True, ERASED_MEMBER)]


class TestTheChampionSeesTheAddress:
    """The champion's page on a hub with a consortium: the public page's address once the
    consortium has acknowledged a summary sent since the choice."""

    @pytest.fixture
    def catalyst_config(self):
        # nothing listens there: the publisher's attempts fail; acknowledgements are made here
        return {
            "CatalystService": {
                "consortium_url": "http://127.0.0.1:9/services/consortium/",
                "consortium_token": "cch_x_y",
            }
        }

    async def test_the_address_once_published(self, catalyst_service):
        svc = catalyst_service
        lead = svc.token("lead@andes.example.org", groups=["community-andes"], roles=["lead-andes"])
        form = "consortium/communities/andes/public-page"
        r = await svc.request("post", form, lead, data={"public": "yes"}, allow_redirects=False)
        assert r.status_code == 303
        r = await svc.request("get", form, lead)
        assert r.status_code == 200 and 'id="public-page-pending"' in r.text
        assert 'id="public-page-url"' not in r.text
        api = await svc.request("get", PAGE.format("andes"), lead)
        assert api.json()["url"] is None
        admin = svc.token("admin", roles=["catalyst-admin"])
        status = await svc.request("get", "api/consortium", admin)
        assert status.status_code == 200 and status.json()["public_pages"] == {}

        now = utcnow()
        publish_queue.acknowledge(
            svc.store, now.date().replace(day=1), 1, "f", now.date(), True, now
        )
        address = f"http://127.0.0.1:9/services/consortium/public/{svc.store.hub}/andes"
        api = await svc.request("get", PAGE.format("andes"), lead)
        assert api.json()["url"] == address
        status = await svc.request("get", "api/consortium", admin)
        assert status.json()["public_pages"] == {"andes": address}
        texts = (
            "Published on the consortium at:",
            "Publicada en el consorcio en:",
            "Publicada no consórcio em:",
            "Publiée sur le consortium",
        )
        for page in await in_every_language(svc, form, lead, texts):
            assert f'href="{address}"' in page
        # made private again: no address, though the consortium has the figures
        r = await svc.request("post", form, lead, data={"public": "no"}, allow_redirects=False)
        r = await svc.request("get", form, lead)
        assert 'id="public-page-url"' not in r.text and 'id="public-page-pending"' not in r.text
