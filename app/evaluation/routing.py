"""Where an SLO's alert goes, and why: the phase decides whether it may page, ticket or stay silent;
the SLO's side (service or model) picks the owner; the severity picks the owner's channel; the
configured targets and any matching silence do the rest. The same decision routes notifications
and answers "why did this go to #ml-recs?" over the API."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.phase_policy import policy_for
from app.core.sli_catalog import SliFamily, SliKind, kind_info
from app.notifications.messages import NotificationEvent
from app.notifications.service import Targets, targets_for_event
from app.slos.models import Slo
from app.systems.models import System


@dataclass(frozen=True)
class RoutingDecision:
    severity: str
    phase: str
    allowed: bool
    owner_side: str
    owner: str | None
    channel: str | None
    targets: list[str]
    silenced_by: int | None
    reasons: list[str] = field(default_factory=list)


def dedup_key(system: System, slo: Slo, severity: str) -> str:
    """Stable per SLO and severity, whatever the window that fired: the same alert everywhere."""
    return f"mlslo:{system.name}:{slo.phase}:{slo.name}:{severity}"


def owner_and_channel(slo: Slo, system: System, severity: str) -> tuple[str | None, str | None, bool]:
    """The owner on the SLO's side, the channel for this severity, and whether it is a page channel."""
    if slo.owner_side == "model":
        owner, channel, pages = (
            system.model_owner,
            system.model_owner_slack_channel,
            system.model_owner_page_channel,
        )
    else:
        owner, channel, pages = (
            system.service_owner,
            system.service_owner_slack_channel,
            system.service_owner_page_channel,
        )
    if severity == "page" and pages:
        return owner, pages, True
    return owner, channel, False


def decide(
    slo: Slo, system: System, severity: str, *, targets: Targets, silence_id: int | None = None
) -> RoutingDecision:
    policy = policy_for(system.phase)
    family = kind_info(SliKind(slo.sli_kind)).family
    allowed = policy.notifies and (
        (severity == "page" and policy.allows_page and slo.page_enabled)
        or (severity == "ticket" and policy.allows_ticket and slo.ticket_enabled)
    )
    owner, channel, page_channel = owner_and_channel(slo, system, severity)
    reasons = []
    if not policy.notifies:
        reasons.append(f"{system.name} is in {system.phase}: SLIs are stored, nobody is notified")
    elif severity == "page" and not policy.allows_page:
        reasons.append(f"{system.name} is in {system.phase}, which allows tickets only: no page is sent")
    elif severity == "page" and not slo.page_enabled:
        reasons.append(f"{slo.name} turns pages off (alerting.page: false)")
    elif severity == "ticket" and not (policy.allows_ticket and slo.ticket_enabled):
        reasons.append(f"{slo.name} sends no tickets")
    else:
        reasons.append(f"{system.name} is in {system.phase}, which allows {severity}s")
    declared = (slo.definition or {}).get("owner")
    why_side = (
        f"the SLO file sets owner: {slo.owner_side}"
        if declared
        else f"{slo.sli_kind} is {'an ML' if family is SliFamily.ML else 'a conventional'} SLI"
    )
    reasons.append(f"{why_side}, so it routes to the {slo.owner_side} owner ({owner or 'not set'})")
    if channel is None:
        reasons.append(f"the {slo.owner_side} owner has no Slack channel")
    elif page_channel:
        reasons.append(f"a page goes to {channel}, the {slo.owner_side} owner's page channel")
    else:
        reasons.append(f"a {severity} goes to {channel}, the {slo.owner_side} owner's channel")
    chosen = (
        targets_for_event(
            targets,
            event=NotificationEvent.FIRED,
            severity=severity,
            sli_family=family.value,
            data_missing=False,
        )
        if allowed
        else []
    )
    if allowed:
        reasons.append(f"targets: {', '.join(chosen) if chosen else 'none configured'}")
    if silence_id is not None and allowed:
        reasons.append(f"silence #{silence_id} matches: notifications are recorded as silenced, not sent")
    return RoutingDecision(
        severity=severity,
        phase=system.phase,
        allowed=allowed,
        owner_side=slo.owner_side,
        owner=owner,
        channel=channel,
        targets=chosen,
        silenced_by=silence_id,
        reasons=reasons,
    )
