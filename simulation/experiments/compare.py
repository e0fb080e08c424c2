"""Compare scenarios over common random numbers (``innofin compare``).

Every scenario runs with the same R seeds (drawn from ``numpy.random.SeedSequence``),
so that runs with the same seed share their random draws and the paired
differences of headline KPIs against the first (reference) scenario have much
less noise than differences of independent runs. For each KPI the mean paired
difference gets a Student-t interval (90 % by default); a difference is called
distinguishable from noise when that interval excludes zero.

Runs are independent ``(scenario, seed)`` jobs sent to a
``concurrent.futures.ProcessPoolExecutor`` (scenario and seed travel, never a model).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulation.experiments.executors import exit_with_parent
from simulation.outputs.folder import atomic_folder
from simulation.outputs.headline import HEADLINE_KPIS, Kpi, format_difference, format_value, scale_for_unit
from simulation.outputs.manifest import build_manifest
from simulation.outputs.writer import json_ready, write_json
from simulation.scenario.schema import Scenario

# Two-sided 90 % Student-t quantiles t(0.95, df) for df = 1..30.
_T95 = (6.314, 2.920, 2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833, 1.812, 1.796, 1.782, 1.771, 1.761, 1.753,
        1.746, 1.740, 1.734, 1.729, 1.725, 1.721, 1.717, 1.714, 1.711, 1.708, 1.706, 1.703, 1.701, 1.699, 1.697)


def t_quantile_95(df: int) -> float:
    """Student-t 95th percentile (for two-sided 90 % intervals) with ``df`` degrees of freedom."""
    if df < 1:
        return float("nan")
    if df <= len(_T95):
        return _T95[df - 1]
    z = 1.6448536269514722  # Cornish-Fisher expansion around the normal quantile; error < 1e-3 for df > 30
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def replication_seeds(base_seed: int, replications: int) -> list[int]:
    """The R seeds every scenario uses: ``SeedSequence(base_seed).spawn(R)`` as 32-bit integers."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(base_seed).spawn(replications)]


def run_replication(scenario: Scenario, seed: int) -> tuple[dict[str, float], pd.DataFrame]:
    """One run: its summary and its all-region timeseries (module level so worker processes can import it)."""
    from simulation.api import release, run_model

    model = run_model(scenario, seed)
    summary = model.summary()
    timeseries = model.timeseries()
    release(model)
    return summary, timeseries[timeseries["region"] == "ALL"].reset_index(drop=True)


def paired_interval(differences: np.ndarray) -> tuple[float, float, float, int]:
    """Mean of paired differences and its two-sided 90 % t interval; NaN pairs are dropped."""
    values = np.asarray(differences, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(values.mean())
    if n == 1:
        return mean, float("nan"), float("nan"), 1
    half = t_quantile_95(n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def verdict(low: float, high: float, mean: float, n: int) -> str:
    """``"yes"`` if the interval excludes zero, ``"no"`` if not, ``"n/a"`` with fewer than 2 usable seeds."""
    if n < 2 or not math.isfinite(mean):
        return "n/a"
    if low == high:  # no noise at all: identical runs or a deterministic shift
        return "no" if mean == 0 else "yes"
    return "yes" if (low > 0 or high < 0) else "no"


@dataclass
class CompareResult:
    """What ``innofin compare`` found.

    Attributes:
        names: scenario labels; the first is the reference.
        seeds: the replication seeds every scenario used.
        kpis: one row per scenario and seed with every summary KPI.
        differences: one row per (scenario, KPI) for non-reference scenarios: means, the mean paired
            difference, its 90 % interval (``ci_low``, ``ci_high``) and ``distinguishable``.
        timeseries: the all-region timeseries of every run, with ``scenario`` and ``seed`` columns.
    """

    names: list[str]
    seeds: list[int]
    kpis: pd.DataFrame
    differences: pd.DataFrame
    timeseries: pd.DataFrame

    def table_text(self) -> str:
        """The paired differences as a plain-text table for the terminal."""
        lines = []
        reference = self.names[0]
        for name in self.names[1:]:
            lines.append(f"{name} vs {reference} ({len(self.seeds)} paired seeds, 90 % intervals):")
            rows = self.differences[self.differences["scenario"] == name]
            width = max(len(label) for label in rows["label"])
            for row in rows.itertuples():
                lines.append(f"  {row.label:<{width}}  {format_value(row.reference_mean, row.unit):>16}  ->"
                             f" {format_value(row.scenario_mean, row.unit):>16}   diff {_signed(row.mean_diff, row.unit):>14}"
                             f" [{_signed(row.ci_low, row.unit)}, {_signed(row.ci_high, row.unit)}]"
                             f"  distinguishable: {row.distinguishable}")
        return "\n".join(lines)


def _signed(value: float, unit: str) -> str:
    return format_difference(value, unit)


def differences_table(kpis: pd.DataFrame, names: list[str], headline: tuple[Kpi, ...] = HEADLINE_KPIS) -> pd.DataFrame:
    """Paired differences of headline KPIs of each scenario against ``names[0]``."""
    reference = kpis[kpis["scenario"] == names[0]].set_index("seed")
    rows = []
    for name in names[1:]:
        other = kpis[kpis["scenario"] == name].set_index("seed").reindex(reference.index)
        for kpi in headline:
            if kpi.key not in reference or kpi.key not in other:
                continue
            diff = other[kpi.key].to_numpy(float) - reference[kpi.key].to_numpy(float)
            mean, low, high, n = paired_interval(diff)
            ref_mean = float(np.nanmean(reference[kpi.key])) if reference[kpi.key].notna().any() else float("nan")
            rows.append({
                "scenario": name, "reference": names[0], "kpi": kpi.key, "label": kpi.label, "unit": kpi.unit,
                "reference_mean": ref_mean,
                "scenario_mean": float(np.nanmean(other[kpi.key])) if other[kpi.key].notna().any() else float("nan"),
                "mean_diff": mean, "ci_low": low, "ci_high": high,
                "relative_diff": mean / abs(ref_mean) if ref_mean and math.isfinite(ref_mean) else float("nan"),
                "seeds_used": n, "distinguishable": verdict(low, high, mean, n),
            })
    return pd.DataFrame(rows)


def _init_worker(parent_pid: int) -> None:
    """Worker processes leave Ctrl-C to the parent, which stops them (no traceback from every worker),
    and end themselves if the parent is killed outright."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid)


def _terminate_workers(executor: cf.ProcessPoolExecutor) -> None:
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()


def _run_all(scenarios: dict[str, Scenario], seeds: list[int], jobs: int | None, progress: bool
             ) -> dict[tuple[str, int], tuple[dict[str, float], pd.DataFrame]]:
    tasks = [(name, seed) for name in scenarios for seed in seeds]
    workers = min(jobs or os.cpu_count() or 1, len(tasks))
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="runs", unit="run", file=sys.stderr, disable=not (progress and sys.stderr.isatty()), leave=False)
    results: dict[tuple[str, int], tuple[dict[str, float], pd.DataFrame]] = {}
    try:
        if workers <= 1:
            for name, seed in tasks:
                results[(name, seed)] = run_replication(scenarios[name], seed)
                bar.update(1)
            return results
        executor = cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),))
        try:
            # Workers start on the first submit; they inherit "ignore Ctrl-C" from this window.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                futures = {executor.submit(run_replication, scenarios[name], seed): (name, seed) for name, seed in tasks}
            finally:
                signal.signal(signal.SIGINT, previous)
            for future in cf.as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
        except BaseException:  # an error or Ctrl-C: stop the workers now, do not wait for their runs
            _terminate_workers(executor)  # before shutdown(), which forgets the worker processes
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown()
        return results
    finally:
        bar.close()


def compare_scenarios(scenarios: dict[str, Scenario], seeds: int = 10, base_seed: int = 0, out_dir: str | Path | None = None,
                      jobs: int | None = None, progress: bool = True, command: str | None = None) -> CompareResult:
    """Run every scenario with the same seeds and compare headline KPIs against the first.

    Args:
        scenarios: label → resolved scenario; the first is the reference.
        seeds: replications R per scenario.
        base_seed: seed of the ``SeedSequence`` the replication seeds are spawned from.
        out_dir: if given, a folder to write atomically (``differences.csv``, ``kpis.csv``,
            ``timeseries.parquet``, ``charts/<kpi>.png``, ``report.md``, ``manifest.json``).
        jobs: worker processes (``None``: number of CPUs; 1: run in this process).
        progress: show a progress bar on a terminal.
    """
    names = list(scenarios)
    if len(names) < 2:
        raise ValueError("compare needs at least two scenarios")
    seed_list = replication_seeds(base_seed, seeds)
    started = time.perf_counter()
    results = _run_all(scenarios, seed_list, jobs, progress)
    wall = time.perf_counter() - started
    kpis = pd.DataFrame([{"scenario": name, "seed": seed, **results[(name, seed)][0]} for name in names for seed in seed_list])
    timeseries = pd.concat([results[(name, seed)][1].assign(scenario=name, seed=seed) for name in names for seed in seed_list],
                           ignore_index=True)
    result = CompareResult(names, seed_list, kpis, differences_table(kpis, names), timeseries)
    if out_dir is not None:
        first = scenarios[names[0]]
        manifest = build_manifest(scenario=" vs ".join(names), seed=base_seed, scale=first.run.scale, quarters=first.run.quarters,
                                  start_quarter=first.run.start_quarter, wall_time_s=round(wall, 3), command=command,
                                  extra={"scenarios": names, "replication_seeds": seed_list, "jobs": jobs})
        write_comparison(result, out_dir, manifest)
    return result


def plot_kpi(result: CompareResult, kpi: Kpi) -> Figure:
    """Levels by scenario (mean and 5-95 % band over seeds) and paired differences (mean, 90 % interval) over time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # quarters where a ratio is undefined in every run (all NaN)
        return _plot_kpi(result, kpi)


def _plot_kpi(result: CompareResult, kpi: Kpi) -> Figure:
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    divisor = scale_for_unit(kpi.unit)
    ts = result.timeseries
    quarters = list(dict.fromkeys(ts["quarter"]))
    x = np.arange(len(quarters))
    wide = {name: ts[ts["scenario"] == name].pivot_table(index="quarter", columns="seed", values=kpi.column).reindex(quarters) / divisor
            for name in result.names}
    for name, frame in wide.items():
        values = frame.to_numpy(float)
        line = left.plot(x, np.nanmean(values, axis=1), label=name)[0]
        if values.shape[1] > 1:
            left.fill_between(x, np.nanpercentile(values, 5, axis=1), np.nanpercentile(values, 95, axis=1), color=line.get_color(), alpha=0.2)
    left.set_title(f"{kpi.series_label}: mean and 5-95 % range over seeds", fontsize=11)
    left.set_ylabel(f"{kpi.series_label} ({kpi.unit_text})" if kpi.unit != "count" else kpi.series_label)
    left.legend(fontsize=8)
    reference = wide[result.names[0]].to_numpy(float)
    for name in result.names[1:]:
        diff = wide[name].to_numpy(float) - reference
        stats = [paired_interval(row) for row in diff]
        mean = np.array([s[0] for s in stats])
        line = right.plot(x, mean, label=f"{name} - {result.names[0]}")[0]
        low, high = np.array([s[1] for s in stats]), np.array([s[2] for s in stats])
        if np.isfinite(low).any():
            right.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_title("Paired difference against the reference (mean, 90 % interval)", fontsize=11)
    right.set_ylabel(f"difference ({'percentage points' if kpi.unit == 'share' else kpi.unit_text})" if kpi.unit != "count"
                     else "difference")
    right.legend(fontsize=8)
    for ax in (left, right):
        positions = [i for i, q in enumerate(quarters) if q.endswith("Q1")] or [0]
        ax.set_xticks(positions)
        ax.set_xticklabels([quarters[i][:4] for i in positions])
        ax.grid(alpha=0.3)
    return fig


def write_comparison(result: CompareResult, out_dir: str | Path, manifest: dict[str, Any]) -> Path:
    """Write the comparison folder atomically (nothing is left behind on errors or Ctrl-C)."""
    charted = [kpi for kpi in HEADLINE_KPIS if kpi.column and kpi.column in result.timeseries]
    with atomic_folder(out_dir) as tmp:
        result.differences.to_csv(tmp / "differences.csv", index=False)
        result.kpis.to_csv(tmp / "kpis.csv", index=False)
        result.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
        (tmp / "charts").mkdir()
        for kpi in charted:
            plot_kpi(result, kpi).savefig(tmp / "charts" / f"{kpi.key}.png", dpi=90)
        write_json(tmp / "manifest.json", json_ready(manifest))
        (tmp / "report.md").write_text(comparison_markdown(result, charted), encoding="utf-8")
    return Path(out_dir)


def comparison_markdown(result: CompareResult, charted: list[Kpi]) -> str:
    """``report.md`` of a comparison: the differences table and the charts."""
    lines = [f"# InnoFin comparison: {', '.join(result.names)}", "",
             (f"Reference: **{result.names[0]}**. Each scenario ran with the same {len(result.seeds)} seeds (common random numbers); "
             "differences are paired by seed. Intervals are two-sided 90 % Student-t intervals of the mean difference; "
             "'distinguishable' means the interval excludes zero."), ""]
    for name in result.names[1:]:
        rows = result.differences[result.differences["scenario"] == name]
        lines += [f"## {name} vs {result.names[0]}", "", "| Indicator | Reference | Scenario | Difference | 90 % interval | Distinguishable |",
                  "|---|---:|---:|---:|---|---|"]
        for row in rows.itertuples():
            lines.append(f"| {row.label} | {format_value(row.reference_mean, row.unit)} | {format_value(row.scenario_mean, row.unit)} | "
                         f"{_signed(row.mean_diff, row.unit)} | [{_signed(row.ci_low, row.unit)}, {_signed(row.ci_high, row.unit)}] | "
                         f"{row.distinguishable} |")
        lines.append("")
    lines += ["## Charts", ""] + [f"![{kpi.label}](charts/{kpi.key}.png)" for kpi in charted] + [""]
    return "\n".join(lines)
