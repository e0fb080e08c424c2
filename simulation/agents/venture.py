"""Venture funds: market funds and government guidance funds."""

from __future__ import annotations

from enum import IntEnum

import mesa
import numpy as np


class FundKind(IntEnum):
    MARKET = 0
    GUIDANCE_NATIONAL = 1
    GUIDANCE_REGIONAL = 2


def irr_quarterly_to_annual(cashflows: list[float]) -> float:
    """Annual IRR of quarterly cash flows (negative = paid in); NaN when undefined.

    Solved by bisection on the net present value, which is monotone for
    a pay-in-first profile.
    """
    flows = np.asarray(cashflows, dtype=float)
    if len(flows) < 2 or not (flows < 0).any() or not (flows > 0).any():
        return float("nan")
    times = np.arange(len(flows))

    def npv(rate: float) -> float:
        return float((flows / (1.0 + rate) ** times).sum())

    low, high = -0.99, 2.0
    f_low, f_high = npv(low), npv(high)
    if np.sign(f_low) == np.sign(f_high):
        return float("nan")
    for _ in range(80):
        mid = 0.5 * (low + high)
        f_mid = npv(mid)
        if np.sign(f_mid) == np.sign(f_low):
            low, f_low = mid, f_mid
        else:
            high = mid
    return (1.0 + 0.5 * (low + high)) ** 4 - 1.0


class VentureFund(mesa.Agent):
    """A closed-end fund: commitments called from LPs, rounds in firms, exits distributed.

    Args:
        kind: market or guidance fund.
        region: the region it invests in (None = any).
        vintage: quarter index of its first close.
        committed_rmb: LP commitments.
        life_quarters: life until it closes (7+3 years = 40; patient capital 80).
        lp_account: ledger account of its limited partners (households or a government).
    """

    def __init__(self, model: mesa.Model, name: str, kind: FundKind, region: int | None, vintage: int,
                 committed_rmb: float, life_quarters: int, invest_quarters: int, lp_account: int, account: int):
        super().__init__(model)
        self.name = name
        self.kind = kind
        self.region = region
        self.vintage = vintage
        self.committed_rmb = float(committed_rmb)
        self.life_quarters = int(life_quarters)
        self.invest_quarters = int(invest_quarters)
        self.lp_account = lp_account
        self.account = account
        self.paid_in_rmb = 0.0
        self.invested_rmb = 0.0
        self.distributed_rmb = 0.0
        self.fees_rmb = 0.0
        self.proceeds_rmb = 0.0
        self.deals = 0
        self.nav_rmb = 0.0
        self.cashflows: list[float] = []  # quarterly net LP flows (−calls, +distributions)
        self._flow_this_quarter = 0.0
        self.closed = False

    @property
    def dry_powder_rmb(self) -> float:
        return max(0.0, self.committed_rmb - self.paid_in_rmb)

    def investing(self, quarter: int) -> bool:
        return not self.closed and quarter - self.vintage < self.invest_quarters and self.dry_powder_rmb > 0

    @property
    def tvpi(self) -> float:
        return (self.distributed_rmb + self.nav_rmb) / self.paid_in_rmb if self.paid_in_rmb > 0 else float("nan")

    @property
    def irr_annual(self) -> float:
        flows = [*self.cashflows, self._flow_this_quarter + self.nav_rmb]
        return irr_quarterly_to_annual(flows)

    def book_flow(self, amount_rmb: float) -> None:
        """Record an LP cash flow this quarter (negative = capital call)."""
        self._flow_this_quarter += amount_rmb

    def close_quarter(self) -> None:
        self.cashflows.append(self._flow_this_quarter)
        self._flow_this_quarter = 0.0

    def balance_sheet_gap_rmb(self) -> float:
        """Cash − (paid-in − invested − fees + proceeds − distributions): zero when consistent."""
        cash = float(self.model.ledger.balance[self.account])
        expected = self.paid_in_rmb - self.invested_rmb - self.fees_rmb + self.proceeds_rmb - self.distributed_rmb
        return cash - expected
