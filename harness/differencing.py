"""A differencing attacker, written apart from ``catalyst_hub.reports.suppression``.

A reader of published figures knows some values and some exact linear relations between
them (a total is its parts added up, members grow by the new members). ``Attack`` collects
those relations with the values it was shown substituted, and tells which unknowns (hidden
figures) the relations determine: an unknown is determined when adding its unit vector to
the system does not raise the rank, i.e. it is a combination of the equations. Dense
exact arithmetic (fractions), one connected component of unknowns at a time.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from catalyst_hub.reports.common import Suppressed


class Attack:
    def __init__(self) -> None:
        #: equations: ({unknown: coefficient}, constant), meaning sum(c * x) = constant
        self.equations: list[tuple[dict[Hashable, Fraction], Fraction]] = []
        self.inconsistent: list[tuple[Mapping[Hashable, float], Mapping[Hashable, float]]] = []

    def relation(
        self,
        terms: Mapping[Hashable, float],
        known: Mapping[Hashable, float | None],
    ) -> None:
        """``sum(coefficient * value) = 0`` over ``terms`` (name: coefficient); ``known``
        gives each name's shown value, or None when the name is hidden (an unknown)."""
        row: dict[Hashable, Fraction] = {}
        constant = Fraction(0)
        for name, coefficient in terms.items():
            value = known[name]
            if value is None:
                row[name] = row.get(name, Fraction(0)) + Fraction(coefficient)
            else:
                constant -= Fraction(coefficient) * Fraction(value)
        row = {n: c for n, c in row.items() if c}
        if row:
            self.equations.append((row, constant))
        elif constant:
            # shown values that break a relation the reader assumed: recorded for the test
            self.inconsistent.append((dict(terms), {n: known[n] for n in terms}))

    def determined(self) -> dict[Hashable, Fraction]:
        """Every unknown the equations pin down, with the value they give it."""
        found: dict[Hashable, Fraction] = {}
        for component in self._components():
            found.update(_solve_component(component))
        return found

    def _components(self) -> list[list[tuple[dict[Hashable, Fraction], Fraction]]]:
        parent: dict[Hashable, Hashable] = {}

        def root(x: Hashable) -> Hashable:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for row, _ in self.equations:
            names = list(row)
            for other in names[1:]:
                parent[root(other)] = root(names[0])
        groups: dict[Hashable, list[tuple[dict[Hashable, Fraction], Fraction]]] = {}
        for equation in self.equations:
            groups.setdefault(root(next(iter(equation[0]))), []).append(equation)
        return list(groups.values())


def echelon(rows: list[list[Fraction]], width: int) -> tuple[list[list[Fraction]], dict[int, int]]:
    """Reduced row echelon form of ``rows`` (over their first ``width`` columns; further
    columns, a right-hand side, follow along) and each pivot column's row."""
    rows = [r[:] for r in rows]
    pivots: dict[int, int] = {}
    r = 0
    for c in range(width):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c]), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][c]
        rows[r] = [v / lead for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c]:
                f = rows[i][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots[c] = r
        r += 1
    return rows, pivots


def combination(rows: list[list[Fraction]], target: int, width: int) -> bool:
    """Whether the unit vector of column ``target`` is a combination of ``rows`` (the
    equations determine that unknown): adding it does not raise the rank."""
    unit = [Fraction(int(i == target)) for i in range(width)]
    return len(echelon(rows, width)[1]) == len(echelon([*rows, unit], width)[1])


def _solve_component(
    equations: Iterable[tuple[dict[Hashable, Fraction], Fraction]],
) -> dict[Hashable, Fraction]:
    equations = list(equations)
    names = sorted({n for row, _ in equations for n in row}, key=repr)
    index = {n: i for i, n in enumerate(names)}
    width = len(names)
    matrix = []
    for row, _ in equations:
        dense = [Fraction(0)] * width
        for n, c in row.items():
            dense[index[n]] = c
        matrix.append(dense)
    determined = [n for n in names if combination(matrix, index[n], width)]
    if not determined:
        return {}
    # the values: the reduced form of the system with its right-hand side
    rows, pivots = echelon([m + [c] for m, (_, c) in zip(matrix, equations, strict=True)], width)
    return {n: rows[pivots[index[n]]][width] for n in determined}


def attack_table(figures: Any, shown: Mapping[Hashable, Any]) -> dict[Hashable, Fraction]:
    """What a reader of ``shown`` (a ``suppress`` result: values, or hidden ones) works out
    from the relations of the table ``figures`` (a ``reports.suppression.Figures``), its
    rests and unshown cells taken as unknowns."""
    a = Attack()
    known: dict[Hashable, Any] = {
        n: (None if isinstance(v, Suppressed) else v)
        for n, v in shown.items()
        if n in figures.counts
    }
    known |= {n: None for n in figures.unshown}
    for i, (total, parts, with_rest) in enumerate(figures.relations):
        terms = {total: 1}
        for p in parts:
            terms[p] = terms.get(p, 0) - 1
        if with_rest:
            terms[("rest", i)] = -1
            known[("rest", i)] = None
        a.relation(terms, known)
    return a.determined()
