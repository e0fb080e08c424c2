"""Parameter sweeps and sensitivity analysis over the model.

    from simulation.experiments import sweep, load_sweep
    runs = sweep("scenarios/sweeps/relending_grid.toml", executor="process", out="sweeps_out/grid")
    runs = load_sweep("sweeps_out/grid")          # one row per run: parameters, seed, KPIs, status

Modules: ``spec`` (what to run), ``designs`` (which points), ``worker`` (one run),
``executors`` (where runs execute), ``store`` (Parquet parts + manifest),
``runner`` (ties them together), ``sensitivity`` (SALib indices), ``analyze``
(tables and figures), ``commands`` (the ``sweep`` and ``analyze`` subcommands).
"""

from simulation.experiments.runner import sweep
from simulation.experiments.spec import SweepError, SweepSpec, load_spec
from simulation.experiments.store import load_sweep

__all__ = ["SweepError", "SweepSpec", "load_spec", "load_sweep", "sweep"]
