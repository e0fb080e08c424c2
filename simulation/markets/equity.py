"""Equity: venture rounds, guidance-fund co-investment, bank linkage stakes, exits and fund lifecycles."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.firm import ExitKind, Stage
from simulation.agents.venture import FundKind, VentureFund
from simulation.columns import Columns

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy

HOLDER_FUND, HOLDER_BANK = 0, 1
_FUND_BOOKS = operator.attrgetter("paid_in_rmb", "invested_rmb", "fees_rmb", "proceeds_rmb", "distributed_rmb")
STAKE_COLUMNS = {"holder_kind": np.int8, "holder": np.int32, "firm": np.int64, "share": np.float64, "cost": np.float64, "open": np.bool_}
ROUND_NAMES = ("seed", "A", "B", "C+")


class EquityMarket:
    """Stakes of funds and banks in firms, and the funds themselves."""

    def __init__(self, model: InnovationEconomy):
        self.model = model
        self.stakes = Columns(STAKE_COLUMNS, 4096)
        self.funds: list[VentureFund] = []
        self.outcomes: list[tuple[float, float]] = []  # (cost, proceeds) of closed fund stakes, RMB per real firm

    # -- funds ------------------------------------------------------------
    def raise_fund(self, name: str, kind: FundKind, region: int | None, committed_rmb: float, life_years: int,
                   invest_years: float, lp_account: int, public_share: float = 0.0, vintage: int | None = None) -> VentureFund:
        model = self.model
        account = model.ledger.open(name, "venture_funds", region)
        fund = VentureFund(model, name, kind, region, model.quarter_index if vintage is None else vintage,
                           committed_rmb, life_years * 4, round(invest_years * 4), lp_account, account)
        fund.public_share = public_share
        fund.index = len(self.funds)
        self.funds.append(fund)
        return fund

    def initial_funds(self) -> None:
        """Existing market funds (two years of fundraising as dry powder) and the guidance funds."""
        model = self.model
        p = model.params
        vc = p.vc
        g = p.guidance
        for r, name in enumerate(model.region_names):
            share = model.region_param("vc_share")[r]
            for k in range(vc.funds_per_region):
                self.raise_fund(f"{name} VC fund {k + 1}", FundKind.MARKET, r, 2.5 * vc.fundraising_annual_rmb * share / vc.funds_per_region,
                                vc.fund_life_years, 5.0, model.households, vintage=-int(model.streams["init"].integers(0, 8)))
        centers = [r for r, name in enumerate(model.region_names) if p.regions[name].is_center]
        for r in centers:
            name = model.region_names[r]
            self.raise_fund(f"National VC Guidance Fund ({name})", FundKind.GUIDANCE_NATIONAL, r, g.national_fund_rmb / len(centers),
                            g.life_years, g.deploy_years, model.national_account, public_share=g.national_public_share)
        for r, name in enumerate(model.region_names):
            weight = model.region_firm_weights[r]
            self.raise_fund(f"{name} regional guidance fund", FundKind.GUIDANCE_REGIONAL, r, g.regional_fund_rmb * weight,
                            g.life_years, g.deploy_years, int(model.region_gov_accounts[r]), public_share=g.regional_public_share)

    def new_funds(self) -> None:
        """This quarter's fundraising: one new market fund per region (fundraising shocks apply)."""
        model = self.model
        vc = model.params.vc
        amount = vc.fundraising_annual_rmb / 4.0 * (1.0 + vc.fundraising_shock)
        for r, name in enumerate(model.region_names):
            committed = amount * model.region_param("vc_share")[r]
            if committed > 0:
                self.raise_fund(f"{name} VC fund {model.quarter_label}", FundKind.MARKET, r, committed, vc.fund_life_years, 5.0, model.households)

    def _call(self, fund: VentureFund, amount_rmb: float) -> None:
        """Capital call: LPs pay in (guidance funds: the public share from government, the rest private)."""
        ledger = self.model.ledger
        public = amount_rmb * getattr(fund, "public_share", 0.0)
        private = amount_rmb - public
        if public > 0:
            ledger.transfer(fund.lp_account, fund.account, public, "capital_call_public")
            self.model.fiscal_outlay(fund.region, public)
        if private > 0:
            ledger.transfer(self.model.households, fund.account, private, "capital_call_private")
        fund.paid_in_rmb += amount_rmb
        fund.book_flow(-amount_rmb)

    def _distribute(self, fund: VentureFund, amount_rmb: float) -> None:
        ledger = self.model.ledger
        public = amount_rmb * getattr(fund, "public_share", 0.0)
        if public > 0:
            ledger.transfer(fund.account, fund.lp_account, public, "distribution_public")
            self.model.fiscal_outlay(fund.region, -public)
        if amount_rmb - public > 0:
            ledger.transfer(fund.account, self.model.households, amount_rmb - public, "distribution_private")
        fund.distributed_rmb += amount_rmb
        fund.book_flow(amount_rmb)

    def charge_fees(self) -> None:
        """Management fees of the market funds: called from their LPs and paid out to the managers (households)."""
        model = self.model
        paying: list[VentureFund] = []
        fees: list[float] = []
        for fund in self.funds:
            if fund.closed or fund.kind != FundKind.MARKET:
                continue
            fee = fund.committed_rmb * model.params.vc.management_fee / 4.0
            fee = min(fee, fund.dry_powder_rmb) if model.quarter_index - fund.vintage < fund.invest_quarters else fee * 0.5
            if fee > 0:
                paying.append(fund)
                fees.append(fee)
        if any(getattr(fund, "public_share", 0.0) for fund in paying):
            for fund, fee in zip(paying, fees):  # public LP money: the capital calls go through _call one by one
                self._call(fund, fee)
                model.ledger.transfer(fund.account, model.households, fee, "management_fee")
                fund.fees_rmb += fee
            return
        # private LPs only: each fee is a capital call from households and a payment back to them
        model.ledger.round_trips(model.households, [fund.account for fund in paying], fees, "capital_call_private", "management_fee")
        for fund, fee in zip(paying, fees):
            fund.paid_in_rmb += fee
            fund.book_flow(-fee)
            fund.fees_rmb += fee

    # -- rounds -----------------------------------------------------------
    def rounds(self, rows: np.ndarray, need: np.ndarray) -> np.ndarray:
        """VC rounds for applicants in seed/early/growth; returns equity raised per applicant."""
        model = self.model
        p = model.params
        vc, g = p.vc, p.guidance
        raised = np.zeros(len(rows))
        pop = model.population
        stage = pop.column("stage")[rows]
        eligible = np.flatnonzero(stage <= Stage.GROWTH)
        if len(eligible) == 0:
            return raised
        cand = rows[eligible]
        signal = pop.column("quality")[cand] + vc.screening_noise * model.normal("vc", cand)
        floor = vc.min_signal - g.signal_discount
        keep = signal >= floor
        eligible, cand, signal = eligible[keep], cand[keep], signal[keep]
        q = model.quarter_index
        mix = np.asarray(vc.stage_mix, dtype=float) / max(sum(vc.stage_mix), 1e-12)
        guidance_mix = np.array([g.early_share / 2, g.early_share / 2, (1 - g.early_share) / 2, (1 - g.early_share) / 2])
        budgets: dict[int, np.ndarray] = {}
        for fund in self.funds:
            if fund.investing(q):
                left = max(1, fund.invest_quarters - (q - fund.vintage))
                pace = 1.0 / (1.0 + 0.25 * g.reinvestment_requirement) if fund.kind == FundKind.GUIDANCE_REGIONAL else 1.0
                split = mix if fund.kind == FundKind.MARKET else guidance_mix
                budgets[fund.index] = fund.dry_powder_rmb / left * pace * split
        rounds_done = pop.column("rounds")[cand]
        stage_c = pop.column("stage")[cand]
        round_idx = np.where(stage_c == Stage.SEED, 0, np.where(stage_c == Stage.EARLY, 1, np.where(rounds_done >= 2, 3, 2)))
        # below the market threshold only guidance funds invest, and only in seed/early rounds
        fundable = (signal >= vc.min_signal) | (round_idx <= 1)
        eligible, cand, signal, round_idx = eligible[fundable], cand[fundable], signal[fundable], round_idx[fundable]
        region = pop.column("region")[cand]
        size = np.asarray(vc.deal_size_rmb)[round_idx] * np.exp(0.5 * model.normal("vc_size", cand))
        pre = size * np.asarray(vc.pre_money_multiple)[round_idx] * np.exp(0.4 * signal)
        investing = [f for f in self.funds if f.index in budgets]
        deals: list[tuple[np.ndarray, ...]] = []
        # groups of one region and round type, best signals first (ties in applicant order)
        key = region.astype(np.int64) * 4 + round_idx
        ordered = np.lexsort((-signal, key))
        keys, starts = np.unique(key[ordered], return_index=True)
        pools: dict[int, tuple] = {}
        for key_value, start, end in zip(keys.tolist(), starts.tolist(), [*starts[1:].tolist(), len(ordered)]):
            r, k = divmod(key_value, 4)
            if r not in pools:
                pools[r] = tuple(_FundPool([f for f in investing if (f.kind == FundKind.MARKET) == market and f.region == r], budgets)
                                 for market in (True, False))
            market, guidance = pools[r]
            if market.funds or guidance.funds:
                self._match_group(ordered[start:end], k, market, guidance, signal, size, cand, deals, raised, eligible)
        pre_of = np.empty(pop.n)
        pre_of[cand] = pre
        self._book_deals(deals, pre_of)
        return raised

    def _match_group(self, group, k, market, guidance, signal, size, cand, deals, raised, eligible) -> None:
        """Rounds of one region and round type, best signals first, within the funds' budgets.

        Market funds (``market``) lead rounds of firms above ``vc.min_signal`` while their
        pooled budget lasts; guidance funds (``guidance``) co-invest a share of each round,
        and alone back seed/early firms just below the threshold (patient capital). Each
        round goes to the fund whose slice of the pooled budget its position falls in.
        Appends the deals as arrays (fund index, firm row, amount, round, with guidance).
        """
        model = self.model
        vc, g = model.params.vc, model.params.guidance
        scale = model.scale
        market_room = market.budgets[:, k] / scale
        guidance_room = guidance.budgets[:, k] / scale
        guidance_total = guidance_room.sum()
        amount = size[group]
        g_part = np.minimum(amount * g.coinvest_share, g.max_deal_rmb) if guidance.funds else np.zeros(len(group))
        # market-led rounds
        led = signal[group] >= vc.min_signal
        # guidance co-investment in led rounds, while the guidance budget lasts
        g_co = _fill(np.where(led, g_part, 0.0), guidance_total)
        m_part = _fill(np.where(led, amount - g_co, 0.0), market_room.sum())
        m_funded = m_part > 0
        g_co = np.where(m_funded, g_co, 0.0)
        g_alone = np.zeros(len(group))
        if k <= 1 and guidance.funds:
            # guidance-only rounds for seed/early firms the market does not fund
            want = np.where(~m_funded, np.minimum(amount, g.max_deal_rmb), 0.0)
            g_alone = _fill(want, guidance_total - g_co.sum())
        with_guidance = (g_co > 0) | (g_alone > 0)
        for pool, room, part in ((market, market_room, m_part), (guidance, guidance_room, g_co + g_alone)):
            hit = np.flatnonzero(part > 0)
            if len(hit) == 0:
                continue
            edges = np.cumsum(room)
            position = np.cumsum(part[hit]) - 0.5 * part[hit]
            owner = np.minimum(np.searchsorted(edges, position, side="right"), len(pool.funds) - 1)
            deals.append((pool.index[owner], cand[group[hit]].astype(np.int64), part[hit], np.full(len(hit), k, dtype=np.int64), with_guidance[hit]))
        raised[eligible[group]] = m_part + g_co + g_alone

    def _book_deals(self, deals: list[tuple[np.ndarray, ...]], pre_of: np.ndarray) -> None:
        """Book the quarter's rounds: capital calls, payments, dilution, stakes and metrics (batched per fund).

        ``pre_of``: pre-money valuation by population row (read for the firms with deals).
        """
        if not deals:
            return
        model = self.model
        pop = model.population
        scale = model.scale
        fund_of, deal_firm, deal_amount, deal_round, with_guidance = (np.concatenate(column) for column in zip(*deals))
        firms, inverse = np.unique(deal_firm, return_inverse=True)
        totals = np.bincount(inverse, weights=deal_amount)
        pre = pre_of[firms]
        post = pre + totals
        self._dilute(firms, pre / post)
        by_fund = np.argsort(fund_of, kind="stable")
        fund_ids, starts, counts = np.unique(fund_of[by_fund], return_index=True, return_counts=True)
        for index, start, count in zip(fund_ids.tolist(), starts.tolist(), counts.tolist()):
            fund = self.funds[index]
            mine = by_fund[start : start + count]  # this fund's deals in booking order
            amounts = deal_amount[mine]
            self._call(fund, float(amounts.sum()) * scale)
            model.ledger.pay_firms(fund.account, deal_firm[mine], amounts, "vc_investment")
            fund.invested_rmb += float(amounts.sum()) * scale
            fund.deals += count
        is_market = np.array([f.kind == FundKind.MARKET for f in self.funds])[fund_of]
        for channel, mask in (("vc_equity", is_market), ("guidance_fund_equity", ~is_market)):
            if mask.any():
                model.acc.add_channel_name(channel, deal_firm[mask], deal_amount[mask])
        for k, name in enumerate(ROUND_NAMES):
            mask = deal_round == k
            if mask.any():
                model.acc.add_money(f"vc_invested_{name.replace('+', 'plus')}_rmb", deal_firm[mask], deal_amount[mask])
        # private money mobilised by guidance funds: co-investing market funds and private LPs of guidance funds
        public_share = np.array([getattr(f, "public_share", 0.0) for f in self.funds])[fund_of]
        mobilised = np.where(is_market, deal_amount, deal_amount * (1.0 - public_share)) * with_guidance
        if mobilised.any():
            model.acc.add_money("private_mobilised_rmb", deal_firm, mobilised)
        self.stakes.append(len(deal_firm), holder_kind=HOLDER_FUND, holder=fund_of, firm=deal_firm,
                           share=deal_amount / post[inverse], cost=deal_amount, open=True)
        pop.column("post_money")[firms] = post
        pop.column("rounds")[firms] += 1
        pop.column("last_round_q")[firms] = model.quarter_index
        pop.column("vc_backed")[firms] = True
        pop.column("equity_raised")[firms] += totals
        model.acc.add("vc_deals", firms, 1.0)
        model.acc.add_money("vc_invested_rmb", firms, totals)
        model.events.log(model, "round", firms, totals, counterparty=np.full(len(firms), -1), detail=pop.column("rounds")[firms])

    def _dilute(self, firms: np.ndarray, factor: np.ndarray) -> None:
        if self.stakes.n == 0:
            return
        lookup = np.ones(self.model.population.n)
        lookup[firms] = factor
        open_ = self.stakes.column("open")
        self.stakes.column("share")[open_] *= lookup[self.stakes.column("firm")[open_]]

    def bank_linkage_investment(self, firms: np.ndarray, banks: np.ndarray, amount: np.ndarray) -> None:
        """A bank's investment arm buys equity alongside a linkage loan (warrant share on top)."""
        model = self.model
        pop = model.population
        post = np.maximum(pop.column("post_money")[firms], amount * 4.0)
        share = amount / (post + amount) + model.params.linkage.warrant_share
        self._dilute(firms, 1.0 - share)
        model.ledger.pay_firms(model.bank_accounts[banks], firms, amount, "linkage_equity")
        model.bank_add("stakes_cost_rmb", banks, amount * model.scale)
        self.stakes.append(len(firms), holder_kind=HOLDER_BANK, holder=banks, firm=firms, share=share, cost=amount, open=True)
        pop.column("equity_raised")[firms] += amount

    # -- exits ------------------------------------------------------------
    def exits(self, rows: np.ndarray) -> None:
        """IPOs (scaled by the IPO window) and acquisitions of growth and mature firms."""
        from simulation.lifecycle import mark_exit
        from simulation.markets.credit import repay_on_exit

        model = self.model
        p = model.params.vc
        pop = model.population
        stage = pop.column("stage")[rows]
        quality = pop.column("quality")[rows]
        candidates = np.flatnonzero(stage >= Stage.GROWTH)  # only growth and mature firms exit this way
        quality = quality[candidates]
        stage = stage[candidates]
        vc_backed = pop.column("vc_backed")[rows[candidates]]
        p_ipo = p.ipo_rate_quarterly * p.ipo_window * np.exp(0.6 * quality) * np.where(vc_backed, 1.0, 0.25) * np.where(stage == Stage.MATURE, 1.5, 0.6)
        p_ma = p.ma_rate_quarterly * p.ma_market * np.exp(0.3 * quality)
        draw = model.uniform("exits", rows)[candidates]
        ipo = draw < p_ipo
        ma = ~ipo & (draw < p_ipo + p_ma)
        shock = model.normal("exit_values", rows)[candidates]
        rows = rows[candidates]
        base = np.maximum(pop.column("post_money")[rows], 8.0 * pop.column("revenue")[rows])
        noise = np.exp(p.exit_value_sigma * shock + 0.5 * quality)
        for mask, multiple, kind in ((ipo, p.ipo_valuation_multiple, ExitKind.IPO), (ma, p.ma_valuation_multiple, ExitKind.ACQUISITION)):
            firms = rows[mask]
            if len(firms) == 0:
                continue
            value = base[mask] * multiple * noise[mask]
            repay_on_exit(model, firms, model.households)
            self._pay_out(firms, value, "ipo_proceeds" if kind == ExitKind.IPO else "acquisition_proceeds")
            model.events.log(model, "exit_ipo" if kind == ExitKind.IPO else "exit_ma", firms, value, counterparty=np.full(len(firms), -1), detail=pop.column("stage")[firms])
            model.close_firm_cash(firms, "owners_payout")
            mark_exit(model, firms, kind)

    def _pay_out(self, firms: np.ndarray, value: np.ndarray, kind: str) -> None:
        """Pay each open stake its share of the exit value (buyers: households / public markets)."""
        model = self.model
        stakes = self.stakes
        if stakes.n == 0:
            return
        value_by_firm = np.zeros(model.population.n)
        value_by_firm[firms] = value
        sel = np.flatnonzero(stakes.column("open") & (value_by_firm[stakes.column("firm")] > 0))
        proceeds = stakes.column("share")[sel] * value_by_firm[stakes.column("firm")[sel]]
        self._settle(sel, proceeds, kind)

    def write_off(self, firms: np.ndarray) -> None:
        """Failed firms: their stakes are worth nothing."""
        stakes = self.stakes
        if stakes.n == 0 or len(firms) == 0:
            return
        mask = np.zeros(self.model.population.n, dtype=bool)
        mask[firms] = True
        sel = np.flatnonzero(stakes.column("open") & mask[stakes.column("firm")])
        self._settle(sel, np.zeros(len(sel)), "write_off")

    def _settle(self, sel: np.ndarray, proceeds: np.ndarray, kind: str) -> None:
        model = self.model
        stakes = self.stakes
        scale = model.scale
        kinds = stakes.column("holder_kind")[sel]
        holders = stakes.column("holder")[sel]
        costs = stakes.column("cost")[sel]
        for j in range(len(sel)):
            amount = proceeds[j] * scale
            if kinds[j] == HOLDER_FUND:
                fund = self.funds[holders[j]]
                if amount > 0:
                    model.ledger.transfer(model.households, fund.account, amount, kind)
                    fund.proceeds_rmb += amount
                    self._distribute(fund, amount)
                self.outcomes.append((float(costs[j]), float(proceeds[j])))
            else:
                bank = model.banks[holders[j]]
                if amount > 0:
                    model.ledger.transfer(model.households, bank.account, amount, kind)
                bank.stakes_cost_rmb -= costs[j] * scale
                bank.equity_rmb += amount - costs[j] * scale
        stakes.column("open")[sel] = False
        if kind != "write_off":
            firms = stakes.column("firm")[sel]
            model.acc.add_money("vc_exit_proceeds_rmb", firms, proceeds * (kinds == HOLDER_FUND))

    def largest_fund_gap_rmb(self) -> float:
        """The largest absolute balance-sheet gap over the funds (:meth:`VentureFund.balance_sheet_gap_rmb`), RMB."""
        if not self.funds:
            return 0.0
        books = np.array(list(map(_FUND_BOOKS, self.funds)))
        paid_in, invested, fees, proceeds, distributed = books.T
        cash = self.model.ledger.balance[[f.account for f in self.funds]]
        gaps = cash - (paid_in - invested - fees + proceeds - distributed)
        return max((abs(gap) for gap in gaps.tolist()), default=0.0)

    # -- marks and lifecycle ----------------------------------------------
    def mark_and_close(self) -> None:
        """Mark stakes at last post-money, close funds at the end of their life."""
        model = self.model
        stakes = self.stakes
        pop = model.population
        q = model.quarter_index
        nav = np.zeros(len(self.funds))
        if stakes.n:
            open_ = stakes.column("open") & (stakes.column("holder_kind") == HOLDER_FUND)
            firms = stakes.column("firm")[open_]
            value = stakes.column("share")[open_] * pop.column("post_money")[firms] * model.scale
            nav = np.bincount(stakes.column("holder")[open_], weights=value, minlength=len(self.funds))
        for fund in self.funds:
            fund.nav_rmb = float(nav[fund.index])
            if not fund.closed and q - fund.vintage >= fund.life_quarters:
                self._liquidate(fund)
            fund.close_quarter()
        if stakes.n > 4 * max(1, int(stakes.column("open").sum())):
            stakes.keep(stakes.column("open"))

    def _liquidate(self, fund: VentureFund) -> None:
        """End of life: remaining stakes sold to secondary buyers at 70 % of their mark."""
        stakes = self.stakes
        sel = np.flatnonzero(stakes.column("open") & (stakes.column("holder_kind") == HOLDER_FUND) & (stakes.column("holder") == fund.index))
        if len(sel):
            firms = stakes.column("firm")[sel]
            proceeds = 0.7 * stakes.column("share")[sel] * self.model.population.column("post_money")[firms]
            self._settle(sel, proceeds, "secondary_sale")
        fund.nav_rmb = 0.0
        fund.closed = True


class _FundPool:
    """The investing funds of one kind in one region: the funds, their indices and their budgets by round type (RMB)."""

    def __init__(self, funds: list[VentureFund], budgets: dict[int, np.ndarray]):
        self.funds = funds
        self.index = np.array([f.index for f in funds], dtype=np.int64)
        self.budgets = np.array([budgets[f.index] for f in funds]).reshape(len(funds), 4)


def _fill(wanted: np.ndarray, budget: float, min_share: float = 0.25) -> np.ndarray:
    """Fund requests in order until ``budget`` runs out; the request at the edge gets what is left
    if that is at least ``min_share`` of it (one agent stands for many firms, so budgets are coarse)."""
    if budget <= 0.0:
        return np.zeros(len(wanted))
    start = np.cumsum(wanted) - wanted
    granted = np.minimum(np.maximum(budget - start, 0.0), wanted)  # np.clip, without its overhead
    granted[(granted < min_share * wanted) | (wanted <= 0)] = 0.0
    return granted
