"""FastAPI dependencies shared by every router: the session, the clock and the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.service import Principal, Scope
from app.clock import Clock
from app.config import Settings
from app.db import MAX_DATABASE_ID, SessionFactory
from app.errors import InvalidInputError
from app.timestamps import supported_utc


def get_db_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, rolled back on error."""
    session_factory: SessionFactory = request.app.state.session_factory
    with session_factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings_from_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the commit runs when the endpoint returns, before any response is sent, so a
# failed commit can never follow a success answer.
# Larger ids answer 422 here instead of failing in the database.
IdInPath = Annotated[int, Path(ge=1, le=MAX_DATABASE_ID)]
IdInQuery = Annotated[int | None, Query(ge=1, le=MAX_DATABASE_ID)]

DbSession = Annotated[Session, Depends(get_db_session, scope="function")]
AppClock = Annotated[Clock, Depends(get_clock)]
AppSettings = Annotated[Settings, Depends(get_settings_from_app)]

_bearer = HTTPBearer(auto_error=False, description="An API key created with `mlslo keys create`.")


def get_principal(
    db_session: DbSession,
    clock: AppClock,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = auth_service.authenticate(db_session=db_session, clock=clock, secret=credentials.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid or revoked API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_scope(scope: Scope) -> Callable[[Principal], Principal]:
    def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.allows(scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this API key lacks the '{scope.value}' scope",
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require_scope(Scope.READ))]
Ingester = Annotated[Principal, Depends(require_scope(Scope.INGEST))]
Admin = Annotated[Principal, Depends(require_scope(Scope.ADMIN))]


MAX_QUERY_RANGE = timedelta(days=31)


def time_range(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """A query's [from, to): by default the last 24 hours, up to and including now; aware, ordered,
    at most 31 days."""
    for field, given in (("from", start), ("to", end)):
        if given is None:
            continue
        if given.tzinfo is None:
            raise InvalidInputError("give a time zone, e.g. 2026-01-05T12:00:00Z", field=field)
        try:
            supported_utc(given)
        except ValueError as exc:
            raise InvalidInputError(str(exc), field=field) from None
    end = end or now + timedelta(microseconds=1)
    start = start or end - timedelta(days=1)
    if not start < end <= start + MAX_QUERY_RANGE:
        raise InvalidInputError("`from` must be before `to`, at most 31 days apart", field="from")
    return start, end
