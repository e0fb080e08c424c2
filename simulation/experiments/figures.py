"""Figures of sweep results (matplotlib, object API: no global pyplot state, no display needed).

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save` writes it atomically as PNG.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulation.experiments.sensitivity import numeric_values
from simulation.experiments.store import atomic_write_bytes
from simulation.outputs.headline import axis_label

MAX_FAN_POINTS = 6


def save(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def sobol_bars(indices: pd.DataFrame, kpi: str) -> Figure:
    """Tornado-style horizontal bars of first-order and total Sobol indices with confidence intervals (largest on top)."""
    data = indices.sort_values("ST", ascending=True, na_position="first")
    y = np.arange(len(data))
    figure = Figure(figsize=(7, 1.2 + 0.45 * len(data)), layout="constrained")
    ax = figure.subplots()
    ax.barh(y + 0.2, data["ST"], height=0.4, xerr=data["ST_conf"], label="total (ST)", color="#4c72b0", capsize=3)
    ax.barh(y - 0.2, data["S1"], height=0.4, xerr=data["S1_conf"], label="first order (S1)", color="#dd8452", capsize=3)
    ax.set_yticks(y, data["parameter"])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("share of output variance")
    ax.set_title(f"Sobol indices of {kpi}")
    ax.legend(loc="lower right")
    return figure


def morris_chart(indices: pd.DataFrame, kpi: str) -> Figure:
    """Morris screening: mu* bars with confidence (left) and sigma against mu* (right), in the KPI's display unit."""
    data = indices.sort_values("mu_star", ascending=True)
    divisor, label = axis_label(kpi)
    unit = label.removeprefix(kpi).strip(" ()") or "KPI units"
    figure = Figure(figsize=(11, 1.6 + 0.45 * len(data)), layout="constrained")
    bars, scatter = figure.subplots(1, 2)
    y = np.arange(len(data))
    bars.barh(y, data["mu_star"] / divisor, xerr=data["mu_star_conf"] / divisor, color="#4c72b0", capsize=3)
    bars.set_yticks(y, data["parameter"])
    bars.set_xlabel(f"mu*: mean |elementary effect| over the full range ({unit})")
    bars.set_title(f"Morris mu* of {kpi}")
    scatter.scatter(data["mu_star"] / divisor, data["sigma"] / divisor, color="#dd8452")
    for _, row in data.iterrows():
        scatter.annotate(row["parameter"], (row["mu_star"] / divisor, row["sigma"] / divisor), fontsize=8, xytext=(3, 3),
                         textcoords="offset points", annotation_clip=False)
    scatter.margins(x=0.25, y=0.15)
    scatter.set_xlabel(f"mu*: importance ({unit})")
    scatter.set_ylabel(f"sigma: interactions, non-linearity ({unit})")
    return figure


def kpi_scatter(runs: pd.DataFrame, parameters: list[str], kpi: str) -> Figure:
    """``kpi`` against each parameter over successful runs, with a least-squares trend line."""
    ok = runs[runs["status"] == "ok"]
    cols = min(3, len(parameters))
    rows = -(-len(parameters) // cols)
    figure = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, cols, squeeze=False)).ravel()
    y_div, y_label = axis_label(kpi)
    for ax, parameter in zip(axes, parameters):
        x_div, x_label = axis_label(parameter)
        x = numeric_values(ok[parameter]) / x_div
        pair = pd.concat([x, ok[kpi] / y_div], axis=1).dropna()
        ax.scatter(pair.iloc[:, 0], pair.iloc[:, 1], s=10, alpha=0.5, color="#4c72b0")
        if len(pair) > 1 and pair.iloc[:, 0].nunique() > 1:
            slope, intercept = np.polyfit(pair.iloc[:, 0], pair.iloc[:, 1], 1)
            grid = np.linspace(pair.iloc[:, 0].min(), pair.iloc[:, 0].max(), 50)
            ax.plot(grid, slope * grid + intercept, color="#c44e52", linewidth=1.5, label="linear trend")
            ax.legend(loc="best", fontsize=8)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
    for ax in axes[len(parameters):]:
        ax.set_visible(False)
    figure.suptitle(f"{kpi} against each parameter")
    return figure


def grid_heatmap(runs: pd.DataFrame, x: str, y: str, kpi: str) -> Figure:
    """Mean of ``kpi`` over seeds on a two-parameter grid (other parameters averaged over), values written in the cells."""
    ok = runs[runs["status"] == "ok"]
    table = ok.pivot_table(index=y, columns=x, values=kpi, aggfunc="mean").sort_index(ascending=False)
    (x_div, x_label), (y_div, y_label), (k_div, k_label) = axis_label(x), axis_label(y), axis_label(kpi)
    values = table.to_numpy(dtype=float) / k_div
    figure = Figure(figsize=(2.4 + 1.1 * table.shape[1], 1.6 + 0.6 * table.shape[0]), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [f"{v / x_div:.4g}" for v in table.columns], rotation=45)
    ax.set_yticks(range(table.shape[0]), [f"{v / y_div:.4g}" for v in table.index])
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color="white" if value < middle else "black")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(f"{kpi}: mean over seeds")
    figure.colorbar(image, ax=ax, label=k_label)
    return figure


def point_label(runs: pd.DataFrame, point_id: int, parameters: list[str]) -> str:
    """Short "rate=1.25 %, quota_rmb=1.2e+03 bn" label of a design point (last part of each dotted key, in people's units)."""
    row = runs.loc[runs["point_id"] == point_id].iloc[0]
    return ", ".join(f"{name.rsplit('.', 1)[-1]}={_value_text(name, row[name])}" for name in parameters)


def _value_text(name: str, value: object) -> str:
    if not isinstance(value, float):
        return str(value)
    divisor, label = axis_label(name)
    unit = label.rsplit("(", 1)[-1].rstrip(")") if label != name else ""
    return f"{value / divisor:.4g} {unit.removeprefix('RMB ')}".strip()


def fan_chart(series: pd.DataFrame, runs: pd.DataFrame, column: str, region: str = "ALL", parameters: list[str] | None = None) -> Figure:
    """Median and 10-90 % band of a quarterly column across seeds, for up to six design points spread over the
    design (or one band across all runs when each point has a single seed)."""
    data = series[series["region"] == region][["run_id", "quarter", column]].merge(runs[["run_id", "point_id"]], on="run_id")
    quarters = sorted(data["quarter"].unique())
    position = {q: i for i, q in enumerate(quarters)}
    data = data.assign(t=data["quarter"].map(position))
    per_point = runs.groupby("point_id")["run_id"].count().max() > 1
    if per_point:
        ids = sorted(data["point_id"].unique())
        shown = {ids[i] for i in np.linspace(0, len(ids) - 1, min(MAX_FAN_POINTS, len(ids))).round().astype(int)}
        groups = [(pid, group) for pid, group in data.groupby("point_id") if pid in shown]
    else:
        groups = [("all runs", data)]
    divisor, y_label = axis_label(column)
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    ax = figure.subplots()
    for index, (label, group) in enumerate(groups):
        bands = group.groupby("t")[column].quantile([0.1, 0.5, 0.9]).unstack() / divisor
        color = f"C{index}"
        ax.fill_between(bands.index, bands[0.1], bands[0.9], alpha=0.2, color=color)
        name = (point_label(runs, label, parameters) if parameters else f"point {label}") if per_point else label
        ax.plot(bands.index, bands[0.5], color=color, label=name)
    step = max(1, len(quarters) // 8)
    ax.set_xticks(range(0, len(quarters), step), quarters[::step], rotation=45)
    ax.set_ylabel(y_label)
    ax.set_title(f"{column} ({region}): median and 10-90 % across seeds")
    ax.legend(loc="best", fontsize=8)
    return figure
