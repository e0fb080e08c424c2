"""Bounded memory: many runs in one worker process do not accumulate models (Mesa 3.3.1 keeps them alive unless released)."""

from __future__ import annotations

import gc
import resource
import tracemalloc

from simulation import load_scenario
from simulation.experiments.worker import RunTask, execute

RUNS = 20


def test_memory_stays_bounded_over_many_runs_in_one_process():
    base = load_scenario("baseline").model_dump(mode="python")
    tasks = [RunTask(i, i, 0, i, base, {"run.scale": 2000, "run.quarters": 4}) for i in range(RUNS + 3)]
    for task in tasks[:3]:  # warm-up: imports, caches, allocator pools
        assert execute(task).row["status"] == "ok"
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    try:
        for task in tasks[3:]:
            assert execute(task).row["status"] == "ok"
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    # A model of this size that stayed alive keeps about 1 MB of Python objects (~20 MB over these runs).
    assert retained < 3e6, f"{retained / 1e6:.1f} MB retained after {RUNS} runs"
    assert rss_growth_mb < 25, f"peak RSS grew by {rss_growth_mb:.0f} MB over {RUNS} runs"
