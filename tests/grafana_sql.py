"""Expands a panel's rawSql the way Grafana does before its PostgreSQL data source runs it, so the
tests can execute every dashboard query against a real, seeded database.

Three stages, in Grafana's order:
1. the browser's template service replaces dashboard variables (`$system`, `${system}`,
   `${system:csv}`, `[[system]]`) and the scoped built-ins `$__interval`, `$__interval_ms`,
   `$__from`, `$__to`, quoting values as the SQL data sources' `interpolateVariable` does;
2. the backend's global substitutions (`sqleng.Interpolate`): `$__interval_ms`, `$__interval`,
   `$__unixEpochFrom()`, `$__unixEpochTo()`;
3. the PostgreSQL macro engine (`pkg/tsdb/grafana-postgresql-datasource/macros.go`):
   `$__time`, `$__timeEpoch`, `$__timeFilter`, `$__timeFrom`, `$__timeTo`, `$__timeGroup`,
   `$__timeGroupAlias`, `$__unixEpochFilter`, `$__unixEpochNano*`, `$__unixEpochGroup[Alias]`.

Unlike Grafana, anything left unexpanded (an unknown macro, an unknown variable, a `$` that no stage
consumed) raises, so a test cannot pass on SQL that Grafana would reject or that only works by luck.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ALL_VALUE = "$__all"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# public/app/features/variables/utils.ts `variableRegex`.
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}",
    re.ASCII,
)
# macros.go `sExpr`: arguments cannot contain ')'.
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
# gtime `dateUnitPattern`, then Go's time.ParseDuration.
_DATE_UNIT = re.compile(r"^(\d+)([dwMy])$")
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_GO_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both micro signs
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_LEFTOVER = re.compile(r"\$\w|\$\{|\[\[\w")


class GrafanaSqlError(ValueError):
    """The SQL cannot be expanded the way Grafana would expand it."""


@dataclass(frozen=True)
class TemplateVariable:
    """A dashboard variable with its current selection; `selected=("$__all",)` means All."""

    name: str
    selected: Sequence[str]
    options: Sequence[str] = ()
    multi: bool = False
    include_all: bool = False
    custom_all_value: str | None = None


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a query: the time range, the panel interval, the variables."""

    time_from: datetime
    time_to: datetime
    interval: timedelta = timedelta(minutes=1)
    variables: Mapping[str, TemplateVariable] = field(default_factory=dict)
    timescaledb: bool = False

    def __post_init__(self) -> None:
        if self.time_from.tzinfo is None or self.time_to.tzinfo is None:
            raise ValueError("the time range must be timezone-aware")


def expand(sql: str, context: QueryContext) -> str:
    """The SQL that Grafana would send to Postgres for `sql`."""
    sql = interpolate_variables(sql, context)
    sql = interpolate_globals(sql, context)
    sql = interpolate_macros(sql, context)
    leftover = _LEFTOVER.search(sql)
    if leftover:
        start = max(leftover.start() - 20, 0)
        raise GrafanaSqlError(f"unexpanded macro or variable near {sql[start : leftover.end() + 20]!r}")
    return sql


# --- formatting helpers that reproduce Go's and Grafana's output ---------------------------------


def rfc3339_nano(moment: datetime) -> str:
    """Go's `t.UTC().Format(time.RFC3339Nano)`: trailing zeros of the fraction dropped, 'Z' for UTC."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def unix_seconds(moment: datetime) -> int:
    """Go's `t.Unix()` (floor of the seconds since the epoch)."""
    return (moment - _EPOCH) // timedelta(seconds=1)


def unix_nanoseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def unix_milliseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def go_float(value: float) -> str:
    """Go's `%v` of a float64, for the values macros print (whole seconds in practice)."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def format_interval(interval: timedelta) -> str:
    """gtime.FormatInterval (and the browser's rangeUtil.secondsToHms): the largest whole unit."""
    units = (
        (timedelta(days=365), "y"),
        (timedelta(days=1), "d"),
        (timedelta(hours=1), "h"),
        (timedelta(minutes=1), "m"),
        (timedelta(seconds=1), "s"),
        (timedelta(milliseconds=1), "ms"),
    )
    for unit, suffix in units:
        if interval >= unit:
            return f"{interval // unit}{suffix}"
    return "1ms"


def parse_interval(text: str) -> timedelta:
    """gtime.ParseInterval: `5m`, `1h30m`, `2d`, `1w`; months and years depend on the wall clock."""
    date_unit = _DATE_UNIT.match(text)
    if date_unit:
        number, unit = int(date_unit.group(1)), date_unit.group(2)
        if unit == "d":
            return timedelta(days=number)
        if unit == "w":
            return timedelta(weeks=number)
        raise GrafanaSqlError(f"interval {text!r}: month and year buckets depend on the wall clock")
    return _parse_go_duration(text)


def _parse_go_duration(text: str) -> timedelta:
    body = text
    sign = 1.0
    if body and body[0] in "+-":
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    if body == "0":
        return timedelta(0)
    if not body:
        raise GrafanaSqlError(f"error parsing interval {text}")
    seconds = 0.0
    position = 0
    while position < len(body):
        part = _GO_DURATION_PART.match(body, position)
        if part is None:
            raise GrafanaSqlError(f"error parsing interval {text}")
        seconds += float(part.group(1)) * _GO_UNIT_SECONDS[part.group(2)]
        position = part.end()
    return timedelta(seconds=sign * seconds)


# --- stage 1: the browser's template service -------------------------------------------------------


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format_values(variable: TemplateVariable, values: Sequence[str], fmt: str | None) -> str:
    if fmt is None:
        # SqlDatasource.interpolateVariable
        if variable.multi or variable.include_all:
            return ",".join(_quote_literal(value) for value in values)
        if len(values) != 1:
            raise GrafanaSqlError(f"variable {variable.name!r} is single-valued but has {list(values)}")
        return values[0].replace("'", "''")
    if fmt in ("csv", "raw"):
        return ",".join(values)
    if fmt == "sqlstring":
        return ",".join(_quote_literal(value) for value in values)
    if fmt == "singlequote":
        return ",".join("'" + value.replace("'", "\\'") + "'" for value in values)
    if fmt == "doublequote":
        return ",".join('"' + value.replace('"', '\\"') + '"' for value in values)
    raise GrafanaSqlError(f"variable format {fmt!r} is not supported here")


def _builtin_variable(name: str, context: QueryContext) -> str | None:
    builtins = {
        "__interval": format_interval(context.interval),
        "__interval_ms": str(context.interval // timedelta(milliseconds=1)),
        "__from": str(unix_milliseconds(context.time_from)),
        "__to": str(unix_milliseconds(context.time_to)),
    }
    return builtins.get(name)


def interpolate_variables(sql: str, context: QueryContext) -> str:
    """templateSrv.replace(rawSql, scopedVars, datasource.interpolateVariable)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if match.group(5):
            raise GrafanaSqlError(f"field paths in variables are not supported: {match.group(0)!r}")
        variable = context.variables.get(name)
        if variable is None:
            builtin = _builtin_variable(name, context)
            if builtin is not None:
                return builtin
            if name.startswith("__"):
                # Not a variable: a macro (or an unknown name) for the later stages.
                return match.group(0)
            raise GrafanaSqlError(f"unknown dashboard variable {match.group(0)!r}")
        values = list(variable.selected)
        if values == [ALL_VALUE]:
            if not variable.include_all:
                raise GrafanaSqlError(f"variable {name!r} has no All option")
            if variable.custom_all_value is not None and fmt not in ("text", "percentencode"):
                # Grafana inserts a custom all value unformatted.
                return variable.custom_all_value
            values = [option for option in variable.options if option != ALL_VALUE]
        elif ALL_VALUE in values:
            raise GrafanaSqlError(f"variable {name!r}: All cannot be combined with other values")
        return _format_values(variable, values, fmt)

    return _VARIABLE.sub(replace, sql)


# --- stage 2: sqleng.Interpolate -----------------------------------------------------------------


def interpolate_globals(sql: str, context: QueryContext) -> str:
    sql = sql.replace("$__interval_ms", str(context.interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(context.interval))
    sql = sql.replace("$__unixEpochFrom()", str(unix_seconds(context.time_from)))
    return sql.replace("$__unixEpochTo()", str(unix_seconds(context.time_to)))


# --- stage 3: the PostgreSQL macro engine --------------------------------------------------------


def interpolate_macros(sql: str, context: QueryContext) -> str:
    original = sql

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "__timeGroup":
            # Pre-5.3 compatibility: `$__timeGroup(...)` directly followed by ',' gets `AS "time"`.
            index = original.find(match.group(0))
            if index >= 0:
                after = index + len(match.group(0))
                if after < len(original) and original[after] == ",":
                    name = "__timeGroupAlias"
        args = [arg.strip(" ") for arg in match.group(2).split(",")]
        return _evaluate_macro(name, args, context)

    return _MACRO.sub(replace, sql)


def _check_fill(fill: str) -> None:
    """sqleng.SetupFillmode accepts NULL, previous or a number; filling happens after the query."""
    if fill in ("NULL", "previous"):
        return
    try:
        float(fill)
    except ValueError as error:
        raise GrafanaSqlError(f"error parsing fill value {fill}") from error


def _group_seconds(name: str, args: list[str]) -> float:
    if len(args) < 2:
        raise GrafanaSqlError(f"macro {name} needs time column and interval and optional fill value")
    interval = parse_interval(args[1].strip("'"))
    if len(args) == 3:
        _check_fill(args[2])
    return interval.total_seconds()


def _evaluate_macro(name: str, args: list[str], context: QueryContext) -> str:
    column = args[0]
    time_from, time_to = context.time_from, context.time_to
    if name == "__time":
        return f'{column} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {column}) as "time"'
    if name == "__timeFilter":
        return f"{column} BETWEEN '{rfc3339_nano(time_from)}' AND '{rfc3339_nano(time_to)}'"
    if name == "__timeFrom":
        return f"'{rfc3339_nano(time_from)}'"
    if name == "__timeTo":
        return f"'{rfc3339_nano(time_to)}'"
    if name == "__timeGroup":
        seconds = _group_seconds(name, args)
        if context.timescaledb:
            return f"time_bucket('{seconds:.3f}s',{column})"
        return f"floor(extract(epoch from {column})/{go_float(seconds)})*{go_float(seconds)}"
    if name == "__timeGroupAlias":
        return _evaluate_macro("__timeGroup", args, context) + ' AS "time"'
    if name == "__unixEpochFilter":
        return f"{column} >= {unix_seconds(time_from)} AND {column} <= {unix_seconds(time_to)}"
    if name == "__unixEpochNanoFilter":
        return f"{column} >= {unix_nanoseconds(time_from)} AND {column} <= {unix_nanoseconds(time_to)}"
    if name == "__unixEpochNanoFrom":
        return str(unix_nanoseconds(time_from))
    if name == "__unixEpochNanoTo":
        return str(unix_nanoseconds(time_to))
    if name == "__unixEpochGroup":
        seconds = _group_seconds(name, args)
        return f"floor(({column})/{go_float(seconds)})*{go_float(seconds)}"
    if name == "__unixEpochGroupAlias":
        return _evaluate_macro("__unixEpochGroup", args, context) + ' AS "time"'
    raise GrafanaSqlError(f"unknown macro {name!r}")
