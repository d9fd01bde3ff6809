"""Pydantic models of the SLO definition format (`mlslo/v1` SLOSet files) and of the apply endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.core.request_sli import RequestSliKind
from app.core.windows import parse_window
from app.systems.models import Phase
from app.systems.schemas import SYSTEM_NAME_PATTERN

API_VERSION = "mlslo/v1"
SLO_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SHORTEST_WINDOW = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=400)
OBJECTIVE_REQUIRED = "objective (a ratio) or objective_percent is required"

# Strict: a definition file is configuration, so "0.99" (a string) or `true` for a count is a mistake,
# not something to coerce. Integers are still accepted where a number is expected.
_FILE_MODEL_CONFIG = ConfigDict(extra="forbid", strict=True, frozen=True)


class ErrorRateSli(BaseModel):
    """Good event: a pushed request that succeeded."""

    model_config = _FILE_MODEL_CONFIG

    kind: Literal["error_rate"]
    source: Literal["push"]


class LatencySli(BaseModel):
    """Good event: a pushed request answered within `threshold_ms`."""

    model_config = _FILE_MODEL_CONFIG

    kind: Literal["latency"]
    source: Literal["push"]
    threshold_ms: float = Field(gt=0)


Sli = Annotated[ErrorRateSli | LatencySli, Field(discriminator="kind")]
SLI_KINDS: frozenset[str] = frozenset(kind.value for kind in RequestSliKind)


class SloSpec(BaseModel):
    """One SLO as written in a definition file."""

    model_config = _FILE_MODEL_CONFIG

    name: str = Field(pattern=SLO_NAME_PATTERN)
    description: str = Field(default="", max_length=5000)
    sli: Sli
    objective: float | None = None
    objective_percent: float | None = Field(default=None, gt=0, lt=100)
    window: str
    min_events: int | None = Field(default=None, ge=1)

    @field_validator("objective")
    @classmethod
    def _objective_is_ratio(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value < 1:
            hint = f" (for a percentage write objective_percent: {value:g})" if 1 < value < 100 else ""
            raise ValueError(f"objective must be a ratio strictly between 0 and 1{hint}")
        return value

    @field_validator("objective_percent")
    @classmethod
    def _not_both_objectives(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A field validator (not a model one) so that the error points at the second key's line.
        if value is not None and info.data.get("objective") is not None:
            raise ValueError("give either objective or objective_percent, not both")
        return value

    @field_validator("window")
    @classmethod
    def _window_in_range(cls, value: str) -> str:
        period = parse_window(value)
        if not SHORTEST_WINDOW <= period <= LONGEST_WINDOW:
            raise ValueError(f"window {value!r} must be between 1h and 400d")
        return value

    @model_validator(mode="after")
    def _one_objective(self) -> SloSpec:
        if self.objective is None and self.objective_percent is None:
            raise ValueError(OBJECTIVE_REQUIRED)
        return self

    @property
    def objective_ratio(self) -> float:
        """The objective as a ratio in (0, 1), whichever way the file wrote it."""
        if self.objective is not None:
            return self.objective
        assert self.objective_percent is not None  # guaranteed by _one_objective
        return self.objective_percent / 100

    @property
    def period(self) -> timedelta:
        return parse_window(self.window)

    @property
    def sli_kind(self) -> RequestSliKind:
        return RequestSliKind(self.sli.kind)

    @property
    def threshold_ms(self) -> float | None:
        return self.sli.threshold_ms if isinstance(self.sli, LatencySli) else None


class SloSetDocument(BaseModel):
    """The whole file: one system's SLOs for one phase."""

    model_config = _FILE_MODEL_CONFIG

    api_version: Literal["mlslo/v1"] = Field(alias="apiVersion")
    kind: Literal["SLOSet"]
    system: str | None = Field(default=None, pattern=SYSTEM_NAME_PATTERN)
    phase: Phase | None = Field(default=None, strict=False)
    slos: list[SloSpec]


class SloDefinitionFile(BaseModel):
    """One definition file sent over the API; `path` names it as `<system>/<phase>.yaml`."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=500, examples=["recommender/production.yaml"])
    content: str = Field(max_length=1_000_000)


class SloDefinitionsApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[SloDefinitionFile] = Field(min_length=1, max_length=500)
    dry_run: bool = Field(default=False, description="Validate and plan, but change nothing.")


class SloApplyRead(BaseModel):
    """What an apply did (or, on a dry run, would do); entries are `system/phase/name`."""

    applied: bool
    created: list[str]
    updated: list[str]
    restored: list[str] = Field(description="Archived SLOs that are back in their file.")
    archived: list[str]
    unchanged: list[str]
