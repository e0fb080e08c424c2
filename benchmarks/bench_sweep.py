"""Sweep throughput: runs per minute and per-run overhead, local process pool against a Dask local cluster.

Runs ``--runs`` runs of the baseline with ~2,000 firm agents (``run.scale`` =
550,000 / 2,000 = 275) over ``--quarters`` quarters (40 = ten years) through
the full sweep machinery (design, executor, Parquet parts, manifest), once per
executor, and prints for each:

* wall time and runs per minute (pool start-up included);
* mean model time per run, measured inside the workers;
* start-up: time until the first run could start (worker processes importing the model);
* overhead per run = (wall time x workers - model time of all runs) / runs:
  the time a worker slot spends not simulating (start-up, scheduling, pickling,
  result storage, idle tail), so overhead x runs / workers is the wall time lost;
  also shown without the one-off start-up.

Peak resident memory of this process and of the largest worker process is
printed last (compare --runs 100 with --runs 1000: it should not grow).

The machine's 1-minute load average is printed: on a shared machine the model
time per run (and so runs per minute) varies with what else is running.

Targets (issue "sweeps", Speed): 1,000 runs in < 3 minutes on 2 cores with the
process pool; Dask within 20 % of the pool; overhead < 50 ms per run.

Usage::

    python benchmarks/bench_sweep.py                  # 100 runs, 40 quarters, both executors
    python benchmarks/bench_sweep.py --runs 1000 --workers 2
    python benchmarks/bench_sweep.py --executors process --quarters 8
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from simulation.experiments import load_sweep, sweep
from simulation.experiments.executors import default_workers

FIRM_AGENTS = 2_000
REAL_FIRMS = 550_000


def spec(runs: int, quarters: int, scale: float) -> dict:
    """A random design over two levers with one seed per point: ``runs`` distinct runs."""
    return {
        "name": "bench", "design": "random", "samples": runs, "seeds": 1, "base_seed": 11, "quarters": quarters, "scale": scale,
        "parameters": {"relending.rate": {"low": 0.01, "high": 0.02}, "relending.quota_rmb": {"low": 0.8e12, "high": 1.6e12}},
    }


def measure(executor: str, runs: int, workers: int, quarters: int, scale: float, folder: Path) -> dict[str, float]:
    out = folder / executor
    first: list[float] = []

    def progress(done: int, failed: int, total: int) -> None:
        if done and not first:
            first.append(time.perf_counter())

    start = time.perf_counter()
    sweep(spec(runs, quarters, scale), executor=executor, workers=workers, out=out, progress=progress)
    wall = time.perf_counter() - start
    results = load_sweep(out)
    model_time = float(results["elapsed_s"].sum())
    first_done = pd.read_parquet(out / "runs" / "part-000000.parquet").iloc[0]  # parts keep completion order
    startup = first[0] - start - float(first_done["elapsed_s"])
    return {
        "wall_s": wall,
        "runs_per_min": 60.0 * runs / wall,
        "model_s_per_run": model_time / runs,
        "startup_s": startup,
        "overhead_ms_per_run": 1000.0 * (wall * workers - model_time) / runs,
        "steady_overhead_ms_per_run": 1000.0 * ((wall - startup) * workers - model_time) / runs,
        "failed": int((results["status"] != "ok").sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="runs per executor (default 100)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="worker processes (default: all cores)")
    parser.add_argument("--quarters", type=int, default=40, help="quarters per run (default 40)")
    parser.add_argument("--firms", type=int, default=FIRM_AGENTS, help="firm agents at the start (default 2,000)")
    parser.add_argument("--executors", nargs="+", default=["process", "dask"], choices=["serial", "process", "dask"])
    args = parser.parse_args()
    scale = REAL_FIRMS / args.firms
    print(f"{args.runs} runs x {args.quarters} quarters, ~{args.firms:,} firm agents (run.scale {scale:g}), {args.workers} workers")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for executor in args.executors:
            workers = 1 if executor == "serial" else args.workers
            figures[executor] = row = measure(executor, args.runs, workers, args.quarters, scale, Path(tmp))
            print(f"{executor:>8}: {row['wall_s']:7.1f} s wall  {row['runs_per_min']:7.1f} runs/min  model {row['model_s_per_run']:.3f} s/run  "
                  f"start-up {row['startup_s']:4.1f} s  overhead {row['overhead_ms_per_run']:6.1f} ms/run "
                  f"({row['steady_overhead_ms_per_run']:.1f} after start-up)  failed {row['failed']}  load {os.getloadavg()[0]:.1f}")
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak resident memory: this process {main_mb:.0f} MB, largest finished worker process {worker_mb:.0f} MB")
    if "process" in figures:
        rate = figures["process"]["runs_per_min"]
        print(f"process pool: 1,000 runs would take ~{1000 / rate:.1f} min (target < 3 min)")
        if "dask" in figures:
            print(f"dask / process wall time: {figures['dask']['wall_s'] / figures['process']['wall_s']:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
