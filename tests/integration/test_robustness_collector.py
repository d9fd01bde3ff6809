"""The robustness collector against real models (scikit-learn, fitted here on the breast cancer and wine
data sets) served over the V1 JSON protocol by a real local HTTP server, checked against the same
models run in-process."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import select

from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.results import CollectionError
from app.collectors.robustness import RobustnessResult, collect_robustness, measure_robustness
from app.collectors.service import collect_due
from app.db import SessionFactory, transaction
from app.measurements.models import SliSample
from app.slos import service as slos_service
from app.slos.loader import load_text
from app.systems.models import Phase
from tests.factories import create_system

Predict = Callable[[np.ndarray], list[Any]]


@dataclass(frozen=True)
class Holdout:
    """A fitted model and the rows it was not fitted on."""

    model: Any
    features: np.ndarray
    labels: list[Any]
    feature_names: list[str]


@dataclass
class ModelServer:
    """A V1 predict endpoint per path, and the batch sizes each request carried."""

    base_url: str
    batch_sizes: list[int] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base_url}/v1/models/{name}:predict"


@pytest.fixture(scope="module")
def cancer() -> Holdout:
    data = load_breast_cancer()
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(train_x, train_y)
    return Holdout(model, test_x, test_y.tolist(), list(data.feature_names))


@pytest.fixture(scope="module")
def wine() -> Holdout:
    data = load_wine()
    names = np.asarray(data.target_names)
    train_x, test_x, train_y, test_y = train_test_split(
        data.data, names[data.target], test_size=0.4, random_state=0, stratify=data.target
    )
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(train_x, train_y)
    return Holdout(model, test_x, test_y.tolist(), list(data.feature_names))


@pytest.fixture(scope="module")
def server(cancer: Holdout, wine: Holdout) -> Iterator[ModelServer]:
    predictors: dict[str, Predict] = {
        "/v1/models/cancer:predict": lambda rows: cancer.model.predict(rows).tolist(),
        # Float labels for integer truth: 1.0 must count as 1.
        "/v1/models/cancer-float:predict": lambda rows: cancer.model.predict(rows).astype(float).tolist(),
        "/v1/models/wine:predict": lambda rows: wine.model.predict(rows).tolist(),
        "/v1/models/short:predict": lambda rows: cancer.model.predict(rows).tolist()[:-1],
        "/v1/models/probabilities:predict": lambda rows: cancer.model.predict_proba(rows).tolist(),
        "/v1/models/nobody:predict": lambda rows: ["nobody"] * len(rows),
    }
    batch_sizes: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.startswith("/v1/models/slow"):
                time.sleep(1.0)
            predict = predictors.get(self.path)
            if predict is None:
                self._answer(500 if "error" in self.path else 404, b'{"error": "no such model"}')
                return
            if "not-json" in self.path:
                self._answer(200, b"<html>predictions</html>")
                return
            rows = np.asarray(json.loads(body)["instances"], dtype=np.float64)
            batch_sizes.append(len(rows))
            self._answer(200, json.dumps({"predictions": predict(rows)}).encode())

        def _answer(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    predictors["/v1/models/not-json:predict"] = predictors["/v1/models/cancer:predict"]
    http_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = http_server.server_address[:2]
        yield ModelServer(f"http://{host!s}:{port}", batch_sizes)
    finally:
        http_server.shutdown()
        http_server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _expected(holdout: Holdout, *, noise_sigma: float, flip_sigma: float, seed: int) -> dict[str, float]:
    """The measurement recomputed here, in-process, from the documented noise recipe."""
    draws = np.random.default_rng(seed).standard_normal(holdout.features.shape)
    std = holdout.features.std(axis=0)  # no constant feature in these data sets
    clean = holdout.model.predict(holdout.features)
    noisy = holdout.model.predict(holdout.features + draws * noise_sigma * std)
    nudged = holdout.model.predict(holdout.features + draws * flip_sigma * std)
    clean_accuracy = accuracy_score(holdout.labels, clean)
    noisy_accuracy = accuracy_score(holdout.labels, noisy)
    return {
        "clean_accuracy": clean_accuracy,
        "noisy_accuracy": noisy_accuracy,
        "robustness_ratio": noisy_accuracy / clean_accuracy,
        "flip_rate": float(np.mean(clean != nudged)),
    }


def _measure(
    client: httpx.Client, url: str, holdout: Holdout, *, noise_sigma: float, **options: Any
) -> RobustnessResult:
    return measure_robustness(
        http_client=client,
        url=url,
        features=holdout.features,
        labels=holdout.labels,
        noise_sigma=noise_sigma,
        **options,
    )


@pytest.mark.parametrize("model", ["cancer", "cancer-float"])
def test_clean_accuracy_is_the_models_accuracy(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout, model: str
) -> None:
    result = _measure(http_client, server.url(model), cancer, noise_sigma=0.5)
    assert result.rows == len(cancer.labels) == 171
    assert result.clean_accuracy == pytest.approx(
        accuracy_score(cancer.labels, cancer.model.predict(cancer.features)), abs=1e-12
    )
    assert 0.9 < result.clean_accuracy < 1


@pytest.mark.parametrize(("noise_sigma", "flip_sigma", "seed"), [(0.5, 0.01, 0), (1.5, 0.05, 11)])
def test_noisy_accuracy_ratio_and_flip_rate_match_an_independent_computation(
    server: ModelServer,
    http_client: httpx.Client,
    cancer: Holdout,
    noise_sigma: float,
    flip_sigma: float,
    seed: int,
) -> None:
    result = _measure(
        http_client, server.url("cancer"), cancer, noise_sigma=noise_sigma, flip_sigma=flip_sigma, seed=seed
    )
    expected = _expected(cancer, noise_sigma=noise_sigma, flip_sigma=flip_sigma, seed=seed)
    measured = {name: getattr(result, name) for name in expected}
    assert measured == pytest.approx(expected, abs=1e-12)
    assert (result.noise_sigma, result.flip_sigma, result.seed) == (noise_sigma, flip_sigma, seed)
    assert result.noisy_accuracy < result.clean_accuracy


def test_string_labels_from_a_random_forest(
    server: ModelServer, http_client: httpx.Client, wine: Holdout
) -> None:
    result = _measure(http_client, server.url("wine"), wine, noise_sigma=1.0, flip_sigma=0.2, seed=3)
    expected = _expected(wine, noise_sigma=1.0, flip_sigma=0.2, seed=3)
    assert {name: getattr(result, name) for name in expected} == pytest.approx(expected, abs=1e-12)
    assert result.flip_rate > 0


def test_more_noise_never_gives_a_higher_ratio(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout
) -> None:
    ratios = [
        _measure(http_client, server.url("cancer"), cancer, noise_sigma=sigma, seed=2).robustness_ratio
        for sigma in (0.0, 0.25, 1.0, 3.0)
    ]
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[-1] < ratios[0]


def test_zero_noise_gives_a_ratio_of_exactly_one_and_no_flips(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout
) -> None:
    result = _measure(http_client, server.url("cancer"), cancer, noise_sigma=0.0, flip_sigma=0.0)
    assert result.robustness_ratio == 1.0
    assert result.flip_rate == 0.0
    assert result.noisy_accuracy == result.clean_accuracy


def test_rows_are_sent_in_batches(server: ModelServer, http_client: httpx.Client, cancer: Holdout) -> None:
    server.batch_sizes.clear()
    batched = _measure(http_client, server.url("cancer"), cancer, noise_sigma=0.5, batch_size=50)
    assert server.batch_sizes == [50, 50, 50, 21] * 3
    assert batched == _measure(http_client, server.url("cancer"), cancer, noise_sigma=0.5)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("error", "the model endpoint answered HTTP 500"),
        ("missing", "the model endpoint answered HTTP 404"),
        ("short", "the model endpoint returned 170 predictions for 171 instances"),
        ("not-json", "the model endpoint's answer is not JSON"),
        ("probabilities", "the model endpoint's predictions must be labels (numbers or strings), not list"),
        ("nobody", "the clean accuracy is 0, so the robustness ratio is undefined"),
    ],
)
def test_a_model_that_cannot_be_scored_is_a_collection_error(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout, model: str, message: str
) -> None:
    with pytest.raises(CollectionError) as caught:
        _measure(http_client, server.url(model), cancer, noise_sigma=0.1)
    assert str(caught.value) == message
    # Neither the URL (it may carry credentials) nor the holdout is echoed.
    assert server.base_url not in str(caught.value)
    assert repr(float(cancer.features[0, 0])) not in str(caught.value)


def test_a_model_that_does_not_answer_in_time_is_a_collection_error(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout
) -> None:
    started = time.perf_counter()
    with pytest.raises(
        CollectionError, match=r"^the model endpoint did not answer within the 0\.2s timeout$"
    ):
        _measure(http_client, server.url("slow"), cancer, noise_sigma=0.1, timeout=0.2)
    assert time.perf_counter() - started < 0.9


def test_an_unreachable_model_is_a_collection_error(http_client: httpx.Client, cancer: Holdout) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        host, port = closed.server_address[:2]
    with pytest.raises(CollectionError, match=r"^cannot reach the model endpoint: ConnectError$"):
        _measure(http_client, f"http://{host!s}:{port}/v1/models/x:predict", cancer, noise_sigma=0.1)


def test_non_finite_features_are_refused_before_anything_is_sent(
    http_client: httpx.Client, cancer: Holdout
) -> None:
    features = cancer.features.copy()
    features[3, 4] = np.nan
    with pytest.raises(CollectionError, match="missing or infinite"):
        measure_robustness(
            http_client=http_client,
            url="http://127.0.0.1:9/never",
            features=features,
            labels=cancer.labels,
            noise_sigma=0.1,
        )


# --- collect_robustness: the scheduler's entry point, from a definition's http_probe block ------------


def _holdout_frame(holdout: Holdout) -> pd.DataFrame:
    frame = pd.DataFrame(holdout.features, columns=holdout.feature_names)
    frame["label"] = holdout.labels
    return frame


@pytest.mark.parametrize("file_name", ["holdout.csv", "holdout.parquet"])
def test_collect_reads_the_holdout_file_and_scores_the_model(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout, tmp_path: Path, file_name: str
) -> None:
    frame = _holdout_frame(cancer)
    if file_name.endswith(".csv"):
        frame.to_csv(tmp_path / file_name, index=False)
    else:
        frame.to_parquet(tmp_path / file_name, index=False)
    config = {"url": server.url("cancer"), "timeout": "5s", "holdout": {"path": file_name}}
    result = collect_robustness(http_client=http_client, config=config, noise_sigma=None, base_dir=tmp_path)
    assert result == _measure(http_client, server.url("cancer"), cancer, noise_sigma=0.1, seed=0)
    assert result.noise_sigma == 0.1


def test_collect_picks_the_label_and_feature_columns_by_name(
    server: ModelServer, http_client: httpx.Client, wine: Holdout, tmp_path: Path
) -> None:
    frame = _holdout_frame(wine).rename(columns={"label": "cultivar"})
    frame.insert(0, "sample_id", range(len(frame)))
    frame = frame[["cultivar", *reversed(frame.columns.drop("cultivar"))]]  # not the model's order
    frame.to_csv(tmp_path / "wine.csv", index=False)
    holdout = {"path": "wine.csv", "label_column": "cultivar", "feature_columns": wine.feature_names}
    config = {"url": server.url("wine"), "holdout": holdout}
    result = collect_robustness(http_client=http_client, config=config, noise_sigma=0.8, base_dir=tmp_path)
    assert result == _measure(http_client, server.url("wine"), wine, noise_sigma=0.8, seed=0)


def test_collect_reads_the_holdout_from_a_query(
    server: ModelServer, http_client: httpx.Client, cancer: Holdout, tmp_path: Path
) -> None:
    database = tmp_path / "holdout.db"
    with sqlite3.connect(database) as connection:
        _holdout_frame(cancer).to_sql("holdout", connection, index=False)
    connection.close()
    holdout = {"query": "SELECT * FROM holdout", "connection_env": "HOLDOUT_DB"}
    config = {"url": server.url("cancer"), "holdout": holdout}
    result = collect_robustness(
        http_client=http_client,
        config=config,
        noise_sigma=0.5,
        base_dir=tmp_path,
        environ={"HOLDOUT_DB": f"sqlite:///{database}"},
    )
    assert result == _measure(http_client, server.url("cancer"), cancer, noise_sigma=0.5, seed=0)


@pytest.mark.parametrize(
    ("holdout", "message"),
    [
        (None, "http_probe.holdout is not set"),
        ({"path": "h.csv", "label_column": "diagnosis"}, "http_probe.holdout has no column 'diagnosis'"),
        ({"path": "h.csv", "feature_columns": ["a", "label"]}, "includes the label column 'label'"),
        ({"path": "h.csv", "feature_columns": ["a", "shade"]}, "feature column 'shade' is not numeric"),
        ({"path": "h.csv", "feature_columns": ["a", "gaps"]}, "feature column 'gaps' has missing"),
        ({"path": "unlabelled.csv"}, "1 rows have no 'label'"),
        ({"path": "/abs/h.csv"}, "http_probe.holdout.path must be relative"),
    ],
)
def test_collect_refuses_unusable_holdouts(
    http_client: httpx.Client, tmp_path: Path, holdout: dict[str, Any] | None, message: str
) -> None:
    (tmp_path / "h.csv").write_text("a,shade,gaps,label\n1.0,red,1.5,0\n2.0,blue,,1\n")
    (tmp_path / "unlabelled.csv").write_text("a,label\n1.0,0\n2.0,\n")
    config = {"url": "http://127.0.0.1:9/never", "holdout": holdout}
    with pytest.raises(CollectionError, match=message):
        collect_robustness(http_client=http_client, config=config, noise_sigma=0.1, base_dir=tmp_path)


def test_a_robustness_slo_is_collected_on_schedule_from_its_definition(
    server: ModelServer,
    cancer: Holdout,
    tmp_path: Path,
    session_factory: SessionFactory,
    clock: ManualClock,
) -> None:
    _holdout_frame(cancer).rename(columns={"label": "malignant"}).to_parquet(tmp_path / "holdout.parquet")
    definition = f"""\
apiVersion: mlslo/v1
kind: SLOSet
slos:
  - name: noise-robustness
    sli:
      kind: robustness
      source: http_probe
      noise_sigma: 0.5
      collect_every: 1h
      http_probe:
        url: {server.url("cancer")}
        timeout: 10s
        holdout: {{path: holdout.parquet, label_column: malignant}}
    objectives: [{{target: 0.9, value: 0.95}}]
    time_slice: {{window: 1h}}
    window: 7d
"""
    slo_file, errors = load_text("screening/technical_validation.yaml", definition)
    assert errors == []
    assert slo_file is not None
    with transaction(session_factory) as db_session:
        create_system(db_session, clock, name="screening", phase=Phase.TECHNICAL_VALIDATION)
        slos_service.apply(db_session=db_session, clock=clock, files=[slo_file], applied_by="test")
    with httpx.Client() as client:
        report = collect_due(
            session_factory=session_factory,
            clock=clock,
            http_client=client,
            collectors=SourceCollectors(
                session_factory=session_factory, clock=clock, definitions_dir=tmp_path
            ),
            node="test",
        )
    assert len(report.collected) == 1
    with session_factory() as db_session:
        (reading,) = db_session.scalars(select(SliSample)).all()
    expected = _expected(cancer, noise_sigma=0.5, flip_sigma=0.01, seed=0)
    assert reading.value == pytest.approx(expected["robustness_ratio"], abs=1e-12)
    assert reading.measured_at == clock.now().replace(minute=0, second=0, microsecond=0)
