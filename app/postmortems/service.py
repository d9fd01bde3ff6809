"""Use cases on postmortems: write them against breaches, and read them with the error budget each
breach spent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.clock import Clock
from app.core.budget import postmortem_required
from app.errors import InvalidInputError, NotFoundError
from app.evaluation import service as evaluation_service
from app.postmortems import repository
from app.postmortems.models import Postmortem
from app.postmortems.repository import BreachContext
from app.postmortems.schemas import (
    ActionItem,
    BreachImpact,
    LessonsLearned,
    MergedTimelineEntry,
    PostmortemCreate,
    PostmortemRead,
    PostmortemStatus,
    PostmortemUpdate,
    TimelineEntry,
    TimelineSource,
)

# Fields stored as they come; enums and JSON documents are converted one by one in `update`.
_PLAIN_FIELDS = ("title", "authors", "summary", "impact", "root_causes", "trigger", "resolution", "detection")


def create(
    *, db_session: Session, clock: Clock, postmortem_in: PostmortemCreate, principal: Principal
) -> Postmortem:
    breach_ids = list(postmortem_in.breach_ids)
    _check_breaches(db_session=db_session, breach_ids=breach_ids, principal=principal)
    now = clock.now()
    postmortem = Postmortem(
        title=postmortem_in.title,
        status=postmortem_in.status.value,
        authors=list(postmortem_in.authors),
        summary=postmortem_in.summary,
        impact=postmortem_in.impact,
        root_causes=postmortem_in.root_causes,
        trigger=postmortem_in.trigger,
        resolution=postmortem_in.resolution,
        detection=postmortem_in.detection,
        action_items=_action_items_json(postmortem_in.action_items),
        lessons_learned=postmortem_in.lessons_learned.model_dump(mode="json"),
        timeline=_timeline_json(postmortem_in.timeline),
        created_by=principal.key_name,
        created_at=now,
        updated_at=now,
    )
    repository.add(db_session=db_session, postmortem=postmortem)
    repository.replace_links(db_session=db_session, postmortem_id=postmortem.id, breach_ids=breach_ids)
    return postmortem


def get(
    *, db_session: Session, postmortem_id: int, principal: Principal, for_update: bool = False
) -> Postmortem:
    postmortem = repository.get(db_session=db_session, postmortem_id=postmortem_id, for_update=for_update)
    # A postmortem that touches another system answers like a missing one, so nothing about it leaks.
    if postmortem is None or not _visible(db_session=db_session, postmortem=postmortem, principal=principal):
        raise NotFoundError(f"postmortem {postmortem_id} does not exist")
    return postmortem


def list_visible(
    *, db_session: Session, principal: Principal, status: PostmortemStatus | None = None
) -> Sequence[Postmortem]:
    return repository.list_all(
        db_session=db_session,
        system_id=principal.system_id,
        status=None if status is None else status.value,
    )


def update(
    *,
    db_session: Session,
    clock: Clock,
    postmortem: Postmortem,
    postmortem_in: PostmortemUpdate,
    principal: Principal,
) -> Postmortem:
    if postmortem_in.breach_ids is not None:
        breach_ids = list(postmortem_in.breach_ids)
        _check_breaches(db_session=db_session, breach_ids=breach_ids, principal=principal)
        repository.replace_links(db_session=db_session, postmortem_id=postmortem.id, breach_ids=breach_ids)
    for name in _PLAIN_FIELDS:
        value = getattr(postmortem_in, name)
        if value is not None:
            setattr(postmortem, name, list(value) if isinstance(value, list) else value)
    if postmortem_in.status is not None:
        postmortem.status = postmortem_in.status.value
    if postmortem_in.action_items is not None:
        postmortem.action_items = _action_items_json(postmortem_in.action_items)
    if postmortem_in.lessons_learned is not None:
        postmortem.lessons_learned = postmortem_in.lessons_learned.model_dump(mode="json")
    if postmortem_in.timeline is not None:
        postmortem.timeline = _timeline_json(postmortem_in.timeline)
    postmortem.updated_at = clock.now()
    db_session.flush()
    return postmortem


def breach_impact(*, db_session: Session, clock: Clock, context: BreachContext) -> BreachImpact:
    """What one breach cost: its bad events over the error budget of the SLO period ending with it.

    The window runs from the breach's `window_start` to its resolution, or to now while it is open.
    """
    breach, slo, system = context
    impact = evaluation_service.breach_budget_impact(
        db_session=db_session, breach=breach, slo=slo, now=clock.now()
    )
    return BreachImpact(
        breach_id=breach.id,
        system=system.name,
        slo=slo.name,
        slo_phase=slo.phase,
        severity=breach.severity,
        objective=slo.objective,
        opened_at=breach.opened_at,
        window_start=breach.window_start,
        resolved_at=breach.resolved_at,
        window_end=impact.window_end,
        bad_events=impact.bad_events,
        total_events=impact.total_events,
        period_total_events=impact.period_total_events,
        budget_consumed_share=impact.budget_consumed_share,
        postmortem_required=postmortem_required(impact.budget_consumed_share),
    )


def to_read(*, db_session: Session, clock: Clock, postmortem: Postmortem) -> PostmortemRead:
    return to_reads(db_session=db_session, clock=clock, postmortems=[postmortem])[0]


def to_reads(*, db_session: Session, clock: Clock, postmortems: Sequence[Postmortem]) -> list[PostmortemRead]:
    links = repository.breach_ids_by_postmortem(
        db_session=db_session, postmortem_ids=[postmortem.id for postmortem in postmortems]
    )
    contexts = repository.breach_contexts(
        db_session=db_session, breach_ids={breach_id for ids in links.values() for breach_id in ids}
    )
    impacts = {
        breach_id: breach_impact(db_session=db_session, clock=clock, context=context)
        for breach_id, context in contexts.items()
    }
    return [
        _read(postmortem=postmortem, breaches=[impacts[breach_id] for breach_id in links[postmortem.id]])
        for postmortem in postmortems
    ]


def _read(*, postmortem: Postmortem, breaches: list[BreachImpact]) -> PostmortemRead:
    timeline = [TimelineEntry.model_validate(entry) for entry in postmortem.timeline]
    return PostmortemRead(
        id=postmortem.id,
        title=postmortem.title,
        status=PostmortemStatus(postmortem.status),
        authors=postmortem.authors,
        summary=postmortem.summary,
        impact=postmortem.impact,
        root_causes=postmortem.root_causes,
        trigger=postmortem.trigger,
        resolution=postmortem.resolution,
        detection=postmortem.detection,
        action_items=[ActionItem.model_validate(item) for item in postmortem.action_items],
        lessons_learned=LessonsLearned.model_validate(postmortem.lessons_learned),
        timeline=timeline,
        breach_ids=[impact.breach_id for impact in breaches],
        breaches=breaches,
        total_budget_consumed_share=sum(impact.budget_consumed_share for impact in breaches),
        postmortem_required=any(impact.postmortem_required for impact in breaches),
        timeline_with_breaches=_merged_timeline(timeline, breaches),
        created_by=postmortem.created_by,
        created_at=postmortem.created_at,
        updated_at=postmortem.updated_at,
    )


def _merged_timeline(
    timeline: list[TimelineEntry], breaches: list[BreachImpact]
) -> list[MergedTimelineEntry]:
    entries = [
        MergedTimelineEntry(at=entry.at, event=entry.event, source=TimelineSource.POSTMORTEM)
        for entry in timeline
    ]
    for impact in breaches:
        slo = f"{impact.system}/{impact.slo} ({impact.slo_phase})"
        entries.append(
            MergedTimelineEntry(
                at=impact.opened_at,
                event=f"breach {impact.breach_id} opened: {impact.severity} alert on {slo}",
                source=TimelineSource.BREACH,
                breach_id=impact.breach_id,
            )
        )
        if impact.resolved_at is not None:
            entries.append(
                MergedTimelineEntry(
                    at=impact.resolved_at,
                    event=f"breach {impact.breach_id} resolved on {slo}",
                    source=TimelineSource.BREACH,
                    breach_id=impact.breach_id,
                )
            )
    # Stable sort: at equal times, authors' entries keep their order and come before breach events.
    return sorted(entries, key=lambda entry: entry.at)


def _visible(*, db_session: Session, postmortem: Postmortem, principal: Principal) -> bool:
    if principal.system_id is None:
        return True
    breach_ids = repository.breach_ids_by_postmortem(db_session=db_session, postmortem_ids=[postmortem.id])
    contexts = repository.breach_contexts(db_session=db_session, breach_ids=breach_ids[postmortem.id])
    return all(principal.may_access_system(context.system.id) for context in contexts.values())


def _check_breaches(*, db_session: Session, breach_ids: list[int], principal: Principal) -> None:
    """Every breach must exist and be visible to the caller; otherwise 422 naming the first bad one."""
    contexts = repository.breach_contexts(db_session=db_session, breach_ids=breach_ids)
    for index, breach_id in enumerate(breach_ids):
        context = contexts.get(breach_id)
        # A breach of another system is reported as missing, so a bound key learns nothing about it.
        if context is None or not principal.may_access_system(context.system.id):
            raise InvalidInputError(f"breach {breach_id} does not exist", field=f"breach_ids.{index}")


def _action_items_json(action_items: Sequence[ActionItem]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in action_items]


def _timeline_json(timeline: Sequence[TimelineEntry]) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json") for entry in timeline]


def draft_for_breach(
    *, db_session: Session, clock: Clock, breach_id: int, principal: Principal
) -> PostmortemCreate:
    """A postmortem pre-filled from a breach: title, impact in budget terms, detection and timeline,
    ready to complete and POST."""
    context = repository.breach_contexts(db_session=db_session, breach_ids=[breach_id]).get(breach_id)
    if context is None or not principal.may_access_system(context.system.id):
        raise NotFoundError(f"breach {breach_id} does not exist", field="breach_id")
    breach, slo, system = context
    impact = breach_impact(db_session=db_session, clock=clock, context=context)
    details = breach.opening_details
    detection = f"{breach.severity} alert from mlslo's burn-rate rules"
    if details.get("long_window") and details.get("long_burn_rate") is not None:
        detection += (
            f": {details['long_window']}/{details['short_window']} windows burning at "
            f"{details['long_burn_rate']:.1f}x against a threshold of {details['burn_rate_threshold']:.1f}x"
        )
    timeline = [TimelineEntry(at=breach.opened_at, event=f"{breach.severity} alert fired for {slo.name}")]
    if breach.resolved_at is not None:
        timeline.append(TimelineEntry(at=breach.resolved_at, event=f"alert for {slo.name} resolved"))
    return PostmortemCreate(
        title=f"{system.name}/{slo.name}: {breach.severity} breach on {breach.opened_at:%Y-%m-%d}",
        impact=(
            f"{impact.bad_events} bad events of {impact.total_events} between {impact.window_start:%Y-%m-%d %H:%M} "
            f"and {impact.window_end:%Y-%m-%d %H:%M} UTC: {impact.budget_consumed_share:.1%} of the error budget."
        ),
        detection=detection + ".",
        timeline=timeline,
        breach_ids=[breach.id],
    )
