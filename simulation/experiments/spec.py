"""The sweep specification: which scenario, which levers, which design, how many seeds.

A sweep is read from TOML (:func:`load_spec`) or built in Python
(``SweepSpec(parameters={...})``). Example::

    name = "relending_grid"
    scenario = "baseline"          # shipped name or path (relative to this file)
    design = "grid"                # grid | random | lhs | sobol | morris
    seeds = 3                      # replications per point
    base_seed = 2026
    quarters = 40
    scale = 275                    # real firms per firm agent (~2,000 agents)

    [parameters]
    "relending.rate" = { values = [0.0100, 0.0125, 0.0150] }
    "relending.quota_rmb" = { low = 0.8e12, high = 1.6e12, levels = 3 }

A list-valued parameter means "these values" (``"relending.rate" = [0.01, 0.02]`` is
short for ``{ values = [...] }``; a bare scalar holds the parameter at that value);
``low``/``high`` mean "this range"
(``levels`` evenly spaced values in a grid, sampled otherwise). Parameter keys
are the dotted names of the scenario schema and are checked against it.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from simulation.scenario.loader import ScenarioError, load_scenario, resolve_path
from simulation.scenario.schema import Scenario

DESIGNS = ("grid", "random", "lhs", "sobol", "morris")


class SweepError(ValueError):
    """A sweep that cannot be run or read; ``str(error)`` is a one-line message."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(Strict):
    """One lever to vary: either a list of ``values`` or a ``low``-``high`` range."""

    values: list[Any] | None = Field(None, description="Values to use (any type the schema accepts: numbers, booleans, strings).")
    low: float | None = Field(None, description="Lower bound of the range (in the parameter's own unit).")
    high: float | None = Field(None, description="Upper bound of the range.")
    levels: int | None = Field(None, ge=2, le=1000, description="Evenly spaced values between low and high in a grid design.")
    log: bool = Field(False, description="Sample/space the range on a log scale (low must be > 0).")
    integer: bool = Field(False, description="Round values to whole numbers (for counts such as guidance.life_years).")

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        has_values = self.values is not None
        has_range = self.low is not None or self.high is not None
        if has_values == has_range:
            raise ValueError("give either 'values' or 'low' and 'high'")
        if has_values and not self.values:
            raise ValueError("'values' must not be empty")
        if has_range:
            if self.low is None or self.high is None:
                raise ValueError("a range needs both 'low' and 'high'")
            if not self.low < self.high:
                raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
            if self.log and self.low <= 0:
                raise ValueError("a log-scale range needs 'low' > 0")
        return self

    @property
    def is_discrete(self) -> bool:
        return self.values is not None


class Outputs(Strict):
    """What each run keeps besides its headline KPIs (always kept)."""

    timeseries: bool = Field(False, description="Keep the quarterly time series of every run (a separate part set).")
    kpis: list[str] | None = Field(None, description="KPIs that `analyze` draws figures for (default: a headline set).")


class SweepSpec(Strict):
    """A whole sweep: base scenario, levers, design, replications and outputs."""

    name: str = Field("sweep", description="Short name of the sweep.")
    description: str = Field("", description="What the sweep asks.")
    scenario: str | dict[str, Any] = Field("baseline", description="Base scenario: shipped name, TOML path or mapping.")
    design: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: int | None = Field(
        None, ge=1, le=1_000_000,
        description="random/lhs: number of points; sobol: base sample N (a power of 2; N*(2D+2) points); morris: trajectories (N*(D+1) points).",
    )
    second_order: bool = Field(True, description="sobol: also sample for second-order indices (N*(2D+2) instead of N*(D+2) points).")
    morris_levels: int = Field(4, ge=2, le=100, description="morris: grid levels per parameter.")
    seeds: int = Field(1, ge=1, le=10_000, description="Replications per point (seeds from SeedSequence(base_seed).spawn(seeds)).")
    base_seed: int = Field(0, ge=0, description="Root of the replication seeds and of the design's sampler.")
    quarters: int | None = Field(None, ge=1, le=400, description="Quarters per run (default: the scenario's run.quarters).")
    scale: float | None = Field(None, ge=1.0, le=10000.0, description="Real firms per firm agent (default: the scenario's run.scale).")
    parameters: dict[str, Parameter] = Field(description="Levers by dotted scenario key.")
    outputs: Outputs = Field(default_factory=Outputs)

    @field_validator("parameters", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """A bare list means "these values", a bare scalar means "hold at this value" (as in Agents.jl paramscan)."""
        if not isinstance(value, dict):
            return value
        return {key: {"values": v} if isinstance(v, list) else {"values": [v]} if not isinstance(v, (dict, Parameter)) else v
                for key, v in value.items()}

    @model_validator(mode="after")
    def _design_fits(self) -> SweepSpec:
        if not self.parameters:
            raise ValueError("parameters: at least one parameter is required")
        if self.design == "grid":
            for key, parameter in self.parameters.items():
                if not parameter.is_discrete and parameter.levels is None:
                    raise ValueError(f"parameters.{key}: a grid needs 'values' or 'levels' with 'low'/'high'")
        elif self.samples is None:
            raise ValueError(f"samples: required for design '{self.design}'")
        if self.design == "sobol" and self.samples is not None and self.samples & (self.samples - 1):
            raise ValueError(f"samples: sobol needs a power of 2 (got {self.samples}; try {2 ** round(math.log2(self.samples))})")
        return self

    @property
    def names(self) -> list[str]:
        return list(self.parameters)


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        where = first["loc"][:-1]
        fields = SweepSpec.model_fields if not where else (Outputs.model_fields if where[0] == "outputs" else Parameter.model_fields)
        return f"{source}: {key}: unknown key; allowed keys: {', '.join(fields)}"
    message = first["msg"].removeprefix("Value error, ")
    given = first.get("input")
    given_text = "" if isinstance(given, dict) or given is None else f" (got {given!r})"
    return f"{source}: {key}: {message}{given_text}"


def _lookup(data: dict[str, Any], key: str) -> str:
    """"value", "table" or "missing": what a dotted key names in a scenario mapping."""
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return "missing"
        node = node[part]
    return "table" if isinstance(node, dict) else "value"


def base_scenario(spec: SweepSpec, spec_path: Path | None = None) -> Scenario:
    """The validated base scenario of a sweep (path scenarios are resolved relative to the spec file)."""
    scenario = spec.scenario
    if isinstance(scenario, str):
        scenario = resolve_path(scenario, relative_to=spec_path)
    return load_scenario(scenario)


def check_parameters(spec: SweepSpec, scenario: Scenario, source: str) -> None:
    """Raise :class:`SweepError` naming the first parameter that is not a scenario value."""
    data = scenario.model_dump(mode="python")
    for key, parameter in spec.parameters.items():
        if key in ("run.quarters", "run.scale") and (spec.quarters or spec.scale):
            raise SweepError(f"{source}: parameters.{key}: set by the sweep's own 'quarters'/'scale'; remove one of them")
        found = _lookup(data, key)
        if found == "value":
            continue
        if found == "table":
            raise SweepError(f"{source}: parameters.{key}: a table of parameters, not one value (e.g. '{key}.{_first_key(data, key)}')")
        probe = parameter.values[0] if parameter.values else parameter.low
        try:
            load_scenario(scenario, {key: probe})
        except ScenarioError as error:
            detail = str(error).split(": ", 2)[-1]
            raise SweepError(f"{source}: parameters.{key}: not a scenario parameter ({detail})") from None
        raise SweepError(f"{source}: parameters.{key}: not a single scenario value")


def _first_key(data: dict[str, Any], key: str) -> str:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return next(iter(node), "")


def build_spec(data: dict[str, Any] | SweepSpec, source: str = "<sweep>") -> SweepSpec:
    """Validate a mapping into a :class:`SweepSpec`; errors become one-line :class:`SweepError`."""
    if isinstance(data, SweepSpec):
        return data
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as error:
        raise SweepError(_describe(error, source)) from None


def load_spec(spec: str | Path | dict[str, Any] | SweepSpec) -> tuple[SweepSpec, Scenario]:
    """Read and check a sweep: returns the spec and its validated base scenario.

    Raises:
        SweepError: one line naming the file, the key and what is allowed.
    """
    path: Path | None = None
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise SweepError(f"{path}: sweep file not found") from None
        except tomllib.TOMLDecodeError as error:
            raise SweepError(f"{path}: not valid TOML ({error})") from None
        except OSError as error:
            raise SweepError(f"{path}: cannot be read ({error.strerror})") from None
        source = str(path)
    else:
        data, source = spec, "<sweep>"
    built = build_spec(data, source)
    try:
        scenario = base_scenario(built, path.resolve() if path else None)
    except ScenarioError as error:
        raise SweepError(f"{source}: scenario: {error}") from None
    check_parameters(built, scenario, source)
    return built, scenario
