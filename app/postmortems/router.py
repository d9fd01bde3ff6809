"""HTTP endpoints of postmortems."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.deps import Admin, AppClock, DbSession, IdInPath, Reader
from app.postmortems import service
from app.postmortems.schemas import PostmortemCreate, PostmortemRead, PostmortemStatus, PostmortemUpdate

router = APIRouter(prefix="/postmortems", tags=["postmortems"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PostmortemRead)
def create_postmortem(
    postmortem_in: PostmortemCreate, db_session: DbSession, clock: AppClock, principal: Admin
) -> PostmortemRead:
    postmortem = service.create(
        db_session=db_session, clock=clock, postmortem_in=postmortem_in, principal=principal
    )
    return service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)


@router.get("", response_model=list[PostmortemRead])
def list_postmortems(
    db_session: DbSession, clock: AppClock, principal: Reader, status: PostmortemStatus | None = None
) -> list[PostmortemRead]:
    postmortems = service.list_visible(db_session=db_session, principal=principal, status=status)
    return service.to_reads(db_session=db_session, clock=clock, postmortems=postmortems)


@router.get("/{postmortem_id}", response_model=PostmortemRead)
def get_postmortem(
    postmortem_id: IdInPath, db_session: DbSession, clock: AppClock, principal: Reader
) -> PostmortemRead:
    postmortem = service.get(db_session=db_session, postmortem_id=postmortem_id, principal=principal)
    return service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)


@router.patch("/{postmortem_id}", response_model=PostmortemRead)
def update_postmortem(
    postmortem_id: IdInPath,
    postmortem_in: PostmortemUpdate,
    db_session: DbSession,
    clock: AppClock,
    principal: Admin,
) -> PostmortemRead:
    postmortem = service.get(
        db_session=db_session, postmortem_id=postmortem_id, principal=principal, for_update=True
    )
    postmortem = service.update(
        db_session=db_session,
        clock=clock,
        postmortem=postmortem,
        postmortem_in=postmortem_in,
        principal=principal,
    )
    return service.to_read(db_session=db_session, clock=clock, postmortem=postmortem)


breach_drafts_router = APIRouter(tags=["postmortems"])


@breach_drafts_router.get("/breaches/{breach_id}/postmortem-draft", response_model=PostmortemCreate)
def postmortem_draft(
    breach_id: IdInPath, db_session: DbSession, clock: AppClock, principal: Reader
) -> PostmortemCreate:
    """A postmortem pre-filled from the breach, to complete and POST to /postmortems."""
    return service.draft_for_breach(
        db_session=db_session, clock=clock, breach_id=breach_id, principal=principal
    )
