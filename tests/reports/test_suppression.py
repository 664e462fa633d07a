"""The suppression policy on its own: primary, derived and complementary cells."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from catalyst_hub.reports.common import Suppressed
from catalyst_hub.reports.suppression import Figures, suppress
from harness.differencing import combination

FEWER = Suppressed(5)
HIDDEN = Suppressed(5, bounded=False)


def test_small_counts_and_what_is_drawn_from_them_are_hidden():
    f = Figures()
    f.count("members", 12)
    f.count("activated", 3)
    f.part_of("members", "activated")
    f.derived("percent", 25.0, "activated", "members")
    f.derived("of_percent", 1.0, "percent")
    assert suppress(f, 5) == {
        "members": 12,
        "activated": FEWER,
        "percent": HIDDEN,
        "of_percent": HIDDEN,
    }


def test_zero_is_shown():
    f = Figures()
    f.count("members", 6)
    f.count("activated", 0)
    f.part_of("members", "activated")
    assert suppress(f, 5) == {"members": 6, "activated": 0}


def test_a_small_difference_hides_the_smaller_cell():
    # 12 members, 10 activated: the two not activated would be told by the difference
    f = Figures()
    f.count("members", 12)
    f.count("activated", 10)
    f.part_of("members", "activated")
    assert suppress(f, 5) == {"members": 12, "activated": HIDDEN}


def test_windows_chain():
    # 30 days 20, 7 days 18, today 17: both differences are small
    f = Figures()
    for name, n in (("d30", 20), ("d7", 18), ("d1", 17)):
        f.count(name, n)
    f.window_of("d30", "d7")
    f.window_of("d7", "d1")
    shown = suppress(f, 5)
    assert shown["d30"] == 20
    assert shown["d7"] == HIDDEN and shown["d1"] == HIDDEN


def test_a_total_row_gets_a_second_hidden_cell():
    f = Figures()
    for name, n in (("a", 2), ("b", 9), ("c", 30)):
        f.count(name, n)
    f.count("total", 41)
    f.sum_of("total", "a", "b", "c")
    shown = suppress(f, 5)
    # a is below k; b, the next smallest, is hidden too, so total - c gives a + b only
    assert shown == {"a": FEWER, "b": HIDDEN, "c": 30, "total": 41}


def test_counts_of_things_follow_relations_but_are_not_primary():
    f = Figures()
    f.count("sessions", 3, people=False)
    f.count("members", 7)
    f.derived("hours", 2.5, "members")
    assert suppress(f, 5) == {"sessions": 3, "members": 7, "hours": 2.5}


def test_unshown_counts_are_protected_and_never_shown():
    f = Figures()
    f.count("members", 9)
    f.count("with_session", 2, shown=False)
    f.derived("hours", 4.0, "with_session")
    assert suppress(f, 5) == {"members": 9, "hours": HIDDEN}


def test_declaring_a_figure_twice_or_an_unknown_one_is_an_error():
    f = Figures()
    f.count("a", 1)
    with pytest.raises(ValueError):
        f.count("a", 2)
    with pytest.raises(ValueError):
        f.part_of("a", "b")


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_leave_nothing_recoverable(seed):
    """Random nested counts with totals: no hidden cell, and no small rest, is pinned down
    by the shown cells, whatever the relations."""
    rng = random.Random(seed)
    k = rng.choice([3, 5, 10])
    f = Figures()
    names = []
    relations = []  # (whole, parts, with_rest)
    for i in range(rng.randint(2, 5)):
        whole = f"w{i}"
        f.count(whole, rng.randint(0, 40))
        names.append(whole)
        left = f.counts[whole]
        parts = []
        for j in range(rng.randint(1, 3)):
            n = rng.randint(0, left)
            left -= n
            part = f"w{i}p{j}"
            f.count(part, n)
            names.append(part)
            parts.append(part)
        if rng.random() < 0.5:
            f.part_of(whole, *parts)
            relations.append((whole, parts, True))
        else:
            f.part_of(whole, parts[0])
            relations.append((whole, parts[:1], True))
    wholes = [n for n in names if "p" not in n]
    if len(wholes) > 1:
        f.count("total", sum(f.counts[w] for w in wholes))
        names.append("total")
        f.sum_of("total", *wholes)
        relations.append(("total", wholes, False))
    shown = suppress(f, k)

    hidden = [n for n in names if isinstance(shown[n], Suppressed)]
    for n in names:
        if 0 < f.counts[n] < k:
            assert shown[n] == Suppressed(k), n
    columns = hidden + [("rest", i) for i, r in enumerate(relations) if r[2]]
    col = {c: i for i, c in enumerate(columns)}
    rows, rests = [], {}
    for i, (whole, parts, with_rest) in enumerate(relations):
        row = [Fraction(0)] * len(columns)
        for name, sign in ((whole, 1), *((p, -1) for p in parts)):
            if name in col:
                row[col[name]] += sign
        if with_rest:
            row[col[("rest", i)]] -= 1
            rests[("rest", i)] = f.counts[whole] - sum(f.counts[p] for p in parts)
        rows.append(row)
    for target in columns:
        if target in rests and not 0 < rests[target] < k:
            continue
        assert not combination(rows, col[target], len(columns)), (target, f.counts, shown)
