"""The SLO definition loader: valid files load, and every error is reported with file, line, column
and field. The broken-file corpus (`tests/slo_errors/`) covers the messages case by case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.sli_catalog import BudgetingMethod, Comparison, Measure, SliFamily, SliKind
from app.slos.definition import CalendarWindow, FileModel, ResolvedObjective
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
        alerting:
          min_events: 10
      - name: api-latency
        sli:
          kind: latency
          source: push
          threshold_ms: 300
        objective_percent: 99
        window: 4w
      - name: click-accuracy
        sli: {kind: classification_quality, source: push, metric: accuracy}
        objective: 0.9
        window: {calendar: month, time_zone: Asia/Tokyo}
    """
)

EMPTY_CONCEPT = "apiVersion: mlslo/v1\nkind: SLOSet\nslos: []\n"
KIND_MISSING = (
    "required field is missing: one of latency, error_rate, job_success, job_throughput, freshness, "
    "classification_quality, regression_error, prediction_bias, data_drift, data_quality, "
    "robustness, retrain_stability, model_staleness"
)

Found = tuple[int | None, int | None, str, str]


def errors_of(text: str, path: str = "recommender/production.yaml") -> list[Found]:
    slo_file, errors = load_text(path, text)
    assert slo_file is None
    assert {error.file for error in errors} == {path}
    return [(error.line, error.column, error.field, error.message) for error in errors]


def valid(text: str, path: str = "recommender/production.yaml") -> SloFile:
    slo_file, errors = load_text(path, text)
    assert errors == []
    assert slo_file is not None
    return slo_file


def test_a_valid_file_loads_with_derived_views() -> None:
    slo_file = valid(VALID_PRODUCTION)

    assert (slo_file.path, slo_file.system, slo_file.phase) == (
        "recommender/production.yaml",
        "recommender",
        Phase.PRODUCTION,
    )
    availability, latency, accuracy = slo_file.slos
    assert availability.name == "api-availability"
    assert (availability.sli.kind, availability.family, availability.owner_side) == (
        SliKind.ERROR_RATE,
        SliFamily.CONVENTIONAL,
        "service",
    )
    assert availability.resolved_objectives() == [ResolvedObjective(None, 0.999, None, None)]
    assert availability.period == timedelta(days=30)
    assert availability.alerting.min_events == 10
    assert availability.budgeting_method is BudgetingMethod.OCCURRENCES
    assert latency.resolved_objectives() == [
        ResolvedObjective(None, pytest.approx(0.99), Comparison.LTE, 300)
    ]
    assert latency.period == timedelta(days=28)
    assert latency.alerting.min_events is None
    assert (accuracy.family, accuracy.owner_side, accuracy.metric, accuracy.measure) == (
        SliFamily.ML,
        "model",
        "accuracy",
        Measure.EVENTS,
    )
    assert accuracy.window == CalendarWindow(calendar="month", time_zone="Asia/Tokyo")
    assert accuracy.period == timedelta(days=30)


def test_system_and_phase_inside_the_file_are_optional_and_slos_may_be_empty() -> None:
    slo_file = valid(EMPTY_CONCEPT, path="recommender/concept.yml")

    assert (slo_file.system, slo_file.phase, slo_file.slos) == ("recommender", Phase.CONCEPT, [])


def test_an_error_prints_as_file_line_column_field_message() -> None:
    error = SloFileError(
        "recommender/production.yaml", 14, "slos[1].sli.threshold_ms", "required field is missing", column=7
    )

    assert (
        str(error) == "recommender/production.yaml:14:7: slos[1].sli.threshold_ms: required field is missing"
    )
    assert str(SloFileError("a/concept.yaml", 3, "slos", "m")) == "a/concept.yaml:3: slos: m"
    assert str(SloFileError("a/concept.yaml", None, "", "file is empty")) == "a/concept.yaml: file is empty"


def test_yaml_syntax_error_reports_its_line_and_column() -> None:
    text = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n  - name: [unclosed\n    window: 30d\n"

    assert errors_of(text) == [
        (
            5,
            11,
            "",
            "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 4)",
        )
    ]


def test_tab_indentation_is_a_syntax_error_at_the_tab() -> None:
    text = "apiVersion: mlslo/v1\nkind: SLOSet\nslos:\n\t- name: x\n"

    assert [(line, column, field) for line, column, field, _ in errors_of(text)] == [(4, 1, "")]


def test_an_empty_file_is_an_error() -> None:
    assert errors_of("# nothing yet\n") == [
        (None, None, "", "file is empty: expected an SLOSet (apiVersion, kind, slos)")
    ]


def test_a_file_that_is_not_a_mapping_is_an_error() -> None:
    assert errors_of("- just\n- a list\n") == [(1, 1, "", "expected a mapping of fields, got a list")]


def test_duplicate_keys_are_reported_where_repeated() -> None:
    text = VALID_PRODUCTION.replace("    window: 30d\n", "    window: 30d\n    window: 7d\n")

    assert errors_of(text) == [
        (
            13,
            5,
            "slos[0].window",
            "duplicate key 'window' (first at line 12); YAML would silently keep only the last value",
        )
    ]


def test_missing_fields_point_at_the_key_of_the_enclosing_mapping() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v1
        slos:
          - name: api-latency
            sli:
              source: push
            objective: 0.99
        """
    )

    assert errors_of(text) == [
        (1, 1, "kind", "required field is missing: write kind: SLOSet"),
        (3, 5, "slos[0].window", "required field is missing"),
        (4, 5, "slos[0].sli.kind", KIND_MISSING),
    ]


def test_wrong_values_point_at_the_value_and_unknown_keys_at_the_key() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v2
        kind: SLOSet
        slos:
          - name: api-availability
            sli: {kind: error_rate, source: pull}
            objective: "0.999"
            window: 30d
            alerting: {min_events: 0, colour: red}
        """
    )

    assert errors_of(text) == [
        (1, 13, "apiVersion", "expected 'mlslo/v1', got 'mlslo/v2'"),
        (
            5,
            37,
            "slos[0].sli.source",
            "unknown source 'pull': expected one of push, prometheus, sql, http_probe, evidently",
        ),
        (6, 16, "slos[0].objective", "expected a number, got text '0.999': remove the quotes"),
        (8, 28, "slos[0].alerting.min_events", "must be at least 1, got the number 0"),
        (
            8,
            31,
            "slos[0].alerting.colour",
            "unknown field 'colour': expected one of min_events, page, ticket, max_bad_events",
        ),
    ]


def test_unknown_keys_suggest_the_field_meant_or_where_it_belongs() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v1
        kind: SLOSet
        slos:
          - name: api-availability
            sli: {kind: error_rate, source: push, objective: 0.99}
            objectve: 0.999
            window: 30d
            min_events: 100
        """
    )

    assert errors_of(text) == [
        (5, 43, "slos[0].sli.objective", "unknown field 'objective' under `sli:`: it belongs one level up"),
        (6, 5, "slos[0].objectve", "unknown field 'objectve': did you mean 'objective'?"),
        (8, 5, "slos[0].min_events", "unknown field 'min_events' here: it belongs under `alerting:`"),
    ]


def test_cross_field_problems_have_a_line_and_column_too() -> None:
    text = dedent(
        """\
        apiVersion: mlslo/v1
        kind: SLOSet
        slos:
          - name: drift
            sli:
              kind: data_drift
              source: prometheus
              prometheus: {value: "max(drift_share)"}
            objectives: [{target: 0.9, value: 0.3}]
            window: 28d
        """
    )

    assert errors_of(text) == [
        (
            3,
            1,
            "slos",
            "a production file needs at least one conventional SLI (latency, error_rate, job_*, freshness)",
        ),
        # Left out, so placed at the SLO that should hold it.
        (
            4,
            5,
            "slos[0].time_slice",
            "data_drift drift_share is judged slice by slice (timeslices budgeting), so it needs time_slice, "
            "e.g. time_slice: {window: 1h}",
        ),
        (
            7,
            15,
            "slos[0].sli.source",
            "a data_drift SLI cannot come from prometheus; it can come from: evidently",
        ),
    ]


def test_a_production_file_needs_a_conventional_and_an_ml_sli_but_other_phases_do_not() -> None:
    conventional_only = VALID_PRODUCTION.split("  - name: click-accuracy")[0]

    assert errors_of(conventional_only) == [
        (
            5,
            1,
            "slos",
            "a production file needs at least one ML SLI (classification_quality, data_drift, ...)",
        )
    ]
    without_phase = conventional_only.replace("phase: production\n", "")
    assert (
        valid(without_phase, path="recommender/technical_validation.yaml").phase is Phase.TECHNICAL_VALIDATION
    )


def test_objective_of_one_or_more_explains_how_to_write_a_ratio() -> None:
    def objective_errors(objective_line: str) -> list[Found]:
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
        return errors_of(text + f"    {objective_line}\n", path="recommender/technical_validation.yaml")

    assert objective_errors("objective: 99.9") == [
        (
            7,
            16,
            "slos[0].objective",
            "must be below 1 (100%): 99.9 looks like a percentage; write 0.999 (or objective_percent: 99.9)",
        )
    ]
    assert objective_errors("objective: 1") == [
        (
            7,
            16,
            "slos[0].objective",
            "must be below 1 (100%): a 100% target leaves no error budget; for 99.9% write 0.999",
        )
    ]
    assert objective_errors("objective_percent: 100") == [
        (7, 24, "slos[0].objective_percent", "must be below 100, got the number 100")
    ]
    assert objective_errors("objective: 0") == [
        (7, 16, "slos[0].objective", "must be above 0, got the number 0")
    ]
    assert objective_errors("objective: 99.9%") == [
        (
            7,
            16,
            "slos[0].objective",
            "expected a number, got text '99.9%': write a ratio such as 0.999 for 99.9%",
        )
    ]


@pytest.mark.parametrize(
    ("window", "column", "message"),
    [
        ("30x", 13, "'30x': unit must be s, m, h, d or w"),
        ("30 days", 13, "'30 days': unit must be s, m, h, d or w; write 30d"),
        ("30D", 13, "'30D': unit must be s, m, h, d or w; units are lowercase: write 30d"),
        (
            "1mo",
            13,
            "'1mo': unit must be s, m, h, d or w; months and quarters vary in length: "
            "use a calendar window such as {calendar: month}",
        ),
        ("30", 13, "30 has no unit: write a whole number and a unit (s, m, h, d or w), such as 30d"),
        ("1.5d", 13, "invalid duration '1.5d': expected a whole number followed by s, m, h, d or w"),
        ("0d", 13, "invalid duration '0d': must be positive"),
        ("59m", 13, "the window must be between 1h and 400d, got 59m"),
        ("401d", 13, "the window must be between 1h and 400d, got 401d"),
    ],
)
def test_window_must_be_a_duration_between_one_hour_and_400_days(
    window: str, column: int, message: str
) -> None:
    text = VALID_PRODUCTION.replace("window: 30d", f"window: {window}")

    assert errors_of(text) == [(12, column, "slos[0].window", message)]


def test_window_bounds_are_inclusive_and_rolling_windows_have_two_spellings() -> None:
    assert valid(VALID_PRODUCTION.replace("window: 30d", "window: 1h")).slos[0].period == timedelta(hours=1)
    assert valid(VALID_PRODUCTION.replace("window: 30d", "window: 400d")).slos[0].period == timedelta(
        days=400
    )
    assert valid(VALID_PRODUCTION.replace("window: 30d", "window: {rolling: 2w}")).slos[
        0
    ].period == timedelta(days=14)


def test_accepted_spellings_from_other_tools() -> None:
    text = VALID_PRODUCTION.replace("kind: error_rate", "kind: availability").replace(
        "    window: 4w\n", "    window: 4w\n    budgeting: Occurrences\n"
    )

    availability, latency, _ = valid(text).slos

    assert availability.sli.kind is SliKind.ERROR_RATE
    assert latency.budgeting is BudgetingMethod.OCCURRENCES


def test_exclusion_start_may_be_an_unquoted_yaml_timestamp_but_needs_a_time_zone() -> None:
    exclusion = (
        "    exclusions:\n      - reason: weekly retrain\n        start: {start}\n"
        "        duration: 2h\n        rrule: FREQ=WEEKLY;BYDAY=SU\n"
    )
    with_start = VALID_PRODUCTION.replace("  - name: api-latency\n", exclusion + "  - name: api-latency\n")

    [spec, *_] = valid(with_start.replace("{start}", "2026-01-04T02:00:00+09:00")).slos
    assert spec.exclusions[0].start == "2026-01-04T02:00:00+09:00"
    assert errors_of(with_start.replace("{start}", "2026-01-04T02:00:00")) == [
        (
            17,
            16,
            "slos[0].exclusions[0].start",
            "2026-01-04T02:00:00 has no time zone: add Z or an offset such as +09:00",
        )
    ]


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

    assert errors_of(text, path="recommender/technical_validation.yaml") == [
        (8, 5, "slos[1].window", "required field is missing"),
        (
            8,
            11,
            "slos[1].name",
            "'Api_Availability' is not a valid name: lowercase letters, digits and dashes, "
            "starting with a letter or digit (at most 63)",
        ),
        (9, 5, "slos[1].sli.kind", KIND_MISSING),
        (
            9,
            5,
            "slos[1].sli.source",
            "required field is missing: one of push, prometheus, sql, http_probe, evidently",
        ),
        (10, 11, "slos[2].name", "duplicate SLO name 'api-availability': slos[0] already uses it"),
    ]


def test_system_and_phase_in_the_file_must_match_its_path() -> None:
    text = VALID_PRODUCTION.replace("system: recommender", "system: search").replace(
        "phase: production", "phase: concept"
    )

    assert errors_of(text) == [
        (3, 9, "system", "says 'search' but the file is in the folder of system 'recommender'"),
        (4, 8, "phase", "says 'concept' but the file is named for phase 'production'"),
    ]


def test_an_unknown_phase_in_the_file_is_reported_once_with_a_suggestion() -> None:
    assert errors_of(VALID_PRODUCTION.replace("phase: production", "phase: prodution")) == [
        (
            4,
            8,
            "phase",
            "unknown phase 'prodution': expected one of concept, technical_validation, production; "
            "did you mean 'production'?",
        )
    ]


def test_bad_path_names_are_reported_along_with_content_errors() -> None:
    assert errors_of(EMPTY_CONCEPT + "extra: 1\n", path="Recommender/prod.txt") == [
        (None, None, "", "expected a .yaml or .yml file"),
        (None, None, "", "folder 'Recommender' is not a system name (lowercase letters, digits and dashes)"),
        (
            None,
            None,
            "",
            "file name 'prod' is not a phase: expected one of concept, technical_validation, production",
        ),
        (
            4,
            1,
            "extra",
            "unknown field 'extra': expected one of apiVersion, kind, system, phase, min_ml_test_score, slos",
        ),
    ]
    assert errors_of(EMPTY_CONCEPT, path="production.yaml") == [
        (None, None, "", "the path must name the system folder: <system>/<phase>.yaml")
    ]


def test_unsafe_yaml_tags_are_refused() -> None:
    [(line, column, field, message)] = errors_of("apiVersion: !!python/object/apply:os.system [ls]\n")

    assert (line, column, field) == (1, 13, "")
    assert "could not determine a constructor" in message


def test_load_path_walks_a_definitions_root(tmp_path: Path) -> None:
    (tmp_path / "recommender").mkdir()
    (tmp_path / "recommender" / "production.yaml").write_text(VALID_PRODUCTION)
    (tmp_path / "recommender" / "concept.yml").write_text(EMPTY_CONCEPT)
    (tmp_path / "recommender" / "notes.md").write_text("not a definition")
    (tmp_path / "schema.json").write_text("{}")
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
        "recommender/concept.yaml:1:1: slos: required field is missing",
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


def test_the_shipped_definitions_are_valid_for_three_systems_in_every_phase() -> None:
    result = load_path(REPOSITORY_ROOT / "slo_definitions")

    assert result.errors == []
    assert {(f.system, f.phase) for f in result.files} == {
        (system, phase) for system in ("content-moderation", "cvr-ranking", "recommender") for phase in Phase
    }
    for slo_file in result.files:
        if slo_file.phase is Phase.PRODUCTION:
            assert {spec.family for spec in slo_file.slos} == {SliFamily.CONVENTIONAL, SliFamily.ML}


def test_the_shipped_examples_use_every_sli_kind_and_source() -> None:
    result = load_path(REPOSITORY_ROOT / "slo_definitions")
    specs = [spec for slo_file in result.files for spec in slo_file.slos]

    used_kinds = {spec.sli.kind for spec in specs}
    assert {kind for kind in SliKind if kind not in used_kinds} == set()
    assert {spec.sli.source.value for spec in specs} == {
        "push",
        "prometheus",
        "sql",
        "http_probe",
        "evidently",
    }
    assert {spec.budgeting_method for spec in specs} == set(BudgetingMethod)


def test_line_and_column_of_fall_back_to_the_enclosing_mapping() -> None:
    slo_file = valid(VALID_PRODUCTION.replace("system: recommender\n", ""))

    assert (slo_file.line_of("slos[1].sli.threshold_ms"), slo_file.column_of("slos[1].sli.threshold_ms")) == (
        18,
        7,
    )
    assert (slo_file.line_of("slos[1].description"), slo_file.column_of("slos[1].description")) == (14, 5)
    assert (slo_file.line_of("system"), slo_file.column_of("system")) == (1, 1)
    assert slo_file.line_of("odd.") is None
    assert slo_file.column_of("odd.") is None


def test_a_yaml_alias_bomb_is_reported_without_expanding_it() -> None:
    lines = ["apiVersion: mlslo/v1", "kind: SLOSet", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(1, 10)]
    lines.append("slos: *l9")

    errors = errors_of("\n".join(lines) + "\n")

    assert [error[:3] for error in errors[:2]] == [(3, 1, "l0"), (4, 1, "l1")]
    # The items are the aliased l8 list, so their place is its anchor's.
    assert (11, 5, "slos[0]", "expected a mapping of fields, got a list") in errors
    assert len(errors) == 19


def test_control_characters_are_a_yaml_error_with_their_line_and_column() -> None:
    slo_file, errors = load_text(
        "recommender/production.yaml", "apiVersion: mlslo/v1\nkind: SLOSet\nslos: \x06[]\n"
    )
    assert slo_file is None
    assert [(error.line, error.column, error.field) for error in errors] == [(3, 7, "")]
    assert "#x0006" in errors[0].message


def test_every_slo_example_in_the_docs_is_valid() -> None:
    """The items shown in docs/slo-files.md, each put in a file of its own, load without error."""
    document = (REPOSITORY_ROOT / "docs" / "slo-files.md").read_text(encoding="utf-8")
    snippets = [block for block in document.split("```yaml\n")[1:] if block.startswith("  - name:")]
    full_files = [block for block in document.split("```yaml\n")[1:] if block.startswith("apiVersion:")]

    assert len(snippets) >= 14
    for snippet in snippets:
        text = EMPTY_CONCEPT.replace("slos: []\n", "slos:\n") + snippet.split("```")[0]
        valid(text, path="example/technical_validation.yaml")
    [full] = full_files
    assert valid(full.split("```")[0]).system == "recommender"


# Every field name of the format, and one that is in none of its models.
_KEYS = st.sampled_from(
    sorted(
        {
            info.alias or name
            for model in FileModel.__subclasses__()
            for name, info in model.model_fields.items()
        }
        | {"colour"}
    )
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["mlslo/v1", "push", "latency", "data_drift", "30d", "30x", "month", "Asia/Tokio", ""]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(_KEYS, st.integers(0, 3)), inner, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_any_mapping_is_either_loaded_or_rejected_with_placed_errors(fields: dict[str, object]) -> None:
    text = yaml.safe_dump({"apiVersion": "mlslo/v1", "kind": "SLOSet", **fields})

    slo_file, errors = load_text("recommender/production.yaml", text)

    assert (slo_file is None) == bool(errors)
    for error in errors:
        assert error.line is not None
        assert error.column is not None
