"""The PBoC science-and-technology innovation relending facility.

Eligible banks refinance ``refinanced_share`` of each new eligible tech loan at
the relending rate, within the quota (with a sub-quota earmarked for firms'
first loans). The refinancing is repaid as the loan's principal is repaid, or
at once when the loan defaults or the firm exits. Interest is paid quarterly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy


class RelendingFacility:
    """Quota bookkeeping and money movements of the relending facility (RMB, real world)."""

    def __init__(self, model: InnovationEconomy):
        self.model = model
        self.outstanding_rmb = 0.0
        self.first_loan_outstanding_rmb = 0.0
        self.used_this_quarter_rmb = 0.0

    def worth_drawing(self) -> bool:
        """Banks refinance only when relending is cheaper than their own marginal funding."""
        params = self.model.params
        return params.relending.rate < params.banks.funding_cost

    def room_rmb(self) -> float:
        return max(0.0, self.model.params.relending.quota_rmb - self.outstanding_rmb)

    def allocate(self, wanted_per_firm: np.ndarray, wants: np.ndarray, first: np.ndarray,
                 order_key: np.ndarray | None = None, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Refinancing per loan (per real firm) in the order of ``order_key`` (or the given ``order``), within the quota.

        Firms' first loans draw on the earmarked sub-quota, then on the general part;
        other loans on the general part only. Returns the amounts and a mask of
        the loans funded from the earmark (whose repayments go back to it).
        """
        p = self.model.params.relending
        scale = self.model.scale
        result = np.zeros(len(wanted_per_firm))
        from_earmark = np.zeros(len(wanted_per_firm), dtype=bool)
        earmark_room = max(0.0, p.quota_rmb * p.first_loan_earmark - self.first_loan_outstanding_rmb)
        general_room = max(0.0, p.quota_rmb * (1 - p.first_loan_earmark) - (self.outstanding_rmb - self.first_loan_outstanding_rmb))
        if order is None:
            order = np.argsort(order_key, kind="stable")
        firsts = order[(wants & first)[order]]
        fits = firsts[np.cumsum(wanted_per_firm[firsts]) * scale <= earmark_room]
        result[fits] = wanted_per_firm[fits]
        from_earmark[fits] = True
        self.first_loan_outstanding_rmb += float(result[fits].sum() * scale)
        rest = order[(wants & ~from_earmark)[order]]
        fits = rest[np.cumsum(wanted_per_firm[rest]) * scale <= general_room]
        result[fits] = wanted_per_firm[fits]
        return result, from_earmark

    def disburse(self, banks: np.ndarray, per_firm: np.ndarray) -> None:
        """The central bank lends the refinancing to the banks."""
        model = self.model
        amounts = np.bincount(banks, weights=per_firm * model.scale, minlength=len(model.banks))
        for b in np.flatnonzero(amounts):
            model.ledger.transfer(model.central_bank_account, int(model.bank_accounts[b]), float(amounts[b]), "relending_drawdown")
            model.banks[b].relending_debt_rmb += float(amounts[b])
        total = float(amounts.sum())
        self.outstanding_rmb += total
        self.used_this_quarter_rmb += total

    def _repay(self, rows: np.ndarray, per_firm: np.ndarray) -> None:
        model = self.model
        book = model.loans
        if len(rows) == 0:
            return
        banks = book.column("bank")[rows]
        amounts = np.bincount(banks, weights=per_firm * model.scale, minlength=len(model.banks))
        for b in np.flatnonzero(amounts):
            model.ledger.transfer(int(model.bank_accounts[b]), model.central_bank_account, float(amounts[b]), "relending_repayment")
            model.banks[b].relending_debt_rmb -= float(amounts[b])
        first = book.column("first_loan")[rows]
        self.first_loan_outstanding_rmb -= float(per_firm[first].sum() * model.scale)
        self.outstanding_rmb -= float(amounts.sum())
        book.column("refinanced")[rows] -= per_firm

    def repay_with_principal(self, rows: np.ndarray, principal_paid: np.ndarray, outstanding_before: np.ndarray) -> None:
        """Repay refinancing in proportion to the principal repaid on loans ``rows`` (book rows)."""
        book = self.model.loans
        # only loans with refinancing whose borrower repaid principal this quarter owe a repayment
        paying = np.flatnonzero((principal_paid > 0) & (book.column("refinanced")[rows] > 0))
        if len(paying) == 0:
            return
        book_rows = rows[paying]
        refinanced = book.column("refinanced")[book_rows]
        before = outstanding_before[paying]
        share = np.where(before > 0, principal_paid[paying] / np.maximum(before, 1e-9), 0.0)
        repay = np.minimum(refinanced, refinanced * share)
        self._repay(book_rows, repay)

    def repay_loans(self, rows: np.ndarray) -> None:
        """Repay all refinancing against these loans (default or exit)."""
        refinanced = self.model.loans.column("refinanced")[rows]
        has = refinanced > 0
        if has.any():
            self._repay(rows[has], refinanced[has].copy())

    def pay_interest(self) -> None:
        """Banks pay the quarter's interest on their relending debt to the central bank."""
        model = self.model
        rate = model.params.relending.rate
        for bank in model.banks:
            interest = bank.relending_debt_rmb * rate / 4.0
            if interest > 0:
                model.ledger.transfer(bank.account, model.central_bank_account, interest, "relending_interest")
                bank.equity_rmb -= interest
                model.central_bank.interest_received_rmb += interest
