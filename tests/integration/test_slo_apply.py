"""Applying SLO definition files to Postgres: create, keep, update in place, archive, restore, all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import Principal, Scope
from app.clock import ManualClock
from app.slos import service
from app.slos.loader import SloFile, load_text
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase, System
from app.systems.schemas import SystemCreate

AVAILABILITY = """\
  - name: api-availability
    description: Requests answered without a server error
    sli: {kind: error_rate, source: push}
    objective: 0.999
    window: 30d
    min_events: 10
"""
LATENCY = """\
  - name: api-latency
    sli: {kind: latency, source: push, threshold_ms: 300}
    objective_percent: 99
    window: 28d
"""


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


def test_apply_creates_the_slos_of_a_file(db_session: Session, clock: ManualClock) -> None:
    system = register(db_session, clock)

    plan = apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY, LATENCY))

    assert plan.created == ("recommender/production/api-availability", "recommender/production/api-latency")
    assert (plan.updated, plan.restored, plan.archived, plan.unchanged) == ((), (), (), ())
    availability, latency = db_session.scalars(select(Slo).order_by(Slo.name)).all()
    assert availability.system_id == system.id
    assert availability.phase == "production"
    assert availability.description == "Requests answered without a server error"
    assert availability.sli_kind == "error_rate"
    assert availability.threshold_ms is None
    assert availability.objective == 0.999
    assert availability.period == timedelta(days=30)
    assert availability.min_events == 10
    assert availability.source_path == "recommender/production.yaml"
    assert availability.created_at == availability.updated_at == clock.now()
    assert availability.archived_at is None
    assert availability.definition == {
        "name": "api-availability",
        "description": "Requests answered without a server error",
        "sli": {"kind": "error_rate", "source": "push"},
        "objective": 0.999,
        "objective_percent": None,
        "window": "30d",
        "min_events": 10,
    }
    assert (latency.sli_kind, latency.threshold_ms, latency.period) == ("latency", 300, timedelta(days=28))
    assert latency.objective == pytest.approx(0.99)


def test_reapplying_the_same_file_changes_nothing(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    production = definition("recommender/production.yaml", AVAILABILITY, LATENCY)
    apply(db_session, clock, production)
    before = all_slos(db_session)
    clock.advance(timedelta(hours=1))

    plan = apply(db_session, clock, production)

    assert plan.unchanged == ("recommender/production/api-availability", "recommender/production/api-latency")
    assert not plan.has_changes
    assert all_slos(db_session) == before
    assert {slo.updated_at for slo in db_session.scalars(select(Slo))} == {clock.now() - timedelta(hours=1)}


def test_an_edited_slo_is_updated_in_place(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY, LATENCY))
    original = db_session.scalars(select(Slo).where(Slo.name == "api-latency")).one()
    original_id, created_at = original.id, original.created_at
    clock.advance(timedelta(hours=1))

    edited = LATENCY.replace("threshold_ms: 300", "threshold_ms: 250").replace("window: 28d", "window: 7d")
    plan = apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY, edited))

    assert plan.updated == ("recommender/production/api-latency",)
    assert plan.unchanged == ("recommender/production/api-availability",)
    db_session.expire_all()
    latency = db_session.scalars(select(Slo).where(Slo.name == "api-latency")).one()
    assert latency.id == original_id
    assert (latency.threshold_ms, latency.period) == (250, timedelta(days=7))
    assert latency.definition["sli"]["threshold_ms"] == 250
    assert (latency.created_at, latency.updated_at) == (created_at, clock.now())


def test_a_slo_removed_from_its_file_is_archived_and_restored_when_readded(
    db_session: Session, clock: ManualClock
) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY, LATENCY))
    latency_id = db_session.scalars(select(Slo.id).where(Slo.name == "api-latency")).one()
    clock.advance(timedelta(hours=1))

    removed = apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY))

    assert removed.archived == ("recommender/production/api-latency",)
    latency = db_session.get(Slo, latency_id)
    assert latency is not None
    assert latency.archived_at == clock.now()
    # Archived SLOs stay archived, and are not reported again.
    assert not apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY)).has_changes

    clock.advance(timedelta(hours=1))
    readded = apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY, LATENCY))

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
        definition("recommender/production.yaml", AVAILABILITY),
        definition("recommender/technical_validation.yaml", AVAILABILITY),
        definition("search/production.yaml", AVAILABILITY),
    )

    plan = apply(db_session, clock, definition("recommender/technical_validation.yaml"))

    assert plan.archived == ("recommender/technical_validation/api-availability",)
    active = db_session.execute(
        select(System.name, Slo.phase).join(System).where(Slo.archived_at.is_(None)).order_by(System.name)
    ).all()
    assert [tuple(row) for row in active] == [("recommender", "production"), ("search", "production")]


def test_a_batch_with_an_unregistered_system_applies_nothing(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY))
    before = all_slos(db_session)
    unregistered = load_text(
        "ghost/production.yaml", "apiVersion: mlslo/v1\nkind: SLOSet\nsystem: ghost\nslos: []\n"
    )[0]
    assert unregistered is not None

    with pytest.raises(service.SloApplyError) as raised:
        service.apply(
            db_session=db_session,
            clock=clock,
            files=[definition("recommender/production.yaml", AVAILABILITY, LATENCY), unregistered],
            applied_by="test",
        )
    db_session.commit()

    assert [str(error) for error in raised.value.errors] == [
        "ghost/production.yaml:3: system: system 'ghost' is not registered; register it before applying its SLOs"
    ]
    assert raised.value.status_code == 422
    assert all_slos(db_session) == before


def test_two_files_for_the_same_system_and_phase_are_refused(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)

    with pytest.raises(service.SloApplyError) as raised:
        service.plan_apply(
            db_session=db_session,
            files=[
                definition("recommender/production.yaml", AVAILABILITY),
                definition("recommender/production.yml", LATENCY),
            ],
        )

    assert [(error.file, error.field) for error in raised.value.errors] == [
        ("recommender/production.yml", "")
    ]
    assert all_slos(db_session) == []


def test_plan_apply_reports_without_changing_anything(db_session: Session, clock: ManualClock) -> None:
    register(db_session, clock)
    apply(db_session, clock, definition("recommender/production.yaml", AVAILABILITY))
    before = all_slos(db_session)

    plan = service.plan_apply(
        db_session=db_session, files=[definition("recommender/production.yaml", LATENCY)]
    )

    assert plan.created == ("recommender/production/api-latency",)
    assert plan.archived == ("recommender/production/api-availability",)
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
            files=[definition("recommender/production.yaml", AVAILABILITY)],
            applied_by="search-admin",
            principal=search_admin,
        )

    assert [error.field for error in raised.value.errors] == ["system"]
    assert all_slos(db_session) == []
