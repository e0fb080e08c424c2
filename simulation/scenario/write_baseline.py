"""Generate ``scenarios/baseline.toml`` from the schema, so the file never drifts.

Every parameter of :class:`~simulation.scenario.schema.Scenario` is written with
its default value, a comment with its description (unit, and for calibrated
values the ``calibration.md`` section and grade) and what values are allowed.

Regenerate after changing a default in ``schema.py``::

    python -m simulation.scenario.write_baseline          # rewrites scenarios/baseline.toml
    python -m simulation.scenario.write_baseline --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulation.scenario.fields import allowed_values
from simulation.scenario.loader import SCENARIO_DIR, _format_value
from simulation.scenario.schema import Scenario

BASELINE_PATH = SCENARIO_DIR / "baseline.toml"
BASELINE_QUESTION = "Where does China's innovation-finance ecosystem go from 2026Q1 under the January-2026 policy settings?"
WIDTH = 100

HEADER = """\
# InnoFin baseline scenario: every model parameter, its unit and its source.
#
# GENERATED from simulation/scenario/schema.py by
#     python -m simulation.scenario.write_baseline
# Do not edit by hand: change the default in the schema and regenerate.
#
# Conventions: money in RMB (real-world amounts, independent of run.scale);
# rates are annual fractions (0.0125 = 1.25 %) unless the name says _quarterly;
# shares are fractions 0-1. "§n.m" refers to the section of calibration.md with
# the source; grades: A official, B industry data, C secondary, D derived or
# assumed (D values are modelling assumptions; their range to test is given).
#
# To write a policy scenario, do not copy this file: start a new file with
#     extends = "baseline.toml"
# and set only what differs. Levers can change at a given quarter:
#     [[schedule]]
#     quarter = "2027Q3"
#     set = { "relending.rate" = 0.010 }
"""


def _format(value: Any) -> str:
    """A TOML value; large amounts in short exact scientific notation (3.63e12, not 3630000000000.0)."""
    if isinstance(value, float) and abs(value) >= 1e5:
        for digits in range(17):
            text = f"{value:.{digits}e}"
            if float(text) == value:
                mantissa, exponent = text.split("e")
                return f"{mantissa}e{int(exponent)}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(item) for item in value) + "]"
    return _format_value(value)


def _unit(name: str, value: Any) -> str:
    """A unit read from the parameter's name and value."""
    if isinstance(value, bool) or (isinstance(value, list) and value and isinstance(value[0], bool)):
        return "switch true/false"
    if name.endswith("_rmb") or "_rmb_" in name:
        return "RMB"
    if name.endswith("_pp"):
        return "annual percentage points as a fraction (0.015 = 1.5 pp)"
    if name.endswith("_quarterly"):
        return "per quarter"
    if name.endswith("_annual") or name in {"rate", "base_rate", "funding_cost", "operating_cost", "fee", "capital_charge"}:
        return "per year"
    if name.endswith("_years"):
        return "years"
    if name.endswith("_quarters"):
        return "quarters"
    return ""


def _comment(name: str, info: FieldInfo, value: Any) -> list[str]:
    """Comment lines for one parameter: description, unit and allowed values."""
    unit = _unit(name, value)
    allowed = allowed_values(info)
    tail = "; ".join(p for p in (f"unit: {unit}" if unit else "", f"allowed: {allowed}" if allowed else "") if p)
    lines = textwrap.wrap(info.description.strip(), WIDTH - 2, break_on_hyphens=False) if info.description else []
    if tail:
        tail = f"[{tail}]"
        if lines and len(lines[-1]) + 1 + len(tail) <= WIDTH - 2:
            lines[-1] += " " + tail
        else:
            lines.append(tail)
    return ["# " + line for line in lines]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _table(model: type[BaseModel], values: dict[str, Any], prefix: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Lines of one TOML table (plain keys first, then its sub-tables)."""
    lines: list[str] = []
    nested: list[tuple[str, FieldInfo, Any]] = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        value = values[name]
        sub = _model_of(info.annotation)
        if sub is not None and isinstance(value, (dict, list)) and name != "set":
            nested.append((name, info, value))
            continue
        if value is None and name == "extends":
            continue
        lines.extend(_comment(name, info, value))
        lines.append(f"{name} = {_format(value)}")
    for name, info, value in nested:
        sub = _model_of(info.annotation)
        dotted = f"{prefix}{name}"
        if isinstance(value, list):
            for index, item in enumerate(value):
                lines.append("")
                lines.append(f"[[{dotted}]]")
                table = _table(sub, item, f"{dotted}.")
                lines.extend(table if index == 0 else [line for line in table if not line.startswith("#")])
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) and get_origin(info.annotation) is dict:
            for key, item in value.items():
                lines.append("")
                lines.append(f"# --- {name}.{key}: {(sub.__doc__ or '').strip().splitlines()[0]}")
                lines.append(f"[{dotted}.{key}]")
                lines.extend(_table(sub, item, f"{dotted}.{key}."))
        else:
            lines.append("")
            doc = (sub.__doc__ or "").strip().splitlines()[0] if sub.__doc__ else ""
            if doc:
                lines.append(f"# --- {doc}")
            lines.append(f"[{dotted}]")
            lines.extend(_table(sub, value, f"{dotted}."))
    return lines


def baseline_text() -> str:
    """The full text of ``scenarios/baseline.toml`` for the current schema defaults."""
    scenario = Scenario(name="baseline", question=BASELINE_QUESTION)
    values = scenario.model_dump(mode="json")
    if values["schedule"]:
        raise ValueError("the baseline has no scheduled changes; put them in a scenario that extends it")
    body = _table(Scenario, values, "", skip=("schedule",))
    first_table = next(i for i, line in enumerate(body) if line.startswith("["))
    while first_table > 0 and body[first_table - 1].startswith("#"):
        first_table -= 1
    schedule_lines = ["", "# Lever changes at given quarters: none in the baseline (see the header for the form).", "schedule = []", ""]
    body = body[:first_table] + schedule_lines + body[first_table:]
    cleaned: list[str] = []
    for line in body:
        if line == "" and cleaned and cleaned[-1] == "":
            continue
        cleaned.append(line)
    return HEADER + "\n" + "\n".join(cleaned).strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the baseline scenario file."""
    parser = argparse.ArgumentParser(prog="python -m simulation.scenario.write_baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date (exit 1 if not)")
    parser.add_argument("--out", type=Path, default=BASELINE_PATH, help="file to write (default: scenarios/baseline.toml)")
    args = parser.parse_args(argv)
    text = baseline_text()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m simulation.scenario.write_baseline", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
