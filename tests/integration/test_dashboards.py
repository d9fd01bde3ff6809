"""Runs every query of the Grafana dashboards, expanded as Grafana would, against a seeded database,
and checks that the panels show the seeded values; also checks the provisioning files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.models import (
    Breach,
    Postmortem,
    Slo,
    SloMinuteCount,
    SloStatus,
    System,
    postmortem_breach,
)
from tests.grafana_sql import ALL_VALUE, QueryContext, TemplateVariable, expand

DASHBOARDS_DIR = Path(__file__).resolve().parents[2] / "dashboards"
OVERVIEW = json.loads((DASHBOARDS_DIR / "overview.json").read_text(encoding="utf-8"))
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "mlslo-postgres"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
HOUR = timedelta(hours=1)


# --- the dashboard's queries -----------------------------------------------------------------------


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Panels, including those nested in collapsed rows."""
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def sql_annotations(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        annotation
        for annotation in dashboard["annotations"]["list"]
        if annotation["datasource"].get("type") == DATASOURCE_TYPE
    ]


def all_queries(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every query target of the dashboard, keyed `panel:<title>:<refId>` or `annotation:<name>`."""
    queries: dict[str, dict[str, Any]] = {}
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            queries[f"panel:{panel['title']}:{target['refId']}"] = target
    for annotation in sql_annotations(dashboard):
        queries[f"annotation:{annotation['name']}"] = annotation["target"]
    return queries


QUERIES = all_queries(OVERVIEW)
SYSTEM_VARIABLE = next(v for v in OVERVIEW["templating"]["list"] if v["name"] == "system")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[dict[str, Any]]

    def column(self, name: str) -> list[Any]:
        return [row[name] for row in self.rows]


def run_sql(db_session: Session, sql: str) -> Result:
    statement = text(sql)
    # A ':name' that SQLAlchemy took for a bind parameter would change what Postgres runs.
    assert statement.compile().params == {}, f"bind parameters found in {sql}"
    result = db_session.execute(statement)
    columns = list(result.keys())
    return Result(columns=columns, rows=[dict(zip(columns, row, strict=True)) for row in result])


def grafana_context(
    db_session: Session, clock: ManualClock, *, systems: list[str] | None = None, interval: timedelta = HOUR
) -> QueryContext:
    """The last three hours, and the `system` variable as Grafana resolves it: its options come from
    the variable's query; `systems=None` selects All."""
    now = clock.now()
    no_variables = QueryContext(time_from=now - 3 * HOUR, time_to=now)
    options = run_sql(db_session, expand(SYSTEM_VARIABLE["query"], no_variables))
    variable = TemplateVariable(
        name="system",
        selected=[ALL_VALUE] if systems is None else systems,
        options=[row["name"] for row in options.rows],
        multi=SYSTEM_VARIABLE["multi"],
        include_all=SYSTEM_VARIABLE["includeAll"],
        custom_all_value=SYSTEM_VARIABLE.get("allValue"),
    )
    return QueryContext(
        time_from=now - 3 * HOUR, time_to=now, interval=interval, variables={"system": variable}
    )


def run_query(db_session: Session, query_key: str, context: QueryContext) -> Result:
    return run_sql(db_session, expand(QUERIES[query_key]["rawSql"], context))


def epoch_to_datetime(value: Any) -> datetime:
    assert isinstance(value, int | float | Decimal), f"time column holds {value!r}"
    return datetime.fromtimestamp(float(value), tz=UTC)


def series(result: Result) -> dict[str, dict[datetime, float]]:
    """A long-format time series result as {metric: {bucket start: value}}."""
    by_metric: dict[str, dict[datetime, float]] = {}
    for row in result.rows:
        by_metric.setdefault(row["metric"], {})[epoch_to_datetime(row["time"])] = float(row["value"])
    return by_metric


# --- seeded data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    now: datetime
    fraud_availability: Slo
    fraud_latency: Slo
    search_availability: Slo
    old_breach: Breach
    resolved_breach: Breach
    open_breach: Breach
    archived_breach: Breach
    outage_title: str
    follow_up_title: str


def at(now: datetime, hour: int, minute: int = 0) -> datetime:
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.fixture
def seeded(db_session: Session, clock: ManualClock) -> Seeded:
    now = clock.now()
    assert now == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def system(name: str, phase: str, service_owner: str | None, model_owner: str) -> System:
        return System(
            name=name,
            phase=phase,
            service_owner=service_owner,
            model_owner=model_owner,
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=30),
        )

    fraud = system("fraud-scoring", "production", "payments-sre", "fraud-ml")
    search = system("search-ranking", "technical_validation", "search-platform", "ranking-ml")
    churn = system("churn-model", "concept", None, "growth-ml")
    db_session.add_all([fraud, search, churn])
    db_session.flush()

    def slo(
        owner: System,
        phase: str,
        name: str,
        objective: float,
        sli_kind: str = "error_rate",
        archived_at: datetime | None = None,
    ) -> Slo:
        return Slo(
            system_id=owner.id,
            phase=phase,
            name=name,
            sli_kind=sli_kind,
            threshold_ms=300.0 if sli_kind == "latency" else None,
            objective=objective,
            period=timedelta(days=30),
            definition={"name": name},
            source_path=f"slo_definitions/{owner.name}/{name}.yaml",
            created_at=now - timedelta(days=30),
            updated_at=now - timedelta(days=30),
            archived_at=archived_at,
        )

    fraud_availability = slo(fraud, "production", "availability", 0.999)
    fraud_latency = slo(fraud, "production", "latency-p99", 0.99, sli_kind="latency")
    fraud_validation = slo(fraud, "technical_validation", "availability", 0.99)  # not the current phase
    fraud_archived = slo(
        fraud, "production", "latency-p95", 0.95, sli_kind="latency", archived_at=now - timedelta(days=2)
    )
    search_availability = slo(search, "technical_validation", "availability", 0.95)
    search_latency = slo(search, "technical_validation", "latency", 0.9, sli_kind="latency")  # no status
    db_session.add_all(
        [
            fraud_availability,
            fraud_latency,
            fraud_validation,
            fraud_archived,
            search_availability,
            search_latency,
        ]
    )
    db_session.flush()

    def burn(**rates: float | None) -> dict[str, float | None]:
        windows = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
        return {window: rates.get("w" + window) for window in windows}

    def status(
        target: Slo,
        budget: float,
        rates: dict[str, float | None],
        severity: str | None,
        sli: float,
        time_to_exhaustion: float | None,
    ) -> SloStatus:
        return SloStatus(
            slo_id=target.id,
            evaluated_at=now - timedelta(seconds=30),
            sli=sli,
            good_events=int(sli * 100_000),
            total_events=100_000,
            error_budget_remaining=budget,
            burn_rates=rates,
            time_to_exhaustion_seconds=time_to_exhaustion,
            alert_severity=severity,
        )

    db_session.add_all(
        [
            status(
                fraud_availability,
                0.42,
                burn(w5m=15.2, w30m=7.0, w1h=14.9, w2h=9.0, w6h=6.5, w1d=2.1, w3d=1.4),
                "page",
                0.9985,
                3600.0,
            ),
            status(fraud_latency, 0.9, burn(w5m=0.4, w1h=0.5, w1d=0.3, w3d=0.2), None, 0.995, None),
            status(fraud_validation, 0.05, burn(w1h=9.0, w6h=8.0), "ticket", 0.9, 600.0),
            status(fraud_archived, 0.01, burn(w1h=30.0, w6h=20.0), "page", 0.5, 60.0),
            status(
                search_availability,
                -0.2,
                burn(w5m=2.0, w30m=2.5, w1h=3.1, w2h=3.0, w6h=2.0, w1d=3.3, w3d=1.2),
                "ticket",
                0.94,
                0.0,
            ),
        ]
    )

    # Per-minute counts from 09:00 to 11:59. fraud availability has a bad hour at 10:00 with uneven
    # traffic: 130/150 good in its first half, 50/50 in its second. Its SLI for the hour is the ratio
    # of sums, 5400/6000 = 0.9; an average of the minute ratios would give 0.933.
    counts: list[SloMinuteCount] = []
    for offset in range(180):
        minute = at(now, 9) + timedelta(minutes=offset)
        fraud_good, fraud_total = 100, 100
        if minute.hour == 10:
            fraud_good, fraud_total = (130, 150) if minute.minute < 30 else (50, 50)
        counts += [
            SloMinuteCount(slo_id=fraud_availability.id, minute=minute, good=fraud_good, total=fraud_total),
            SloMinuteCount(slo_id=fraud_latency.id, minute=minute, good=49, total=50),
            SloMinuteCount(slo_id=search_availability.id, minute=minute, good=19, total=20),
            SloMinuteCount(slo_id=fraud_archived.id, minute=minute, good=0, total=10),
            SloMinuteCount(slo_id=fraud_validation.id, minute=minute, good=5, total=10),
        ]
    # Before the time range: must not show up.
    counts.append(SloMinuteCount(slo_id=fraud_availability.id, minute=at(now, 8, 30), good=0, total=100))
    db_session.add_all(counts)

    def breach(
        target: Slo,
        severity: str,
        opened_at: datetime,
        resolved_at: datetime | None,
        peak: float,
        budget: float,
    ) -> Breach:
        return Breach(
            slo_id=target.id,
            severity=severity,
            opened_at=opened_at,
            window_start=opened_at - timedelta(hours=1),
            resolved_at=resolved_at,
            peak_burn_rate=peak,
            error_budget_remaining_at_open=budget,
            opening_details={"burn_rates": {"1h": peak}},
        )

    old_breach = breach(
        fraud_availability,
        "ticket",
        now - timedelta(days=1, hours=9),
        now - timedelta(days=1, hours=7),
        3.5,
        0.8,
    )
    resolved_breach = breach(fraud_availability, "page", at(now, 10, 5), at(now, 10, 50), 16.2, 0.6)
    open_breach = breach(search_availability, "ticket", at(now, 11, 30), None, 3.4, -0.1)
    # Opened before the time range and resolved inside it: it overlaps the range, so it shows.
    archived_breach = breach(fraud_archived, "page", at(now, 8, 40), at(now, 9, 40), 20.0, 0.3)
    db_session.add_all([old_breach, resolved_breach, open_breach, archived_breach])

    def postmortem(title: str, status: str) -> Postmortem:
        return Postmortem(
            title=title,
            status=status,
            authors=["alice"],
            action_items=[],
            lessons_learned={},
            timeline=[],
            created_by="alice",
            created_at=now,
            updated_at=now,
        )

    outage_title = "Fraud scoring outage: feature store timeouts"
    follow_up_title = "Follow-up: feature store capacity"
    outage = postmortem(outage_title, "in_review")
    follow_up = postmortem(follow_up_title, "draft")
    old = postmortem("Old ticket", "published")
    db_session.add_all([outage, follow_up, old])
    db_session.flush()
    db_session.execute(
        postmortem_breach.insert(),
        [
            {"postmortem_id": outage.id, "breach_id": resolved_breach.id},
            {"postmortem_id": follow_up.id, "breach_id": resolved_breach.id},
            {"postmortem_id": old.id, "breach_id": old_breach.id},
        ],
    )
    db_session.flush()
    return Seeded(
        now=now,
        fraud_availability=fraud_availability,
        fraud_latency=fraud_latency,
        search_availability=search_availability,
        old_breach=old_breach,
        resolved_breach=resolved_breach,
        open_breach=open_breach,
        archived_breach=archived_breach,
        outage_title=outage_title,
        follow_up_title=follow_up_title,
    )


# --- the dashboard file itself -------------------------------------------------------------------------


def test_dashboard_has_a_stable_uid_and_well_placed_panels() -> None:
    assert OVERVIEW["uid"] == "mlslo-overview"
    assert OVERVIEW["title"] == "mlslo — SLO overview"
    assert OVERVIEW["schemaVersion"] >= 36
    assert OVERVIEW["id"] is None  # provisioning assigns the numeric id
    panels = all_panels(OVERVIEW)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"}, panel["title"]
        assert min(grid["w"], grid["h"]) > 0, panel["title"]
        assert min(grid["x"], grid["y"]) >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the grid"
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells


def test_every_query_is_raw_sql_on_the_mlslo_data_source() -> None:
    panels_with_queries = [panel for panel in all_panels(OVERVIEW) if panel["type"] != "row"]
    assert all(panel.get("targets") for panel in panels_with_queries)
    assert len(sql_annotations(OVERVIEW)) == 1
    for key, target in QUERIES.items():
        assert target["datasource"] == DATASOURCE, key
        assert target["format"] in ("table", "time_series"), key
        assert target["rawQuery"] is True, key
        assert target["editorMode"] == "code", key
        assert target["refId"], key
        assert "IN ($system)" in target["rawSql"], f"{key} ignores the system variable"
    for panel in panels_with_queries:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_system_variable_is_a_multi_value_query_with_all() -> None:
    assert SYSTEM_VARIABLE["type"] == "query"
    assert SYSTEM_VARIABLE["datasource"] == DATASOURCE
    assert SYSTEM_VARIABLE["query"] == "SELECT name FROM system ORDER BY name"
    assert SYSTEM_VARIABLE["multi"] is True
    assert SYSTEM_VARIABLE["includeAll"] is True
    assert "allValue" not in SYSTEM_VARIABLE  # All must expand to the listed names
    assert SYSTEM_VARIABLE["current"]["value"] == [ALL_VALUE]


# --- every query, run as Grafana would run it ------------------------------------------------------------


@pytest.mark.parametrize("query_key", sorted(QUERIES))
def test_every_query_runs_and_has_the_columns_grafana_needs(
    db_session: Session, clock: ManualClock, seeded: Seeded, query_key: str
) -> None:
    context = grafana_context(db_session, clock)
    result = run_query(db_session, query_key, context)
    assert result.rows, f"{query_key} shows nothing for the seeded data"
    if QUERIES[query_key]["format"] == "time_series":
        assert "time" in result.columns
        times = [epoch_to_datetime(row["time"]) for row in result.rows]
        assert times == sorted(times), "time series rows must be ordered by time"
        assert all(context.time_from <= moment <= context.time_to for moment in times)
    if query_key.startswith("annotation:"):
        assert {"time", "timeend", "text", "tags"} <= set(result.columns)


def test_system_variable_query_lists_every_system(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock)
    assert context.variables["system"].options == ["churn-model", "fraud-scoring", "search-ranking"]


# --- what each panel shows ---------------------------------------------------------------------------------


def check_firing_alerts(result: Result, seeded: Seeded) -> None:
    # The archived SLO (page) and the non-current-phase SLO (ticket) must not count.
    assert result.rows == [{"Page": 1, "Ticket": 1}]


def check_firing_slos(result: Result, seeded: Seeded) -> None:
    assert [(row["System"], row["SLO"], row["Severity"]) for row in result.rows] == [
        ("fraud-scoring", "availability", "page"),
        ("search-ranking", "availability", "ticket"),
    ]
    page = result.rows[0]
    assert page["Burn rate 1h"] == pytest.approx(14.9)
    assert page["Burn rate 6h"] == pytest.approx(6.5)
    assert page["Burn rate 1d"] == pytest.approx(2.1)
    assert page["Burn rate 3d"] == pytest.approx(1.4)
    assert page["Error budget remaining"] == pytest.approx(0.42)
    assert page["Time to exhaustion"] == pytest.approx(3600.0)
    assert page["Evaluated at"] == seeded.now - timedelta(seconds=30)


def check_slo_status(result: Result, seeded: Seeded) -> None:
    by_slo = {(row["System"], row["SLO"]): row for row in result.rows}
    # Exactly the SLOs in force: not the archived one, not the one of another phase.
    assert list(by_slo) == [
        ("fraud-scoring", "availability"),
        ("fraud-scoring", "latency-p99"),
        ("search-ranking", "availability"),
        ("search-ranking", "latency"),
    ]
    availability = by_slo["fraud-scoring", "availability"]
    assert availability["Phase"] == "production"
    assert availability["Objective"] == pytest.approx(0.999)
    assert availability["Period"] == "30 days"
    assert availability["SLI"] == pytest.approx(0.9985)
    assert availability["Error budget remaining"] == pytest.approx(0.42)
    assert availability["Burn rate 1h"] == pytest.approx(14.9)
    assert availability["Burn rate 6h"] == pytest.approx(6.5)
    assert availability["Time to exhaustion"] == pytest.approx(3600.0)
    assert availability["Firing"] == "page"
    latency = by_slo["fraud-scoring", "latency-p99"]
    assert latency["SLI kind"] == "latency"
    assert latency["Burn rate 1h"] == pytest.approx(0.5)
    assert latency["Burn rate 6h"] is None  # a JSON null burn rate stays empty
    assert latency["Firing"] is None
    assert by_slo["search-ranking", "availability"]["Error budget remaining"] == pytest.approx(-0.2)
    assert by_slo["search-ranking", "availability"]["Phase"] == "technical_validation"
    not_evaluated = by_slo["search-ranking", "latency"]
    assert not_evaluated["Error budget remaining"] is None
    assert not_evaluated["Evaluated at"] is None


def check_error_budget_remaining(result: Result, seeded: Seeded) -> None:
    assert [(row["SLO"], row["Error budget remaining"]) for row in result.rows] == [
        ("search-ranking / availability", pytest.approx(-0.2)),
        ("fraud-scoring / availability", pytest.approx(0.42)),
        ("fraud-scoring / latency-p99", pytest.approx(0.9)),
    ]


def expected_buckets(seeded: Seeded) -> list[datetime]:
    return [at(seeded.now, hour) for hour in (9, 10, 11)]


def check_series(result: Result, seeded: Seeded, expected: dict[str, list[float]]) -> None:
    got = series(result)
    assert set(got) == set(expected)  # no archived or other-phase SLO
    for metric, values in expected.items():
        assert list(got[metric]) == expected_buckets(seeded), metric  # 08:30 is outside the range
        assert list(got[metric].values()) == pytest.approx(values), metric


def check_sli_over_time(result: Result, seeded: Seeded) -> None:
    check_series(
        result,
        seeded,
        {
            "fraud-scoring / availability": [1.0, 0.9, 1.0],
            "fraud-scoring / latency-p99": [0.98, 0.98, 0.98],
            "search-ranking / availability": [0.95, 0.95, 0.95],
        },
    )


def check_error_ratio_over_time(result: Result, seeded: Seeded) -> None:
    check_series(
        result,
        seeded,
        {
            "fraud-scoring / availability": [0.0, 0.1, 0.0],
            "fraud-scoring / latency-p99": [0.02, 0.02, 0.02],
            "search-ranking / availability": [0.05, 0.05, 0.05],
        },
    )


def check_burn_rate_per_bucket(result: Result, seeded: Seeded) -> None:
    # Error ratio / (1 - objective): 0.1 / 0.001, 0.02 / 0.01, 0.05 / 0.05.
    check_series(
        result,
        seeded,
        {
            "fraud-scoring / availability": [0.0, 100.0, 0.0],
            "fraud-scoring / latency-p99": [2.0, 2.0, 2.0],
            "search-ranking / availability": [1.0, 1.0, 1.0],
        },
    )


def check_events_per_bucket(result: Result, seeded: Seeded) -> None:
    check_series(
        result,
        seeded,
        {
            "fraud-scoring / availability": [6000, 6000, 6000],
            "fraud-scoring / latency-p99": [3000, 3000, 3000],
            "search-ranking / availability": [1200, 1200, 1200],
        },
    )


def check_systems(result: Result, seeded: Seeded) -> None:
    assert result.rows == [
        {
            "System": "churn-model",
            "Phase": "concept",
            "Service owner": None,
            "Model owner": "growth-ml",
            "SLOs in force": 0,
        },
        {
            "System": "fraud-scoring",
            "Phase": "production",
            "Service owner": "payments-sre",
            "Model owner": "fraud-ml",
            "SLOs in force": 2,
        },
        {
            "System": "search-ranking",
            "Phase": "technical_validation",
            "Service owner": "search-platform",
            "Model owner": "ranking-ml",
            "SLOs in force": 2,
        },
    ]


def check_breaches(result: Result, seeded: Seeded) -> None:
    # Newest first; the breach of yesterday ended before the range and is left out.
    rows = result.rows
    assert [(row["System"], row["SLO"], row["Opened"]) for row in rows] == [
        ("search-ranking", "availability", seeded.open_breach.opened_at),
        ("fraud-scoring", "availability", seeded.resolved_breach.opened_at),
        ("fraud-scoring", "latency-p95", seeded.archived_breach.opened_at),
    ]
    open_row, resolved_row, archived_row = rows
    assert open_row["State"] == "open"
    assert open_row["Resolved"] is None
    assert open_row["Duration"] is None
    assert open_row["Severity"] == "ticket"
    assert open_row["Budget remaining at open"] == pytest.approx(-0.1)
    assert open_row["Postmortem"] is None
    assert resolved_row["State"] == "resolved"
    assert resolved_row["Resolved"] == seeded.resolved_breach.resolved_at
    assert resolved_row["Duration"] == pytest.approx(45 * 60)
    assert resolved_row["Peak burn rate"] == pytest.approx(16.2)
    assert resolved_row["Postmortem"] == f"{seeded.outage_title}; {seeded.follow_up_title}"
    assert resolved_row["Postmortem status"] == "in_review; draft"
    # Breaches stay visible after their SLO is archived.
    assert archived_row["SLO phase"] == "production"
    assert archived_row["Postmortem"] is None


def check_breach_annotations(result: Result, seeded: Seeded) -> None:
    assert [(row["time"], row["timeend"]) for row in result.rows] == [
        (seeded.archived_breach.opened_at, seeded.archived_breach.resolved_at),
        (seeded.resolved_breach.opened_at, seeded.resolved_breach.resolved_at),
        # Still open: the region runs to the end of the time range.
        (seeded.open_breach.opened_at, seeded.now),
    ]
    assert [row["text"] for row in result.rows] == [
        "[page] fraud-scoring / latency-p95: peak burn rate 20.0",
        "[page] fraud-scoring / availability: peak burn rate 16.2; postmortem: "
        f"{seeded.outage_title}; {seeded.follow_up_title}",
        "[ticket] search-ranking / availability: peak burn rate 3.4 (open)",
    ]
    assert [row["tags"] for row in result.rows] == [
        "breach,page,fraud-scoring",
        "breach,page,fraud-scoring",
        "breach,ticket,search-ranking",
    ]


VALUE_CHECKS: dict[str, Callable[[Result, Seeded], None]] = {
    "panel:Firing alerts:A": check_firing_alerts,
    "panel:Firing SLOs:A": check_firing_slos,
    "panel:SLO status:A": check_slo_status,
    "panel:Error budget remaining:A": check_error_budget_remaining,
    "panel:SLI over time:A": check_sli_over_time,
    "panel:Error ratio over time:A": check_error_ratio_over_time,
    "panel:Burn rate per bucket:A": check_burn_rate_per_bucket,
    "panel:Events per bucket:A": check_events_per_bucket,
    "panel:Systems:A": check_systems,
    "panel:Breaches in time range:A": check_breaches,
    "annotation:SLO breaches": check_breach_annotations,
}


def test_every_query_has_a_value_check() -> None:
    assert set(VALUE_CHECKS) == set(QUERIES)


@pytest.mark.parametrize("query_key", sorted(VALUE_CHECKS))
def test_panel_shows_the_seeded_values(
    db_session: Session, clock: ManualClock, seeded: Seeded, query_key: str
) -> None:
    result = run_query(db_session, query_key, grafana_context(db_session, clock))
    VALUE_CHECKS[query_key](result, seeded)


def test_sli_buckets_follow_the_panel_interval(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, interval=timedelta(minutes=5))
    sli = series(run_query(db_session, "panel:SLI over time:A", context))["fraud-scoring / availability"]
    assert list(sli) == [at(seeded.now, 9) + timedelta(minutes=5 * bucket) for bucket in range(36)]
    for moment, value in sli.items():
        bad_half_hour = moment.hour == 10 and moment.minute < 30
        assert value == pytest.approx(130 / 150 if bad_half_hour else 1.0), moment


def cell_texts(result: Result) -> Iterator[str]:
    for row in result.rows:
        for value in row.values():
            if isinstance(value, str):
                yield value


def test_selecting_one_system_filters_every_query(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, systems=["search-ranking"])
    results = {key: run_query(db_session, key, context) for key in QUERIES}
    for key, result in results.items():
        assert not any("fraud-scoring" in cell or "churn-model" in cell for cell in cell_texts(result)), key
    assert results["panel:Firing alerts:A"].rows == [{"Page": 0, "Ticket": 1}]
    assert results["panel:SLO status:A"].column("SLO") == ["availability", "latency"]
    assert results["panel:Systems:A"].column("System") == ["search-ranking"]
    assert results["panel:Breaches in time range:A"].column("Opened") == [seeded.open_breach.opened_at]
    assert list(series(results["panel:SLI over time:A"])) == ["search-ranking / availability"]


def test_a_system_without_slos_shows_empty_panels(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, systems=["churn-model"])
    assert run_query(db_session, "panel:Systems:A", context).column("SLOs in force") == [0]
    assert run_query(db_session, "panel:Firing alerts:A", context).rows == [{"Page": 0, "Ticket": 0}]
    for key in QUERIES:
        if key not in ("panel:Systems:A", "panel:Firing alerts:A"):
            assert run_query(db_session, key, context).rows == [], key


def test_an_earlier_time_range_shows_only_what_overlaps_it(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    day_before = seeded.old_breach.opened_at
    context = grafana_context(db_session, clock)
    earlier = QueryContext(
        time_from=day_before - HOUR,
        time_to=day_before + HOUR,
        interval=HOUR,
        variables=context.variables,
    )
    breaches = run_query(db_session, "panel:Breaches in time range:A", earlier)
    assert breaches.column("Postmortem") == ["Old ticket"]
    assert run_query(db_session, "panel:SLI over time:A", earlier).rows == []


# --- the read-only role from dashboards/README.md -------------------------------------------------------


def readme_role_sql() -> str:
    readme = (DASHBOARDS_DIR / "README.md").read_text(encoding="utf-8")
    blocks = [match.group(1) for match in re.finditer(r"```sql\n(.*?)```", readme, flags=re.DOTALL)]
    role_blocks = [block for block in blocks if "CREATE ROLE mlslo_grafana" in block]
    assert len(role_blocks) == 1, "dashboards/README.md must give the role SQL in one ```sql block"
    return role_blocks[0]


def test_the_documented_read_only_role_can_run_every_query_and_nothing_else(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    for statement in readme_role_sql().split(";"):
        if statement.strip():
            db_session.execute(text(statement))
    # A table that a later migration creates (as the same owner) is readable without a new GRANT.
    db_session.execute(text("CREATE TABLE later_migration_table (id integer)"))
    context = grafana_context(db_session, clock)
    db_session.execute(text("SET LOCAL ROLE mlslo_grafana"))
    try:
        for key, check in VALUE_CHECKS.items():
            check(run_query(db_session, key, context), seeded)
        assert db_session.execute(text("SELECT count(*) FROM later_migration_table")).scalar_one() == 0
        for forbidden in (
            "DELETE FROM breach",
            "UPDATE slo_status SET alert_severity = NULL",
            "SELECT key_hash FROM api_key",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"), db_session.begin_nested():
                db_session.execute(text(forbidden))
    finally:
        db_session.execute(text("RESET ROLE"))


# --- provisioning files -----------------------------------------------------------------------------------


def load_yaml(relative: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DASHBOARDS_DIR / relative).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_datasource_provisioning_matches_the_panels() -> None:
    config = load_yaml("provisioning/datasources/mlslo.yaml")
    assert config["apiVersion"] == 1
    [datasource] = config["datasources"]
    assert datasource["type"] == DATASOURCE_TYPE
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "${MLSLO_GRAFANA_DB_HOST}:${MLSLO_GRAFANA_DB_PORT}"
    assert datasource["user"] == "${MLSLO_GRAFANA_DB_USER}"
    assert datasource["secureJsonData"] == {"password": "$MLSLO_GRAFANA_DB_PASSWORD"}
    json_data = datasource["jsonData"]
    assert json_data["database"] == "${MLSLO_GRAFANA_DB_NAME}"
    assert json_data["sslmode"] == "${MLSLO_GRAFANA_DB_SSLMODE}"
    assert json_data["postgresVersion"] == 1500
    assert json_data["timescaledb"] is False  # $__timeGroup must expand to floor(...), as tested here
    assert "password" not in datasource  # only in secureJsonData


def test_dashboard_provider_points_at_the_documented_folder() -> None:
    config = load_yaml("provisioning/dashboards/mlslo.yaml")
    assert config["apiVersion"] == 1
    [provider] = config["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path.startswith("/")
    readme = (DASHBOARDS_DIR / "README.md").read_text(encoding="utf-8")
    assert path in readme, "dashboards/README.md must say where to mount the dashboards"
