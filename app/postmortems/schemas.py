"""API schemas of postmortems (Google SRE postmortem template) and of the breaches they explain."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, field_validator

from app.db import MAX_DATABASE_ID
from app.timestamps import supported_utc

BreachId = Annotated[int, Field(ge=1, le=MAX_DATABASE_ID)]
Text = Annotated[str, Field(max_length=20_000)]
ShortText = Annotated[str, Field(min_length=1, max_length=500)]


class PostmortemStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"


class ActionItemType(enum.StrEnum):
    MITIGATE = "mitigate"
    PREVENT = "prevent"
    PROCESS = "process"


class ActionItemPriority(enum.StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class ActionItemStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


URL_LIMIT = 2083


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Field(min_length=1, max_length=5000)]
    type: ActionItemType
    priority: ActionItemPriority
    owner: ShortText
    tracker_url: HttpUrl | None = None
    status: ActionItemStatus = ActionItemStatus.OPEN

    @field_validator("tracker_url")
    @classmethod
    def _fits_once_normalised(cls, url: HttpUrl | None) -> HttpUrl | None:
        # Normalising can lengthen a URL (a "/" after the host); it must still be readable back.
        if url is not None and len(str(url)) > URL_LIMIT:
            raise ValueError(f"URL should have at most {URL_LIMIT} characters once normalised")
        return url


class LessonsLearned(BaseModel):
    model_config = ConfigDict(extra="forbid")

    went_well: list[Text] = Field(default_factory=list)
    went_wrong: list[Text] = Field(default_factory=list)
    got_lucky: list[Text] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime = Field(description="When it happened; must carry a UTC offset. Stored in UTC.")
    event: Annotated[str, Field(min_length=1, max_length=5000)]

    @field_validator("at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return supported_utc(value)


def _unique_breach_ids(breach_ids: list[int]) -> list[int]:
    seen: set[int] = set()
    for breach_id in breach_ids:
        if breach_id in seen:
            raise ValueError(f"breach {breach_id} is listed more than once")
        seen.add(breach_id)
    return breach_ids


class PostmortemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    status: PostmortemStatus = PostmortemStatus.DRAFT
    authors: list[ShortText] = Field(default_factory=list)
    summary: Text = ""
    impact: Text = ""
    root_causes: Text = ""
    trigger: Text = ""
    resolution: Text = ""
    detection: Text = ""
    action_items: list[ActionItem] = Field(default_factory=list)
    lessons_learned: LessonsLearned = Field(default_factory=LessonsLearned)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    breach_ids: list[BreachId] = Field(min_length=1, description="The breaches this postmortem explains.")

    @field_validator("breach_ids")
    @classmethod
    def _check_breach_ids(cls, value: list[int]) -> list[int]:
        return _unique_breach_ids(value)


class PostmortemUpdate(BaseModel):
    """Fields to change; the ones left out keep their value. `breach_ids` replaces all links."""

    model_config = ConfigDict(extra="forbid")

    title: ShortText | None = None
    status: PostmortemStatus | None = None
    authors: list[ShortText] | None = None
    summary: Text | None = None
    impact: Text | None = None
    root_causes: Text | None = None
    trigger: Text | None = None
    resolution: Text | None = None
    detection: Text | None = None
    action_items: list[ActionItem] | None = None
    lessons_learned: LessonsLearned | None = None
    timeline: list[TimelineEntry] | None = None
    breach_ids: list[BreachId] | None = Field(default=None, min_length=1)

    # Only given values are validated, so this rejects an explicit null but not an omitted field.
    @field_validator("*")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value

    @field_validator("breach_ids")
    @classmethod
    def _check_breach_ids(cls, value: list[int] | None) -> list[int] | None:
        return None if value is None else _unique_breach_ids(value)


class BreachImpact(BaseModel):
    """One linked breach and the share of its SLO's error budget it spent."""

    breach_id: int
    system: str
    slo: str
    slo_phase: str
    severity: str
    objective: float
    opened_at: datetime
    window_start: datetime
    resolved_at: datetime | None
    window_end: datetime = Field(description="`resolved_at`, or now while the breach is open.")
    bad_events: int = Field(description="Bad events in [window_start, window_end).")
    total_events: int = Field(description="Valid events in [window_start, window_end).")
    period_total_events: int = Field(description="Valid events in [window_end - period, window_end).")
    budget_consumed_share: float = Field(
        description="bad_events / ((1 - objective) * period_total_events); 0 when the period saw no events."
    )
    postmortem_required: bool = Field(description="budget_consumed_share > 0.20 (Workbook policy).")


class TimelineSource(enum.StrEnum):
    POSTMORTEM = "postmortem"
    BREACH = "breach"


class MergedTimelineEntry(BaseModel):
    at: datetime
    event: str
    source: TimelineSource
    breach_id: int | None = None


class PostmortemRead(BaseModel):
    id: int
    title: str
    status: PostmortemStatus
    authors: list[str]
    summary: str
    impact: str
    root_causes: str
    trigger: str
    resolution: str
    detection: str
    action_items: list[ActionItem]
    lessons_learned: LessonsLearned
    timeline: list[TimelineEntry]
    breach_ids: list[int]
    breaches: list[BreachImpact]
    total_budget_consumed_share: float = Field(description="Sum of the linked breaches' shares.")
    postmortem_required: bool = Field(description="True when any linked breach requires a postmortem.")
    timeline_with_breaches: list[MergedTimelineEntry] = Field(
        description="The timeline merged with each breach's opening and resolution, sorted by time."
    )
    created_by: str
    created_at: datetime
    updated_at: datetime
