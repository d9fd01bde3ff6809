"""Queries on SLOs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.slos.models import Slo, SloVersion
from app.systems.models import System


def get(*, db_session: Session, slo_id: int) -> Slo | None:
    return db_session.get(Slo, slo_id)


def get_by_name(*, db_session: Session, system_id: int, phase: str, name: str) -> Slo | None:
    return db_session.scalar(
        select(Slo).where(Slo.system_id == system_id, Slo.phase == phase, Slo.name == name)
    )


def list_in_force(*, db_session: Session, system_id: int | None = None) -> Sequence[tuple[Slo, System]]:
    """Active SLOs of each system's current phase: the ones that collect and are evaluated."""
    query = (
        select(Slo, System)
        .join(System, System.id == Slo.system_id)
        .where(Slo.phase == System.phase, Slo.archived_at.is_(None))
        .order_by(System.name, Slo.name)
    )
    if system_id is not None:
        query = query.where(System.id == system_id)
    return [(slo, system) for slo, system in db_session.execute(query)]


def list_for_system(*, db_session: Session, system_id: int, include_archived: bool = False) -> Sequence[Slo]:
    query = select(Slo).where(Slo.system_id == system_id).order_by(Slo.phase, Slo.name)
    if not include_archived:
        query = query.where(Slo.archived_at.is_(None))
    return db_session.scalars(query).all()


def list_for_system_phase(*, db_session: Session, system_id: int, phase: str) -> Sequence[Slo]:
    return db_session.scalars(
        select(Slo).where(Slo.system_id == system_id, Slo.phase == phase).order_by(Slo.name)
    ).all()


def add(*, db_session: Session, slo: Slo) -> Slo:
    db_session.add(slo)
    db_session.flush()
    return slo


def add_version(*, db_session: Session, version: SloVersion) -> None:
    db_session.add(version)
    db_session.flush()


def list_versions(*, db_session: Session, slo_id: int) -> Sequence[SloVersion]:
    return db_session.scalars(
        select(SloVersion).where(SloVersion.slo_id == slo_id).order_by(SloVersion.version)
    ).all()


def versions_changed_since(
    *, db_session: Session, slo_ids: Sequence[int], since: datetime
) -> dict[int, list[SloVersion]]:
    """For SLOs with a version that took effect after `since`: that version, the later ones, and
    the one in force at `since`, oldest first."""
    if not slo_ids:
        return {}
    changed = select(SloVersion.slo_id).where(
        SloVersion.slo_id.in_(slo_ids), SloVersion.effective_from > since, SloVersion.version > 1
    )
    rows = db_session.scalars(
        select(SloVersion)
        .where(SloVersion.slo_id.in_(changed))
        .order_by(SloVersion.slo_id, SloVersion.version)
    ).all()
    result: dict[int, list[SloVersion]] = {}
    for version in rows:
        result.setdefault(version.slo_id, []).append(version)
    return {
        slo_id: [
            v
            for i, v in enumerate(versions)
            if v.effective_from > since or (i + 1 < len(versions) and versions[i + 1].effective_from > since)
        ]
        for slo_id, versions in result.items()
    }
