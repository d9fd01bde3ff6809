"""Postmortem use cases against real Postgres: links to breaches, the budget each breach spent,
and what a key bound to one system may see."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.auth.service import Principal, Scope
from app.clock import ManualClock
from app.errors import InvalidInputError, NotFoundError
from app.evaluation.models import Breach
from app.measurements.models import SloMinuteCount
from app.postmortems import service
from app.postmortems.schemas import (
    PostmortemCreate,
    PostmortemStatus,
    PostmortemUpdate,
    TimelineEntry,
    TimelineSource,
)
from app.slos.models import Slo
from app.systems.models import System
from tests.conftest import TEST_START

ADMIN = Principal(key_name="test-admin", scopes=frozenset({Scope.ADMIN}), system_id=None)

# The breach of the worked example: window 10:00 → 11:00 on the test day.
BREACH_WINDOW_START = TEST_START - timedelta(hours=2)
BREACH_OPENED_AT = TEST_START - timedelta(hours=1, minutes=30)
BREACH_RESOLVED_AT = TEST_START - timedelta(hours=1)


def add_system(db_session: Session, name: str) -> System:
    system = System(name=name, phase="production", created_at=TEST_START, updated_at=TEST_START)
    db_session.add(system)
    db_session.flush()
    return system


def add_slo(
    db_session: Session,
    system: System,
    name: str,
    *,
    objective: float = 0.999,
    period: timedelta = timedelta(days=30),
) -> Slo:
    slo = Slo(
        system_id=system.id,
        phase="production",
        name=name,
        sli_kind="error_rate",
        threshold_ms=None,
        objective=objective,
        period=period,
        min_events=None,
        definition={},
        source_path=f"{system.name}/{name}.yaml",
        created_at=TEST_START,
        updated_at=TEST_START,
    )
    db_session.add(slo)
    db_session.flush()
    return slo


def add_breach(
    db_session: Session,
    slo: Slo,
    *,
    window_start: datetime,
    opened_at: datetime,
    resolved_at: datetime | None,
    severity: str = "page",
) -> Breach:
    breach = Breach(
        slo_id=slo.id,
        severity=severity,
        opened_at=opened_at,
        window_start=window_start,
        resolved_at=resolved_at,
        peak_burn_rate=14.4,
        error_budget_remaining_at_open=0.9,
        opening_details={},
    )
    db_session.add(breach)
    db_session.flush()
    return breach


def add_counts(db_session: Session, slo: Slo, *rows: tuple[datetime, int, int]) -> None:
    """(minute, good, total) rows."""
    db_session.add_all(
        SloMinuteCount(slo_id=slo.id, minute=minute, good=good, total=total) for minute, good, total in rows
    )
    db_session.flush()


def seed_worked_example(db_session: Session, system_name: str = "fraud-model") -> Breach:
    """Objective 0.999 over 30 days; 100,000 events in the period ending at the breach's resolution,
    60 of them bad inside the breach window: share = 60 / (0.001 * 100,000) = 0.6."""
    system = add_system(db_session, system_name)
    slo = add_slo(db_session, system, "availability")
    period_start = BREACH_RESOLVED_AT - timedelta(days=30)
    add_counts(
        db_session,
        slo,
        # Before the period: ignored everywhere.
        (period_start - timedelta(minutes=1), 0, 5_000),
        # First minute of the period: counted in the period, not in the breach window.
        (period_start, 495, 500),
        (BREACH_RESOLVED_AT - timedelta(days=20), 98_495, 98_500),
        # Inside the breach window [10:00, 11:00).
        (BREACH_WINDOW_START + timedelta(minutes=15), 940, 1_000),
        # The minute starting at the resolution lies after the window and after the period.
        (BREACH_RESOLVED_AT, 0, 7_000),
    )
    breach = add_breach(
        db_session,
        slo,
        window_start=BREACH_WINDOW_START,
        opened_at=BREACH_OPENED_AT,
        resolved_at=BREACH_RESOLVED_AT,
    )
    db_session.commit()
    return breach


def seed_small_breach(db_session: Session, system_name: str) -> Breach:
    """A breach that spent 5% of a 99% budget: 5 bad of 10,000 events (budget 100)."""
    system = add_system(db_session, system_name)
    slo = add_slo(db_session, system, "latency", objective=0.99, period=timedelta(days=7))
    add_counts(
        db_session,
        slo,
        (BREACH_RESOLVED_AT - timedelta(days=2), 9_000, 9_000),
        (BREACH_WINDOW_START, 995, 1_000),
    )
    breach = add_breach(
        db_session,
        slo,
        window_start=BREACH_WINDOW_START,
        opened_at=BREACH_OPENED_AT,
        resolved_at=BREACH_RESOLVED_AT,
        severity="ticket",
    )
    db_session.commit()
    return breach


def test_read_reports_the_budget_share_of_the_breach(db_session: Session, clock: ManualClock) -> None:
    breach = seed_worked_example(db_session)

    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Fraud model returned errors", breach_ids=[breach.id]),
        principal=ADMIN,
    )
    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)

    assert read.created_by == "test-admin"
    assert read.status is PostmortemStatus.DRAFT
    assert read.created_at == read.updated_at == TEST_START
    [impact] = read.breaches
    assert impact.breach_id == breach.id
    assert (impact.system, impact.slo, impact.slo_phase, impact.severity) == (
        "fraud-model",
        "availability",
        "production",
        "page",
    )
    assert impact.window_start == BREACH_WINDOW_START
    assert impact.window_end == impact.resolved_at == BREACH_RESOLVED_AT
    assert (impact.bad_events, impact.total_events, impact.period_total_events) == (60, 1_000, 100_000)
    assert impact.budget_consumed_share == pytest.approx(0.6)
    assert impact.postmortem_required is True
    assert read.total_budget_consumed_share == pytest.approx(0.6)
    assert read.postmortem_required is True


def test_share_is_summed_over_breaches_and_small_breaches_need_no_postmortem(
    db_session: Session, clock: ManualClock
) -> None:
    small = seed_small_breach(db_session, "ranker")
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Slow ranking", breach_ids=[small.id]),
        principal=ADMIN,
    )

    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)
    assert read.breaches[0].budget_consumed_share == pytest.approx(5 / (0.01 * 10_000))
    assert read.postmortem_required is False

    big = seed_worked_example(db_session)
    service.update(
        db_session=db_session,
        clock=clock,
        postmortem=postmortem,
        postmortem_in=PostmortemUpdate(breach_ids=[big.id, small.id]),
        principal=ADMIN,
    )
    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)
    assert read.breach_ids == sorted([big.id, small.id])
    assert read.total_budget_consumed_share == pytest.approx(0.6 + 0.05)
    assert read.postmortem_required is True


def test_an_open_breach_is_measured_up_to_now(db_session: Session, clock: ManualClock) -> None:
    system = add_system(db_session, "recommender")
    slo = add_slo(db_session, system, "availability", objective=0.99, period=timedelta(days=7))
    add_counts(
        db_session,
        slo,
        (TEST_START - timedelta(days=3), 9_000, 9_000),
        (TEST_START - timedelta(minutes=15), 900, 1_000),
        # Starts at now, so it counts only once the clock has moved past it.
        (TEST_START, 0, 1_000),
    )
    breach = add_breach(
        db_session,
        slo,
        window_start=TEST_START - timedelta(minutes=30),
        opened_at=TEST_START - timedelta(minutes=20),
        resolved_at=None,
    )
    db_session.commit()
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Ongoing", breach_ids=[breach.id]),
        principal=ADMIN,
    )

    [impact] = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem).breaches
    assert impact.resolved_at is None
    assert impact.window_end == TEST_START
    assert (impact.bad_events, impact.period_total_events) == (100, 10_000)
    assert impact.budget_consumed_share == pytest.approx(100 / (0.01 * 10_000))

    clock.advance(timedelta(minutes=10))
    [impact] = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem).breaches
    assert impact.window_end == TEST_START + timedelta(minutes=10)
    assert (impact.bad_events, impact.period_total_events) == (1_100, 11_000)
    assert impact.budget_consumed_share == pytest.approx(1_100 / (0.01 * 11_000))


def test_a_breach_with_no_events_in_its_period_spent_nothing(db_session: Session, clock: ManualClock) -> None:
    system = add_system(db_session, "quiet")
    slo = add_slo(db_session, system, "availability")
    breach = add_breach(
        db_session,
        slo,
        window_start=BREACH_WINDOW_START,
        opened_at=BREACH_OPENED_AT,
        resolved_at=BREACH_RESOLVED_AT,
    )
    db_session.commit()
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Nothing", breach_ids=[breach.id]),
        principal=ADMIN,
    )

    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)
    assert read.breaches[0].budget_consumed_share == 0.0
    assert read.postmortem_required is False


def test_unknown_breach_is_rejected_naming_its_position(db_session: Session, clock: ManualClock) -> None:
    breach = seed_worked_example(db_session)

    with pytest.raises(InvalidInputError) as raised:
        service.create(
            db_session=db_session,
            clock=clock,
            postmortem_in=PostmortemCreate(title="t", breach_ids=[breach.id, 999_999]),
            principal=ADMIN,
        )
    assert raised.value.field == "breach_ids.1"
    assert "999999" in raised.value.message


def test_update_replaces_links_and_keeps_omitted_fields(db_session: Session, clock: ManualClock) -> None:
    first = seed_worked_example(db_session)
    second = seed_small_breach(db_session, "ranker")
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Outage", summary="Errors", breach_ids=[first.id]),
        principal=ADMIN,
    )

    clock.advance(timedelta(hours=1))
    service.update(
        db_session=db_session,
        clock=clock,
        postmortem=postmortem,
        postmortem_in=PostmortemUpdate(status=PostmortemStatus.IN_REVIEW, breach_ids=[second.id]),
        principal=ADMIN,
    )
    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)

    assert read.breach_ids == [second.id]
    assert [impact.breach_id for impact in read.breaches] == [second.id]
    assert (read.title, read.summary, read.status) == ("Outage", "Errors", PostmortemStatus.IN_REVIEW)
    assert read.created_at == TEST_START
    assert read.updated_at == TEST_START + timedelta(hours=1)


def test_a_failed_link_replacement_keeps_the_old_links(db_session: Session, clock: ManualClock) -> None:
    breach = seed_worked_example(db_session)
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(title="Outage", breach_ids=[breach.id]),
        principal=ADMIN,
    )

    with pytest.raises(InvalidInputError):
        service.update(
            db_session=db_session,
            clock=clock,
            postmortem=postmortem,
            postmortem_in=PostmortemUpdate(title="Renamed", breach_ids=[999_999]),
            principal=ADMIN,
        )
    db_session.expire_all()
    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)
    assert (read.title, read.breach_ids) == ("Outage", [breach.id])


def test_a_key_bound_to_a_system_sees_only_that_systems_postmortems(
    db_session: Session, clock: ManualClock
) -> None:
    own = seed_worked_example(db_session, "fraud-model")
    other = seed_small_breach(db_session, "ranker")
    system_id = db_session.get_one(Slo, own.slo_id).system_id
    bound = Principal(key_name="fraud-admin", scopes=frozenset({Scope.ADMIN}), system_id=system_id)

    def create(title: str, breach_ids: list[int]) -> int:
        postmortem = service.create(
            db_session=db_session,
            clock=clock,
            postmortem_in=PostmortemCreate(title=title, breach_ids=breach_ids),
            principal=ADMIN,
        )
        return postmortem.id

    own_id = create("own", [own.id])
    other_id = create("other", [other.id])
    mixed_id = create("mixed", [own.id, other.id])

    assert [p.id for p in service.list_visible(db_session=db_session, principal=bound)] == [own_id]
    assert {p.id for p in service.list_visible(db_session=db_session, principal=ADMIN)} == {
        own_id,
        other_id,
        mixed_id,
    }
    assert service.get(db_session=db_session, postmortem_id=own_id, principal=bound).id == own_id
    for hidden in (other_id, mixed_id):
        with pytest.raises(NotFoundError):
            service.get(db_session=db_session, postmortem_id=hidden, principal=bound)
    # Linking another system's breach is answered as if the breach did not exist.
    with pytest.raises(InvalidInputError) as raised:
        service.create(
            db_session=db_session,
            clock=clock,
            postmortem_in=PostmortemCreate(title="t", breach_ids=[own.id, other.id]),
            principal=bound,
        )
    assert raised.value.field == "breach_ids.1"


def test_list_filters_by_status(db_session: Session, clock: ManualClock) -> None:
    breach = seed_worked_example(db_session)
    for status in (PostmortemStatus.DRAFT, PostmortemStatus.PUBLISHED):
        service.create(
            db_session=db_session,
            clock=clock,
            postmortem_in=PostmortemCreate(title=status.value, status=status, breach_ids=[breach.id]),
            principal=ADMIN,
        )

    published = service.list_visible(
        db_session=db_session, principal=ADMIN, status=PostmortemStatus.PUBLISHED
    )
    assert [p.title for p in published] == ["published"]


def test_timeline_with_breaches_merges_breach_events_in_time_order(
    db_session: Session, clock: ManualClock
) -> None:
    breach = seed_worked_example(db_session)
    postmortem = service.create(
        db_session=db_session,
        clock=clock,
        postmortem_in=PostmortemCreate(
            title="Outage",
            breach_ids=[breach.id],
            timeline=[
                TimelineEntry(at=BREACH_RESOLVED_AT + timedelta(minutes=5), event="All clear posted"),
                TimelineEntry(at=BREACH_WINDOW_START, event="Bad model deployed"),
            ],
        ),
        principal=ADMIN,
    )

    read = service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)

    assert [entry.event for entry in read.timeline] == ["All clear posted", "Bad model deployed"]
    merged = [(entry.at, entry.source, entry.breach_id) for entry in read.timeline_with_breaches]
    assert merged == [
        (BREACH_WINDOW_START, TimelineSource.POSTMORTEM, None),
        (BREACH_OPENED_AT, TimelineSource.BREACH, breach.id),
        (BREACH_RESOLVED_AT, TimelineSource.BREACH, breach.id),
        (BREACH_RESOLVED_AT + timedelta(minutes=5), TimelineSource.POSTMORTEM, None),
    ]
    assert "opened" in read.timeline_with_breaches[1].event
    assert "fraud-model/availability" in read.timeline_with_breaches[1].event
