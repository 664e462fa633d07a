"""Report parameters and CSV cells: whatever a query says, a period inside the years the
reports can compute, or a ValueError that says why; no cell a spreadsheet runs."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalyst_hub.i18n import gettext_for
from catalyst_hub.reports.common import FIRST_YEAR, LAST_YEAR, MAX_DAYS, Period, whole_number
from catalyst_hub.reports.export import Column, DataTable

TODAY = date(2026, 3, 15)

#: Text a query string may hold: digits of every script, signs, dates' punctuation.
QUERY_TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789-+ :WT²٣", max_size=24),
    st.builds(
        "{}-{:02d}-{:02d}".format,
        st.integers(0, 99999),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.builds("{}-{:02d}".format, st.integers(-10, 10**21), st.integers(-1, 13)),
    st.integers(-(10**30), 10**30).map(str),
)


@given(
    start=st.none() | QUERY_TEXT,
    end=st.none() | QUERY_TEXT,
    month=st.none() | QUERY_TEXT,
    days=st.none() | QUERY_TEXT,
    language=st.sampled_from(["en", "es", "pt", "fr"]),
)
def test_any_query_gives_a_computable_period_or_a_value_error(start, end, month, days, language):
    try:
        period = Period.parse(start, end, month, days, TODAY, _=gettext_for(language))
    except ValueError as e:
        assert str(e)
        return
    assert period.start.year >= FIRST_YEAR and period.end.year <= LAST_YEAR
    assert 1 <= period.days <= MAX_DAYS
    # what reports do with a period: weeks and months around it, the instant after it
    period.end_time, period.start - timedelta(days=400), period.end + timedelta(days=400)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"days": "²"}, "days must be a number from 1 to 3660, not '²'"),
        ({"days": "٣"}, "days must be a number from 1 to 3660, not '٣'"),
        ({"month": "0001-01"}, "dates must be in the years 2000 to 2100"),
        ({"month": "99999999999999999999-01"}, "month must be YYYY-MM, not '99999999999999999999'"),
        ({"start": "9990-01-01", "end": "9999-12-31"}, "dates must be in the years 2000 to 2100"),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "the period ends before it starts"),
        ({"start": "2001-01-01", "end": "2026-01-01"}, "a period may span at most 3660 days"),
        ({"start": "2026-3-1"}, "dates must be YYYY-MM-DD, not '2026-3-1'"),
    ],
)
def test_what_is_wrong_is_said(kwargs, message):
    with pytest.raises(ValueError) as e:
        Period.parse(**kwargs, today=TODAY)
    assert str(e.value) == message


def test_good_periods():
    assert Period.parse(days="7", today=TODAY) == Period(date(2026, 3, 9), TODAY)
    assert Period.parse(month="2026-02") == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert Period.parse(start="2026-03-01", today=TODAY) == Period(date(2026, 3, 1), TODAY)
    assert Period.parse(today=TODAY).days == 30


def test_whole_numbers_are_ascii_digits_only():
    assert whole_number("0") == 0 and whole_number("123") == 123
    for text in ("", "-1", "+1", " 1", "1.0", "²", "٣", "１", "9" * 19):
        assert whole_number(text) is None, text


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\n=1+1", "\r\n@x", "\t=x", "\x00=x", " =x", "\x7f-1"]
    + ["\nplain", "\x0bplain"],
)
def test_csv_cells_that_could_run_are_neutralised(cell):
    table = DataTable("t", "T", [Column("name", "Name", numeric=False)], [[cell]])
    rows = list(csv.reader(io.StringIO(table.csv())))
    assert rows[1] == ["'" + cell]


def test_csv_plain_cells_and_numbers_are_left_alone():
    table = DataTable(
        "t", "T", [Column("name", "Name", numeric=False), Column("n", "N")], [["a=b", -3]]
    )
    assert list(csv.reader(io.StringIO(table.csv())))[1] == ["a=b", "-3"]
