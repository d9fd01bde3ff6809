"""Queries on API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.models import ApiKey


def get_by_prefix(*, db_session: Session, key_prefix: str) -> ApiKey | None:
    return db_session.scalar(select(ApiKey).where(ApiKey.key_prefix == key_prefix))


def get_by_name(*, db_session: Session, name: str) -> ApiKey | None:
    return db_session.scalar(select(ApiKey).where(ApiKey.name == name))


def add(*, db_session: Session, api_key: ApiKey) -> ApiKey:
    db_session.add(api_key)
    db_session.flush()
    return api_key


def touch(*, db_session: Session, api_key_id: int, used_at: datetime) -> None:
    db_session.execute(update(ApiKey).where(ApiKey.id == api_key_id).values(last_used_at=used_at))
