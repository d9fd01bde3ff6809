"""`mlslo import openslo|sloth` and `mlslo export openslo` through typer, on the conformance corpus in
../shared/conformance (read where CI puts it, never skipped) and the example definitions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app import migrations
from app.slos.import_cli import mount
from app.slos.loader import SloFile, load_path, load_text
from app.systems.models import Phase

CONFORMANCE = Path(migrations.PROJECT_ROOT).parent / "shared" / "conformance"
OPENSLO = CONFORMANCE / "openslo-v1"
SLOTH = CONFORMANCE / "sloth-prometheus-v1"
assert sorted(OPENSLO.glob("*/*.yaml")), f"conformance corpus missing in {CONFORMANCE}"
assert sorted(SLOTH.glob("*.yml")), f"conformance corpus missing in {CONFORMANCE}"


@pytest.fixture
def mlslo() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """mlslo"""

    mount(root)
    return root


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def load_printed(text: str) -> list[SloFile]:
    """Every printed document, loaded back with the native loader at `<system>/<phase>.yaml`."""
    files = []
    for chunk in re.split(r"(?m)^---\n", text):
        system = re.search(r"(?m)^system: (.+)$", chunk)
        phase = re.search(r"(?m)^phase: (.+)$", chunk)
        assert system is not None
        assert phase is not None
        slo_file, errors = load_text(f"{system.group(1)}/{phase.group(1)}.yaml", chunk)
        assert errors == [], [str(error) for error in errors]
        assert slo_file is not None
        files.append(slo_file)
    return files


def test_import_openslo_prints_native_yaml_that_loads(mlslo: typer.Typer) -> None:
    code, out, err = run(
        mlslo, "import", "openslo", str(OPENSLO / "valid" / "slos.yaml"), "--phase", "technical_validation"
    )
    assert code == 0, err
    assert out.startswith(
        "apiVersion: mlslo/v1\nkind: SLOSet\nsystem: web\nphase: technical_validation\nslos:\n"
    )
    [web] = load_printed(out)
    assert [spec.name for spec in web.slos] == ["web-availability"]
    assert (
        f"warning: {OPENSLO / 'valid' / 'slos.yaml'}:35:11: [0].spec.timeWindow[0].calendar.startTime:" in err
    )


def test_import_openslo_reads_folders_and_files_together(mlslo: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(
        (OPENSLO / "invalid" / "v1_slo_invalid_sli.yaml").read_text().replace("no-sli", "my-sli")
    )
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "broken.yaml").write_text("{")
    code, out, err = run(
        mlslo,
        "import",
        "openslo",
        str(tmp_path),
        str(OPENSLO / "valid" / "two_documents.yaml"),
        "--phase",
        "concept",
    )
    # The SLO's thresholdMetric objective has no value: every problem is printed, nothing else.
    assert code == 1
    assert out == ""
    assert "spec.objectives[0].value: an objective of a thresholdMetric needs op and value" in err
    assert err.rstrip().endswith("1 error(s); nothing imported")

    fixed = (tmp_path / "slo.yaml").read_text().replace("op: gt\n", "op: gt\n        value: 10\n")
    (tmp_path / "slo.yaml").write_text(fixed)
    code, out, err = run(
        mlslo, "import", "openslo", str(tmp_path), str(OPENSLO / "valid" / "two_documents.yaml")
    )
    assert code == 0, err
    assert out.count("phase: production") == 3
    assert "needs at least one ML SLI" in err


@pytest.mark.parametrize("path", sorted((OPENSLO / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_import_openslo_rejects_every_invalid_file(mlslo: typer.Typer, path: Path) -> None:
    code, out, err = run(mlslo, "import", "openslo", str(path))
    assert code == 1
    assert out == ""
    assert f"{path}:" in err
    assert "nothing imported" in err


def test_import_of_a_missing_path_fails(mlslo: typer.Typer, tmp_path: Path) -> None:
    code, _, err = run(mlslo, "import", "sloth", str(tmp_path / "nope.yml"))
    assert code == 1
    assert f"{tmp_path / 'nope.yml'}: no such file or directory" in err


def test_import_sloth_prints_every_example(mlslo: typer.Typer) -> None:
    code, out, err = run(
        mlslo, "import", "sloth", str(SLOTH), "--phase", "technical_validation", "--window", "28d"
    )
    assert code == 0, err
    files = load_printed(out)
    assert [f.system for f in files] == ["home-wifi", "k8s-apiserver", "myapp", "myservice", "myservice2"]
    assert all(f.phase is Phase.TECHNICAL_VALIDATION for f in files)
    assert {str(spec.window) for f in files for spec in f.slos} == {"28d"}
    assert "{{.window}}" in out


def test_import_sloth_rejects_plugins(mlslo: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "plugin.yml"
    bad.write_text(
        "version: prometheus/v1\nservice: api\nslos:\n  - name: availability\n    objective: 99.9\n"
        "    sli:\n      plugin:\n        id: sloth-common/kubernetes/apiserver/availability\n"
    )
    code, out, err = run(mlslo, "import", "sloth", str(bad))
    assert code == 1
    assert out == ""
    assert f"{bad}:7:7: slos[0].sli.plugin: Sloth SLI plugins are not supported" in err


def test_export_then_import_gives_the_example_definitions_back(mlslo: typer.Typer, tmp_path: Path) -> None:
    definitions = Path(migrations.PROJECT_ROOT) / "slo_definitions"
    code, exported, err = run(mlslo, "export", "openslo", str(definitions))
    assert code == 0, err
    assert exported.startswith("apiVersion: openslo/v1\nkind: Service\n")
    (tmp_path / "exported.yaml").write_text(exported)

    code, out, err = run(mlslo, "import", "openslo", str(tmp_path / "exported.yaml"))
    assert code == 0, err
    assert err == ""
    expected = {(f.system, f.phase): f.slos for f in load_path(definitions).files}
    assert {(f.system, f.phase): f.slos for f in load_printed(out)} == expected


def test_export_of_one_file_and_of_a_bad_path(mlslo: typer.Typer, tmp_path: Path) -> None:
    one = Path(migrations.PROJECT_ROOT) / "slo_definitions" / "recommender" / "production.yaml"
    code, out, _ = run(mlslo, "export", "openslo", str(one))
    assert code == 0
    assert "mlslo.dev/system: recommender" in out
    assert "mlslo.dev/phase: production" in out

    code, out, err = run(mlslo, "export", "openslo", str(tmp_path / "missing"))
    assert code == 1
    assert out == ""
    assert "nothing exported" in err
