"""The JSON Schema for editors: generated from the models, checked in, and true to the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.sli_catalog import SliKind
from app.slos import json_schema
from app.slos.definition import SloSetDocument

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = REPOSITORY_ROOT / "slo_definitions" / "schema.json"
EXAMPLES = sorted((REPOSITORY_ROOT / "slo_definitions").glob("*/*.yaml"))
CORPUS = REPOSITORY_ROOT / "tests" / "slo_errors"


def example_data(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_checked_in_schema_is_the_generated_one() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == json_schema.render(), (
        "slo_definitions/schema.json is stale: run `python -m app.slos.json_schema > slo_definitions/schema.json`"
    )


def test_main_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    json_schema.main()

    assert json.loads(capsys.readouterr().out) == json_schema.definition_json_schema()


def test_the_schema_names_its_dialect_and_describes_the_format() -> None:
    schema = json_schema.definition_json_schema()

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == json_schema.SCHEMA_ID
    assert "mlslo/v1" in schema["title"]
    assert schema["required"] == ["apiVersion", "kind", "slos"]
    assert schema["additionalProperties"] is False
    # Editors flag unknown keys at every level, as `mlslo validate` does.
    assert all(definition.get("additionalProperties") is False for definition in _objects(schema))
    assert schema["$defs"]["SliKind"]["enum"] == [kind.value for kind in SliKind]
    assert all("description" in definition for definition in _objects(schema))


def _objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [definition for definition in schema["$defs"].values() if definition.get("type") == "object"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_example_is_a_valid_document(path: Path) -> None:
    SloSetDocument.model_validate(example_data(path))


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) == 9


# Cases of the broken-file corpus whose mistake is structural, so the schema alone must catch it.
STRUCTURAL_CASES = [
    "objective-as-text",
    "objective-is-one",
    "unknown-key-objectve",
    "min-events-outside-alerting",
    "unknown-sli-kind-typo",
    "unknown-window-unit",
    "bad-calendar-unit",
    "objectives-not-a-list",
    "wrong-api-version",
]


def test_with_jsonschema_every_example_validates_and_structural_mistakes_do_not() -> None:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (a dev dependency to add)"
    )
    validator = jsonschema.Draft202012Validator(json_schema.definition_json_schema())
    jsonschema.Draft202012Validator.check_schema(validator.schema)

    for path in EXAMPLES:
        assert list(validator.iter_errors(example_data(path))) == [], path
    for case in STRUCTURAL_CASES:
        [broken] = (CORPUS / case).rglob("*.yaml")
        assert list(validator.iter_errors(example_data(broken))) != [], case
