"""The JSON Schema of SLO definition files, generated from the pydantic models so that editors can
check files as they are typed. `python -m app.slos.json_schema > slo_definitions/schema.json`."""

from __future__ import annotations

import json
from typing import Any

from app.slos.definition import API_VERSION, SloSetDocument

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:mlslo:slo-definition:v1"


def definition_json_schema() -> dict[str, Any]:
    """The schema of one `<system>/<phase>.yaml` file. It checks structure, types and ranges; the
    rules across fields (an SLI's source, budgeting, a production file's SLIs) are checked by
    `mlslo validate`, which also explains every problem."""
    generated = SloSetDocument.model_json_schema(by_alias=True)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": f"mlslo SLO definition file ({API_VERSION})",
        "description": (
            "One system's SLOs for one phase, at slo_definitions/<system>/<phase>.yaml. "
            "Structure only: run `mlslo validate` for the rules that span several fields. "
            "Generated from app/slos/definition.py; see docs/slo-files.md."
        ),
        **{key: value for key, value in generated.items() if key not in ("title", "description")},
    }


def render() -> str:
    """The schema as checked in: stable key order, two-space indent, a final newline."""
    return json.dumps(definition_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
