"""Pydantic models of the SLO definition format (`mlslo/v1` SLOSet files) and of the apply endpoint."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
