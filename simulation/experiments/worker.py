"""What a worker does with one run: build the model from scenario + overrides + seed, run, release.

Tasks carry only plain data (the base scenario as a mapping, dotted overrides,
an integer seed), never a model, so any executor can ship them and the result
depends on nothing but the task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulation.api import release, run_model

ERROR_CHARS = 500


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep (plain data: cheap to pickle, same result on any worker)."""

    run_id: int
    point_id: int
    replicate: int
    seed: int
    scenario: dict[str, Any]
    overrides: dict[str, Any]
    timeseries: bool = False


@dataclass
class RunOutcome:
    """What comes back: the run's row (ids, seed, parameters, KPIs, status, error) and its time series if kept."""

    row: dict[str, Any]
    timeseries: pd.DataFrame | None = field(default=None)


def one_line(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text[:ERROR_CHARS]


def execute(task: RunTask) -> RunOutcome:
    """Run one task; an exception is caught and recorded as ``status = "failed"`` with its message."""
    start = time.perf_counter()
    row: dict[str, Any] = {"run_id": task.run_id, "point_id": task.point_id, "replicate": task.replicate, "seed": task.seed}
    row.update({key: value for key, value in task.overrides.items() if key not in ("run.quarters", "run.scale")})
    series = None
    try:
        model = run_model(task.scenario, seed=task.seed, overrides=task.overrides)
        try:
            kpis = model.summary()
            if task.timeseries:
                series = model.timeseries()
                series.insert(0, "run_id", task.run_id)
        finally:
            release(model)
        row.update({name: float(value) for name, value in kpis.items()})
        row.update(status="ok", error="")
    except Exception as error:  # noqa: BLE001 - a failing run is recorded, the sweep goes on
        row.update(status="failed", error=one_line(error))
        series = None
    row["elapsed_s"] = time.perf_counter() - start
    return RunOutcome(row, series)
