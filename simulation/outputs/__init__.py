"""Results folders of runs: tables, summary, provenance, dashboard and report.

    from simulation.outputs import write_run
    write_run(model, "runs/my-run", seed=1)
"""

from simulation.outputs.folder import OutputExistsError, atomic_folder
from simulation.outputs.headline import HEADLINE_KPIS, Kpi, format_value
from simulation.outputs.writer import RUN_FILES, write_run

__all__ = ["HEADLINE_KPIS", "RUN_FILES", "Kpi", "OutputExistsError", "atomic_folder", "format_value", "write_run"]
