"""Ingestion into minute counts, evaluation, breaches and their outbox entries, on real Postgres."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import ManualClock
from app.config import Settings
from app.evaluation import service as evaluation_service
from app.evaluation.models import Breach, SloStatus
from app.measurements import repository as measurements_repository
from app.measurements import service as measurements_service
from app.measurements.models import SloMinuteCount
from app.measurements.schemas import RequestEvent, RequestEventBatch
from app.notifications.models import Notification
from app.systems.models import Phase
from tests.factories import create_slo, create_system


@pytest.fixture
def alerting_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"slack_webhook_url": SecretStr("http://127.0.0.1:9/hook")})


def _traffic(
    clock: ManualClock, minutes: int, per_minute: int, errors_per_minute: int, latency_ms: float = 100.0
) -> RequestEventBatch:
    """`minutes` minutes of traffic ending at the clock's current minute."""
    start = clock.now() - timedelta(minutes=minutes)
    events = []
    for minute in range(minutes):
        for i in range(per_minute):
            events.append(
                RequestEvent(
                    time=start + timedelta(minutes=minute, seconds=i % 60),
                    latency_ms=latency_ms + i,
                    outcome="error" if i < errors_per_minute else "success",
                )
            )
    return RequestEventBatch(events=events)


def _history(
    db_session: Session, clock: ManualClock, slo_id: int, minutes: int, per_minute: int, bad_per_minute: int
) -> None:
    """Minute counts for the `minutes` minutes before the clock, written directly (bulk history)."""
    start = clock.now() - timedelta(minutes=minutes)
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=(
            (slo_id, start + timedelta(minutes=m), per_minute - bad_per_minute, per_minute)
            for m in range(minutes)
        ),
    )


def test_events_are_stored_as_per_minute_counts_per_slo(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    availability = create_slo(db_session, clock, system, "availability")
    latency = create_slo(
        db_session, clock, system, "latency", sli_kind="latency", objective=0.99, threshold_ms=150
    )
    batch = _traffic(clock, minutes=3, per_minute=100, errors_per_minute=2)

    result = measurements_service.ingest_request_events(
        db_session=db_session, clock=clock, system=system, batch=batch
    )

    assert result.accepted_events == 300
    assert sorted(result.slos_updated) == ["availability", "latency"]
    rows = db_session.scalars(
        select(SloMinuteCount).order_by(SloMinuteCount.slo_id, SloMinuteCount.minute)
    ).all()
    assert [(r.slo_id, r.good, r.total) for r in rows] == [
        (availability.id, 98, 100),
        (availability.id, 98, 100),
        (availability.id, 98, 100),
        # latencies are 100..199 ms; <= 150 ms are good
        (latency.id, 51, 100),
        (latency.id, 51, 100),
        (latency.id, 51, 100),
    ]
    # A second batch for the same minutes adds to the counts instead of replacing them.
    measurements_service.ingest_request_events(db_session=db_session, clock=clock, system=system, batch=batch)
    counts = measurements_repository.window_counts(
        db_session=db_session, slo_id=availability.id, start=clock.now() - timedelta(hours=1), end=clock.now()
    )
    assert (counts.good, counts.total) == (588, 600)


def test_slos_of_other_phases_get_no_counts(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
    in_force = create_slo(db_session, clock, system, "current")
    system.phase = Phase.PRODUCTION.value
    db_session.flush()
    create_slo(db_session, clock, system, "production-only")
    system.phase = Phase.TECHNICAL_VALIDATION.value
    db_session.flush()
    result = measurements_service.ingest_request_events(
        db_session=db_session, clock=clock, system=system, batch=_traffic(clock, 1, 10, 0)
    )
    assert result.slos_updated == ["current"]
    assert {r.slo_id for r in db_session.scalars(select(SloMinuteCount))} == {in_force.id}


def test_events_far_in_the_future_are_refused_with_the_field(db_session: Session, clock: ManualClock) -> None:
    system = create_system(db_session, clock)
    create_slo(db_session, clock, system)
    batch = RequestEventBatch(
        events=[
            RequestEvent(time=clock.now(), latency_ms=1, outcome="success"),
            RequestEvent(time=clock.now() + timedelta(hours=1), latency_ms=1, outcome="success"),
        ]
    )
    with pytest.raises(Exception, match="in the future") as raised:
        measurements_service.ingest_request_events(
            db_session=db_session, clock=clock, system=system, batch=batch
        )
    assert getattr(raised.value, "field", None) == "events.1.time"
    assert db_session.scalars(select(SloMinuteCount)).all() == []


def test_an_outage_opens_a_page_breach_and_recovery_resolves_it(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    # Six healthy hours, then 10 minutes at 20% errors: 200x burn on 5m, about 33x on 1h.
    _history(db_session, clock, slo.id, 360, 100, 0)
    clock.advance(timedelta(minutes=10))
    _history(db_session, clock, slo.id, 10, 100, 20)

    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)

    assert report.slos_evaluated == 1
    assert len(report.breaches_opened) == 1
    breach = db_session.get(Breach, report.breaches_opened[0])
    assert breach is not None
    assert breach.severity == "page"
    assert breach.opened_at == clock.now()
    assert breach.opening_details["long_window"] == "1h"
    # 1h window: 50 minutes clean + 10 at 20% -> 200 bad of 6000 = 3.33% -> 33.3x burn.
    assert breach.opening_details["long_burn_rate"] == pytest.approx(200 / 6000 / 0.001)
    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    assert status.alert_severity == "page"
    assert status.total_events == 37_000
    assert status.error_budget_remaining == pytest.approx(1 - 200 / (0.001 * 37_000))
    fired = db_session.scalars(select(Notification).where(Notification.breach_id == breach.id)).all()
    assert [(n.event, n.status, n.channel) for n in fired] == [("fired", "pending", "#recs-oncall")]

    # Evaluating again while it still burns changes nothing and sends nothing more.
    again = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert (again.breaches_opened, again.breaches_resolved, again.notifications_queued) == ([], [], 0)

    # Two clean hours later the page windows are quiet, but the 3d/6h ticket rule still sees the
    # incident (5.5x over 6h), so the breach stays open: it is the same incident.
    clock.advance(timedelta(hours=2))
    _history(db_session, clock, slo.id, 120, 100, 0)
    still = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert still.breaches_resolved == []
    db_session.expire_all()
    assert db_session.get(SloStatus, slo.id).alert_severity == "ticket"  # type: ignore[union-attr]

    # Once the incident has left the 6h window too, nothing fires and the breach resolves.
    clock.advance(timedelta(hours=5))
    _history(db_session, clock, slo.id, 300, 100, 0)
    resolved = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert resolved.breaches_resolved == [breach.id]
    db_session.refresh(breach)
    assert breach.resolved_at == clock.now()
    events = db_session.scalars(
        select(Notification.event).where(Notification.breach_id == breach.id).order_by(Notification.id)
    ).all()
    assert events == ["fired", "resolved"]
    impact = evaluation_service.breach_budget_impact(
        db_session=db_session, breach=breach, slo=slo, now=clock.now()
    )
    # Window from 5 minutes before opening: 5 minutes at 20 bad each = 100 bad.
    assert impact.bad_events == 100
    assert impact.period_total_events == 37_000 + 7 * 6_000
    assert impact.budget_consumed_share == pytest.approx(100 / (0.001 * 79_000))


def test_slow_burn_opens_a_ticket_then_escalates_to_page(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    # Three days at 0.5% errors: 5x burn everywhere -> ticket (3x and 1x), not page (14.4x, 6x).
    _history(db_session, clock, slo.id, 3 * 24 * 60, 200, 1)
    first = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert len(first.breaches_opened) == 1
    breach = db_session.get(Breach, first.breaches_opened[0])
    assert breach is not None
    assert breach.severity == "ticket"

    clock.advance(timedelta(minutes=30))
    _history(db_session, clock, slo.id, 30, 200, 100)
    second = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert second.breaches_escalated == [breach.id]
    assert second.breaches_opened == []
    db_session.refresh(breach)
    assert breach.severity == "page"


def test_quiet_slo_with_few_events_does_not_page(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, min_events=100)
    _history(db_session, clock, slo.id, 10, 2, 1)
    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert report.breaches_opened == []


def test_archived_slo_breach_is_resolved(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    _history(db_session, clock, slo.id, 60, 100, 50)
    opened = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert len(opened.breaches_opened) == 1
    slo.archived_at = clock.now()
    db_session.flush()
    later = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert later.breaches_resolved == opened.breaches_opened


def _outage(db_session: Session, clock: ManualClock, slo_id: int) -> None:
    _history(db_session, clock, slo_id, 360, 100, 0)
    clock.advance(timedelta(minutes=10))
    _history(db_session, clock, slo_id, 10, 100, 20)


def test_concept_phase_collects_the_sli_but_evaluates_no_budget(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock, phase=Phase.CONCEPT)
    slo = create_slo(db_session, clock, system)
    _outage(db_session, clock, slo.id)
    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert (report.slos_evaluated, report.breaches_opened, report.notifications_queued) == (1, [], 0)
    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    assert status.sli == pytest.approx(1 - 200 / 37_000)
    assert status.error_budget_remaining is None
    assert status.alert_severity is None


def test_technical_validation_opens_a_ticket_where_production_would_page(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock, phase=Phase.TECHNICAL_VALIDATION)
    slo = create_slo(db_session, clock, system)
    _outage(db_session, clock, slo.id)
    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    breach = db_session.get(Breach, report.breaches_opened[0])
    assert breach is not None
    assert breach.severity == "ticket"
    # The burn that fired was the page rule's; it acts as a ticket here.
    assert breach.opening_details["long_window"] == "1h"


def test_an_slo_that_never_pages_opens_tickets(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system)
    slo.page_enabled = False
    db_session.flush()
    _outage(db_session, clock, slo.id)
    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert [db_session.get(Breach, b).severity for b in report.breaches_opened] == ["ticket"]  # type: ignore[union-attr]


def test_ml_slos_alert_the_model_owner(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, "recommendation-accuracy", sli_kind="classification_quality")
    slo.owner_side = "model"
    db_session.flush()
    _outage(db_session, clock, slo.id)
    report = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    notification = db_session.scalars(
        select(Notification).where(Notification.breach_id == report.breaches_opened[0])
    ).one()
    assert notification.channel == "#recs-ml"
    assert "ml-team (#recs-ml)" in str(notification.payload["blocks"][2])


def test_count_based_slo_tickets_when_failures_exceed_the_allowance(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(
        db_session, clock, system, "weekly-retrain", sli_kind="job_success", period=timedelta(days=28)
    )
    slo.max_bad_events = 1
    db_session.flush()
    # Four weekly retrains: one failure is allowed...
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[
            (slo.id, clock.now() - timedelta(days=7 * week, hours=1), 1 if week else 0, 1)
            for week in range(4)
        ],
    )
    first = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert first.breaches_opened == []
    # ...a second is not.
    measurements_repository.add_minute_counts(
        db_session=db_session, rows=[(slo.id, clock.now() - timedelta(days=3), 0, 1)]
    )
    second = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    breach = db_session.get(Breach, second.breaches_opened[0])
    assert breach is not None
    assert breach.severity == "ticket"
    assert breach.opening_details == {
        "rule": "count",
        "bad_events": 2,
        "max_bad_events": 1,
        "sli": pytest.approx(3 / 5),
    }


def test_a_changed_objective_applies_from_the_change_on(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    from app.slos.models import SloVersion

    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, objective=0.999)
    changed_at = clock.now() - timedelta(days=1)
    slo.version = 2
    db_session.add_all(
        [
            SloVersion(
                slo_id=slo.id,
                version=1,
                objective=0.99,
                period=slo.period,
                definition={},
                source_path="x",
                effective_from=clock.now() - timedelta(days=20),
                applied_by="test",
            ),
            SloVersion(
                slo_id=slo.id,
                version=2,
                objective=0.999,
                period=slo.period,
                definition={},
                source_path="x",
                effective_from=changed_at,
                applied_by="test",
            ),
        ]
    )
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[
            (slo.id, changed_at - timedelta(days=2), 9_950, 10_000),  # under 99%: 100 bad allowed, 50 spent
            (slo.id, changed_at + timedelta(hours=1), 9_995, 10_000),  # under 99.9%: 10 allowed, 5 spent
        ],
    )
    db_session.flush()
    evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    assert status.error_budget_remaining == pytest.approx(1 - 55 / 110)
    # The SLI itself does not depend on the objective.
    assert status.sli == pytest.approx(19_945 / 20_000)


def test_late_data_revises_the_windows_it_belongs_to(
    db_session: Session, clock: ManualClock, alerting_settings: Settings
) -> None:
    system = create_system(db_session, clock)
    slo = create_slo(db_session, clock, system, "recommendation-accuracy", sli_kind="classification_quality")
    slo.owner_side = "model"
    db_session.flush()
    # Six hours of predictions; those of the last ten minutes have no labels yet, so they do not count.
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[(slo.id, clock.now() - timedelta(minutes=m), 100, 100) for m in range(11, 361)],
    )
    first = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert first.breaches_opened == []

    # Their labels arrive late: 20% were wrong. They are counted at the predictions' minutes, and
    # the next evaluation sees the burn they revealed.
    measurements_repository.add_minute_counts(
        db_session=db_session,
        rows=[(slo.id, clock.now() - timedelta(minutes=m), 80, 100) for m in range(1, 11)],
    )
    clock.advance(timedelta(minutes=1))
    revised = evaluation_service.evaluate_all(db_session=db_session, clock=clock, settings=alerting_settings)
    assert len(revised.breaches_opened) == 1
    db_session.expire_all()
    status = db_session.get(SloStatus, slo.id)
    assert status is not None
    assert (status.good_events, status.total_events) == (36_000 - 200, 36_000)
