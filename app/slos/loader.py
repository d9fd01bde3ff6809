"""Reads SLO definition files (`<system>/<phase>.yaml`) and reports every problem in them with its
file, line, column and field, in words a person understands. The only code in mlslo that reads these files."""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.core.sli_catalog import CATALOG
from app.slos.definition import ENV_VAR_PATTERN, Sli, SloSetDocument, SloSpec, did_you_mean, semantic_problems
from app.systems.models import Phase
from app.systems.schemas import SYSTEM_NAME_PATTERN

YAML_SUFFIXES = (".yaml", ".yml")
PHASE_NAMES = ", ".join(phase.value for phase in Phase)

# The last `.key` or `[index]` of a dotted field path.
_PARENT_FIELD = re.compile(r"(?:\.?[^.\[]+|\[\d+\])$")

# A location inside a document: mapping keys and list indexes, as pydantic reports them.
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SloFileError:
    """One problem in one definition file. `field` is a dotted path such as `slos[1].sli.threshold_ms`,
    empty when the problem concerns the whole file (its name, its YAML syntax). `line` and `column`
    are 1-based; both are None when the problem has no place in the text (such as the file's name)."""

    file: str
    line: int | None
    field: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        location = self.file
        if self.line is not None:
            location += f":{self.line}" if self.column is None else f":{self.line}:{self.column}"
        return f"{location}: {self.field}: {self.message}" if self.field else f"{location}: {self.message}"


@dataclass(frozen=True)
class SloFile:
    """A valid definition file: the SLOs of one system in one phase."""

    path: str
    system: str
    phase: Phase
    slos: list[SloSpec]
    min_ml_test_score: float | None = None
    # Kept so that later checks (such as "system not registered") can still point at a place.
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    field_columns: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, field_name: str) -> int | None:
        """The field's line or, for a field the file leaves out, its enclosing mapping's line."""
        found = self._nearest(field_name, self.field_lines)
        return None if found is None else self.field_lines[found]

    def column_of(self, field_name: str) -> int | None:
        """The column that goes with `line_of`."""
        found = self._nearest(field_name, self.field_lines)
        return None if found is None else self.field_columns.get(found)

    @staticmethod
    def _nearest(field_name: str, known: Mapping[str, int]) -> str | None:
        while field_name not in known:
            parent = _PARENT_FIELD.sub("", field_name)
            if parent == field_name:
                return None
            field_name = parent
        return field_name


@dataclass(frozen=True)
class LoadResult:
    files: list[SloFile]
    errors: list[SloFileError]

    @property
    def ok(self) -> bool:
        return not self.errors


def load_path(path: Path) -> LoadResult:
    """Load a definitions root (`<root>/<system>/<phase>.yaml`) or a single definition file, whose
    system is its folder's name and whose phase is its file name."""
    if path.is_file():
        return _load_files([(path, f"{path.parent.name}/{path.name}")], errors=[])
    if not path.is_dir():
        return LoadResult(files=[], errors=[SloFileError(str(path), None, "", "no such file or directory")])

    candidates: list[tuple[Path, str]] = []
    errors: list[SloFileError] = []
    for candidate in sorted(path.rglob("*")):
        relative = candidate.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not candidate.is_file() or candidate.suffix.lower() not in YAML_SUFFIXES:
            continue
        if len(relative.parts) != 2:
            errors.append(
                SloFileError(
                    relative.as_posix(),
                    None,
                    "",
                    "misplaced definition file: files belong at <system>/<phase>.yaml, "
                    "one folder below the definitions root",
                )
            )
            continue
        candidates.append((candidate, relative.as_posix()))
    return _load_files(candidates, errors=errors)


def load_text(display_path: str, text: str) -> tuple[SloFile | None, list[SloFileError]]:
    """Validate one file's content; `display_path` (`<system>/<phase>.yaml`) names its system and phase.
    The file may be native (`mlslo/v1`) or OpenSLO v1."""
    if _OPENSLO_API_VERSION.search(text):
        return _load_openslo(display_path, text)
    system, phase, errors = _system_and_phase(display_path)
    root, data, yaml_errors = _parse_yaml(display_path, text)
    if yaml_errors:
        return None, [*errors, *yaml_errors]
    if root is None:
        errors.append(
            SloFileError(display_path, None, "", "file is empty: expected an SLOSet (apiVersion, kind, slos)")
        )
        return None, errors

    places, duplicate_key_errors = index_places(display_path, root)
    report = _Reporter(display_path, places)
    errors.extend(duplicate_key_errors)
    errors.extend(_naming_mismatches(report, data, system=system, phase=phase))
    errors.extend(_duplicate_slo_names(report, data))
    document: SloSetDocument | None = None
    try:
        document = SloSetDocument.model_validate(data)
    except ValidationError as exc:
        errors.extend(_validation_errors(report, exc))
    if document is not None:
        # Rules across fields, checked once each field is valid on its own.
        errors.extend(
            report.at(problem.path, problem.message) for problem in semantic_problems(document, phase)
        )

    if errors or document is None or system is None or phase is None:
        return None, _in_file_order(errors)
    return SloFile(
        path=display_path,
        system=system,
        phase=phase,
        slos=document.slos,
        min_ml_test_score=document.min_ml_test_score,
        field_lines={format_field(path): place.key_line for path, place in places.items()},
        field_columns={format_field(path): place.key_column for path, place in places.items()},
    ), []


_OPENSLO_API_VERSION = re.compile(r"^\s*(?:-\s+)?apiVersion:\s*['\"]?openslo/", re.MULTILINE)


def _load_openslo(display_path: str, text: str) -> tuple[SloFile | None, list[SloFileError]]:
    # Imported here: the OpenSLO importer builds on this module's error type.
    from app.slos.openslo import openslo_file_to_native

    system, phase, errors = _system_and_phase(display_path)
    document, import_errors = openslo_file_to_native(display_path, text)
    errors.extend(import_errors)
    if document is not None:
        errors.extend(
            SloFileError(display_path, None, format_field(problem.path), problem.message)
            for problem in semantic_problems(document, phase)
        )
    if errors or document is None or system is None or phase is None:
        return None, errors
    return SloFile(path=display_path, system=system, phase=phase, slos=document.slos), []


def definition_sources(system_dir: Path) -> list[tuple[str, str]]:
    """The raw text of one system's definition files as (`<system>/<file>`, text), as the apply API takes them."""
    return [
        (f"{system_dir.name}/{candidate.name}", candidate.read_text(encoding="utf-8"))
        for candidate in sorted(system_dir.iterdir())
        if candidate.is_file() and candidate.suffix.lower() in YAML_SUFFIXES
    ]


def find_conflicting_files(files: Sequence[SloFile]) -> list[SloFileError]:
    """Two files for the same system and phase (say `production.yaml` and `production.yml`) are ambiguous."""
    first_by_key: dict[tuple[str, Phase], SloFile] = {}
    errors: list[SloFileError] = []
    for slo_file in files:
        key = (slo_file.system, slo_file.phase)
        first = first_by_key.setdefault(key, slo_file)
        if first is not slo_file:
            errors.append(
                SloFileError(
                    slo_file.path,
                    None,
                    "",
                    f"{slo_file.system}/{slo_file.phase.value} is already defined by {first.path}; "
                    "keep one file per system and phase",
                )
            )
    return errors


def _load_files(candidates: list[tuple[Path, str]], *, errors: list[SloFileError]) -> LoadResult:
    files: list[SloFile] = []
    for file_path, display_path in candidates:
        try:
            text = file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(SloFileError(display_path, None, "", f"cannot read file: {exc}"))
            continue
        slo_file, file_errors = load_text(display_path, text)
        errors.extend(file_errors)
        if slo_file is not None:
            files.append(slo_file)
    errors.extend(find_conflicting_files(files))
    return LoadResult(files=files, errors=errors)


def _system_and_phase(display_path: str) -> tuple[str | None, Phase | None, list[SloFileError]]:
    path = PurePosixPath(display_path.replace("\\", "/"))
    errors: list[SloFileError] = []
    if path.suffix not in YAML_SUFFIXES:
        errors.append(SloFileError(display_path, None, "", "expected a .yaml or .yml file"))
    if len(path.parts) < 2:
        errors.append(
            SloFileError(
                display_path, None, "", "the path must name the system folder: <system>/<phase>.yaml"
            )
        )
        return None, None, errors

    system: str | None = path.parent.name
    if not re.fullmatch(SYSTEM_NAME_PATTERN, path.parent.name):
        errors.append(
            SloFileError(
                display_path,
                None,
                "",
                f"folder {path.parent.name!r} is not a system name (lowercase letters, digits and dashes)",
            )
        )
        system = None
    try:
        phase: Phase | None = Phase(path.stem)
    except ValueError:
        errors.append(
            SloFileError(
                display_path,
                None,
                "",
                f"file name {path.stem!r} is not a phase: expected one of {PHASE_NAMES}"
                + _did_you_mean(path.stem, [phase.value for phase in Phase]),
            )
        )
        phase = None
    return system, phase, errors


def _parse_yaml(display_path: str, text: str) -> tuple[Node | None, Any, list[SloFileError]]:
    """The node tree (which knows lines and columns) and the plain data built from that same tree."""
    try:
        # The reader rejects control characters as soon as it is built, so this is inside the try.
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"invalid YAML: {exc.reason} (character #x{exc.character:04x})"
        return None, None, [SloFileError(display_path, line, "", message, column=column)]
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {_yaml_problem(exc)}"
        if mark is None:
            return None, None, [SloFileError(display_path, None, "", message)]
        return None, None, [SloFileError(display_path, mark.line + 1, "", message, column=mark.column + 1)]
    except yaml.YAMLError as exc:
        return None, None, [SloFileError(display_path, None, "", f"invalid YAML: {exc}")]
    except RecursionError:
        return None, None, [SloFileError(display_path, None, "", "invalid YAML: nested too deeply")]
    finally:
        loader.dispose()
    return root, data, []


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem, context = exc.problem or "cannot be parsed", exc.context
    if context and problem.startswith("but "):
        message = f"{context}, {problem}"
    elif context and exc.context_mark is not None and exc.context_mark is not exc.problem_mark:
        message = f"{problem} ({context} at line {exc.context_mark.line + 1})"
    else:
        message = problem
    if "expected <block end>" in message or "mapping values are not allowed here" in message:
        # PyYAML's words for a line indented differently from its siblings, or a missing space after ':'.
        message += "; check this line's indentation and that every ':' is followed by a space"
    return message


@dataclass(frozen=True, slots=True)
class Place:
    """Where a key (or a list item) and its value start in the text, 1-based."""

    key_line: int
    key_column: int
    value_line: int
    value_column: int
    value_is_scalar: bool


def _place(key: Node, value: Node) -> Place:
    return Place(
        key.start_mark.line + 1,
        key.start_mark.column + 1,
        value.start_mark.line + 1,
        value.start_mark.column + 1,
        isinstance(value, ScalarNode),
    )


def index_places(display_path: str, root: Node) -> tuple[dict[FieldPath, Place], list[SloFileError]]:
    """Where every key and list item is, and the keys written twice in one mapping (PyYAML silently
    keeps the last one, which hides mistakes)."""
    places: dict[FieldPath, Place] = {(): _place(root, root)}
    errors: list[SloFileError] = []
    visited: set[int] = set()
    pending: list[tuple[FieldPath, Node]] = [((), root)]
    while pending:
        path, node = pending.pop()
        # Aliases share nodes; visiting each once keeps a YAML alias bomb from expanding here.
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, MappingNode):
            first_line: dict[str, int] = {}
            last_value: dict[str, Node] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in first_line:
                    errors.append(
                        SloFileError(
                            display_path,
                            line,
                            format_field((*path, key)),
                            f"duplicate key {key!r} (first at line {first_line[key]}); "
                            "YAML would silently keep only the last value",
                            column=key_node.start_mark.column + 1,
                        )
                    )
                first_line.setdefault(key, line)
                # The last value is the one in effect, so errors in it should point at it.
                places[(*path, key)] = _place(key_node, value_node)
                last_value[key] = value_node
            pending.extend(((*path, key), value) for key, value in last_value.items())
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                places[(*path, index)] = _place(item, item)
                pending.append(((*path, index), item))
    return places, errors


class _Reporter:
    """Builds the errors of one file, placed at the text of the field they concern."""

    def __init__(self, display_path: str, places: Mapping[FieldPath, Place]) -> None:
        self.display_path = display_path
        self.places = places

    def at(self, path: FieldPath, message: str, *, at_key: bool = False) -> SloFileError:
        """An error at `path`: at its value when that is a scalar (the likely culprit), else at its key;
        a field the file leaves out is placed at the key of the mapping that should hold it."""
        found = path
        while found not in self.places:
            found = found[:-1]
        place = self.places[found]
        if found == path and not at_key and place.value_is_scalar:
            line, column = place.value_line, place.value_column
        else:
            line, column = place.key_line, place.key_column
        return SloFileError(self.display_path, line, format_field(path), message, column=column)


def _naming_mismatches(
    report: _Reporter, data: Any, *, system: str | None, phase: Phase | None
) -> list[SloFileError]:
    """`system` and `phase` inside the file are optional, but must agree with where the file is."""
    if not isinstance(data, dict):
        return []
    errors: list[SloFileError] = []
    declared_system = data.get("system")
    if (
        system is not None
        and isinstance(declared_system, str)
        and re.fullmatch(SYSTEM_NAME_PATTERN, declared_system)
        and declared_system != system
    ):
        errors.append(
            report.at(
                ("system",), f"says {declared_system!r} but the file is in the folder of system {system!r}"
            )
        )
    declared_phase = data.get("phase")
    # An unknown phase is reported by validation, with the phases to choose from.
    known_phase = isinstance(declared_phase, str) and declared_phase in {known.value for known in Phase}
    if phase is not None and known_phase and declared_phase != phase.value:
        errors.append(
            report.at(("phase",), f"says {declared_phase!r} but the file is named for phase {phase.value!r}")
        )
    return errors


def _duplicate_slo_names(report: _Reporter, data: Any) -> list[SloFileError]:
    slos = data.get("slos") if isinstance(data, dict) else None
    if not isinstance(slos, list):
        return []
    first_index: dict[str, int] = {}
    errors: list[SloFileError] = []
    for index, item in enumerate(slos):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            errors.append(
                report.at(
                    ("slos", index, "name"),
                    f"duplicate SLO name {name!r}: slos[{first_index[name]}] already uses it",
                )
            )
        else:
            first_index[name] = index
    return errors


def _validation_errors(report: _Reporter, exc: ValidationError) -> list[SloFileError]:
    errors: list[SloFileError] = []
    for error in exc.errors(include_url=False, include_input=True):
        site = _resolve(tuple(error["loc"]))
        errors.append(report.at(site.path, _message(error, site), at_key=error["type"] == "extra_forbidden"))
    return errors


@dataclass(frozen=True, slots=True)
class _Site:
    """What a pydantic error location points at: the path in the file (without the tags pydantic
    adds for the shape of a union), the model holding its last part, and the type expected there."""

    path: FieldPath
    model: type[BaseModel] | None
    annotation: Any

    @property
    def name(self) -> str | int | None:
        return self.path[-1] if self.path else None


def _resolve(loc: FieldPath) -> _Site:
    annotation: Any = SloSetDocument
    model: type[BaseModel] | None = None
    path: list[str | int] = []
    for part in loc:
        annotation = _unwrap(annotation)
        members = _tagged_members(annotation)
        if isinstance(part, str) and part in members:
            annotation = members[part]
            continue
        path.append(part)
        model = None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            annotation = _field_annotation(annotation, part)
        elif typing.get_origin(annotation) is list and isinstance(part, int):
            annotation = typing.get_args(annotation)[0]
        else:
            annotation = None
    return _Site(tuple(path), model, _unwrap(annotation))


def _unwrap(annotation: Any) -> Any:
    """Strip `Annotated[...]` and `| None`, keeping unions of several types (and their tags)."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif _is_union(annotation):
            others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(others) != 1:
                return annotation
            annotation = others[0]
        else:
            return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _tagged_members(annotation: Any) -> dict[str, Any]:
    if not _is_union(annotation):
        return {}
    members = {}
    for member in typing.get_args(annotation):
        if typing.get_origin(member) is typing.Annotated:
            for extra in member.__metadata__:
                if isinstance(extra, Tag):
                    members[extra.tag] = member
    return members


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_annotation(model: type[BaseModel], key: str | int) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _nested_models(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """The fields of `model` that hold models (directly, in a list, or as one shape of a union)."""
    nested: list[tuple[str, type[BaseModel]]] = []
    for name in _field_names(model):
        annotation = _unwrap(_field_annotation(model, name))
        if typing.get_origin(annotation) is list:
            annotation = _unwrap(typing.get_args(annotation)[0])
        candidates = [_unwrap(member) for member in _tagged_members(annotation).values()] or [annotation]
        nested.extend(
            (name, candidate)
            for candidate in candidates
            if isinstance(candidate, type) and issubclass(candidate, BaseModel)
        )
    return nested


def _allowed_values(annotation: Any) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    if typing.get_origin(annotation) is typing.Literal:
        return [str(value) for value in typing.get_args(annotation)]
    return []


_ENUM_LABELS = {
    "source": "source",
    "budgeting": "budgeting method",
    "op": "op",
    "calendar": "calendar unit",
    "phase": "phase",
    "owner": "owner",
    "method": "HTTP method",
}


def _message(error: ErrorDetails, site: _Site) -> str:
    error_type = error["type"]
    context = error.get("ctx", {})
    given = error.get("input")
    if error_type == "missing":
        allowed = _allowed_values(site.annotation)
        if len(allowed) == 1:
            return f"required field is missing: write {site.name}: {allowed[0]}"
        return "required field is missing" + (f": one of {', '.join(allowed)}" if allowed else "")
    if error_type == "extra_forbidden":
        return _unknown_field(site)
    if error_type in ("enum", "literal_error"):
        return _unknown_value(site, given)
    if error_type == "value_error" and "error" in context:
        return str(context["error"])
    if error_type == "less_than" and context.get("lt") == 1:
        return _ratio_too_high(site, given)
    if error_type in _TYPE_EXPECTATIONS:
        return _wrong_type(error_type, given)
    if error_type == "int_from_float":
        return f"expected a whole number, got {_describe(given)}"
    if error_type == "string_pattern_mismatch":
        if context.get("pattern") == ENV_VAR_PATTERN:
            return (
                f"{given!r} is not an environment variable name: uppercase letters, digits and _, "
                "such as RECS_DATABASE_URL"
            )
        return (
            f"{given!r} is not a valid name: lowercase letters, digits and dashes, "
            "starting with a letter or digit (at most 63)"
        )
    if error_type in _BOUNDS:
        bound = next(iter(context.values()), "")
        return f"must be {_BOUNDS[error_type]} {bound:g}, got {_describe(given)}"
    if error_type == "too_short":
        return "must not be empty: give at least one item"
    if error_type == "string_too_short":
        return "must not be empty"
    if error_type == "string_too_long":
        return f"is too long: at most {context.get('max_length')} characters"
    if error_type == "finite_number":
        return "must be a finite number"
    return str(error["msg"])


_TYPE_EXPECTATIONS = {
    "float_type": "a number",
    "int_type": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "list_type": "a list (items start with '- ')",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}
_BOUNDS = {
    "greater_than": "above",
    "greater_than_equal": "at least",
    "less_than": "below",
    "less_than_equal": "at most",
}


def _describe(value: Any) -> str:
    """A value as the person wrote it in YAML."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return type(value).__name__


def _wrong_type(error_type: str, given: Any) -> str:
    message = f"expected {_TYPE_EXPECTATIONS[error_type]}, got {_describe(given)}"
    if error_type in ("float_type", "int_type") and isinstance(given, str):
        text = given.strip()
        if text.endswith("%"):
            return f"{message}: write a ratio such as 0.999 for 99.9%"
        if _is_number(text):
            return f"{message}: remove the quotes"
    if error_type == "string_type" and isinstance(given, int | float | bool | date):
        return f"{message}: put it in quotes"
    return message


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ratio_too_high(site: _Site, given: Any) -> str:
    if isinstance(given, int | float) and given == 1:
        return "must be below 1 (100%): a 100% target leaves no error budget; for 99.9% write 0.999"
    # 99.9 is a percentage written where a ratio goes; 1.5 is more likely a slip than 1.5%.
    if isinstance(given, int | float) and 50 <= given < 100:
        written = f"{given / 100:.10g}"
        percent_field = f"{site.name}_percent" if site.name in ("objective", "target") else None
        alternative = f" (or {percent_field}: {given})" if percent_field else ""
        return f"must be below 1 (100%): {given} looks like a percentage; write {written}{alternative}"
    return "must be below 1 (100%): targets are ratios; for 99.9% write 0.999"


def _unknown_field(site: _Site) -> str:
    key = str(site.name)
    if site.model is None:
        return f"unknown field {key!r}"
    fields = _field_names(site.model)
    suggestion = did_you_mean(key, fields)
    if suggestion is not None:
        return f"unknown field {key!r}: did you mean {suggestion!r}?"
    for name, nested in _nested_models(site.model):
        if key in _field_names(nested):
            return f"unknown field {key!r} here: it belongs under `{name}:`"
    if len(site.path) >= 2:
        parent = _resolve(site.path[:-1]).model
        if parent is not None and key in _field_names(parent):
            return f"unknown field {key!r} under `{site.path[-2]}:`: it belongs one level up"
    return f"unknown field {key!r}: expected one of {', '.join(fields)}"


def _unknown_value(site: _Site, given: Any) -> str:
    allowed = _allowed_values(site.annotation)
    if len(allowed) == 1:
        return f"expected {allowed[0]!r}, got {given!r}"
    is_sli_kind = site.model is Sli and site.name == "kind"
    label = "SLI kind" if is_sli_kind else _ENUM_LABELS.get(str(site.name), str(site.name))
    shown = repr(given) if isinstance(given, str) else _describe(given)
    message = f"unknown {label} {shown}: expected one of {', '.join(allowed)}"
    if not isinstance(given, str):
        return message
    suggestion = _did_you_mean(given, allowed)
    if not suggestion and is_sli_kind:
        # People often name the metric (accuracy, drift share) where the kind goes.
        metrics = {metric: kind for kind, info in CATALOG.items() for metric in info.metrics}
        metric = did_you_mean(given, metrics)
        if metric is not None:
            suggestion = f"; did you mean kind: {metrics[metric].value} with metric: {metric}?"
    return message + suggestion


def _did_you_mean(given: str, candidates: Sequence[str]) -> str:
    suggestion = did_you_mean(given, candidates)
    return f"; did you mean {suggestion!r}?" if suggestion is not None else ""


def format_field(path: FieldPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _in_file_order(errors: list[SloFileError]) -> list[SloFileError]:
    # Problems with the file as a whole (no line) first, then top to bottom by place; a problem found
    # both by the loader's own checks and by pydantic is reported once.
    unique = list(dict.fromkeys(errors))
    return sorted(
        unique, key=lambda error: (error.line is not None, error.line or 0, error.column or 0, error.field)
    )
