"""Reads SLO definition files (`<system>/<phase>.yaml`) and reports every problem in them with its
file, line and field. The only code in mlslo that reads these files."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.slos.schemas import OBJECTIVE_REQUIRED, SLI_KINDS, SloSetDocument, SloSpec
from app.systems.models import Phase
from app.systems.schemas import SYSTEM_NAME_PATTERN

YAML_SUFFIXES = (".yaml", ".yml")
PHASE_NAMES = ", ".join(phase.value for phase in Phase)
SLI_KIND_NAMES = ", ".join(sorted(SLI_KINDS))

# The last `.key` or `[index]` of a dotted field path.
_PARENT_FIELD = re.compile(r"(?:\.?[^.\[]+|\[\d+\])$")

# A location inside a document: mapping keys and list indexes, as pydantic reports them.
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SloFileError:
    """One problem in one definition file. `field` is a dotted path such as `slos[1].sli.threshold_ms`,
    empty when the problem concerns the whole file (its name, its YAML syntax)."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{location}: {self.field}: {self.message}" if self.field else f"{location}: {self.message}"


@dataclass(frozen=True)
class SloFile:
    """A valid definition file: the SLOs of one system in one phase."""

    path: str
    system: str
    phase: Phase
    slos: list[SloSpec]
    # Kept so that later checks (such as "system not registered") can still point at a line.
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, field_name: str) -> int | None:
        """The field's line or, for a field the file leaves out, its enclosing mapping's line."""
        while field_name not in self.field_lines:
            parent = _PARENT_FIELD.sub("", field_name)
            if parent == field_name:
                return None
            field_name = parent
        return self.field_lines[field_name]


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
    """Validate one file's content; `display_path` (`<system>/<phase>.yaml`) names its system and phase."""
    system, phase, errors = _system_and_phase(display_path)
    root, data, yaml_errors = _parse_yaml(display_path, text)
    if yaml_errors:
        return None, [*errors, *yaml_errors]
    if root is None:
        errors.append(
            SloFileError(display_path, None, "", "file is empty: expected an SLOSet (apiVersion, kind, slos)")
        )
        return None, errors

    lines, duplicate_key_errors = _index_lines(display_path, root)
    errors.extend(duplicate_key_errors)
    errors.extend(_naming_mismatches(display_path, data, lines, system=system, phase=phase))
    errors.extend(_duplicate_slo_names(display_path, data, lines))
    errors.extend(_missing_objectives(display_path, data, lines))
    document: SloSetDocument | None = None
    try:
        document = SloSetDocument.model_validate(data)
    except ValidationError as exc:
        errors.extend(_validation_errors(display_path, exc, lines))

    if errors or document is None or system is None or phase is None:
        return None, _in_file_order(errors)
    field_lines = {_format_field(path): line for path, line in lines.items()}
    return SloFile(
        path=display_path, system=system, phase=phase, slos=document.slos, field_lines=field_lines
    ), []


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
                f"file name {path.stem!r} is not a phase: expected one of {PHASE_NAMES}",
            )
        )
        phase = None
    return system, phase, errors


def _parse_yaml(display_path: str, text: str) -> tuple[Node | None, Any, list[SloFileError]]:
    """The node tree (which knows lines) and the plain data built from that same tree."""
    try:
        # The reader rejects control characters as soon as it is built, so this is inside the try.
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        reader_line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: {exc.reason} (character #x{exc.character:04x})"
        return None, None, [SloFileError(display_path, reader_line, "", message)]
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        return None, None, [SloFileError(display_path, line, "", f"invalid YAML: {_yaml_problem(exc)}")]
    except yaml.YAMLError as exc:
        return None, None, [SloFileError(display_path, None, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    return root, data, []


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    problem, context = exc.problem or "cannot be parsed", exc.context
    if context and problem.startswith("but "):
        return f"{context}, {problem}"
    if context and exc.context_mark is not None and exc.context_mark is not exc.problem_mark:
        return f"{problem} ({context} at line {exc.context_mark.line + 1})"
    return problem


def _index_lines(display_path: str, root: Node) -> tuple[dict[FieldPath, int], list[SloFileError]]:
    """1-based line of every key and list item, and the keys written twice in one mapping (PyYAML
    silently keeps the last one, which hides mistakes)."""
    lines: dict[FieldPath, int] = {(): root.start_mark.line + 1}
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
                            _format_field((*path, key)),
                            f"duplicate key {key!r} (first at line {first_line[key]}); "
                            "YAML would silently keep only the last value",
                        )
                    )
                first_line.setdefault(key, line)
                # The last value is the one in effect, so errors in it should point at its line.
                lines[(*path, key)] = line
                last_value[key] = value_node
            pending.extend(((*path, key), value) for key, value in last_value.items())
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                pending.append(((*path, index), item))
    return lines, errors


def _naming_mismatches(
    display_path: str,
    data: Any,
    lines: Mapping[FieldPath, int],
    *,
    system: str | None,
    phase: Phase | None,
) -> list[SloFileError]:
    """`system` and `phase` inside the file are optional, but must agree with where the file is."""
    if not isinstance(data, dict):
        return []
    errors: list[SloFileError] = []
    declared_system = data.get("system")
    if system is not None and isinstance(declared_system, str) and declared_system != system:
        errors.append(
            SloFileError(
                display_path,
                _line_of(lines, ("system",)),
                "system",
                f"says {declared_system!r} but the file is in the folder of system {system!r}",
            )
        )
    declared_phase = data.get("phase")
    if phase is not None and isinstance(declared_phase, str) and declared_phase != phase.value:
        errors.append(
            SloFileError(
                display_path,
                _line_of(lines, ("phase",)),
                "phase",
                f"says {declared_phase!r} but the file is named for phase {phase.value!r}",
            )
        )
    return errors


def _duplicate_slo_names(display_path: str, data: Any, lines: Mapping[FieldPath, int]) -> list[SloFileError]:
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
            path: FieldPath = ("slos", index, "name")
            errors.append(
                SloFileError(
                    display_path,
                    _line_of(lines, path),
                    _format_field(path),
                    f"duplicate SLO name {name!r}: slos[{first_index[name]}] already uses it",
                )
            )
        else:
            first_index[name] = index
    return errors


def _missing_objectives(display_path: str, data: Any, lines: Mapping[FieldPath, int]) -> list[SloFileError]:
    """Pydantic checks this only once an SLO's fields are otherwise valid; checked here so that it is
    reported together with the other errors of that SLO."""
    slos = data.get("slos") if isinstance(data, dict) else None
    if not isinstance(slos, list):
        return []
    return [
        SloFileError(display_path, _line_of(lines, ("slos", index)), f"slos[{index}]", OBJECTIVE_REQUIRED)
        for index, item in enumerate(slos)
        if isinstance(item, dict) and item.get("objective") is None and item.get("objective_percent") is None
    ]


def _validation_errors(
    display_path: str, exc: ValidationError, lines: Mapping[FieldPath, int]
) -> list[SloFileError]:
    errors: list[SloFileError] = []
    for error in exc.errors(include_url=False, include_input=False):
        location = list(error["loc"])
        sli_kind: str | None = None
        # A tagged union inserts the chosen tag (`latency`) after `sli`; the file has no such level.
        for index in range(len(location) - 1):
            if location[index] == "sli" and location[index + 1] in SLI_KINDS:
                sli_kind = str(location.pop(index + 1))
                break
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            location.append("kind")
        path = tuple(location)
        errors.append(
            SloFileError(
                display_path, _line_of(lines, path), _format_field(path), _message(error, path, sli_kind)
            )
        )
    return errors


def _message(error: ErrorDetails, path: FieldPath, sli_kind: str | None) -> str:
    error_type = error["type"]
    context = error.get("ctx", {})
    if error_type == "missing":
        return "required field is missing"
    if error_type == "extra_forbidden":
        if sli_kind == "error_rate" and path[-1:] == ("threshold_ms",):
            return "threshold_ms is only allowed for latency SLIs"
        return "unknown field"
    if error_type == "union_tag_not_found":
        return f"required field is missing: one of {SLI_KIND_NAMES}"
    if error_type == "union_tag_invalid":
        return f"unknown SLI kind {context.get('tag')!r}: expected one of {SLI_KIND_NAMES}"
    if error_type == "value_error" and "error" in context:
        return str(context["error"])
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping of fields"
    if error_type == "string_pattern_mismatch":
        return "must be lowercase letters, digits and dashes, starting with a letter or digit (at most 63)"
    if error_type == "list_type":
        return "expected a list"
    return error["msg"]


def _line_of(lines: Mapping[FieldPath, int], path: FieldPath) -> int | None:
    # A missing field has no line of its own: report the nearest enclosing one that exists.
    while path not in lines:
        if not path:
            return None
        path = path[:-1]
    return lines[path]


def _format_field(path: FieldPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _in_file_order(errors: list[SloFileError]) -> list[SloFileError]:
    # Problems with the file as a whole (no line) first, then top to bottom by field; a problem found both by
    # the loader's own checks and by pydantic is reported once.
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda error: (error.line is not None, error.line or 0, error.field))
