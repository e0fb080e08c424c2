"""Banks: balance sheet, capital constraint, funding cost and credit assessment."""

from __future__ import annotations

import mesa


class Bank(mesa.Agent):
    """A bank (or a group of similar banks modelled as one agent).

    Balance sheet (RMB, real-world): assets = cash (settlement account in the
    ledger) + tech loans (the loan book) + equity stakes of the investment arm;
    liabilities = deposits + central-bank relending; the rest is equity.
    """

    def __init__(self, model: mesa.Model, name: str, kind: str, market_share: float,
                 region: int | None, industry_research: float, account: int):
        super().__init__(model)
        self.name = name
        self.kind = kind
        self.market_share = float(market_share)
        self.region = region
        self.industry_research = float(industry_research)
        self.account = account
        self.deposits_rmb = 0.0
        self.relending_debt_rmb = 0.0
        self.equity_rmb = 0.0
        self.stakes_cost_rmb = 0.0
        self.loans_rmb = 0.0  # cached from the loan book at each accounting phase
        self.new_loans_rmb = 0.0
        self.write_offs_rmb = 0.0

    @property
    def capital_ratio(self) -> float:
        """Equity / (loans + stakes), risk weight 100 %."""
        exposure = self.loans_rmb + self.stakes_cost_rmb
        return self.equity_rmb / exposure if exposure > 0 else float("inf")

    def lending_capacity_rmb(self, min_ratio: float) -> float:
        """How much more the bank can lend before hitting the minimum capital ratio."""
        return max(0.0, self.equity_rmb / min_ratio - self.loans_rmb - self.stakes_cost_rmb)

    def balance_sheet_gap_rmb(self) -> float:
        """Assets − liabilities − equity: zero when the books are consistent."""
        cash = float(self.model.ledger.balance[self.account])
        return cash + self.loans_rmb + self.stakes_cost_rmb - self.deposits_rmb - self.relending_debt_rmb - self.equity_rmb
