"""The `mlslo` command line: serve, demo, validate, apply, db and keys."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from app.alerting_policy.cli import silence_cli
from app.config import Settings, get_settings
from app.slos.import_cli import mount as mount_import_export

if TYPE_CHECKING:
    from app.slos.service import ApplyPlan

cli = typer.Typer(
    no_args_is_help=True, add_completion=False, help="SLI/SLO reliability monitoring for ML systems."
)
db_cli = typer.Typer(no_args_is_help=True, help="Database schema.")
keys_cli = typer.Typer(no_args_is_help=True, help="API keys.")
cli.add_typer(db_cli, name="db")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(silence_cli, name="silence")
mount_import_export(cli)


def _settings() -> Settings:
    from app.runtime import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return settings


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default MLSLO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default MLSLO_PORT).")] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the schema before starting.")] = True,
) -> None:
    """Run the API and the scheduler (evaluation and notification delivery)."""
    import uvicorn

    from app.runtime import build_service, open_database, release_database

    settings = _settings()
    database = open_database(settings, migrate=migrate)
    app = build_service(settings, database, on_shutdown=[lambda: release_database(settings, database)])
    uvicorn.run(
        app, host=host or settings.host, port=port or settings.port, log_level=settings.log_level.lower()
    )


@cli.command()
def scheduler(
    migrate: Annotated[bool, typer.Option(help="Upgrade the schema before starting.")] = True,
) -> None:
    """Run only the scheduled jobs (collection, evaluation, delivery, upkeep), without the API."""
    from app.runtime import open_database, run_scheduler

    settings = _settings()
    run_scheduler(settings, open_database(settings, migrate=migrate))


@cli.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="End by printing one JSON summary object.")] = False,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 600.0,
    keep_serving: Annotated[bool, typer.Option(help="Keep the service running after the scenario.")] = False,
) -> None:
    """Run the service on the embedded Postgres with a simulated incident, Slack alerts and a postmortem."""
    from app.demo.scenario import run_demo

    settings = _settings()
    summary = run_demo(settings, speed=speed, keep_serving=keep_serving, echo=not as_json)
    print(json.dumps(summary, default=str, indent=None if as_json else 2))


@cli.command()
def validate(path: Annotated[Path, typer.Argument(help="A definitions folder or one SLO file.")]) -> None:
    """Check SLO files; print every error with file, line and field."""
    from app.slos.loader import load_path

    result = load_path(path)
    for error in result.errors:
        typer.echo(str(error), err=True)
    if result.errors:
        typer.echo(f"{len(result.errors)} error(s) in {path}", err=True)
        raise typer.Exit(1)
    count = sum(len(file.slos) for file in result.files)
    typer.echo(f"{len(result.files)} file(s), {count} SLO(s): valid")


@cli.command()
def apply(
    path: Annotated[Path, typer.Argument(help="A definitions folder or one SLO file.")],
    dry_run: Annotated[bool, typer.Option(help="Show the plan without changing anything.")] = False,
) -> None:
    """Apply SLO files to the database: all of them, or none if any is invalid."""
    from app.clock import SystemClock
    from app.db import transaction
    from app.runtime import open_database
    from app.slos import service as slos_service
    from app.slos.loader import load_path

    result = load_path(path)
    if result.errors:
        _fail_with(result.errors, "nothing applied")
    database = open_database(_settings())
    try:
        with transaction(database.session_factory) as db_session:
            if dry_run:
                plan = slos_service.plan_apply(db_session=db_session, files=result.files)
                db_session.rollback()
            else:
                plan = slos_service.apply(
                    db_session=db_session, clock=SystemClock(), files=result.files, applied_by="cli"
                )
    except slos_service.SloApplyError as exc:
        _fail_with(exc.errors, "nothing applied")
    _print_plan(plan)
    typer.echo("dry run: nothing changed" if dry_run else "applied")


@cli.command()
def plan(path: Annotated[Path, typer.Argument(help="A definitions folder or one SLO file.")]) -> None:
    """Show what `apply` would create, change or archive, field by field, without changing anything."""
    from app.db import transaction
    from app.runtime import open_database
    from app.slos import service as slos_service
    from app.slos.loader import load_path

    result = load_path(path)
    if result.errors:
        _fail_with(result.errors, "nothing planned")
    database = open_database(_settings())
    try:
        with transaction(database.session_factory) as db_session:
            plan = slos_service.plan_apply(db_session=db_session, files=result.files)
            db_session.rollback()
    except slos_service.SloApplyError as exc:
        _fail_with(exc.errors, "nothing planned")
    _print_plan(plan)


def _print_plan(plan: ApplyPlan) -> None:
    for name in plan.created:
        typer.secho(f"  + {name}", fg=typer.colors.GREEN)
    for name in plan.restored:
        typer.secho(f"  + {name}  (restored from archive, with its history)", fg=typer.colors.GREEN)
    for name in plan.updated:
        typer.secho(f"  ~ {name}  (new version; stored data is kept)", fg=typer.colors.YELLOW)
        for change in plan.differences.get(name, ()):
            typer.echo(f"      {change.field}: {_shown(change.old)} -> {_shown(change.new)}")
    for name in plan.archived:
        typer.secho(f"  - {name}  (archived; its data is kept)", fg=typer.colors.RED)
    typer.echo(
        f"Plan: {len(plan.created) + len(plan.restored)} to add, {len(plan.updated)} to change, "
        f"{len(plan.archived)} to archive, {len(plan.unchanged)} unchanged."
    )


def _shown(value: object) -> str:
    if isinstance(value, timedelta):
        from app.core.windows import window_label

        return window_label(value)
    return "none" if value is None else str(value)


def _fail_with(errors: Sequence[object], outcome: str) -> NoReturn:
    for error in errors:
        typer.echo(str(error), err=True)
    typer.echo(f"{len(errors)} error(s); {outcome}", err=True)
    raise typer.Exit(1)


@cli.command()
def backfill(
    system: Annotated[str, typer.Argument(help="The system's name.")],
    slo: Annotated[str, typer.Argument(help="The SLO's name, in the system's current phase.")],
    start: Annotated[
        datetime, typer.Option("--from", help="Start, on a whole minute (UTC unless an offset is given).")
    ],
    end: Annotated[datetime, typer.Option("--to", help="End, on a whole minute.")],
    step: Annotated[
        str | None, typer.Option(help="Step, e.g. 5m (default: the SLO's collect_every).")
    ] = None,
) -> None:
    """Fill an SLO's history from Prometheus (range queries), for the time before it existed."""
    import httpx

    from app.collectors.backfill import backfill_prometheus
    from app.core.windows import parse_window
    from app.db import transaction
    from app.errors import DomainError
    from app.runtime import OUTBOUND_TIMEOUT, open_database
    from app.slos import repository as slos_repository
    from app.systems import repository as systems_repository

    settings = _settings()
    if settings.prometheus_url is None:
        typer.echo("MLSLO_PROMETHEUS_URL is not set", err=True)
        raise typer.Exit(2)
    start, end = (moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in (start, end))
    database = open_database(settings)
    try:
        with (
            transaction(database.session_factory) as db_session,
            httpx.Client(timeout=OUTBOUND_TIMEOUT) as client,
        ):
            found = systems_repository.get_by_name(db_session=db_session, name=system)
            target = (
                None
                if found is None
                else slos_repository.get_by_name(
                    db_session=db_session, system_id=found.id, phase=found.phase, name=slo
                )
            )
            if target is None:
                typer.echo(f"no SLO {slo!r} in force for system {system!r}", err=True)
                raise typer.Exit(1)
            report = backfill_prometheus(
                db_session=db_session,
                http_client=client,
                base_url=settings.prometheus_url,
                slo=target,
                start=start,
                end=end,
                step=None if step is None else parse_window(step),
            )
    except (DomainError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if report.samples_written:
        typer.echo(f"{report.samples_written} reading(s) written from {report.points} step(s)")
    else:
        typer.echo(
            f"{report.minutes_written} minute(s) written from {report.points} point(s): "
            f"{report.good} good of {report.total} events"
        )


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Upgrade the schema (creates the embedded database when no URL is set)."""
    from app import migrations
    from app.runtime import open_database

    database = open_database(_settings())
    migrations.upgrade(database.engine, revision)
    typer.echo(f"database at {revision}")


@db_cli.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")]) -> None:
    """Downgrade the schema."""
    from app import migrations
    from app.runtime import open_database

    database = open_database(_settings())
    migrations.downgrade(database.engine, revision)
    typer.echo(f"database at {revision}")


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A unique name; recorded as the actor of changes.")],
    scope: Annotated[list[str], typer.Option(help="read, ingest or admin; repeat for several.")],
    system: Annotated[str | None, typer.Option(help="Bind the key to one system.")] = None,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from app.auth import service as auth_service
    from app.auth.service import Scope
    from app.clock import SystemClock
    from app.db import transaction
    from app.errors import DomainError
    from app.runtime import open_database

    try:
        scopes = [Scope(value) for value in scope]
    except ValueError:
        typer.echo(f"--scope must be one of: {', '.join(s.value for s in Scope)}", err=True)
        raise typer.Exit(2) from None
    database = open_database(_settings())
    try:
        with transaction(database.session_factory) as db_session:
            created = auth_service.create_key(
                db_session=db_session, clock=SystemClock(), name=name, scopes=scopes, system_name=system
            )
    except DomainError as exc:
        typer.echo(f"{exc.field}: {exc.message}" if exc.field else exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(created.secret)


def main() -> None:
    cli(args=sys.argv[1:], prog_name="mlslo")
