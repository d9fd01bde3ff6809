"""Queries on SLO status and breaches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.evaluation.models import Breach, SloStatus
from app.slos.models import Slo
from app.systems.models import System


def upsert_status(*, db_session: Session, values: dict[str, Any]) -> None:
    statement = insert(SloStatus).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[SloStatus.slo_id],
        set_={key: statement.excluded[key] for key in values if key != "slo_id"},
    )
    db_session.execute(statement)


def get_status(*, db_session: Session, slo_id: int) -> SloStatus | None:
    return db_session.get(SloStatus, slo_id)


def list_status_rows(*, db_session: Session) -> Sequence[tuple[SloStatus, Slo, System]]:
    """Latest status of every SLO in force."""
    query = (
        select(SloStatus, Slo, System)
        .join(Slo, Slo.id == SloStatus.slo_id)
        .join(System, System.id == Slo.system_id)
        .where(Slo.phase == System.phase, Slo.archived_at.is_(None))
        .order_by(System.name, Slo.name)
    )
    return [(status, slo, system) for status, slo, system in db_session.execute(query)]


def open_breaches_by_slo(*, db_session: Session, slo_ids: Sequence[int]) -> dict[int, Breach]:
    """Open breaches of these SLOs, locked so that concurrent evaluations cannot both act on them."""
    if not slo_ids:
        return {}
    rows = db_session.scalars(
        select(Breach).where(Breach.slo_id.in_(slo_ids), Breach.resolved_at.is_(None)).with_for_update()
    )
    return {breach.slo_id: breach for breach in rows}


def open_breaches_outside(*, db_session: Session, slo_ids: Sequence[int]) -> Sequence[Breach]:
    """Open breaches of SLOs no longer in force (archived, or their system changed phase)."""
    return db_session.scalars(
        select(Breach).where(Breach.resolved_at.is_(None), Breach.slo_id.not_in(slo_ids)).with_for_update()
    ).all()


def add_breach(*, db_session: Session, breach: Breach) -> Breach:
    db_session.add(breach)
    db_session.flush()
    return breach


def get_breach(*, db_session: Session, breach_id: int) -> tuple[Breach, Slo, System] | None:
    row = db_session.execute(
        select(Breach, Slo, System)
        .join(Slo, Slo.id == Breach.slo_id)
        .join(System, System.id == Slo.system_id)
        .where(Breach.id == breach_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def list_breaches(
    *,
    db_session: Session,
    system_id: int | None = None,
    open_only: bool = False,
    since: datetime | None = None,
    limit: int = 100,
) -> Sequence[tuple[Breach, Slo, System]]:
    query = (
        select(Breach, Slo, System)
        .join(Slo, Slo.id == Breach.slo_id)
        .join(System, System.id == Slo.system_id)
        .order_by(Breach.opened_at.desc(), Breach.id.desc())
        .limit(limit)
    )
    if system_id is not None:
        query = query.where(System.id == system_id)
    if open_only:
        query = query.where(Breach.resolved_at.is_(None))
    if since is not None:
        query = query.where(Breach.opened_at >= since)
    return [(b, slo, system) for b, slo, system in db_session.execute(query)]
