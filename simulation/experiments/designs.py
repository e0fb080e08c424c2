"""Sampling designs: which parameter points a sweep runs (no running here).

As in SALib, sampling is separate from running and from analysis. Every
sampled design draws points in the unit hypercube ``[0, 1]^D`` (one column per
parameter, in spec order) and maps them onto each parameter's range or value
list; the analysis re-creates the same unit sample from the spec, so the
results store needs only the actual values.

Point counts (D parameters):

========  =============================================
grid      product of the value lists / levels
random    ``samples`` (uniform, numpy generator seeded with base_seed)
lhs       ``samples`` (Latin hypercube, one point per stratum per parameter)
sobol     ``samples * (2D + 2)`` (Saltelli scheme; ``samples * (D + 2)`` without second order)
morris    ``samples * (D + 1)`` (``samples`` one-at-a-time trajectories)
========  =============================================
"""

from __future__ import annotations

import importlib
import itertools
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from simulation.experiments.spec import Parameter, SweepError, SweepSpec


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """The SALib problem over the unit hypercube (indices do not depend on the units)."""
    return {"num_vars": len(spec.parameters), "names": spec.names, "bounds": [[0.0, 1.0]] * len(spec.parameters)}


def salib(module: str, design: str) -> ModuleType:
    """``SALib.<module>``, or a one-line :class:`SweepError` naming the extra to install."""
    try:
        return importlib.import_module(f"SALib.{module}")
    except ImportError:
        raise SweepError(f"the {design} design needs SALib: install the 'sa' extra: pip install -e '.[sa]'") from None


def unit_sample(spec: SweepSpec) -> np.ndarray:
    """The design's points in ``[0, 1]^D`` (rows = points, columns = parameters); not defined for grids."""
    problem = salib_problem(spec)
    n, dims = spec.samples, len(spec.parameters)
    if spec.design == "random":
        return np.random.default_rng(spec.base_seed).random((n, dims))
    if spec.design == "lhs":
        return salib("sample.latin", "lhs").sample(problem, n, seed=spec.base_seed)
    if spec.design == "sobol":
        return salib("sample.sobol", "sobol").sample(problem, n, calc_second_order=spec.second_order, seed=spec.base_seed)
    if spec.design == "morris":
        return salib("sample.morris", "morris").sample(problem, n, num_levels=spec.morris_levels, seed=spec.base_seed)
    raise ValueError(f"design {spec.design!r} has no unit sample")


def from_unit(parameter: Parameter, u: np.ndarray) -> list[Any]:
    """Map unit coordinates onto a parameter: its range (linear or log) or its value list."""
    if parameter.is_discrete:
        values = parameter.values
        index = np.minimum((u * len(values)).astype(int), len(values) - 1)
        return [values[i] for i in index]
    if parameter.log:
        low, high = np.log(parameter.low), np.log(parameter.high)
        x = np.exp(low + u * (high - low))
    else:
        x = parameter.low + u * (parameter.high - parameter.low)
    return [round(v) for v in x] if parameter.integer else [float(v) for v in x]


def grid_values(parameter: Parameter) -> list[Any]:
    """A parameter's values in a grid: its list, or ``levels`` evenly spaced values over its range."""
    if parameter.is_discrete:
        return list(parameter.values)
    return from_unit(parameter, np.linspace(0.0, 1.0, parameter.levels))


def design_points(spec: SweepSpec) -> pd.DataFrame:
    """All points of the design: one row per point (index ``point_id``), one column per parameter key."""
    if spec.design == "grid":
        rows = list(itertools.product(*(grid_values(p) for p in spec.parameters.values())))
        frame = pd.DataFrame(rows, columns=spec.names)
    else:
        u = unit_sample(spec)
        frame = pd.DataFrame({key: from_unit(p, u[:, j]) for j, (key, p) in enumerate(spec.parameters.items())})
    frame.index.name = "point_id"
    return frame


def replicate_seeds(spec: SweepSpec) -> list[int]:
    """One model seed per replicate, from ``SeedSequence(base_seed).spawn(seeds)``.

    Every point uses the same replicate seeds (common random numbers), so
    differences between points come from the levers, not from luck.
    """
    children = np.random.SeedSequence(spec.base_seed).spawn(spec.seeds)
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


def expected_points(spec: SweepSpec) -> int:
    """Number of points the design yields (without sampling)."""
    dims = len(spec.parameters)
    if spec.design == "grid":
        return int(np.prod([len(grid_values(p)) if p.is_discrete else p.levels for p in spec.parameters.values()]))
    if spec.design == "sobol":
        return spec.samples * (2 * dims + 2 if spec.second_order else dims + 2)
    if spec.design == "morris":
        return spec.samples * (dims + 1)
    return spec.samples
