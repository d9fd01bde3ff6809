"""Small builders of database rows for tests that do not go through the SLO files."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.clock import Clock
from app.slos.models import Slo
from app.systems import service as systems_service
from app.systems.models import Phase, System
from app.systems.schemas import Owner, SystemCreate


def create_system(
    db_session: Session, clock: Clock, name: str = "recommender", phase: Phase = Phase.PRODUCTION
) -> System:
    system = systems_service.register(
        db_session=db_session,
        clock=clock,
        system_in=SystemCreate(
            name=name,
            phase=phase,
            service_owner=Owner(name="web-team", slack_channel="#recs-oncall"),
            model_owner=Owner(name="ml-team", slack_channel="#recs-ml"),
        ),
        registered_by="test",
    )
    db_session.flush()
    return system


def create_slo(
    db_session: Session,
    clock: Clock,
    system: System,
    name: str = "api-availability",
    *,
    sli_kind: str = "error_rate",
    objective: float = 0.999,
    period: timedelta = timedelta(days=30),
    threshold_ms: float | None = None,
    min_events: int | None = None,
) -> Slo:
    now: datetime = clock.now()
    slo = Slo(
        system_id=system.id,
        phase=system.phase,
        name=name,
        description="",
        sli_kind=sli_kind,
        threshold_ms=threshold_ms,
        objective=objective,
        period=period,
        min_events=min_events,
        definition={},
        source_path=f"{system.name}/{system.phase}.yaml",
        created_at=now,
        updated_at=now,
    )
    db_session.add(slo)
    db_session.flush()
    return slo


def create_collected_slo(
    db_session: Session,
    clock: Clock,
    system: System,
    name: str,
    *,
    source: str,
    block: dict[str, object],
    collect_every: str = "1m",
    sli_kind: str = "error_rate",
    **slo_fields: object,
) -> Slo:
    """An SLO that mlslo collects itself, with its source block as a definition file would give it."""
    slo = create_slo(db_session, clock, system, name, sli_kind=sli_kind, **slo_fields)  # type: ignore[arg-type]
    slo.source = source
    slo.definition = {
        "sli": {"kind": sli_kind, "source": source, "collect_every": collect_every, source: block}
    }
    db_session.flush()
    return slo
