"""Window sums from the minute/hour/day levels equal a plain SUM over the minutes, late data
included, on real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.service import Scope
from app.clock import ManualClock
from app.core.evaluation import windows_needed
from app.core.windows import WindowCounts
from app.db import SessionFactory
from app.measurements import repository
from app.measurements.repository import DAY_LEVEL, HOUR_LEVEL, MINUTE_LEVEL, window_segments
from tests.conftest import make_key
from tests.factories import create_slo, create_system

NOW = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
HISTORY_MINUTES = 4 * 24 * 60


def _naive(db_session: Session, slo_id: int, start: datetime, end: datetime) -> WindowCounts:
    good, total = db_session.execute(
        text(
            "SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM slo_minute_count "
            "WHERE slo_id = :slo_id AND minute >= :start AND minute < :end"
        ),
        {"slo_id": slo_id, "start": start, "end": end},
    ).one()
    return WindowCounts(good=int(good), total=int(total))


def _rollups_match_minutes(db_session: Session) -> None:
    for level in (HOUR_LEVEL, DAY_LEVEL):
        mismatches = db_session.execute(
            text(
                f"SELECT * FROM (SELECT slo_id, date_trunc('{level.column}', minute, 'UTC') AS at, "
                f"sum(good) AS good, sum(total) AS total FROM slo_minute_count GROUP BY 1, 2 "
                f"HAVING sum(total) <> 0) AS m "
                f"FULL JOIN (SELECT slo_id, {level.column} AS at, good, total FROM {level.table} "
                f"WHERE total <> 0) AS r USING (slo_id, at) "
                f"WHERE m.good IS DISTINCT FROM r.good OR m.total IS DISTINCT FROM r.total"
            )
        ).all()
        assert mismatches == [], level.table


def _minute(offset: int) -> datetime:
    return NOW.replace(second=0) - timedelta(minutes=offset)


writes = st.lists(
    st.tuples(
        st.integers(min_value=-5, max_value=HISTORY_MINUTES),
        st.integers(min_value=0, max_value=5),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=40,
)
windows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=HISTORY_MINUTES * 60),
        st.integers(min_value=0, max_value=HISTORY_MINUTES * 60),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=writes, late=writes, spans=windows)
def test_window_sums_equal_a_plain_sum_over_minutes(
    db_session: Session,
    clock: ManualClock,
    first: list[tuple[int, int, int]],
    late: list[tuple[int, int, int]],
    spans: list[tuple[int, int]],
) -> None:
    savepoint = db_session.begin_nested()
    try:
        system = create_system(db_session, clock)
        slo = create_slo(db_session, clock, system)
        other = create_slo(db_session, clock, system, "other")
        for batch in (first, late):
            # Each batch is one write, like one ingestion request; `late` revisits past minutes.
            repository.add_minute_counts(
                db_session=db_session,
                rows=[(slo.id, _minute(offset), good, good + bad) for offset, good, bad in batch]
                + [(other.id, _minute(offset // 2), 1, 2) for offset, _, _ in batch],
            )
            for end_seconds, length_seconds in spans:
                end = NOW - timedelta(seconds=end_seconds)
                start = end - timedelta(seconds=length_seconds)
                for slo_id in (slo.id, other.id):
                    assert repository.window_counts(
                        db_session=db_session, slo_id=slo_id, start=start, end=end
                    ) == _naive(db_session, slo_id, start, end)
            windows_by_slo = repository.counts_for_windows(
                db_session=db_session,
                slo_ids=[slo.id, other.id],
                windows=windows_needed(timedelta(days=3, hours=5)),
                now=NOW,
            )
            for slo_id, by_window in windows_by_slo.items():
                for window, counts in by_window.items():
                    assert counts == _naive(db_session, slo_id, NOW - window, NOW)
        _rollups_match_minutes(db_session)
    finally:
        savepoint.rollback()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 1, 1, 22, 17, 5, tzinfo=UTC), datetime(2026, 1, 4, 3, 2, 0, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 55, tzinfo=UTC), datetime(2026, 1, 1, 1, 5, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 5, tzinfo=UTC), datetime(2026, 1, 1, 0, 58, tzinfo=UTC)),
        (datetime(2025, 12, 4, 12, 50, 30, tzinfo=UTC), datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)),
    ],
)
def test_signed_segments_cover_each_minute_of_the_window_exactly_once(start: datetime, end: datetime) -> None:
    # A guard on the segment arithmetic rather than the database: the signed stretches add up to
    # exactly the window's minutes, and an edge never reads more than 30 minutes or 12 hours.
    segments = window_segments(start, end)
    coverage: dict[datetime, int] = {}
    for sign, level, lo, hi in segments:
        assert (lo - datetime(1970, 1, 1, tzinfo=UTC)) % level.unit == timedelta(0)
        assert (hi - lo) % level.unit == timedelta(0)
        minute = lo
        while minute < hi:
            coverage[minute] = coverage.get(minute, 0) + sign
            minute += MINUTE_LEVEL.unit
    first = start.replace(second=0) + (MINUTE_LEVEL.unit if start.second else timedelta(0))
    last = end.replace(second=0) + (MINUTE_LEVEL.unit if end.second else timedelta(0))
    inside = {minute for minute, count in coverage.items() if count}
    assert all(count in (0, 1) for count in coverage.values())
    assert min(inside) == first
    assert max(inside) == last - MINUTE_LEVEL.unit
    assert len(inside) == (last - first) // MINUTE_LEVEL.unit
    for _, level, lo, hi in segments:
        if level is MINUTE_LEVEL:
            assert hi - lo <= timedelta(minutes=30)
        elif level is HOUR_LEVEL:
            assert hi - lo <= timedelta(hours=13)


def test_direct_updates_and_deletes_of_minutes_keep_the_rollups_equal(
    db_session: Session, clock: ManualClock
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    repository.add_minute_counts(
        db_session=db_session,
        rows=[(slo.id, _minute(offset), 9, 10) for offset in range(0, 3000, 7)],
    )
    db_session.execute(
        text("UPDATE slo_minute_count SET good = good - 4 WHERE minute < :at"), {"at": _minute(900)}
    )
    db_session.execute(text("DELETE FROM slo_minute_count WHERE minute >= :at"), {"at": _minute(30)})
    _rollups_match_minutes(db_session)
    start, end = NOW - timedelta(days=2), NOW
    assert repository.window_counts(db_session=db_session, slo_id=slo.id, start=start, end=end) == _naive(
        db_session, slo.id, start, end
    )


def test_deleting_an_slo_removes_its_counts_at_every_level(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    repository.add_minute_counts(db_session=db_session, rows=[(slo.id, _minute(5), 1, 2)])
    db_session.delete(slo)
    db_session.flush()
    for level in (MINUTE_LEVEL, HOUR_LEVEL, DAY_LEVEL):
        assert db_session.execute(text(f"SELECT count(*) FROM {level.table}")).scalar_one() == 0


def test_the_columnar_body_counts_like_the_list_of_events(
    client: TestClient, session_factory: SessionFactory, clock: ManualClock
) -> None:
    with session_factory() as session:
        system = create_system(session, clock)
        create_slo(session, clock, system, "availability")
        create_slo(session, clock, system, "latency", sli_kind="latency", objective=0.99, threshold_ms=150)
        session.commit()
    headers = {"Authorization": f"Bearer {make_key(session_factory, clock, 'pusher', Scope.INGEST)}"}
    moments = [clock.now() - timedelta(seconds=seconds) for seconds in (30, 90, 150, 210)]
    latencies = [100.0, 150.0, 151.0, 10.0]
    outcomes = ["success", "error", "success", "success"]
    url = f"/api/v1/systems/{system.name}/request-events"

    as_rows = client.post(
        url,
        headers=headers,
        json={
            "events": [
                {"time": m.isoformat(), "latency_ms": lat, "outcome": o}
                for m, lat, o in zip(moments, latencies, outcomes, strict=True)
            ]
        },
    )
    as_columns = client.post(
        url,
        headers=headers,
        json={"time": [m.isoformat() for m in moments], "latency_ms": latencies, "outcome": outcomes},
    )

    assert as_rows.status_code == as_columns.status_code == 202
    assert as_rows.json() == as_columns.json()
    with session_factory() as session:
        rows = session.execute(
            text(
                "SELECT s.name, c.minute, c.good, c.total FROM slo_minute_count c JOIN slo s ON s.id = c.slo_id"
            )
        ).all()
    # Each body counted once: every stored count is twice a single body's.
    expected = {
        ("availability", _floor_minute(moments[0])): (2, 2),
        ("availability", _floor_minute(moments[1])): (0, 2),
        ("availability", _floor_minute(moments[2])): (2, 2),
        ("availability", _floor_minute(moments[3])): (2, 2),
        ("latency", _floor_minute(moments[0])): (2, 2),
        ("latency", _floor_minute(moments[1])): (2, 2),
        ("latency", _floor_minute(moments[2])): (0, 2),
        ("latency", _floor_minute(moments[3])): (2, 2),
    }
    stored: dict[tuple[str, datetime], tuple[int, int]] = {}
    for name, minute, good, total in rows:
        previous = stored.get((name, minute), (0, 0))
        stored[(name, minute)] = (previous[0] + good, previous[1] + total)
    assert stored == expected


def _floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def test_a_columnar_body_with_columns_of_different_lengths_is_refused(
    client: TestClient, session_factory: SessionFactory, clock: ManualClock
) -> None:
    with session_factory() as session:
        system = create_system(session, clock)
        session.commit()
    headers = {"Authorization": f"Bearer {make_key(session_factory, clock, 'pusher', Scope.INGEST)}"}
    response = client.post(
        f"/api/v1/systems/{system.name}/request-events",
        headers=headers,
        json={"time": [clock.now().isoformat()], "latency_ms": [1.0, 2.0], "outcome": ["success"]},
    )
    assert response.status_code == 422
    assert "same length" in response.text
    naive = client.post(
        f"/api/v1/systems/{system.name}/request-events",
        headers=headers,
        json={"events": [{"time": "2026-01-05T12:00:00", "latency_ms": 1.0, "outcome": "success"}]},
    )
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"][:3] == ["body", "events", 0]
