"""Use cases on systems: register, update, change phase through the production gate."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.clock import Clock
from app.config import Settings
from app.core import phase_policy
from app.core.phase_policy import GateFacts, GateOwner, GateSlo
from app.core.readiness import ml_test_score
from app.core.sli_catalog import SliKind, kind_info
from app.errors import ConflictError, NotFoundError
from app.slos import repository as slos_repository
from app.systems import repository
from app.systems.errors import PhaseGateRefusedError
from app.systems.models import Phase, PhaseChange, System
from app.systems.schemas import (
    Owner,
    PhaseChangeCreate,
    PhasePolicyRead,
    PromotionCheckRead,
    SystemCreate,
    SystemRead,
    SystemUpdate,
)


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
    new_owners = {
        side: getattr(system_in, f"{side}_owner")
        if f"{side}_owner" in fields
        else _current_owner(system, side)
        for side in ("service", "model")
    }
    if system.phase == Phase.PRODUCTION.value:
        # Production alerts need someone to go to: removing an owner or a channel would leave
        # pages with nowhere to land, so it waits for a demotion.
        for side, owner in new_owners.items():
            before = _current_owner(system, side)
            if before is not None and (owner is None or (before.slack_channel and not owner.slack_channel)):
                raise ConflictError(
                    f"system {system.name!r} is in production, which needs its {side} owner and their Slack "
                    "channel; demote it before removing them",
                    field=f"{side}_owner",
                )
    _set_owners(system, service_owner=new_owners["service"], model_owner=new_owners["model"])
    system.updated_at = clock.now()
    db_session.flush()
    return system


def check_registration_phase(*, settings: Settings, system_in: SystemCreate) -> None:
    """A new system has no SLOs yet, so registering it straight into a gated phase would skip the gate."""
    target = system_in.phase.value
    if not phase_policy.policy_for(target).slos_required:
        return
    facts = GateFacts(
        system=system_in.name,
        slos=(),
        service_owner=_gate_owner(system_in.service_owner),
        model_owner=_gate_owner(system_in.model_owner),
        slack_webhook_configured=_webhook_configured(settings),
    )
    raise PhaseGateRefusedError(
        f"system {system_in.name!r} cannot be registered in {target!r}: register it in "
        f"{Phase.TECHNICAL_VALIDATION.value!r}, apply its {target} SLOs, then promote it",
        reasons=phase_policy.unmet_requirements(target, facts),
    )


def promotion_check(
    *, db_session: Session, settings: Settings, system: System, target: Phase = Phase.PRODUCTION
) -> PromotionCheckRead:
    """Whether the system could enter `target` now, judged on its present state whatever its phase,
    with the ML Test Score of its `target` SLOs."""
    facts = _gate_facts(db_session=db_session, settings=settings, system=system, target=target)
    reasons = phase_policy.unmet_requirements(target.value, facts)
    readiness = ml_test_score([(slo.name, slo.kind) for slo in facts.slos if slo.kind is not None])
    return PromotionCheckRead(
        target=target,
        ready=not reasons,
        reasons=reasons,
        ml_test_score=readiness.score,
        ml_test_score_max=readiness.max_score,
        ml_test_score_minimum=facts.ml_test_score_minimum,
    )


def change_phase(
    *,
    db_session: Session,
    clock: Clock,
    settings: Settings,
    system: System,
    change: PhaseChangeCreate,
    changed_by: str,
) -> PhaseChange:
    """Move the system to another phase. Promotions into a gated phase must pass the gate or be
    overridden with a reason; demotions always pass."""
    if change.phase.value == system.phase:
        raise ConflictError(f"system {system.name!r} is already in phase {system.phase!r}", field="phase")
    reason = change.reason
    if phase_policy.is_gated(system.phase, change.phase.value):
        unmet = _unmet_requirements(
            db_session=db_session, settings=settings, system=system, target=change.phase
        )
        if unmet and not change.override:
            raise PhaseGateRefusedError(
                f"system {system.name!r} is not ready for {change.phase.value!r}: "
                f"{len(unmet)} unmet requirement(s); fix them, or override as an admin with a reason",
                reasons=unmet,
            )
        if unmet:
            # No column of its own: the override and what it skipped are kept with the reason.
            reason = f"{change.reason}\noverride: {change.override_reason} (unmet: {'; '.join(unmet)})"
    now = clock.now()
    phase_change = PhaseChange(
        system_id=system.id,
        from_phase=system.phase,
        to_phase=change.phase.value,
        changed_by=changed_by,
        reason=reason,
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
        policy=PhasePolicyRead.model_validate(phase_policy.policy_for(system.phase)),
        service_owner=_current_owner(system, "service"),
        model_owner=_current_owner(system, "model"),
        created_at=system.created_at,
        updated_at=system.updated_at,
    )


def list_policies() -> list[PhasePolicyRead]:
    return [PhasePolicyRead.model_validate(policy) for policy in phase_policy.POLICIES]


def _unmet_requirements(
    *, db_session: Session, settings: Settings, system: System, target: Phase
) -> list[str]:
    facts = _gate_facts(db_session=db_session, settings=settings, system=system, target=target)
    return phase_policy.unmet_requirements(target.value, facts)


def _gate_facts(*, db_session: Session, settings: Settings, system: System, target: Phase) -> GateFacts:
    slos = [
        GateSlo(
            name=slo.name,
            family=kind_info(SliKind(slo.sli_kind)).family,
            owner_side=slo.owner_side,
            kind=SliKind(slo.sli_kind),
        )
        for slo in slos_repository.list_for_system(db_session=db_session, system_id=system.id)
        if slo.phase == target.value
    ]
    facts = GateFacts(
        system=system.name,
        slos=slos,
        service_owner=GateOwner(system.service_owner, system.service_owner_slack_channel),
        model_owner=GateOwner(system.model_owner, system.model_owner_slack_channel),
        slack_webhook_configured=_webhook_configured(settings),
        ml_test_score_minimum=(system.ml_test_score_minimums or {}).get(target.value),
    )
    return facts


def _gate_owner(owner: Owner | None) -> GateOwner:
    return (
        GateOwner(name=None, slack_channel=None)
        if owner is None
        else GateOwner(owner.name, owner.slack_channel)
    )


def _webhook_configured(settings: Settings) -> bool:
    url = settings.slack_webhook_url
    return url is not None and url.get_secret_value().strip() != ""


def _current_owner(system: System, side: str) -> Owner | None:
    name = system.service_owner if side == "service" else system.model_owner
    channel = system.service_owner_slack_channel if side == "service" else system.model_owner_slack_channel
    pages = system.service_owner_page_channel if side == "service" else system.model_owner_page_channel
    return None if name is None else Owner(name=name, slack_channel=channel, page_slack_channel=pages)


def _set_owners(system: System, *, service_owner: Owner | None, model_owner: Owner | None) -> None:
    system.service_owner = service_owner.name if service_owner else None
    system.service_owner_slack_channel = service_owner.slack_channel if service_owner else None
    system.service_owner_page_channel = service_owner.page_slack_channel if service_owner else None
    system.model_owner = model_owner.name if model_owner else None
    system.model_owner_slack_channel = model_owner.slack_channel if model_owner else None
    system.model_owner_page_channel = model_owner.page_slack_channel if model_owner else None
