"""Write one run's results folder (exact file names are part of the interface).

Files: ``timeseries.parquet/.csv``, ``channels.parquet/.csv``, ``banks.parquet``,
``funds.parquet``, ``events.parquet``, ``flows.parquet``, ``summary.json``,
``scenario.toml``, ``manifest.json``, ``dashboard.png`` and ``report.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.outputs.dashboard import write_dashboard
from simulation.outputs.folder import atomic_folder
from simulation.outputs.manifest import build_manifest
from simulation.outputs.report import report_markdown
from simulation.scenario.loader import to_toml
from simulation.scenario.schema import Scenario, quarter_label

PARQUET_TABLES = ("timeseries", "channels", "banks", "funds", "events", "flows")
CSV_TABLES = ("timeseries", "channels")
RUN_FILES = (
    "timeseries.parquet", "timeseries.csv", "channels.parquet", "channels.csv", "banks.parquet", "funds.parquet",
    "events.parquet", "flows.parquet", "summary.json", "scenario.toml", "manifest.json", "dashboard.png", "report.md",
)


def json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """Floats that are NaN or infinite become ``None`` (strict JSON has no NaN)."""
    return {key: (None if isinstance(value, float) and not math.isfinite(value) else value) for key, value in values.items()}


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _tables_and_scenario(model_or_tables: Any, scenario: Scenario | None) -> tuple[dict[str, Any], Scenario]:
    if isinstance(model_or_tables, dict):
        if scenario is None:
            raise TypeError("write_run(tables, ...) needs scenario= (the Scenario the tables came from)")
        return model_or_tables, scenario
    from simulation.api import tables_of

    return tables_of(model_or_tables), scenario or model_or_tables.params


def write_run(model_or_tables: Any, out_dir: str | Path, *, scenario: Scenario | None = None, seed: Any = None,
              wall_time_s: float | None = None, command: str | None = None, dashboard: bool = True,
              extra_manifest: dict[str, Any] | None = None) -> Path:
    """Write a run's results folder atomically and return its path.

    Args:
        model_or_tables: a finished :class:`~simulation.model.InnovationEconomy`, or the dict of
            tables that :func:`simulation.run_one` returns.
        out_dir: folder to create; it must not exist yet (or be empty).
        scenario: the resolved scenario (taken from the model when a model is given).
        seed: the seed of the run, recorded in ``manifest.json``.
        wall_time_s: run time in seconds, recorded in ``manifest.json``.
        command: command line to record (default: this process's).
        dashboard: draw ``dashboard.png`` (about 1 s).
        extra_manifest: more entries for ``manifest.json``.

    Raises:
        OutputExistsError: ``out_dir`` exists and is not empty. Nothing is written.

    Example:
        >>> model = InnovationEconomy("baseline", rng=1, overrides={"run.scale": 500}).run(8)  # doctest: +SKIP
        >>> write_run(model, "runs/my-run", seed=1)                                          # doctest: +SKIP
    """
    tables, scenario = _tables_and_scenario(model_or_tables, scenario)
    timeseries: pd.DataFrame = tables["timeseries"]
    quarters = int(timeseries["quarter"].nunique()) if len(timeseries) else 0
    end_quarter = quarter_label(scenario.run.start_quarter, quarters - 1) if quarters else scenario.run.start_quarter
    manifest = build_manifest(scenario=scenario.name, seed=seed, scale=scenario.run.scale, quarters=quarters,
                              start_quarter=scenario.run.start_quarter, wall_time_s=wall_time_s, command=command,
                              extra={"end_quarter": end_quarter, **(extra_manifest or {})})
    summary = json_ready(dict(tables["summary"]))
    with atomic_folder(out_dir) as tmp:
        for name in PARQUET_TABLES:
            if name in tables:
                tables[name].to_parquet(tmp / f"{name}.parquet", index=False)
        for name in CSV_TABLES:
            tables[name].to_csv(tmp / f"{name}.csv", index=False)
        write_json(tmp / "summary.json", summary)
        (tmp / "scenario.toml").write_text(
            f"# Resolved scenario of this run: every parameter, after extends, --set and schedules.\n{to_toml(scenario)}",
            encoding="utf-8")
        write_json(tmp / "manifest.json", manifest)
        if dashboard:
            title = f"InnoFin: {scenario.name} | {scenario.run.start_quarter}-{end_quarter} | seed {seed} | 1 agent = {scenario.run.scale:g} firms"
            write_dashboard(timeseries, tables["channels"], tmp / "dashboard.png", title)
        (tmp / "report.md").write_text(
            report_markdown(summary, manifest, scenario.question, end_quarter, "dashboard.png" if dashboard else None), encoding="utf-8")
    return Path(out_dir)
