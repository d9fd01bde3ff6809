"""Model versions from real retrains on scikit-learn's breast cancer data: retrain-stability readings
equal an independent computation on the fixed evaluation set, failed and unstable retrains are bad
readings that count-based rules count, the serving model's age is collected, and readings computed
offline can be pushed for `push` value SLOs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.models import CollectorRun
from app.collectors.service import CollectionReport, collect_due
from app.db import SessionFactory
from app.evaluation.models import Breach, SloStatus
from app.measurements.models import SliSample
from app.slos.models import Slo

APPLY = "/api/v1/slo-definitions/apply"
SYSTEM = "/api/v1/systems/scoring"
VERSIONS = f"{SYSTEM}/model-versions"
HEADER = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n"
EVAL_SET = "cancer-holdout-2026-01"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Retrain:
    """One retrained model's predictions on the fixed evaluation set, and its accuracy there."""

    name: str
    predictions: NDArray[np.int64]
    labels: NDArray[np.int64]
    accuracy: float

    def body(self, trained_at: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "version": self.name,
            "trained_at": trained_at.isoformat(),
            "data_version": f"data-{self.name}",
            "metrics": {"accuracy": self.accuracy},
            "evaluation_set": {
                "name": EVAL_SET,
                "predictions": [int(p) for p in self.predictions],
                "labels": [int(y) for y in self.labels],
            },
            **fields,
        }


@pytest.fixture(scope="module")
def retrains() -> dict[str, Retrain]:
    """Weekly retrains: each fits on a bootstrap sample of the training rows (alternating logistic
    regression and a random forest), all scored on one fixed held-out set. `stump` is a broken
    retrain: a depth-1 tree fitted on 40 rows."""
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=7, stratify=data.target
    )
    labels = np.asarray(y_test, dtype=np.int64)
    rng = np.random.default_rng(3)
    models: dict[str, Any] = {}
    for i in range(6):
        rows = rng.integers(0, len(x_train), len(x_train))
        model = (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            if i % 2 == 0
            else RandomForestClassifier(n_estimators=30, random_state=i)
        )
        models[f"v{i + 1}"] = model.fit(x_train[rows], y_train[rows])
    models["stump"] = DecisionTreeClassifier(max_depth=1, random_state=0).fit(x_train[:40], y_train[:40])
    result = {}
    for name, model in models.items():
        predicted = np.asarray(model.predict(x_test), dtype=np.int64)
        result[name] = Retrain(name, predicted, labels, float(np.mean(predicted == labels)))
    return result


def _churn(a: Retrain, b: Retrain) -> float:
    return float(np.mean(a.predictions != b.predictions))


def _negative_flips(a: Retrain, b: Retrain) -> float:
    y = a.labels
    return float(np.mean((a.predictions == y) & (b.predictions != y)))


def _spread(accuracies: Sequence[float]) -> float:
    return float(np.std(np.asarray(accuracies), ddof=0))


def _slo(name: str, body: str, objective: str = "    objectives: [{target: 0.9, value: 0.06}]\n") -> str:
    return f"  - name: {name}\n    sli: {body}\n{objective}    time_slice: {{window: 1d}}\n    window: 28d\n"


def _setup(client: TestClient, headers: dict[str, str], slos: Sequence[str]) -> None:
    registered = client.post(
        "/api/v1/systems", json={"name": "scoring", "phase": "technical_validation"}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    applied = client.post(
        APPLY,
        json={"files": [{"path": "scoring/technical_validation.yaml", "content": HEADER + "".join(slos)}]},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text


def _register(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(VERSIONS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _readings(db_session: Session, name: str, version: str = "") -> dict[datetime, float | None]:
    db_session.expire_all()
    slo_id = db_session.scalars(select(Slo.id).where(Slo.name == name)).one()
    rows = db_session.scalars(
        select(SliSample).where(SliSample.slo_id == slo_id, SliSample.model_version == version)
    ).all()
    return {row.measured_at: row.value for row in rows}


def _approx(expected: Mapping[datetime, float | None]) -> dict[datetime, Any]:
    return {at: None if value is None else pytest.approx(value, abs=1e-12) for at, value in expected.items()}


STABILITY_SLOS = [
    _slo("churn", "{kind: retrain_stability, source: push, metric: prediction_churn}"),
    _slo("flips", "{kind: retrain_stability, source: push, metric: negative_flip_rate}"),
    _slo("spread", "{kind: retrain_stability, source: push, metric: metric_spread, last_versions: 3}"),
]


def test_retrain_stability_readings_equal_an_independent_computation(
    client: TestClient,
    admin_headers: dict[str, str],
    read_headers: dict[str, str],
    clock: ManualClock,
    db_session: Session,
    retrains: dict[str, Retrain],
) -> None:
    _setup(client, admin_headers, STABILITY_SLOS)
    order = [retrains[f"v{i}"] for i in range(1, 5)]
    times = []
    for retrain in order:
        clock.advance(DAY)
        times.append(clock.now())
        answer = _register(client, admin_headers, retrain.body(clock.now() - timedelta(hours=2)))
        assert answer["registered_at"] == clock.now().isoformat().replace("+00:00", "Z")
        assert answer["evaluation_set"] == EVAL_SET

    # The first version has nothing to compare with: no churn, no flips, no spread.
    expected_churn = {times[i]: _churn(order[i - 1], order[i]) for i in range(1, 4)}
    expected_flips = {times[i]: _negative_flips(order[i - 1], order[i]) for i in range(1, 4)}
    expected_spread = {
        times[i]: _spread([r.accuracy for r in order[max(0, i - 2) : i + 1]]) for i in range(1, 4)
    }
    assert _readings(db_session, "churn") == _approx(expected_churn)
    assert _readings(db_session, "flips") == _approx(expected_flips)
    assert _readings(db_session, "spread") == _approx(expected_spread)
    # The models differ for real: every retrain moved some predictions.
    assert all(0 < value < 0.2 for value in expected_churn.values())
    assert any(value > 0 for value in expected_flips.values())
    # Each reading is also kept under the version that gave it.
    assert _readings(db_session, "churn", "v3") == _approx({times[2]: expected_churn[times[2]]})
    assert _readings(db_session, "spread", "v1") == {}

    # A version scored on another evaluation set is not compared with the others.
    clock.advance(DAY)
    other_set = retrains["v5"].body(clock.now() - timedelta(hours=2))
    other_set["evaluation_set"] = {
        "name": "cancer-holdout-2026-02",
        "predictions": other_set["evaluation_set"]["predictions"][:100],
        "labels": other_set["evaluation_set"]["labels"][:100],
    }
    other_set["metrics"] = {
        "accuracy": float(np.mean(retrains["v5"].predictions[:100] == retrains["v5"].labels[:100]))
    }
    other_time = clock.now()
    _register(client, admin_headers, other_set)
    for name in ("churn", "flips", "spread"):
        assert other_time not in _readings(db_session, name), name

    # The next version on the fixed set is compared with v4, the last one scored on that set.
    clock.advance(DAY)
    v6_time = clock.now()
    _register(client, admin_headers, retrains["v6"].body(clock.now() - timedelta(hours=2)))
    assert _readings(db_session, "churn")[v6_time] == pytest.approx(_churn(order[3], retrains["v6"]))
    assert _readings(db_session, "flips")[v6_time] == pytest.approx(_negative_flips(order[3], retrains["v6"]))
    assert _readings(db_session, "spread")[v6_time] == pytest.approx(
        _spread([order[2].accuracy, order[3].accuracy, retrains["v6"].accuracy])
    )

    # A failed retrain is a bad reading (no value) for every stability SLO.
    clock.advance(DAY)
    failed_time = clock.now()
    failed = _register(
        client,
        admin_headers,
        {"version": "v7", "trained_at": clock.now().isoformat(), "outcome": "failed"},
    )
    assert (failed["outcome"], failed["serving_since"]) == ("failed", None)
    for name in ("churn", "flips", "spread"):
        readings = _readings(db_session, name)
        assert failed_time in readings, name
        assert readings[failed_time] is None, name
    assert _readings(db_session, "churn", "v7") == {failed_time: None}

    # After it, the stump is compared with v6, the last successful version on the set.
    clock.advance(DAY)
    stump_time = clock.now()
    _register(client, admin_headers, retrains["stump"].body(clock.now() - timedelta(hours=2)))
    assert _readings(db_session, "churn")[stump_time] == pytest.approx(
        _churn(retrains["v6"], retrains["stump"])
    )

    listed = client.get(VERSIONS, headers=read_headers)
    assert listed.status_code == 200, listed.text
    assert [v["version"] for v in listed.json()] == ["stump", "v7", "v6", "v5", "v4", "v3", "v2", "v1"]
    assert listed.json()[-1]["metrics"] == {"accuracy": pytest.approx(order[0].accuracy)}


def test_a_duplicate_version_and_a_failed_serving_version_are_refused(
    client: TestClient, admin_headers: dict[str, str], clock: ManualClock, retrains: dict[str, Retrain]
) -> None:
    _setup(client, admin_headers, STABILITY_SLOS)
    _register(client, admin_headers, retrains["v1"].body(clock.now()))

    duplicate = client.post(
        VERSIONS, json=retrains["v2"].body(clock.now()) | {"version": "v1"}, headers=admin_headers
    )
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["detail"][0]["field"] == "version"

    failed_serving = client.post(
        VERSIONS,
        json={"version": "v2", "trained_at": clock.now().isoformat(), "outcome": "failed", "serving": True},
        headers=admin_headers,
    )
    assert failed_serving.status_code == 422, failed_serving.text
    assert failed_serving.json()["detail"][0]["field"] == "serving"

    # A model trained in the future would read as fresh: a clock or time zone error.
    future = client.post(
        VERSIONS, json=retrains["v2"].body(clock.now() + timedelta(hours=1)), headers=admin_headers
    )
    assert future.status_code == 422, future.text
    assert future.json()["detail"][0]["field"] == "trained_at"
    # A few minutes of clock skew are allowed.
    _register(client, admin_headers, retrains["v2"].body(clock.now() + timedelta(minutes=4)))

    assert [v["version"] for v in client.get(VERSIONS, headers=admin_headers).json()] == ["v2", "v1"]


@pytest.mark.parametrize("max_bad_events", [1, 2])
def test_a_count_rule_opens_a_ticket_when_bad_retrains_exceed_the_maximum(
    client: TestClient,
    admin_headers: dict[str, str],
    clock: ManualClock,
    db_session: Session,
    retrains: dict[str, Retrain],
    max_bad_events: int,
) -> None:
    # More bad retrains in the window than `max_bad_events` open a ticket (docs/slo-files.md).
    _setup(
        client,
        admin_headers,
        [
            "  - name: churn\n"
            "    sli: {kind: retrain_stability, source: push, metric: prediction_churn}\n"
            "    objectives: [{target: 0.9, value: 0.06}]\n"
            "    time_slice: {window: 1d}\n"
            "    window: 28d\n"
            f"    alerting: {{max_bad_events: {max_bad_events}}}\n"
        ],
    )
    v1, v2, stump, v3 = retrains["v1"], retrains["v2"], retrains["stump"], retrains["v3"]
    # The fitted models are what makes the retrains stable or not.
    assert _churn(v1, v2) <= 0.06 < _churn(v2, stump)
    assert _churn(stump, v3) > 0.06

    def retrain(body: dict[str, Any]) -> list[int]:
        clock.advance(DAY)
        _register(client, admin_headers, body)
        clock.advance(timedelta(minutes=1))
        run = client.post("/api/v1/evaluations", headers=admin_headers)
        assert run.status_code == 200, run.text
        opened: list[int] = run.json()["breaches_opened"]
        return opened

    assert retrain(v1.body(clock.now())) == []  # nothing to compare with
    assert retrain(v2.body(clock.now())) == []  # stable
    bad_retrains = [
        stump.body(clock.now()),  # unstable
        {"version": "v-failed", "trained_at": clock.now().isoformat(), "outcome": "failed"},
        v3.body(clock.now()),  # compared with the stump, the last successful version: unstable
    ]
    opened_after = [retrain(body) for body in bad_retrains]
    # Nothing opens until the bad retrains exceed the maximum; then one ticket, kept open.
    assert [bool(opened) for opened in opened_after] == [i == max_bad_events for i in range(3)]
    [breach_id] = opened_after[max_bad_events]

    db_session.expire_all()
    breach = db_session.get(Breach, breach_id)
    assert breach is not None
    assert (breach.severity, breach.resolved_at) == ("ticket", None)
    slo_id = db_session.scalars(select(Slo.id).where(Slo.name == "churn")).one()
    status = db_session.get(SloStatus, slo_id)
    assert status is not None
    # Four daily slices with a reading (v2, stump, failed, v3): one good, three bad.
    assert (status.good_events, status.total_events) == (1, 4)


def _collect(session_factory: SessionFactory, clock: ManualClock) -> CollectionReport:
    with httpx.Client() as http_client:
        return collect_due(
            session_factory=session_factory,
            clock=clock,
            http_client=http_client,
            collectors=SourceCollectors(session_factory=session_factory, clock=clock),
            node="test",
        )


STALENESS_SLO = (
    "  - name: model-age\n"
    "    sli: {kind: model_staleness, source: push, collect_every: 1h}\n"
    "    objectives: [{target: 0.9, value: 172800}]\n"  # two days, in seconds; op lte by default
    "    time_slice: {window: 1h}\n"
    "    window: 7d\n"
)


def test_the_serving_models_age_is_collected_and_falls_with_a_fresh_version(
    client: TestClient,
    admin_headers: dict[str, str],
    clock: ManualClock,
    db_session: Session,
    session_factory: SessionFactory,
    retrains: dict[str, Retrain],
) -> None:
    _setup(client, admin_headers, [STALENESS_SLO])
    slot = clock.now()  # 12:00, the start of an hourly slot
    trained = slot - timedelta(days=3, minutes=17, seconds=5)
    _register(client, admin_headers, retrains["v1"].body(trained, serving=True))
    # A newer version that does not serve does not change the age.
    _register(client, admin_headers, retrains["v2"].body(slot - timedelta(hours=1)))
    clock.advance(timedelta(seconds=20))

    report = _collect(session_factory, clock)
    assert len(report.collected) == 1
    assert report.failed == []
    assert _readings(db_session, "model-age") == {slot: (slot - trained).total_seconds()}
    assert _readings(db_session, "model-age")[slot] == 3 * 86400 + 17 * 60 + 5

    clock.advance(timedelta(minutes=1))
    run = client.post("/api/v1/evaluations", headers=admin_headers)
    assert run.status_code == 200, run.text
    assert len(run.json()["breaches_opened"]) == 1
    slo_id = db_session.scalars(select(Slo.id).where(Slo.name == "model-age")).one()
    db_session.expire_all()
    status = db_session.get(SloStatus, slo_id)
    assert status is not None
    assert (status.good_events, status.total_events) == (0, 1)

    # A fresh version starts serving; the current slot is already collected, the next one sees it.
    clock.advance(timedelta(minutes=20))
    fresh_trained = clock.now() - timedelta(hours=5)
    fresh = _register(client, admin_headers, retrains["v3"].body(fresh_trained, serving=True))
    assert fresh["serving_since"] == clock.now().isoformat().replace("+00:00", "Z")
    assert _collect(session_factory, clock).collected == []
    clock.advance(timedelta(minutes=40))
    next_slot = slot + timedelta(hours=1)
    assert _collect(session_factory, clock).collected == [slo_id]
    assert _readings(db_session, "model-age") == {
        slot: (slot - trained).total_seconds(),
        next_slot: (next_slot - fresh_trained).total_seconds(),
    }
    assert (next_slot - fresh_trained).total_seconds() <= 172800

    # A late collection describes its slot: a version that started serving after the slot began
    # (here trained after it, too) does not give that slot's age.
    clock.advance(timedelta(hours=1, minutes=10))
    late_slot = slot + timedelta(hours=2)
    _register(client, admin_headers, retrains["v4"].body(clock.now() - timedelta(minutes=5), serving=True))
    assert _collect(session_factory, clock).collected == [slo_id]
    assert _readings(db_session, "model-age")[late_slot] == (late_slot - fresh_trained).total_seconds()


def test_without_a_serving_version_the_age_collection_fails_as_a_gap(
    client: TestClient,
    admin_headers: dict[str, str],
    clock: ManualClock,
    db_session: Session,
    session_factory: SessionFactory,
    retrains: dict[str, Retrain],
) -> None:
    _setup(client, admin_headers, [STALENESS_SLO])
    _register(client, admin_headers, retrains["v1"].body(clock.now() - DAY))  # registered, not serving

    report = _collect(session_factory, clock)

    slo_id = db_session.scalars(select(Slo.id).where(Slo.name == "model-age")).one()
    assert report.failed == [slo_id]
    db_session.expire_all()
    (run,) = db_session.scalars(select(CollectorRun).where(CollectorRun.slo_id == slo_id)).all()
    assert run.outcome == "failed"
    assert run.error is not None
    assert "no serving model version" in run.error
    assert "serving: true" in run.error
    assert _readings(db_session, "model-age") == {}  # a gap, not a bad reading


def _robustness_ratio(seed: int, sigma: float) -> tuple[float, int]:
    """Accuracy under Gaussian noise of sigma x std(feature) over clean accuracy, of a model fitted
    here, on its held-out rows."""
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=seed, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    noise = np.random.default_rng(seed).normal(0.0, sigma, x_test.shape) * x_train.std(axis=0)
    clean = float(np.mean(model.predict(x_test) == y_test))
    noisy = float(np.mean(model.predict(x_test + noise) == y_test))
    return noisy / clean, len(y_test)


def test_pushed_readings_are_stored_by_model_version_and_only_for_push_value_slos(
    client: TestClient, admin_headers: dict[str, str], clock: ManualClock, db_session: Session
) -> None:
    _setup(
        client,
        admin_headers,
        [
            _slo(
                "noise-robustness",
                "{kind: robustness, source: push, metric: robustness_ratio}",
                "    objectives: [{target: 0.9, value: 0.95}]\n",
            ),
            "  - name: api-errors\n    sli: {kind: error_rate, source: push}\n    objective: 0.99\n"
            "    window: 28d\n",
        ],
    )
    first_ratio, rows = _robustness_ratio(seed=7, sigma=0.5)
    second_ratio, _ = _robustness_ratio(seed=11, sigma=0.5)
    assert 0 < first_ratio <= 1.2
    assert 0 < second_ratio <= 1.2
    first, second = clock.now() - timedelta(hours=5), clock.now() - timedelta(hours=2)
    readings = [
        {"time": first.isoformat(), "value": first_ratio, "model_version": "v1", "sample_size": rows},
        {"time": second.isoformat(), "value": second_ratio, "data_version": "2026-01"},
    ]

    pushed = client.post(
        f"{SYSTEM}/slos/noise-robustness/readings", json={"readings": readings}, headers=admin_headers
    )

    assert pushed.status_code == 202, pushed.text
    assert pushed.json() == {"accepted": 2}
    samples = client.get(
        f"{SYSTEM}/slos/noise-robustness/samples",
        params={"from": (clock.now() - DAY).isoformat()},
        headers=admin_headers,
    )
    assert samples.status_code == 200, samples.text
    stored = [
        (item["measured_at"], item["model_version"], item["value"], item["sample_size"], item["data_version"])
        for item in samples.json()
    ]
    first_text, second_text = (t.isoformat().replace("+00:00", "Z") for t in (first, second))
    assert stored == [
        (first_text, None, pytest.approx(first_ratio), rows, None),
        (first_text, "v1", pytest.approx(first_ratio), rows, None),
        (second_text, None, pytest.approx(second_ratio), None, "2026-01"),
    ]

    refused = client.post(
        f"{SYSTEM}/slos/api-errors/readings", json={"readings": readings[:1]}, headers=admin_headers
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["field"] == "slo"
    assert _readings(db_session, "api-errors") == {}
