"""Use cases of the alerting policy: silences that mute notifications for a while, and the
error-budget release freeze with its P0 and security exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.alerting_policy import repository
from app.alerting_policy.models import FreezeException, Silence
from app.alerting_policy.schemas import (
    FreezeExceptionCreate,
    FreezeExceptionRead,
    FreezeRead,
    FreezeReason,
    SilenceCreate,
    SilenceRead,
    SilenceState,
)
from app.auth.service import Principal
from app.clock import Clock
from app.core import budget_policy
from app.core.budget_policy import ExceptionPeriod, SloBudget
from app.core.burn_rate_policy import Severity
from app.core.windows import parse_window, window_label
from app.errors import ConflictError, InvalidInputError, NotFoundError
from app.evaluation import repository as evaluation_repository
from app.slos import repository as slos_repository
from app.systems import repository as systems_repository
from app.systems.models import System

# Longer mutes hide real, lasting problems; those call for changing the SLO instead.
MAX_SILENCE = timedelta(days=30)


def create_silence(
    *,
    db_session: Session,
    clock: Clock,
    body: SilenceCreate,
    created_by: str,
    principal: Principal | None = None,
) -> Silence:
    """Record a silence. The system, and the SLO if one is named (in any phase), must exist."""
    now = clock.now()
    system = systems_repository.get_by_name(db_session=db_session, name=body.system)
    # A key bound to another system is told the same as for a missing one, so names do not leak.
    if system is None or (principal is not None and not principal.may_access_system(system.id)):
        raise InvalidInputError(f"system {body.system!r} is not registered", field="system")
    if body.slo is not None and not any(
        slo.name == body.slo
        for slo in slos_repository.list_for_system(db_session=db_session, system_id=system.id)
    ):
        raise InvalidInputError(f"system {body.system!r} has no SLO named {body.slo!r}", field="slo")
    starts_at = body.starts_at or now
    ends_at = _end(
        start=starts_at, end=body.ends_at, duration=body.duration, end_field="ends_at", longest=MAX_SILENCE
    )
    if ends_at <= now:
        raise InvalidInputError("the silence would already be over: end it in the future", field="ends_at")
    silence = Silence(
        system=system.name,
        slo=body.slo,
        severity=None if body.severity is None else body.severity.value,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by,
        comment=body.comment.strip(),
        created_at=now,
    )
    return repository.add_silence(db_session=db_session, silence=silence)


def expire_silence(
    *, db_session: Session, clock: Clock, silence_id: int, principal: Principal | None = None
) -> Silence:
    """End a silence now; one not yet started is cancelled. 409 if it is already over."""
    now = clock.now()
    silence = get_silence(db_session=db_session, silence_id=silence_id, principal=principal, for_update=True)
    if silence.expired_at is not None or silence.ends_at <= now:
        raise ConflictError(f"silence {silence_id} is already over", field="silence_id")
    silence.expired_at = now
    silence.ends_at = min(silence.ends_at, now)
    db_session.flush()
    return silence


def get_silence(
    *, db_session: Session, silence_id: int, principal: Principal | None = None, for_update: bool = False
) -> Silence:
    silence = repository.get_silence(db_session=db_session, silence_id=silence_id, for_update=for_update)
    if silence is None or not _may_see(db_session, principal, silence.system):
        raise NotFoundError(f"silence {silence_id} does not exist", field="silence_id")
    return silence


def list_silences(
    *, db_session: Session, clock: Clock, active_only: bool, principal: Principal | None = None
) -> Sequence[Silence]:
    """Newest start first. `active_only` keeps the silences that are not over: in force now, or
    scheduled to start (their `state` tells which)."""
    return repository.list_silences(
        db_session=db_session,
        not_over_at=clock.now() if active_only else None,
        system_id=None if principal is None else principal.system_id,
    )


def matching_silence(
    *, db_session: Session, system: str, slo: str, severity: str, at: datetime
) -> Silence | None:
    """The silence muting a notification of this system, SLO and severity at `at`, if any: same
    system; its SLO unset or equal; its severity unset or equal; starts_at <= at < ends_at; not
    expired early. The notification outbox records such notifications as silenced."""
    return repository.matching_silence(
        db_session=db_session, system=system, slo=slo, severity=severity, at=at
    )


def silence_state(silence: Silence, now: datetime) -> SilenceState:
    if silence.expired_at is not None or silence.ends_at <= now:
        return SilenceState.EXPIRED
    return SilenceState.PENDING if now < silence.starts_at else SilenceState.ACTIVE


def silence_to_read(silence: Silence, now: datetime) -> SilenceRead:
    return SilenceRead(
        id=silence.id,
        system=silence.system,
        slo=silence.slo,
        severity=None if silence.severity is None else Severity(silence.severity),
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        created_at=silence.created_at,
        expired_at=silence.expired_at,
        state=silence_state(silence, now),
    )


def freeze_status(*, db_session: Session, clock: Clock, system: System) -> FreezeRead:
    """Whether releases of the system are frozen by its error-budget policy (read-only, for CI/CD
    gates): its production SLOs in force, each judged over its own window by its latest evaluation."""
    now = clock.now()
    budgets = []
    for slo, _ in slos_repository.list_in_force(db_session=db_session, system_id=system.id):
        status = evaluation_repository.get_status(db_session=db_session, slo_id=slo.id)
        budgets.append(
            SloBudget(
                slo=slo.name,
                error_budget_remaining=None if status is None else status.error_budget_remaining,
                window=slo.period,
            )
        )
    exceptions = repository.list_active_freeze_exceptions(db_session=db_session, system_id=system.id, at=now)
    decision = budget_policy.decide_freeze(
        phase=system.phase,
        budgets=budgets,
        exceptions=[ExceptionPeriod(e.granted_at, e.expires_at, e.revoked_at) for e in exceptions],
        now=now,
    )
    return FreezeRead(
        system=system.name,
        phase=system.phase,
        policy_applies=decision.policy_applies,
        frozen=decision.frozen,
        budget_exhausted=decision.budget_exhausted,
        reasons=[
            FreezeReason(
                slo=budget.slo,
                error_budget_remaining=budget.error_budget_remaining or 0.0,
                window=window_label(budget.window),
            )
            for budget in decision.exhausted
        ],
        exceptions=[FreezeExceptionRead.model_validate(e) for e in exceptions],
        summary=_freeze_summary(system, decision),
    )


def grant_freeze_exception(
    *, db_session: Session, clock: Clock, system: System, body: FreezeExceptionCreate, granted_by: str
) -> FreezeException:
    """Let P0 or security releases through the freeze, for at most 7 days."""
    now = clock.now()
    expires_at = _end(
        start=now,
        end=body.expires_at,
        duration=body.duration,
        end_field="expires_at",
        longest=budget_policy.MAX_FREEZE_EXCEPTION,
    )
    freeze_exception = FreezeException(
        system_id=system.id,
        kind=body.kind.value,
        reason=body.reason.strip(),
        granted_by=granted_by,
        granted_at=now,
        expires_at=expires_at,
    )
    return repository.add_freeze_exception(db_session=db_session, freeze_exception=freeze_exception)


def revoke_freeze_exception(
    *, db_session: Session, clock: Clock, system: System, exception_id: int
) -> FreezeException:
    """End an exception now. 409 if it is already revoked or expired."""
    now = clock.now()
    freeze_exception = repository.get_freeze_exception(
        db_session=db_session, exception_id=exception_id, for_update=True
    )
    if freeze_exception is None or freeze_exception.system_id != system.id:
        raise NotFoundError(
            f"system {system.name!r} has no freeze exception {exception_id}", field="exception_id"
        )
    if freeze_exception.revoked_at is not None or freeze_exception.expires_at <= now:
        raise ConflictError(f"freeze exception {exception_id} is already over", field="exception_id")
    freeze_exception.revoked_at = now
    db_session.flush()
    return freeze_exception


def _end(
    *, start: datetime, end: datetime | None, duration: str | None, end_field: str, longest: timedelta
) -> datetime:
    """The end given as a moment or as a duration from `start` (exactly one), after `start` and at
    most `longest` later."""
    if end is None:
        if duration is None:
            raise InvalidInputError(f"give {end_field} or duration", field=end_field)
        try:
            end = start + parse_window(duration)
        except ValueError as exc:
            raise InvalidInputError(str(exc), field="duration") from None
        field = "duration"
    elif duration is not None:
        raise InvalidInputError(f"give {end_field} or duration, not both", field="duration")
    else:
        field = end_field
    if end <= start:
        raise InvalidInputError(f"{end_field} must be after the start ({start.isoformat()})", field=field)
    if end - start > longest:
        raise InvalidInputError(f"may last at most {window_label(longest)}", field=field)
    return end


def _may_see(db_session: Session, principal: Principal | None, system_name: str) -> bool:
    if principal is None or principal.system_id is None:
        return True
    system = systems_repository.get_by_name(db_session=db_session, name=system_name)
    return system is not None and principal.may_access_system(system.id)


def _freeze_summary(system: System, decision: budget_policy.FreezeDecision) -> str:
    if not decision.policy_applies:
        return (
            f"system {system.name!r} is in phase {system.phase!r}: the error-budget policy applies only "
            "in production, so it is never frozen"
        )
    if not decision.budget_exhausted:
        return "error budgets remain on every production SLO: releases may proceed"
    names = ", ".join(budget.slo for budget in decision.exhausted)
    if decision.frozen:
        return f"error budget exhausted ({names}): releases are frozen except P0 and security fixes"
    return f"error budget exhausted ({names}), but an exception is in force: releases may proceed"
