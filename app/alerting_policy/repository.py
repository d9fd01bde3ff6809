"""Queries on silences and freeze exceptions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.alerting_policy.models import FreezeException, Silence
from app.systems.models import System


def add_silence(*, db_session: Session, silence: Silence) -> Silence:
    db_session.add(silence)
    db_session.flush()
    return silence


def get_silence(*, db_session: Session, silence_id: int, for_update: bool = False) -> Silence | None:
    query = select(Silence).where(Silence.id == silence_id)
    if for_update:
        query = query.with_for_update()
    return db_session.scalar(query)


def list_silences(
    *, db_session: Session, not_over_at: datetime | None = None, system_id: int | None = None
) -> Sequence[Silence]:
    """Newest start first. With `not_over_at`, only silences still in force or yet to start then;
    with `system_id`, only the silences of that system."""
    query = select(Silence).order_by(Silence.starts_at.desc(), Silence.id.desc())
    if not_over_at is not None:
        query = query.where(Silence.expired_at.is_(None), Silence.ends_at > not_over_at)
    if system_id is not None:
        query = query.where(
            Silence.system == select(System.name).where(System.id == system_id).scalar_subquery()
        )
    return db_session.scalars(query).all()


def matching_silence(
    *, db_session: Session, system: str, slo: str, severity: str, at: datetime
) -> Silence | None:
    """A silence in force at `at` that covers this system, SLO and severity; the one that lasts
    longest when several do, so the muted alert names the silence that will hold it longest."""
    return db_session.scalar(
        select(Silence)
        .where(
            Silence.system == system,
            or_(Silence.slo.is_(None), Silence.slo == slo),
            or_(Silence.severity.is_(None), Silence.severity == severity),
            Silence.starts_at <= at,
            Silence.ends_at > at,
            Silence.expired_at.is_(None),
        )
        .order_by(Silence.ends_at.desc(), Silence.id)
        .limit(1)
    )


def add_freeze_exception(*, db_session: Session, freeze_exception: FreezeException) -> FreezeException:
    db_session.add(freeze_exception)
    db_session.flush()
    return freeze_exception


def get_freeze_exception(
    *, db_session: Session, exception_id: int, for_update: bool = False
) -> FreezeException | None:
    query = select(FreezeException).where(FreezeException.id == exception_id)
    if for_update:
        query = query.with_for_update()
    return db_session.scalar(query)


def list_active_freeze_exceptions(
    *, db_session: Session, system_id: int, at: datetime
) -> Sequence[FreezeException]:
    """Exceptions of the system in force at `at` (granted, not expired, not revoked), oldest first."""
    return db_session.scalars(
        select(FreezeException)
        .where(
            FreezeException.system_id == system_id,
            FreezeException.granted_at <= at,
            FreezeException.expires_at > at,
            FreezeException.revoked_at.is_(None),
        )
        .order_by(FreezeException.granted_at, FreezeException.id)
    ).all()
