"""The model's Mesa agents: tech firms, banks, venture funds, insurers, governments."""

from simulation.agents.bank import Bank
from simulation.agents.firm import ExitKind, Stage, TechFirm
from simulation.agents.government import CentralBank, NationalGovernment, RegionalGovernment
from simulation.agents.insurer import Insurer
from simulation.agents.venture import FundKind, VentureFund

__all__ = [
    "Bank",
    "CentralBank",
    "ExitKind",
    "FundKind",
    "Insurer",
    "NationalGovernment",
    "RegionalGovernment",
    "Stage",
    "TechFirm",
    "VentureFund",
]
