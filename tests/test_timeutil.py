"""parse_time: every ISO 8601 time it accepts becomes naive UTC; anything else, a ValueError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalyst_hub.jsonlimits import MAX_DEPTH, JSONLimitError, check_json
from catalyst_hub.timeutil import is_time, parse_time


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-03-01T10:00:00Z", datetime(2025, 3, 1, 10)),
        ("2025-03-01T10:00:00+02:00", datetime(2025, 3, 1, 8)),
        ("2025-03-01T00:30:00+01:00", datetime(2025, 2, 28, 23, 30)),
        ("2025-03-01T10:00:00", datetime(2025, 3, 1, 10)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1)),
        ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59)),
    ],
)
def test_times_become_naive_utc(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2025-12-31T23:59:60Z",  # a leap second: datetime has none
        "2025-02-30T00:00:00Z",
        "yesterday",
        "",
        "Z",
    ],
)
def test_times_out_of_range_or_malformed_raise_value_error(text):
    with pytest.raises(ValueError):
        parse_time(text)
    assert not is_time(text)


@given(
    st.datetimes(timezones=st.just(timezone.utc)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_any_offset_either_parses_to_the_same_instant_or_raises_value_error(moment, minutes):
    offset = timezone(timedelta(minutes=minutes))
    try:
        local = moment.astimezone(offset)
    except OverflowError:  # no such local time: write it by hand
        return
    try:
        parsed = parse_time(local.isoformat())
    except ValueError:
        return
    assert parsed == moment.replace(tzinfo=None)


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text):
    try:
        parsed = parse_time(text)
    except ValueError:
        return
    assert parsed.tzinfo is None


def nested(depth: int):
    """A value ``depth`` arrays and objects deep."""
    value: object = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_json_limits():
    check_json(nested(MAX_DEPTH))
    check_json({"text": "any text at all", "n": [1, 2.5, None, True]})
    for value, reason in (
        (nested(MAX_DEPTH + 1), "depth"),
        (nested(100_000), "depth"),  # iterative: no RecursionError
        ({"a": ["b", "c\x00"]}, "nul"),
        ({"a\x00": 1}, "nul"),
    ):
        with pytest.raises(JSONLimitError) as e:
            check_json(value)
        assert e.value.reason == reason
