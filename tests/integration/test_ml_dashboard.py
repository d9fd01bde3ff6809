"""Runs every query of the ML dashboard (`dashboards/ml.json`), expanded as Grafana would, against a
seeded database, and checks that each panel shows the seeded values split by model version."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.models import DriftScore, ModelVersion, Prediction, SliSample, Slo, System
from tests.grafana_sql import ALL_VALUE, QueryContext, TemplateVariable, expand
from tests.integration.test_dashboards import (
    DASHBOARDS_DIR,
    DATASOURCE,
    HOUR,
    OVERVIEW,
    Result,
    all_panels,
    at,
    cell_texts,
    readme_role_sql,
    run_sql,
    sql_annotations,
)

ML = json.loads((DASHBOARDS_DIR / "ml.json").read_text(encoding="utf-8"))
QUERIES: dict[str, dict[str, Any]] = {
    f"panel:{panel['title']}:{target['refId']}": target
    for panel in all_panels(ML)
    for target in panel.get("targets", [])
}
SYSTEM_VARIABLE = next(v for v in ML["templating"]["list"] if v["name"] == "system")
RANGE = 6 * HOUR

VALUE_SLIS = "panel:Value SLIs by model version:A"
ACCURACY = "panel:Accuracy by model version:A"
LABELLED_SHARE = "panel:Labelled share:A"
DRIFTED_COLUMNS = "panel:Drifted columns:A"
MODEL_VERSIONS = "panel:Model versions:A"
FAILED_READINGS = "panel:Failed readings:A"


# --- running the dashboard's queries -----------------------------------------------------------------


def grafana_context(
    db_session: Session,
    clock: ManualClock,
    *,
    systems: list[str] | None = None,
    interval: timedelta = HOUR,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
) -> QueryContext:
    """The last six hours (unless given), and the `system` variable as Grafana resolves it from its
    query; `systems=None` selects All."""
    now = clock.now()
    time_from = now - RANGE if time_from is None else time_from
    time_to = now if time_to is None else time_to
    no_variables = QueryContext(time_from=time_from, time_to=time_to)
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
        time_from=time_from, time_to=time_to, interval=interval, variables={"system": variable}
    )


def run_query(db_session: Session, query_key: str, context: QueryContext) -> Result:
    return run_sql(db_session, expand(QUERIES[query_key]["rawSql"], context))


def as_datetime(value: Any) -> datetime:
    """A time column: epoch seconds from `$__timeGroupAlias`, or a timestamptz from `$__time`."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value.astimezone(UTC)
    assert isinstance(value, int | float | Decimal), f"time column holds {value!r}"
    return datetime.fromtimestamp(float(value), tz=UTC)


def series(result: Result) -> dict[str, dict[datetime, float | None]]:
    """A long-format time series result as {metric: {time: value}}; a NULL value stays None."""
    by_metric: dict[str, dict[datetime, float | None]] = {}
    for row in result.rows:
        value = None if row["value"] is None else float(row["value"])
        moment = as_datetime(row["time"])
        assert moment not in by_metric.get(row["metric"], {}), f"two values at {moment} for {row['metric']}"
        by_metric.setdefault(row["metric"], {})[moment] = value
    return by_metric


def assert_series(result: Result, expected: dict[str, dict[datetime, float | None]]) -> None:
    got = series(result)
    assert sorted(got) == sorted(expected)
    for metric, points in expected.items():
        assert list(got[metric]) == list(points), metric
        for moment, value in points.items():
            if value is None:
                assert got[metric][moment] is None, (metric, moment)
            else:
                assert got[metric][moment] == pytest.approx(value), (metric, moment)


# --- seeded data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    now: datetime


def hours_ago(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)


@pytest.fixture
def seeded(db_session: Session, clock: ManualClock) -> Seeded:
    now = clock.now()
    assert now == datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    long_ago = now - timedelta(days=30)

    def system(name: str, phase: str) -> System:
        return System(
            name=name, phase=phase, model_owner=f"{name}-ml", created_at=long_ago, updated_at=long_ago
        )

    fraud = system("fraud-scoring", "production")
    search = system("search-ranking", "technical_validation")
    churn = system("churn-model", "concept")
    db_session.add_all([fraud, search, churn])
    db_session.flush()

    def slo(
        owner: System,
        phase: str,
        name: str,
        sli_kind: str,
        metric: str,
        archived_at: datetime | None = None,
    ) -> Slo:
        return Slo(
            system_id=owner.id,
            phase=phase,
            name=name,
            sli_kind=sli_kind,
            metric=metric,
            objective=0.9,
            period=timedelta(days=30),
            definition={"name": name},
            source_path=f"slo_definitions/{owner.name}/{name}.yaml",
            created_at=long_ago,
            updated_at=long_ago,
            archived_at=archived_at,
        )

    feature_drift = slo(fraud, "production", "feature-drift", "data_drift", "drifted_share")
    f1 = slo(fraud, "production", "f1", "classification_quality", "f1")
    archived = slo(
        fraud, "production", "old-drift", "data_drift", "drifted_share", archived_at=now - timedelta(days=2)
    )
    other_phase = slo(fraud, "technical_validation", "feature-drift", "data_drift", "drifted_share")
    model_age = slo(search, "technical_validation", "model-age", "model_staleness", "age")
    input_drift = slo(search, "technical_validation", "input-drift", "data_drift", "drifted_share")
    db_session.add_all([feature_drift, f1, archived, other_phase, model_age, input_drift])
    db_session.flush()

    # --- SLI readings: per model version ('' = the SLI as a whole); None = a failed collection.
    def sample(target: Slo, moment: datetime, version: str, value: float | None) -> SliSample:
        return SliSample(
            slo_id=target.id, measured_at=moment, model_version=version, value=value, sample_size=100
        )

    samples = [sample(feature_drift, at(now, 5), "", 0.9)]  # before the time range
    readings = {"": (0.1, 0.2, 0.5), "v1": (0.0, 0.25, 0.5), "v2": (0.2, None, 0.5)}
    for version, values in readings.items():
        for hour, value in zip((9, 10, 11), values, strict=True):
            samples.append(sample(feature_drift, at(now, hour), version, value))
    samples += [
        sample(f1, at(now, 10, 30), "", 0.81),
        sample(f1, at(now, 10, 30), "v1", 0.8),
        sample(f1, at(now, 10, 30), "v2", 0.84),
        sample(model_age, at(now, 9, 30), "", 3600.0),
        sample(model_age, at(now, 10), "", None),
        sample(model_age, at(now, 10, 30), "", None),
        sample(model_age, at(now, 11, 30), "", 10800.0),
        # Not in force: must not show up anywhere.
        sample(archived, at(now, 10), "", 0.9),
        sample(archived, at(now, 11), "", None),
        sample(other_phase, at(now, 10), "v1", 0.7),
    ]
    db_session.add_all(samples)

    # --- Predictions: fraud-scoring classifies with v1 and v2; search-ranking regresses with r1.
    predictions: list[Prediction] = []

    def predict(
        owner: System, version: str, moment: datetime, served: int, labelled: int, correct: int
    ) -> None:
        assert served >= labelled >= correct
        for index in range(served):
            is_labelled = index < labelled
            predictions.append(
                Prediction(
                    system_id=owner.id,
                    prediction_id=f"{version}-{moment:%H%M}-{index}",
                    predicted_at=moment,
                    model_version=version,
                    predicted_label="fraud",
                    score=0.7,
                    features={"amount": 12.5, "country": "FR"},
                    label=("fraud" if index < correct else "ok") if is_labelled else None,
                    labelled_at=now if is_labelled else None,
                )
            )

    predict(fraud, "v1", at(now, 5), 1, 1, 0)  # before the time range
    # v1 at 09:00 is uneven: 2/2 correct at 09:10, 4/6 labelled correct at 09:40 (8 served). The
    # hour's accuracy is the ratio of sums 6/8 = 0.75, not the mean of the half hours (0.833).
    predict(fraud, "v1", at(now, 9, 10), 2, 2, 2)
    predict(fraud, "v1", at(now, 9, 40), 8, 6, 4)
    predict(fraud, "v2", at(now, 9, 20), 5, 5, 4)
    predict(fraud, "v1", at(now, 10, 15), 4, 2, 1)
    predict(fraud, "v2", at(now, 10, 45), 6, 3, 2)
    predict(fraud, "v2", at(now, 11, 5), 4, 0, 0)  # labels not in yet
    for index in range(4):  # a regressor: labelled rows, but no label to compare for accuracy
        predictions.append(
            Prediction(
                system_id=search.id,
                prediction_id=f"r1-{index}",
                predicted_at=at(now, 10, 20),
                model_version="r1",
                predicted_value=3.0,
                label="3.5" if index == 0 else None,
                label_value=3.5 if index == 0 else None,
                labelled_at=now if index == 0 else None,
            )
        )
    db_session.add_all(predictions)

    # --- Drift checks: one row per column and model version ('' = the whole window) per check.
    def drift(
        target: Slo,
        moment: datetime,
        version: str,
        column: str,
        method: str,
        score: float,
        threshold: float,
        drifted: bool,
    ) -> DriftScore:
        p_value = method in ("ks", "chisquare")
        return DriftScore(
            slo_id=target.id,
            measured_at=moment,
            model_version=version,
            column_name=column,
            method=method,
            threshold=threshold,
            score=score,
            drifted=drifted,
            drift_when="below" if p_value else "at_or_above",
            current_rows=500,
        )

    db_session.add_all(
        [
            drift(feature_drift, at(now, 5), "", "amount", "psi", 0.05, 0.1, False),
            drift(feature_drift, at(now, 10), "", "amount", "ks", 0.01, 0.05, True),
            drift(feature_drift, at(now, 10), "", "country", "chisquare", 0.5, 0.05, False),
            # The latest check in the time range: the one the table shows.
            drift(feature_drift, at(now, 11), "", "amount", "ks", 0.2, 0.05, False),
            drift(feature_drift, at(now, 11), "", "country", "chisquare", 0.001, 0.05, True),
            drift(feature_drift, at(now, 11), "v1", "amount", "ks", 0.3, 0.05, False),
            drift(feature_drift, at(now, 11), "v1", "country", "chisquare", 0.2, 0.05, False),
            drift(feature_drift, at(now, 11), "v2", "amount", "wasserstein", 0.4, 0.1, True),
            drift(feature_drift, at(now, 11), "v2", "country", "jensenshannon", 0.05, 0.1, False),
            drift(input_drift, at(now, 8), "", "query_length", "psi", 0.3, 0.2, True),
            # Not in force.
            drift(archived, at(now, 11, 30), "", "amount", "psi", 0.9, 0.1, True),
            drift(other_phase, at(now, 11, 45), "", "amount", "psi", 0.9, 0.1, True),
        ]
    )

    def model_version(
        owner: System,
        version: str,
        trained_at: datetime,
        outcome: str,
        metrics: dict[str, float],
        serving_since: datetime | None,
    ) -> ModelVersion:
        return ModelVersion(
            system_id=owner.id,
            version=version,
            trained_at=trained_at,
            registered_at=trained_at + HOUR,
            data_version=f"data-{version}",
            outcome=outcome,
            metrics=metrics,
            evaluation_set="holdout-2025",
            serving_since=serving_since,
        )

    db_session.add_all(
        [
            model_version(
                fraud,
                "v1",
                datetime(2025, 12, 1, tzinfo=UTC),
                "succeeded",
                {"accuracy": 0.91, "f1": 0.8},
                datetime(2025, 12, 2, tzinfo=UTC),
            ),
            model_version(
                fraud,
                "v2",
                datetime(2026, 1, 4, tzinfo=UTC),
                "succeeded",
                {"accuracy": 0.93, "f1": 0.84},
                at(now, 8),
            ),
            model_version(fraud, "v3", at(now, 6), "failed", {}, None),
            model_version(
                search,
                "r1",
                datetime(2025, 11, 1, tzinfo=UTC),
                "succeeded",
                {"mae": 0.3},
                datetime(2025, 11, 2, tzinfo=UTC),
            ),
        ]
    )
    db_session.flush()
    return Seeded(now=now)


# --- the dashboard file itself -------------------------------------------------------------------------


def test_dashboard_has_a_stable_uid_and_well_placed_panels() -> None:
    assert ML["uid"] == "mlslo-ml"
    assert ML["title"] == "mlslo — ML SLIs"
    assert ML["schemaVersion"] >= 36
    assert ML["id"] is None  # provisioning assigns the numeric id
    assert ML["timezone"] == "utc"
    panels = all_panels(ML)
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
    assert [(panel["type"], panel["title"]) for panel in panels] == [
        ("timeseries", "Value SLIs by model version"),
        ("timeseries", "Accuracy by model version"),
        ("timeseries", "Labelled share"),
        ("table", "Drifted columns"),
        ("table", "Model versions"),
        ("table", "Failed readings"),
    ]


def test_every_query_is_raw_sql_on_the_mlslo_data_source() -> None:
    panels = all_panels(ML)
    assert all(panel.get("targets") for panel in panels)
    assert sql_annotations(ML) == []
    for key, target in QUERIES.items():
        assert target["datasource"] == DATASOURCE, key
        assert target["format"] in ("table", "time_series"), key
        assert target["rawQuery"] is True, key
        assert target["editorMode"] == "code", key
        assert target["refId"], key
        assert "IN ($system)" in target["rawSql"], f"{key} ignores the system variable"
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        expected_format = "time_series" if panel["type"] == "timeseries" else "table"
        assert [target["format"] for target in panel["targets"]] == [expected_format], panel["title"]


def test_system_variable_is_the_overview_one() -> None:
    ml_variable = SYSTEM_VARIABLE
    assert ml_variable == next(v for v in OVERVIEW["templating"]["list"] if v["name"] == "system")
    assert [v["name"] for v in ML["templating"]["list"]] == ["system"]


def test_every_provisioned_dashboard_has_its_own_uid() -> None:
    uids = [
        json.loads(path.read_text(encoding="utf-8"))["uid"] for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    ]
    assert "mlslo-ml" in uids
    assert len(uids) == len(set(uids))
    readme = (DASHBOARDS_DIR / "README.md").read_text(encoding="utf-8")
    assert "`ml.json`" in readme
    assert "`mlslo-ml`" in readme


# --- every query, run as Grafana would run it ------------------------------------------------------------


@pytest.mark.parametrize("query_key", sorted(QUERIES))
def test_every_query_runs_and_has_the_columns_grafana_needs(
    db_session: Session, clock: ManualClock, seeded: Seeded, query_key: str
) -> None:
    context = grafana_context(db_session, clock)
    result = run_query(db_session, query_key, context)
    assert result.rows, f"{query_key} shows nothing for the seeded data"
    if QUERIES[query_key]["format"] == "time_series":
        assert result.columns == ["time", "metric", "value"]
        times = [as_datetime(row["time"]) for row in result.rows]
        assert times == sorted(times), "time series rows must be ordered by time"
        assert all(context.time_from <= moment <= context.time_to for moment in times)


# --- what each panel shows ---------------------------------------------------------------------------------


def check_value_slis(result: Result, seeded: Seeded) -> None:
    now = seeded.now
    hourly = [at(now, 9), at(now, 10), at(now, 11)]
    assert_series(
        result,
        {
            # 05:00 is outside the range; the archived and the other-phase SLOs are not in force.
            "fraud-scoring/f1 · all": {at(now, 10, 30): 0.81},
            "fraud-scoring/f1 · v1": {at(now, 10, 30): 0.8},
            "fraud-scoring/f1 · v2": {at(now, 10, 30): 0.84},
            "fraud-scoring/feature-drift · all": dict(zip(hourly, [0.1, 0.2, 0.5], strict=True)),
            "fraud-scoring/feature-drift · v1": dict(zip(hourly, [0.0, 0.25, 0.5], strict=True)),
            # The failed collection is a gap (NULL), not a zero.
            "fraud-scoring/feature-drift · v2": dict(zip(hourly, [0.2, None, 0.5], strict=True)),
            "search-ranking/model-age · all": {
                at(now, 9, 30): 3600.0,
                at(now, 10): None,
                at(now, 10, 30): None,
                at(now, 11, 30): 10800.0,
            },
        },
    )


def check_accuracy(result: Result, seeded: Seeded) -> None:
    now = seeded.now
    nine, ten = at(now, 9), at(now, 10)
    # Correct / labelled; v2's 11:00 predictions have no labels yet, so that bucket has no accuracy,
    # and search-ranking's regressor has nothing to compare. 05:00 is before the range.
    assert_series(
        result,
        {
            "fraud-scoring · v1": {nine: 6 / 8, ten: 1 / 2},
            "fraud-scoring · v2": {nine: 4 / 5, ten: 2 / 3},
            "fraud-scoring · all": {nine: 10 / 13, ten: 3 / 5},
        },
    )


def check_labelled_share(result: Result, seeded: Seeded) -> None:
    now = seeded.now
    nine, ten, eleven = at(now, 9), at(now, 10), at(now, 11)
    assert_series(
        result,
        {
            "fraud-scoring · v1": {nine: 8 / 10, ten: 2 / 4},
            "fraud-scoring · v2": {nine: 5 / 5, ten: 3 / 6, eleven: 0.0},
            "fraud-scoring · all": {nine: 13 / 15, ten: 5 / 10, eleven: 0.0},
            "search-ranking · r1": {ten: 1 / 4},
            "search-ranking · all": {ten: 1 / 4},
        },
    )


def check_drifted_columns(result: Result, seeded: Seeded) -> None:
    eleven = at(seeded.now, 11)
    # Only the latest check of each SLO in force: fraud's 11:00 check (not 10:00 or 05:00), and
    # search's 08:00 check. Per SLO and model version, drifted columns first.
    assert result.rows == [
        {
            "System": "fraud-scoring",
            "SLO": "feature-drift",
            "Model version": version,
            "Column": column,
            "Method": method,
            "Score": pytest.approx(score),
            "Threshold": pytest.approx(threshold),
            "Drift when": drift_when,
            "Drifted": drifted,
            "Current rows": 500,
            "Checked at": eleven,
        }
        for version, column, method, score, threshold, drift_when, drifted in [
            ("all", "country", "chisquare", 0.001, 0.05, "below", True),
            ("all", "amount", "ks", 0.2, 0.05, "below", False),
            ("v1", "amount", "ks", 0.3, 0.05, "below", False),
            ("v1", "country", "chisquare", 0.2, 0.05, "below", False),
            ("v2", "amount", "wasserstein", 0.4, 0.1, "at_or_above", True),
            ("v2", "country", "jensenshannon", 0.05, 0.1, "at_or_above", False),
        ]
    ] + [
        {
            "System": "search-ranking",
            "SLO": "input-drift",
            "Model version": "all",
            "Column": "query_length",
            "Method": "psi",
            "Score": pytest.approx(0.3),
            "Threshold": pytest.approx(0.2),
            "Drift when": "at_or_above",
            "Drifted": True,
            "Current rows": 500,
            "Checked at": at(seeded.now, 8),
        }
    ]


def check_model_versions(result: Result, seeded: Seeded) -> None:
    # Newest trained first within each system.
    assert [(row["System"], row["Version"]) for row in result.rows] == [
        ("fraud-scoring", "v3"),
        ("fraud-scoring", "v2"),
        ("fraud-scoring", "v1"),
        ("search-ranking", "r1"),
    ]
    v3, v2, v1, r1 = result.rows
    assert v2["Trained at"] == datetime(2026, 1, 4, tzinfo=UTC)
    assert v2["Outcome"] == "succeeded"
    assert v2["Serving since"] == at(seeded.now, 8)
    assert v2["Data version"] == "data-v2"
    assert v2["Evaluation set"] == "holdout-2025"
    assert v2["Accuracy"] == pytest.approx(0.93)
    assert json.loads(v2["Metrics"]) == {"accuracy": 0.93, "f1": 0.84}
    assert v1["Accuracy"] == pytest.approx(0.91)
    assert v1["Serving since"] == datetime(2025, 12, 2, tzinfo=UTC)
    assert v3["Outcome"] == "failed"
    assert v3["Serving since"] is None
    assert v3["Accuracy"] is None
    assert json.loads(v3["Metrics"]) == {}
    assert r1["Accuracy"] is None  # a regressor's metrics have no accuracy
    assert json.loads(r1["Metrics"]) == {"mae": 0.3}
    # Served in the time range (v1's 05:00 prediction is before it).
    assert [row["Predictions in range"] for row in result.rows] == [0, 4 + 6 + 5, 2 + 8 + 4, 4]


def check_failed_readings(result: Result, seeded: Seeded) -> None:
    # Most failures first; the archived SLO's failure is not in force.
    assert result.rows == [
        {
            "System": "search-ranking",
            "SLO": "model-age",
            "Model version": "all",
            "Failed": 2,
            "Readings": 4,
            "Last failed": at(seeded.now, 10, 30),
        },
        {
            "System": "fraud-scoring",
            "SLO": "feature-drift",
            "Model version": "v2",
            "Failed": 1,
            "Readings": 3,
            "Last failed": at(seeded.now, 10),
        },
    ]


VALUE_CHECKS: dict[str, Callable[[Result, Seeded], None]] = {
    VALUE_SLIS: check_value_slis,
    ACCURACY: check_accuracy,
    LABELLED_SHARE: check_labelled_share,
    DRIFTED_COLUMNS: check_drifted_columns,
    MODEL_VERSIONS: check_model_versions,
    FAILED_READINGS: check_failed_readings,
}


def test_every_query_has_a_value_check() -> None:
    assert set(VALUE_CHECKS) == set(QUERIES)


@pytest.mark.parametrize("query_key", sorted(VALUE_CHECKS))
def test_panel_shows_the_seeded_values(
    db_session: Session, clock: ManualClock, seeded: Seeded, query_key: str
) -> None:
    result = run_query(db_session, query_key, grafana_context(db_session, clock))
    VALUE_CHECKS[query_key](result, seeded)


def test_prediction_buckets_follow_the_panel_interval(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, interval=timedelta(minutes=30))
    now = seeded.now
    accuracy = series(run_query(db_session, ACCURACY, context))
    assert accuracy["fraud-scoring · v1"] == {
        at(now, 9): pytest.approx(2 / 2),
        at(now, 9, 30): pytest.approx(4 / 6),
        at(now, 10): pytest.approx(1 / 2),
    }
    share = series(run_query(db_session, LABELLED_SHARE, context))
    assert share["fraud-scoring · v1"] == {
        at(now, 9): pytest.approx(2 / 2),
        at(now, 9, 30): pytest.approx(6 / 8),
        at(now, 10): pytest.approx(2 / 4),
    }


def test_selecting_one_system_filters_every_query(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, systems=["search-ranking"])
    results = {key: run_query(db_session, key, context) for key in QUERIES}
    for key, result in results.items():
        assert not any("fraud-scoring" in cell or "churn-model" in cell for cell in cell_texts(result)), key
    assert list(series(results[VALUE_SLIS])) == ["search-ranking/model-age · all"]
    assert results[ACCURACY].rows == []  # search-ranking's regressor has no accuracy
    assert list(series(results[LABELLED_SHARE])) == ["search-ranking · all", "search-ranking · r1"]
    assert results[DRIFTED_COLUMNS].column("SLO") == ["input-drift"]
    assert results[MODEL_VERSIONS].column("Version") == ["r1"]
    assert results[FAILED_READINGS].column("SLO") == ["model-age"]

    context = grafana_context(db_session, clock, systems=["fraud-scoring"])
    results = {key: run_query(db_session, key, context) for key in QUERIES}
    for key, result in results.items():
        assert result.rows, key
        assert not any("search-ranking" in cell or "churn-model" in cell for cell in cell_texts(result)), key
    assert results[DRIFTED_COLUMNS].column("SLO") == ["feature-drift"] * 6
    assert results[MODEL_VERSIONS].column("Version") == ["v3", "v2", "v1"]


def test_selecting_two_systems_shows_both(db_session: Session, clock: ManualClock, seeded: Seeded) -> None:
    context = grafana_context(db_session, clock, systems=["fraud-scoring", "search-ranking"])
    every = grafana_context(db_session, clock)
    for key in QUERIES:
        assert run_query(db_session, key, context) == run_query(db_session, key, every), key


def test_a_system_without_ml_data_shows_empty_panels(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    context = grafana_context(db_session, clock, systems=["churn-model"])
    for key in QUERIES:
        assert run_query(db_session, key, context).rows == [], key


def test_an_earlier_time_range_shows_that_range_only(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    now = seeded.now
    context = grafana_context(db_session, clock, time_from=at(now, 4), time_to=at(now, 6))
    # The drifted-columns table shows the latest check within the range, not the newest overall.
    drift = run_query(db_session, DRIFTED_COLUMNS, context)
    assert [(row["SLO"], row["Column"], row["Checked at"]) for row in drift.rows] == [
        ("feature-drift", "amount", at(now, 5))
    ]
    assert series(run_query(db_session, VALUE_SLIS, context)) == {
        "fraud-scoring/feature-drift · all": {at(now, 5): pytest.approx(0.9)}
    }
    assert series(run_query(db_session, ACCURACY, context)) == {
        "fraud-scoring · v1": {at(now, 5): 0.0},
        "fraud-scoring · all": {at(now, 5): 0.0},
    }
    versions = run_query(db_session, MODEL_VERSIONS, context)
    assert [(row["Version"], row["Predictions in range"]) for row in versions.rows] == [
        ("v3", 0),
        ("v2", 0),
        ("v1", 1),
        ("r1", 0),
    ]
    assert run_query(db_session, FAILED_READINGS, context).rows == []


# --- the read-only role from dashboards/README.md -------------------------------------------------------


def test_the_documented_read_only_role_can_run_every_query(
    db_session: Session, clock: ManualClock, seeded: Seeded
) -> None:
    for statement in readme_role_sql().split(";"):
        if statement.strip():
            db_session.execute(text(statement))
    context = grafana_context(db_session, clock)
    db_session.execute(text("SET LOCAL ROLE mlslo_grafana"))
    try:
        for key, check in VALUE_CHECKS.items():
            check(run_query(db_session, key, context), seeded)
        for forbidden in (
            "DELETE FROM prediction",
            "UPDATE model_version SET outcome = 'failed'",
            "INSERT INTO sli_sample (slo_id, measured_at) VALUES (1, now())",
            # The features that predictions were served on may be personal data: no panel reads them.
            "SELECT features FROM prediction",
            "SELECT * FROM prediction",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"), db_session.begin_nested():
                db_session.execute(text(forbidden))
    finally:
        db_session.execute(text("RESET ROLE"))
