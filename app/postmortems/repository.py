"""Queries on postmortems, their links to breaches, and the breaches' SLOs and systems."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import NamedTuple

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from app.evaluation.models import Breach
from app.postmortems.models import Postmortem, postmortem_breach
from app.slos.models import Slo
from app.systems.models import System


class BreachContext(NamedTuple):
    """A breach with the SLO and system it belongs to."""

    breach: Breach
    slo: Slo
    system: System


def add(*, db_session: Session, postmortem: Postmortem) -> Postmortem:
    db_session.add(postmortem)
    db_session.flush()
    return postmortem


def get(*, db_session: Session, postmortem_id: int, for_update: bool = False) -> Postmortem | None:
    query = select(Postmortem).where(Postmortem.id == postmortem_id)
    if for_update:
        # Serialises concurrent updates, so two link replacements cannot interleave.
        query = query.with_for_update()
    return db_session.scalar(query)


def list_all(
    *, db_session: Session, system_id: int | None = None, status: str | None = None
) -> Sequence[Postmortem]:
    """Newest first. With `system_id`, only postmortems whose breaches all belong to that system."""
    query = select(Postmortem).order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
    if status is not None:
        query = query.where(Postmortem.status == status)
    if system_id is not None:
        foreign_breach = (
            select(postmortem_breach.c.breach_id)
            .join(Breach, Breach.id == postmortem_breach.c.breach_id)
            .join(Slo, Slo.id == Breach.slo_id)
            .where(postmortem_breach.c.postmortem_id == Postmortem.id)
            .where(Slo.system_id != system_id)
        )
        query = query.where(~exists(foreign_breach))
    return db_session.scalars(query).all()


def breach_ids_by_postmortem(*, db_session: Session, postmortem_ids: Collection[int]) -> dict[int, list[int]]:
    """The linked breach ids of each postmortem, in ascending order."""
    rows = db_session.execute(
        select(postmortem_breach.c.postmortem_id, postmortem_breach.c.breach_id)
        .where(postmortem_breach.c.postmortem_id.in_(postmortem_ids))
        .order_by(postmortem_breach.c.postmortem_id, postmortem_breach.c.breach_id)
    ).all()
    result: dict[int, list[int]] = defaultdict(list)
    for postmortem_id, breach_id in rows:
        result[postmortem_id].append(breach_id)
    return {postmortem_id: result.get(postmortem_id, []) for postmortem_id in postmortem_ids}


def breach_contexts(*, db_session: Session, breach_ids: Collection[int]) -> dict[int, BreachContext]:
    """The breaches among `breach_ids` that exist, by id, with their SLO and system."""
    if not breach_ids:
        return {}
    rows = db_session.execute(
        select(Breach, Slo, System)
        .join(Slo, Slo.id == Breach.slo_id)
        .join(System, System.id == Slo.system_id)
        .where(Breach.id.in_(breach_ids))
    ).all()
    return {breach.id: BreachContext(breach, slo, system) for breach, slo, system in rows}


def replace_links(*, db_session: Session, postmortem_id: int, breach_ids: Sequence[int]) -> None:
    """Link the postmortem to exactly `breach_ids`, dropping its other links."""
    db_session.execute(delete(postmortem_breach).where(postmortem_breach.c.postmortem_id == postmortem_id))
    if breach_ids:
        db_session.execute(
            insert(postmortem_breach),
            [{"postmortem_id": postmortem_id, "breach_id": breach_id} for breach_id in breach_ids],
        )
