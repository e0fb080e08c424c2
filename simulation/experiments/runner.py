"""Running a sweep: expand the design into tasks, execute them, store the results.

``sweep(spec)`` is the Python entry point (the ``innofin sweep`` command is a
thin layer over it). Run ``i`` of point ``p`` and replicate ``r`` has
``run_id = p * seeds + r`` and seed ``replicate_seeds(spec)[r]``, whatever the
executor, so results are identical bit for bit on one core, a process pool or
a Dask cluster, and a resumed sweep knows exactly which runs are missing.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pandas as pd

from simulation.experiments.designs import design_points, replicate_seeds
from simulation.experiments.executors import open_backend
from simulation.experiments.spec import SweepError, SweepSpec, load_spec
from simulation.experiments.store import ResultStore
from simulation.experiments.worker import RunTask, execute, one_line
from simulation.scenario.schema import Scenario

Progress = Callable[[int, int, int], None]
PACKAGES = ("innofin", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "SALib", "dask", "distributed")


def plan(spec: SweepSpec, scenario: Scenario) -> Iterator[RunTask]:
    """All runs of a sweep in run_id order (a generator: a huge sweep is never held in memory as tasks)."""
    points = design_points(spec)
    seeds = replicate_seeds(spec)
    base = scenario.model_dump(mode="python")
    fixed: dict[str, Any] = {}
    if spec.quarters is not None:
        fixed["run.quarters"] = spec.quarters
    if spec.scale is not None:
        fixed["run.scale"] = spec.scale
    for point_id, values in enumerate(points.to_dict(orient="records")):
        overrides = {**values, **fixed}
        for replicate, seed in enumerate(seeds):
            yield RunTask(point_id * spec.seeds + replicate, point_id, replicate, seed, base, overrides, spec.outputs.timeseries)


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the results."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit() -> str | None:
    """The commit of the source tree the model was imported from (None outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def manifest_for(spec: SweepSpec, scenario: Scenario, runs_total: int, points: int, backend: Any) -> dict[str, Any]:
    return {
        "spec": spec.model_dump(mode="json"),
        "scenario": scenario.model_dump(mode="json"),
        "runs_total": runs_total,
        "points": points,
        "versions": versions(),
        "git_commit": git_commit(),
        "executor": {"kind": backend.name, "workers": backend.workers},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _hint(error: Exception) -> str:
    if isinstance(error, BrokenProcessPool):
        return "; a worker process died: killed, out of memory, or a script that calls sweep() outside `if __name__ == '__main__':`"
    return ""


def _refuse_inside_a_spawned_import() -> None:
    """A worker process started with "spawn" imports the user's script as ``__mp_main__``; a top-level ``sweep()``
    call would then start a pool of its own. Stop it with a message that names the fix."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):  # the flag multiprocessing itself checks
        raise SweepError("sweep() was called while a worker process was importing your script; put the call under "
                         "`if __name__ == '__main__':` (worker processes import the script again)")


def sweep(spec: str | Path | dict[str, Any] | SweepSpec, executor: Any = "process", workers: int | None = None,
          scheduler: str | None = None, out: str | Path | None = None, resume: bool = False,
          progress: Progress | bool | None = None, flush_every: int = 100, flush_seconds: float = 30.0) -> pd.DataFrame:
    """Run a sweep and return its results (one row per run, sorted by ``run_id``).

    Args:
        spec: a sweep TOML path, a mapping or a :class:`SweepSpec`.
        executor: "process" (local pool, all cores), "serial", "dask" (a LocalCluster, or the
            scheduler at ``scheduler``), a ``concurrent.futures.Executor`` or a ``distributed.Client``.
        workers: worker processes (default: all cores); ignored for an existing scheduler.
        scheduler: address of a Dask scheduler (``tcp://host:8786``); implies executor "dask".
        out: results folder (Parquet parts + manifest.json); None keeps results in memory only.
        resume: finish the missing runs of the sweep in ``out`` (starts it if ``out`` holds nothing yet).
        progress: True for a progress bar (runs done, failed, rate, time left), or a function
            called as ``progress(done, failed, total)`` after every run.
        flush_every: runs per Parquet part file; flush_seconds: longest wait between parts.

    Raises:
        SweepError: bad spec, or an ``out`` folder that does not fit (one-line message).
    """
    _refuse_inside_a_spawned_import()
    built, scenario = load_spec(spec)
    bar = None
    if progress is True:
        from simulation.experiments.commands import ProgressBar

        progress = bar = ProgressBar(True)
    if scheduler:
        executor = "dask"
    total = len(design_points(built)) * built.seeds
    store = ResultStore(out, flush_every=flush_every, flush_seconds=flush_seconds)
    with open_backend(executor, workers, scheduler) as backend:
        manifest = manifest_for(built, scenario, total, total // built.seeds, backend)
        if resume and store.has_results():
            store.open(manifest)
        else:
            store.create(manifest)
        todo = (task for task in plan(built, scenario) if task.run_id not in store.done_ids)
        state = "interrupted"
        try:
            if progress:
                progress(len(store.done_ids), store.counts.get("failed", 0), total)
            try:
                for outcome in backend.map_unordered(execute, todo):
                    store.add(outcome)
                    if progress:
                        progress(len(store.done_ids), store.counts.get("failed", 0), total)
            except Exception as error:  # runs catch their own errors: this is the executor itself (a worker killed, a lost cluster)
                saved = f"finished runs are saved in {out}; continue with --resume" if out is not None else "no results folder was given"
                raise SweepError(f"the {backend.name} executor failed ({one_line(error)}{_hint(error)}); {saved}") from error
            state = "complete"
        finally:
            store.close(state)
            if bar is not None:
                bar.close()
    return store.frame()
