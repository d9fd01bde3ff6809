"""The broken-file corpus: every file in `tests/slo_errors/` is rejected with the file, line, column,
field path and message that `tests/slo_errors/expected.yaml` gives for it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.slos.loader import SloFileError, load_path, load_text

CORPUS = Path(__file__).resolve().parents[1] / "slo_errors"
MANIFEST: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))


def read_native(display_path: str, text: str) -> Sequence[SloFileError]:
    slo_file, errors = load_text(display_path, text)
    assert slo_file is None, "a broken file was accepted"
    return errors


# How a case's file is read. Importers (OpenSLO, Sloth) add theirs here, with cases such as a
# dangling reference, and name them in the manifest's `reader`.
READERS: dict[str, Callable[[str, str], Sequence[SloFileError]]] = {"native": read_native}


def fragments(expected: dict[str, Any]) -> list[str]:
    message = expected["message"]
    return list(message) if isinstance(message, list) else [message]


def test_every_case_folder_has_an_entry_and_holds_exactly_its_file() -> None:
    folders = sorted(path.name for path in CORPUS.iterdir() if path.is_dir())

    assert folders == sorted(MANIFEST)
    assert len(folders) >= 30
    for case, entry in MANIFEST.items():
        files = [
            path.relative_to(CORPUS / case).as_posix()
            for path in (CORPUS / case).rglob("*")
            if path.is_file()
        ]
        assert files == [entry["file"]], case
        assert entry["errors"], f"{case} expects no error"
        assert entry.get("reader", "native") in READERS, case


@pytest.mark.parametrize("case", sorted(MANIFEST))
def test_a_broken_file_is_rejected_with_file_line_column_field_and_message(case: str) -> None:
    entry = MANIFEST[case]
    text = (CORPUS / case / entry["file"]).read_text(encoding="utf-8")

    errors = READERS[entry.get("reader", "native")](entry["file"], text)

    assert [(error.file, error.line, error.column, error.field) for error in errors] == [
        (entry["file"], expected["line"], expected["column"], expected["field"])
        for expected in entry["errors"]
    ]
    lines = text.splitlines()
    for error, expected in zip(errors, entry["errors"], strict=True):
        for fragment in fragments(expected):
            assert fragment in error.message
        # The place is in the text, and is printed as an editor expects it.
        assert error.line is not None
        assert error.column is not None
        assert 1 <= error.column <= len(lines[error.line - 1]) + 1
        assert str(error) == f"{entry['file']}:{error.line}:{error.column}: " + (
            f"{error.field}: {error.message}" if error.field else error.message
        )


@pytest.mark.parametrize(
    "case", sorted(case for case, entry in MANIFEST.items() if entry.get("reader", "native") == "native")
)
def test_the_command_line_path_reports_the_same_errors_and_loads_nothing(case: str) -> None:
    result = load_path(CORPUS / case)

    assert result.files == []
    assert [(error.file, error.line, error.column, error.field) for error in result.errors] == [
        (MANIFEST[case]["file"], expected["line"], expected["column"], expected["field"])
        for expected in MANIFEST[case]["errors"]
    ]


def test_one_broken_file_among_valid_ones_is_reported_and_the_valid_ones_still_load(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).resolve().parents[2] / "slo_definitions", tmp_path, dirs_exist_ok=True)
    broken = MANIFEST["drift-from-prometheus"]
    shutil.copy(CORPUS / "drift-from-prometheus" / broken["file"], tmp_path / broken["file"])

    result = load_path(tmp_path)

    # The callers (`mlslo apply`, the apply endpoint) apply nothing when there is any error.
    assert not result.ok
    assert [str(error) for error in result.errors] == [
        f"{broken['file']}:16:15: slos[1].sli.source: a data_drift SLI cannot come from prometheus; "
        "it can come from: evidently"
    ]
    assert len(result.files) == 8
