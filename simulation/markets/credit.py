"""Bank credit: the loan book, screening, product offers, servicing and the default waterfall.

Seven loan products compete for each applicant (see ``CHANNELS``). The bank
estimates default risk from a noisy signal of latent quality (noise falls with
data sharing, AI assessment and industry research), blends it with its stage
prior according to the credit-assessment mix, and offers each product whose
expected loss after risk sharing is within its appetite. The firm takes the
offer that covers most of its need at the lowest effective rate it can afford.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.firm import Stage
from simulation.columns import Columns
from simulation.groups import group_order, stable_argsort

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy

CHANNELS = (
    "collateral_loan",
    "credit_loan",
    "ip_pledge_loan",
    "supply_chain_loan",
    "project_loan",
    "linkage_loan",
    "guaranteed_loan",
)
COLLATERAL, CREDIT, IP_PLEDGE, SUPPLY_CHAIN, PROJECT, LINKAGE, GUARANTEED = range(len(CHANNELS))

LOAN_COLUMNS = {
    "firm": np.int64,
    "bank": np.int16,
    "region": np.int16,
    "channel": np.int8,
    "principal": np.float64,  # per real firm, RMB
    "outstanding": np.float64,
    "rate": np.float64,  # annual rate charged by the bank
    "lgd": np.float64,  # gross loss given default (before risk sharing)
    "start_q": np.int32,
    "term": np.int16,
    "refinanced": np.float64,  # relending refinancing outstanding against this loan
    "first_loan": np.bool_,
    "subsidy_pp": np.float64,  # fiscal interest subsidy, annual percentage points
    "subsidy_until": np.int32,
    "guaranteed": np.bool_,
    "pool": np.bool_,
    "insured": np.bool_,
    "npl": np.bool_,
    "open": np.bool_,
}


class LoanBook(Columns):
    """All loans, one row per loan of one firm agent (amounts per real firm)."""

    def __init__(self, capacity: int):
        super().__init__(LOAN_COLUMNS, capacity)

    def compact(self) -> None:
        self.keep(self.column("open"))

    def open_rows(self) -> np.ndarray | slice:
        """Rows of the open loans: a slice over the whole book when every loan is open (so reads are views)."""
        is_open = self.column("open")
        return slice(0, self.n) if is_open.all() else np.flatnonzero(is_open)

    @staticmethod
    def rows_where(rows: np.ndarray | slice, mask: np.ndarray) -> np.ndarray:
        """Book rows of ``rows`` (from :meth:`open_rows`) where ``mask`` (one value per row of ``rows``) holds."""
        return np.flatnonzero(mask) if isinstance(rows, slice) else rows[mask]

    @staticmethod
    def rows_at(rows: np.ndarray | slice, positions: np.ndarray) -> np.ndarray:
        """Book rows at ``positions`` of ``rows`` (from :meth:`open_rows`)."""
        return positions if isinstance(rows, slice) else rows[positions]


def noise_sd(model: InnovationEconomy, industry_research: np.ndarray) -> np.ndarray:
    """Sd of a bank's quality signal: base noise cut by data sharing, AI and industry research."""
    c = model.params.credit
    return (
        c.screening_noise
        * (1 - c.noise_cut_data_sharing * c.data_sharing)
        * (1 - c.noise_cut_ai * c.ai_assessment)
        * (1 - c.noise_cut_research * industry_research)
    )


def estimated_pd(model: InnovationEconomy, rows: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """The bank's annual PD estimate: stage prior blended with a technology-flow signal.

    A signal s = q + ε (ε ~ N(0, sd²)) gives the posterior mean q̂ = s·σ²/(σ²+sd²) and
    posterior sd v = σ·sd/√(σ²+sd²). The bank judges the firm at the cautious value
    q̂ − a·v (a = ``credit.uncertainty_aversion``): what it cannot verify counts against
    the firm. The estimate is prior·exp(−w·β·(q̂ − a·v)) with w = ``credit.tech_flow_weight``.
    """
    params = model.params
    pop = model.population
    sigma = params.firms.quality_sigma
    beta = params.firms.hazard_quality_beta
    q = pop.column("quality")[rows]
    signal = q + model.normal("screening", rows) * sd
    q_hat = signal * sigma**2 / (sigma**2 + sd**2)
    posterior_sd = sigma * sd / np.sqrt(sigma**2 + sd**2)
    cautious = q_hat - params.credit.uncertainty_aversion * posterior_sd
    prior = np.asarray(params.banks.pd_prior_annual)[pop.column("stage")[rows]]
    return prior * np.exp(-params.credit.tech_flow_weight * beta * cautious)


def lend(model: InnovationEconomy, rows: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Credit market for applicants ``rows`` needing ``need`` RMB each; returns amounts lent.

    Each applicant draws a bank and gets its PD estimate; those within the bank's
    PD limit (raised by the relending push) get a product menu (:func:`_offer`).
    """
    granted = np.zeros(len(rows))
    if len(rows) == 0:
        return granted
    model.acc.add("loan_applications", rows, 1.0)
    bank = model.pick_banks(model.population.column("region")[rows], rows=rows)
    bank_safe = np.maximum(bank, 0)
    pd = estimated_pd(model, rows, noise_sd(model, model.bank_research[bank_safe]))
    push = model.relending_push[bank_safe]
    # the others are turned down whatever they ask for, so no menu is worked out for them
    considered = np.flatnonzero((bank >= 0) & (pd <= model.params.banks.max_pd * (1.0 + push)))
    if len(considered):
        granted[considered] = _offer(model, rows[considered], need[considered], bank[considered], pd[considered], push[considered])
    return granted


def _offer(model: InnovationEconomy, rows: np.ndarray, need: np.ndarray, bank: np.ndarray, pd: np.ndarray,
           push: np.ndarray) -> np.ndarray:
    """Product menu, pricing, choice, capital rationing and booking for applicants ``rows`` with banks ``bank``
    (all lending in their region), PD estimates ``pd`` within the bank's limit and relending push ``push``;
    returns the amounts lent (RMB per real firm)."""
    params = model.params
    n = len(rows)
    granted = np.zeros(n)
    pop = model.population
    bp = params.banks
    region = pop.column("region")[rows]
    stage = pop.column("stage")[rows]

    # --- product menu (one row per product, one column per applicant): amount, gross LGD,
    # bank's share of loss, extra cost, appetite ---
    P = len(CHANNELS)
    amount = np.zeros((P, n))
    lgd = np.zeros(P)
    bank_share = np.ones(P)
    appetite = np.ones(P)  # multiplier on the bank's loss threshold
    w = params.credit.tech_flow_weight

    tangible = pop.column("tangible")[rows]
    revenue = pop.column("revenue")[rows]
    receivable = pop.column("receivable")[rows]
    # debt capacity: revenue-based limit plus pledgeable assets, less existing debt
    ip = params.ip
    ip_value = pop.column("patents")[rows] * ip.value_per_patent_rmb * (ip.protection / 0.6)
    capacity = (bp.max_debt_to_revenue * 4.0 * revenue + bp.collateral_haircut * tangible
                + ip.pledge_ltv * ip_value + 4.0 * receivable - pop.column("debt")[rows])
    # the credit registry shows arrears: no new loan to a firm behind on its payments
    requested = np.where(pop.column("arrears_q")[rows] > 0, 0.0, need)
    need = np.minimum(requested, np.maximum(capacity, 0.0))
    np.minimum(need, bp.collateral_haircut * tangible, out=amount[COLLATERAL])
    lgd[COLLATERAL] = bp.lgd_collateral

    knowledge = pop.column("knowledge")[rows]
    np.minimum(need, 2.0 * revenue + w * 0.5 * knowledge, out=amount[CREDIT])
    lgd[CREDIT] = bp.lgd_unsecured
    appetite[CREDIT] = 0.5 + 0.5 * w

    np.minimum(need, ip.pledge_ltv * ip_value, out=amount[IP_PLEDGE])
    lgd[IP_PLEDGE] = np.clip(1.0 - ip.recovery_on_disposal * ip.protection / 0.6, 0.05, 0.98)
    term_years = max(bp.loan_term_quarters / 4.0, 3.0)  # appraisal spread over a loan and its renewals
    ip_amount = amount[IP_PLEDGE]
    ip_extra = np.where(ip_amount > 0, ip.appraisal_cost * ip_value / np.maximum(ip_amount, 1.0) / term_years, 0.0)
    appetite[IP_PLEDGE] = (0.5 + 0.5 * w) * (0.5 + ip.protection)

    sc = params.supply_chain
    if sc.enabled:
        anchor = pop.column("anchor")[rows]
        ok = (anchor >= 0) & pop.column("anchor_covered")[np.maximum(anchor, 0)]
        amount[SUPPLY_CHAIN] = np.where(ok, np.minimum(need, sc.advance_rate * 4.0 * receivable), 0.0)
        lgd[SUPPLY_CHAIN] = 0.4
        appetite[SUPPLY_CHAIN] = 2.5  # risk rests largely on the anchor firm

    project = pop.column("project")[rows] & (stage >= Stage.GROWTH)
    amount[PROJECT] = np.where(project, np.minimum(need, 3.0 * revenue + 0.5 * tangible), 0.0)
    lgd[PROJECT] = 0.45

    lk = params.linkage
    if lk.enabled:
        eligible = (stage == Stage.GROWTH) | ((stage == Stage.EARLY) & pop.column("vc_backed")[rows])
        # venture-debt style: the equity stake lets the bank lend against part of the valuation
        valuation_room = np.maximum(capacity, 0.0) + lk.valuation_ltv * pop.column("post_money")[rows]
        amount[LINKAGE] = np.where(eligible, np.minimum(requested, valuation_room), 0.0)
        lgd[LINKAGE] = bp.lgd_unsecured * (1.0 - lk.pd_relief)
        appetite[LINKAGE] = 0.8 + 0.4 * w  # equity upside lets banks take more risk

    g = params.guarantee
    guarantee_fee = 0.0
    if g.enabled:
        capital_ok = model.guarantee_capital_ok[region]
        eligible = (stage <= Stage.GROWTH) & capital_ok & (pd <= g.max_pd)
        amount[GUARANTEED] = np.where(eligible, np.minimum(need, g.cap_per_firm_rmb), 0.0)
        lgd[GUARANTEED] = bp.lgd_unsecured
        bank_share[GUARANTEED] = g.bank_share
        guarantee_fee = g.fee

    # --- risk pool and credit insurance lower the bank's share of losses ---
    pool_stage = np.zeros(len(Stage), dtype=bool)
    pool_stage[list(params.risk_pool.eligible_stages)] = True
    region_pool = model.pool_ok[region]
    pool_ok = pool_stage[stage] & region_pool
    pool_share = np.where(pool_ok, params.risk_pool.share, 0.0)
    share = np.multiply.outer(bank_share, 1.0 - pool_share)
    # pools also cover IP pledge loans at every stage (e.g. Anhui's +5 pp for IP loans, §7.2)
    ip_pool = region_pool & ~pool_ok
    share[IP_PLEDGE] *= np.where(ip_pool, 1.0 - params.risk_pool.share, 1.0)
    insured = params.insurance.credit_enabled & (stage <= Stage.EARLY)
    ins_cover = np.where(insured, params.insurance.credit_coverage, 0.0)
    unsecured = np.zeros(P, dtype=bool)
    unsecured[[CREDIT, IP_PLEDGE, LINKAGE]] = True
    share[unsecured] *= 1.0 - ins_cover
    ins_cost = np.where(insured, params.insurance.credit_premium_rate * ins_cover / max(params.insurance.credit_coverage, 1e-9), 0.0)

    expected_loss = np.multiply.outer(lgd, pd)
    expected_loss *= share
    threshold = np.multiply.outer(bp.max_expected_loss * appetite, 1.0 + push)
    approved = (amount > 1.0) & (expected_loss <= threshold)

    # --- pricing ---
    rel = params.relending
    relend_ok = model.bank_relending_eligible[bank] & (model.relending_room() > 0) & model.relending.worth_drawing()
    benefit = np.where(relend_ok, rel.refinanced_share * max(bp.funding_cost - rel.rate, 0.0) * rel.pass_through, 0.0)
    base = bp.funding_cost + bp.operating_cost + bp.capital_charge
    bank_rate = base + expected_loss
    bank_rate[unsecured] += ins_cost
    bank_rate -= benefit
    np.maximum(bank_rate, bp.funding_cost + 0.003, out=bank_rate)
    relend_loan = np.broadcast_to(relend_ok, (P, n))
    if rel.loan_rate_cap is not None:
        over = bank_rate > rel.loan_rate_cap
        relend_loan = relend_loan & ~over
        bank_rate = np.where(over, bank_rate + benefit, bank_rate)
    subsidy = np.where(relend_loan, rel.interest_subsidy_pp, 0.0)
    effective = bank_rate.copy()
    effective[IP_PLEDGE] += ip_extra
    if guarantee_fee:
        effective[GUARANTEED] += guarantee_fee
    effective -= subsidy
    max_rate = np.asarray(params.firms.max_loan_rate_by_stage)[stage]
    acceptable = approved & (effective <= max_rate)

    score = amount / np.maximum(need, 1.0)
    score -= 5.0 * effective
    score[~acceptable] = -np.inf
    choice = np.argmax(score, axis=0)
    idx = np.arange(n)
    takes = np.isfinite(score[choice, idx])
    chosen_amount = np.where(takes, amount[choice, idx], 0.0)

    # --- capital constraint, first come first served in random order ---
    u = model.uniform("order", rows)
    capacity = model.bank_capacity()
    takers = np.flatnonzero(takes)
    queue = takers[stable_argsort(u[takers])]  # the takers in random order
    by_bank = queue[group_order(bank[queue])]  # grouped by bank, random order within
    banks, starts = np.unique(bank[by_bank], return_index=True)
    ok = takes.copy()
    for b, start, end in zip(banks.tolist(), starts.tolist(), [*starts[1:].tolist(), len(by_bank)]):
        members = by_bank[start:end]
        cum = np.cumsum(chosen_amount[members]) * model.scale
        ok[members[cum > capacity[b]]] = False
    takes &= ok
    sel = np.flatnonzero(takes)
    if len(sel) == 0:
        return granted
    ch = choice[sel]
    amt = chosen_amount[sel]
    granted[sel] = amt

    # --- relending refinancing within the quota (first-loan earmark first) ---
    first = ~pop.column("ever_borrowed")[rows[sel]]
    wants = relend_loan[ch, sel]
    position = np.empty(n, dtype=np.int64)
    position[sel] = np.arange(len(sel))
    refinanced, from_earmark = model.relending.allocate(amt * rel.refinanced_share, wants, first, order=position[queue[takes[queue]]])
    lost = wants & (refinanced <= 0)
    rate_final = bank_rate[ch, sel] + np.where(lost, benefit[sel], 0.0)
    subsidy_final = np.where(refinanced > 0, subsidy[ch, sel], 0.0)

    book_new_loans(
        model, rows[sel], bank[sel], ch, amt, rate_final, lgd[ch], refinanced, from_earmark, subsidy_final,
        guaranteed=ch == GUARANTEED, pool=pool_ok[sel] | ((ch == IP_PLEDGE) & model.pool_ok[region[sel]]), insured=insured[sel] & unsecured[ch],
    )
    return granted


def book_new_loans(model, firms, bank, channel, amount, rate, lgd, refinanced, from_earmark, subsidy_pp, guaranteed, pool, insured) -> None:
    """Record new loans (``from_earmark``: refinanced from the first-loan sub-quota), move the money, and run the side contracts (linkage equity, appraisal, relending)."""
    params = model.params
    book = model.loans
    q = model.quarter_index
    book.append(
        len(firms), firm=firms, bank=bank, region=model.population.column("region")[firms], channel=channel,
        principal=amount, outstanding=amount, rate=rate, lgd=lgd, start_q=q, term=params.banks.loan_term_quarters,
        refinanced=refinanced, first_loan=from_earmark, subsidy_pp=subsidy_pp,
        subsidy_until=q + params.relending.subsidy_quarters, guaranteed=guaranteed, pool=pool, insured=insured,
        npl=False, open=True,
    )
    pop = model.population
    pop.column("debt")[firms] += amount
    pop.column("ever_borrowed")[firms] = True
    accounts = model.bank_accounts[bank]
    model.ledger.pay_firms(accounts, firms, amount, "loan_disbursement")
    model.bank_add("loans_rmb", bank, amount * model.scale)
    model.bank_add("new_loans_rmb", bank, amount * model.scale)
    if (refinanced > 0).any():
        model.relending.disburse(bank, refinanced)
    ip_rows = channel == IP_PLEDGE
    if ip_rows.any():
        ip = params.ip
        value = pop.column("patents")[firms[ip_rows]] * ip.value_per_patent_rmb * (ip.protection / 0.6)
        model.ledger.firms_pay(firms[ip_rows], ip.appraisal_cost * value, model.households, "ip_appraisal_fee")
    link = channel == LINKAGE
    if link.any():
        model.equity.bank_linkage_investment(firms[link], bank[link], amount[link] * params.linkage.equity_per_loan)
    model.acc.add("loans_granted", firms, 1.0)
    stage = pop.column("stage")[firms]
    model.acc.add_money("new_loans_early_rmb", firms[stage <= Stage.EARLY], amount[stage <= Stage.EARLY])
    model.acc.add_money("new_loans_growth_rmb", firms[stage == Stage.GROWTH], amount[stage == Stage.GROWTH])
    supported = guaranteed | pool | (refinanced > 0)
    private = amount * (1.0 - np.where(refinanced > 0, params.relending.refinanced_share, 0.0))
    model.acc.add_money("private_mobilised_rmb", firms[supported], private[supported])
    model.acc.add_money("new_loans_rmb", firms, amount)
    model.acc.add_money("rate_x_amount", firms, amount * (rate - subsidy_pp))
    model.acc.add_channel(channel, firms, amount)
    model.events.log(model, "loan", firms, amount, counterparty=bank, detail=channel)
    model.acc.add_money("relending_new_rmb", firms, refinanced)
    model.acc.add_money("eligible_rate_x_amount", firms[refinanced > 0], amount[refinanced > 0] * (rate[refinanced > 0] - subsidy_pp[refinanced > 0]))
    model.acc.add_money("eligible_amount", firms[refinanced > 0], amount[refinanced > 0])


def service(model: InnovationEconomy) -> np.ndarray:
    """Interest, principal, fees and subsidies for open loans; returns rows of firms now in default."""
    params = model.params
    book = model.loans
    if book.n == 0:
        return np.empty(0, dtype=np.int64)
    ledger = model.ledger
    pop = model.population
    q = model.quarter_index
    live = book.open_rows()
    firm = book.column("firm")[live]
    out = book.column("outstanding")[live].copy()  # the balances before this quarter's repayments
    interest = out * book.column("rate")[live] / 4.0
    maturing = np.flatnonzero(book.column("start_q")[live] + book.column("term")[live] <= q + 1)  # positions in live
    fee = np.where(book.column("guaranteed")[live], out * params.guarantee.fee / 4.0, 0.0)
    subsidised = book.column("subsidy_until")[live] > q
    subsidy = np.where(subsidised, out * book.column("subsidy_pp")[live] / 4.0, 0.0)
    if subsidy.any():
        has = subsidy > 0
        subsidised_firms, subsidy_paid = firm[has], subsidy[has]
        paid = ledger.pay_firms(model.national_account, subsidised_firms, subsidy_paid, "interest_subsidy")
        model.national.spent_rmb += paid
        model.acc.add_money("fiscal_cost_rmb", subsidised_firms, subsidy_paid)
        model.acc.add_money("interest_subsidy_rmb", subsidised_firms, subsidy_paid)

    cash = np.maximum(pop.column("cash"), 0.0)
    # interest and fees first
    carrying = interest + fee
    firm_carry = np.bincount(firm, weights=carrying, minlength=pop.n)
    carry_ratio = np.where(firm_carry > 0, np.minimum(1.0, cash / np.maximum(firm_carry, 1e-9)), 1.0)[firm]
    # then principal of maturing loans, from the cash left; renewal without repayment for firms current on interest
    maturing_firm = firm[maturing]
    due = out[maturing]
    firm_principal = np.bincount(maturing_firm, weights=due, minlength=pop.n)[maturing_firm]
    cash_left = np.maximum(cash[maturing_firm] - firm_carry[maturing_firm], 0.0)
    principal_ratio = np.where(firm_principal > 0, np.minimum(1.0, cash_left / np.maximum(firm_principal, 1e-9)), 1.0)
    current = carry_ratio[maturing] >= 1.0
    rollover = current & (model.uniform("rollover", maturing_firm) < params.banks.rollover_probability)
    renew = rollover | ((principal_ratio < 1.0) & current & params.banks.renewal_without_repayment)
    book.column("start_q")[book.rows_at(live, maturing[renew])] = q + 1
    repaying = maturing[~renew]
    repaying_firm = firm[repaying]
    repaid_share = principal_ratio[~renew]
    paid_principal = out[repaying] * repaid_share
    ratio = carry_ratio.copy()  # share of what was due that the firm paid
    owed = out[repaying] > 0
    ratio[repaying[owed]] = np.minimum(carry_ratio[repaying[owed]], repaid_share[owed])
    bank = book.column("bank")[live]
    accounts = model.bank_accounts[bank]
    paid_interest = interest * carry_ratio
    paid_fee = fee * carry_ratio
    ledger.firms_pay(firm, paid_interest, accounts, "loan_interest")
    ledger.firms_pay(repaying_firm, paid_principal, accounts[repaying], "loan_repayment")
    if fee.any():
        has = fee > 0
        gov = model.region_gov_accounts[book.column("region")[book.rows_where(live, has)]]
        ledger.firms_pay(firm[has], paid_fee[has], gov, "guarantee_fee")
        model.acc.add_money("fiscal_cost_rmb", firm[has], -paid_fee[has])
    model.bank_income(bank, paid_interest * model.scale)
    model.bank_add("loans_rmb", bank[repaying], -paid_principal * model.scale)
    repaying_rows = book.rows_at(live, repaying)
    book.column("outstanding")[repaying_rows] = out[repaying] - paid_principal
    pop.column("debt")[:] -= np.bincount(repaying_firm, weights=paid_principal, minlength=pop.n)
    model.relending.repay_with_principal(repaying_rows, paid_principal, out[repaying])
    model.acc.add("loans_renewed", maturing_firm[renew], 1.0)

    short = ratio < 1.0 - 1e-12
    book.column("npl")[live] = short
    firm_short = np.zeros(pop.n, dtype=bool)
    firm_short[firm[short]] = True
    arrears = pop.column("arrears_q")
    owing = np.zeros(pop.n, dtype=bool)
    owing[firm] = True
    arrears[owing & firm_short] += 1
    arrears[owing & ~firm_short] = 0
    done = book.column("outstanding")[live] <= 1e-6
    book.column("open")[book.rows_where(live, done)] = False
    return np.flatnonzero(owing & (arrears >= params.banks.default_after_quarters) & pop.column("alive"))


def default_firms(model: InnovationEconomy, firms: np.ndarray) -> None:
    """Loss waterfall for all open loans of ``firms``: firm cash → collateral/IP → guarantee
    (risk split) → credit insurance → risk-compensation pool → bank capital."""
    if len(firms) == 0:
        return
    params = model.params
    book = model.loans
    ledger = model.ledger
    pop = model.population
    scale = model.scale
    mask = np.zeros(pop.n, dtype=bool)
    mask[firms] = True
    live = np.flatnonzero(book.column("open") & mask[book.column("firm")] if book.n else np.zeros(0, dtype=bool))
    if len(live) == 0:
        return
    firm = book.column("firm")[live]
    bank = book.column("bank")[live]
    region = book.column("region")[live]
    out = book.column("outstanding")[live].copy()
    accounts = model.bank_accounts[bank]
    # 1. the firm's remaining cash, pro rata to its loans
    firm_out = np.bincount(firm, weights=out, minlength=pop.n)
    cash = np.maximum(pop.column("cash"), 0.0)
    share = np.where(firm_out[firm] > 0, out / firm_out[firm], 0.0)
    from_cash = np.minimum(out, share * cash[firm])
    ledger.firms_pay(firm, from_cash, accounts, "default_recovery_cash")
    remaining = out - from_cash
    # 2. disposal of collateral / pledged IP (bought by households)
    recovery = remaining * (1.0 - book.column("lgd")[live])
    loss = remaining - recovery
    # 3. guarantee split
    g = params.guarantee
    guaranteed = book.column("guaranteed")[live]
    regional_part = np.where(guaranteed, loss * (g.guarantor_share + g.reguarantor_share), 0.0)
    national_part = np.where(guaranteed, loss * g.national_share, 0.0)
    loss_after_g = loss - regional_part - national_part
    # 4. credit insurance
    insured = book.column("insured")[live]
    insurance_part = np.where(insured, loss_after_g * params.insurance.credit_coverage, 0.0)
    loss_after_i = loss_after_g - insurance_part
    # 5. risk-compensation pool (limited by each region's pool balance)
    pool_part = np.where(book.column("pool")[live], loss_after_i * params.risk_pool.share, 0.0)
    pool_part = model.draw_pools(region, pool_part)
    bank_loss = loss_after_i - pool_part

    _pay_banks(model, model.households, accounts, recovery * scale, "collateral_recovery")
    gov_accounts = model.region_gov_accounts[region]
    _pay_banks(model, gov_accounts, accounts, regional_part * scale, "guarantee_payout")
    _pay_banks(model, model.national_account, accounts, national_part * scale, "guarantee_payout_national")
    _pay_banks(model, model.insurer_account, accounts, insurance_part * scale, "credit_insurance_claim")
    _pay_banks(model, gov_accounts, accounts, pool_part * scale, "risk_pool_payout")
    model.insurer.claims_rmb += float(insurance_part.sum() * scale)
    model.insurer.equity_rmb -= float(insurance_part.sum() * scale)
    model.spend_guarantee_capital(region, regional_part * scale)
    model.national.spent_rmb += float(national_part.sum() * scale)
    model.acc.add_money("guarantee_payouts_rmb", firm, regional_part + national_part)
    model.acc.add_money("risk_pool_payouts_rmb", firm, pool_part)
    model.acc.add_money("insurance_claims_rmb", firm, insurance_part)
    model.acc.add_money("fiscal_cost_rmb", firm, regional_part + national_part + pool_part)
    model.acc.add_money("defaulted_rmb", firm, remaining)
    model.acc.add_money("bank_losses_rmb", firm, bank_loss)

    model.bank_add("loans_rmb", bank, -out * scale)
    model.bank_add("equity_rmb", bank, -bank_loss * scale)
    model.bank_add("write_offs_rmb", bank, bank_loss * scale)
    model.relending.repay_loans(live)
    book.column("outstanding")[live] = 0.0
    book.column("open")[live] = False
    pop.column("debt")[firms] = 0.0
    model.events.log(model, "default", firm, out, counterparty=bank, detail=book.column("channel")[live])


def repay_on_exit(model: InnovationEconomy, firms: np.ndarray, payer: int) -> None:
    """At an IPO or acquisition the new owners (``payer``) repay the firm's loans in full."""
    book = model.loans
    if len(firms) == 0 or book.n == 0:
        return
    pop = model.population
    mask = np.zeros(pop.n, dtype=bool)
    mask[firms] = True
    live = np.flatnonzero(book.column("open") & mask[book.column("firm")])
    if len(live) == 0:
        return
    firm = book.column("firm")[live]
    bank = book.column("bank")[live]
    out = book.column("outstanding")[live].copy()
    model.ledger.pay_firms(payer, firm, out, "exit_refinancing")
    model.ledger.firms_pay(firm, out, model.bank_accounts[bank], "loan_repayment")
    model.bank_add("loans_rmb", bank, -out * model.scale)
    model.relending.repay_loans(live)
    book.column("outstanding")[live] = 0.0
    book.column("open")[live] = False
    pop.column("debt")[firms] = 0.0


def _pay_banks(model, src, bank_accounts, amounts_rmb, kind) -> None:
    """Many payments to banks from one account or one account per payment (RMB)."""
    positive = amounts_rmb > 0
    if not positive.any():
        return
    src = np.broadcast_to(np.asarray(src, dtype=np.int64), amounts_rmb.shape)[positive]
    dst = bank_accounts[positive].astype(np.int64)
    values = amounts_rmb[positive]
    # one transfer per (payer, bank) pair, in the order the pairs first occur; bincount adds each
    # pair's payments in order, as a running sum would
    accounts = len(model.ledger.balance)
    pairs, first, inverse = np.unique(src * accounts + dst, return_index=True, return_inverse=True)
    totals = np.bincount(inverse, weights=values, minlength=len(pairs))
    for g in np.argsort(first).tolist():
        model.ledger.transfer(int(pairs[g] // accounts), int(pairs[g] % accounts), float(totals[g]), kind)
