"""Use cases on systems: register, update, change phase."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.clock import Clock
from app.errors import ConflictError, NotFoundError
from app.systems import repository
from app.systems.models import Phase, PhaseChange, System
from app.systems.schemas import Owner, PhaseChangeCreate, SystemCreate, SystemRead, SystemUpdate


def get(*, db_session: Session, name: str, principal: Principal | None = None) -> System:
    system = repository.get_by_name(db_session=db_session, name=name)
    # A key bound to another system gets the same 404 as a missing one, so names do not leak.
    if system is None or (principal is not None and not principal.may_access_system(system.id)):
        raise NotFoundError(f"system {name!r} is not registered", field="name")
    return system


def list_visible(*, db_session: Session, principal: Principal) -> Sequence[System]:
    return repository.list_all(db_session=db_session, system_id=principal.system_id)


def register(*, db_session: Session, clock: Clock, system_in: SystemCreate, registered_by: str) -> System:
    if repository.get_by_name(db_session=db_session, name=system_in.name) is not None:
        raise ConflictError(f"system {system_in.name!r} is already registered", field="name")
    now = clock.now()
    system = System(
        name=system_in.name,
        description=system_in.description,
        phase=system_in.phase.value,
        created_at=now,
        updated_at=now,
    )
    _set_owners(system, service_owner=system_in.service_owner, model_owner=system_in.model_owner)
    repository.add(db_session=db_session, system=system)
    repository.add_phase_change(
        db_session=db_session,
        phase_change=PhaseChange(
            system_id=system.id,
            from_phase=None,
            to_phase=system.phase,
            changed_by=registered_by,
            reason="registered",
            changed_at=now,
        ),
    )
    return system


def update(*, db_session: Session, clock: Clock, system: System, system_in: SystemUpdate) -> System:
    if system_in.description is not None:
        system.description = system_in.description
    fields = system_in.model_fields_set
    _set_owners(
        system,
        service_owner=system_in.service_owner
        if "service_owner" in fields
        else _current_owner(system, "service"),
        model_owner=system_in.model_owner if "model_owner" in fields else _current_owner(system, "model"),
    )
    system.updated_at = clock.now()
    db_session.flush()
    return system


def change_phase(
    *, db_session: Session, clock: Clock, system: System, change: PhaseChangeCreate, changed_by: str
) -> PhaseChange:
    if change.phase.value == system.phase:
        raise ConflictError(f"system {system.name!r} is already in phase {system.phase!r}", field="phase")
    now = clock.now()
    phase_change = PhaseChange(
        system_id=system.id,
        from_phase=system.phase,
        to_phase=change.phase.value,
        changed_by=changed_by,
        reason=change.reason,
        changed_at=now,
    )
    system.phase = change.phase.value
    system.updated_at = now
    repository.add_phase_change(db_session=db_session, phase_change=phase_change)
    return phase_change


def phase_history(*, db_session: Session, system: System) -> Sequence[PhaseChange]:
    return repository.list_phase_changes(db_session=db_session, system_id=system.id)


def to_read(system: System) -> SystemRead:
    return SystemRead(
        name=system.name,
        description=system.description,
        phase=Phase(system.phase),
        service_owner=_current_owner(system, "service"),
        model_owner=_current_owner(system, "model"),
        created_at=system.created_at,
        updated_at=system.updated_at,
    )


def _current_owner(system: System, side: str) -> Owner | None:
    name = system.service_owner if side == "service" else system.model_owner
    channel = system.service_owner_slack_channel if side == "service" else system.model_owner_slack_channel
    return None if name is None else Owner(name=name, slack_channel=channel)


def _set_owners(system: System, *, service_owner: Owner | None, model_owner: Owner | None) -> None:
    system.service_owner = service_owner.name if service_owner else None
    system.service_owner_slack_channel = service_owner.slack_channel if service_owner else None
    system.model_owner = model_owner.name if model_owner else None
    system.model_owner_slack_channel = model_owner.slack_channel if model_owner else None
