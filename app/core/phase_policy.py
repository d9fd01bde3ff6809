"""What each lifecycle phase asks of a system, and what a system must have before it may enter production.

Pure: plain values in, plain values out, so the API, the evaluation job and the docs share one table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.burn_rate_policy import Severity
from app.core.readiness import ml_test_score
from app.core.sli_catalog import CATALOG, SliFamily, SliKind

CONCEPT = "concept"
TECHNICAL_VALIDATION = "technical_validation"
PRODUCTION = "production"
# Lowest to highest: moving right is a promotion, moving left a demotion.
PHASE_ORDER: tuple[str, ...] = (CONCEPT, TECHNICAL_VALIDATION, PRODUCTION)
OWNER_SIDES: tuple[str, ...] = ("service", "model")


@dataclass(frozen=True, slots=True)
class PhasePolicy:
    phase: str
    collects_slis: bool
    evaluates_budgets: bool
    notifies: bool
    allows_page: bool
    allows_ticket: bool
    slos_required: bool
    requires_conventional_and_ml: bool
    error_budget_policy_applies: bool
    summary: str

    def allows(self, severity: Severity) -> bool:
        """Whether an alert of this severity may go out in this phase."""
        if not self.notifies:
            return False
        return self.allows_page if severity is Severity.PAGE else self.allows_ticket


POLICIES: tuple[PhasePolicy, ...] = (
    PhasePolicy(
        phase=CONCEPT,
        collects_slis=True,
        evaluates_budgets=False,
        notifies=False,
        allows_page=False,
        allows_ticket=False,
        slos_required=False,
        requires_conventional_and_ml=False,
        error_budget_policy_applies=False,
        summary="Is the idea feasible? SLIs may be collected for information; "
        "no budgets are evaluated and nobody is notified.",
    ),
    PhasePolicy(
        phase=TECHNICAL_VALIDATION,
        collects_slis=True,
        evaluates_budgets=True,
        notifies=True,
        allows_page=False,
        allows_ticket=True,
        slos_required=False,
        requires_conventional_and_ml=False,
        error_budget_policy_applies=False,
        summary="Which technique is best? SLOs are optional and set per system; "
        "breaches open tickets and never page.",
    ),
    PhasePolicy(
        phase=PRODUCTION,
        collects_slis=True,
        evaluates_budgets=True,
        notifies=True,
        allows_page=True,
        allows_ticket=True,
        slos_required=True,
        requires_conventional_and_ml=True,
        error_budget_policy_applies=True,
        summary="Deliver value continuously: SLOs with a conventional and an ML SLI are required; "
        "pages and tickets are live and the error-budget policy applies.",
    ),
)
_BY_PHASE = {policy.phase: policy for policy in POLICIES}


def policy_for(phase: str) -> PhasePolicy:
    try:
        return _BY_PHASE[phase]
    except KeyError:
        raise ValueError(f"unknown phase {phase!r}; expected one of {', '.join(PHASE_ORDER)}") from None


def is_promotion(from_phase: str, to_phase: str) -> bool:
    return PHASE_ORDER.index(to_phase) > PHASE_ORDER.index(from_phase)


def is_gated(from_phase: str, to_phase: str) -> bool:
    """Entering a phase that requires SLOs from a lower one must pass the gate; demotions never do."""
    return is_promotion(from_phase, to_phase) and policy_for(to_phase).slos_required


@dataclass(frozen=True, slots=True)
class GateSlo:
    """One active SLO of the target phase, as the gate sees it."""

    name: str
    family: SliFamily
    owner_side: str
    kind: SliKind | None = None


@dataclass(frozen=True, slots=True)
class GateOwner:
    name: str | None
    slack_channel: str | None


@dataclass(frozen=True, slots=True)
class GateFacts:
    """Everything the gate looks at, read from the system, its SLOs of the target phase and the settings."""

    system: str
    slos: Sequence[GateSlo]
    service_owner: GateOwner
    model_owner: GateOwner
    slack_webhook_configured: bool
    # The target phase's file may require a minimum ML Test Score of its SLOs.
    ml_test_score_minimum: float | None = None


def unmet_requirements(target: str, facts: GateFacts) -> list[str]:
    """Every reason the system may not enter `target`, in a fixed order; empty when it may.

    All checks run, so one refusal tells the team everything to fix."""
    policy = policy_for(target)
    if not policy.slos_required:
        return []
    reasons: list[str] = []
    if not facts.slos:
        reasons.append(f"no {target} SLOs applied: apply slo_definitions/{facts.system}/{target}.yaml first")
    owners = {"service": facts.service_owner, "model": facts.model_owner}
    for side in OWNER_SIDES:
        if not _present(owners[side].name):
            reasons.append(f"no {side} owner: set {side}_owner (a name and a Slack channel) on the system")
    if not facts.slack_webhook_configured:
        reasons.append("no alert route: no Slack webhook is configured (set MLSLO_SLACK_WEBHOOK_URL)")
    for side in OWNER_SIDES:
        routed = sorted({slo.name for slo in facts.slos if slo.owner_side == side})
        if routed and not _present(owners[side].slack_channel):
            reasons.append(
                f"no alert route to the {side} owner: {target} SLOs route to it ({', '.join(routed)}) "
                f"but {side}_owner has no slack_channel"
            )
    if facts.slos and policy.requires_conventional_and_ml:
        families = {slo.family for slo in facts.slos}
        for family in (SliFamily.CONVENTIONAL, SliFamily.ML):
            if family not in families:
                reasons.append(
                    f"no {family_label(family)} SLI among the {target} SLOs: add one of {kinds_of(family)}"
                )
    if facts.ml_test_score_minimum is not None:
        readiness = ml_test_score([(slo.name, slo.kind) for slo in facts.slos if slo.kind is not None])
        if readiness.score < facts.ml_test_score_minimum:
            missing = "; ".join(
                f"test {test.number} ({test.name}): {test.missing}"
                for test in readiness.tests
                if test.missing
            )
            reasons.append(
                f"ML Test Score {readiness.score:g} of {readiness.max_score:g} is below the "
                f"{facts.ml_test_score_minimum:g} the {target} file requires; missing: {missing}"
            )
    return reasons


def family_label(family: SliFamily) -> str:
    return "ML" if family is SliFamily.ML else "conventional"


def kinds_of(family: SliFamily) -> str:
    return ", ".join(kind.value for kind, info in CATALOG.items() if info.family is family)


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""
