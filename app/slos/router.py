"""HTTP endpoint that validates and applies SLO definition files sent as text."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from app.deps import Admin, AppClock, DbSession
from app.slos import loader, service
from app.slos.loader import SloFile, SloFileError
from app.slos.schemas import SloApplyRead, SloDefinitionsApply

router = APIRouter(tags=["slos"])


@router.post(
    "/slo-definitions/apply",
    response_model=SloApplyRead,
    responses={
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "description": "Every problem found, each with file, line and field; nothing was applied."
        }
    },
)
def apply_slo_definitions(
    body: SloDefinitionsApply, db_session: DbSession, clock: AppClock, principal: Admin
) -> SloApplyRead:
    """Apply definition files all or nothing: create, update, restore and archive SLOs so that each
    file's system and phase match it. With `dry_run`, only report what would change."""
    files: list[SloFile] = []
    errors: list[SloFileError] = []
    for entry in body.files:
        slo_file, file_errors = loader.load_text(entry.path, entry.content)
        errors.extend(file_errors)
        if slo_file is not None:
            files.append(slo_file)
    if errors:
        raise _unprocessable(errors, body)
    try:
        if body.dry_run:
            plan = service.plan_apply(db_session=db_session, files=files, principal=principal)
        else:
            plan = service.apply(
                db_session=db_session,
                clock=clock,
                files=files,
                applied_by=principal.key_name,
                principal=principal,
            )
    except service.SloApplyError as exc:
        # Raised rather than returned, so that the request's transaction is rolled back.
        raise _unprocessable(exc.errors, body) from exc
    return SloApplyRead(
        applied=not body.dry_run,
        created=list(plan.created),
        updated=list(plan.updated),
        restored=list(plan.restored),
        archived=list(plan.archived),
        unchanged=list(plan.unchanged),
    )


def _unprocessable(errors: list[SloFileError], body: SloDefinitionsApply) -> HTTPException:
    index_by_path: dict[str, int] = {}
    for index, entry in enumerate(body.files):
        index_by_path.setdefault(entry.path, index)
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[_error_detail(error, index_by_path.get(error.file)) for error in errors],
    )


def _error_detail(error: SloFileError, file_index: int | None) -> dict[str, Any]:
    location: list[str | int] = ["body", "files"]
    if file_index is not None:
        location.append(file_index)
        if error.field:
            location.extend(["content", *_field_parts(error.field)])
    return {
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "field": error.field,
        "msg": error.message,
        "loc": location,
    }


def _field_parts(field: str) -> list[str | int]:
    """`slos[1].sli.kind` → ["slos", 1, "sli", "kind"], like pydantic's own locations."""
    parts: list[str | int] = []
    for dotted in field.split("."):
        name, _, indexes = dotted.partition("[")
        if name:
            parts.append(name)
        parts.extend(int(index) for index in indexes.replace("]", "").split("[") if index)
    return parts
