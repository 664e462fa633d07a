"""Versions of one table: what a reader of several versions of a month gets by difference.

The open month is sent again and again (a day closes, today's figures change, late events
arrive); a reader who keeps every version takes the difference of a count between two of
them. ``MonthVersions`` hides a count whose value differs by 1 to k-1 from one shown
before, and keeps a value hidden before hidden; ``Figures.hide`` makes it a hidden cell
like any other (protected, complementary cells chosen around it). Checked over random
versions of random tables, with the attacker of ``harness.differencing`` on each version.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalyst_hub.reports.common import Suppressed
from catalyst_hub.reports.summary import MonthVersions, cell_key
from catalyst_hub.reports.suppression import Figures, decide
from harness.differencing import attack_table

K = 5


def hidden(shown, name) -> bool:
    return isinstance(shown[name], Suppressed)


def test_a_withheld_cell_is_hidden_without_a_bound_and_protected():
    f = Figures()
    for name, value in (("t", 22), ("a", 10), ("b", 12)):
        f.count(name, value)
    f.sum_of("t", "a", "b")
    f.hide("a")
    d = decide(f, K)
    assert d.shown["a"] == Suppressed(K, bounded=False)  # not "fewer than k": it is not
    assert hidden(d.shown, "b") or hidden(d.shown, "t")
    assert "a" not in attack_table(f, d.shown)


def test_a_withheld_cell_pinned_shown_is_hidden_and_named():
    """The members' history pinned it shown: the table fails closed and says so, for the
    history to follow (as with a pinned count below k)."""
    f = Figures()
    f.count("members", 40)
    f.pin("members", False)
    f.hide("members")
    d = decide(f, K)
    assert hidden(d.shown, "members") and d.unpinned == {"members"}


def test_only_shown_counts_can_be_withheld():
    f = Figures()
    f.count("a", 3, shown=False)
    with pytest.raises(ValueError):
        f.hide("a")
    with pytest.raises(ValueError):
        f.hide("b")


def test_cells_are_named_as_the_document_names_them():
    assert cell_key("members") == "members"
    assert cell_key(("step", "login")) == "step/login"
    assert cell_key(("app", "rstudio", "members")) == "app/rstudio/members"
    assert cell_key((date(2026, 12, 5), "active_day")) == "2026-12-05/active_day"


def one_version(counts: dict[str, int], versions: MonthVersions) -> tuple[Figures, dict]:
    """A month's table of ``counts``: t = a + b + c, and d, e among t's people."""
    f = Figures()
    for name, value in counts.items():
        f.count(name, value)
    f.sum_of("t", "a", "b", "c")
    f.part_of("t", "d", "e")
    versions.withhold("c1", f, K)
    d = decide(f, K)
    versions.record("c1", f, d.shown)
    return f, d.shown


def test_a_small_change_is_hidden_until_it_adds_up_to_k():
    before: dict = {}
    values = []
    for a in (20, 22, 24, 25, 25):
        versions = MonthVersions({"c1": before})
        counts = {"a": a, "b": 30, "c": 40, "d": 10, "e": 12}
        counts["t"] = counts["a"] + counts["b"] + counts["c"]
        _f, shown = one_version(counts, versions)
        values.append(None if hidden(shown, "a") else shown["a"])
        before = merge(before, versions.now["c1"])
    # 22 and 24 are 2 and 4 from the 20 shown; 25 is 5 from it; the last 25 was shown
    assert values == [20, None, None, 25, 25]


def merge(before: dict, now: dict) -> dict:
    """``consortium_versions`` after recording ``now``: a value shown once stays shown."""
    out = {cell: dict(seen) for cell, seen in before.items()}
    for cell, (value, shown) in now.items():
        seen = out.setdefault(cell, {})
        seen[value] = seen.get(value, False) or shown
    return out


@st.composite
def version_sequences(draw):
    """2 to 5 versions of the table, each count moving by a few people from the last."""
    names = ("a", "b", "c", "d", "e")
    counts = {n: draw(st.integers(0, 20)) for n in names}
    counts["d"] = min(counts["d"], counts["a"] + counts["b"] + counts["c"])
    out = []
    for _ in range(draw(st.integers(2, 5))):
        step = dict(counts)
        for n in names:
            step[n] = max(0, step[n] + draw(st.integers(-2, 6)))
        step["t"] = step["a"] + step["b"] + step["c"]
        if step["d"] + step["e"] > step["t"]:
            step["d"], step["e"] = step["t"] // 2, 0
        out.append(step)
        counts = step
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(version_sequences())
def test_no_two_versions_differ_by_fewer_than_k_and_nothing_hidden_comes_back(sequence):
    before: dict = {}
    shown_values: dict[str, list[int]] = {}
    hidden_values: dict[str, set[int]] = {}
    for counts in sequence:
        versions = MonthVersions({"c1": before})
        f, shown = one_version(counts, versions)
        assert not set(attack_table(f, shown)) & {n for n in f.counts if hidden(shown, n)}
        for name, value in shown.items():
            if hidden(shown, name):
                hidden_values.setdefault(name, set()).add(counts[name])
                continue
            for earlier in shown_values.get(name, []):
                assert value == earlier or abs(value - earlier) >= K, (name, value, earlier)
            # a value hidden in a version before (maybe to protect another) stays hidden
            assert value not in hidden_values.get(name, set()) or value in shown_values.get(
                name, []
            ), (name, value)
            shown_values.setdefault(name, []).append(value)
        before = merge(before, versions.now["c1"])
