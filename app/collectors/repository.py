"""Queries on collector runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.collectors.models import CollectorRun


def claim_slot(
    *, db_session: Session, slo_id: int, slot_start: datetime, claimed_by: str, now: datetime
) -> int | None:
    """The run's id if this caller is the first to claim the slot, else None: the unique key on
    (slo_id, slot_start) lets exactly one process collect each slot."""
    statement = (
        insert(CollectorRun)
        .values(
            slo_id=slo_id, slot_start=slot_start, claimed_by=claimed_by, claimed_at=now, outcome="running"
        )
        .on_conflict_do_nothing(index_elements=[CollectorRun.slo_id, CollectorRun.slot_start])
        .returning(CollectorRun.id)
    )
    return db_session.scalar(statement)


def get(*, db_session: Session, run_id: int) -> CollectorRun | None:
    return db_session.get(CollectorRun, run_id)


def recent(*, db_session: Session, slo_id: int, limit: int = 50) -> Sequence[CollectorRun]:
    return db_session.scalars(
        select(CollectorRun)
        .where(CollectorRun.slo_id == slo_id)
        .order_by(CollectorRun.slot_start.desc())
        .limit(limit)
    ).all()


def outcome_counts_since(*, db_session: Session, since: datetime) -> dict[str, int]:
    rows = db_session.execute(
        select(CollectorRun.outcome, func.count())
        .where(CollectorRun.claimed_at >= since)
        .group_by(CollectorRun.outcome)
    ).all()
    return {outcome: int(count) for outcome, count in rows}


def last_success_by_slo(*, db_session: Session) -> dict[int, datetime]:
    rows = db_session.execute(
        select(CollectorRun.slo_id, func.max(CollectorRun.slot_start))
        .where(CollectorRun.outcome == "ok")
        .group_by(CollectorRun.slo_id)
    ).all()
    return {slo_id: last for slo_id, last in rows if last is not None}


def last_run_by_slo(*, db_session: Session) -> dict[int, CollectorRun]:
    """The latest finished run of each collected SLO."""
    latest = (
        select(CollectorRun.slo_id, func.max(CollectorRun.slot_start).label("slot_start"))
        .where(CollectorRun.finished_at.is_not(None))
        .group_by(CollectorRun.slo_id)
        .subquery()
    )
    runs = db_session.scalars(
        select(CollectorRun).join(
            latest,
            (CollectorRun.slo_id == latest.c.slo_id) & (CollectorRun.slot_start == latest.c.slot_start),
        )
    )
    return {run.slo_id: run for run in runs}
