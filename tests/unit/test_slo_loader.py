"""The SLO definition loader: valid files load, and every error is reported with file, line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from app.core.request_sli import RequestSliKind
from app.slos.loader import SloFile, SloFileError, load_path, load_text
from app.systems.models import Phase

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

VALID_PRODUCTION = dedent(
    """\
    apiVersion: mlslo/v1
    kind: SLOSet
    system: recommender
    phase: production
    slos:
      - name: api-availability
        description: Requests answered without a server error
        sli:
          kind: error_rate
          source: push
        objective: 0.999
        window: 30d
        min_events: 10
      - name: api-latency
        sli:
          kind: latency
          source: push
          threshold_ms: 300
        objective_percent: 99
        window: 4w
    """
)

EMPTY_CONCEPT = "apiVersion: mlslo/v1\nkind: SLOSet\nslos: []\n"


def errors_of(text: str, path: str = "recommender/production.yaml") -> list[tuple[int | None, str, str]]:
    slo_file, errors = load_text(path, text)
    assert slo_file is None
    return [(error.line, error.field, error.message) for error in errors]


def valid(text: str, path: str = "recommender/production.yaml") -> SloFile:
    slo_file, errors = load_text(path, text)
    assert errors == []
    assert slo_file is not None
    return slo_file


def test_a_valid_file_loads_with_normalised_helpers() -> None:
    slo_file = valid(VALID_PRODUCTION)

    assert (slo_file.path, slo_file.system, slo_file.phase) == (
        "recommender/production.yaml",
        "recommender",
        Phase.PRODUCTION,
    )
    availability, latency = slo_file.slos
    assert availability.name == "api-availability"
    assert availability.sli_kind is RequestSliKind.ERROR_RATE
    assert availability.objective_ratio == 0.999
    assert availability.period == timedelta(days=30)
    assert availability.threshold_ms is None
    assert availability.min_events == 10
    assert latency.sli_kind is RequestSliKind.LATENCY
    assert latency.threshold_ms == 300
    assert latency.objective_ratio == pytest.approx(0.99)
    assert latency.period == timedelta(days=28)
    assert latency.min_events is None
    assert slo_file.line_of("slos[1].sli.threshold_ms") == 18


def test_system_and_phase_inside_the_file_are_optional_and_slos_may_be_empty() -> None:
    slo_file = valid(EMPTY_CONCEPT, path="recommender/concept.yml")

    assert (slo_file.system, slo_file.phase, slo_file.slos) == ("recommender", Phase.CONCEPT, [])


def test_an_error_prints_as_file_line_field_message() -> None:
    error = SloFileError(
        "recommender/production.yaml", 14, "slos[1].sli.threshold_ms", "required field is missing"
    )

    assert str(error) == "recommender/production.yaml:14: slos[1].sli.threshold_ms: required field is missing"
    assert str(SloFileError("a/concept.yaml", None, "", "file is empty")) == "a/concept.yaml: file is empty"


def test_yaml_syntax_error_reports_its_line() -> None:
    text = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n  - name: [unclosed\n    window: 30d\n"

    assert errors_of(text) == [
        (5, "", "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 4)")
    ]


def test_tab_indentation_is_a_syntax_error_on_its_line() -> None:
    text = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n\t- name: x\n"

    assert [(line, field) for line, field, _ in errors_of(text)] == [(4, "")]


def test_an_empty_file_is_an_error() -> None:
    assert errors_of("# nothing yet\n") == [
        (None, "", "file is empty: expected an SLOSet (apiVersion, kind, slos)")
    ]


def test_a_file_that_is_not_a_mapping_is_an_error() -> None:
    assert errors_of("- just\n- a list\n") == [(1, "", "expected a mapping of fields")]


def test_duplicate_keys_are_reported_where_repeated() -> None:
    text = VALID_PRODUCTION.replace("    window: 30d\n", "    window: 30d\n    window: 7d\n")

    assert errors_of(text) == [
        (
            13,
            "slos[0].window",
            "duplicate key 'window' (first at line 12); YAML would silently keep only the last value",
        )
    ]


def test_missing_fields_point_at_the_enclosing_mapping() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v1
        slos:
          - name: api-latency
            sli:
              source: push
            objective: 0.99
          - name: other
            sli:
              kind: latency
              source: push
            objective: 0.99
            window: 1d
        """
    )

    assert errors_of(text) == [
        (1, "kind", "required field is missing"),
        (3, "slos[0].window", "required field is missing"),
        (4, "slos[0].sli.kind", "required field is missing: one of error_rate, latency"),
        (8, "slos[1].sli.threshold_ms", "required field is missing"),
    ]


def test_unknown_fields_and_wrong_types_are_reported() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v2
        kind: SLOSet
        owner: me
        slos:
          - name: api-availability
            sli:
              kind: error_rate
              source: pull
              threshold_ms: 300
            objective: "0.999"
            window: 30d
            min_events: 0
            colour: red
          - name: api-latency
            sli:
              kind: throughput
              source: push
            objective: 0.99
            window: 30d
        """
    )

    assert errors_of(text) == [
        (1, "apiVersion", "Input should be 'mlslo/v1'"),
        (3, "owner", "unknown field"),
        (8, "slos[0].sli.source", "Input should be 'push'"),
        (9, "slos[0].sli.threshold_ms", "threshold_ms is only allowed for latency SLIs"),
        (10, "slos[0].objective", "Input should be a valid number"),
        (12, "slos[0].min_events", "Input should be greater than or equal to 1"),
        (13, "slos[0].colour", "unknown field"),
        (16, "slos[1].sli.kind", "unknown SLI kind 'throughput': expected one of error_rate, latency"),
    ]


def test_objective_rules() -> None:
    def objective_errors(objective_lines: str) -> list[tuple[int | None, str, str]]:
        text = dedent(
            """\
            apiVersion: mlslo/v1
            kind: SLOSet
            slos:
              - name: api-availability
                sli: {kind: error_rate, source: push}
                window: 30d
            """
        )
        return errors_of(text + "".join(f"    {line}\n" for line in objective_lines.splitlines()))

    assert objective_errors("objective: 99.9") == [
        (
            7,
            "slos[0].objective",
            "objective must be a ratio strictly between 0 and 1 (for a percentage write objective_percent: 99.9)",
        )
    ]
    assert objective_errors("objective: 1") == [
        (7, "slos[0].objective", "objective must be a ratio strictly between 0 and 1")
    ]
    assert objective_errors("objective_percent: 100") == [
        (7, "slos[0].objective_percent", "Input should be less than 100")
    ]
    assert objective_errors("objective: 0.99\nobjective_percent: 99") == [
        (8, "slos[0].objective_percent", "give either objective or objective_percent, not both")
    ]
    assert objective_errors("") == [(4, "slos[0]", "objective (a ratio) or objective_percent is required")]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("30 days", "invalid duration '30 days': expected a whole number followed by s, m, h, d or w"),
        ("59m", "window '59m' must be between 1h and 400d"),
        ("401d", "window '401d' must be between 1h and 400d"),
        ("0d", "invalid duration '0d': must be positive"),
    ],
)
def test_window_must_be_a_duration_between_one_hour_and_400_days(window: str, message: str) -> None:
    text = VALID_PRODUCTION.replace("window: 30d", f"window: {window}")

    assert errors_of(text) == [(12, "slos[0].window", message)]


def test_window_bounds_are_inclusive() -> None:
    assert valid(VALID_PRODUCTION.replace("window: 30d", "window: 1h")).slos[0].period == timedelta(hours=1)
    assert valid(VALID_PRODUCTION.replace("window: 30d", "window: 400d")).slos[0].period == timedelta(
        days=400
    )


def test_slo_names_must_be_slugs_and_unique_and_all_errors_of_an_item_are_reported() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v1
        kind: SLOSet
        slos:
          - name: api-availability
            sli: {kind: error_rate, source: push}
            objective: 0.999
            window: 30d
          - name: Api_Availability
            sli: {}
          - name: api-availability
            sli: {kind: error_rate, source: push}
            objective: 0.99
            window: 7d
        """
    )

    assert errors_of(text) == [
        (8, "slos[1]", "objective (a ratio) or objective_percent is required"),
        (
            8,
            "slos[1].name",
            "must be lowercase letters, digits and dashes, starting with a letter or digit (at most 63)",
        ),
        (8, "slos[1].window", "required field is missing"),
        (9, "slos[1].sli.kind", "required field is missing: one of error_rate, latency"),
        (10, "slos[2].name", "duplicate SLO name 'api-availability': slos[0] already uses it"),
    ]


def test_system_and_phase_in_the_file_must_match_its_path() -> None:
    text = VALID_PRODUCTION.replace("system: recommender", "system: search").replace(
        "phase: production", "phase: concept"
    )

    assert errors_of(text) == [
        (3, "system", "says 'search' but the file is in the folder of system 'recommender'"),
        (4, "phase", "says 'concept' but the file is named for phase 'production'"),
    ]


def test_bad_path_names_are_reported_along_with_content_errors() -> None:
    assert errors_of(EMPTY_CONCEPT + "extra: 1\n", path="Recommender/prod.txt") == [
        (None, "", "expected a .yaml or .yml file"),
        (None, "", "folder 'Recommender' is not a system name (lowercase letters, digits and dashes)"),
        (
            None,
            "",
            "file name 'prod' is not a phase: expected one of concept, technical_validation, production",
        ),
        (4, "extra", "unknown field"),
    ]
    assert errors_of(EMPTY_CONCEPT, path="production.yaml") == [
        (None, "", "the path must name the system folder: <system>/<phase>.yaml")
    ]


def test_unsafe_yaml_tags_are_refused() -> None:
    [(line, field, message)] = errors_of("apiVersion: !!python/object/apply:os.system [ls]\n")

    assert (line, field) == (1, "")
    assert "could not determine a constructor" in message


def test_load_path_walks_a_definitions_root(tmp_path: Path) -> None:
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "production.yaml").write_text(VALID_PRODUCTION)
    (tmp_path / "recommender" / "concept.yml").write_text(EMPTY_CONCEPT)
    (tmp_path / "recommender" / "notes.md").write_text("not a definition")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "ignored.yaml").write_text(": not even yaml [")

    result = load_path(tmp_path)

    assert result.ok
    assert [(f.path, f.phase) for f in result.files] == [
        ("recommender/concept.yml", Phase.CONCEPT),
        ("recommender/production.yaml", Phase.PRODUCTION),
    ]


def test_load_path_reports_every_problem_of_every_file(tmp_path: Path) -> None:
    (tmp_path / "recommender" / "nested").mkdir(parents=True)
    (tmp_path / "recommender" / "production.yaml").write_text(VALID_PRODUCTION)
    (tmp_path / "recommender" / "production.yml").write_text(VALID_PRODUCTION)
    (tmp_path / "recommender" / "concept.yaml").write_text("apiVersion: mlslo/v1\nkind: SLOSet\n")
    (tmp_path / "recommender" / "nested" / "production.yaml").write_text(VALID_PRODUCTION)
    (tmp_path / "stray.yaml").write_text(EMPTY_CONCEPT)

    result = load_path(tmp_path)

    assert [str(error) for error in result.errors] == [
        "recommender/nested/production.yaml: misplaced definition file: files belong at "
        "<system>/<phase>.yaml, one folder below the definitions root",
        "stray.yaml: misplaced definition file: files belong at <system>/<phase>.yaml, "
        "one folder below the definitions root",
        "recommender/concept.yaml:1: slos: required field is missing",
        "recommender/production.yml: recommender/production is already defined by "
        "recommender/production.yaml; keep one file per system and phase",
    ]


def test_load_path_on_a_single_file_takes_system_and_phase_from_its_path(tmp_path: Path) -> None:
    (tmp_path / "search").mkdir()
    definition = tmp_path / "search" / "technical_validation.yaml"
    definition.write_text(EMPTY_CONCEPT)

    result = load_path(definition)

    assert result.ok
    [slo_file] = result.files
    assert (slo_file.path, slo_file.system, slo_file.phase) == (
        "search/technical_validation.yaml",
        "search",
        Phase.TECHNICAL_VALIDATION,
    )


def test_load_path_on_a_missing_path_is_an_error(tmp_path: Path) -> None:
    result = load_path(tmp_path / "nowhere")

    assert [error.message for error in result.errors] == ["no such file or directory"]


def test_the_shipped_definitions_are_valid() -> None:
    result = load_path(REPOSITORY_ROOT / "slo_definitions")

    assert result.errors == []
    assert {(f.system, f.phase) for f in result.files} == {
        ("recommender", Phase.CONCEPT),
        ("recommender", Phase.TECHNICAL_VALIDATION),
        ("recommender", Phase.PRODUCTION),
    }


def test_line_of_falls_back_to_the_enclosing_mapping() -> None:
    slo_file = valid(VALID_PRODUCTION.replace("system: recommender\n", ""))

    assert slo_file.line_of("slos[1].sli.threshold_ms") == 17
    assert slo_file.line_of("slos[1].description") == 13
    assert slo_file.line_of("system") == 1
    assert slo_file.line_of("odd.") is None


def test_a_yaml_alias_bomb_is_reported_without_expanding_it() -> None:
    lines = ["apiVersion: mlslo/v1", "kind: SLOSet", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(1, 10)]
    lines.append("slos: *l9")

    errors = errors_of("\n".join(lines) + "\n")

    assert errors[:2] == [(3, "l0", "unknown field"), (4, "l1", "unknown field")]
    # The items are the aliased l8 list, so their line is where it is defined.
    assert (11, "slos[0]", "expected a mapping of fields") in errors
    assert len(errors) == 19


def test_control_characters_are_a_yaml_error_with_their_line() -> None:
    slo_file, errors = load_text(
        "recommender/production.yaml", "apiVersion: mlslo/v1\nkind: SLOSet\nslos: \x06[]\n"
    )
    assert slo_file is None
    assert [(error.line, error.field) for error in errors] == [(3, "")]
    assert "#x0006" in errors[0].message
