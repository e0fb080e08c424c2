"""Equity: venture rounds, guidance-fund co-investment, bank linkage stakes, exits and fund lifecycles."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.firm import ExitKind, Stage
from simulation.agents.venture import FundKind, VentureFund, book_cash_rmb
from simulation.columns import Columns
from simulation.groups import SortedGroups, best_first_within_groups

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
        rate, q, market = model.params.vc.management_fee, model.quarter_index, FundKind.MARKET
        for fund in self.funds:
            if fund.closed or fund.kind != market:
                continue
            fee = fund.committed_rmb * rate / 4.0
            fee = min(fee, fund.dry_powder_rmb) if q - fund.vintage < fund.invest_quarters else fee * 0.5
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
        investing = [fund for fund in self.funds if fund.investing(q)]
        market_fund = np.array([fund.kind == FundKind.MARKET for fund in investing], dtype=bool)
        regional_pace = 1.0 / (1.0 + 0.25 * g.reinvestment_requirement)
        per_quarter = np.array([fund.dry_powder_rmb / max(1, fund.invest_quarters - (q - fund.vintage))
                                * (regional_pace if fund.kind == FundKind.GUIDANCE_REGIONAL else 1.0) for fund in investing])
        budgets = per_quarter.reshape(-1, 1) * np.where(market_fund.reshape(-1, 1), mix, guidance_mix)  # RMB, fund x round type
        fund_region = np.array([-1 if fund.region is None else fund.region for fund in investing], dtype=np.int64)
        fund_index = np.array([fund.index for fund in investing], dtype=np.int64)
        rounds_done = pop.column("rounds")[cand]
        stage_c = pop.column("stage")[cand]
        round_idx = np.where(stage_c == Stage.SEED, 0, np.where(stage_c == Stage.EARLY, 1, np.where(rounds_done >= 2, 3, 2)))
        # below the market threshold only guidance funds invest, and only in seed/early rounds
        fundable = (signal >= vc.min_signal) | (round_idx <= 1)
        eligible, cand, signal, round_idx = eligible[fundable], cand[fundable], signal[fundable], round_idx[fundable]
        region = pop.column("region")[cand]
        size = np.asarray(vc.deal_size_rmb)[round_idx] * np.exp(0.5 * model.normal("vc_size", cand))
        pre = size * np.asarray(vc.pre_money_multiple)[round_idx] * np.exp(0.4 * signal)
        # groups of one region and round type, best signals first (ties in applicant order)
        key = region.astype(np.int64) * 4 + round_idx
        ordered = best_first_within_groups(key, signal)
        keys, starts, counts = np.unique(key[ordered], return_index=True, return_counts=True)
        groups = _Groups(keys, starts, counts)
        pools = {}
        for r in np.unique(groups.region).tolist():
            in_region = fund_region == r
            pools[r] = tuple(_FundPool(fund_index[mine], budgets[mine], model.scale) for mine in (in_region & market_fund, in_region & ~market_fund))
        deals = self._match(groups, pools, signal[ordered], size[ordered], cand[ordered])
        raised[eligible[ordered]] = deals.raised
        pre_of = np.empty(pop.n)
        pre_of[cand] = pre
        self._book_deals(deals.columns(), pre_of)
        return raised

    def _match(self, groups: _Groups, pools: dict[int, tuple[_FundPool, _FundPool]], signal: np.ndarray,
               size: np.ndarray, firm: np.ndarray) -> _Deals:
        """Rounds of all region × round-type groups at once, best signals first, within the funds' budgets.

        ``signal``, ``size`` (RMB per real firm) and ``firm`` (population rows) are in group order.
        In each group, market funds lead rounds of firms above ``vc.min_signal`` while their
        pooled budget lasts; guidance funds co-invest a share of each round, and alone back
        seed/early firms just below the threshold (patient capital). Each round goes to the
        fund whose slice of the pooled budget its position falls in.
        """
        vc, g = self.model.params.vc, self.model.params.guidance
        market_pools = [pools[r][0] for r in groups.region.tolist()]
        guidance_pools = [pools[r][1] for r in groups.region.tolist()]
        market_total = np.array([pool.total[k] for pool, k in zip(market_pools, groups.round.tolist())])
        guidance_total = np.array([pool.total[k] for pool, k in zip(guidance_pools, groups.round.tolist())])
        has_guidance = np.array([len(pool.index) > 0 for pool in guidance_pools])
        of = groups.of_item
        g_part = np.where(has_guidance[of], np.minimum(size * g.coinvest_share, g.max_deal_rmb), 0.0)
        # market-led rounds, with guidance co-investment while the guidance budget lasts
        led = signal >= vc.min_signal
        g_co = groups.fill(np.where(led, g_part, 0.0), guidance_total)
        m_part = groups.fill(np.where(led, size - g_co, 0.0), market_total)
        m_funded = m_part > 0
        g_co = np.where(m_funded, g_co, 0.0)
        # guidance-only rounds for seed/early firms the market does not fund
        alone = (groups.round <= 1) & has_guidance
        want = np.where(~m_funded & alone[of], np.minimum(size, g.max_deal_rmb), 0.0)
        g_alone = groups.fill(want, np.where(alone, guidance_total - groups.sums(g_co), 0.0))
        g_total = g_co + g_alone
        deals = _Deals(m_part + g_co + g_alone)
        with_guidance = (g_co > 0) | (g_alone > 0)
        for kind, pool_of_group, part in ((0, market_pools, m_part), (1, guidance_pools, g_total)):
            hit = np.flatnonzero(part > 0)
            if len(hit):
                owner = groups.owners(pool_of_group, part, hit)
                deals.add(kind, owner, firm[hit], part[hit], groups.round[of[hit]], with_guidance[hit], of[hit], hit)
        return deals

    def _book_deals(self, deals: tuple[np.ndarray, ...] | None, pre_of: np.ndarray) -> None:
        """Book the quarter's rounds: capital calls, payments, dilution, stakes and metrics (batched per fund).

        ``deals``: columns fund index, firm row, amount (RMB per real firm), round type, with guidance
        (see :meth:`_Deals.columns`); ``pre_of``: pre-money valuation by population row.
        """
        if deals is None:
            return
        model = self.model
        pop = model.population
        scale = model.scale
        fund_of, deal_firm, deal_amount, deal_round, with_guidance = deals
        firms, inverse = np.unique(deal_firm, return_inverse=True)
        totals = np.bincount(inverse, weights=deal_amount)
        pre = pre_of[firms]
        post = pre + totals
        self._dilute(firms, pre / post)
        by_fund = np.argsort(fund_of, kind="stable")
        fund_ids, starts, counts = np.unique(fund_of[by_fund], return_index=True, return_counts=True)
        amount_by_fund = deal_amount[by_fund]  # each fund's deals together, in booking order
        for index, start, count in zip(fund_ids.tolist(), starts.tolist(), counts.tolist()):
            fund = self.funds[index]
            total = float(amount_by_fund[start : start + count].sum()) * scale
            self._call(fund, total)  # the LPs pay in what the fund invests this quarter
            fund.invested_rmb += total
            fund.deals += count
        accounts = np.array([f.account for f in self.funds], dtype=np.int64)[fund_of[by_fund]]
        model.ledger.pay_firms(accounts, deal_firm[by_fund], amount_by_fund, "vc_investment")
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
        stakes = self.stakes
        # closed stakes are multiplied by 1 (unchanged): one pass over the stakes instead of three masked ones
        stakes.column("share")[:] *= np.where(stakes.column("open"), lookup[stakes.column("firm")], 1.0)

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
        rows = rows[candidates]
        draw = model.uniform("exits", rows)
        ipo = draw < p_ipo
        ma = ~ipo & (draw < p_ipo + p_ma)
        exiting = np.flatnonzero(ipo | ma)
        shock = np.zeros(len(rows))
        shock[exiting] = model.normal("exit_values", rows[exiting])  # only the exiting firms' draws are read
        for mask, multiple, kind in ((ipo, p.ipo_valuation_multiple, ExitKind.IPO), (ma, p.ma_valuation_multiple, ExitKind.ACQUISITION)):
            firms = rows[mask]
            if len(firms) == 0:
                continue
            base = np.maximum(pop.column("post_money")[firms], 8.0 * pop.column("revenue")[firms])
            noise = np.exp(p.exit_value_sigma * shock[mask] + 0.5 * quality[mask])
            value = base * multiple * noise
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
        cash = self.model.ledger.balance[[f.account for f in self.funds]]
        gaps = cash - book_cash_rmb(*books.T)
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
        for fund, value in zip(self.funds, nav.tolist()):
            fund.nav_rmb = value
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
    """The investing funds of one kind in one region, with their budgets by round type.

    ``budgets``: this quarter's budget of each fund by round type (RMB). ``room``: the same per
    real firm (RMB / ``scale``), one row per fund, one column per round type; ``total``: the
    pool's room per round type; ``edges``: cumulative room over the funds (a round goes to the
    fund whose slice its position falls in).
    """

    def __init__(self, index: np.ndarray, budgets: np.ndarray, scale: float):
        self.index = index  # the funds' indices in ``EquityMarket.funds``
        self.room = budgets.reshape(len(index), 4) / scale
        self.total = np.ascontiguousarray(self.room.T).sum(axis=1)
        self.edges = np.cumsum(self.room, axis=0)


class _Groups(SortedGroups):
    """Applicants in groups of one region and round type (sorted by group, then best signal first)."""

    def __init__(self, keys: np.ndarray, starts: np.ndarray, counts: np.ndarray):
        super().__init__(keys, starts, counts)
        self.region, self.round = np.divmod(keys, 4)

    def fill(self, wanted: np.ndarray, budget: np.ndarray, min_share: float = 0.25) -> np.ndarray:
        """Fund requests in group order until each group's ``budget`` runs out; the request at the edge gets
        what is left if that is at least ``min_share`` of it (one agent stands for many firms, so budgets are coarse)."""
        budget = np.maximum(budget, 0.0)[self.of_item]
        start = self.cumsum(wanted) - wanted
        granted = np.minimum(np.maximum(budget - start, 0.0), wanted)  # np.clip, without its overhead
        granted[(granted < min_share * wanted) | (wanted <= 0)] = 0.0
        return granted

    def owners(self, pool_of_group: list[_FundPool], part: np.ndarray, hit: np.ndarray) -> np.ndarray:
        """Fund index of each round ``hit``: the fund whose slice of its group's pooled budget the round's
        midpoint falls in (rounds laid end to end in group order)."""
        position = self.cumsum(part)[hit] - 0.5 * part[hit]
        group = self.of_item[hit]
        present = np.unique(group).tolist()
        edges = [pool_of_group[g].edges[:, self.round[g]] for g in present]
        sizes = np.array([len(e) for e in edges], dtype=np.int64)
        edge_group = np.repeat(np.array(present, dtype=np.int64), sizes)
        # merge edges and positions, group by group in value order (an edge equal to a position counts as passed)
        values = np.concatenate([*edges, position])
        groups = np.concatenate([edge_group, group])
        is_position = np.concatenate([np.zeros(len(edge_group), dtype=np.int8), np.ones(len(hit), dtype=np.int8)])
        order = np.lexsort((is_position, values, groups))
        passed = np.cumsum(1 - is_position[order])
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        first_edge = np.zeros(len(self.starts), dtype=np.int64)
        first_edge[present] = np.cumsum(sizes) - sizes
        count = np.zeros(len(self.starts), dtype=np.int64)
        count[present] = sizes
        passed_in_group = passed[rank[len(edge_group):]] - first_edge[group]
        slot = np.minimum(passed_in_group, count[group] - 1)
        index = np.concatenate([pool_of_group[g].index for g in present])
        return index[first_edge[group] + slot]


class _Deals:
    """The quarter's rounds as they are matched; :meth:`columns` gives them in booking order."""

    def __init__(self, raised: np.ndarray):
        self.raised = raised  # per applicant in group order (RMB per real firm)
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, kind: int, fund: np.ndarray, firm: np.ndarray, amount: np.ndarray, round_type: np.ndarray,
            with_guidance: np.ndarray, group: np.ndarray, item: np.ndarray) -> None:
        self._parts.append((fund, firm.astype(np.int64), amount, round_type.astype(np.int64), with_guidance,
                            group, np.full(len(item), kind), item))

    def columns(self) -> tuple[np.ndarray, ...] | None:
        """Fund index, firm row, amount, round type, with guidance; group by group, market rounds first."""
        if not self._parts:
            return None
        fund, firm, amount, round_type, with_guidance, group, kind, item = (np.concatenate(c) for c in zip(*self._parts))
        order = np.lexsort((item, kind, group))
        return fund[order], firm[order], amount[order], round_type[order], with_guidance[order]
