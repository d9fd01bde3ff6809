"""The column changed and nobody noticed: a feature's encoding changes in production.

A breast-cancer classifier (scikit-learn, fitted here) serves predictions every fifteen minutes.
At 06:00 the upstream service starts sending the three area features in cm² instead of mm² (a
hundredth of the old numbers). Nothing fails: requests succeed and the model still answers, only
worse. The drift SLO, collected every fifteen minutes against the training data, breaches and pages
at the first collection after the change. The accuracy SLO cannot know yet: its labels arrive a day
later, and it breaches only then, counted at the predictions' times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import SecretStr
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import migrations
from app.clock import ManualClock
from app.collectors.jobs import SourceCollectors
from app.collectors.service import collect_due
from app.config import Settings
from app.db import SessionFactory, create_session_factory, transaction
from app.demo.slack_receiver import SlackReceiver
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach
from app.ml import service as ml_service
from app.ml.schemas import LabelBatch, LabelIn, PredictionBatch, PredictionIn
from app.notifications import service as notifications_service
from app.notifications.slack import SlackWebhookNotifier
from app.slos import service as slos_service
from app.slos.loader import load_text
from app.slos.models import Slo
from app.systems import repository as systems_repository
from tests.conftest import create_scratch_database
from tests.factories import create_system

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CHANGE = START + timedelta(hours=6)
SLOT = timedelta(minutes=15)
AREA_COLUMNS = ["mean area", "worst area", "area error"]
PER_SLOT = 40
DEFINITION = """\
apiVersion: mlslo/v1
kind: SLOSet
slos:
  - name: api-availability
    sli: {kind: error_rate, source: push}
    objective: 0.999
    window: 7d
  - name: input-drift
    description: The served tumour measurements look like the training data.
    sli:
      kind: data_drift
      source: evidently
      collect_every: 15m
      evidently:
        reference: {path: references/training.csv}
        columns: [mean area, worst area, area error, mean texture, mean smoothness]
    objectives:
      - target: 0.9
        value: 0.5
    time_slice: {window: 15m}
    window: 1d
  - name: diagnosis-accuracy
    description: Screening predictions confirmed by the biopsy result, a day later.
    sli: {kind: classification_quality, source: push, metric: accuracy}
    objective: 0.9
    window: 7d
"""


def _slo_name(db_session: Session, slo_id: int) -> str:
    slo = db_session.get(Slo, slo_id)
    assert slo is not None
    return slo.name


@pytest.fixture
def receiver() -> Iterator[SlackReceiver]:
    with SlackReceiver() as slack:
        yield slack


@pytest.fixture
def world(tmp_path: Path, postgres_admin_url: str) -> Iterator[dict[str, Any]]:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame
    features = frame.drop(columns=["target"])
    x_train, x_test, y_train, y_test = train_test_split(
        features, frame["target"], test_size=0.4, random_state=0, stratify=frame["target"]
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    definitions = tmp_path / "definitions"
    (definitions / "references").mkdir(parents=True)
    x_train.to_csv(definitions / "references" / "training.csv", index=False)
    engine = create_engine(create_scratch_database(postgres_admin_url, "mlslo_column_changed"))
    migrations.upgrade(engine)
    yield {
        "model": model,
        "x_test": x_test.reset_index(drop=True),
        "y_test": y_test.reset_index(drop=True),
        "definitions": definitions,
        "session_factory": create_session_factory(engine),
    }
    engine.dispose()


def test_the_drift_slo_pages_at_once_and_accuracy_only_when_labels_arrive(
    world: dict[str, Any], receiver: SlackReceiver, settings: Settings
) -> None:
    session_factory: SessionFactory = world["session_factory"]
    clock = ManualClock(START - SLOT)
    alerting = settings.model_copy(update={"slack_webhook_url": SecretStr(receiver.webhook_url)})
    slo_file, errors = load_text("screening/production.yaml", DEFINITION)
    assert errors == []
    assert slo_file is not None
    with transaction(session_factory) as db_session:
        create_system(db_session, clock, name="screening")
        slos_service.apply(db_session=db_session, clock=clock, files=[slo_file], applied_by="test")

    rng = np.random.default_rng(42)
    served: list[tuple[str, datetime, int]] = []  # (prediction id, time, true label)
    opened_at: dict[str, datetime] = {}
    http_client = httpx.Client(timeout=10)
    collectors = SourceCollectors(
        session_factory=session_factory, clock=clock, definitions_dir=world["definitions"]
    )

    def serve(window_start: datetime) -> None:
        rows = world["x_test"].iloc[rng.integers(0, len(world["x_test"]), PER_SLOT)].copy()
        truth = world["y_test"].iloc[rows.index].tolist()
        if window_start >= CHANGE:
            rows[AREA_COLUMNS] = rows[AREA_COLUMNS] / 100  # mm² → cm², unannounced
        predicted = world["model"].predict(rows)
        batch = []
        for i, (record, label) in enumerate(zip(rows.to_dict("records"), predicted, strict=True)):
            at = window_start + timedelta(seconds=20 * i)
            prediction_id = f"{window_start:%H%M}-{i}"
            served.append((prediction_id, at, int(truth[i])))
            batch.append(
                PredictionIn(
                    id=prediction_id, time=at, model_version="lr-2026-02", label=int(label), features=record
                )
            )
        with transaction(session_factory) as db_session:
            system = systems_repository.get_by_name(db_session=db_session, name="screening")
            assert system is not None
            ml_service.ingest_predictions(
                db_session=db_session, clock=clock, system=system, batch=PredictionBatch(predictions=batch)
            )

    def tick() -> list[int]:
        collect_due(
            session_factory=session_factory,
            clock=clock,
            http_client=http_client,
            collectors=collectors,
            node="t",
        )
        with transaction(session_factory) as db_session:
            report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting)
            for breach_id in report.breaches_opened:
                breach = db_session.get(Breach, breach_id)
                assert breach is not None
                opened_at.setdefault(_slo_name(db_session, breach.slo_id), clock.now())
        notifications_service.deliver_due(
            session_factory=session_factory,
            clock=clock,
            senders={"slack": SlackWebhookNotifier(http_client, SecretStr(receiver.webhook_url))},
            max_attempts=3,
        )
        return report.breaches_opened

    # Eight hours of serving; each slot's predictions are checked for drift at the next slot.
    window_start = START
    while window_start < START + timedelta(hours=8):
        clock.set(window_start + timedelta(minutes=14))
        serve(window_start)
        clock.set(window_start + SLOT + timedelta(seconds=20))
        tick()
        window_start += SLOT

    # The drift SLO paged at the collection of the first changed window: within one interval.
    assert opened_at.get("input-drift") == CHANGE + SLOT + timedelta(seconds=20)
    assert "diagnosis-accuracy" not in opened_at
    drift_pages = [m for m in receiver.messages if "input-drift" in m.payload["blocks"][0]["text"]["text"]]
    assert drift_pages[0].payload["blocks"][0]["text"]["text"] == "PAGE · screening · input-drift · FIRING"

    # The biopsy results arrive the next day: the accuracy SLO breaches as they are counted.
    clock.set(START + timedelta(days=1, hours=8))
    labels = [LabelIn(prediction_id=pid, label=truth) for pid, _, truth in served]
    with transaction(session_factory) as db_session:
        system = systems_repository.get_by_name(db_session=db_session, name="screening")
        assert system is not None
        applied = ml_service.ingest_labels(
            db_session=db_session, clock=clock, system=system, batch=LabelBatch(labels=labels)
        )
    assert applied.applied == len(served)
    opened = tick()
    assert opened_at.get("diagnosis-accuracy") == clock.now()
    with session_factory() as db_session:
        (breach,) = [
            b
            for b in db_session.scalars(select(Breach).where(Breach.id.in_(opened)))
            if _slo_name(db_session, b.slo_id) == "diagnosis-accuracy"
        ]
        # Its window is where the labelled predictions went wrong, the day before, not at the labels.
        assert CHANGE - timedelta(hours=6) <= breach.window_start < START + timedelta(hours=8)
    accuracy_pages = [
        m for m in receiver.messages if "diagnosis-accuracy" in m.payload["blocks"][0]["text"]["text"]
    ]
    assert accuracy_pages
    assert "FIRING" in accuracy_pages[0].payload["blocks"][0]["text"]["text"]
    http_client.close()
