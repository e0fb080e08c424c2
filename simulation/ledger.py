"""Double-entry money: accounts, transactions and the stock-flow checker.

Every yuan moves as one transaction from one account to another. Institutions
(banks, funds, insurers, governments) and the outside sectors (households /
depositors, rest of world, the central bank) each own one cash account here;
the cash of the firm population is a vector block of accounts, one per firm
agent, held per real firm and multiplied by ``scale`` (the firms one agent
stands for) when it moves. Outside sectors may go negative: they are where
money enters and leaves the modelled economy, so the sum over all accounts is
zero at all times. :meth:`Ledger.check` verifies that and each institution's
balance sheet identity.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

OUTSIDE_SECTORS = ("households", "rest_of_world", "central_bank")


@dataclass
class Account:
    """One cash account: its owner's name, sector and region (None = national)."""

    name: str
    sector: str
    region: int | None = None


@dataclass
class FlowRecord:
    """Money moved in the current quarter, by kind and by sector pair (RMB)."""

    by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_pair: dict[tuple[str, str, str], float] = field(default_factory=lambda: defaultdict(float))


class Ledger:
    """Cash accounts of every agent and sector, moved only by transactions.

    Args:
        firm_cash: the population's cash column accessor (a callable returning
            the live per-real-firm cash array); amounts are per real firm.
        scale: real firms per firm agent.
    """

    FIRMS = -1  # pseudo account id for "the firm block"

    def __init__(self, firm_cash, scale: float):
        self._firm_cash = firm_cash
        self.scale = float(scale)
        self.accounts: list[Account] = []
        self._sector_of: dict[int, str] = {self.FIRMS: "firms"}
        self.balance = np.zeros(0)
        self.flows = FlowRecord()
        self.gross_total = 0.0
        self.transactions = 0

    # -- accounts ---------------------------------------------------------
    def open(self, name: str, sector: str, region: int | None = None) -> int:
        """Open a cash account with zero balance; returns its id."""
        self.accounts.append(Account(name, sector, region))
        self.balance = np.append(self.balance, 0.0)
        account = len(self.accounts) - 1
        self._sector_of[account] = sector
        return account

    def sector(self, account: int) -> str:
        return self._sector_of[account]

    # -- transactions -----------------------------------------------------
    def _record(self, kind: str, src: int, dst: int, amount: float) -> None:
        flows = self.flows
        flows.by_kind[kind] += amount
        flows.by_pair[(self._sector_of[src], self._sector_of[dst], kind)] += amount
        self.gross_total += abs(amount)
        self.transactions += 1

    def transfer(self, src: int, dst: int, amount: float, kind: str) -> None:
        """Move ``amount`` RMB from account ``src`` to account ``dst``."""
        if amount == 0.0:
            return
        if not math.isfinite(amount):
            raise ValueError(f"non-finite transfer {kind}: {amount}")
        balance = self.balance
        balance[src] -= amount
        balance[dst] += amount
        self._record(kind, src, dst, amount)

    def round_trips(self, hub: int, accounts: list[int], amounts: list[float], kind_out: str, kind_back: str) -> None:
        """For each account in order: ``transfer(hub, account, amount, kind_out)`` then ``transfer(account, hub, amount, kind_back)``.

        The same balances, flow records and totals, bit for bit, as those transfers one by one (running sums are
        cumulative sums in the same order); used for the management fees that fund LPs pay in and funds pay out.
        """
        amounts_array = np.asarray(amounts, dtype=float)
        keep = amounts_array != 0.0
        if not keep.all():
            accounts = [a for a, k in zip(accounts, keep.tolist()) if k]
            amounts_array = amounts_array[keep]
        if len(amounts_array) == 0:
            return
        if not np.isfinite(amounts_array).all():
            bad = amounts_array[~np.isfinite(amounts_array)][0]
            raise ValueError(f"non-finite transfer {kind_out}: {bad}")
        sectors = {self._sector_of[a] for a in accounts}
        if len(sectors) != 1 or len(set(accounts)) != len(accounts) or hub in accounts:
            for account, amount in zip(accounts, amounts_array.tolist()):
                self.transfer(hub, account, amount, kind_out)
                self.transfer(account, hub, amount, kind_back)
            return
        (sector,) = sectors
        hub_sector = self._sector_of[hub]
        pairs = np.empty(2 * len(amounts_array))
        pairs[0::2] = -amounts_array
        pairs[1::2] = amounts_array
        balance = self.balance
        balance[hub] = np.cumsum(np.concatenate(([balance[hub]], pairs)))[-1]
        index = np.asarray(accounts)
        balance[index] = (balance[index] + amounts_array) - amounts_array
        flows = self.flows
        for kind, key in ((kind_out, (hub_sector, sector, kind_out)), (kind_back, (sector, hub_sector, kind_back))):
            flows.by_kind[kind] = float(np.cumsum(np.concatenate(([flows.by_kind[kind]], amounts_array)))[-1])
            flows.by_pair[key] = float(np.cumsum(np.concatenate(([flows.by_pair[key]], amounts_array)))[-1])
        self.gross_total = float(np.cumsum(np.concatenate(([self.gross_total], np.abs(pairs))))[-1])
        self.transactions += len(pairs)

    def firms_pay(self, firms: np.ndarray, per_firm: np.ndarray, dst: int | np.ndarray, kind: str) -> float:
        """Firms pay ``per_firm`` RMB (per real firm) to ``dst`` (one account or one per firm).

        Returns the total in RMB (per-firm amounts × scale).
        """
        if len(firms) == 0:
            return 0.0
        _add_to_firms(self._firm_cash(), firms, -np.asarray(per_firm, dtype=float))
        return self._credit_counterparties(dst, per_firm, kind, outgoing=True)

    def pay_firms(self, src: int | np.ndarray, firms: np.ndarray, per_firm: np.ndarray, kind: str) -> float:
        """``src`` (one account or one per firm) pays ``per_firm`` RMB (per real firm) to firms."""
        if len(firms) == 0:
            return 0.0
        _add_to_firms(self._firm_cash(), firms, np.asarray(per_firm, dtype=float))
        return self._credit_counterparties(src, per_firm, kind, outgoing=False)

    def firm_to_firm(self, payers: np.ndarray, payees: np.ndarray, per_firm: np.ndarray, kind: str) -> float:
        """Firms pay other firms (e.g. anchor firms settling suppliers' receivables)."""
        if len(payers) == 0:
            return 0.0
        cash = self._firm_cash()
        np.subtract.at(cash, payers, per_firm)
        np.add.at(cash, payees, per_firm)
        total = float(per_firm.sum()) * self.scale
        self._record(kind, self.FIRMS, self.FIRMS, total)
        return total

    def _credit_counterparties(self, other: int | np.ndarray, per_firm: np.ndarray, kind: str, outgoing: bool) -> float:
        amounts = np.asarray(per_firm, dtype=float) * self.scale
        sign = 1.0 if outgoing else -1.0
        if np.ndim(other) == 0:
            total = float(amounts.sum())
            self.balance[int(other)] += sign * total
            src, dst = (self.FIRMS, int(other)) if outgoing else (int(other), self.FIRMS)
            self._record(kind, src, dst, total)
            return total
        other = np.asarray(other)
        per_account = np.bincount(other, weights=amounts, minlength=len(self.balance))
        self.balance += sign * per_account
        for account in np.flatnonzero(per_account):
            src, dst = (self.FIRMS, int(account)) if outgoing else (int(account), self.FIRMS)
            self._record(kind, src, dst, float(per_account[account]))
        return float(amounts.sum())

    # -- reporting --------------------------------------------------------
    def start_quarter(self) -> None:
        """Reset the quarter's flow record."""
        self.flows = FlowRecord()

    def firm_cash_total(self) -> float:
        return float(self._firm_cash().sum()) * self.scale

    def money_sum(self) -> float:
        """Sum of all balances, firms included: zero when no money appeared or vanished."""
        return float(self.balance.sum()) + self.firm_cash_total()


def flow_rows(by_pair: dict[tuple[str, str, str], float]) -> list[dict]:
    """Flows by (source sector, target sector, kind) as rows ``{source, target, kind, amount_rmb}``, sorted, zeros left out."""
    return [{"source": s, "target": t, "kind": k, "amount_rmb": v} for (s, t, k), v in sorted(by_pair.items()) if v != 0.0]


def _add_to_firms(cash: np.ndarray, firms: np.ndarray, amounts: np.ndarray) -> None:
    """``cash[firms] += amounts`` where ``firms`` may repeat (several loans of one firm)."""
    if amounts.shape != np.shape(firms):
        amounts = np.broadcast_to(amounts, np.shape(firms))
    if len(firms) < 256:
        np.add.at(cash, firms, amounts)
    else:
        cash += np.bincount(firms, weights=amounts, minlength=len(cash))
