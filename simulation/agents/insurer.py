"""Technology insurers: R&D loss, loan credit and patent insurance."""

from __future__ import annotations

import mesa


class Insurer(mesa.Agent):
    """An insurer writing the three technology lines; capital absorbs underwriting results."""

    def __init__(self, model: mesa.Model, name: str, account: int):
        super().__init__(model)
        self.name = name
        self.account = account
        self.equity_rmb = 0.0
        self.premiums_rmb = 0.0  # cumulative
        self.claims_rmb = 0.0  # cumulative

    @property
    def loss_ratio(self) -> float:
        return self.claims_rmb / self.premiums_rmb if self.premiums_rmb > 0 else 0.0

    def balance_sheet_gap_rmb(self) -> float:
        return float(self.model.ledger.balance[self.account]) - self.equity_rmb
