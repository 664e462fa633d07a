"""The one small-group suppression policy: how figures of a community reach outsiders.

Whoever is not scoped to a community (consortium staff with the unfiltered reports scope,
a metrics scraper) sees its figures only through ``suppress``. A view or an export describes
what it shows as ``Figures``: named counts, and the relations a reader could use to work a
hidden count out of the ones shown:

- ``part_of(whole, *parts)``: the parts are people among the whole's (activated members of
  all members, the 7-day window of the 30-day one, a step's newcomers of the step before).
  The rest, ``whole - sum(parts)``, is a count of people too, never shown but recoverable.
- ``sum_of(total, *parts)``: the total is exactly the parts added up (a total row).
- ``derived(name, value, *inputs)``: a percentage, mean, rate or any figure computed from
  other cells (server-hours of the members with a session, say).

The policy, applied to a whole view at once:

1. A count of 1 to k-1 people is hidden (shown as "fewer than k"); zero is shown. A rest
   (``whole - parts``) of 1 to k-1 people is protected the same way, though never shown.
2. Complementary suppression: while any hidden or protected count can still be worked out
   exactly from the shown cells by sums and differences over the declared relations (checked
   by linear algebra, not by rules of thumb), the smallest shown count of a relation it is in
   is hidden too (shown as "hidden", with no bound: its value may be large). Zero counts are
   hidden last, and a count of zero people is otherwise shown: it singles nobody out.
3. Every derived figure with a hidden or protected input is hidden.

A cell may be *pinned* (``pin``): shown or hidden as decided elsewhere, by a wider table
whose relations this one does not hold (a community's members month after month: see
``reports.summary``). A pinned hidden cell is protected like a small count; a pinned shown
cell is never chosen as a complementary cell, so other cells are hidden instead. Should
nothing but pinned shown cells be left to hide (a pinned shown count of 1 to k-1, or every
other cell of its relations already hidden), the policy fails closed: the cell is hidden all
the same, and ``decide`` names it so that the wider table can be made to agree.

A community's own staff (filtered scopes) and catalyst admins read exact figures; this
module is for everyone else. The same function serves views, exports, metrics and the
per-community aggregates a consortium publisher sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .common import Suppressed

Shown = Any  # a cell's value as shown: the true value, or a Suppressed


@dataclass
class Figures:
    """A table (or record) of named counts with their relations, before suppression.

    Names are free-form and unique within the table; a view with several communities or
    days names its cells ``(community, figure)`` or ``(day, figure)``, as tuples or strings.
    """

    counts: dict[Any, int] = field(default_factory=dict)
    #: counts of people (liable to primary suppression); other counts only follow relations
    people: set[Any] = field(default_factory=set)
    #: cells that take part in relations but are not part of the view (never shown)
    unshown: set[Any] = field(default_factory=set)
    #: (total, parts, with_rest): total = sum(parts) (+ an unshown rest when with_rest)
    relations: list[tuple[Any, tuple[Any, ...], bool]] = field(default_factory=list)
    derived_values: dict[Any, tuple[Any, tuple[Any, ...]]] = field(default_factory=dict)
    #: cells decided elsewhere: True hidden, False shown (never a complementary cell)
    pinned: dict[Any, bool] = field(default_factory=dict)
    #: counts hidden whatever their value, and protected as every hidden cell is (``hide``)
    withheld: set[Any] = field(default_factory=set)

    def count(self, name: Any, value: float, people: bool = True, shown: bool = True) -> Any:
        """A count; ``people=False`` for counts of things (sessions), ``shown=False`` for a
        count the view does not show but that relations or derived figures refer to."""
        if name in self.counts or name in self.derived_values:
            raise ValueError(f"figure {name!r} declared twice")
        self.counts[name] = int(value)
        if people:
            self.people.add(name)
        if not shown:
            self.unshown.add(name)
        return name

    def part_of(self, whole: Any, *parts: Any) -> None:
        """``parts`` are (disjoint) people among ``whole``'s; the rest is people too."""
        self._check(whole, *parts)
        self.relations.append((whole, tuple(parts), True))

    #: a shorter window of activity is a part of a longer one ending the same day
    window_of = part_of

    def sum_of(self, total: Any, *parts: Any) -> None:
        """``total`` is exactly ``parts`` added up."""
        self._check(total, *parts)
        self.relations.append((total, tuple(parts), False))

    def derived(self, name: Any, value: Any, *inputs: Any) -> Any:
        """A figure computed from ``inputs`` (counts or other derived figures)."""
        if name in self.counts or name in self.derived_values:
            raise ValueError(f"figure {name!r} declared twice")
        self._check(*inputs)
        self.derived_values[name] = (value, tuple(inputs))
        return name

    def pin(self, name: Any, hidden: bool) -> None:
        """``name`` is shown (``hidden=False``) or hidden as decided elsewhere."""
        self._check(name)
        if name not in self.counts or name in self.unshown:
            raise ValueError(f"only a shown count can be pinned: {name!r}")
        self.pinned[name] = hidden

    def hide(self, name: Any) -> None:
        """Hide the count ``name`` whatever its value, as a cell hidden to protect another:
        an earlier version of the table showed a value it differs from by fewer than k."""
        self._check(name)
        if name not in self.counts or name in self.unshown:
            raise ValueError(f"only a shown count can be hidden: {name!r}")
        self.withheld.add(name)

    def _check(self, *names: Any) -> None:
        unknown = [n for n in names if n not in self.counts and n not in self.derived_values]
        if unknown:
            raise ValueError(f"undeclared figures: {unknown!r}")


@dataclass(frozen=True)
class _Rest:
    """The never shown rest ``whole - sum(parts)`` of the ``relation``-th relation."""

    relation: int


@dataclass
class Decision:
    """What ``decide`` shows, and which pinned shown cells it had to hide all the same."""

    shown: dict[Any, Shown]
    #: pinned shown cells hidden to fail closed (the table that pinned them must follow)
    unpinned: set[Any] = field(default_factory=set)


def suppress(figures: Figures, k: int) -> dict[Any, Shown]:
    """Every shown figure's value, or a Suppressed where the policy hides it."""
    return decide(figures, k).shown


def decide(figures: Figures, k: int) -> Decision:
    """``suppress``, saying also which pinned shown cells had to be hidden."""
    counts = figures.counts
    # the unknowns of the system a reader could solve: unshown cells and rests
    rests: dict[int, int] = {}
    for i, (total, parts, with_rest) in enumerate(figures.relations):
        if with_rest:
            rests[i] = counts[total] - sum(counts[p] for p in parts)

    def sensitive(value: int) -> bool:
        return 0 < value < k

    primary = {n for n in figures.people if sensitive(counts[n]) and n not in figures.unshown}
    protected: set[Any] = {n for n in figures.people if sensitive(counts[n])}
    protected |= {_Rest(i) for i, v in rests.items() if sensitive(v)}
    # a pinned hidden cell is protected as every hidden cell is (below)
    pinned_hidden = {n for n, h in figures.pinned.items() if h} | figures.withheld
    # a pinned shown count of 1 to k-1, or one to withhold, is hidden all the same (fail
    # closed)
    unpinned = {
        n for n, h in figures.pinned.items() if not h and (n in primary or n in figures.withheld)
    }
    hidden = primary | pinned_hidden
    fixed = {n for n, h in figures.pinned.items() if not h}
    while True:
        # a cell hidden to protect another is protected too: nothing hidden is recoverable
        exposed = _exposed(figures, hidden, rests, protected | hidden)
        if not exposed:
            break
        extra = _complement(figures, hidden | fixed, exposed)
        if extra is None:
            # only pinned shown cells left: hide one of them rather than leak
            extra = _complement(figures, hidden, exposed)
            if extra is None:  # nothing left to hide: cannot happen for consistent figures
                break
            unpinned.add(extra)
        hidden.add(extra)

    out: dict[Any, Shown] = {}
    for name, value in counts.items():
        if name in figures.unshown:
            continue
        if name in primary:
            out[name] = Suppressed(k)
        elif name in hidden:
            out[name] = Suppressed(k, bounded=False)
        else:
            out[name] = value
    # in declaration order, so a figure derived from a hidden derived figure is hidden too
    withheld = hidden | protected
    for name, (value, inputs) in figures.derived_values.items():
        if any(i in withheld for i in inputs):
            withheld.add(name)
            out[name] = Suppressed(k, bounded=False)
        else:
            out[name] = value
    return Decision(out, unpinned)


def _unknowns(figures: Figures, hidden: set[Any], rests: Mapping[int, int]) -> list[Any]:
    cells = [n for n in figures.counts if n in hidden or n in figures.unshown]
    return cells + [_Rest(i) for i in rests]


def _exposed(
    figures: Figures, hidden: set[Any], rests: Mapping[int, int], protected: set[Any]
) -> list[Any]:
    """Protected cells a reader can work out exactly from the shown ones."""
    unknowns = _unknowns(figures, hidden, rests)
    index = {name: i for i, name in enumerate(unknowns)}
    rows: list[dict[int, Fraction]] = []
    for r, (total, parts, with_rest) in enumerate(figures.relations):
        row: dict[int, Fraction] = {}
        for name, sign in ((total, 1), *((p, -1) for p in parts)):
            if name in index:
                row[index[name]] = row.get(index[name], Fraction(0)) + sign
        if with_rest:
            row[index[_Rest(r)]] = Fraction(-1)
        row = {c: v for c, v in row.items() if v}
        if row:
            rows.append(row)
    determined = _determined(rows)
    return [name for name in unknowns if name in protected and index[name] in determined]


def _determined(rows: list[dict[int, Fraction]]) -> set[int]:
    """Columns whose unit vector lies in the span of ``rows`` (sparse, exact): the unknowns
    the equations pin down whatever the values. Gauss-Jordan to reduced row echelon form;
    a column is determined when its pivot row has no other entry."""
    pivots: dict[int, dict[int, Fraction]] = {}
    for row in rows:
        row = dict(row)
        for col, prow in pivots.items():
            if col in row:
                factor = row[col]
                for c, v in prow.items():
                    row[c] = row.get(c, Fraction(0)) - factor * v
                row = {c: v for c, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        lead = row[col]
        row = {c: v / lead for c, v in row.items()}
        for other in pivots.values():
            if col in other:
                factor = other[col]
                for c, v in row.items():
                    other[c] = other.get(c, Fraction(0)) - factor * v
                for c in [c for c, v in other.items() if not v]:
                    del other[c]
        pivots[col] = row
    return {col for col, row in pivots.items() if len(row) == 1}


def _complement(figures: Figures, hidden: set[Any], exposed: Iterable[Any]) -> Any | None:
    """The next cell to hide: the smallest shown count (non-zero first) of a relation that
    links to an exposed cell, looking further along the relations when those are hidden
    (``hidden``: the cells not to choose, hidden or pinned shown)."""
    shown = {n for n in figures.counts if n not in hidden and n not in figures.unshown}
    frontier = set(exposed)
    seen: set[Any] = set()
    while frontier:
        seen |= frontier
        candidates: set[Any] = set()
        reached: set[Any] = set()
        for r, (total, parts, with_rest) in enumerate(figures.relations):
            members = {total, *parts} | ({_Rest(r)} if with_rest else set())
            if members & frontier:
                candidates |= members & shown
                reached |= members
        if candidates:
            return min(
                candidates, key=lambda n: (figures.counts[n] == 0, figures.counts[n], str(n))
            )
        frontier = reached - seen
    return None


def to_json(value: Shown) -> Any:
    """A shown value as JSON: ``{"suppressed": true, ...}`` for a hidden one."""
    return value.to_json() if isinstance(value, Suppressed) else value
