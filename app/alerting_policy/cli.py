"""`mlslo silence create|list|expire`: silences from the command line, on the configured database.

Mount with `cli.add_typer(silence_cli, name="silence")`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from app.core.burn_rate_policy import Severity

if TYPE_CHECKING:
    from app.alerting_policy.schemas import SilenceRead
    from app.db import SessionFactory

silence_cli = typer.Typer(no_args_is_help=True, help="Silences: mute a system's notifications for a while.")


@silence_cli.command("create")
def create_command(
    system: Annotated[str, typer.Argument(help="The system's name.")],
    duration: Annotated[str, typer.Option(help="How long, e.g. 30m, 2h, 1d (at most 30d).")],
    comment: Annotated[str, typer.Option(help="Why; shown with every muted alert.")],
    slo: Annotated[str | None, typer.Option(help="Only this SLO (default: every SLO).")] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity (default: both).")] = None,
    by: Annotated[str, typer.Option(help="Who creates it; recorded as created_by.")] = "cli",
) -> None:
    """Create a silence starting now, and print its id."""
    from pydantic import ValidationError

    from app.alerting_policy import service
    from app.alerting_policy.schemas import SilenceCreate
    from app.clock import SystemClock
    from app.db import transaction

    try:
        body = SilenceCreate(system=system, slo=slo, severity=severity, duration=duration, comment=comment)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            typer.echo(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}", err=True)
        raise typer.Exit(1) from None
    clock = SystemClock()
    with _failing_on_domain_errors(), transaction(_session_factory()) as db_session:
        silence = service.create_silence(db_session=db_session, clock=clock, body=body, created_by=by)
        line = _line(service.silence_to_read(silence, clock.now()))
    typer.echo(line)


@silence_cli.command("list")
def list_command(
    show_all: Annotated[bool, typer.Option("--all", help="Include silences that are over.")] = False,
) -> None:
    """List silences, newest start first: by default those not over yet (active or pending)."""
    from app.alerting_policy import service
    from app.clock import SystemClock
    from app.db import transaction

    clock = SystemClock()
    with transaction(_session_factory()) as db_session:
        now = clock.now()
        reads = [
            service.silence_to_read(silence, now)
            for silence in service.list_silences(db_session=db_session, clock=clock, active_only=not show_all)
        ]
    _print(reads)


@silence_cli.command("expire")
def expire_command(silence_id: Annotated[int, typer.Argument(help="The silence's id.", min=1)]) -> None:
    """End a silence now (a pending one is cancelled)."""
    from app.alerting_policy import service
    from app.clock import SystemClock
    from app.db import transaction

    clock = SystemClock()
    with _failing_on_domain_errors(), transaction(_session_factory()) as db_session:
        silence = service.expire_silence(db_session=db_session, clock=clock, silence_id=silence_id)
        line = _line(service.silence_to_read(silence, clock.now()))
    typer.echo(line)


def _session_factory() -> SessionFactory:
    from app.config import get_settings
    from app.runtime import configure_logging, open_database

    settings = get_settings()
    configure_logging(settings.log_level)
    return open_database(settings).session_factory


@contextmanager
def _failing_on_domain_errors() -> Iterator[None]:
    from app.errors import DomainError

    try:
        yield
    except DomainError as exc:
        typer.echo(f"{exc.field}: {exc.message}" if exc.field else exc.message, err=True)
        raise typer.Exit(1) from None


def _line(silence: SilenceRead) -> str:
    scope = silence.system if silence.slo is None else f"{silence.system}/{silence.slo}"
    return (
        f"{silence.id}\t{silence.state.value}\t{scope}\t{silence.severity or 'any'}\t"
        f"{silence.starts_at.isoformat()}\t{silence.ends_at.isoformat()}\t{silence.created_by}\t"
        f"{silence.comment}"
    )


def _print(silences: Sequence[SilenceRead]) -> None:
    if not silences:
        typer.echo("no silences")
        return
    typer.echo("id\tstate\tscope\tseverity\tstarts_at\tends_at\tcreated_by\tcomment")
    for silence in silences:
        typer.echo(_line(silence))
