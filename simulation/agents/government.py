"""Governments: regional (subsidies, pools, guarantees, guidance funds) and national; the central bank."""

from __future__ import annotations

import mesa


class RegionalGovernment(mesa.Agent):
    """A regional government and its instruments (budgets in RMB per quarter)."""

    def __init__(self, model: mesa.Model, region: int, account: int):
        super().__init__(model)
        self.region = region
        self.account = account
        self.subsidy_budget_rmb = 0.0
        self.pool_balance_rmb = 0.0
        self.guarantee_capital_rmb = 0.0
        self.spent_rmb = 0.0  # cumulative fiscal outlays net of receipts


class NationalGovernment(mesa.Agent):
    """The national level: Ministry of Finance (interest subsidies), NFGF, national guidance fund LP."""

    def __init__(self, model: mesa.Model, account: int):
        super().__init__(model)
        self.account = account
        self.spent_rmb = 0.0


class CentralBank(mesa.Agent):
    """The PBoC's science-and-technology innovation relending facility."""

    def __init__(self, model: mesa.Model, account: int):
        super().__init__(model)
        self.account = account
        self.relending_outstanding_rmb = 0.0
        self.first_loan_outstanding_rmb = 0.0
        self.interest_received_rmb = 0.0
