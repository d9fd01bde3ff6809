"""The Prometheus collector against a real Prometheus server holding exact data.

Two counters, `http_requests_total{code="200"}` and `{code="500"}`, are sampled every 15 s for the
two hours before END and increase by 9 and 1 per sample. They are written as OpenMetrics,
backfilled with `promtool tsdb create-blocks-from openmetrics`, and served by `prometheus`.

Prometheus 2.x selects `[t - w, t]` inclusive at both ends, so when t is on a sample and w is a
multiple of 15 s the window spans samples exactly and `increase()` does not extrapolate: over w
there are 9 * w/15 good and 10 * w/15 total requests. (With Prometheus 3's left-open ranges the
extrapolation of a constant rate gives the same numbers.) Rounding and clamping of fractional
answers are checked against scripted answers (httpx.MockTransport).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, select

from app import migrations
from app.clock import ManualClock
from app.collectors.backfill import backfill_prometheus
from app.collectors.jobs import SourceCollectors
from app.collectors.prometheus import query_counts, query_value, range_counts, range_values, render_query
from app.collectors.results import Collected, CollectionError, Reading
from app.collectors.service import collect_due
from app.config import Settings
from app.db import create_session_factory, transaction
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach, SloStatus
from app.measurements import repository as measurements_repository
from app.measurements.models import SloMinuteCount
from app.systems.models import Phase
from tests import prometheus_support
from tests.conftest import create_scratch_database
from tests.factories import create_collected_slo, create_system

END = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
START = END - timedelta(hours=2)
SAMPLE_SECONDS = 15
SAMPLES = 2 * 3600 // SAMPLE_SECONDS + 1  # both ends included
GOOD_PER_SAMPLE, BAD_PER_SAMPLE = 9, 1

GOOD = 'sum(increase(http_requests_total{code!~"5.."}[{{.window}}]))'
BAD = 'sum(increase(http_requests_total{code=~"5.."}[{{ .window }}]))'
TOTAL = "sum(increase(http_requests_total[{{.window}}]))"


def _exact(window: timedelta) -> Collected:
    samples = int(window.total_seconds()) // SAMPLE_SECONDS
    return Collected(good=GOOD_PER_SAMPLE * samples, total=(GOOD_PER_SAMPLE + BAD_PER_SAMPLE) * samples)


def _openmetrics() -> str:
    start = int(START.timestamp())
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served."]
    for code, first, per_sample in (("200", 1000, GOOD_PER_SAMPLE), ("500", 50, BAD_PER_SAMPLE)):
        for k in range(SAMPLES):
            value = first + per_sample * k
            lines.append(f'http_requests_total{{code="{code}"}} {value} {start + SAMPLE_SECONDS * k}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = prometheus_support.backfill(tmp_path_factory.mktemp("prometheus"), _openmetrics())
    with prometheus_support.serving(data) as url:
        yield url


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _counts(
    http_client: httpx.Client, url: str, config: dict[str, Any], window: timedelta, at: datetime
) -> Collected:
    return query_counts(http_client=http_client, base_url=url, config=config, window=window, at=at)


def _raw(http_client: httpx.Client, url: str, query: str, at: datetime) -> float:
    response = http_client.get(
        f"{url}/api/v1/query", params={"query": query, "time": str(int(at.timestamp()))}
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    assert len(result) == 1
    return float(result[0]["value"][1])


@pytest.mark.parametrize(
    ("window", "at"),
    [
        (timedelta(minutes=1), END - timedelta(minutes=30)),
        (timedelta(minutes=5), END),
        (timedelta(hours=1), END - timedelta(minutes=15)),
        (timedelta(hours=2), END),
    ],
)
def test_good_and_total_are_exact(
    prometheus_url: str, http_client: httpx.Client, window: timedelta, at: datetime
) -> None:
    expected = _exact(window)

    collected = _counts(http_client, prometheus_url, {"good": GOOD, "total": TOTAL}, window, at)

    assert collected == expected
    raw_good = _raw(http_client, prometheus_url, render_query(GOOD, window), at)
    raw_total = _raw(http_client, prometheus_url, render_query(TOTAL, window), at)
    assert abs(raw_good - expected.good) < 0.5
    assert abs(raw_total - expected.total) < 0.5


def test_bad_and_total(prometheus_url: str, http_client: httpx.Client) -> None:
    collected = _counts(http_client, prometheus_url, {"bad": BAD, "total": TOTAL}, timedelta(minutes=5), END)
    assert collected == Collected(good=180, total=200)


def test_a_scalar_answer_is_accepted(prometheus_url: str, http_client: httpx.Client) -> None:
    config = {"good": f"scalar({GOOD})", "total": f"scalar({TOTAL})"}
    collected = _counts(http_client, prometheus_url, config, timedelta(hours=1), END)
    assert collected == Collected(good=2160, total=2400)


def test_no_data_counts_zero_events(prometheus_url: str, http_client: httpx.Client) -> None:
    absent = 'sum(increase(http_requests_total{code="404"}[{{.window}}]))'
    config = {"good": absent, "total": absent}
    assert _counts(http_client, prometheus_url, config, timedelta(minutes=5), END) == Collected(0, 0)
    before_the_data = START - timedelta(days=1)
    config = {"good": GOOD, "total": TOTAL}
    assert _counts(http_client, prometheus_url, config, timedelta(minutes=5), before_the_data) == Collected(
        0, 0
    )


def test_an_invalid_query_raises_with_prometheus_error_text(
    prometheus_url: str, http_client: httpx.Client
) -> None:
    config = {"good": GOOD, "total": "sum(increase(http_requests_total[{{.window}}])"}
    with pytest.raises(CollectionError, match=r"total query failed \(bad_data\): .*parse error"):
        _counts(http_client, prometheus_url, config, timedelta(minutes=5), END)


def test_several_series_are_refused(prometheus_url: str, http_client: httpx.Client) -> None:
    config = {"good": GOOD, "total": "increase(http_requests_total[{{.window}}])"}
    with pytest.raises(CollectionError, match=r"2 series.*sum\(\.\.\.\)"):
        _counts(http_client, prometheus_url, config, timedelta(minutes=5), END)


def test_an_unreachable_prometheus_raises(http_client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{prometheus_support.free_port()}"
    with pytest.raises(CollectionError, match=r"cannot reach Prometheus \(ConnectError\)"):
        _counts(http_client, url, {"good": GOOD, "total": TOTAL}, timedelta(minutes=5), END)


RATIO = f"{GOOD} / {TOTAL}"


def _value(
    http_client: httpx.Client, url: str, query: str, window: timedelta, at: datetime, *, ratio: bool
) -> Reading:
    return query_value(
        http_client=http_client, base_url=url, config={"value": query}, window=window, at=at, ratio=ratio
    )


def test_a_ratio_query_gives_the_exact_share_of_good_events(
    prometheus_url: str, http_client: httpx.Client
) -> None:
    for window in (timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1)):
        assert _value(http_client, prometheus_url, RATIO, window, END, ratio=True) == Reading(0.9)


def test_a_value_query_gives_its_number(prometheus_url: str, http_client: httpx.Client) -> None:
    per_second = "sum(rate(http_requests_total[{{.window}}]))"
    reading = _value(http_client, prometheus_url, per_second, timedelta(hours=1), END, ratio=False)
    # Ten requests every fifteen seconds.
    assert reading.value == pytest.approx(10 / 15, rel=1e-12)


def test_a_value_without_data_is_a_gap_not_a_zero(prometheus_url: str, http_client: httpx.Client) -> None:
    absent = 'sum(increase(http_requests_total{code="404"}[{{.window}}]))'
    with pytest.raises(CollectionError, match="gave no data"):
        _value(http_client, prometheus_url, absent, timedelta(minutes=5), END, ratio=False)
    # scalar() of nothing is NaN, as is a ratio of a window without events.
    with pytest.raises(CollectionError, match="gave NaN: no data"):
        _value(http_client, prometheus_url, f"scalar({absent})", timedelta(minutes=5), END, ratio=True)


def test_a_ratio_outside_zero_and_one_is_refused(prometheus_url: str, http_client: httpx.Client) -> None:
    with pytest.raises(CollectionError, match=r"gave 180; .* between 0 and 1"):
        _value(http_client, prometheus_url, GOOD, timedelta(minutes=5), END, ratio=True)


def test_range_values_give_a_reading_per_step_with_data(
    prometheus_url: str, http_client: httpx.Client
) -> None:
    step = timedelta(minutes=30)
    points = range_values(
        http_client=http_client,
        base_url=prometheus_url,
        config={"value": RATIO},
        step=step,
        start=START - timedelta(hours=1),
        end=END,
        ratio=True,
    )
    # Steps ending at or before the first sample have no increase to divide: gaps, not zeros.
    assert points == [(START + step * k, Reading(0.9)) for k in range(1, 5)]


def test_range_counts_over_an_hour_at_five_minute_steps(
    prometheus_url: str, http_client: httpx.Client
) -> None:
    step = timedelta(minutes=5)
    points = range_counts(
        http_client=http_client,
        base_url=prometheus_url,
        config={"good": GOOD, "total": TOTAL},
        step=step,
        start=END - timedelta(hours=1),
        end=END,
    )

    assert [at for at, _ in points] == [END - timedelta(hours=1) + step * i for i in range(1, 13)]
    assert all(collected == _exact(step) for _, collected in points)
    assert sum(c.good for _, c in points) == _exact(timedelta(hours=1)).good == 2160
    assert sum(c.total for _, c in points) == _exact(timedelta(hours=1)).total == 2400


def test_range_counts_with_bad_and_steps_without_data(prometheus_url: str, http_client: httpx.Client) -> None:
    step = timedelta(minutes=30)
    points = range_counts(
        http_client=http_client,
        base_url=prometheus_url,
        config={"bad": BAD, "total": TOTAL},
        step=step,
        start=END - timedelta(hours=1),
        end=END + timedelta(hours=1),
    )

    assert [collected for _, collected in points] == [
        Collected(good=1080, total=1200),
        Collected(good=1080, total=1200),
        Collected(good=0, total=0),
        Collected(good=0, total=0),
    ]


def test_range_counts_refuses_an_invalid_query(prometheus_url: str, http_client: httpx.Client) -> None:
    with pytest.raises(CollectionError, match="parse error"):
        range_counts(
            http_client=http_client,
            base_url=prometheus_url,
            config={"good": "sum(", "total": TOTAL},
            step=timedelta(minutes=5),
            start=START,
            end=END,
        )


def test_the_window_placeholder_in_both_spellings() -> None:
    assert render_query("a[{{.window}}] / b[{{ .window }}]", timedelta(hours=1)) == "a[1h] / b[1h]"
    assert render_query("x[{{.window}}]", timedelta(seconds=90)) == "x[90s]"


# Fractional answers (increase() extrapolates) and malformed answers, scripted.


def _scripted(answers: dict[str, Any]) -> httpx.Client:
    """A client whose Prometheus answers each query (by its text) with the given JSON body."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = answers[request.url.params["query"]]
        if isinstance(body, httpx.Response):
            return body
        return httpx.Response(200, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def _vector(value: str) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1767614400, value]}]},
    }


@pytest.mark.parametrize(
    ("good", "total", "expected"),
    [
        ("364.5", "405.0", Collected(365, 405)),  # halves round up
        ("364.4999", "404.5", Collected(364, 405)),
        ("10.6", "10.4", Collected(10, 10)),  # good clamped to total
        ("-0.7", "3", Collected(0, 3)),
        ("0.2", "-1", Collected(0, 0)),
    ],
)
def test_fractional_counts_are_rounded_and_clamped(good: str, total: str, expected: Collected) -> None:
    with _scripted({"g": _vector(good), "t": _vector(total)}) as client:
        collected = query_counts(
            http_client=client,
            base_url="http://prometheus",
            config={"good": "g", "total": "t"},
            window=timedelta(minutes=5),
            at=END,
        )
    assert collected == expected


def test_fractional_bad_counts_are_rounded_and_clamped() -> None:
    with _scripted({"b": _vector("12.5"), "t": _vector("10.2")}) as client:
        collected = query_counts(
            http_client=client,
            base_url="http://prometheus",
            config={"bad": "b", "total": "t"},
            window=timedelta(minutes=5),
            at=END,
        )
    assert collected == Collected(0, 10)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_vector("NaN"), "gave NaN, not a finite number"),
        (_vector("+Inf"), r"gave \+Inf, not a finite number"),
        (_vector("many"), "non-numeric value 'many'"),
        (httpx.Response(502, text="x" * 5000), "HTTP 502"),
        (httpx.Response(200, text="<html>not json</html>"), "unexpected answer"),
        ({"status": "success", "data": {"resultType": "string", "result": [0, "s"]}}, "'string' result"),
    ],
)
def test_unusable_answers_raise(answer: Any, message: str) -> None:
    with (
        _scripted({"g": answer, "t": _vector("1")}) as client,
        pytest.raises(CollectionError, match=message) as raised,
    ):
        query_counts(
            http_client=client,
            base_url="http://prometheus",
            config={"good": "g", "total": "t"},
            window=timedelta(minutes=5),
            at=END,
        )
    assert len(str(raised.value)) <= 300


def test_the_scheduled_collection_stores_the_slot_that_just_ended(
    prometheus_url: str, http_client: httpx.Client, postgres_admin_url: str
) -> None:
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_promcollect"))
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(END - timedelta(minutes=10) + timedelta(seconds=20))
    with session_factory() as db_session:
        system = create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
        slo = create_collected_slo(
            db_session,
            clock,
            system,
            "requests",
            source="prometheus",
            block={"good": GOOD, "total": TOTAL},
            collect_every="5m",
        )
        db_session.commit()
        slo_id = slo.id

    report = collect_due(
        session_factory=session_factory,
        clock=clock,
        http_client=http_client,
        collectors=SourceCollectors(prometheus_url=prometheus_url),
        node="node-a",
    )

    assert report.collected == [slo_id]
    with session_factory() as db_session:
        rows = db_session.execute(
            select(SloMinuteCount.minute, SloMinuteCount.good, SloMinuteCount.total).where(
                SloMinuteCount.slo_id == slo_id
            )
        ).all()
    # The 5-minute slot before the claimed one, counted at its start.
    expected = _exact(timedelta(minutes=5))
    assert [(minute, good, total) for minute, good, total in rows] == [
        (END - timedelta(minutes=15), expected.good, expected.total)
    ]
    engine.dispose()


def test_a_stopped_prometheus_leaves_gaps_and_a_data_missing_alert_until_it_is_back(
    tmp_path: Path, postgres_admin_url: str, settings: Settings
) -> None:
    data = prometheus_support.backfill(tmp_path, _openmetrics())
    port = prometheus_support.free_port()
    url = f"http://127.0.0.1:{port}"
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_promstop"))
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(END - timedelta(minutes=30) + timedelta(seconds=20))
    alerting = settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})
    with session_factory() as db_session:
        system = create_system(db_session, clock)
        # 10% of the test requests fail; a 50% objective keeps them from burning, so the only alert
        # is the one about missing data.
        slo = create_collected_slo(
            db_session,
            clock,
            system,
            "requests",
            objective=0.5,
            source="prometheus",
            block={"good": GOOD, "total": TOTAL},
            collect_every="1m",
        )
        db_session.commit()
        slo_id = slo.id

    def minute() -> tuple[list[int], list[int], list[int]]:
        with httpx.Client(timeout=5) as client:
            collected = collect_due(
                session_factory=session_factory,
                clock=clock,
                http_client=client,
                collectors=SourceCollectors(prometheus_url=url),
                node="node-a",
            )
        with transaction(session_factory) as db_session:
            report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting)
        clock.advance(timedelta(minutes=1))
        return collected.collected, report.breaches_opened, report.breaches_resolved

    process = prometheus_support.start(data, port)
    try:
        assert minute()[:2] == ([slo_id], [])
    finally:
        prometheus_support.stop(process)
    down = [minute() for _ in range(4)]
    assert [collected for collected, _, _ in down] == [[], [], [], []]
    opened = [breach for _, breaches, _ in down for breach in breaches]
    assert len(opened) == 1
    process = prometheus_support.start(data, port)
    try:
        collected, _, resolved = minute()
    finally:
        prometheus_support.stop(process)
    assert collected == [slo_id]
    assert resolved == opened
    with session_factory() as db_session:
        rows = db_session.execute(
            select(SloMinuteCount.minute, SloMinuteCount.good, SloMinuteCount.total)
            .where(SloMinuteCount.slo_id == slo_id)
            .order_by(SloMinuteCount.minute)
        ).all()
        breach = db_session.get(Breach, opened[0])
        assert breach is not None
        assert breach.opening_details["rule"] == "data_missing"
    # Two collected minutes; the four while Prometheus was down are gaps, not bad events.
    per_minute = _exact(timedelta(minutes=1))
    assert [(good, total) for _, good, total in rows] == [(per_minute.good, per_minute.total)] * 2
    assert rows[1].minute - rows[0].minute == timedelta(minutes=5)
    engine.dispose()


def test_a_ratio_slo_is_backfilled_collected_and_budgeted_from_its_readings(
    prometheus_url: str, http_client: httpx.Client, postgres_admin_url: str, settings: Settings
) -> None:
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_promratio"))
    migrations.upgrade(engine)
    session_factory = create_session_factory(engine)
    clock = ManualClock(END + timedelta(seconds=20))
    step = timedelta(minutes=5)
    with transaction(session_factory) as db_session:
        system = create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
        slo = create_collected_slo(
            db_session,
            clock,
            system,
            "requests",
            source="prometheus",
            block={"value": RATIO},
            collect_every="5m",
        )
        slo_id = slo.id
        report = backfill_prometheus(
            db_session=db_session,
            http_client=http_client,
            base_url=prometheus_url,
            slo=slo,
            start=START,
            end=END - step,
        )
    # Steps (START, START + 5m] ... (END - 10m, END - 5m], each stored at its start.
    assert (report.points, report.samples_written, report.minutes_written) == (23, 23, 0)

    collected = collect_due(
        session_factory=session_factory,
        clock=clock,
        http_client=http_client,
        collectors=SourceCollectors(prometheus_url=prometheus_url),
        node="node-a",
    )
    assert collected.collected == [slo_id]
    with transaction(session_factory) as db_session:
        readings = measurements_repository.samples_between(
            db_session=db_session, slo_id=slo_id, start=START - step, end=END
        )
        # The live collection stored the slot that just ended, after the backfilled ones.
        assert [sample.at for sample in readings] == [START + step * k for k in range(24)]
        assert {sample.value for sample in readings} == {0.9}
        evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
        status = db_session.get(SloStatus, slo_id)
        assert status is not None
        # The mean of the readings, against a 99.9% objective: ten times the budget spent.
        assert status.sli == pytest.approx(0.9)
        assert status.error_budget_remaining == pytest.approx(1 - 0.1 / 0.001)
    engine.dispose()
