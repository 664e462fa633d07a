"""Pinned cells in ``suppress``, and the members' history decided month after month.

A pinned cell is shown or hidden as decided elsewhere: never chosen as a complementary
cell, protected when hidden; when nothing else is left to hide, the policy fails closed and
says so. The members' history (``reports.summary.history_decision``) leaves no hidden
members or new members figure recoverable from the others, and a month's decision depends
on it and the months before only. Checked against an attacker written apart from the
policy (``harness.differencing``).
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalyst_hub.reports.common import Suppressed
from catalyst_hub.reports.summary import MonthCounts, history_decision, months_between
from catalyst_hub.reports.suppression import Figures, decide, suppress
from harness.differencing import Attack, attack_table

K = 5


def hidden(shown, name) -> bool:
    return isinstance(shown[name], Suppressed)


def test_a_pinned_shown_cell_is_never_the_complement():
    f = Figures()
    for name, value in (("t", 17), ("a", 2), ("b", 6), ("c", 9)):
        f.count(name, value)
    f.sum_of("t", "a", "b", "c")
    assert hidden(suppress(f, K), "b")  # the smallest other cell, unpinned
    f.pin("b", False)
    d = decide(f, K)
    assert not hidden(d.shown, "b") and hidden(d.shown, "c") and hidden(d.shown, "a")
    assert d.unpinned == set()


def test_a_pinned_hidden_cell_is_protected():
    f = Figures()
    for name, value in (("t", 22), ("a", 10), ("b", 12)):
        f.count(name, value)
    f.sum_of("t", "a", "b")
    f.pin("a", True)
    shown = suppress(f, K)
    assert shown["a"] == Suppressed(K, bounded=False)  # not a small count: no bound given
    assert hidden(shown, "b") or hidden(shown, "t")


def test_only_pinned_cells_left_fails_closed():
    """a = 2 is hidden; t and b are pinned shown, and t - b gives a: one of them is hidden
    all the same, and named, so that whoever pinned it can follow."""
    f = Figures()
    for name, value in (("t", 11), ("a", 2), ("b", 9)):
        f.count(name, value)
    f.sum_of("t", "a", "b")
    f.pin("t", False)
    f.pin("b", False)
    d = decide(f, K)
    assert hidden(d.shown, "a")
    assert d.unpinned == {"b"}  # the smaller one
    assert hidden(d.shown, "b") and not hidden(d.shown, "t")


def test_a_pinned_shown_small_count_is_hidden_anyway():
    f = Figures()
    f.count("t", 3)
    f.pin("t", False)
    d = decide(f, K)
    assert d.shown["t"] == Suppressed(K) and d.unpinned == {"t"}


def test_only_shown_counts_can_be_pinned():
    f = Figures()
    f.count("a", 3, shown=False)
    with pytest.raises(ValueError):
        f.pin("a", True)
    with pytest.raises(ValueError):
        f.pin("b", True)


@st.composite
def tables(draw):
    """Random nested counts with totals, some cells pinned shown or hidden."""
    f = Figures()
    wholes = []
    for i in range(draw(st.integers(1, 4))):
        whole = f"w{i}"
        left = draw(st.integers(0, 30))
        f.count(whole, left)
        wholes.append(whole)
        parts = []
        for j in range(draw(st.integers(1, 3))):
            n = draw(st.integers(0, left))
            left -= n
            parts.append(f.count(f"w{i}p{j}", n))
        if draw(st.booleans()):
            f.part_of(whole, *parts)
        else:
            f.count(f"w{i}r", left)
            f.sum_of(whole, *parts, f"w{i}r")
    if len(wholes) > 1:
        f.count("total", sum(f.counts[w] for w in wholes))
        f.sum_of("total", *wholes)
    names = sorted(f.counts)
    for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=4)):
        f.pin(name, draw(st.booleans()))
    return f


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_pinned_cells_are_kept_and_nothing_hidden_is_recovered(f):
    d = decide(f, K)
    for name, pinned_hidden in f.pinned.items():
        if pinned_hidden:
            assert hidden(d.shown, name), name
        else:
            assert hidden(d.shown, name) == (name in d.unpinned), name
    found = attack_table(f, d.shown)
    for name, value in found.items():
        if isinstance(name, tuple):  # a rest: protected when it counts 1 to k-1 people
            assert not 0 < value < K, (name, value, f)
        else:
            assert not hidden(d.shown, name), (name, value, f)


# -- the members' history ---------------------------------------------------------------------


def history(news: list[int], earlier: int = 0) -> list[MonthCounts]:
    months = months_between(date(2025, 1, 1), date(2025 + len(news) // 12, 12, 1))
    out, members = [], earlier
    for month, new in zip(months, news, strict=False):
        members += new
        out.append(MonthCounts(month, members, new))
    return out


def history_attack(counts: list[MonthCounts], decided) -> dict:
    a = Attack()
    known = {}
    for c in counts:
        for name, value in (("members", c.members), ("new_members", c.new_members)):
            known[(name, c.month)] = None if decided[c.month][name] else value
    for i, c in enumerate(counts):
        terms = {("members", c.month): 1, ("new_members", c.month): -1}
        if i:
            terms[("members", counts[i - 1].month)] = -1
        a.relation(terms, known)
    return a.determined()


def test_a_chain_across_months_is_cut():
    """New members 6, 2, 7, 0, 3, 12: the month of 2 hides its members too (8 - 6 would
    give it), the next shown members hide that month's new members (15 - 7 = 8 - 6 + 2)."""
    counts = history([6, 2, 7, 0, 3, 12])
    decided = history_decision(counts, K)
    got = [(d["members"], d["new_members"]) for d in decided.values()]
    assert got[0] == (False, False) and got[1] == (True, True)
    assert got[2] == (False, True) and got[3] == (False, False)
    assert history_attack(counts, decided) == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=18))
def test_history_leaves_nothing_recoverable_and_never_looks_ahead(news):
    counts = history(news)
    decided = history_decision(counts, K)
    for c in counts:
        for name, value in (("members", c.members), ("new_members", c.new_members)):
            if 0 < value < K:
                assert decided[c.month][name], (c, name)
    assert history_attack(counts, decided) == {}, (news, decided)
    # a month's decision is that of the months up to it, whatever follows
    for i in range(1, len(counts)):
        prefix = history_decision(counts[:i], K)
        assert prefix == {m: decided[m] for m in prefix}


def test_forced_cells_are_hidden_and_the_months_after_follow():
    counts = history([6, 6, 7, 8])
    assert not any(h for d in history_decision(counts, K).values() for h in d.values())
    forced = frozenset({("members", counts[1].month)})
    decided = history_decision(counts, K, forced)
    assert decided[counts[1].month]["members"]
    assert decided[counts[0].month] == {"members": False, "new_members": False}
    assert history_attack(counts, decided) == {}
