"""Evaluating every SLO in force: status, burn-rate decision, breach changes and the
notifications they cause, all in one transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.core.breach_state import BreachTransition, breach_transition
from app.core.budget import budget_consumed_share
from app.core.burn_rate_policy import RuleOutcome, Severity
from app.core.evaluation import SloEvaluation, evaluate_slo, windows_needed
from app.core.windows import window_label
from app.evaluation import repository
from app.evaluation.models import Breach
from app.measurements import repository as measurements_repository
from app.notifications import service as notifications_service
from app.notifications.messages import BreachAlert, NotificationEvent
from app.slos import repository as slos_repository
from app.slos.models import Slo
from app.systems.models import System


@dataclass
class EvaluationReport:
    evaluated_at: datetime
    slos_evaluated: int = 0
    breaches_opened: list[int] = field(default_factory=list)
    breaches_escalated: list[int] = field(default_factory=list)
    breaches_resolved: list[int] = field(default_factory=list)
    notifications_queued: int = 0


@dataclass(frozen=True, slots=True)
class BreachBudgetImpact:
    window_start: datetime
    window_end: datetime
    bad_events: int
    total_events: int
    period_total_events: int
    budget_consumed_share: float


def evaluate_all(*, db_session: Session, clock: Clock, settings: Settings) -> EvaluationReport:
    now = clock.now()
    report = EvaluationReport(evaluated_at=now)
    in_force = slos_repository.list_in_force(db_session=db_session)
    slo_ids = [slo.id for slo, _ in in_force]

    by_period: dict[timedelta, list[int]] = defaultdict(list)
    for slo, _ in in_force:
        by_period[slo.period].append(slo.id)
    counts = {}
    for period, ids in by_period.items():
        counts.update(
            measurements_repository.counts_for_windows(
                db_session=db_session, slo_ids=ids, windows=windows_needed(period), now=now
            )
        )

    open_breaches = repository.open_breaches_by_slo(db_session=db_session, slo_ids=slo_ids)
    for slo, system in in_force:
        evaluation = evaluate_slo(
            counts_by_window=counts[slo.id],
            objective=slo.objective,
            period=slo.period,
            now=now,
            min_events=slo.min_events or settings.min_events_per_window,
        )
        _store_status(db_session, slo, evaluation)
        _apply_decision(
            db_session, clock, settings, report, slo, system, evaluation, open_breaches.get(slo.id)
        )
        report.slos_evaluated += 1

    for breach in repository.open_breaches_outside(db_session=db_session, slo_ids=slo_ids):
        # The SLO was archived or its system left the phase: the alert cannot clear by itself.
        found = repository.get_breach(db_session=db_session, breach_id=breach.id)
        if found is not None:
            _, slo, system = found
            _resolve(db_session, clock, settings, report, slo, system, breach, evaluation=None)
    return report


def breach_budget_impact(
    *, db_session: Session, breach: Breach, slo: Slo, now: datetime
) -> BreachBudgetImpact:
    """Bad events inside the breach window as a share of the error budget of the SLO period
    that ends with the breach."""
    window_end = breach.resolved_at or now
    in_breach = measurements_repository.window_counts(
        db_session=db_session, slo_id=slo.id, start=breach.window_start, end=window_end
    )
    period_counts = measurements_repository.window_counts(
        db_session=db_session, slo_id=slo.id, start=window_end - slo.period, end=window_end
    )
    return BreachBudgetImpact(
        window_start=breach.window_start,
        window_end=window_end,
        bad_events=in_breach.bad,
        total_events=in_breach.total,
        period_total_events=period_counts.total,
        budget_consumed_share=budget_consumed_share(in_breach.bad, period_counts, slo.objective),
    )


def _store_status(db_session: Session, slo: Slo, evaluation: SloEvaluation) -> None:
    repository.upsert_status(
        db_session=db_session,
        values={
            "slo_id": slo.id,
            "evaluated_at": evaluation.evaluated_at,
            "sli": evaluation.sli,
            "good_events": evaluation.period_counts.good,
            "total_events": evaluation.period_counts.total,
            "error_budget_remaining": evaluation.error_budget_remaining,
            "burn_rates": {window_label(w): r for w, r in evaluation.burn_rates.items()},
            "time_to_exhaustion_seconds": (
                None
                if evaluation.time_to_exhaustion is None
                else evaluation.time_to_exhaustion.total_seconds()
            ),
            "alert_severity": None if evaluation.alert.severity is None else evaluation.alert.severity.value,
        },
    )


def _apply_decision(
    db_session: Session,
    clock: Clock,
    settings: Settings,
    report: EvaluationReport,
    slo: Slo,
    system: System,
    evaluation: SloEvaluation,
    breach: Breach | None,
) -> None:
    open_severity = None if breach is None else Severity(breach.severity)
    transition = breach_transition(open_severity, evaluation.alert.severity)
    outcome = evaluation.alert.firing_outcome
    if breach is not None and outcome is not None and outcome.long_burn_rate is not None:
        breach.peak_burn_rate = max(breach.peak_burn_rate, outcome.long_burn_rate)

    if transition is BreachTransition.OPEN:
        assert outcome is not None
        assert evaluation.alert.severity is not None
        breach = repository.add_breach(
            db_session=db_session,
            breach=Breach(
                slo_id=slo.id,
                severity=evaluation.alert.severity.value,
                opened_at=evaluation.evaluated_at,
                # The short window is the span over which the burn is known to be ongoing.
                window_start=evaluation.evaluated_at - outcome.rule.short_window,
                peak_burn_rate=outcome.long_burn_rate or 0.0,
                error_budget_remaining_at_open=evaluation.error_budget_remaining,
                opening_details=_opening_details(evaluation, outcome),
            ),
        )
        report.breaches_opened.append(breach.id)
        _notify(db_session, clock, settings, report, NotificationEvent.FIRED, slo, system, breach, evaluation)
    elif transition is BreachTransition.ESCALATE:
        assert breach is not None
        assert evaluation.alert.severity is not None
        breach.severity = evaluation.alert.severity.value
        report.breaches_escalated.append(breach.id)
        _notify(
            db_session, clock, settings, report, NotificationEvent.ESCALATED, slo, system, breach, evaluation
        )
    elif transition is BreachTransition.RESOLVE:
        assert breach is not None
        _resolve(db_session, clock, settings, report, slo, system, breach, evaluation)


def _resolve(
    db_session: Session,
    clock: Clock,
    settings: Settings,
    report: EvaluationReport,
    slo: Slo,
    system: System,
    breach: Breach,
    evaluation: SloEvaluation | None,
) -> None:
    breach.resolved_at = clock.now() if evaluation is None else evaluation.evaluated_at
    db_session.flush()
    report.breaches_resolved.append(breach.id)
    _notify(db_session, clock, settings, report, NotificationEvent.RESOLVED, slo, system, breach, evaluation)


def _opening_details(evaluation: SloEvaluation, outcome: RuleOutcome) -> dict[str, object]:
    return {
        "long_window": window_label(outcome.rule.long_window),
        "short_window": window_label(outcome.rule.short_window),
        "long_burn_rate": outcome.long_burn_rate,
        "short_burn_rate": outcome.short_burn_rate,
        "burn_rate_threshold": outcome.rule.factor,
        "sli": evaluation.sli,
        "long_window_events": outcome.long_window_events,
    }


def _notify(
    db_session: Session,
    clock: Clock,
    settings: Settings,
    report: EvaluationReport,
    event: NotificationEvent,
    slo: Slo,
    system: System,
    breach: Breach,
    evaluation: SloEvaluation | None,
) -> None:
    if settings.slack_webhook_url is None:
        return
    outcome = None if evaluation is None else evaluation.alert.firing_outcome
    impact = None
    if event is NotificationEvent.RESOLVED:
        impact = breach_budget_impact(db_session=db_session, breach=breach, slo=slo, now=clock.now())
    status = repository.get_status(db_session=db_session, slo_id=slo.id)
    alert = BreachAlert(
        event=event,
        breach_id=breach.id,
        severity=breach.severity,
        system=system.name,
        phase=system.phase,
        slo=slo.name,
        objective=slo.objective,
        period=slo.period,
        sli=None if evaluation is None else evaluation.sli,
        long_window=None if outcome is None else outcome.rule.long_window,
        short_window=None if outcome is None else outcome.rule.short_window,
        long_burn_rate=None if outcome is None else outcome.long_burn_rate,
        short_burn_rate=None if outcome is None else outcome.short_burn_rate,
        burn_rate_threshold=None if outcome is None else outcome.rule.factor,
        error_budget_remaining=(
            evaluation.error_budget_remaining
            if evaluation is not None
            else (status.error_budget_remaining if status is not None else 1.0)
        ),
        time_to_exhaustion=None if evaluation is None else evaluation.time_to_exhaustion,
        owner=system.service_owner,
        owner_channel=system.service_owner_slack_channel,
        opened_at=breach.opened_at,
        resolved_at=breach.resolved_at,
        peak_burn_rate=breach.peak_burn_rate,
        budget_consumed_share=None if impact is None else impact.budget_consumed_share,
        dashboard_url=_dashboard_url(settings, system, breach, clock.now()),
        breach_url=f"{settings.public_url.rstrip('/')}/api/v1/breaches/{breach.id}",
        postmortem_url=f"{settings.public_url.rstrip('/')}/api/v1/breaches/{breach.id}/postmortem-draft",
    )
    notifications_service.enqueue_breach_alert(db_session=db_session, clock=clock, alert=alert)
    report.notifications_queued += 1


def _dashboard_url(settings: Settings, system: System, breach: Breach, now: datetime) -> str:
    start = breach.window_start - timedelta(hours=6)
    end = breach.resolved_at or now
    query = urlencode(
        {
            "var-system": system.name,
            "from": int(start.timestamp() * 1000),
            "to": int((end + timedelta(hours=1)).timestamp() * 1000),
        }
    )
    return f"{settings.grafana_url.rstrip('/')}/d/mlslo-overview?{query}"
