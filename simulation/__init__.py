"""InnoFin: an agent-based model of China's innovation-finance ecosystem (Mesa).

Public API::

    from simulation import InnovationEconomy, simulate, run_one, load_scenario
"""

from simulation.api import run_model, run_one, simulate
from simulation.experiments import load_sweep, sweep
from simulation.model import InnovationEconomy
from simulation.scenario.loader import ScenarioError, load_scenario
from simulation.scenario.schema import Scenario

__all__ = ["InnovationEconomy", "Scenario", "ScenarioError", "load_scenario", "load_sweep", "run_model", "run_one", "simulate", "sweep"]
__version__ = "0.1.0"
