"""Quality SLIs from pushed predictions and late labels, on scikit-learn's datasets and models fitted
here: the values equal scikit-learn's metrics on the same rows, labels count at the prediction's
time, unlabelled predictions stay out, and duplicate or unknown labels are reported."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.measurements.models import SliSample, SloMinuteCount
from app.slos.models import Slo

APPLY = "/api/v1/slo-definitions/apply"
SYSTEM = "/api/v1/systems/scoring"
HEADER = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n"


def _slo(name: str, kind: str, metric: str, objective: str, extra: str = "") -> str:
    return (
        f"  - name: {name}\n    sli: {{kind: {kind}, source: push, metric: {metric}{extra}}}\n"
        f"{objective}    window: 7d\n"
    )


def _value_objective(value: float, op: str | None = None) -> str:
    op_text = f", op: {op}" if op else ""
    return f"    objectives: [{{target: 0.9, value: {value}{op_text}}}]\n    time_slice: {{window: 1h}}\n"


def _setup(client: TestClient, headers: dict[str, str], slos: Sequence[str]) -> None:
    registered = client.post(
        "/api/v1/systems", json={"name": "scoring", "phase": "technical_validation"}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    content = HEADER + "".join(slos)
    applied = client.post(
        APPLY,
        json={"files": [{"path": "scoring/technical_validation.yaml", "content": content}]},
        headers=headers,
    )
    assert applied.status_code == 200, applied.text


def _push(
    client: TestClient, headers: dict[str, str], kind: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    response = client.post(f"{SYSTEM}/{kind}", json={kind: rows}, headers=headers)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _slo_id(db_session: Session, name: str) -> int:
    return db_session.scalars(select(Slo.id).where(Slo.name == name)).one()


def _readings(db_session: Session, name: str, version: str = "") -> dict[datetime, float | None]:
    db_session.expire_all()
    rows = db_session.scalars(
        select(SliSample).where(
            SliSample.slo_id == _slo_id(db_session, name), SliSample.model_version == version
        )
    ).all()
    return {row.measured_at: row.value for row in rows}


@pytest.fixture
def cancer() -> dict[str, Any]:
    """A classifier fitted on breast cancer data, and its predictions on the held-out rows."""
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=7, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    return {
        "truth": [int(y) for y in y_test],
        "predicted": [int(y) for y in model.predict(x_test)],
        "score": [float(p) for p in model.predict_proba(x_test)[:, 1]],
    }


def test_classifier_quality_with_late_labels_equals_scikit_learn(
    client: TestClient,
    admin_headers: dict[str, str],
    clock: ManualClock,
    db_session: Session,
    cancer: dict[str, Any],
) -> None:
    _setup(
        client,
        admin_headers,
        [
            _slo("accuracy", "classification_quality", "accuracy", "    objective: 0.9\n"),
            _slo("f1", "classification_quality", "f1", _value_objective(0.9)),
            _slo("auc", "classification_quality", "roc_auc", _value_objective(0.95)),
            _slo("log-loss", "classification_quality", "log_loss", _value_objective(0.3)),
        ],
    )
    rows = len(cancer["truth"])
    start = clock.now() - timedelta(hours=3)
    # One prediction a minute over three hours; v1 serves the first half, v2 the second.
    served = [start + timedelta(minutes=i * 180 // rows) for i in range(rows)]
    versions = ["v1" if i < rows // 2 else "v2" for i in range(rows)]
    predictions = [
        {
            "id": f"p{i}",
            "time": served[i].isoformat(),
            "model_version": versions[i],
            "data_version": "2026-01",
            "label": cancer["predicted"][i],
            "score": cancer["score"][i],
        }
        for i in range(rows)
    ]
    assert _push(client, admin_headers, "predictions", predictions)["accepted"] == rows

    # Nothing is labelled yet: no events, no readings.
    accuracy_id = _slo_id(db_session, "accuracy")
    assert db_session.scalars(select(SloMinuteCount).where(SloMinuteCount.slo_id == accuracy_id)).all() == []

    # Two days later the labels of every other prediction arrive.
    clock.advance(timedelta(days=2))
    labelled = list(range(0, rows, 2))
    answer = _push(
        client,
        admin_headers,
        "labels",
        [{"prediction_id": f"p{i}", "label": cancer["truth"][i]} for i in labelled],
    )
    assert (answer["applied"], answer["duplicates"], answer["unknown"]) == (len(labelled), [], [])
    assert answer["earliest_prediction"] == served[0].isoformat().replace("+00:00", "Z")

    truth = np.asarray(cancer["truth"])
    predicted = np.asarray(cancer["predicted"])
    score = np.asarray(cancer["score"])

    # Accuracy: one event per labelled prediction, at the prediction's minute.
    db_session.expire_all()
    counts = db_session.scalars(select(SloMinuteCount).where(SloMinuteCount.slo_id == accuracy_id)).all()
    assert sum(c.total for c in counts) == len(labelled)
    assert sum(c.good for c in counts) / len(labelled) == pytest.approx(
        metrics.accuracy_score(truth[labelled], predicted[labelled]), abs=1e-12
    )
    assert {c.minute for c in counts} == {served[i].replace(second=0, microsecond=0) for i in labelled}

    # Slice values: each hour's labelled rows, as scikit-learn scores them.
    for name, scorer in (
        ("f1", lambda idx: metrics.f1_score(truth[idx], predicted[idx])),
        ("auc", lambda idx: metrics.roc_auc_score(truth[idx], score[idx])),
        ("log-loss", lambda idx: metrics.log_loss(truth[idx], score[idx], labels=[0, 1])),
    ):
        readings = _readings(db_session, name)
        assert len(readings) == 3
        for hour, value in readings.items():
            idx = [i for i in labelled if hour <= served[i] < hour + timedelta(hours=1)]
            assert value == pytest.approx(scorer(idx), abs=1e-12), name

    # The quality report: the SLI over the window with the labelled share, split by model version.
    report = client.get(
        f"{SYSTEM}/slos/accuracy/quality",
        params={"from": start.isoformat(), "to": clock.now().isoformat()},
        headers=admin_headers,
    ).json()
    assert report["overall"]["predictions"] == rows
    assert report["overall"]["labelled"] == len(labelled)
    assert report["overall"]["labelled_share"] == pytest.approx(len(labelled) / rows)
    assert report["overall"]["value"] == pytest.approx(
        metrics.accuracy_score(truth[labelled], predicted[labelled])
    )
    by_version = {group["model_version"]: group for group in report["by_model_version"]}
    for version in ("v1", "v2"):
        idx = [i for i in labelled if versions[i] == version]
        assert by_version[version]["value"] == pytest.approx(
            metrics.accuracy_score(truth[idx], predicted[idx])
        )
        assert by_version[version]["labelled"] == len(idx)
    f1_v1 = _readings(db_session, "f1", "v1")
    assert f1_v1, "readings are split by model version"
    hour = min(f1_v1)
    idx = [i for i in labelled if versions[i] == "v1" and hour <= served[i] < hour + timedelta(hours=1)]
    assert f1_v1[hour] == pytest.approx(metrics.f1_score(truth[idx], predicted[idx]))


def test_second_labels_and_unknown_ids_are_reported_never_merged(
    client: TestClient, admin_headers: dict[str, str], clock: ManualClock, db_session: Session
) -> None:
    _setup(
        client,
        admin_headers,
        [_slo("accuracy", "classification_quality", "accuracy", "    objective: 0.9\n")],
    )
    now = clock.now()
    _push(
        client,
        admin_headers,
        "predictions",
        [{"id": "a", "time": now.isoformat(), "model_version": "v1", "label": "spam"}],
    )
    first = _push(client, admin_headers, "labels", [{"prediction_id": "a", "label": "spam"}])
    again = _push(
        client,
        admin_headers,
        "labels",
        [{"prediction_id": "a", "label": "ham"}, {"prediction_id": "nope", "label": "spam"}],
    )
    assert first["applied"] == 1
    assert (again["applied"], again["duplicates"], again["unknown"]) == (0, ["a"], ["nope"])
    problems = client.get(f"{SYSTEM}/label-problems", headers=admin_headers).json()
    assert problems["counts"] == {"duplicate": 1, "unknown_prediction": 1}
    duplicate = next(p for p in problems["problems"] if p["problem"] == "duplicate")
    assert (duplicate["label"], duplicate["kept_label"]) == ("ham", "spam")
    # The first label stands: one good event, not a good and a bad one.
    db_session.expire_all()
    counts = db_session.scalars(
        select(SloMinuteCount).where(SloMinuteCount.slo_id == _slo_id(db_session, "accuracy"))
    ).all()
    assert [(c.good, c.total) for c in counts] == [(1, 1)]


def test_multiclass_quality_equals_scikit_learn(
    client: TestClient, admin_headers: dict[str, str], clock: ManualClock, db_session: Session
) -> None:
    data = load_wine()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.5, random_state=3, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000)).fit(x_train, y_train)
    names = [str(name) for name in data.target_names]
    predicted = [names[i] for i in model.predict(x_test)]
    truth = [names[i] for i in y_test]
    probabilities = model.predict_proba(x_test)
    _setup(
        client,
        admin_headers,
        [
            _slo("macro-f1", "classification_quality", "f1", _value_objective(0.8)),
            _slo("auc", "classification_quality", "roc_auc", _value_objective(0.9)),
        ],
    )
    at = clock.now() - timedelta(minutes=50)
    _push(
        client,
        admin_headers,
        "predictions",
        [
            {
                "id": f"w{i}",
                "time": at.isoformat(),
                "model_version": "wine-1",
                "label": predicted[i],
                "probabilities": {name: float(p) for name, p in zip(names, probabilities[i], strict=True)},
            }
            for i in range(len(truth))
        ],
    )
    _push(
        client, admin_headers, "labels", [{"prediction_id": f"w{i}", "label": y} for i, y in enumerate(truth)]
    )
    (f1,) = _readings(db_session, "macro-f1").values()
    (auc,) = _readings(db_session, "auc").values()
    assert f1 == pytest.approx(metrics.f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert auc == pytest.approx(
        metrics.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro", labels=names),
        abs=1e-12,
    )


def test_regression_error_and_bias_equal_scikit_learn(
    client: TestClient, admin_headers: dict[str, str], clock: ManualClock, db_session: Session
) -> None:
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.3, random_state=5)
    predicted = LinearRegression().fit(x_train, y_train).predict(x_test)
    _setup(
        client,
        admin_headers,
        [
            _slo("mae", "regression_error", "mae", _value_objective(60)),
            _slo("rmse", "regression_error", "rmse", _value_objective(70)),
            _slo("bias", "prediction_bias", "mean_error", _value_objective(10)),
            _slo(
                "within-50", "regression_error", "within_tolerance", "    objective: 0.6\n", ", tolerance: 50"
            ),
        ],
    )
    at = clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    _push(
        client,
        admin_headers,
        "predictions",
        [
            {"id": f"d{i}", "time": at.isoformat(), "model_version": "lr", "value": float(v)}
            for i, v in enumerate(predicted)
        ],
    )
    _push(
        client,
        admin_headers,
        "labels",
        [{"prediction_id": f"d{i}", "label": float(y)} for i, y in enumerate(y_test)],
    )
    assert _readings(db_session, "mae") == {at: pytest.approx(metrics.mean_absolute_error(y_test, predicted))}
    assert _readings(db_session, "rmse") == {
        at: pytest.approx(metrics.root_mean_squared_error(y_test, predicted))
    }
    assert _readings(db_session, "bias") == {at: pytest.approx(abs(predicted.mean() - y_test.mean()))}
    counts = db_session.scalars(
        select(SloMinuteCount).where(SloMinuteCount.slo_id == _slo_id(db_session, "within-50"))
    ).all()
    assert [(c.good, c.total) for c in counts] == [
        (int(np.sum(np.abs(predicted - y_test) <= 50)), len(y_test))
    ]
