"""Hubs publish their summaries to a consortium service over HTTP: what arrives, what the
pages show, what never leaves a hub, outages, late events, and who may write what."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import orjson
import pytest
from sqlalchemy import select

from catalyst_hub.consortium import tables as ct
from catalyst_hub.reports.monthly import month_report
from catalyst_hub.reports.summary import DAY_FIGURES, community_month, month_figures
from catalyst_hub.reports.suppression import _exposed, suppress
from catalyst_hub.store import publish_queue
from catalyst_hub.store import tables as t
from catalyst_hub.timeutil import utcnow

READ_ROLE, ADMIN_ROLE = "consortium-staff", "consortium-admin"

pytestmark = pytest.mark.clock


async def publish_all(hub) -> int:
    return await hub.publisher.run_once(full=True)


def queued_documents(hub) -> list[dict]:
    return [orjson.loads(r["document"]) for r in publish_queue.due(hub.store, utcnow())]


async def test_published_figures_equal_the_hubs_month_report(consortium, make_publishing_hub):
    andes = await make_publishing_hub(consortium, "andes", "Andes", "Latin America")
    sent = await publish_all(andes)
    today = utcnow().date()
    months = {date(today.year, today.month, 1)}
    assert sent >= 2  # 45 days of data: two or three months
    staff = consortium.token("staff", roles=[READ_ROLE])
    checked = shown = 0
    for month in sorted(publish_queue.published_months(andes.store)):
        months.add(month)
        r = await consortium.request("get", f"overview.json?month={month:%Y-%m}", staff)
        assert r.status_code == 200, r.text
        rows = {row["community"]: row for row in r.json()["tables"]["communities"]}
        assert rows and {row["hub"] for row in rows.values()} == {"Andes"}
        assert {row["region"] for row in rows.values()} == {"Latin America"}
        for community, row in rows.items():
            report = month_report(andes.store, community, month.year, month.month, today=today)
            values = {f.key: f.value for f in report.figures}
            for key in ("active_members", "new_members", "activated_in_period", "sessions"):
                checked += 1
                if isinstance(row[key], dict):
                    assert row[key] == {"suppressed": True}
                else:
                    shown += 1
                    assert row[key] == values[key], (community, month, key)
            if not isinstance(row["server_hours"], dict):
                assert row["server_hours"] == values["server_hours"]
    assert checked and shown, "k hides everything: the seed is too small to compare"


async def test_nothing_personal_or_suppressed_leaves_the_hub(consortium, make_publishing_hub):
    andes = await make_publishing_hub(consortium, "andes", members=40)
    await andes.publisher.run_in_thread(andes.publisher.queue_changes, True)
    documents = queued_documents(andes)
    assert documents
    sent = "".join(json.dumps(d) for d in documents)
    with andes.store.connect() as conn:
        # this hub's rows only: the PostgreSQL database is shared by the session's tests
        hub = andes.store.hub
        i, m, e = t.identities.c, t.members.c, t.events.c
        usernames = [u for (u,) in conn.execute(select(i.username).where(i.hub == hub))]
        member_ids = [x for (x,) in conn.execute(select(m.member_id).where(m.hub == hub))]
        event_ids = [x for (x,) in conn.execute(select(e.id).where(e.hub == hub).limit(2000))]
    assert usernames and member_ids and event_ids
    lowered = sent.lower()
    for name in usernames:
        for form in {
            name,
            name.lower(),
            name.split("@")[0],
            re.sub(r"[^a-z0-9]", "", name.lower()),
        }:
            if len(form) >= 4:
                assert form.lower() not in lowered, form
    for value in member_ids + [m[:12] for m in member_ids] + event_ids:
        assert value not in sent
    # every count shown is 0 or at least k, and no hidden cell is recoverable from the
    # shown ones of its month (the suppression policy's own linear algebra)
    k = andes.service.min_group_size
    today = utcnow().date()
    for doc in documents:
        month = date.fromisoformat(doc["month"] + "-01")
        for c in doc["communities"]:
            for key in ("members", "active_members", "new_members", "activated_in_period"):
                v = c["figures"][key]
                assert isinstance(v, dict) or v == 0 or v >= k, (c["community"], key, v)
            for d in c["days"]:
                for key in DAY_FIGURES:
                    v = d["figures"][key]
                    assert isinstance(v, dict) or v == 0 or v >= k
            data = community_month(andes.store, c["community"], month, today)
            figures = month_figures(data)
            result = suppress(figures, k)
            hidden = {n for n, v in result.items() if isinstance(v, dict) or hasattr(v, "k")}
            hidden &= set(figures.counts)
            rests = {
                i: figures.counts[total] - sum(figures.counts[p] for p in parts)
                for i, (total, parts, with_rest) in enumerate(figures.relations)
                if with_rest
            }
            sensitive = {n for n in figures.people if 0 < figures.counts[n] < k}
            assert not _exposed(figures, hidden, rests, sensitive)
    await andes.publisher.send_due()


async def test_outage_then_every_month_arrives_once(consortium, make_publishing_hub):
    andes = await make_publishing_hub(consortium, "andes", "Andes", "Latin America")
    # the consortium goes away
    consortium.service.http_server.stop()
    await consortium.service.http_server.close_all_connections()
    assert await publish_all(andes) == 0
    state = publish_queue.status(andes.store)
    assert state["last_error"] and state["pending"] and state["last_published_day"] is None
    assert all(p["attempts"] == 1 for p in state["pending"])
    # a second round while still down: counted, nothing lost
    await andes.publisher.send_due()
    pending = len(publish_queue.status(andes.store)["pending"])
    # back up, on the same port
    await consortium.service.start_server()
    sent = await andes.publisher.run_once()
    assert sent == pending
    state = publish_queue.status(andes.store)
    assert state["pending"] == [] and state["last_published_day"] == (utcnow().date().isoformat())
    with consortium.store.engine.connect() as conn:
        months = conn.execute(select(ct.months.c.community, ct.months.c.days)).all()
        sequences = conn.execute(select(ct.hub_months.c.sequence)).all()
    days = [(c, d[0]) for c, sent in months for d in orjson.loads(sent)]
    assert days and len(days) == len(set(days))  # each community's day once, whatever the retries
    assert len(sequences) == pending
    # nothing changed: nothing is sent again
    assert await andes.publisher.run_once(full=True) == 0


async def test_late_events_republish_and_replace(consortium, make_publishing_hub, make_event):
    from catalyst_hub.ingest import Ingestor, Sender

    andes = await make_publishing_hub(consortium, "andes", k=1)
    await publish_all(andes)
    today = utcnow().date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    staff = consortium.token("staff", roles=[READ_ROLE])

    async def new_members(community: str) -> int:
        r = await consortium.request("get", f"overview.json?month={last_month:%Y-%m}", staff)
        rows = {row["community"]: row for row in r.json()["tables"]["communities"]}
        return rows[community]["new_members"]

    community = sorted(publish_queue_communities(consortium, last_month))[0]
    before = await new_members(community)
    # three newcomers of last month, whose events arrive only now
    when = datetime.combine(last_month + timedelta(days=3), datetime.min.time(), timezone.utc)
    ingestor = Ingestor(andes.store)
    for i in range(3):
        member = andes.store.member_id(f"late-{i}@example.org")
        event = make_event("action", {"action": "logged_in"}, time=when + timedelta(hours=i))
        stored, results = ingestor.ingest([event], Sender(member, community))
        assert stored, [r.to_json() for r in results]
    assert await andes.publisher.run_once() >= 1
    assert await new_members(community) == before + 3  # replaced, not added
    with consortium.store.engine.connect() as conn:
        n = conn.execute(
            select(ct.months.c.new_members).where(
                ct.months.c.community == community, ct.months.c.month == last_month
            )
        ).all()
    assert n == [(before + 3,)]


def publish_queue_communities(consortium, month) -> set[str]:
    with consortium.store.engine.connect() as conn:
        return {
            c
            for (c,) in conn.execute(
                select(ct.months.c.community).where(ct.months.c.month == month)
            )
        }


async def test_a_hub_writes_only_its_own_rows(consortium, make_publishing_hub):
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    andes_credential = consortium.credential("andes")
    sahel = await make_publishing_hub(consortium, "sahel")
    await sahel.publisher.run_in_thread(sahel.publisher.queue_changes, True)
    document = queued_documents(sahel)[0]
    client = AsyncHTTPClient()

    async def put(doc, credential, month=None):
        try:
            r = await client.fetch(
                HTTPRequest(
                    consortium.url(f"api/v1/summaries/{month or doc['month']}"),
                    method="PUT",
                    body=json.dumps(doc),
                    headers={"Authorization": f"Bearer {credential}"},
                )
            )
            return r.code, json.loads(r.body)
        except HTTPClientError as e:
            return e.code, json.loads(e.response.body)

    # andes's credential, sahel's figures
    code, body = await put(document, andes_credential)
    assert code == 403 and "andes" in body["message"], body
    code, body = await put(document, "cch_nope_nope")
    assert code == 401 and body["message"]
    code, body = await put({**document, "communities": "x"}, sahel.service.consortium_token)
    assert code == 400 and "communities" in body["message"]
    code, body = await put(document, sahel.service.consortium_token, month="2001-01")
    assert code == 400
    assert await sahel.publisher.send_due() >= 1
    code, body = await put(document, sahel.service.consortium_token)
    assert (code, body["result"]) == (200, "unchanged")
    code, body = await put({**document, "sequence": 1}, sahel.service.consortium_token)
    assert (code, body["result"]) == (200, "stale")
    # revoked by an admin through the API: refused from then on
    admin = consortium.token("admin", roles=[ADMIN_ROLE])
    listed = (await consortium.request("get", "api/v1/credentials", admin)).json()["credentials"]
    sahel_id = next(c["id"] for c in listed if c["hub"] == sahel.name)
    assert "secret" not in json.dumps(listed) and sahel.service.consortium_token not in json.dumps(
        listed
    )
    r = await consortium.request("delete", f"api/v1/credentials/{sahel_id}", admin)
    assert r.status_code == 204
    code, body = await put(
        {**document, "sequence": document["sequence"] + 1}, sahel.service.consortium_token
    )
    assert code == 401 and "revoked" in body["message"]
    # and a publisher with a revoked credential says so to its admin
    await sahel.publisher.run_in_thread(
        publish_queue.queue_month,
        sahel.store,
        date(2020, 1, 1),
        "f",
        {**document, "month": "2020-01"},
        utcnow(),
    )
    await sahel.publisher.send_due()
    assert "revoked" in publish_queue.status(sahel.store)["last_error"]
