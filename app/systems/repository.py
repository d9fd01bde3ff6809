"""Queries on systems and their phase history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.systems.models import PhaseChange, System


def get_by_name(*, db_session: Session, name: str) -> System | None:
    return db_session.scalar(select(System).where(System.name == name))


def get_by_names(*, db_session: Session, names: set[str]) -> dict[str, System]:
    rows = db_session.scalars(select(System).where(System.name.in_(names)))
    return {system.name: system for system in rows}


def list_all(*, db_session: Session, system_id: int | None = None) -> Sequence[System]:
    query = select(System).order_by(System.name)
    if system_id is not None:
        query = query.where(System.id == system_id)
    return db_session.scalars(query).all()


def add(*, db_session: Session, system: System) -> System:
    db_session.add(system)
    db_session.flush()
    return system


def add_phase_change(*, db_session: Session, phase_change: PhaseChange) -> None:
    db_session.add(phase_change)
    db_session.flush()


def list_phase_changes(*, db_session: Session, system_id: int) -> Sequence[PhaseChange]:
    return db_session.scalars(
        select(PhaseChange).where(PhaseChange.system_id == system_id).order_by(PhaseChange.id)
    ).all()
