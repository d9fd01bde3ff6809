"""HTTP endpoints for SLO status, breaches and on-demand evaluation."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.alerting_policy.service import matching_silence
from app.auth.service import Principal
from app.core.budget import postmortem_required
from app.core.windows import window_label
from app.deps import Admin, AppClock, AppSettings, DbSession, IdInPath, Reader
from app.errors import NotFoundError
from app.evaluation import repository, routing, service
from app.evaluation.models import Breach
from app.evaluation.schemas import (
    AcknowledgementIn,
    BreachRead,
    EvaluationRunRead,
    RoutingRead,
    SloRead,
    SloStatusRead,
    SloVersionRead,
)
from app.notifications.service import Targets
from app.slos import repository as slos_repository
from app.slos import service as slos_service
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import System

router = APIRouter(tags=["evaluation"])


@router.get("/systems/{name}/slos", response_model=list[SloRead])
def list_slos(
    name: str,
    db_session: DbSession,
    principal: Reader,
    include_other_phases: bool = False,
) -> list[SloRead]:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slos = slos_repository.list_for_system(db_session=db_session, system_id=system.id)
    return [
        _slo_read(db_session, slo, system)
        for slo in slos
        if include_other_phases or slo.phase == system.phase
    ]


@router.get("/systems/{name}/slos/{slo_name}", response_model=SloRead)
def get_slo(name: str, slo_name: str, db_session: DbSession, principal: Reader) -> SloRead:
    slo, system = _slo_in_force(db_session, name, slo_name, principal)
    return _slo_read(db_session, slo, system)


def _slo_in_force(
    db_session: DbSession, name: str, slo_name: str, principal: Principal
) -> tuple[Slo, System]:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return slos_service.get_in_current_phase(db_session=db_session, system=system, name=slo_name), system


@router.get("/systems/{name}/slos/{slo_name}/versions", response_model=list[SloVersionRead])
def list_slo_versions(
    name: str, slo_name: str, db_session: DbSession, principal: Reader
) -> list[SloVersionRead]:
    """Every applied definition of the SLO, oldest first: what changed, when, and by whom."""
    slo, _ = _slo_in_force(db_session, name, slo_name, principal)
    return [
        SloVersionRead(
            version=version.version,
            objective=version.objective,
            window=window_label(version.period),
            effective_from=version.effective_from,
            applied_by=version.applied_by,
            source_path=version.source_path,
            definition=version.definition,
        )
        for version in slos_repository.list_versions(db_session=db_session, slo_id=slo.id)
    ]


@router.post("/evaluations", response_model=EvaluationRunRead)
def run_evaluation(
    db_session: DbSession, clock: AppClock, settings: AppSettings, _: Admin
) -> EvaluationRunRead:
    report = service.evaluate_all(db_session=db_session, clock=clock, settings=settings)
    return EvaluationRunRead(**dataclasses.asdict(report))


@router.get("/breaches", response_model=list[BreachRead])
def list_breaches(
    db_session: DbSession,
    clock: AppClock,
    principal: Reader,
    system: str | None = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[BreachRead]:
    system_id = principal.system_id
    if system is not None:
        system_id = systems_service.get(db_session=db_session, name=system, principal=principal).id
    rows = repository.list_breaches(
        db_session=db_session, system_id=system_id, open_only=open_only, limit=limit
    )
    return [_breach_read(db_session, clock, *row) for row in rows]


@router.get("/breaches/{breach_id}", response_model=BreachRead)
def get_breach(breach_id: IdInPath, db_session: DbSession, clock: AppClock, principal: Reader) -> BreachRead:
    row = repository.get_breach(db_session=db_session, breach_id=breach_id)
    if row is None or not principal.may_access_system(row[2].id):
        raise NotFoundError(f"breach {breach_id} does not exist", field="breach_id")
    return _breach_read(db_session, clock, *row)


@router.post("/breaches/{breach_id}/acknowledge", response_model=BreachRead)
def acknowledge_breach(
    breach_id: IdInPath,
    body: AcknowledgementIn,
    db_session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    principal: Admin,
) -> BreachRead:
    """Someone is on it: the episode's repeats stop; its resolved notice is still sent."""
    row = repository.get_breach(db_session=db_session, breach_id=breach_id)
    if row is None or not principal.may_access_system(row[2].id):
        raise NotFoundError(f"breach {breach_id} does not exist", field="breach_id")
    breach, slo, system = row
    service.acknowledge(
        db_session=db_session,
        clock=clock,
        settings=settings,
        breach=breach,
        slo=slo,
        system=system,
        by=principal.key_name,
        comment=body.comment,
    )
    return _breach_read(db_session, clock, *row)


@router.get("/breaches/{breach_id}/routing", response_model=RoutingRead)
def breach_routing(
    breach_id: IdInPath, db_session: DbSession, clock: AppClock, settings: AppSettings, principal: Reader
) -> RoutingRead:
    """Why this breach's notifications went where they went (the decision as it stands now)."""
    row = repository.get_breach(db_session=db_session, breach_id=breach_id)
    if row is None or not principal.may_access_system(row[2].id):
        raise NotFoundError(f"breach {breach_id} does not exist", field="breach_id")
    breach, slo, system = row
    return _routing_read(db_session, clock, settings, slo, system, breach.severity)


@router.get("/systems/{name}/slos/{slo_name}/routing", response_model=RoutingRead)
def slo_routing(
    name: str,
    slo_name: str,
    db_session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    principal: Reader,
    severity: Literal["page", "ticket"] = "page",
) -> RoutingRead:
    """Where an alert of this SLO and severity would go now, and why."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    slo = slos_service.get_in_current_phase(db_session=db_session, system=system, name=slo_name)
    return _routing_read(db_session, clock, settings, slo, system, severity)


def _routing_read(
    db_session: DbSession, clock: AppClock, settings: AppSettings, slo: Slo, system: System, severity: str
) -> RoutingRead:
    silence = matching_silence(
        db_session=db_session, system=system.name, slo=slo.name, severity=severity, at=clock.now()
    )
    decision = routing.decide(
        slo,
        system,
        severity,
        targets=Targets.from_settings(settings),
        silence_id=None if silence is None else silence.id,
    )
    return RoutingRead(system=system.name, slo=slo.name, **dataclasses.asdict(decision))


def _slo_read(db_session: DbSession, slo: Slo, system: System) -> SloRead:
    status = repository.get_status(db_session=db_session, slo_id=slo.id)
    return SloRead(
        id=slo.id,
        system=system.name,
        phase=slo.phase,
        name=slo.name,
        objective_name=slo.objective_name,
        description=slo.description,
        sli_kind=slo.sli_kind,
        metric=slo.metric,
        source=slo.source,
        threshold_ms=slo.threshold_ms,
        objective=slo.objective,
        objective_op=slo.objective_op,
        objective_value=slo.objective_value,
        budgeting_method=slo.budgeting_method,
        window=window_label(slo.period),
        calendar_unit=slo.calendar_unit,
        time_zone=slo.time_zone,
        owner_side=slo.owner_side,
        version=slo.version,
        in_force=slo.phase == system.phase and slo.archived_at is None,
        source_path=slo.source_path,
        status=None if status is None else SloStatusRead.model_validate(status),
    )


def _breach_read(
    db_session: DbSession, clock: AppClock, breach: Breach, slo: Slo, system: System
) -> BreachRead:
    impact = service.breach_budget_impact(db_session=db_session, breach=breach, slo=slo, now=clock.now())
    return BreachRead(
        id=breach.id,
        system=system.name,
        phase=slo.phase,
        slo=slo.name,
        slo_id=slo.id,
        severity=breach.severity,
        opened_at=breach.opened_at,
        window_start=breach.window_start,
        resolved_at=breach.resolved_at,
        peak_burn_rate=breach.peak_burn_rate,
        error_budget_remaining_at_open=breach.error_budget_remaining_at_open,
        opening_details=breach.opening_details,
        bad_events=impact.bad_events,
        budget_consumed_share=impact.budget_consumed_share,
        postmortem_required=postmortem_required(impact.budget_consumed_share),
        dedup_key=breach.dedup_key,
        start_details=breach.start_details,
        peak_details=breach.peak_details,
        closing_details=breach.closing_details,
        acknowledged_at=breach.acknowledged_at,
        acknowledged_by=breach.acknowledged_by,
        acknowledgement_comment=breach.acknowledgement_comment,
        last_notified_at=breach.last_notified_at,
    )
