"""Applying loaded SLO definition files to the database: all files or none, SLOs updated in place,
and SLOs removed from a file archived rather than deleted."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.service import Principal
from app.clock import Clock
from app.core.windows import parse_window
from app.errors import InvalidInputError, NotFoundError
from app.slos import repository
from app.slos.definition import CalendarWindow, SloSpec
from app.slos.loader import SloFile, SloFileError, find_conflicting_files
from app.slos.models import Slo, SloVersion
from app.systems import repository as systems_repository
from app.systems.models import System

logger = logging.getLogger(__name__)


class SloApplyError(InvalidInputError):
    """The batch cannot be applied; nothing was changed."""

    def __init__(self, errors: list[SloFileError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class ApplyPlan:
    """What applying the files changes; every entry is `system/phase/name`."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    restored: tuple[str, ...]
    archived: tuple[str, ...]
    unchanged: tuple[str, ...]
    # For each updated SLO: (field, old value, new value) of every column that changes.
    differences: dict[str, tuple[FieldChange, ...]] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.created or self.updated or self.restored or self.archived)


@dataclass(frozen=True)
class SloUnit:
    """One evaluable objective of an SLO in a file, as the columns of its row."""

    name: str
    columns: dict[str, Any]


@dataclass(frozen=True)
class _Write:
    """One SLO row to create (no `existing` row) or to rewrite from its file."""

    label: str
    system: System
    slo_file: SloFile
    unit: SloUnit
    existing: Slo | None


@dataclass
class _Changes:
    created: list[_Write] = field(default_factory=list)
    updated: list[_Write] = field(default_factory=list)
    restored: list[_Write] = field(default_factory=list)
    archived: dict[str, Slo] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    def plan(self) -> ApplyPlan:
        return ApplyPlan(
            created=tuple(sorted(write.label for write in self.created)),
            updated=tuple(sorted(write.label for write in self.updated)),
            restored=tuple(sorted(write.label for write in self.restored)),
            archived=tuple(sorted(self.archived)),
            unchanged=tuple(sorted(self.unchanged)),
            differences={
                write.label: _field_changes(write.existing, write.unit)
                for write in self.updated
                if write.existing is not None
            },
        )


def get_in_current_phase(
    *, db_session: Session, system: System, name: str, include_archived: bool = False
) -> Slo:
    """The system's SLO `name` in its current phase, or NotFoundError naming `slo_name`."""
    slo = repository.get_by_name(db_session=db_session, system_id=system.id, phase=system.phase, name=name)
    if slo is None or (slo.archived_at is not None and not include_archived):
        raise NotFoundError(
            f"system {system.name!r} has no SLO {name!r} in phase {system.phase!r}", field="slo_name"
        )
    return slo


def plan_apply(
    *, db_session: Session, files: Sequence[SloFile], principal: Principal | None = None
) -> ApplyPlan:
    """What `apply` would do, without changing anything; raises SloApplyError like `apply` would."""
    return _find_changes(db_session=db_session, files=files, principal=principal).plan()


def apply(
    *,
    db_session: Session,
    clock: Clock,
    files: Sequence[SloFile],
    applied_by: str,
    principal: Principal | None = None,
) -> ApplyPlan:
    """Make the SLOs of each file's system and phase match the file. Every file is checked before
    anything changes; the caller commits. A `principal` bound to one system may only apply its files."""
    changes = _find_changes(db_session=db_session, files=files, principal=principal)
    now = clock.now()
    for write in [*changes.created, *changes.updated, *changes.restored]:
        slo = write.existing
        if slo is None:
            slo = Slo(system_id=write.system.id, phase=write.slo_file.phase.value, created_at=now, version=1)
            _copy_unit(slo, unit=write.unit, source_path=write.slo_file.path, now=now)
            repository.add(db_session=db_session, slo=slo)
        else:
            # Same row, same id: measurements and breaches are keyed by it. The change is a new
            # version, effective from now; the counts already stored are kept.
            slo.version += 1
            _copy_unit(slo, unit=write.unit, source_path=write.slo_file.path, now=now)
        repository.add_version(
            db_session=db_session,
            version=SloVersion(
                slo_id=slo.id,
                version=slo.version,
                objective=slo.objective,
                period=slo.period,
                definition=slo.definition,
                source_path=slo.source_path,
                effective_from=now,
                applied_by=applied_by,
            ),
        )
    for slo in changes.archived.values():
        slo.archived_at = now
        slo.updated_at = now
    for slo_file in files:
        _record_score_minimum(db_session, slo_file)
    db_session.flush()
    plan = changes.plan()
    logger.info(
        "SLO definitions applied by %s: %d created, %d updated, %d restored, %d archived, %d unchanged",
        applied_by,
        len(plan.created),
        len(plan.updated),
        len(plan.restored),
        len(plan.archived),
        len(plan.unchanged),
    )
    return plan


def _record_score_minimum(db_session: Session, slo_file: SloFile) -> None:
    """The file's `min_ml_test_score` becomes its system's requirement for entering the file's phase."""
    system = systems_repository.get_by_name(db_session=db_session, name=slo_file.system)
    if system is None:
        return
    minimums = dict(system.ml_test_score_minimums or {})
    if slo_file.min_ml_test_score is None:
        minimums.pop(slo_file.phase.value, None)
    else:
        minimums[slo_file.phase.value] = slo_file.min_ml_test_score
    if minimums != (system.ml_test_score_minimums or {}):
        system.ml_test_score_minimums = minimums


def _find_changes(*, db_session: Session, files: Sequence[SloFile], principal: Principal | None) -> _Changes:
    errors = find_conflicting_files(files)
    systems = systems_repository.get_by_names(
        db_session=db_session, names={slo_file.system for slo_file in files}
    )
    for slo_file in files:
        system = systems.get(slo_file.system)
        # A key bound to another system is told the same as for a missing one, so names do not leak.
        if system is None or (principal is not None and not principal.may_access_system(system.id)):
            errors.append(
                SloFileError(
                    slo_file.path,
                    slo_file.line_of("system"),
                    "system",
                    f"system {slo_file.system!r} is not registered; register it before applying its SLOs",
                    column=slo_file.column_of("system"),
                )
            )
    if errors:
        raise SloApplyError(errors)

    changes = _Changes()
    for slo_file in files:
        system = systems[slo_file.system]
        existing_by_name = {
            slo.name: slo
            for slo in repository.list_for_system_phase(
                db_session=db_session, system_id=system.id, phase=slo_file.phase.value
            )
        }
        for unit in (unit for spec in slo_file.slos for unit in slo_units(spec)):
            existing = existing_by_name.pop(unit.name, None)
            write = _Write(_label(slo_file, unit.name), system, slo_file, unit, existing)
            if existing is None:
                changes.created.append(write)
            elif existing.archived_at is not None:
                changes.restored.append(write)
            elif _differs(existing, unit) or existing.source_path != slo_file.path:
                changes.updated.append(write)
            else:
                changes.unchanged.append(write.label)
        # What is left is no longer in the file.
        for name, existing in existing_by_name.items():
            if existing.archived_at is None:
                changes.archived[_label(slo_file, name)] = existing
    return changes


def slo_units(spec: SloSpec) -> list[SloUnit]:
    """The rows an SLO becomes: one per objective, named `<slo>.<objective>` when it has several."""
    objectives = spec.resolved_objectives()
    window = spec.window
    calendar = window if isinstance(window, CalendarWindow) else None
    definition = spec.model_dump(mode="json", exclude_none=True)
    units = []
    for objective in objectives:
        name = (
            spec.name if len(objectives) == 1 or objective.name is None else f"{spec.name}.{objective.name}"
        )
        columns: dict[str, Any] = {
            "name": name,
            "objective_name": objective.name,
            "description": spec.description,
            "sli_kind": spec.sli.kind.value,
            "metric": spec.metric,
            "source": spec.sli.source.value,
            "threshold_ms": objective.value if spec.sli.kind.value == "latency" else None,
            "objective": objective.target,
            "objective_op": None if objective.op is None else objective.op.value,
            "objective_value": objective.value,
            "budgeting_method": spec.budgeting_method.value,
            "time_slice_window": None if spec.time_slice is None else parse_window(spec.time_slice.window),
            "time_slice_target": None if spec.time_slice is None else spec.time_slice.target,
            "period": spec.period,
            "calendar_unit": None if calendar is None else calendar.calendar,
            "time_zone": None if calendar is None else calendar.time_zone,
            "owner_side": spec.owner_side,
            "min_events": spec.alerting.min_events,
            "page_enabled": spec.alerting.page,
            "ticket_enabled": spec.alerting.ticket,
            "max_bad_events": spec.alerting.max_bad_events,
            "definition": definition,
        }
        units.append(SloUnit(name=name, columns=columns))
    return units


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def _field_changes(slo: Slo, unit: SloUnit) -> tuple[FieldChange, ...]:
    # `definition` repeats the other columns as the file wrote them; the columns say what changed.
    return tuple(
        FieldChange(column, getattr(slo, column), value)
        for column, value in unit.columns.items()
        if column != "definition" and getattr(slo, column) != value
    )


def _differs(slo: Slo, unit: SloUnit) -> bool:
    return any(getattr(slo, column) != value for column, value in unit.columns.items())


def _copy_unit(slo: Slo, *, unit: SloUnit, source_path: str, now: datetime) -> None:
    for column, value in unit.columns.items():
        setattr(slo, column, value)
    slo.source_path = source_path
    slo.updated_at = now
    slo.archived_at = None


def _label(slo_file: SloFile, name: str) -> str:
    return f"{slo_file.system}/{slo_file.phase.value}/{name}"
