"""The engine (minute buckets -> app.core.budgeting) must equal the brute-force reference exactly.

Random event streams with gaps, bursts, events on minute and slice boundaries and out-of-order
(late) arrival; random recurring exclusions in DST zones; rolling and calendar windows fixed near
the March, October and November DST changes; all three budgeting methods and value slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.budgeting import EPOCH, MinuteCounts, budget_for_method, value_timeslices_budget
from app.core.calendar import CalendarUnit, calendar_window, rolling_window
from app.core.exclusions import ExclusionRule, exclusion_intervals
from app.core.sli_catalog import BudgetingMethod, Comparison
from tests.reference_evaluator import (
    RawEvent,
    excluded_spans,
    reference_budget,
    reference_calendar_window,
    reference_rolling_window,
    reference_value_budget,
)

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo")
# US spring forward, EU spring forward, EU fall back, US fall back (2026).
DST_CHANGES = (
    (datetime(2026, 3, 8, 7, tzinfo=UTC), "America/New_York"),
    (datetime(2026, 3, 29, 1, tzinfo=UTC), "Europe/Paris"),
    (datetime(2026, 10, 25, 1, tzinfo=UTC), "Europe/Paris"),
    (datetime(2026, 11, 1, 6, tzinfo=UTC), "America/New_York"),
)
RRULES = (
    None,
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=SU",
    "FREQ=WEEKLY;BYDAY=MO,TH",
    "FREQ=DAILY;INTERVAL=2",
    "FREQ=HOURLY;INTERVAL=7",
    "FREQ=DAILY;COUNT=3",
)
SLICE_LENGTHS = tuple(timedelta(minutes=minutes) for minutes in (1, 5, 7, 60, 60, 1440))
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Edges:
    """Boundaries that events are drawn onto."""

    slice_length: timedelta
    slice_origin: datetime
    exclusion_edges: tuple[datetime, ...]


def bucket_by_minute(events: list[RawEvent]) -> list[MinuteCounts]:
    """What storage does: count events per minute of their event time, in any arrival order."""
    counts: dict[datetime, list[int]] = {}
    for event in events:
        minute = event.time - timedelta(seconds=event.time.second, microseconds=event.time.microsecond)
        counts.setdefault(minute, [0, 0])
        counts[minute][0] += event.good
        counts[minute][1] += 1
    return [MinuteCounts(minute, good=good, total=total) for minute, (good, total) in counts.items()]


@st.composite
def windows(draw: st.DrawFn, change: datetime) -> tuple[str, datetime, datetime]:
    """(description, start, end) near a DST change, checking the engine's window against the
    reference's."""
    now = change + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    if draw(st.booleans()):
        period = timedelta(minutes=draw(st.integers(1, 4 * 1440)))
        window = rolling_window(period, now)
        assert window == reference_rolling_window(period, now)
        return f"rolling {period}", *window
    unit: CalendarUnit = draw(st.sampled_from(("day", "day", "week", "month", "quarter")))
    zone = draw(st.sampled_from(ZONES))
    now += timedelta(microseconds=draw(st.integers(0, 59_999_999)))
    window = calendar_window(unit, zone, now)
    assert window == reference_calendar_window(unit, zone, now)
    assert window[0] <= now < window[1]
    return f"{unit} in {zone}", *window


@st.composite
def moments_near(draw: st.DrawFn, start: datetime, end: datetime, edges: Edges) -> datetime:
    """A time in or just around the window, often exactly on (or 1 µs before) a boundary: of a
    minute, a slice, the window or an excluded span."""
    span_minutes = int((end - start) / MINUTE)
    kind = draw(st.sampled_from(("minute", "slice", "slice", "edge", "edge", "edge", "anywhere")))
    if kind == "minute":
        moment = start + MINUTE * draw(st.integers(-2, span_minutes + 2))
    elif kind == "slice":
        first_slice = edges.slice_origin + edges.slice_length * (
            (start - edges.slice_origin) // edges.slice_length
        )
        moment = first_slice + edges.slice_length * draw(
            st.integers(0, int((end - start) / edges.slice_length) + 1)
        )
    elif kind == "edge":
        moment = draw(st.sampled_from((start, end, *edges.exclusion_edges)))
    else:
        moment = start + timedelta(
            microseconds=draw(st.integers(-3_600_000_000, int((end - start) / timedelta(microseconds=1))))
        )
    if draw(st.booleans()):
        moment -= timedelta(microseconds=draw(st.sampled_from((1, 1, 59_999_999, 60_000_000))))
    return moment


@st.composite
def event_streams(draw: st.DrawFn, start: datetime, end: datetime, edges: Edges) -> list[RawEvent]:
    """Bursts around a few anchors, leaving gaps between them."""
    events: list[RawEvent] = []
    for _ in range(draw(st.integers(0, 8))):
        anchor = draw(moments_near(start, end, edges))
        spread = draw(st.sampled_from((timedelta(0), MINUTE, edges.slice_length, 3 * edges.slice_length)))
        bad_share = draw(st.sampled_from((0.0, 0.05, 0.5, 1.0)))
        for _ in range(draw(st.integers(1, 25))):
            offset = draw(st.integers(0, int(spread / timedelta(microseconds=1))))
            good = draw(st.floats(0, 1)) >= bad_share
            events.append(RawEvent(anchor + timedelta(microseconds=offset), good))
    return events


@st.composite
def exclusion_rules(
    draw: st.DrawFn, start: datetime, end: datetime, change: tuple[datetime, str]
) -> list[ExclusionRule]:
    rules = []
    for number in range(draw(st.integers(0, 3))):
        # Either anywhere from 20 days before the window, or just before the window's DST change
        # in the zone that changes, so that spans straddle it. The start is a local wall time, as
        # people write "Sunday 02:00 in Paris" (it may fall in a DST gap).
        near_change = draw(st.booleans())
        zone_name = change[1] if near_change else draw(st.sampled_from(ZONES))
        zone = ZoneInfo(zone_name)
        origin = change[0] if near_change else start - timedelta(days=20)
        latest = 0 if near_change else int((end - start) / MINUTE) + 20 * 1440
        local = origin.astimezone(zone).replace(tzinfo=None) + timedelta(
            minutes=draw(st.integers(-360, latest)),
            seconds=draw(st.sampled_from((0, 0, 0, 1, 30, 59))),
        )
        duration = draw(
            st.one_of(
                st.integers(1, 360).map(lambda minutes: timedelta(minutes=minutes)),
                st.integers(1, 7200).map(lambda seconds: timedelta(seconds=seconds)),
            )
        )
        rules.append(
            ExclusionRule(
                reason=f"exclusion {number}",
                first_start=local.replace(tzinfo=zone),
                duration=duration,
                rrule=draw(st.sampled_from(RRULES)),
                time_zone=zone_name,
            )
        )
    return rules


OBJECTIVES = st.sampled_from((0.5, 0.9, 0.95, 0.99, 0.999)) | st.floats(0.01, 0.9999)
SLICE_TARGETS = st.sampled_from((0.0, 0.5, 0.8, 0.9, 0.95, 1.0)) | st.floats(0, 1)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_engine_equals_reference(data: st.DataObject) -> None:
    change = data.draw(st.sampled_from(DST_CHANGES))
    description, start, end = data.draw(windows(change[0]))
    method = data.draw(st.sampled_from(tuple(BudgetingMethod)))
    slice_length = data.draw(st.sampled_from(SLICE_LENGTHS))
    slice_origin = data.draw(st.sampled_from((EPOCH, start)))
    slice_target = data.draw(SLICE_TARGETS)
    objective = data.draw(OBJECTIVES)
    rules = data.draw(exclusion_rules(start, end, change))
    # Edges of excluded spans as the reference sees them, so that the engine's intervals do not
    # decide what gets tested.
    spans = [span for span in excluded_spans(rules, end) if span[1] > start - MINUTE]
    edges = Edges(slice_length, slice_origin, tuple(moment for span in spans[:50] for moment in span))
    events = data.draw(event_streams(start, end, edges))

    # Late data: events arrive in any order, and late ones land in rows of their own for minutes
    # that already have one.
    arrived = data.draw(st.permutations(events))
    on_time_count = data.draw(st.integers(0, len(arrived)))
    buckets = bucket_by_minute(arrived[:on_time_count]) + bucket_by_minute(arrived[on_time_count:])

    settings_ = {"objective": objective, "slice_length": slice_length, "slice_target": slice_target}
    engine = budget_for_method(
        method,
        buckets,
        start=start,
        end=end,
        excluded=exclusion_intervals(rules, start, end),
        slice_origin=slice_origin,
        **settings_,  # type: ignore[arg-type]
    )
    reference = reference_budget(
        events,
        start=start,
        end=end,
        exclusions=rules,
        method=method,
        slice_origin=slice_origin,
        **settings_,  # type: ignore[arg-type]
    )
    assert engine == reference, description


@settings(max_examples=200, deadline=None)
@given(
    values=st.dictionaries(
        st.integers(0, 500).map(lambda hour: EPOCH + timedelta(hours=hour)),
        st.none() | st.sampled_from((0.0, 0.1, 0.3, 0.5, 1.0)) | st.floats(-10, 10),
        max_size=40,
    ),
    op=st.sampled_from(tuple(Comparison)),
    threshold=st.sampled_from((0.0, 0.3, 0.5)) | st.floats(-10, 10),
    objective=OBJECTIVES,
)
def test_value_slices_equal_reference(
    values: dict[datetime, float | None], op: Comparison, threshold: float, objective: float
) -> None:
    engine = value_timeslices_budget(values, op=op, threshold=threshold, objective=objective)
    assert engine == reference_value_budget(values, op=op, threshold=threshold, objective=objective)


@settings(max_examples=300, deadline=None)
@given(
    now=st.datetimes(
        min_value=datetime(2025, 12, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2027, 2, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    unit=st.sampled_from(("day", "week", "month", "quarter")),
    zone=st.sampled_from((*ZONES, "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago")),
)
def test_calendar_windows_equal_reference(now: datetime, unit: CalendarUnit, zone: str) -> None:
    assert calendar_window(unit, zone, now) == reference_calendar_window(unit, zone, now)
