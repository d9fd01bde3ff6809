"""The Grafana SQL expander reproduces Grafana's exact output, and refuses what it cannot expand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.grafana_sql import (
    ALL_VALUE,
    GrafanaSqlError,
    QueryContext,
    TemplateVariable,
    expand,
    format_interval,
    parse_interval,
    rfc3339_nano,
)

FROM = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TO = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FROM_EPOCH = 1767603600
TO_EPOCH = 1767614400

SYSTEM = TemplateVariable(
    name="system",
    selected=[ALL_VALUE],
    options=["fraud-scoring", "search-ranking"],
    multi=True,
    include_all=True,
)


def context(
    *,
    interval: timedelta = timedelta(hours=1),
    variables: dict[str, TemplateVariable] | None = None,
    timescaledb: bool = False,
) -> QueryContext:
    return QueryContext(
        time_from=FROM,
        time_to=TO,
        interval=interval,
        variables={"system": SYSTEM} if variables is None else variables,
        timescaledb=timescaledb,
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "WHERE $__timeFilter(minute)",
            "WHERE minute BETWEEN '2026-01-05T09:00:00Z' AND '2026-01-05T12:00:00Z'",
        ),
        ("$__timeFrom() .. $__timeTo()", "'2026-01-05T09:00:00Z' .. '2026-01-05T12:00:00Z'"),
        ("$__timeGroup(minute,'5m')", "floor(extract(epoch from minute)/300)*300"),
        ("$__timeGroup(minute, 2d)", "floor(extract(epoch from minute)/172800)*172800"),
        ("$__timeGroup(minute,'1h30m')", "floor(extract(epoch from minute)/5400)*5400"),
        ("$__timeGroup(minute,'500ms')", "floor(extract(epoch from minute)/0.5)*0.5"),
        (
            "SELECT $__timeGroupAlias(mc.minute, $__interval), 1",
            'SELECT floor(extract(epoch from mc.minute)/3600)*3600 AS "time", 1',
        ),
        # Pre-5.3 compatibility: a ',' right after $__timeGroup(...) adds the alias ...
        (
            "SELECT $__timeGroup(minute,'5m'), count(*)",
            'SELECT floor(extract(epoch from minute)/300)*300 AS "time", count(*)',
        ),
        # ... and anything else does not.
        ("GROUP BY $__timeGroup(minute,'5m')", "GROUP BY floor(extract(epoch from minute)/300)*300"),
        ("$__time(opened_at)", 'opened_at AS "time"'),
        ("$__timeEpoch(opened_at)", 'extract(epoch from opened_at) as "time"'),
        ("$__unixEpochFilter(ts)", f"ts >= {FROM_EPOCH} AND ts <= {TO_EPOCH}"),
        ("$__unixEpochFrom() $__unixEpochTo()", f"{FROM_EPOCH} {TO_EPOCH}"),
        (
            "$__unixEpochNanoFilter(ns)",
            f"ns >= {FROM_EPOCH}000000000 AND ns <= {TO_EPOCH}000000000",
        ),
        ("$__unixEpochGroupAlias(ts, '1m')", 'floor((ts)/60)*60 AS "time"'),
        ("$__interval / $__interval_ms", "1h / 3600000"),
        ("$__from $__to", f"{FROM_EPOCH}000 {TO_EPOCH}000"),
        # Macro arguments cannot contain ')': Grafana cuts at the first one, and so do we.
        (
            "$__timeFilter(coalesce(a, b))",
            "coalesce(a BETWEEN '2026-01-05T09:00:00Z' AND '2026-01-05T12:00:00Z')",
        ),
    ],
)
def test_macros_expand_exactly_as_grafana(sql: str, expected: str) -> None:
    assert expand(sql, context()) == expected


def test_time_group_with_timescaledb_uses_time_bucket() -> None:
    assert expand("$__timeGroup(minute,'5m')", context(timescaledb=True)) == "time_bucket('300.000s',minute)"


def test_time_group_accepts_a_fill_argument() -> None:
    assert expand("$__timeGroup(minute,'5m', 0)", context()) == "floor(extract(epoch from minute)/300)*300"
    with pytest.raises(GrafanaSqlError, match="fill"):
        expand("$__timeGroup(minute,'5m', zero)", context())


def test_times_are_printed_in_utc_with_go_rfc3339_nano() -> None:
    assert rfc3339_nano(datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)) == "2026-01-05T09:00:00.5Z"
    assert rfc3339_nano(datetime(2026, 1, 5, 9, 0, 0, 120, tzinfo=UTC)) == "2026-01-05T09:00:00.00012Z"
    plus_two = datetime(2026, 1, 5, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339_nano(plus_two) == "2026-01-05T11:00:00Z"


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (timedelta(seconds=90), "1m"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=36), "1d"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=10), "1ms"),
        (timedelta(days=400), "1y"),
    ],
)
def test_intervals_are_formatted_in_the_largest_whole_unit(interval: timedelta, text: str) -> None:
    assert format_interval(interval) == text


@pytest.mark.parametrize("text", ["5x", "", "m", "1.5d", "1M", "2y"])
def test_bad_or_wall_clock_intervals_are_refused(text: str) -> None:
    with pytest.raises(GrafanaSqlError):
        parse_interval(text)


@pytest.mark.parametrize(
    ("selected", "sql", "expected"),
    [
        ([ALL_VALUE], "name IN ($system)", "name IN ('fraud-scoring','search-ranking')"),
        ([ALL_VALUE], "name IN (${system})", "name IN ('fraud-scoring','search-ranking')"),
        ([ALL_VALUE], "name IN ([[system]])", "name IN ('fraud-scoring','search-ranking')"),
        (["search-ranking"], "name IN ($system)", "name IN ('search-ranking')"),
        (["a", "b"], "'${system:csv}'", "'a,b'"),
        (["a", "b"], "${system:singlequote}", "'a','b'"),
        (["o'neil"], "name IN ($system)", "name IN ('o''neil')"),
        (["o'neil"], "${system:sqlstring}", "'o''neil'"),
    ],
)
def test_multi_value_variables_are_quoted_and_joined(selected: list[str], sql: str, expected: str) -> None:
    variable = TemplateVariable(
        name="system", selected=selected, options=SYSTEM.options, multi=True, include_all=True
    )
    assert expand(sql, context(variables={"system": variable})) == expected


def test_a_single_value_variable_is_escaped_but_not_quoted() -> None:
    variable = TemplateVariable(name="team", selected=["o'neil"])
    assert expand("owner = '$team'", context(variables={"team": variable})) == "owner = 'o''neil'"


def test_a_custom_all_value_is_inserted_unformatted() -> None:
    variable = TemplateVariable(
        name="system",
        selected=[ALL_VALUE],
        options=["a"],
        multi=True,
        include_all=True,
        custom_all_value="name",
    )
    assert expand("name IN ($system)", context(variables={"system": variable})) == "name IN (name)"


def test_an_empty_selection_gives_the_same_broken_sql_as_grafana() -> None:
    variable = TemplateVariable(name="system", selected=[], multi=True, include_all=True)
    assert expand("name IN ($system)", context(variables={"system": variable})) == "name IN ()"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("WHERE $__timeFiltr(minute)", "unknown macro"),
        ("WHERE $__timeFilter", "unexpanded"),
        ("WHERE minute > $__now", "unexpanded"),
        ("WHERE name = $team", "unknown dashboard variable"),
        ("WHERE name = ${system.text}", "field paths"),
        ("WHERE name IN (${system:percentencode})", "format"),
        ("$__timeGroup(minute)", "needs time column and interval"),
        ("$__timeGroup(minute, fortnight)", "error parsing interval"),
    ],
)
def test_anything_grafana_would_not_expand_raises(sql: str, message: str) -> None:
    with pytest.raises(GrafanaSqlError, match=message):
        expand(sql, context())


def test_all_requires_an_all_option() -> None:
    variable = TemplateVariable(name="system", selected=[ALL_VALUE], options=["a"], multi=True)
    with pytest.raises(GrafanaSqlError, match="no All option"):
        expand("$system", context(variables={"system": variable}))


def test_the_time_range_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        QueryContext(time_from=datetime(2026, 1, 5), time_to=TO)  # noqa: DTZ001
