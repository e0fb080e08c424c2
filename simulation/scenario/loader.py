"""Reading scenarios: TOML files, ``extends`` chains, dotted overrides, schedules.

Every problem is raised as :class:`ScenarioError` whose message is one line
naming the file, the key and what is allowed (with a "did you mean" for
misspelt keys). The CLI prints that line and exits with code 2.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulation.scenario.fields import allowed_values, field_at
from simulation.scenario.schema import RunSettings, Scenario, parse_quarter, quarter_label, quarter_offset

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"


# Sections fixed for the whole run: a scheduled change of them could not take effect.
FIXED_FOR_THE_RUN = ("run", "name", "question", "extends", "schedule")


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``str(error)`` is the one-line message."""


def shipped_scenarios() -> dict[str, Path]:
    """Names and paths of the scenarios shipped in ``scenarios/``."""
    if not SCENARIO_DIR.is_dir():
        return {}
    return {path.stem: path for path in sorted(SCENARIO_DIR.glob("*.toml"))}


def shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory when the file lies below it."""
    cwd = Path.cwd()
    if cwd == Path(cwd.anchor):
        return str(path)
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def resolve_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """Find a scenario by path, by path relative to another file, or by shipped name."""
    candidate = Path(name_or_path)
    search = []
    if relative_to is not None:
        search.append(relative_to.parent / candidate)
    search.append(candidate)
    if candidate.suffix != ".toml":
        search.append(SCENARIO_DIR / f"{candidate}.toml")
    search.append(SCENARIO_DIR / candidate.name)
    for path in search:
        if path.is_file():
            return path.resolve()
    shipped = list(shipped_scenarios())
    close = difflib.get_close_matches(candidate.stem, shipped, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    where = f"{shown(relative_to)}: extends" if relative_to else str(name_or_path)
    raise ScenarioError(f"{where}: scenario file {str(name_or_path)!r} not found; {hint}shipped scenarios: {', '.join(shipped) or 'none'}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{shown(path)}: not valid TOML ({error})") from None
    except OSError as error:
        raise ScenarioError(f"{shown(path)}: cannot be read ({error.strerror})") from None


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``change``; nested tables merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "set":
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw mapping of a scenario with its ``extends`` chain merged in (cycles refused).

    A file without ``extends`` changes the schema defaults. Each file's own scheduled changes must fall
    inside its run, and a region it adds must say how large it is (``firm_share``): a misspelt region
    name would otherwise silently add a fourth region.
    """
    if path in seen:
        cycle = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(f"{shown(seen[-1])}: extends: cycle of scenarios ({cycle})")
    data = _read_toml(path)
    parent_name = data.get("extends")
    if parent_name is None:
        parent: dict[str, Any] = Scenario().model_dump(mode="python", exclude={"extends", "question", "schedule"})
    elif not isinstance(parent_name, str):
        raise ScenarioError(f"{shown(path)}: extends: must be a file name string, got {type(parent_name).__name__}")
    else:
        parent = read_chain(resolve_path(parent_name, relative_to=path), (*seen, path))
    check_new_regions(parent.get("regions"), data.get("regions"), shown(path))
    inherited = parent.get("schedule", [])
    schedule = inherited + data.get("schedule", []) if isinstance(data.get("schedule", []), list) else data.get("schedule")
    merged = deep_merge(parent, {k: v for k, v in data.items() if k != "schedule"})
    if schedule:
        merged["schedule"] = schedule
    if "question" not in data:
        merged.pop("question", None)
    if "name" not in data:
        merged["name"] = path.stem  # a scenario is named after its file unless it says otherwise
    check_schedule_quarters(merged, shown(path), first=len(inherited))
    return merged


def check_new_regions(known: Any, given: Any, source: str) -> None:
    """Refuse a region table that adds a region without its ``firm_share`` (most likely a misspelt name)."""
    if not isinstance(known, dict) or not isinstance(given, dict):
        return
    for name, table in given.items():
        if name in known or (isinstance(table, dict) and "firm_share" in table):
            continue
        close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.3)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ScenarioError(f"{source}: regions.{name}: unknown region; {hint}regions: {', '.join(known)} "
                            f"(a new region must set regions.{name}.firm_share)")


def check_schedule_quarters(data: dict[str, Any], source: str, first: int = 0) -> None:
    """Refuse scheduled changes (from index ``first`` on) that fall before the start of the run.

    Changes after the run's last quarter are allowed (a shortened run of a scenario with a schedule
    is normal); :func:`late_changes` lists them so that commands can say they do not apply.
    """
    schedule = data.get("schedule")
    run = data.get("run") if isinstance(data.get("run"), dict) else {}
    start = run.get("start_quarter", RunSettings().start_quarter)
    if not isinstance(schedule, list):
        return  # the schema reports it
    try:
        parse_quarter(start)
    except ValueError:
        return
    for index, change in enumerate(schedule[first:], start=first):
        label = change.get("quarter") if isinstance(change, dict) else None
        try:
            offset = quarter_offset(start, label)
        except (ValueError, TypeError):
            continue  # not a quarter: the schema reports it
        if offset < 0:
            raise ScenarioError(f"{source}: schedule[{index}].quarter: {label} is before the start of the run "
                                f"(run.start_quarter {start}); allowed: {start} or later")


def late_changes(scenario: Scenario) -> list[str]:
    """One note per scheduled change that falls after the run's last quarter (and so does not apply)."""
    start, quarters = scenario.run.start_quarter, scenario.run.quarters
    end = quarter_label(start, quarters - 1)
    return [f"{scenario.name}: schedule[{index}] ({change.quarter}) comes after the run's last quarter {end} "
            f"(run.quarters {quarters}) and does not apply"
            for index, change in enumerate(scenario.schedule) if quarter_offset(start, change.quarter) >= quarters]


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class found by following ``loc`` from :class:`Scenario`."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return model if part not in getattr(model, "model_fields", {}) else None
        annotation = field.annotation
        model = _unwrap_model(annotation)
    return model


def _unwrap_model(annotation: Any) -> Any:
    """The BaseModel class inside ``list[X]``, ``dict[str, X]`` or ``X``; None if there is none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _suggest(loc: tuple[Any, ...]) -> str:
    parent = _model_at(loc[:-1])
    if parent is None or not hasattr(parent, "model_fields"):
        return ""
    options = list(parent.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), options, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{hint}allowed keys: {', '.join(options)}"


def dotted_key(loc: tuple[Any, ...]) -> str:
    """``("schedule", 0, "quarter")`` → ``"schedule[0].quarter"``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe_error(error: ValidationError, source: str) -> str:
    """One line naming the source, the key and what is allowed."""
    first = error.errors()[0]
    loc = tuple(first["loc"])
    key = dotted_key(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{source}: {key}: unknown key; {_suggest(loc)}"
    table = _model_at(loc)
    if kind in ("model_type", "model_attributes_type") and table is not None and hasattr(table, "model_fields"):
        keys = list(table.model_fields)
        return (f"{source}: {key}: is a table of parameters, not a value (got {first.get('input')!r}); "
                f"set one of its keys, e.g. {key}.{keys[0]}; allowed keys: {', '.join(keys)}")
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    notes = []
    if not (isinstance(given, dict) or given is None) and repr(given) not in message:
        notes.append(f"got {given!r}")
    info = field_at(Scenario, loc)
    allowed = allowed_values(info) if info is not None else ""
    if allowed and kind != "literal_error":
        notes.append(f"allowed: {allowed}")
    more = len(error.errors()) - 1
    tail = f"; and {more} more problem(s)" if more else ""
    note_text = f" ({'; '.join(notes)})" if notes else ""
    return f"{source}: {key}: {message}{note_text}{tail}"


def parse_value(text: str) -> Any:
    """Read a ``--set`` value as TOML (numbers, booleans, strings, lists); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``a.b.c`` in a nested mapping, creating tables on the way."""
    parts = key.split(".")
    if not all(parts):
        raise ScenarioError(f"{source}: {key}: not a dotted parameter name like relending.rate")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"{source}: {key}: '{part}' is a value, not a table")
        node = child
    node[parts[-1]] = value


def check_finite(data: Any, source: str, loc: tuple[Any, ...] = ()) -> None:
    """Refuse ``inf`` and ``nan`` anywhere in a raw mapping (TOML allows them; no parameter means them)."""
    if isinstance(data, dict):
        for key, value in data.items():
            check_finite(value, source, (*loc, key))
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            check_finite(value, source, (*loc, index))
    elif isinstance(data, float) and not math.isfinite(data):
        info = field_at(Scenario, loc)
        allowed = allowed_values(info) if info is not None else ""
        raise ScenarioError(f"{source}: {dotted_key(loc)}: must be a finite number (got {data!r}"
                            f"{'; allowed: ' + allowed if allowed else ''})")


def validate_mapping(data: dict[str, Any], source: str) -> Scenario:
    """Validate a raw mapping into a :class:`Scenario` (schedules included)."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(describe_error(error, source)) from None
    check_finite({key: value for key, value in data.items() if key != "schedule"}, source)
    for index, change in enumerate(scenario.schedule):
        fixed = [key for key in change.set if key.split(".")[0] in FIXED_FOR_THE_RUN]
        if fixed:
            raise ScenarioError(f"{source}: schedule[{index}] ({change.quarter}): {fixed[0]}: cannot change during a run "
                                f"(set it in [{fixed[0].split('.')[0]}] instead); schedules change policy levers such as relending.rate")
        trial = scenario.model_dump(mode="python")
        for key, value in change.set.items():
            set_dotted(trial, key, value, f"{source}: schedule[{index}] ({change.quarter})")
        trial["schedule"] = []
        try:
            Scenario.model_validate(trial)
        except ValidationError as error:
            raise ScenarioError(describe_error(error, f"{source}: schedule[{index}] ({change.quarter})")) from None
        check_finite(change.set, f"{source}: schedule[{index}] ({change.quarter})")
    return scenario


def load_scenario(
    scenario: str | Path | Scenario | dict[str, Any] = "baseline",
    overrides: dict[str, Any] | None = None,
) -> Scenario:
    """Load and validate a scenario.

    Args:
        scenario: a shipped name ("baseline"), a path to a TOML file, a mapping
            or an existing :class:`Scenario`.
        overrides: dotted parameter names and values applied on top
            (e.g. ``{"relending.rate": 0.0125}``); strings are read as TOML values.

    Raises:
        ScenarioError: with a one-line message naming file, key and what is allowed.
    """
    if isinstance(scenario, Scenario):
        data, source = scenario.model_dump(mode="python"), scenario.name
    elif isinstance(scenario, dict):
        data, source = copy.deepcopy(scenario), "<mapping>"
    else:
        path = resolve_path(scenario)
        data, source = read_chain(path), shown(path)
        data.pop("extends", None)
    if not overrides:
        return validate_mapping(data, source)
    validate_mapping(data, source)  # problems of the file itself name the file ...
    regions_before = copy.deepcopy(data.get("regions"))
    for key, value in overrides.items():
        if isinstance(value, str):
            value = parse_value(value)
        set_dotted(data, key, value, "override")
    if isinstance(regions_before, dict) and isinstance(data.get("regions"), dict):
        added = {name: table for name, table in data["regions"].items() if name not in regions_before}
        check_new_regions(regions_before, added, "override")
    return validate_mapping(data, "override")  # ... problems of an override name the override


def with_changes(scenario: Scenario, changes: dict[str, Any]) -> Scenario:
    """A new scenario with dotted ``changes`` applied (used for scheduled lever changes)."""
    data = scenario.model_dump(mode="python")
    for key, value in changes.items():
        set_dotted(data, key, value, f"{scenario.name}: change")
    return validate_mapping(data, scenario.name)


def to_toml(scenario: Scenario) -> str:
    """The resolved scenario as TOML text (for run folders and provenance)."""
    return _dump_table(scenario.model_dump(mode="json", exclude_none=False), ())


def _format_value(value: Any) -> str:
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_format_value(v)}' for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _dump_table(table: dict[str, Any], prefix: tuple[str, ...]) -> str:
    lines: list[str] = []
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if value is None and key == "extends":
            continue
        if isinstance(value, dict) and key != "set" or isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_format_value(value)}")
    out = "\n".join(lines)
    for key, value in nested:
        name = ".".join((*prefix, key))
        if isinstance(value, list):
            for item in value:
                out += f"\n\n[[{name}]]\n" + _dump_table(item, (*prefix, key)).strip()
        else:
            body = _dump_table(value, (*prefix, key))
            out += f"\n\n[{name}]\n" + body.strip()
    return out.strip() + "\n" if not prefix else out
