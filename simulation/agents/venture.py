"""Venture funds: market funds and government guidance funds."""

from __future__ import annotations

from enum import IntEnum

import mesa
import numpy as np

from simulation.scenario.schema import quarter_label


class FundKind(IntEnum):
    MARKET = 0
    GUIDANCE_NATIONAL = 1
    GUIDANCE_REGIONAL = 2


# Bisection halves the bracket of width 2.8 (quarterly rate) each step: after 42 steps it is
# narrower than 1e-12, far below any reported digit of an IRR.
BISECTION_STEPS = 42


def irr_quarterly_to_annual(cashflows: list[float]) -> float:
    """Annual IRR of quarterly cash flows (negative = paid in); NaN when undefined."""
    return float(irr_many([cashflows])[0])


def irr_many(flow_lists: list[list[float]]) -> np.ndarray:
    """Annual IRRs of several quarterly cash-flow series at once (NaN where undefined).

    Bisection on the net present value between −99 % and +200 % per quarter; a
    pay-in-first profile has one sign change, so the root is unique. The series
    are padded with zeros to the longest one.
    """
    longest = max((len(f) for f in flow_lists), default=0)
    return _bisect_irr(flow_lists, [longest] * len(flow_lists))


def irr_annual_each(flow_lists: list[list[float]]) -> list[float]:
    """Annual IRR of each series, the same numbers as :func:`irr_quarterly_to_annual` one by one.

    All series are solved together, but each net present value is summed over its
    own series only (no padding), so each result is bit for bit the single-series one.
    """
    return _bisect_irr(flow_lists, [len(f) for f in flow_lists]).tolist()


def _bisect_irr(flow_lists: list[list[float]], summed: list[int]) -> np.ndarray:
    """IRRs by bisection where the NPV of series ``i`` sums its first ``summed[i]`` discounted flows."""
    if not flow_lists:
        return np.zeros(0)
    order = np.argsort(summed, kind="stable")  # series summed over equal lengths form contiguous blocks
    lists = [flow_lists[i] for i in order.tolist()]
    sums = np.asarray(summed)[order]
    length = max(len(f) for f in lists)
    flows = np.zeros((len(lists), length))
    for i, f in enumerate(lists):
        flows[i, : len(f)] = f
    times = np.arange(length)
    defined = (flows < 0).any(axis=1) & (flows > 0).any(axis=1) & (np.array([len(f) for f in lists]) >= 2)
    lengths, starts = np.unique(sums, return_index=True)
    blocks = list(zip(starts.tolist(), [*starts[1:].tolist(), len(lists)], lengths.tolist()))

    def npv(rate: np.ndarray) -> np.ndarray:
        # a long series at a deeply negative rate overflows the discount factor: its NPV is then not finite
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            terms = flows / (1.0 + rate[:, None]) ** times
        if len(blocks) == 1 and blocks[0][2] == length:
            return terms.sum(axis=1)
        out = np.empty(len(rate))
        for start, end, n in blocks:
            out[start:end] = terms[start:end, :n].sum(axis=1)
        return out

    # quarterly bounds: -80 % (-99.8 % a year) keeps discount factors finite over 400 quarters; +200 %
    low = np.full(len(flows), -0.8)
    high = np.full(len(flows), 2.0)
    f_low = npv(low)
    f_high = npv(high)
    defined &= np.isfinite(f_low) & np.isfinite(f_high) & (np.sign(f_low) != np.sign(f_high))
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (low + high)
        f_mid = npv(mid)
        same = np.sign(f_mid) == np.sign(f_low)
        low = np.where(same, mid, low)
        f_low = np.where(same, f_mid, f_low)
        high = np.where(same, high, mid)
    result = np.empty(len(lists))
    result[order] = np.where(defined, (1.0 + 0.5 * (low + high)) ** 4 - 1.0, np.nan)
    return result


def book_cash_rmb(paid_in, invested, fees, proceeds, distributed):
    """The cash a fund's books say it holds: paid-in − invested − fees + proceeds − distributions (RMB; floats or arrays)."""
    return paid_in - invested - fees + proceeds - distributed


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
    def vintage_label(self) -> str:
        """The vintage as a quarter label (e.g. ``2026Q1``)."""
        label = self.__dict__.get("_vintage_label")
        if label is None:
            label = self._vintage_label = quarter_label(self.model.params.run.start_quarter, self.vintage)
        return label

    @property
    def dry_powder_rmb(self) -> float:
        return max(0.0, self.committed_rmb - self.paid_in_rmb)

    def investing(self, quarter: int) -> bool:
        return not self.closed and quarter - self.vintage < self.invest_quarters and self.dry_powder_rmb > 0

    @property
    def tvpi(self) -> float:
        return (self.distributed_rmb + self.nav_rmb) / self.paid_in_rmb if self.paid_in_rmb > 0 else float("nan")

    def irr_flows(self) -> list[float]:
        """LP cash flows so far with the current NAV as a terminal value."""
        return [*self.cashflows, self.terminal_flow_rmb()]

    def terminal_flow_rmb(self) -> float:
        """This quarter's LP flow plus the current NAV: the last value of :meth:`irr_flows`."""
        return self._flow_this_quarter + self.nav_rmb

    @property
    def irr_annual(self) -> float:
        return irr_quarterly_to_annual(self.irr_flows())

    def book_flow(self, amount_rmb: float) -> None:
        """Record an LP cash flow this quarter (negative = capital call)."""
        self._flow_this_quarter += amount_rmb

    def close_quarter(self) -> None:
        self.cashflows.append(self._flow_this_quarter)
        self._flow_this_quarter = 0.0

    def balance_sheet_gap_rmb(self) -> float:
        """Cash − the cash its books say it holds (:func:`book_cash_rmb`): zero when consistent."""
        cash = float(self.model.ledger.balance[self.account])
        return cash - book_cash_rmb(self.paid_in_rmb, self.invested_rmb, self.fees_rmb, self.proceeds_rmb, self.distributed_rmb)
