"""`mlslo import openslo|sloth PATH...` and `mlslo export openslo PATH`.

Mount with `mount(cli)`, or `cli.add_typer(import_cli, name="import")` and
`cli.add_typer(export_cli, name="export")`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.slos.loader import SloFileError
from app.slos.openslo import ImportResult
from app.systems.models import Phase

YAML_SUFFIXES = (".yaml", ".yml")

import_cli = typer.Typer(
    no_args_is_help=True,
    help="Convert OpenSLO v1 or Sloth prometheus/v1 files to mlslo/v1 and print them.",
)
export_cli = typer.Typer(no_args_is_help=True, help="Print SLO definitions in another format.")

Paths = Annotated[
    list[Path],
    typer.Argument(help="Files, or folders whose .yaml/.yml files are read; imported together."),
]
PhaseOption = Annotated[
    Phase,
    typer.Option(
        help="Phase of the imported SLOs (an OpenSLO SLO's mlslo.dev/phase annotation wins). "
        "Production files also need an ML SLI before they can be applied."
    ),
]


def mount(cli: typer.Typer) -> None:
    cli.add_typer(import_cli, name="import")
    cli.add_typer(export_cli, name="export")


@import_cli.command("openslo")
def import_openslo_command(paths: Paths, phase: PhaseOption = Phase.PRODUCTION) -> None:
    """Print OpenSLO v1 files (Service, SLO, SLI, DataSource, Alert*) as mlslo/v1 documents."""
    from app.slos.openslo import import_openslo

    sources, errors = _read_sources(paths)
    _finish(import_openslo(sources, phase=phase), errors)


@import_cli.command("sloth")
def import_sloth_command(
    paths: Paths,
    phase: PhaseOption = Phase.PRODUCTION,
    window: Annotated[str, typer.Option(help="Rolling window of every SLO (Sloth's SLO period).")] = "30d",
) -> None:
    """Print Sloth prometheus/v1 files as mlslo/v1 documents, on the Prometheus source."""
    from app.slos.sloth import import_sloth

    sources, errors = _read_sources(paths)
    _finish(import_sloth(sources, phase=phase, window=window), errors)


@export_cli.command("openslo")
def export_openslo_command(
    path: Annotated[Path, typer.Argument(help="A definitions folder or one SLO file.")],
) -> None:
    """Print mlslo/v1 definitions as OpenSLO v1 (a Service per system, an SLO per SLO)."""
    from app.slos.loader import load_path
    from app.slos.openslo import export_openslo

    result = load_path(path)
    if result.errors:
        _fail(result.errors, "nothing exported")
    typer.echo(export_openslo(result.files), nl=False)


def _read_sources(paths: list[Path]) -> tuple[list[tuple[str, str]], list[SloFileError]]:
    sources: list[tuple[str, str]] = []
    errors: list[SloFileError] = []
    for path in paths:
        if path.is_dir():
            files = [
                candidate
                for candidate in sorted(path.rglob("*"))
                if candidate.is_file()
                and candidate.suffix.lower() in YAML_SUFFIXES
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            ]
            if not files:
                errors.append(
                    SloFileError(file=str(path), line=None, field="", message="no .yaml or .yml files")
                )
        elif path.is_file():
            files = [path]
        else:
            errors.append(
                SloFileError(file=str(path), line=None, field="", message="no such file or directory")
            )
            continue
        for file in files:
            try:
                sources.append((str(file), file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(
                    SloFileError(file=str(file), line=None, field="", message=f"cannot read file: {exc}")
                )
    return sources, errors


def _finish(result: ImportResult, read_errors: list[SloFileError]) -> None:
    from app.slos.openslo import render_native

    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    errors = [*read_errors, *result.errors]
    if errors:
        _fail(errors, "nothing imported")
    if not result.documents:
        typer.echo("no SLOs or services found", err=True)
        return
    typer.echo(render_native(result.documents), nl=False)


def _fail(errors: list[SloFileError], outcome: str) -> None:
    for error in errors:
        typer.echo(str(error), err=True)
    typer.echo(f"{len(errors)} error(s); {outcome}", err=True)
    raise typer.Exit(1)
