"""The consortium's store: hub credentials and the summaries hubs send (SQL lives here).

A hub's month arrives as one document (``schemas/summary/v1.json``) with a sequence number;
it replaces whatever that hub had sent for that month (its communities and their days), in
one transaction, when its sequence is higher than the stored one. The same document again
changes nothing; an older one is refused as stale. Nothing is ever added to a stored figure.
A hub sends its current month again every day (a day more, the last few revised): each
community's days are kept with its month row, as sent, and replaced with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from operator import itemgetter
from typing import Any

import orjson
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from . import tables as t

TOKEN_PREFIX = "cch"


class SummaryError(ValueError):
    """A document that does not follow the schema (400)."""


class WrongHub(PermissionError):
    """A document or credential naming another hub (403)."""


class DatabaseNeedsUpgrade(RuntimeError):
    pass


# -- schema -------------------------------------------------------------------------------


def alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "catalyst_hub.consortium:migrations")
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the consortium's tables (``catalyst-hub consortium db-upgrade``)."""
    command.upgrade(alembic_config(engine), revision)


def check_current(engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(
            conn, opts={"version_table": "consortium_alembic_version"}
        ).get_current_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseNeedsUpgrade(
            f"The consortium database {where} is at revision {current}; this version needs "
            f"{head}. Run `catalyst-hub consortium --upgrade-db` (back it up first)."
        )


@cache
def summary_schema() -> dict[str, Any]:
    path = resources.files(__package__) / "schemas" / "summary" / "v1.json"
    return json.loads(path.read_text("utf-8"))


@cache
def _validator() -> Any:
    import jsonschema_rs

    # formats checked too (a day is a real date); compiled to native code: fastjsonschema's
    # Python took 16 ms for a month's end (620 days of 20 communities, 116 kB), this 0.4 ms
    return jsonschema_rs.Draft7Validator(summary_schema(), validate_formats=True)


def parser_ready() -> bool:
    """Compile the validator (in a parsing process, once it starts)."""
    return _validator() is not None


class InvalidJSON(SummaryError):
    """A body that is not JSON at all (400)."""


def validate_summary(document: Any, month: str) -> None:
    """SummaryError unless ``document`` is a valid summary of ``month`` (``YYYY-MM``)."""
    import jsonschema_rs

    try:
        _validator().validate(document)
    except jsonschema_rs.ValidationError as e:
        where = "/".join(str(p) for p in e.instance_path)
        raise SummaryError(f"{where or 'document'}: {e.message}"[:500]) from None
    if document["month"] != month:
        raise SummaryError(f"the document is of {document['month']}, not {month}")
    seen = set()
    for c in document["communities"]:
        if c["community"] in seen:
            raise SummaryError(f"community {c['community']} twice")
        seen.add(c["community"])
        if c["month"] != month or not c["through"].startswith(month):
            raise SummaryError(f"community {c['community']}: not of {month}")
        days = [d["day"] for d in c["days"]]
        if any(not d.startswith(month) for d in days) or len(set(days)) != len(days):
            raise SummaryError(f"community {c['community']}: days outside {month} or repeated")


@dataclass(frozen=True)
class PreparedSummary:
    """A valid document as rows, worked out before any transaction (``prepare_summary``)."""

    hub: str
    month: date
    sequence: int
    min_group_size: int
    #: ``months`` rows, one per community
    month_rows: list[dict[str, Any]]
    #: the ``hub_totals`` row
    totals: dict[str, Any]


_day_figures = itemgetter(*t.DAY_COLUMNS)


def prepare_summary(document: dict[str, Any]) -> PreparedSummary:
    """The rows of a validated ``document``: pure computation, no database (run it
    outside the transaction, and off the event loop)."""
    hub = document["hub"]
    month = date.fromisoformat(document["month"] + "-01")
    month_rows: list[dict[str, Any]] = []
    for c in document["communities"]:
        figures = c["figures"]
        name = c["community"]
        month_rows.append(
            {
                "hub": hub,
                "community": name,
                "month": month,
                "through": date.fromisoformat(c["through"]),
                "provisional": c["provisional"],
                "public": bool(c.get("public", False)),
                **{k: _value(figures[k]) for k in t.MONTH_COLUMNS},
                **{k: _value(figures.get(k)) for k in t.OPTIONAL_COLUMNS},
                "detail": orjson.dumps(
                    {"figures": figures, "steps": c["steps"], "apps": c["apps"]}
                ).decode(),
                # compact: [day, provisional, *DAY_COLUMNS as sent], a quarter of the
                # hub's form (a month's end of 20 communities: 620 days a version)
                "days": orjson.dumps(
                    [[d["day"], d["provisional"], *_day_figures(d["figures"])] for d in c["days"]]
                ).decode(),
            }
        )
    totals: dict[str, Any] = {"hub": hub, "month": month, "communities": len(month_rows)}
    for k in t.SUMMED:
        column = [r[k] for r in month_rows]
        values = [v for v in column if v is not None]
        totals[k] = round(sum(values), 1) if k in t.FLOAT_COLUMNS else sum(values)
        totals[f"{k}_hidden"] = len(column) - len(values)
    for k in t.OPTIONAL_COLUMNS:
        given = [c["figures"][k] for c in document["communities"] if k in c["figures"]]
        totals[k] = sum(v for v in given if _value(v) is not None)
        totals[f"{k}_hidden"] = sum(1 for v in given if _value(v) is None)
    return PreparedSummary(
        hub=hub,
        month=month,
        sequence=document["sequence"],
        min_group_size=document["min_group_size"],
        month_rows=month_rows,
        totals=totals,
    )


def read_summary(body: bytes, month: str) -> PreparedSummary:
    """A request's body as rows to store: parsed, validated as a summary of ``month`` and
    prepared (InvalidJSON, SummaryError). CPU only: the service runs it in a thread of its
    own, never on its event loop nor in a database thread."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidJSON(str(e)) from None
    validate_summary(document, month)
    return prepare_summary(document)


def _value(shown: Any) -> int | float | None:
    """A figure as stored: the number, or NULL for a suppressed one."""
    return None if isinstance(shown, dict) else shown


# -- credentials --------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Credential:
    id: str
    hub: str
    created: datetime
    created_by: str
    revoked: datetime | None
    last_used: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hub": self.hub,
            "created": self.created.isoformat(),
            "created_by": self.created_by,
            "revoked": self.revoked.isoformat() if self.revoked else None,
            "last_used": self.last_used.isoformat() if self.last_used else None,
        }


class ConsortiumStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # credentials

    def create_credential(self, hub: str, created_by: str, now: datetime) -> tuple[str, str]:
        """A new credential of ``hub``: (its id, the token, shown this once only)."""
        cid = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.credentials).values(
                    id=cid, hub=hub, secret_hash=_hash(secret), created=now, created_by=created_by
                )
            )
        return cid, f"{TOKEN_PREFIX}_{cid}_{secret}"

    def revoke_credential(self, cid: str, now: datetime) -> bool:
        c = t.credentials.c
        with self.engine.begin() as conn:
            found = conn.execute(select(c.revoked).where(c.id == cid)).one_or_none()
            if found is None:
                return False
            if found.revoked is None:
                conn.execute(update(t.credentials).where(c.id == cid).values(revoked=now))
        return True

    def credentials(self, hub: str | None = None) -> list[Credential]:
        c = t.credentials.c
        query = select(c.id, c.hub, c.created, c.created_by, c.revoked, c.last_used)
        if hub is not None:
            query = query.where(c.hub == hub)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(c.hub, c.created)).all()
        return [Credential(*r) for r in rows]

    def authenticate(self, token: str, now: datetime) -> tuple[str | None, str]:
        """(hub, "ok"), or (None, "unknown" / "revoked")."""
        prefix, _, rest = token.partition("_")
        cid, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not cid or not secret or len(token) > 200:
            return None, "unknown"
        c = t.credentials.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.hub, c.secret_hash, c.revoked).where(c.id == cid)
            ).one_or_none()
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            return None, "unknown"
        if row.revoked is not None:
            return None, "revoked"
        return row.hub, "ok"

    def authenticate_id(self, token: str) -> str:
        """The credential id a token names (for ``last_used``)."""
        return token.partition("_")[2].partition("_")[0]

    # summaries

    def store_summary(
        self, hub: str, document: dict[str, Any], now: datetime, credential: str | None = None
    ) -> str:
        """Replace ``hub``'s month with ``document`` (validated): "stored", "unchanged" (the
        same version again) or "stale" (older than the stored one)."""
        return self.store_prepared(hub, prepare_summary(document), now, credential)

    def store_prepared(
        self, hub: str, summary: PreparedSummary, now: datetime, credential: str | None = None
    ) -> str:
        """``store_summary`` of a document already prepared (``read_summary``): one
        transaction, all of it or nothing."""
        if summary.hub != hub:
            raise WrongHub(summary.hub)
        month, sequence = summary.month, summary.sequence
        hm, mo, ht = t.hub_months.c, t.months.c, t.hub_totals.c
        with self.engine.begin() as conn:
            if credential is not None:
                conn.execute(
                    update(t.credentials)
                    .where(t.credentials.c.id == credential)
                    .values(last_used=now)
                )
            current = conn.execute(
                select(hm.sequence).where(hm.hub == hub, hm.month == month).with_for_update()
            ).scalar_one_or_none()
            if current is not None and sequence == current:
                return "unchanged"
            if current is not None and sequence < current:
                return "stale"
            # values as execution parameters, not in the statement: ``.values(**row)`` made
            # a bound expression per column on every call (a third of a small month's CPU)
            values = {
                "sequence": sequence,
                "received": now,
                "min_group_size": summary.min_group_size,
            }
            if current is None:
                conn.execute(insert(t.hub_months), {"hub": hub, "month": month, **values})
            else:
                conn.execute(
                    update(t.hub_months).where(
                        hm.hub == bindparam("k_hub"), hm.month == bindparam("k_month")
                    ),
                    {"k_hub": hub, "k_month": month, **values},
                )
            conn.execute(delete(t.months).where(mo.hub == hub, mo.month == month))
            conn.execute(delete(t.hub_totals).where(ht.hub == hub, ht.month == month))
            conn.execute(insert(t.hub_totals), summary.totals)
            if summary.month_rows:
                conn.execute(insert(t.months), summary.month_rows)
        return "stored"

    # reading

    def months(self) -> list[date]:
        with self.engine.connect() as conn:
            return [
                m
                for (m,) in conn.execute(
                    select(t.hub_months.c.month).distinct().order_by(t.hub_months.c.month)
                )
            ]

    def month_rows(self, month: date, hubs: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every community's figures of ``month`` (NULL: hidden by its hub)."""
        mo = t.months.c
        query = select(
            mo.hub,
            mo.community,
            mo.through,
            mo.provisional,
            mo.public,
            *(getattr(mo, k) for k in t.MONTH_COLUMNS),
            *(getattr(mo, k) for k in t.OPTIONAL_COLUMNS),
        ).where(mo.month == month)
        if hubs is not None:
            query = query.where(mo.hub.in_(list(hubs)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(mo.hub, mo.community)).all()
        return [r._asdict() for r in rows]

    def totals_by_month(
        self, first: date, last: date, columns: Iterable[str] = t.SUMMED
    ) -> list[dict[str, Any]]:
        """Per month and hub: communities, the sum of each shown figure and how many of it
        were hidden (a total of shown figures only: nothing hidden is in it)."""
        ht = t.hub_totals.c
        cols = list(columns)
        query = (
            select(
                ht.month,
                ht.hub,
                ht.communities,
                *(getattr(ht, k) for k in cols),
                *(getattr(ht, f"{k}_hidden") for k in cols),
            )
            .where(and_(ht.month >= first, ht.month <= last))
            .order_by(ht.month, ht.hub)
        )
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(query).all()]

    def month_sums(self, first: date, last: date) -> list[dict[str, Any]]:
        """Per month: hubs, communities, and each figure's total over the hubs (of the
        figures shown) with how many were hidden, the optional figures' included."""
        ht = t.hub_totals.c
        figures = (*t.SUMMED, *t.OPTIONAL_COLUMNS)
        query = (
            select(
                ht.month,
                func.count().label("hubs"),
                func.sum(ht.communities).label("communities"),
                *(func.sum(getattr(ht, k)).label(k) for k in figures),
                *(func.sum(getattr(ht, f"{k}_hidden")).label(f"{k}_hidden") for k in figures),
            )
            .where(and_(ht.month >= first, ht.month <= last))
            .group_by(ht.month)
        )
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(query).all()]

    def active_by_hub(self, first: date, last: date) -> list[tuple[date, str, int]]:
        ht = t.hub_totals.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ht.month, ht.hub, ht.active_members).where(
                    and_(ht.month >= first, ht.month <= last)
                )
            ).tuples()
            return list(rows)

    def community_months(self, hub: str, community: str) -> list[dict[str, Any]]:
        mo = t.months.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    mo.month,
                    mo.through,
                    mo.provisional,
                    mo.public,
                    mo.detail,
                    *(getattr(mo, k) for k in t.MONTH_COLUMNS),
                )
                .where(mo.hub == hub, mo.community == community)
                .order_by(mo.month)
            ).all()
        return [r._asdict() for r in rows]

    def community_days(
        self, hub: str, community: str, first: date, last: date
    ) -> list[dict[str, Any]]:
        """The community's days from ``first`` to ``last``: day, provisional and each of
        ``DAY_COLUMNS`` (None: hidden by its hub)."""
        mo = t.months.c
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(mo.days)
                .where(
                    mo.hub == hub,
                    mo.community == community,
                    mo.month >= first.replace(day=1),
                    mo.month <= last,
                )
                .order_by(mo.month)
            ).scalars()
            sent = [d for days in stored for d in orjson.loads(days)]
        out = []
        for text, provisional, *figures in sent:
            day = date.fromisoformat(text)
            if first <= day <= last:
                out.append(
                    {
                        "day": day,
                        "provisional": provisional,
                        **{k: _value(v) for k, v in zip(t.DAY_COLUMNS, figures, strict=True)},
                    }
                )
        return sorted(out, key=itemgetter("day"))

    def figures_not_sent(
        self, month: date, hubs: Iterable[str] | None = None
    ) -> set[tuple[str, str, str]]:
        """(hub, community, figure) of the optional figures a community's summary of
        ``month`` left out (its hub is older than the figure), where NULL is not "hidden".
        Only rows with a NULL optional figure are read, their stored figures parsed."""
        mo = t.months.c
        query = select(mo.hub, mo.community, mo.detail).where(
            mo.month == month, or_(*(getattr(mo, k).is_(None) for k in t.OPTIONAL_COLUMNS))
        )
        if hubs is not None:
            query = query.where(mo.hub.in_(list(hubs)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        missing = set()
        for hub, community, detail in rows:
            figures = json.loads(detail)["figures"]
            missing |= {(hub, community, k) for k in t.OPTIONAL_COLUMNS if k not in figures}
        return missing

    def public_communities(self, hubs: Iterable[str] | None = None) -> set[tuple[str, str]]:
        """(hub, community) of every community with a public page: its latest month allows
        one (as ``is_public`` tells of one community)."""
        mo = t.months.c
        latest = select(mo.hub, mo.community, func.max(mo.month).label("month")).group_by(
            mo.hub, mo.community
        )
        if hubs is not None:
            latest = latest.where(mo.hub.in_(list(hubs)))
        last = latest.subquery("latest")
        query = (
            select(mo.hub, mo.community)
            .join(
                last,
                and_(
                    mo.hub == last.c.hub,
                    mo.community == last.c.community,
                    mo.month == last.c.month,
                ),
            )
            .where(mo.public.is_(True))
        )
        with self.engine.connect() as conn:
            return {(h, c) for h, c in conn.execute(query).all()}

    def is_public(self, hub: str, community: str) -> bool:
        """Whether the community's latest month allows a public page."""
        mo = t.months.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(mo.public)
                .where(mo.hub == hub, mo.community == community)
                .order_by(mo.month.desc())
                .limit(1)
            ).one_or_none()
        return bool(row and row.public)

    def hub_status(self) -> list[dict[str, Any]]:
        """Per hub: months received, the last one and when."""
        hm = t.hub_months.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(hm.hub, func.count(), func.max(hm.month), func.max(hm.received))
                .group_by(hm.hub)
                .order_by(hm.hub)
            ).all()
        return [
            {"hub": h, "months": int(n), "last_month": m, "last_received": r} for h, n, m, r in rows
        ]
