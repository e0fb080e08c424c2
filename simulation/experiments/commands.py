"""The ``innofin sweep`` and ``innofin analyze`` subcommands (a thin layer over the Python API).

``add_commands(subparsers)`` registers both on an argparse sub-parser group;
each sets ``func``, which takes the parsed namespace and returns the exit code.
Bad input prints one line ``innofin: error: ...`` to stderr and returns 2.
The same commands run without the main CLI as ``python -m simulation.experiments``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from simulation.argtypes import whole_number
from simulation.scenario.loader import ScenarioError

EXECUTORS = ("process", "serial", "dask")


def add_commands(subparsers: Any) -> None:
    """Register ``sweep`` and ``analyze`` on an ``ArgumentParser.add_subparsers()`` group."""
    run = subparsers.add_parser(
        "sweep", help="run a parameter sweep (grid, random, lhs, sobol, morris) and store its results",
        description="Run every point x seed of a sweep spec (TOML) and write Parquet parts + manifest.json to --out.",
    )
    run.add_argument("spec", help="sweep spec TOML file (see scenarios/sweeps/)")
    run.add_argument("--workers", type=whole_number(1), default=None, help="worker processes (default: all cores)")
    run.add_argument("--executor", choices=EXECUTORS, default="process", help="where runs execute (default: process pool)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask)")
    run.add_argument("--out", default=None, metavar="DIR", help="results folder (default: sweeps_out/NAME)")
    run.add_argument("--resume", action="store_true", help="finish only the missing runs of the sweep in --out")
    run.add_argument("--flush-every", type=whole_number(1), default=100, metavar="N", help="runs per Parquet part file (default 100)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=sweep_command)

    analyze = subparsers.add_parser(
        "analyze", help="sensitivity indices, tables and figures of a finished sweep",
        description="Write tables (CSV + Parquet) and figures (PNG) of a sweep results folder to DIR/analysis.",
    )
    analyze.add_argument("dir", help="sweep results folder (written by 'innofin sweep')")
    analyze.add_argument("--kpi", action="append", default=None, metavar="NAME", help="KPI to draw figures for (repeatable; default: the spec's outputs.kpis or a headline set)")
    analyze.add_argument("--out", default=None, metavar="DIR", help="where to write (default: DIR/analysis)")
    analyze.set_defaults(func=analyze_command)


def fail(message: str) -> int:
    print(f"innofin: error: {message}", file=sys.stderr)
    return 2


class ProgressBar:
    """A tqdm bar showing runs done, runs failed, rate and time left."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar = enabled, None

    def __call__(self, done: int, failed: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="run", dynamic_ncols=True, file=sys.stderr)
            self.last = done
        self.bar.update(done - self.last)
        self.last = done
        self.bar.set_postfix(failed=failed, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def sweep_command(args: argparse.Namespace) -> int:
    """``innofin sweep``: 0 when every run succeeded, 1 when some runs failed (recorded), 2 on bad input, 130 if interrupted."""
    from simulation.experiments.runner import sweep
    from simulation.experiments.spec import SweepError, load_spec

    try:
        spec, _ = load_spec(args.spec)
    except SweepError as error:
        return fail(str(error))
    out = Path(args.out) if args.out else Path("sweeps_out") / spec.name
    bar = ProgressBar(not args.no_progress)
    try:
        runs = sweep(args.spec, executor=args.executor, workers=args.workers, scheduler=args.scheduler, out=out,
                     resume=args.resume, progress=bar, flush_every=args.flush_every)
    except (SweepError, ScenarioError) as error:
        return fail(str(error))
    except KeyboardInterrupt:
        bar.close()
        print(f"innofin: interrupted; finished runs are in {out}; continue with --resume", file=sys.stderr)
        return 130
    except OSError as error:
        return fail(f"{out}: {error.strerror or error}")
    bar.close()
    failed = runs[runs["status"] == "failed"] if len(runs) else runs
    print(f"{len(runs)} runs ({len(runs) - len(failed)} ok, {len(failed)} failed) -> {out}")
    if len(failed):
        first = failed.iloc[0]
        print(f"innofin: {len(failed)} run(s) failed; first: run {first['run_id']}: {first['error']}", file=sys.stderr)
        return 1
    return 0


def analyze_command(args: argparse.Namespace) -> int:
    """``innofin analyze``: tables and figures of a sweep folder."""
    from simulation.experiments.analyze import analyze
    from simulation.experiments.spec import SweepError

    try:
        written = analyze(args.dir, kpis=args.kpi, out=args.out)
    except SweepError as error:
        return fail(str(error))
    print(f"{len(written)} files -> {Path(written[0]).parent if written else args.dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m simulation.experiments sweep|analyze ...``."""
    parser = argparse.ArgumentParser(prog="innofin", description="InnoFin parameter sweeps and sensitivity analysis.")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)
