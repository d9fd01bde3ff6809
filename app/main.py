"""The FastAPI application: create_app(settings) wires routers, errors, health and metrics."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError

from app import __version__
from app.clock import Clock, SystemClock
from app.config import Settings
from app.db import SessionFactory, database_is_reachable
from app.errors import DomainError
from app.metrics import SloStatusCollector

logger = logging.getLogger(__name__)


@dataclass
class AppDependencies:
    """What the app runs on; the CLI, the demo and the tests each build their own."""

    settings: Settings
    engine: Engine
    session_factory: SessionFactory
    clock: Clock = field(default_factory=SystemClock)
    # Started with the app and stopped with it (the scheduler, in `mlslo serve`).
    on_startup: list[Callable[[], None]] = field(default_factory=list)
    on_shutdown: list[Callable[[], None]] = field(default_factory=list)


def create_app(deps: AppDependencies) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for start in deps.on_startup:
            start()
        try:
            yield
        finally:
            for stop in deps.on_shutdown:
                stop()

    app = FastAPI(
        title="mlslo",
        version=__version__,
        description="SLI/SLO reliability monitoring for ML systems.",
        lifespan=lifespan,
    )
    app.state.settings = deps.settings
    app.state.session_factory = deps.session_factory
    app.state.clock = deps.clock
    app.state.engine = deps.engine

    _add_error_handlers(app)
    app.include_router(_health_router(deps.engine))
    app.include_router(_api_router(), prefix="/api/v1")

    registry = CollectorRegistry()
    registry.register(SloStatusCollector(deps.session_factory, deps.clock))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _api_router() -> APIRouter:
    from app.alerting_policy.router import router as alerting_policy_router
    from app.collectors.router import router as collectors_router
    from app.evaluation.router import router as evaluation_router
    from app.measurements.router import router as measurements_router
    from app.ml.router import router as ml_router
    from app.notifications.router import router as notifications_router
    from app.postmortems.router import breach_drafts_router
    from app.postmortems.router import router as postmortems_router
    from app.slos.router import router as slos_router
    from app.systems.router import router as systems_router

    api = APIRouter()
    for router in (
        systems_router,
        slos_router,
        measurements_router,
        ml_router,
        alerting_policy_router,
        evaluation_router,
        notifications_router,
        postmortems_router,
        breach_drafts_router,
        collectors_router,
    ):
        api.include_router(router, responses=ERROR_RESPONSES)
    return api


class ErrorDetail(BaseModel):
    msg: str
    loc: list[str] | None = None
    field: str | None = Field(default=None, description="The field at fault, dotted (e.g. events.3.time).")


class ErrorResponse(BaseModel):
    detail: list[ErrorDetail]


# Every endpoint may answer these; documented so that clients (and schema-driven tests) expect them.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The request cannot be read."},
    401: {"model": ErrorResponse, "description": "No API key, or an unknown one."},
    403: {"model": ErrorResponse, "description": "The key lacks the scope, or is bound to another system."},
    404: {"model": ErrorResponse, "description": "No such system, SLO, breach or other resource."},
    409: {"model": ErrorResponse, "description": "Conflicts with the current state (already exists, ...)."},
    422: {"model": ErrorResponse, "description": "Invalid input; `field` names what is wrong."},
}


def _health_router(engine: Engine) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        if database_is_reachable(engine):
            return JSONResponse({"status": "ready", "database": "ok"})
        return JSONResponse(
            {"status": "not ready", "database": "unreachable"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    return router


def _json_safe(value: Any, depth: int = 0) -> Any:
    """What a rejected input may be echoed as: JSON-encodable, short, never NaN or a lone surrogate."""
    if depth > 3:
        return "…"
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text if len(text) <= 200 else text[:199] + "…"
    if isinstance(value, dict):
        return {str(_json_safe(k, depth + 1)): _json_safe(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_json_safe(item, depth + 1) for item in list(value)[:20]]
    return _json_safe(repr(value), depth + 1)


def _field_with_nul(body: bytes) -> str | None:
    """The dotted path of the first text in a JSON body that holds a NUL character."""
    try:
        document = json.loads(body)
    except ValueError:
        return None

    def walk(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if isinstance(value, str):
            return path if "\x00" in value else None
        items = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, item in items:
            if isinstance(key, str) and "\x00" in key:
                return (*path, key)
            found = walk(item, (*path, str(key)))
            if found is not None:
                return found
        return None

    found = walk(document, ())
    return ".".join(found) if found else None


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each rejected input as is, which cannot be encoded when it is
        # NaN, a lone surrogate or bytes that are not UTF-8: the answer itself would fail with 500.
        errors = []
        for error in exc.errors():
            safe = {key: _json_safe(value) for key, value in error.items()}
            location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
            if location:
                safe["field"] = ".".join(location)
            errors.append(safe)
        return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(UnicodeEncodeError)
    async def unstorable_text(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        return JSONResponse(
            {
                "detail": [
                    {
                        "msg": "text contains characters that cannot be stored (an unpaired UTF-16 "
                        "surrogate such as \\ud800): send valid Unicode"
                    }
                ]
            },
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        detail: dict[str, Any] = {"msg": exc.message}
        if exc.field is not None:
            detail["loc"] = ["body", *exc.field.split(".")]
            detail["field"] = exc.field
        if exc.reasons:
            detail["reasons"] = list(exc.reasons)
        return JSONResponse({"detail": [detail]}, status_code=exc.status_code)

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # Values Postgres refuses (a NUL byte in text, a number out of range) are the caller's input.
        message = str(getattr(exc.orig, "args", [exc])[0]).splitlines()[0]
        detail: dict[str, Any] = {"msg": f"invalid value: {message}"}
        refuses_nul = "NUL" in message or "unsupported Unicode escape" in message
        field = _field_with_nul(await request.body()) if refuses_nul else None
        if field is not None:
            detail |= {"loc": ["body", *field.split(".")], "field": field}
        return JSONResponse({"detail": [detail]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        logger.info("integrity error answered with 409: %s", exc.orig)
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        return JSONResponse(
            {"detail": [{"msg": "conflicts with existing data", "constraint": constraint}]},
            status_code=status.HTTP_409_CONFLICT,
        )
