"""Technology insurance: R&D loss, patent infringement and loan credit insurance, with premium subsidies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.firm import Stage

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy


def take_up(model: InnovationEconomy, rows: np.ndarray) -> None:
    """Entering firms decide whether to insure R&D and patents (take-up rises with the subsidy)."""
    p = model.params.insurance
    prob = min(1.0, p.take_up_base * (1.0 + p.take_up_subsidy_elasticity * p.premium_subsidy))
    pop = model.population
    if p.rd_loss_enabled:
        pop.column("rd_insured")[rows] = model.uniform("insurance", rows) < prob
    if p.patent_enabled:
        pop.column("patent_insured")[rows] = model.uniform("insurance", rows) < prob


def premiums_and_claims(model: InnovationEconomy, rows: np.ndarray) -> None:
    """Collect the quarter's premiums (firms, subsidised by governments; banks for credit cover) and pay claims."""
    p = model.params.insurance
    pop = model.population
    ledger = model.ledger
    insurer = model.insurer
    covered = np.zeros(len(rows), dtype=bool)  # only insured firms pay premiums or claim
    if p.rd_loss_enabled:
        covered |= pop.column("rd_insured")[rows]
    if p.patent_enabled:
        covered |= pop.column("patent_insured")[rows]
    rows = rows[covered]
    region = pop.column("region")[rows]
    stage = pop.column("stage")[rows]
    premium = np.zeros(len(rows))
    claims = np.zeros(len(rows))
    if p.rd_loss_enabled:
        insured = pop.column("rd_insured")[rows] & (stage <= Stage.GROWTH)
        premium += np.where(insured, p.rd_premium_rate * pop.column("rd")[rows], 0.0)
        failed = insured & (stage <= Stage.EARLY) & (model.uniform("claims", rows) < p.rd_failure_quarterly)
        claims += np.where(failed, p.rd_coverage * 4.0 * pop.column("rd")[rows], 0.0)
    if p.patent_enabled:
        insured = pop.column("patent_insured")[rows]
        patents = np.where(insured, pop.column("patents")[rows], 0.0)
        premium += patents * p.patent_premium_rmb / 4.0
        rate = model.params.ip.patent_insurance_claim_rate_quarterly * (1.0 - model.params.ip.protection)
        claims += model.poisson("patent_claims", patents * rate, rows) * p.patent_claim_rmb
    firm_part = premium * (1.0 - p.premium_subsidy)
    gov_part = premium * p.premium_subsidy
    paid = ledger.firms_pay(rows, firm_part, model.insurer_account, "insurance_premium")
    sub = gov_part > 0
    if sub.any():
        subsidy_total = 0.0
        for r in np.unique(region[sub]):
            amount = float(gov_part[sub & (region == r)].sum() * model.scale)
            ledger.transfer(int(model.region_gov_accounts[r]), model.insurer_account, amount, "insurance_premium_subsidy")
            model.fiscal_outlay(int(r), amount)
            subsidy_total += amount
        paid += subsidy_total
        model.acc.add_money("subsidies_rmb", rows[sub], gov_part[sub])  # fiscal cost booked by fiscal_outlay
    got = ledger.pay_firms(model.insurer_account, rows[claims > 0], claims[claims > 0], "insurance_claim")
    model.acc.add_money("insurance_premiums_rmb", rows, premium)
    model.acc.add_money("insurance_claims_rmb", rows, claims)
    insurer.premiums_rmb += paid
    insurer.claims_rmb += got
    insurer.equity_rmb += paid - got
    claimants = rows[claims > 0]
    if len(claimants):
        model.events.log(model, "claim", claimants, claims[claims > 0], counterparty=np.full(len(claimants), -1), detail=stage[claims > 0])


def credit_premiums(model: InnovationEconomy) -> None:
    """Banks pay credit-insurance premiums on insured open loans."""
    p = model.params.insurance
    book = model.loans
    if book.n == 0 or not p.credit_enabled:
        return
    live = np.flatnonzero(book.column("open") & book.column("insured"))
    if len(live) == 0:
        return
    premium = book.column("outstanding")[live] * p.credit_premium_rate / 4.0 * model.scale
    bank = book.column("bank")[live]
    per_bank = np.bincount(bank, weights=premium, minlength=len(model.banks))
    for b in np.flatnonzero(per_bank):
        model.ledger.transfer(int(model.bank_accounts[b]), model.insurer_account, float(per_bank[b]), "credit_insurance_premium")
        model.banks[b].equity_rmb -= float(per_bank[b])
    total = float(per_bank.sum())
    model.insurer.premiums_rmb += total
    model.insurer.equity_rmb += total
    model.acc.add_money("insurance_premiums_rmb", book.column("firm")[live], premium / model.scale)
