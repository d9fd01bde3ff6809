"""HTTP endpoints of silences and of the error-budget release freeze."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.alerting_policy import service
from app.alerting_policy.schemas import (
    FreezeExceptionCreate,
    FreezeExceptionRead,
    FreezeRead,
    SilenceCreate,
    SilenceRead,
)
from app.deps import Admin, AppClock, DbSession, IdInPath, Reader
from app.systems import service as systems_service

silences_router = APIRouter(prefix="/silences", tags=["silences"])
freeze_router = APIRouter(prefix="/systems/{name}", tags=["freeze"])


@silences_router.post("", status_code=status.HTTP_201_CREATED, response_model=SilenceRead)
def create_silence(
    body: SilenceCreate, db_session: DbSession, clock: AppClock, principal: Admin
) -> SilenceRead:
    """Mute a system's notifications (or one SLO's, or one severity's) until `ends_at` or for `duration`."""
    silence = service.create_silence(
        db_session=db_session, clock=clock, body=body, created_by=principal.key_name, principal=principal
    )
    return service.silence_to_read(silence, clock.now())


@silences_router.get("", response_model=list[SilenceRead])
def list_silences(
    db_session: DbSession,
    clock: AppClock,
    principal: Reader,
    active: Annotated[bool, Query(description="Only silences not over yet (active or pending).")] = True,
) -> list[SilenceRead]:
    now = clock.now()
    silences = service.list_silences(
        db_session=db_session, clock=clock, active_only=active, principal=principal
    )
    return [service.silence_to_read(silence, now) for silence in silences]


@silences_router.post("/{silence_id}/expire", response_model=SilenceRead)
def expire_silence(
    silence_id: IdInPath, db_session: DbSession, clock: AppClock, principal: Admin
) -> SilenceRead:
    silence = service.expire_silence(
        db_session=db_session, clock=clock, silence_id=silence_id, principal=principal
    )
    return service.silence_to_read(silence, clock.now())


@freeze_router.get("/freeze", response_model=FreezeRead)
def get_freeze(name: str, db_session: DbSession, clock: AppClock, principal: Reader) -> FreezeRead:
    """Whether releases are frozen by the error-budget policy; read-only, for CI/CD gates."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    return service.freeze_status(db_session=db_session, clock=clock, system=system)


@freeze_router.post(
    "/freeze-exceptions", status_code=status.HTTP_201_CREATED, response_model=FreezeExceptionRead
)
def grant_freeze_exception(
    name: str, body: FreezeExceptionCreate, db_session: DbSession, clock: AppClock, principal: Admin
) -> FreezeExceptionRead:
    """Let P0 or security releases through the freeze, until `expires_at` or for `duration` (≤ 7 days)."""
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    freeze_exception = service.grant_freeze_exception(
        db_session=db_session, clock=clock, system=system, body=body, granted_by=principal.key_name
    )
    return FreezeExceptionRead.model_validate(freeze_exception)


@freeze_router.post("/freeze-exceptions/{exception_id}/revoke", response_model=FreezeExceptionRead)
def revoke_freeze_exception(
    name: str, exception_id: IdInPath, db_session: DbSession, clock: AppClock, principal: Admin
) -> FreezeExceptionRead:
    system = systems_service.get(db_session=db_session, name=name, principal=principal)
    freeze_exception = service.revoke_freeze_exception(
        db_session=db_session, clock=clock, system=system, exception_id=exception_id
    )
    return FreezeExceptionRead.model_validate(freeze_exception)


# What app.main mounts; included last, because including copies the routes declared so far.
router = APIRouter()
router.include_router(silences_router)
router.include_router(freeze_router)
