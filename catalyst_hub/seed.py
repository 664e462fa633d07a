"""``catalyst-hub seed``: write a synthetic consortium into the store, for benchmarks and demos.

The data has the shape the real hubs showed: communities of very different sizes, members
who join mostly at workshops (cohorts active together for a few days) and then drift away,
fewer members reaching each later onboarding step, busier weekdays, JupyterLab and RStudio
sessions in three sizes, and training exercises and episodes. It is deterministic for a given
``--seed`` and ``--end`` date, and the number of events is exactly ``--events``.

Three ways in, all ending in the same projections:

- ``bulk`` (default): ``Store.append`` in large batches, fast;
- ``ingest``: ``Ingestor.ingest`` in per-member batches, the service's validation path;
- ``--via-api URL``: HTTP POSTs to a running service's ``api/events``, with each member's
  token from ``--token-file`` (JSON ``{username: token}``), as server extensions do; the
  server sessions, which only the service's collector asserts, go to the store directly.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from traitlets import Enum, Float, Integer, Unicode

from .catalyst_app import CatalystApp
from .events import StoredEvent, envelope, names
from .identity import member_id as keyed_member_id
from .store import tables as t
from .store.sql import upsert
from .timeutil import isoformat, utcnow

#: onboarding actions in the order newcomers are taught them (the packaged catalog's steps)
ONBOARDING = (
    ("logged_in",),
    ("server_started",),
    ("kernel_started", "proxy_app_opened", "notebook_opened"),
    ("file_uploaded",),
    ("cell_executed",),
    ("git_cloned", "git_committed"),
    ("notebook_saved", "home_saved"),
)
#: chance a member who reached one onboarding step goes on to the next
STEP_RETENTION = 0.78
WORKSHOP_STEP_RETENTION = 0.9
#: activity by weekday, Monday first
WEEKDAY_WEIGHT = (1.0, 1.0, 0.95, 0.9, 0.75, 0.2, 0.12)
PROFILES = (
    # (profile, environment, share of members)
    ("jupyterlab", "python", 0.55),
    ("rstudio", "r", 0.35),
    ("custom", "bring-your-own", 0.10),
)
SIZES = (("small", 0.6), ("medium", 0.3), ("large", 0.1))


def member_username(n: int, community: int) -> str:
    return f"member{n}@community{community}.example.org"


def community_name(c: int) -> str:
    return f"community{c}"


#: The notice the synthetic members answer: the service's default ``consent_notice_version``,
#: so a seeded hub's members have decided on the notice in force (the ingest path defers
#: other events until then).
NOTICE_VERSION = "1"


@dataclass
class Member:
    n: int
    community: int
    username: str
    join: int  # day index of the first visit
    leave: int  # day index after which the member is gone
    daily: float  # chance of a visit on an ordinary weekday
    weight: float  # how many events a visit has, relative to others
    depth: int  # onboarding steps the member will reach (1..len(ONBOARDING))
    profile: int
    size: str
    workshop: int | None = None
    # state while generating
    steps_done: int = 0
    visits: int = 0
    exercises: list = field(default_factory=list)


@dataclass
class Workshop:
    community: int
    start: int  # day index
    days: int


class Consortium:
    """The plan of a synthetic consortium and the generator of its events, in time order."""

    def __init__(
        self,
        communities: int = 20,
        members: int = 10_000,
        days: int = 730,
        events: int = 10_000_000,
        seed: int = 0,
        end: date | None = None,
        episodes: list[tuple[str, str, tuple[str, ...], bool]] | None = None,
        hub: str = "",
    ) -> None:
        if communities < 1 or members < communities or days < 7 or events < members:
            raise ValueError(
                "need communities >= 1, members >= communities, days >= 7, events >= members"
            )
        self.n_communities = communities
        self.n_members = members
        self.days = days
        self.events = events
        self.seed = seed
        self.end = end or datetime.now(timezone.utc).date()
        self.first_day = self.end - timedelta(days=days)
        #: training episodes in catalog order: (lesson, episode, exercises, self_report)
        self.episodes = episodes or []
        self._rng = random.Random(seed)
        # ids: a prefix per seed and hub (event ids are unique across the hubs sharing a
        # database) and a counter, formatted as UUIDs (version 4 bits set)
        self._id_prefix = random.Random(f"ids-{hub}-{seed}").getrandbits(64)
        self._plan()

    # -- the plan ----------------------------------------------------------------------------

    def _plan(self) -> None:
        rng = self._rng
        # community sizes follow a long tail: one busy hub, many quiet ones
        weights = [1 / (k + 1) ** 0.8 for k in range(self.n_communities)]
        # every community gets at least one member; the rest by weight
        assigned = list(range(self.n_communities)) + rng.choices(
            range(self.n_communities), weights, k=self.n_members - self.n_communities
        )
        # workshops: every ~two months per community, 2-4 weekdays, starting on a Monday-Wednesday
        self.workshops: list[Workshop] = []
        for c in range(self.n_communities):
            day = rng.randrange(0, 45)
            while day < self.days - 5:
                while (self.first_day + timedelta(days=day)).weekday() > 2:
                    day += 1
                self.workshops.append(Workshop(c, day, rng.randint(2, 4)))
                day += rng.randint(40, 90)
        by_community: dict[int, list[Workshop]] = {}
        for w in self.workshops:
            by_community.setdefault(w.community, []).append(w)
        profile_weights = [p[2] for p in PROFILES]
        size_names = [s[0] for s in SIZES]
        size_weights = [s[1] for s in SIZES]
        self.members: list[Member] = []
        for n, c in enumerate(assigned):
            workshops = by_community.get(c, [])
            workshop = None
            if workshops and rng.random() < 0.6:
                workshop = rng.randrange(len(workshops))
                join = workshops[workshop].start
            else:
                # more members join as the consortium grows
                join = int(self.days * rng.random() ** 0.7)
            retention = WORKSHOP_STEP_RETENTION if workshop is not None else STEP_RETENTION
            depth = 1
            while depth < len(ONBOARDING) and rng.random() < retention:
                depth += 1
            stay = int(rng.expovariate(1 / 120)) + 1
            if rng.random() < 0.15:
                stay = self.days  # the regulars
            self.members.append(
                Member(
                    n=n,
                    community=c,
                    username=member_username(n, c),
                    join=join,
                    leave=min(self.days - 1, join + stay),
                    daily=rng.uniform(0.05, 0.6),
                    weight=rng.paretovariate(1.8),
                    depth=depth,
                    profile=rng.choices(range(len(PROFILES)), profile_weights)[0],
                    size=rng.choices(size_names, size_weights)[0],
                    workshop=self.workshops.index(workshops[workshop])
                    if workshop is not None
                    else None,
                )
            )
        # every visit (member x day), and its share of the events
        self.visits: list[list[tuple[int, float]]] = [[] for _ in range(self.days)]
        total = 0.0
        for m in self.members:
            ws = self.workshops[m.workshop] if m.workshop is not None else None
            for day in range(m.join, m.leave + 1):
                in_workshop = ws is not None and ws.start <= day < ws.start + ws.days
                weekday = (self.first_day + timedelta(days=day)).weekday()
                if day == m.join or in_workshop or rng.random() < m.daily * WEEKDAY_WEIGHT[weekday]:
                    share = m.weight * (3.0 if in_workshop else 1.0) * rng.uniform(0.3, 1.7)
                    self.visits[day].append((m.n, share))
                    total += share
        # a visit needs a few events of its own (consent, login, a server start and stop): with
        # few events for many members, thin out the ordinary visits so that the events still
        # span the whole history instead of running out in its first months
        visits = sum(map(len, self.visits))
        if 4 * visits > 0.6 * self.events:
            keep = 0.6 * self.events / (4 * visits)
            total = 0.0
            for day, today in enumerate(self.visits):
                kept = [v for v in today if self.members[v[0]].join == day or rng.random() < keep]
                self.visits[day] = kept
                total += sum(share for _, share in kept)
        self.total_share = total

    # -- events ------------------------------------------------------------------------------

    def _event_id(self, counter: int) -> str:
        h = f"{self._id_prefix:016x}{counter:016x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"

    def day_start(self, day: int) -> datetime:
        d = self.first_day + timedelta(days=day)
        return datetime(d.year, d.month, d.day)

    def generate(self) -> Iterator[tuple[int, str, str, datetime, dict[str, Any]]]:
        """Every event as (member index, id, schema, time, payload), exactly ``events`` of
        them, in day order. Payloads carry their schema defaults, as ingest fills them in."""
        rng = random.Random(self.seed + 1)
        produced = 0
        cumulative = 0.0
        counter = itertools.count()
        for day in range(self.days):
            start = self.day_start(day)
            for n, share in self.visits[day]:
                cumulative += share
                target = round(self.events * cumulative / self.total_share)
                visit = self._visit(self.members[n], day, start, rng, target - produced, counter)
                for event in visit:
                    yield event
                    produced += 1
                    if produced >= self.events:
                        return
        # rounding leaves nothing out, but a tiny plan's structural events can: top up
        last = (
            self.members[self.visits[self.days - 1][-1][0]]
            if self.visits[self.days - 1]
            else self.members[0]
        )
        while produced < self.events:
            yield (
                last.n,
                self._event_id(next(counter)),
                names.ACTIVITY,
                self.day_start(self.days - 1) + timedelta(hours=22, seconds=produced % 3600),
                {"kind": "ui", "count": 1},
            )
            produced += 1

    def _visit(
        self, m: Member, day: int, start: datetime, rng: random.Random, budget: int, counter
    ) -> list:
        """One member's events of one day, about ``budget`` of them (at least the ones that
        tell their story: consent, onboarding actions, the server session)."""
        out: list = []
        nid = counter.__next__
        hour = rng.choice((8, 9, 9, 10, 10, 11, 13, 14, 14, 15, 16, 19))
        clock = start + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        mi = m.n

        def add(schema: str, payload: dict, at: datetime) -> None:
            out.append((mi, self._event_id(nid()), schema, at, payload))

        profile, environment, _ = PROFILES[m.profile]
        first = m.visits == 0
        m.visits += 1
        if first:
            add(names.CONSENT, {"decision": "given", "notice_version": NOTICE_VERSION}, clock)
            add(names.ACTION, {"action": "logged_in"}, clock + timedelta(seconds=5))
        elif m.visits == 40 and rng.random() < 0.05:
            add(names.CONSENT, {"decision": "withdrawn", "notice_version": NOTICE_VERSION}, clock)
        if m.depth < 2:
            # logged in, looked around, never started a server
            for i in range(max(0, budget - len(out))):
                add(
                    names.ACTIVITY,
                    {"kind": "ui", "count": rng.randint(1, 20), "seconds": 60},
                    clock + timedelta(seconds=60 * (i + 1)),
                )
            return out
        started = clock + timedelta(seconds=30)
        server = {
            "server_name": "",
            "started": isoformat(started),
            "profile": profile,
            "environment": environment,
            "size": m.size,
        }
        add(names.SERVER_STARTED, server, started)
        # onboarding: a newcomer reaches one or two further steps per visit, up to their depth
        if m.steps_done < 2:
            m.steps_done = 2
        reach = min(m.depth, m.steps_done + rng.randint(1, 2))
        moment = started + timedelta(minutes=2)
        while m.steps_done < reach:
            options = ONBOARDING[m.steps_done]
            action = (
                options[1]
                if (profile == "rstudio" and len(options) > 1 and m.steps_done == 2)
                else options[0]
            )
            add(
                names.ACTION,
                {"action": action, "app": "rstudio" if profile == "rstudio" else "jupyterlab"},
                moment,
            )
            moment += timedelta(minutes=rng.randint(1, 10))
            m.steps_done += 1
        # training: during a workshop, learners work through the episodes in order
        w = self.workshops[m.workshop] if m.workshop is not None else None
        if w is not None and w.start <= day < w.start + w.days and self.episodes:
            self._training(m, add, moment, rng)
        # the session: activity a minute or a few apart, then the stop the collector records
        kinds = ("proxy",) if profile == "rstudio" else ("kernel", "notebook", "kernel", "terminal")
        remaining = max(0, budget - len(out) - 1)
        spacing = max(
            1, min(300, int((23 * 3600 - (moment - start).total_seconds()) // (remaining + 1)))
        )
        for i in range(remaining):
            moment += timedelta(seconds=spacing)
            add(
                names.ACTIVITY,
                {
                    "kind": kinds[i % len(kinds)],
                    "count": rng.randint(1, 40),
                    "seconds": min(spacing, 60),
                },
                moment,
            )
        stopped = moment + timedelta(minutes=rng.randint(5, 60))
        add(
            names.SERVER_STOPPED,
            {
                "server_name": "",
                "started": server["started"],
                "last_activity": isoformat(moment),
            },
            stopped,
        )
        return out

    def _training(self, m: Member, add: Callable, moment: datetime, rng: random.Random) -> None:
        if not m.exercises:
            m.exercises = [0, 0]  # next episode, next exercise in it
        for _ in range(rng.randint(1, 4)):
            index, exercise = m.exercises
            if index >= len(self.episodes) or rng.random() < 0.12:
                return  # done, or stopped for today
            lesson, episode, exercises, self_report = self.episodes[index]
            moment += timedelta(minutes=rng.randint(3, 15))
            if exercise < len(exercises):
                add(
                    names.EXERCISE_COMPLETED,
                    {"lesson": lesson, "episode": episode, "exercise": exercises[exercise]},
                    moment,
                )
                m.exercises = [index, exercise + 1]
                if exercise + 1 < len(exercises):
                    continue
            if self_report or not exercises:
                add(
                    names.EPISODE_COMPLETED,
                    {"lesson": lesson, "episode": episode, "source": "self"},
                    moment + timedelta(seconds=30),
                )
            m.exercises = [index + 1, 0]


def catalog_episodes(catalog) -> list[tuple[str, str, tuple[str, ...], bool]]:
    return [
        (lesson.id, episode.id, episode.exercises, episode.self_report)
        for program in catalog.programs
        for lesson in program.lessons
        for episode in lesson.episodes
    ]


class Progress:
    """A one-line progress report on stderr (rewritten in place on a terminal)."""

    def __init__(self, total: int, label: str, stream=sys.stderr, quiet: bool = False) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.quiet = quiet
        self.done = 0
        self.began = time.perf_counter()
        self._shown = 0.0
        self._tty = stream.isatty()

    def update(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if not self.quiet and (
            now - self._shown > (0.5 if self._tty else 10) or self.done >= self.total
        ):
            self._shown = now
            elapsed = now - self.began
            rate = self.done / elapsed if elapsed else 0.0
            eta = (self.total - self.done) / rate if rate else 0.0
            line = (
                f"{self.label}: {self.done:,}/{self.total:,} events ({100 * self.done / self.total:.0f}%)"
                f" {rate:,.0f}/s, {elapsed:.0f}s elapsed, ~{eta:.0f}s left"
            )
            self.stream.write(("\r" + line + "\x1b[K") if self._tty else line + "\n")
            self.stream.flush()

    def close(self) -> None:
        if not self.quiet and self._tty:
            self.stream.write("\n")
            self.stream.flush()


class SeedApp(CatalystApp):
    name = "catalyst-hub seed"
    description = """Write a synthetic consortium (communities, members, two years of events)
    into the store: onboarding drop-off, weekly rhythm, workshop cohorts, training, RStudio and
    JupyterLab sessions. Deterministic for a given --seed and --end."""

    aliases = {
        **CatalystApp.aliases,
        "communities": "SeedApp.community_count",
        "members": "SeedApp.members",
        "days": "SeedApp.days",
        "events": "SeedApp.events",
        "seed": "SeedApp.seed",
        "end": "SeedApp.end",
        "path": "SeedApp.path",
        "batch": "SeedApp.batch_size",
        "via-api": "SeedApp.via_api",
        "token-file": "SeedApp.token_file",
        "clients": "SeedApp.clients",
    }

    # not "communities": CatalystApp.communities is the CommunityMapper
    community_count = Integer(20, config=True, help="Number of communities.")
    members = Integer(
        10_000, config=True, help="Number of members (spread over communities, long tail)."
    )
    days = Integer(730, config=True, help="Days of history, ending at --end.")
    events = Integer(10_000_000, config=True, help="Exact number of events to write.")
    seed = Integer(
        0, config=True, help="Random seed: the same seed and end date give the same events."
    )
    end = Unicode(
        "", config=True, help="Last day of the history (YYYY-MM-DD; default: today, UTC)."
    )
    path = Enum(
        ["bulk", "ingest", "api"],
        "bulk",
        config=True,
        help="bulk: Store.append in large batches; ingest: Ingestor.ingest per member; api: HTTP (--via-api).",
    )
    batch_size = Integer(
        0,
        config=True,
        help="Events per append (bulk, default 20000) or per request (ingest/api, default 1000).",
    )
    via_api = Unicode(
        "", config=True, help="Service URL (…/services/catalyst/): POST api/events there."
    )
    token_file = Unicode("", config=True, help="JSON file {username: API token} for --via-api.")
    clients = Integer(4, config=True, help="Concurrent HTTP clients for --via-api.")
    progress_interval = Float(0.5, config=True, help="Seconds between progress updates.")

    def consortium(self) -> Consortium:
        end = date.fromisoformat(self.end) if self.end else None
        assert self.store is not None  # set by init_store, in start
        return Consortium(
            communities=self.community_count,
            members=self.members,
            days=self.days,
            events=self.events,
            seed=self.seed,
            end=end,
            episodes=catalog_episodes(self.store.catalog),
            hub=self.hub_name,
        )

    def start(self) -> None:
        if self.via_api:
            self.path = "api"
        self.init_store(check=self.path != "api")
        plan = self.consortium()
        began = time.perf_counter()
        written = seed_store(
            self.store,
            plan,
            self.path,
            self.batch_size,
            via_api=self.via_api,
            token_file=self.token_file,
            clients=self.clients,
        )
        elapsed = time.perf_counter() - began
        self.log.info(
            "seeded %d events (%d members, %d communities, %d days to %s) via %s in %.1f s (%.0f events/s)",
            written,
            plan.n_members,
            plan.n_communities,
            plan.days,
            plan.end,
            self.path,
            elapsed,
            written / elapsed,
        )


def write_identities(store, plan: Consortium) -> list[str]:
    """Record every member's identity in one transaction; returns member ids by index.
    The same keyed ids ``Store.member_id`` gives, without a transaction per member."""
    ids = [keyed_member_id(store.secret, store.hub, m.username) for m in plan.members]
    now = utcnow()
    with store.begin() as conn:
        for i in range(0, len(ids), 5000):
            upsert(
                conn,
                t.identities,
                [
                    {"hub": store.hub, "username": m.username, "member_id": mid, "created": now}
                    for m, mid in zip(plan.members[i : i + 5000], ids[i : i + 5000], strict=True)
                ],
                ["hub", "username"],
            )
    store._known_members.update((m.username, mid) for m, mid in zip(plan.members, ids, strict=True))
    return ids


def seed_store(
    store,
    plan: Consortium,
    path: str = "bulk",
    batch_size: int = 0,
    *,
    via_api: str = "",
    token_file: str = "",
    clients: int = 4,
    quiet: bool = False,
) -> int:
    """Write ``plan``'s events into ``store`` by ``path``; returns the events generated."""
    progress = Progress(plan.events, f"seed ({path})", quiet=quiet)
    try:
        if path == "bulk":
            return _seed_bulk(store, plan, batch_size or 20_000, progress)
        if path == "ingest":
            return _seed_ingest(store, plan, batch_size or 1000, progress)
        if path == "api":
            tokens = orjson.loads(Path(token_file).read_bytes()) if token_file else {}
            return asyncio.run(
                _seed_api(store, plan, via_api, tokens, batch_size or 1000, clients, progress)
            )
        raise ValueError(f"unknown path {path!r}")
    finally:
        progress.close()


def _seed_bulk(store, plan: Consortium, batch_size: int, progress: Progress) -> int:
    ids = write_identities(store, plan)
    communities = [community_name(m.community) for m in plan.members]
    hub = store.hub
    batch: list[StoredEvent] = []
    written = 0
    for n, event_id, schema, when, payload in plan.generate():
        batch.append(
            StoredEvent(event_id, hub, ids[n], communities[n], schema, 1, when, when, payload)
        )
        if len(batch) >= batch_size:
            store.append(batch)
            written += len(batch)
            progress.update(len(batch))
            batch = []
    if batch:
        store.append(batch)
        written += len(batch)
        progress.update(len(batch))
    return written


def sender_kind(schema: str, payload: dict[str, Any]) -> str:
    """Who sends a generated event: the member's server extension where it may, else the
    only sender the schema allows (the collector for server sessions)."""
    from .events import MEMBER, registry

    kinds = registry.lookup(schema, 1).allowed_senders(payload)
    return MEMBER if MEMBER in kinds else min(kinds)


def _per_member_batches(
    plan: Consortium, batch_size: int, window: int = 50_000
) -> Iterator[tuple[tuple[int, str], list[dict]]]:
    """Envelopes grouped by member and sender kind, as each member's server extension (and
    the collector) would send them: a window of the stream at a time, each member's part of
    it in batches of ``batch_size``."""
    pending: dict[tuple[int, str], list[dict]] = {}
    count = 0
    for n, event_id, schema, when, payload in plan.generate():
        key = (n, sender_kind(schema, payload))
        pending.setdefault(key, []).append(envelope(schema, payload, time=when, id=event_id))
        count += 1
        if count >= window:
            yield from _split(pending, batch_size)
            pending, count = {}, 0
    yield from _split(pending, batch_size)


def _split(pending: dict, batch_size: int) -> Iterator[tuple[Any, list[dict]]]:
    for key, envelopes in pending.items():
        for i in range(0, len(envelopes), batch_size):
            yield key, envelopes[i : i + batch_size]


def _seed_ingest(store, plan: Consortium, batch_size: int, progress: Progress) -> int:
    from .ingest import Ingestor, Sender

    ids = write_identities(store, plan)
    ingestor = Ingestor(store)
    written = 0
    for (n, kind), envelopes in _per_member_batches(plan, batch_size):
        sender = Sender(ids[n], community_name(plan.members[n].community), kind)
        ok, results = ingestor.ingest(envelopes, sender)
        if not ok:
            bad = next(r for r in results if r.status in ("error", "refused"))
            raise RuntimeError(f"generated event rejected: {bad.message}")
        written += len(envelopes)
        progress.update(len(envelopes))
    return written


async def _seed_api(
    store,
    plan: Consortium,
    url: str,
    tokens: dict[str, str],
    batch_size: int,
    clients: int,
    progress: Progress,
) -> int:
    from tornado.httpclient import AsyncHTTPClient

    if not url:
        raise ValueError("--via-api needs the service URL")
    endpoint = url.rstrip("/") + "/api/events"
    AsyncHTTPClient.configure(None, max_clients=clients)
    http = AsyncHTTPClient()
    queue: asyncio.Queue = asyncio.Queue(maxsize=clients * 4)
    written = 0
    errors: list[BaseException] = []

    async def worker() -> None:
        nonlocal written
        while True:
            item = await queue.get()
            if item is None:
                return
            if errors:
                continue  # drain the queue so the producer never blocks; the error is raised below
            try:
                await send(*item)
            except Exception as e:
                errors.append(e)

    async def send(username: str, envelopes: list[dict]) -> None:
        nonlocal written
        token = tokens.get(username)
        if token is None:
            raise RuntimeError(f"no token for {username} in the token file")
        # a 429 (rate limit) says when to retry: honour it, as the outbox does
        for _ in range(20):
            response = await http.fetch(
                endpoint,
                method="POST",
                body=orjson.dumps({"events": envelopes}),
                headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
                raise_error=False,
                request_timeout=120,
            )
            if response.code != 429:
                break
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        if response.code != 200:
            raise RuntimeError(f"POST api/events answered {response.code}: {response.body[:500]!r}")
        written += len(envelopes)
        progress.update(len(envelopes))

    from .events import MEMBER
    from .ingest import Ingestor, Sender

    ingestor = Ingestor(store)
    tasks = [asyncio.ensure_future(worker()) for _ in range(clients)]
    for (n, kind), envelopes in _per_member_batches(plan, batch_size):
        if errors:
            break
        if kind != MEMBER:
            # what the service asserts itself (the collector's server sessions) is never sent
            # with a member's token: written as the service's collector writes it
            m = plan.members[n]
            sender = Sender(store.member_id(m.username), community_name(m.community), kind)
            stored, _ = ingestor.ingest_trusted([(e, sender) for e in envelopes])
            written += len(stored)
            progress.update(len(envelopes))
            continue
        await queue.put((plan.members[n].username, envelopes))
    for _ in tasks:
        await queue.put(None)
    await asyncio.gather(*tasks)
    if errors:
        raise errors[0]
    return written


__all__ = ["Consortium", "SeedApp", "seed_store"]
