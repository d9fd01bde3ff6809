"""Evaluating every SLO in force: status, burn-rate decision, breach changes and the
notifications they cause, all in one transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.alerting_policy.service import matching_silence
from app.clock import Clock
from app.collectors import repository as collectors_repository
from app.collectors.service import Reads, allowed_gap, collection_interval, is_collected, reads_of
from app.config import Settings
from app.core.breach_state import BreachTransition, breach_transition
from app.core.budget import budget_consumed_share
from app.core.budgeting import BudgetResult, budget_for_method, value_timeslices_budget
from app.core.burn_rate_policy import RuleOutcome, Severity
from app.core.calendar import CalendarUnit, calendar_window, rolling_window
from app.core.evaluation import SloEvaluation, data_missing, evaluate_slo, final_severity, windows_needed
from app.core.exclusions import EPOCH, ExclusionRule, exclusion_intervals
from app.core.freshness import ages_at, slice_ends
from app.core.phase_policy import policy_for
from app.core.sample_budgeting import ratio_samples_budget, value_samples_budget
from app.core.sli_catalog import BudgetingMethod, Comparison, SliFamily, SliKind, kind_info
from app.core.windows import ALERT_WINDOWS, WindowCounts, parse_window, window_label
from app.errors import ConflictError
from app.evaluation import repository
from app.evaluation.models import Breach
from app.evaluation.routing import dedup_key, owner_and_channel
from app.measurements import repository as measurements_repository
from app.ml import repository as ml_repository
from app.ml.service import LABEL_EVENT_METRICS, is_label_judged
from app.notifications import service as notifications_service
from app.notifications.messages import BreachAlert, NotificationEvent
from app.notifications.service import Targets
from app.slos import repository as slos_repository
from app.slos.models import Slo, SloVersion
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
    longest_period = max(by_period, default=timedelta(0))
    last_collected = collectors_repository.last_success_by_slo(db_session=db_session)
    changed_versions = slos_repository.versions_changed_since(
        db_session=db_session, slo_ids=slo_ids, since=now - longest_period
    )
    for slo, system in in_force:
        policy = policy_for(system.phase)
        at = _labelled_until(db_session, slo, now) or now
        budgeted = _budget_windows(db_session, slo, at)
        if at != now and budgeted is None:
            counts[slo.id] = measurements_repository.counts_for_windows(
                db_session=db_session, slo_ids=[slo.id], windows=windows_needed(slo.period), now=at
            )[slo.id]
        evaluation = evaluate_slo(
            counts_by_window=counts[slo.id] if budgeted is None else budgeted.by_window,
            objective=slo.objective,
            period=slo.period if budgeted is None else budgeted.period_length,
            now=now,
            min_events=slo.min_events or settings.min_events_per_window,
            objective_segments=(
                _objective_segments(db_session, slo, changed_versions.get(slo.id, []), now)
                if budgeted is None
                else None
            ),
            period_result=None if budgeted is None else budgeted.period,
            holding=_open_severity(open_breaches.get(slo.id)),
        )
        missing_since = _data_missing_since(slo, last_collected, now)
        severity = (
            final_severity(
                evaluation,
                max_bad_events=slo.max_bad_events,
                allow_page=policy.allows_page and slo.page_enabled,
                allow_ticket=policy.allows_ticket and slo.ticket_enabled,
            )
            if policy.evaluates_budgets
            else None
        )
        if missing_since is not None and policy.evaluates_budgets and severity is None:
            # No data: nothing can burn or recover; say so instead of staying silent.
            severity = Severity.TICKET if policy.allows_ticket and slo.ticket_enabled else None
        _store_status(db_session, slo, evaluation, severity, budgets_evaluated=policy.evaluates_budgets)
        context = _Context(
            db_session,
            clock,
            settings,
            report,
            slo,
            system,
            notify=policy.notifies,
            missing_since=missing_since,
            labelled_until=None if at == now else at,
        )
        _apply_decision(context, evaluation, severity, open_breaches.get(slo.id))
        report.slos_evaluated += 1

    for breach in repository.open_breaches_outside(db_session=db_session, slo_ids=slo_ids):
        # The SLO was archived or its system left the phase: the alert cannot clear by itself.
        found = repository.get_breach(db_session=db_session, breach_id=breach.id)
        if found is not None:
            _, slo, system = found
            notify = policy_for(system.phase).notifies
            _resolve(_Context(db_session, clock, settings, report, slo, system, notify=notify), breach, None)
    return report


@dataclass(frozen=True)
class _Budgeted:
    """An SLO budgeted from its minute rows rather than from window sums."""

    by_window: dict[timedelta, BudgetResult]
    period: BudgetResult
    period_length: timedelta


def _budget_windows(db_session: Session, slo: Slo, now: datetime) -> _Budgeted | None:
    """Time slices, calendar windows and exclusions need the minutes themselves; plain occurrences
    over a rolling window (most SLOs) are budgeted from window sums instead, and return None."""
    exclusions = _exclusion_rules(slo)
    method = BudgetingMethod(slo.budgeting_method)
    if slo.sli_kind == SliKind.FRESHNESS and slo.source == "push" and slo.objective_value is not None:
        return _freshness_windows(db_session, slo, now)
    reads = reads_of(slo)
    if reads is not Reads.COUNTS:
        return _sample_windows(db_session, slo, now, reads, exclusions)
    if method is BudgetingMethod.OCCURRENCES and slo.calendar_unit is None and not exclusions:
        return None
    period_start, period_end, slice_origin = _period_bounds(slo, now)
    earliest = min(period_start, now - max(ALERT_WINDOWS))
    minutes = measurements_repository.minute_counts(
        db_session=db_session, slo_id=slo.id, start=earliest, end=now
    )
    excluded = exclusion_intervals(exclusions, earliest, now)

    def budget(start: datetime, origin: datetime) -> BudgetResult:
        return budget_for_method(
            method,
            minutes,
            start=start,
            end=now,
            excluded=excluded,
            objective=slo.objective,
            slice_length=slo.time_slice_window,
            slice_target=slo.time_slice_target,
            slice_origin=origin,
        )

    return _Budgeted(
        by_window={window: budget(now - window, EPOCH) for window in ALERT_WINDOWS},
        period=budget(period_start, slice_origin),
        period_length=period_end - period_start,
    )


def _labelled_until(db_session: Session, slo: Slo, now: datetime) -> datetime | None:
    """For SLIs judged by late labels: the end of the labelled data, where their windows end.

    Labels arrive hours or days after the predictions and count at the prediction's time, so windows
    ending now would hold no labelled events, and a multiwindow burn-rate alert could never fire on
    them. Their windows end where the labelled data ends (never after now); None for other SLOs."""
    if not is_label_judged(slo):
        return None
    if slo.metric in LABEL_EVENT_METRICS:
        last = measurements_repository.last_counted_minute(db_session=db_session, slo_id=slo.id, before=now)
        end = None if last is None else last + timedelta(minutes=1)
    else:
        last = measurements_repository.last_sample_time(db_session=db_session, slo_id=slo.id, before=now)
        end = None if last is None else last + (slo.time_slice_window or timedelta(hours=1))
    # Labels that stopped coming a whole period ago say nothing about now.
    if end is None or now - end > slo.period:
        return None
    return min(now, end)


def _period_bounds(slo: Slo, now: datetime) -> tuple[datetime, datetime, datetime]:
    """The SLO window's start and end at `now`, and the origin its slices align on (local period
    start for calendar windows, the epoch for rolling windows so that finished slices keep their
    verdict as the window slides)."""
    if slo.calendar_unit is not None:
        start, end = calendar_window(cast(CalendarUnit, slo.calendar_unit), slo.time_zone or "UTC", now)
        return start, end, start
    start, end = rolling_window(slo.period, now)
    return start, end, EPOCH


def _sample_windows(
    db_session: Session, slo: Slo, now: datetime, reads: Reads, exclusions: list[ExclusionRule]
) -> _Budgeted:
    """Value and ratio SLIs, budgeted from their collected readings (`app.core.sample_budgeting`)."""
    period_start, period_end, slice_origin = _period_bounds(slo, now)
    earliest = min(period_start, now - max(ALERT_WINDOWS))
    samples = measurements_repository.samples_between(
        db_session=db_session, slo_id=slo.id, start=earliest, end=now
    )
    excluded = exclusion_intervals(exclusions, earliest, now)

    def budget(start: datetime, origin: datetime) -> BudgetResult:
        if reads is Reads.RATIO:
            return ratio_samples_budget(
                samples,
                method=BudgetingMethod(slo.budgeting_method),
                start=start,
                end=now,
                excluded=excluded,
                objective=slo.objective,
                slice_length=slo.time_slice_window,
                slice_target=slo.time_slice_target,
                slice_origin=origin,
            )
        return value_samples_budget(
            samples,
            start=start,
            end=now,
            excluded=excluded,
            op=Comparison(slo.objective_op or "lte"),
            threshold=slo.objective_value or 0.0,
            objective=slo.objective,
            slice_length=slo.time_slice_window or collection_interval(slo),
            slice_origin=origin,
        )

    return _Budgeted(
        by_window={window: budget(now - window, EPOCH) for window in ALERT_WINDOWS},
        period=budget(period_start, slice_origin),
        period_length=period_end - period_start,
    )


def _freshness_windows(db_session: Session, slo: Slo, now: datetime) -> _Budgeted:
    """Each slice is good when, at its end, the latest successful run is no older than the
    objective's value (seconds); successful runs are pushed as minute markers."""
    max_age = timedelta(seconds=slo.objective_value or 0)
    slice_length = slo.time_slice_window or timedelta(hours=1)
    period_start = now - slo.period
    earliest = min(period_start, now - max(ALERT_WINDOWS))
    # A success older than the longest allowed age before the first slice would make it stale anyway.
    markers = measurements_repository.minute_counts(
        db_session=db_session, slo_id=slo.id, start=earliest - max_age - slice_length, end=now
    )
    successes = [marker.minute for marker in markers if marker.good > 0]
    op = Comparison(slo.objective_op or "lte")

    def budget(start: datetime) -> BudgetResult:
        ends = slice_ends(start, now, slice_length)
        ages = ages_at(successes, ends)
        return value_timeslices_budget(
            {end - slice_length: age for end, age in ages.items()},
            op=op,
            threshold=max_age.total_seconds(),
            objective=slo.objective,
        )

    return _Budgeted(
        by_window={window: budget(now - window) for window in ALERT_WINDOWS},
        period=budget(period_start),
        period_length=slo.period,
    )


def _exclusion_rules(slo: Slo) -> list[ExclusionRule]:
    declared = slo.definition.get("exclusions") or []
    default_zone = slo.time_zone or "UTC"
    return [
        ExclusionRule(
            reason=entry["reason"],
            first_start=datetime.fromisoformat(entry["start"]),
            duration=parse_window(entry["duration"]),
            rrule=entry.get("rrule"),
            time_zone=entry.get("time_zone") or default_zone,
        )
        for entry in declared
    ]


def _data_missing_since(slo: Slo, last_collected: dict[int, datetime], now: datetime) -> datetime | None:
    """For SLOs that mlslo collects: since when data is missing, if for longer than the SLO allows
    (`missing_data.alert_after`, default three collection intervals)."""
    if not is_collected(slo):
        return None
    last = last_collected.get(slo.id)
    if data_missing(
        last_collected=last, expected_since=slo.created_at, now=now, allowed_gap=allowed_gap(slo)
    ):
        return last or slo.created_at
    return None


def _open_severity(breach: Breach | None) -> Severity | None:
    return None if breach is None else Severity(breach.severity)


def _objective_segments(
    db_session: Session, slo: Slo, versions: list[SloVersion], now: datetime
) -> list[tuple[WindowCounts, float]] | None:
    """The SLO period cut where the objective changed, each stretch with the objective then in force;
    None when one objective covers the whole period (the common case, with no extra query)."""
    start = now - slo.period
    in_window = [v for v in versions if v.effective_from > start]
    before = [v for v in versions if v.effective_from <= start]
    relevant = before[-1:] + in_window
    if len({v.objective for v in relevant}) < 2:
        return None
    segments = []
    for index, version in enumerate(relevant):
        # The first stretch starts with the window, even for events older than the SLO (backfills).
        segment_start = start if index == 0 else version.effective_from
        segment_end = relevant[index + 1].effective_from if index + 1 < len(relevant) else now
        counts = measurements_repository.window_counts(
            db_session=db_session, slo_id=slo.id, start=segment_start, end=segment_end
        )
        segments.append((counts, version.objective))
    return segments


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


def _store_status(
    db_session: Session,
    slo: Slo,
    evaluation: SloEvaluation,
    severity: Severity | None,
    *,
    budgets_evaluated: bool,
) -> None:
    repository.upsert_status(
        db_session=db_session,
        values={
            "slo_id": slo.id,
            "evaluated_at": evaluation.evaluated_at,
            "sli": evaluation.sli,
            "good_events": evaluation.good,
            "total_events": evaluation.total,
            "error_budget_remaining": evaluation.error_budget_remaining if budgets_evaluated else None,
            "burn_rates": {window_label(w): r for w, r in evaluation.burn_rates.items()},
            "time_to_exhaustion_seconds": (
                None
                if evaluation.time_to_exhaustion is None
                else evaluation.time_to_exhaustion.total_seconds()
            ),
            "alert_severity": None if severity is None else severity.value,
        },
    )


@dataclass(frozen=True)
class _Context:
    """What acting on one SLO's decision needs."""

    db_session: Session
    clock: Clock
    settings: Settings
    report: EvaluationReport
    slo: Slo
    system: System
    notify: bool
    # Set when a collected SLI has had no successful collection for too long.
    missing_since: datetime | None = None
    # Set for late-labelled SLIs: where their labelled data, and so their windows, end.
    labelled_until: datetime | None = None


def _apply_decision(
    context: _Context, evaluation: SloEvaluation, severity: Severity | None, breach: Breach | None
) -> None:
    transition = breach_transition(_open_severity(breach), severity)
    outcome = _strongest_firing_outcome(context.slo, evaluation)
    if (
        breach is not None
        and outcome is not None
        and outcome.long_burn_rate is not None
        and outcome.long_burn_rate > breach.peak_burn_rate
    ):
        breach.peak_burn_rate = outcome.long_burn_rate
        breach.peak_details = _snapshot(context, evaluation, outcome)

    if transition is BreachTransition.OPEN:
        assert severity is not None
        now = evaluation.evaluated_at
        window_end = context.labelled_until or now
        details = _opening_details(context.slo, evaluation, outcome, context.missing_since)
        start = _snapshot(context, evaluation, outcome)
        if context.labelled_until is not None:
            details["labelled_until"] = context.labelled_until.isoformat()
        breach = repository.add_breach(
            db_session=context.db_session,
            breach=Breach(
                slo_id=context.slo.id,
                severity=severity.value,
                opened_at=now,
                # The short window is the span over which the burn is known to be ongoing; a
                # count-based breach covers the SLO window whose failures it counted.
                window_start=window_end
                - (context.slo.period if outcome is None else outcome.rule.short_window),
                peak_burn_rate=0.0 if outcome is None else outcome.long_burn_rate or 0.0,
                error_budget_remaining_at_open=evaluation.error_budget_remaining,
                opening_details=details,
                dedup_key=dedup_key(context.system, context.slo, severity.value),
                start_details=start,
                peak_details=start,
            ),
        )
        context.report.breaches_opened.append(breach.id)
        _notify(context, NotificationEvent.FIRED, breach, evaluation)
    elif transition is BreachTransition.ESCALATE:
        assert breach is not None
        assert severity is not None
        breach.severity = severity.value
        # A page supersedes the ticket of the same episode (the ticket is inhibited while it fires).
        breach.dedup_key = dedup_key(context.system, context.slo, severity.value)
        context.report.breaches_escalated.append(breach.id)
        _notify(context, NotificationEvent.ESCALATED, breach, evaluation)
    elif transition is BreachTransition.RESOLVE:
        assert breach is not None
        _resolve(context, breach, evaluation)
    elif breach is not None and _repeat_due(context, breach):
        _notify(context, NotificationEvent.REPEATED, breach, evaluation)


def _strongest_firing_outcome(slo: Slo, evaluation: SloEvaluation) -> RuleOutcome | None:
    """The firing burn-rate rule with the highest long-window burn, whatever its severity (a page
    rule may act as a ticket where paging is off); none for SLOs judged by a count."""
    if slo.max_bad_events is not None:
        return None
    firing = [outcome for outcome in evaluation.alert.outcomes if outcome.firing]
    return max(firing, key=lambda outcome: outcome.long_burn_rate or 0.0, default=None)


def acknowledge(
    *,
    db_session: Session,
    clock: Clock,
    settings: Settings,
    breach: Breach,
    slo: Slo,
    system: System,
    by: str,
    comment: str | None,
) -> None:
    """Someone is on it: the episode's repeats stop (its resolved notice still goes), and the
    targets hear who took it (PagerDuty acknowledges the incident)."""
    if breach.resolved_at is not None:
        raise ConflictError(f"breach {breach.id} is already resolved", field="breach_id")
    if breach.acknowledged_at is not None:
        raise ConflictError(
            f"breach {breach.id} was already acknowledged by {breach.acknowledged_by}", field="breach_id"
        )
    breach.acknowledged_at = clock.now()
    breach.acknowledged_by = by
    breach.acknowledgement_comment = comment
    context = _Context(
        db_session,
        clock,
        settings,
        EvaluationReport(evaluated_at=clock.now()),
        slo,
        system,
        notify=policy_for(system.phase).notifies,
    )
    _notify(context, NotificationEvent.ACKNOWLEDGED, breach, None)


def _repeat_due(context: _Context, breach: Breach) -> bool:
    """An open episode is sent again every repeat interval until someone acknowledges it."""
    if breach.acknowledged_at is not None or breach.resolved_at is not None:
        return False
    last = breach.last_notified_at or breach.opened_at
    interval = timedelta(minutes=context.settings.alert_repeat_interval_minutes)
    return context.clock.now() - last >= interval


def _snapshot(context: _Context, evaluation: SloEvaluation, outcome: RuleOutcome | None) -> dict[str, object]:
    """The episode's state at one moment: SLI, burn rates, budget and the model version."""
    return {
        "at": evaluation.evaluated_at.isoformat(),
        "sli": evaluation.sli,
        "error_budget_remaining": evaluation.error_budget_remaining,
        "burn_rates": {window_label(window): rate for window, rate in evaluation.burn_rates.items()},
        "long_burn_rate": None if outcome is None else outcome.long_burn_rate,
        "short_burn_rate": None if outcome is None else outcome.short_burn_rate,
        "model_version": _model_version(context),
    }


def _model_version(context: _Context) -> str | None:
    """For ML SLIs, the model version serving now (or the latest that served predictions)."""
    if kind_info(SliKind(context.slo.sli_kind)).family is not SliFamily.ML:
        return None
    return ml_repository.current_model_version(
        db_session=context.db_session, system_id=context.system.id, at=context.clock.now()
    )


def _resolve(context: _Context, breach: Breach, evaluation: SloEvaluation | None) -> None:
    breach.resolved_at = context.clock.now() if evaluation is None else evaluation.evaluated_at
    if evaluation is not None:
        breach.closing_details = _snapshot(context, evaluation, None)
    context.db_session.flush()
    context.report.breaches_resolved.append(breach.id)
    _notify(context, NotificationEvent.RESOLVED, breach, evaluation)


def _opening_details(
    slo: Slo, evaluation: SloEvaluation, outcome: RuleOutcome | None, missing_since: datetime | None = None
) -> dict[str, object]:
    if missing_since is not None and outcome is None and slo.max_bad_events is None:
        return {"rule": "data_missing", "last_data_at": missing_since.isoformat()}
    if outcome is None:
        return {
            "rule": "count",
            "bad_events": evaluation.bad,
            "max_bad_events": slo.max_bad_events,
            "sli": evaluation.sli,
        }
    return {
        "rule": "burn_rate",
        "long_window": window_label(outcome.rule.long_window),
        "short_window": window_label(outcome.rule.short_window),
        "long_burn_rate": outcome.long_burn_rate,
        "short_burn_rate": outcome.short_burn_rate,
        "burn_rate_threshold": outcome.rule.factor,
        "sli": evaluation.sli,
        "long_window_events": outcome.long_window_events,
    }


def _notify(
    context: _Context, event: NotificationEvent, breach: Breach, evaluation: SloEvaluation | None
) -> None:
    settings, slo, system = context.settings, context.slo, context.system
    targets = Targets.from_settings(settings)
    if not context.notify or not targets.any:
        return
    now = context.clock.now()
    outcome = None if evaluation is None else _strongest_firing_outcome(slo, evaluation)
    impact = None
    if event is NotificationEvent.RESOLVED:
        impact = breach_budget_impact(db_session=context.db_session, breach=breach, slo=slo, now=now)
    status = repository.get_status(db_session=context.db_session, slo_id=slo.id)
    budget_remaining = evaluation.error_budget_remaining if evaluation is not None else None
    if budget_remaining is None and status is not None:
        budget_remaining = status.error_budget_remaining
    owner, channel, _ = owner_and_channel(slo, system, breach.severity)
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
        error_budget_remaining=1.0 if budget_remaining is None else budget_remaining,
        time_to_exhaustion=None if evaluation is None else evaluation.time_to_exhaustion,
        owner=owner,
        owner_channel=channel,
        opened_at=breach.opened_at,
        resolved_at=breach.resolved_at,
        peak_burn_rate=breach.peak_burn_rate,
        budget_consumed_share=None if impact is None else impact.budget_consumed_share,
        dashboard_url=_dashboard_url(settings, system, breach, now),
        breach_url=f"{settings.public_url.rstrip('/')}/api/v1/breaches/{breach.id}",
        postmortem_url=f"{settings.public_url.rstrip('/')}/api/v1/breaches/{breach.id}/postmortem-draft",
        data_missing_since=(
            context.missing_since
            if breach.opening_details.get("rule") == "data_missing"
            and event is not NotificationEvent.RESOLVED
            else None
        ),
        dedup_key=breach.dedup_key,
        model_version=_model_version(context),
        runbook_url=(slo.definition or {}).get("runbook_url"),
        sli_family=kind_info(SliKind(slo.sli_kind)).family.value,
        owner_side=slo.owner_side,
        acknowledged_by=breach.acknowledged_by,
    )
    silence = matching_silence(
        db_session=context.db_session, system=system.name, slo=slo.name, severity=breach.severity, at=now
    )
    queued = notifications_service.enqueue_breach_alert(
        db_session=context.db_session,
        clock=context.clock,
        alert=alert,
        targets=targets,
        silence_id=None if silence is None else silence.id,
    )
    breach.last_notified_at = now
    context.report.notifications_queued += len(queued)


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
