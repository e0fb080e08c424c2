"""The firm population's columnar state (one row per firm agent, per real firm units)."""

from __future__ import annotations

import numpy as np

from simulation.columns import Columns

FIRM_COLUMNS: dict[str, type] = {
    "region": np.int16,
    "sector": np.int16,
    "stage": np.int8,
    "alive": np.bool_,
    "exit_kind": np.int8,
    "born_q": np.int32,
    "exit_q": np.int32,
    "quality": np.float64,  # latent technology quality (z-score)
    "size": np.float64,  # persistent log-size effect (random walk, fat-tailed shocks)
    "knowledge": np.float64,  # R&D stock (RMB, depreciating)
    "patents": np.float64,  # valid invention patents held
    "rd": np.float64,  # R&D spending last quarter (RMB)
    "revenue": np.float64,  # revenue last quarter (RMB)
    "cash": np.float64,  # RMB
    "debt": np.float64,  # outstanding bank loans (RMB)
    "tangible": np.float64,  # pledgeable tangible assets (RMB)
    "receivable": np.float64,  # owed by the anchor firm (RMB)
    "anchor": np.int64,  # row of the anchor firm this firm supplies (−1 none)
    "is_anchor": np.bool_,
    "anchor_covered": np.bool_,  # banks accept receivables on this anchor
    "post_money": np.float64,  # valuation at last round (RMB)
    "rounds": np.int16,
    "last_round_q": np.int32,  # quarter of the last equity round
    "vc_backed": np.bool_,
    "equity_raised": np.float64,
    "ever_borrowed": np.bool_,
    "rd_insured": np.bool_,
    "patent_insured": np.bool_,
    "distress": np.bool_,
    "insolvent_q": np.int8,  # consecutive quarters with negative cash (unpaid bills)
    "arrears_q": np.int8,  # consecutive quarters with unpaid debt service
    "project": np.bool_,  # has an investment project this quarter
}


class FirmPopulation(Columns):
    """All firm agents' numeric state; rows never move (exited firms stay with ``alive`` False)."""

    def __init__(self, capacity: int):
        super().__init__(FIRM_COLUMNS, capacity)

    def alive_rows(self) -> np.ndarray:
        return np.flatnonzero(self.column("alive"))

    def age_years(self, rows: np.ndarray, quarter: int) -> np.ndarray:
        """Age in completed years (0 in the first year)."""
        return (quarter - self.column("born_q")[rows]) // 4
