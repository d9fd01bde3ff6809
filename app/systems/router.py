"""HTTP endpoints of systems and of the phase policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.deps import Admin, AppClock, AppSettings, DbSession, Reader
from app.systems import service
from app.systems.models import System
from app.systems.schemas import (
    PhaseChangeCreate,
    PhaseChangeRead,
    PhasePolicyRead,
    PromotionCheckRead,
    SystemCreate,
    SystemRead,
    SystemUpdate,
)

systems_router = APIRouter(prefix="/systems", tags=["systems"])
phases_router = APIRouter(prefix="/phases", tags=["phases"])


def _visible_system(name: str, db_session: DbSession, principal: Reader) -> System:
    return service.get(db_session=db_session, name=name, principal=principal)


VisibleSystem = Annotated[System, Depends(_visible_system)]


@systems_router.post("", status_code=status.HTTP_201_CREATED, response_model=SystemRead)
def register_system(
    system_in: SystemCreate, db_session: DbSession, clock: AppClock, settings: AppSettings, principal: Admin
) -> SystemRead:
    service.check_registration_phase(settings=settings, system_in=system_in)
    system = service.register(
        db_session=db_session, clock=clock, system_in=system_in, registered_by=principal.key_name
    )
    return service.to_read(system)


@systems_router.get("", response_model=list[SystemRead])
def list_systems(db_session: DbSession, principal: Reader) -> list[SystemRead]:
    return [service.to_read(s) for s in service.list_visible(db_session=db_session, principal=principal)]


@systems_router.get("/{name}", response_model=SystemRead)
def get_system(system: VisibleSystem) -> SystemRead:
    return service.to_read(system)


@systems_router.patch("/{name}", response_model=SystemRead)
def update_system(
    name: str, system_in: SystemUpdate, db_session: DbSession, clock: AppClock, principal: Admin
) -> SystemRead:
    system = service.get(db_session=db_session, name=name, principal=principal)
    return service.to_read(
        service.update(db_session=db_session, clock=clock, system=system, system_in=system_in)
    )


@systems_router.get("/{name}/promotion-check", response_model=PromotionCheckRead)
def promotion_check(
    system: VisibleSystem, db_session: DbSession, settings: AppSettings
) -> PromotionCheckRead:
    return service.promotion_check(db_session=db_session, settings=settings, system=system)


@systems_router.post("/{name}/phase", status_code=status.HTTP_201_CREATED, response_model=PhaseChangeRead)
def change_phase(
    name: str,
    change: PhaseChangeCreate,
    db_session: DbSession,
    clock: AppClock,
    settings: AppSettings,
    principal: Admin,
) -> PhaseChangeRead:
    system = service.get(db_session=db_session, name=name, principal=principal)
    phase_change = service.change_phase(
        db_session=db_session,
        clock=clock,
        settings=settings,
        system=system,
        change=change,
        changed_by=principal.key_name,
    )
    return PhaseChangeRead.model_validate(phase_change)


@systems_router.get("/{name}/phase-changes", response_model=list[PhaseChangeRead])
def list_phase_changes(system: VisibleSystem, db_session: DbSession) -> list[PhaseChangeRead]:
    return [
        PhaseChangeRead.model_validate(change)
        for change in service.phase_history(db_session=db_session, system=system)
    ]


@phases_router.get("", response_model=list[PhasePolicyRead])
def list_phases(principal: Reader) -> list[PhasePolicyRead]:
    return service.list_policies()


# What app.main mounts; included last, because including copies the routes declared so far.
router = APIRouter()
router.include_router(systems_router)
router.include_router(phases_router)
