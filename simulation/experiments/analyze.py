"""``analyze(DIR)``: tables and figures of a finished sweep, written to ``DIR/analysis``.

Tables (CSV and Parquet): ``points`` (mean, sd and count of every KPI per design
point), ``sobol_indices`` or ``morris_indices`` (every KPI; SALib),
``rank_correlations`` (Spearman, any design). Figures (PNG) for the chosen
KPIs: Sobol tornado bars or Morris mu*/sigma charts, KPI-vs-parameter scatter
with a trend line, a heatmap over the first two varied parameters of a grid,
and fan charts of time series across seeds when the sweep kept them.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from simulation.experiments import figures
from simulation.experiments.sensitivity import indices_table, kpi_columns, numeric_values, rank_correlations
from simulation.experiments.spec import SweepError, SweepSpec
from simulation.experiments.store import SERIES, atomic_write_bytes, load_sweep, read_manifest, write_parquet

HEADLINE_KPIS = ("firms_alive", "patents_per_year", "tech_loan_balance_rmb", "access_rate", "npl_ratio", "relending_outstanding_rmb",
                 "vc_invested_per_year_rmb", "fiscal_cost_per_year_rmb", "private_per_public_yuan", "early_financing_gap_share")
FAN_COLUMNS = ("firms_alive", "tech_loan_balance_rmb", "relending_outstanding_rmb", "vc_invested_rmb", "access_rate")


def write_table(frame: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    """Write a table as ``name.parquet`` and ``name.csv`` (both atomically)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    atomic_write_bytes(folder / f"{name}.csv", buffer.getvalue().encode())
    write_parquet(frame, folder / f"{name}.parquet")
    return [folder / f"{name}.csv", folder / f"{name}.parquet"]


def point_summary(runs: pd.DataFrame, spec: SweepSpec, kpis: list[str]) -> pd.DataFrame:
    """Per design point: its parameter values and mean / sd / count of each KPI over successful replicates."""
    ok = runs[runs["status"] == "ok"]
    stats = ok.groupby("point_id")[kpis].agg(["mean", "std", "count"])
    stats.columns = [f"{kpi}_{stat}" for kpi, stat in stats.columns]
    values = runs.groupby("point_id")[spec.names].first()
    return pd.concat([values, stats], axis=1).copy().reset_index()


def analyze(root: str | Path, kpis: list[str] | None = None, out: str | Path | None = None) -> list[Path]:
    """Write the analysis of the sweep in ``root``; returns the files written.

    Args:
        root: a sweep results folder.
        kpis: KPIs to draw figures for (default: the spec's ``outputs.kpis``, else a headline set).
        out: output folder (default ``root/analysis``).

    Raises:
        SweepError: not a results folder, no successful run, or an unknown KPI.
    """
    root = Path(root)
    manifest = read_manifest(root)
    spec = SweepSpec.model_validate(manifest["spec"])
    runs = load_sweep(root)
    if runs.empty or not (runs["status"] == "ok").any():
        raise SweepError(f"{root}: no successful run to analyze")
    known = kpi_columns(runs, spec)
    chosen = list(kpis or spec.outputs.kpis or [k for k in HEADLINE_KPIS if k in known])
    unknown = [k for k in chosen if k not in known]
    if unknown:
        raise SweepError(f"{root}: unknown KPI {unknown[0]!r}; known KPIs: {', '.join(known)}")
    target = Path(out) if out else root / "analysis"
    target.mkdir(parents=True, exist_ok=True)
    written = write_table(point_summary(runs, spec, known), target, "points")
    written += write_table(rank_correlations(runs, spec, known), target, "rank_correlations")
    notes: list[str] = []
    if spec.design in ("sobol", "morris"):
        try:
            indices = indices_table(runs, spec, known)
        except SweepError as error:
            notes.append(str(error))
        else:
            written += write_table(indices, target, f"{spec.design}_indices")
            draw = figures.sobol_bars if spec.design == "sobol" else figures.morris_chart
            for kpi in chosen:
                table = indices[indices["kpi"] == kpi]
                if table.drop(columns=["kpi", "parameter"]).isna().all().all():
                    notes.append(f"{kpi}: constant or undefined at some design point; no indices")
                    continue
                written.append(figures.save(draw(table, kpi), target / f"{spec.design}_{kpi}.png"))
    axes = [name for name in spec.names if numeric_values(runs[name]).nunique() > 1]
    for kpi in chosen:
        written.append(figures.save(figures.kpi_scatter(runs, spec.names, kpi), target / f"scatter_{kpi}.png"))
        if spec.design == "grid" and len(axes) >= 2:
            written.append(figures.save(figures.grid_heatmap(runs, axes[0], axes[1], kpi), target / f"heatmap_{kpi}.png"))
    series = load_sweep(root, SERIES)
    if not series.empty:
        for column in [c for c in (*chosen, *FAN_COLUMNS) if c in series.columns and pd.api.types.is_numeric_dtype(series[c])]:
            path = target / f"fan_{column}.png"
            if path not in written:
                written.append(figures.save(figures.fan_chart(series, runs, column, parameters=spec.names), path))
    if notes:
        atomic_write_bytes(target / "notes.txt", ("\n".join(notes) + "\n").encode())
        written.append(target / "notes.txt")
    return written
