"""Applying SLO definition files to Postgres: create, keep, update in place as a new version, archive,
restore, one row per objective, all or nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import Principal, Scope
from app.clock import ManualClock
from app.slos import service
from app.slos.loader import SloFile, load_path, load_text
from app.slos.models import Slo, SloVersion
from app.systems import service as systems_service
from app.systems.models import Phase, System
from app.systems.schemas import SystemCreate

SHIPPED = Path(__file__).resolve().parents[2] / "slo_definitions"

AVAILABILITY = """\
  - name: api-availability
    description: Requests answered without a server error
    sli: {kind: error_rate, source: push}
    objective: 0.999
    window: 30d
    alerting: {min_events: 10}
"""
LATENCY = """\
  - name: api-latency
    sli: {kind: latency, source: push, threshold_ms: 300}
    objective_percent: 99
    window: 28d
"""
# Production files need an ML SLI as well as a conventional one.
ACCURACY = """\
  - name: click-accuracy
    sli: {kind: classification_quality, source: push, metric: accuracy}
    objective: 0.9
    window: 30d
"""
PRODUCTION = "recommender/production.yaml"
VALIDATION = "recommender/technical_validation.yaml"


def definition(path: str, *slos: str) -> SloFile:
    header = "apiVersion: mlslo/v1\nkind: SLOSet\n"
    text = header + ("slos:\n" + "".join(slos) if slos else "slos: []\n")
    slo_file, errors = load_text(path, text)
    assert errors == []
    assert slo_file is not None
    return slo_file


def register(db_session: Session, clock: ManualClock, name: str = "recommender") -> System:
    system = systems_service.register(
        db_session=db_session,
        clock=clock,
        system_in=SystemCreate(name=name, phase=Phase.PRODUCTION),
        registered_by="test",
    )
    db_session.commit()
    return system


def all_slos(db_session: Session) -> list[tuple[int, str, str, float, str | None]]:
    """A comparable snapshot of every SLO row."""
    db_session.expire_all()
    rows = db_session.scalars(select(Slo).order_by(Slo.id))
    return [
        (slo.id, f"{slo.phase}/{slo.name}", slo.source_path, slo.objective, str(slo.archived_at))
        for slo in rows
    ]


def apply(db_session: Session, clock: ManualClock, *files: SloFile) -> service.ApplyPlan:
    plan = service.apply(db_session=db_session, clock=clock, files=list(files), applied_by="test")
    db_session.commit()
    return plan


def row(db_session: Session, name: str) -> Slo:
    db_session.expire_all()
    return db_session.scalars(select(Slo).where(Slo.name == name)).one()


def test_apply_creates_the_slos_of_a_file(db_session: Session, clock: ManualClock) -> None:
    system = register(db_session, clock)

    plan = apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY))

    assert plan.created == (
        "recommender/production/api-availability",
        "recommender/production/api-latency",
        "recommender/production/click-accuracy",
    )
    assert (plan.updated, plan.restored, plan.archived, plan.unchanged) == ((), (), (), ())
    availability = row(db_session, "api-availability")
    assert availability.system_id == system.id
    assert availability.phase == "production"
    assert availability.description == "Requests answered without a server error"
    assert (availability.sli_kind, availability.metric, availability.source) == (
        "error_rate",
        "successful_requests",
        "push",
    )
    assert availability.threshold_ms is None
    assert availability.objective == 0.999
    assert availability.period == timedelta(days=30)
    assert (availability.budgeting_method, availability.owner_side) == ("occurrences", "service")
    assert availability.min_events == 10
    assert availability.source_path == PRODUCTION
    assert availability.created_at == availability.updated_at == clock.now()
    assert (availability.archived_at, availability.version) == (None, 1)
    assert availability.definition == {
        "name": "api-availability",
        "description": "Requests answered without a server error",
        "sli": {"kind": "error_rate", "source": "push"},
        "objective": 0.999,
        "window": "30d",
        "alerting": {"min_events": 10, "page": True, "ticket": True},
        "exclusions": [],
    }
    latency = row(db_session, "api-latency")
    assert (latency.sli_kind, latency.threshold_ms, latency.period) == ("latency", 300, timedelta(days=28))
    assert latency.objective == pytest.approx(0.99)
    assert (latency.objective_op, latency.objective_value) == ("lte", 300)
    accuracy = row(db_session, "click-accuracy")
    assert (accuracy.sli_kind, accuracy.metric, accuracy.owner_side) == (
        "classification_quality",
        "accuracy",
        "model",
    )


def test_every_objective_becomes_a_row_with_its_budgeting_window_and_alerting(
    db_session: Session, clock: ManualClock
) -> None:
    register(db_session, clock)
    quality = """\
  - name: click-quality
    owner: service
    sli: {kind: classification_quality, source: push, metric: roc_auc}
    objectives:
      - {name: usual, target: 0.9, value: 0.75}
      - {name: floor, target_percent: 99, op: gt, value: 0.7}
    budgeting: timeslices
    time_slice: {window: 1d}
    window: {calendar: month, time_zone: Asia/Tokyo}
    alerting: {page: false, max_bad_events: 2}
"""

    plan = apply(db_session, clock, definition(VALIDATION, quality))

    assert plan.created == (
        "recommender/technical_validation/click-quality.floor",
        "recommender/technical_validation/click-quality.usual",
    )
    usual, floor = row(db_session, "click-quality.usual"), row(db_session, "click-quality.floor")
    assert (usual.objective_name, usual.objective, usual.objective_op, usual.objective_value) == (
        "usual",
        0.9,
        "gte",
        0.75,
    )
    assert (floor.objective_name, floor.objective, floor.objective_op, floor.objective_value) == (
        "floor",
        pytest.approx(0.99),
        "gt",
        0.7,
    )
    assert (usual.budgeting_method, usual.time_slice_window, usual.time_slice_target) == (
        "timeslices",
        timedelta(days=1),
        None,
    )
    assert (usual.calendar_unit, usual.time_zone, usual.period) == ("month", "Asia/Tokyo", timedelta(days=30))
    assert (usual.owner_side, usual.page_enabled, usual.ticket_enabled, usual.max_bad_events) == (
        "service",
        False,
        True,
        2,
    )
    assert usual.definition == floor.definition


def test_reapplying_the_same_file_changes_nothing(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    production = definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY)
    apply(db_session, clock, production)
    before = all_slos(db_session)
    clock.advance(timedelta(hours=1))

    plan = apply(db_session, clock, production)

    assert plan.unchanged == (
        "recommender/production/api-availability",
        "recommender/production/api-latency",
        "recommender/production/click-accuracy",
    )
    assert not plan.has_changes
    assert all_slos(db_session) == before
    assert {slo.updated_at for slo in db_session.scalars(select(Slo))} == {clock.now() - timedelta(hours=1)}
    assert len(db_session.scalars(select(SloVersion)).all()) == 3


def test_an_edited_slo_is_updated_in_place_as_a_new_version(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY))
    original = row(db_session, "api-latency")
    original_id, created_at, first_applied = original.id, original.created_at, clock.now()
    clock.advance(timedelta(hours=1))

    edited = LATENCY.replace("threshold_ms: 300", "threshold_ms: 250").replace("window: 28d", "window: 7d")
    plan = apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, edited, ACCURACY))

    assert plan.updated == ("recommender/production/api-latency",)
    assert plan.unchanged == (
        "recommender/production/api-availability",
        "recommender/production/click-accuracy",
    )
    latency = row(db_session, "api-latency")
    assert latency.id == original_id
    assert (latency.threshold_ms, latency.period, latency.version) == (250, timedelta(days=7), 2)
    assert latency.definition["sli"]["threshold_ms"] == 250
    assert (latency.created_at, latency.updated_at) == (created_at, clock.now())
    versions = db_session.scalars(
        select(SloVersion).where(SloVersion.slo_id == original_id).order_by(SloVersion.version)
    ).all()
    assert [(v.version, v.period, v.effective_from, v.applied_by) for v in versions] == [
        (1, timedelta(days=28), first_applied, "test"),
        (2, timedelta(days=7), clock.now(), "test"),
    ]


def test_a_slo_removed_from_its_file_is_archived_and_restored_when_readded(
    db_session: Session, clock: ManualClock
) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY))
    latency_id = db_session.scalars(select(Slo.id).where(Slo.name == "api-latency")).one()
    clock.advance(timedelta(hours=1))

    removed = apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, ACCURACY))

    assert removed.archived == ("recommender/production/api-latency",)
    latency = db_session.get(Slo, latency_id)
    assert latency is not None
    assert latency.archived_at == clock.now()
    # Archived SLOs stay archived, and are not reported again.
    assert not apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, ACCURACY)).has_changes

    clock.advance(timedelta(hours=1))
    readded = apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY))

    assert readded.restored == ("recommender/production/api-latency",)
    db_session.expire_all()
    restored = db_session.get(Slo, latency_id)
    assert restored is not None
    assert restored.archived_at is None
    assert restored.updated_at == clock.now()


def test_a_file_only_touches_its_own_system_and_phase(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    register(db_session, clock, name="search")
    apply(
        db_session,
        clock,
        definition(PRODUCTION, AVAILABILITY, ACCURACY),
        definition(VALIDATION, AVAILABILITY),
        definition("search/production.yaml", AVAILABILITY, ACCURACY),
    )

    plan = apply(db_session, clock, definition(VALIDATION))

    assert plan.archived == ("recommender/technical_validation/api-availability",)
    active = db_session.execute(
        select(System.name, Slo.phase)
        .join(System)
        .where(Slo.archived_at.is_(None))
        .distinct()
        .order_by(System.name)
    ).all()
    assert [tuple(row) for row in active] == [("recommender", "production"), ("search", "production")]


def test_a_batch_with_an_unregistered_system_applies_nothing(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition(PRODUCTION, AVAILABILITY, ACCURACY))
    before = all_slos(db_session)
    unregistered = load_text(
        "ghost/technical_validation.yaml", "apiVersion: mlslo/v1\nkind: SLOSet\nsystem: ghost\nslos: []\n"
    )[0]
    assert unregistered is not None

    with pytest.raises(service.SloApplyError) as raised:
        service.apply(
            db_session=db_session,
            clock=clock,
            files=[definition(PRODUCTION, AVAILABILITY, LATENCY, ACCURACY), unregistered],
            applied_by="test",
        )
    db_session.commit()

    assert [(error.file, error.line, error.field) for error in raised.value.errors] == [
        ("ghost/technical_validation.yaml", 3, "system")
    ]
    assert raised.value.errors[0].message == (
        "system 'ghost' is not registered; register it before applying its SLOs"
    )
    assert raised.value.status_code == 422
    assert all_slos(db_session) == before


def test_two_files_for_the_same_system_and_phase_are_refused(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)

    with pytest.raises(service.SloApplyError) as raised:
        service.plan_apply(
            db_session=db_session,
            files=[
                definition(VALIDATION, AVAILABILITY),
                definition("recommender/technical_validation.yml", LATENCY),
            ],
        )

    assert [(error.file, error.field) for error in raised.value.errors] == [
        ("recommender/technical_validation.yml", "")
    ]
    assert all_slos(db_session) == []


def test_plan_apply_reports_without_changing_anything(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition(VALIDATION, AVAILABILITY))
    before = all_slos(db_session)

    plan = service.plan_apply(db_session=db_session, files=[definition(VALIDATION, LATENCY)])

    assert plan.created == ("recommender/technical_validation/api-latency",)
    assert plan.archived == ("recommender/technical_validation/api-availability",)
    assert all_slos(db_session) == before


def test_a_key_bound_to_another_system_cannot_apply_its_files(
    db_session: Session, clock: ManualClock
) -> None:
    register(db_session, clock)
    search = register(db_session, clock, name="search")
    search_admin = Principal(key_name="search-admin", scopes=frozenset({Scope.ADMIN}), system_id=search.id)

    with pytest.raises(service.SloApplyError) as raised:
        service.apply(
            db_session=db_session,
            clock=clock,
            files=[definition(VALIDATION, AVAILABILITY)],
            applied_by="search-admin",
            principal=search_admin,
        )

    assert [error.field for error in raised.value.errors] == ["system"]
    assert all_slos(db_session) == []


def test_the_shipped_examples_apply_as_one_row_per_objective(db_session: Session, clock: ManualClock) -> None:
    loaded = load_path(SHIPPED)
    assert loaded.ok
    for name in ("content-moderation", "cvr-ranking", "recommender"):
        register(db_session, clock, name=name)

    plan = apply(db_session, clock, *loaded.files)

    expected = {
        f"{slo_file.system}/{slo_file.phase.value}/{spec.name}"
        + (f".{objective.name}" if len(spec.resolved_objectives()) > 1 else "")
        for slo_file in loaded.files
        for spec in slo_file.slos
        for objective in spec.resolved_objectives()
    }
    assert set(plan.created) == expected
    assert "content-moderation/production/moderation-api-latency.typical" in expected
    assert "cvr-ranking/production/cvr-quality.floor" in expected
    assert len(all_slos(db_session)) == len(expected)
    # Applying them again is a no-op: the stored definitions round-trip.
    assert not apply(db_session, clock, *load_path(SHIPPED).files).has_changes
