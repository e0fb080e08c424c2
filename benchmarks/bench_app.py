"""How long the classroom app takes to show one quarter, without the browser.

For each quarter: the model's step, the tables the charts read, and the eight
figures of the page (drawn into the figures of the previous quarter and encoded
as PNG, as the app does). Prints the median and the slowest quarter, split by
figure, wall-clock and CPU seconds, and the machine's load average (timings
taken while other processes compete for the cores are slower).

Target (issue "Teaching", section The app): each quarter renders in well under a
second at the default scale (``run.scale`` = 200, about 2,800 firm agents).
The browser test (``tests/test_app_browser.py``) prints the same figure end to
end: from pressing Step until all eight charts are redrawn in Chromium.

Usage::

    python benchmarks/bench_app.py                      # 20 quarters at scale 200
    python benchmarks/bench_app.py --quarters 40 --scale 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from simulation.app import charts
from simulation.app.levers import DEFAULT_SCALE, ClassroomEconomy


def figure_makers(model: ClassroomEconomy) -> dict[str, Callable]:
    """The page's figures as ``draw(snapshot, fig) -> Figure`` (the order of the page)."""
    return {
        "firm agents": lambda s, f: charts.regions_view(s["firms"], model.region_names, model.scale, model.last_quarter, fig=f),
        "money flows": lambda s, f: charts.money_flows(s["flows"], model.last_quarter, fig=f),
        "firms by stage": lambda s, f: charts.firms_by_stage(s["timeseries"], fig=f),
        "credit by channel": lambda s, f: charts.credit_by_channel(s["channels"], fig=f),
        "access and rate": lambda s, f: charts.access_and_rate(s["timeseries"], fig=f),
        "NPL": lambda s, f: charts.npl_ratio(s["timeseries"], fig=f),
        "VC by stage": lambda s, f: charts.vc_by_stage(s["timeseries"], fig=f),
        "fiscal vs private": lambda s, f: charts.fiscal_vs_private(s["timeseries"], fig=f),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quarters", type=int, default=20)
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE)
    parser.add_argument("--scenario", default="baseline")
    args = parser.parse_args()

    started = time.perf_counter()
    model = ClassroomEconomy(args.scenario, seed=1, scale=int(args.scale))
    setup = time.perf_counter() - started
    makers = figure_makers(model)
    figures: dict[str, object] = {}
    parts: dict[str, list[float]] = {"model step": [], "tables": [], **{name: [] for name in makers}}
    wall, cpu = [], []
    for _ in range(args.quarters):
        t0, c0 = time.perf_counter(), time.process_time()
        model.step()
        t1 = time.perf_counter()
        snapshot = model.snapshot()
        t2 = time.perf_counter()
        parts["model step"].append(t1 - t0)
        parts["tables"].append(t2 - t1)
        for name, draw in makers.items():
            t = time.perf_counter()
            figures[name] = draw(snapshot, figures.get(name))
            charts.to_png(figures[name])
            parts[name].append(time.perf_counter() - t)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    agents = len(model.population.alive_rows())
    print(f"InnoFin app, one quarter: scale {args.scale:g} ({agents:,} firm agents), {args.quarters} quarters, set-up {setup:.2f} s")
    print(f"  {'part':<20} {'median s':>9} {'max s':>7}")
    for name, seconds in parts.items():
        print(f"  {name:<20} {statistics.median(seconds):9.3f} {max(seconds):7.3f}")
    print(f"  {'whole quarter':<20} {statistics.median(wall):9.3f} {max(wall):7.3f}   (CPU {statistics.median(cpu):.3f} s median)")
    print(f"  target: well under 1 s per quarter; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
