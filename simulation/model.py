"""InnovationEconomy: the Mesa model of China's innovation-finance ecosystem.

One ``step()`` is one quarter, in this order (ODD "process overview"):

1. policy     scheduled lever changes; budgets for subsidies, pools, guarantees
2. entry      new seed-stage firms in every region
3. operate    revenue, costs, R&D, supply-chain settlement; patents and stage moves
4. insurance  premiums (with subsidies) and claims
5. financing  applicants with a short runway: R&D subsidy → VC round → bank loan
6. servicing  interest, principal, fees, interest subsidies, relending repayment
7. exits      failures (hazard, or two quarters in arrears) with the loss waterfall;
              IPOs and acquisitions with payouts to stakeholders
8. accounting bank funding, operating costs, relending interest; funds marked and closed
9. check      stock-flow consistency; 10. collect the quarter's tables
"""

from __future__ import annotations

import gc
import itertools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from simulation import lifecycle
from simulation.agents import Bank, CentralBank, Insurer, NationalGovernment, RegionalGovernment, Stage, TechFirm
from simulation.agents.firm import ExitKind
from simulation.agents.venture import irr_many
from simulation.allocator import reuse_freed_memory
from simulation.draws import Streams, poisson_from_uniforms
from simulation.groups import SortedGroups, best_first_within_groups
from simulation.ledger import Ledger, flow_rows
from simulation.markets import credit, insurance
from simulation.markets.credit import LoanBook
from simulation.markets.equity import EquityMarket
from simulation.markets.relending import RelendingFacility
from simulation.metrics import ALL_CHANNELS, EVENT_KINDS, EventLog, QuarterAccumulator, QuarterTable
from simulation.population import FirmPopulation
from simulation.scenario.loader import load_scenario, with_changes
from simulation.scenario.schema import Scenario, quarter_label, quarter_offset

STREAMS = ("init", "entry", "operate", "patents", "stages", "projects", "supply_chain", "demand", "subsidy", "vc", "vc_size",
           "banks", "screening", "order", "hazard", "exits", "exit_values", "insurance", "claims", "rollover",
           "patent_claims")
# timeseries: flows accumulated during the quarter (per region, summed for ALL)
FLOW_COLUMNS = ("entries", "exits_ipo", "exits_ma", "exits_failure", "rd_spending_rmb", "revenue_rmb", "patents_granted",
                "breakthroughs", "new_loans_rmb", "loan_applications", "loans_granted", "vc_invested_rmb", "vc_deals",
                "vc_invested_seed_rmb", "vc_invested_A_rmb", "vc_invested_B_rmb", "vc_invested_Cplus_rmb", "vc_exit_proceeds_rmb",
                "insurance_premiums_rmb", "insurance_claims_rmb", "guarantee_payouts_rmb", "risk_pool_payouts_rmb",
                "subsidies_rmb", "interest_subsidy_rmb", "fiscal_cost_rmb", "private_mobilised_rmb", "financing_gap_rmb",
                "early_need_rmb", "applicants", "defaulted_rmb", "bank_losses_rmb", "relending_new_rmb",
                "new_loans_early_rmb", "new_loans_growth_rmb")
# columns summed over regions for ALL; the last three are only used for the ratios and stocks after them
SUMMED_COLUMNS = ("firms_alive", "firms_seed", "firms_early", "firms_growth", "firms_mature", "firms_with_loans", *FLOW_COLUMNS,
                  "tech_loan_balance_rmb", "npl", "relending_outstanding_rmb", "rate_x_amount")
TIMESERIES_COLUMNS = (*SUMMED_COLUMNS[:-3], "access_rate", "approval_rate", "avg_loan_rate", "avg_eligible_loan_rate", "npl_ratio",
                      "relending_outstanding_rmb", "spillover_patents", "private_per_public_yuan")
BANK_VALUES = ("loans_rmb", "new_loans_rmb", "write_offs_rmb", "equity_rmb", "capital_ratio", "deposits_rmb", "relending_debt_rmb",
               "stakes_cost_rmb")
BANK_COLUMNS = (*BANK_VALUES[:-1], "linkage_stakes_rmb")
FUND_VALUES = ("committed_rmb", "paid_in_rmb", "invested_rmb", "nav_rmb", "distributed_rmb", "deals", "tvpi")
FLOW_TABLE_COLUMNS = ("source", "target", "kind", "amount_rmb")
# national (region ALL) series the Mesa DataCollector records every quarter (units as in the timeseries table)
HEADLINE_SERIES = ("firms_alive", "entries", "exits_failure", "patents_granted", "tech_loan_balance_rmb", "new_loans_rmb",
                   "access_rate", "avg_loan_rate", "npl_ratio", "relending_outstanding_rmb", "vc_invested_rmb", "fiscal_cost_rmb")


def _headline_reporter(name: str) -> Callable[[InnovationEconomy], float]:
    """A DataCollector model reporter: the named national value of the quarter just collected."""
    return lambda model: model.headline[name]


REGION_PARAMS = ("research_productivity", "rd_intensity", "transformation_capacity", "supply_chain_density", "vc_share", "export_demand")


class InnovationEconomy(mesa.Model):
    """Tech firms, banks, venture funds, insurers and governments over firm lifecycles.

    Args:
        scenario: a shipped scenario name, a TOML path, a mapping or a :class:`Scenario`.
        rng: seed (int or ``numpy.random.SeedSequence``) of the model's generators.
        overrides: dotted parameter names and values applied on top of the scenario.

    Example:
        >>> model = InnovationEconomy("baseline", rng=1, overrides={"run.scale": 500})
        >>> model.run(4)
        >>> model.timeseries().query("region == 'ALL'")["access_rate"].round(2).tolist()  # doctest: +SKIP
    """

    def __init__(self, scenario: str | Path | Scenario | dict = "baseline", rng: Any = 0,
                 overrides: dict[str, Any] | None = None):
        params = load_scenario(scenario, overrides)
        reuse_freed_memory()  # fewer page faults for the quarters' large temporary arrays (see simulation.allocator)
        super().__init__(rng=rng)
        self.params = params
        self.streams = Streams(dict(zip(STREAMS, self.rng.integers(0, 2**63 - 1, size=len(STREAMS)))))
        self.scenario_name = params.name
        self.scale = float(params.run.scale)
        self.quarter_index = 0
        self.region_names = list(params.regions)
        self._compute_region_weights()
        self._centers = np.array([r.is_center for r in params.regions.values()], dtype=bool)
        self._non_center_weight = max(1e-9, sum(w for w, center in zip(self.region_firm_weights, self._centers) if not center))
        self._region_labels = [*self.region_names, "ALL"]
        self._channel_labels = [name for name in ALL_CHANNELS for _ in self._region_labels]
        self._schedule = self._build_schedule()

        self.population = FirmPopulation(capacity=int(params.firms.population_real / self.scale * 1.6) + 64)
        self.loans = LoanBook(capacity=int(params.firms.population_real / self.scale) + 64)
        self.events = EventLog()
        self.ledger = Ledger(lambda: self.population.column("cash"), self.scale)
        self._firm_agents: dict[int, TechFirm] = {}
        self.acc = QuarterAccumulator(self)
        self.exit_age_counts = np.zeros(16)
        self.age_at_risk = np.zeros(16)  # firm-years at risk by completed age in years (15 = 15+)
        self.age_failures = np.zeros(16)
        self.firm_burn = np.zeros(0)
        self._timeseries = QuarterTable(("quarter", "region", *TIMESERIES_COLUMNS))
        self._channels = QuarterTable(("quarter", "region", "channel", "new_amount_rmb", "balance_rmb", "deals"))
        self._banks = QuarterTable(("quarter", "bank", "kind", *BANK_COLUMNS))
        self._funds = QuarterTable(("quarter", "fund", "kind", "region", "vintage", *FUND_VALUES, "irr_annual", "closed"))
        self._flows = QuarterTable(("quarter", *FLOW_TABLE_COLUMNS))
        self.ledger_errors: list[float] = []
        self._last_pairs: dict[tuple[str, str, str], float] = {}
        # Mesa's DataCollector keeps the national headline series (region tables: timeseries() and the other tables)
        self.headline: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _headline_reporter(name) for name in HEADLINE_SERIES}
        )

        self._open_accounts()
        self.relending = RelendingFacility(self)
        self.equity = EquityMarket(self)
        self.acc.reset()
        with cyclic_gc_paused():
            rows = lifecycle.initial_population(self)
            self.firm_burn = np.zeros(self.population._capacity)
            insurance.take_up(self, rows)
            self._initial_balance_sheets(rows)
            self.equity.initial_funds()
        self.spillover_boost = np.ones(len(self.region_names))
        self.acc.reset()
        self.running = True

    # ------------------------------------------------------------------ set-up
    def _compute_region_weights(self) -> None:
        regions = self.params.regions.values()
        share = np.array([r.firm_share for r in regions])
        scope = np.array([r.city_share_of_region if r.center_scope == "cities" else 1.0 for r in regions])
        effective = share * scope
        self.region_firm_weights = effective / effective.sum()
        self.center_factor_total = float(effective.sum() / share.sum())
        self._scope = scope

    def region_param(self, name: str) -> np.ndarray:
        """A region-profile parameter as an array indexed by region number."""
        values = np.array([getattr(r, name) for r in self.params.regions.values()], dtype=float)
        if name == "vc_share":
            values = values * self._scope
        return values

    def _build_schedule(self) -> dict[int, dict[str, Any]]:
        start = self.params.run.start_quarter
        plan: dict[int, dict[str, Any]] = {}
        for change in self.params.schedule:
            plan.setdefault(quarter_offset(start, change.quarter), {}).update(change.set)
        return plan

    def _open_accounts(self) -> None:
        ledger = self.ledger
        self.households = ledger.open("Households and depositors", "households")
        self.rest_of_world = ledger.open("Rest of world", "rest_of_world")
        self.central_bank_account = ledger.open("People's Bank of China", "central_bank")
        self.national_account = ledger.open("National government (MoF, NFGF, national fund LP)", "government")
        self.insurer_account = ledger.open("Technology insurers", "insurers")
        self.central_bank = CentralBank(self, self.central_bank_account)
        self.national = NationalGovernment(self, self.national_account)
        self.insurer = Insurer(self, "Technology insurers", self.insurer_account)
        ledger.transfer(self.households, self.insurer_account, self.params.insurance.insurer_capital_rmb, "initial_capital")
        self.insurer.equity_rmb = self.params.insurance.insurer_capital_rmb
        self.governments: list[RegionalGovernment] = []
        accounts = []
        for r, name in enumerate(self.region_names):
            account = ledger.open(f"{name} government", "government", r)
            self.governments.append(RegionalGovernment(self, r, account))
            accounts.append(account)
        self.region_gov_accounts = np.array(accounts)
        self.banks: list[Bank] = []
        for spec in self.params.banks.banks:
            region = self.region_names.index(spec.region) if spec.region in self.region_names else None
            account = ledger.open(spec.name, "banks", region)
            self.banks.append(Bank(self, spec.name, spec.kind, spec.market_share, region, spec.industry_research, account))
        self.bank_accounts = np.array([b.account for b in self.banks])
        self.bank_research = np.array([b.industry_research for b in self.banks])
        self._refresh_policy_arrays()
        for gov in self.governments:
            w = self.region_firm_weights[gov.region]
            gov.guarantee_capital_rmb = self.params.guarantee.fund_capital_rmb * w

    def _refresh_policy_arrays(self) -> None:
        eligible = set(self.params.relending.eligible_bank_kinds)
        self.bank_relending_eligible = np.array([b.kind in eligible for b in self.banks])

    def _initial_balance_sheets(self, rows: np.ndarray) -> None:
        """Loans outstanding at the start, funded by deposits and bank capital (a notional history)."""
        p = self.params
        pop = self.population
        rng = self.streams["init"]
        stage = pop.column("stage")[rows]
        quality = pop.column("quality")[rows]
        prob = np.array([0.12, 0.45, 0.65, 0.72])[stage] * np.exp(0.6 * quality - 0.18)
        borrower = rows[rng.random(len(rows)) < np.clip(prob, 0.0, 0.95)]
        st = pop.column("stage")[borrower]
        size = np.array([0.15, 0.5, 1.3, 2.6])[st] * np.exp(rng.normal(0.0, 0.9, len(borrower)) + 0.6 * pop.column("size")[borrower])
        represented = len(rows) * self.scale
        total = p.banks.initial_tech_loans_rmb * represented / p.firms.population_real
        region = pop.column("region")[borrower]
        bank = self.pick_banks(region, ignore_capacity=True)
        ok = bank >= 0
        borrower, size, bank = borrower[ok], size[ok], bank[ok]
        # book sizes so that each bank's share of the initial book equals its market share (§2.3)
        shares = np.array([b.market_share for b in self.banks])
        per_bank = np.bincount(bank, weights=size, minlength=len(self.banks))
        target = shares / shares.sum() * total / self.scale
        amount = size * np.divide(target, per_bank, out=np.zeros_like(target), where=per_bank > 0)[bank]
        st = pop.column("stage")[borrower]
        channel = np.where(st >= Stage.GROWTH, credit.COLLATERAL, credit.CREDIT)
        channel = np.where(pop.column("patents")[borrower] > 3, np.where(rng.random(len(borrower)) < 0.3, credit.IP_PLEDGE, channel), channel)
        channel = np.where((pop.column("anchor")[borrower] >= 0) & (rng.random(len(borrower)) < 0.5), credit.SUPPLY_CHAIN, channel)
        channel = np.where((st <= Stage.EARLY) & (rng.random(len(borrower)) < 0.25), credit.GUARANTEED, channel)
        lgd = np.where(channel == credit.COLLATERAL, p.banks.lgd_collateral, p.banks.lgd_unsecured)
        term = p.banks.loan_term_quarters
        start = -rng.integers(0, term, len(borrower))
        principal = amount * term / (term + start)  # outstanding = remaining share of principal
        n = len(borrower)
        loan_rows = self.loans.append(
            n, firm=borrower, bank=bank, region=region[ok], channel=channel, principal=principal, outstanding=amount,
            rate=p.banks.base_rate + 0.005, lgd=lgd, start_q=start, term=term, refinanced=0.0, first_loan=False,
            subsidy_pp=0.0, subsidy_until=0, guaranteed=channel == credit.GUARANTEED, pool=st <= Stage.EARLY,
            insured=False, npl=False, open=True,
        )
        pop.column("debt")[:] += np.bincount(borrower, weights=amount, minlength=pop.n)
        pop.column("ever_borrowed")[borrower] = True
        loans_by_bank = np.bincount(bank, weights=amount * self.scale, minlength=len(self.banks))
        ledger = self.ledger
        for b, bank_agent in enumerate(self.banks):
            loans = float(loans_by_bank[b])
            equity = max(loans * p.banks.capital_ratio_initial, 1e9)
            reserve = 0.02 * loans
            deposits = reserve + loans - equity
            ledger.transfer(self.households, bank_agent.account, equity, "initial_capital")
            ledger.transfer(self.households, bank_agent.account, deposits, "initial_deposits")
            bank_agent.equity_rmb = equity
            bank_agent.deposits_rmb = deposits
            bank_agent.loans_rmb = loans
        # the money lent before the start was spent by the firms: firms → households, net of the loans
        firm_loans = np.bincount(borrower, weights=amount, minlength=pop.n)[borrower]
        ledger.pay_firms(self.bank_accounts[bank], borrower, amount, "initial_loans")
        ledger.firms_pay(borrower, amount, self.households, "initial_spending")
        del firm_loans
        # the facility already refinances part of the existing book (in use since 2024)
        eligible = self.bank_relending_eligible[bank]
        want = np.where(eligible, amount * p.relending.refinanced_share, 0.0)
        refi, _ = self.relending.allocate(want, eligible, np.zeros(n, dtype=bool), order_key=rng.permutation(n))
        cap = 0.5 * p.relending.quota_rmb
        cum = np.cumsum(refi) * self.scale
        refi = np.where(cum <= cap, refi, 0.0)
        self.relending.first_loan_outstanding_rmb = 0.0
        self.loans.column("refinanced")[loan_rows] = refi
        if refi.any():
            self.relending.disburse(bank, refi)
        self.relending.used_this_quarter_rmb = 0.0

    # ------------------------------------------------------- random numbers
    def uniform(self, stream: str, rows: np.ndarray) -> np.ndarray:
        """Uniform draws for population ``rows`` from a named stream, one per population row.

        Drawing for every row (not only ``rows``) keeps each firm's draw the same in
        paired runs whose levers change who takes part: common random numbers.
        """
        return self.streams.rows(stream, "uniform", self.population.n)[rows]

    def normal(self, stream: str, rows: np.ndarray) -> np.ndarray:
        """Standard normal draws for population ``rows`` (one per population row, see :meth:`uniform`)."""
        return self.streams.rows(stream, "normal", self.population.n)[rows]

    def student_t(self, stream: str, df: float, rows: np.ndarray) -> np.ndarray:
        """Student-t draws with ``df`` degrees of freedom for population ``rows`` (one per population row, see :meth:`uniform`)."""
        return self.streams.rows(stream, "student_t", self.population.n, df)[rows]

    def poisson(self, stream: str, mean: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Poisson counts with means ``mean`` for population ``rows``, each from the row's uniform draw
        (see :meth:`uniform` and :func:`simulation.draws.poisson_from_uniforms`)."""
        return poisson_from_uniforms(mean, self.uniform(stream, rows))

    # ---------------------------------------------------------- agent plumbing
    def create_firm_agents(self, rows: np.ndarray) -> None:
        rows = rows.tolist()
        self._firm_agents.update(zip(rows, TechFirm.create_many(self, rows)))
        if self.population._capacity > len(self.firm_burn):
            grown = np.zeros(self.population._capacity)
            grown[: len(self.firm_burn)] = self.firm_burn
            self.firm_burn = grown

    def remove_firm_agents(self, rows: np.ndarray) -> None:
        pop = self._firm_agents.pop
        agents = [agent for agent in map(pop, rows.tolist(), itertools.repeat(None)) if agent is not None]
        TechFirm.remove_many(self, agents)

    def remove_all_agents(self) -> None:
        """Remove every agent (firm agents in bulk, then the rest through Mesa)."""
        agents = list(self._firm_agents.values())
        self._firm_agents.clear()
        TechFirm.remove_many(self, agents)
        super().remove_all_agents()

    def firm_agent(self, row: int) -> TechFirm | None:
        """The live Mesa agent of population row ``row`` (None once it exited)."""
        return self._firm_agents.get(int(row))

    # --------------------------------------------------------------- helpers
    @property
    def quarter_label(self) -> str:
        return quarter_label(self.params.run.start_quarter, self.quarter_index)

    def pick_banks(self, region: np.ndarray, ignore_capacity: bool = False, rows: np.ndarray | None = None) -> np.ndarray:
        """Each applicant's bank, drawn by market share among banks lending in its region."""
        n_banks = len(self.banks)
        weights = np.zeros((len(self.region_names), n_banks))
        capacity_ok = np.ones(n_banks, dtype=bool) if ignore_capacity else self.bank_capacity() > 0
        for b, bank in enumerate(self.banks):
            for r in range(len(self.region_names)):
                if capacity_ok[b] and bank.region is None:
                    weights[r, b] = bank.market_share
                elif capacity_ok[b] and bank.region == r:
                    # a regional bank's national share is concentrated in its home region
                    weights[r, b] = bank.market_share / max(self.region_firm_weights[r], 1e-9)
        totals = weights.sum(axis=1, keepdims=True)
        cdf = np.cumsum(np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0), axis=1)
        u = self.streams["banks"].random(len(region)) if rows is None else self.uniform("banks", rows)
        # the bank is the number of cumulative shares at or below the draw
        pick = np.empty(len(region), dtype=np.int64)
        for r in range(len(self.region_names)):
            here = region == r
            pick[here] = np.searchsorted(cdf[r], u[here], side="right")
        return np.where(totals[region, 0] > 0, np.minimum(pick, n_banks - 1), -1)

    def bank_capacity(self) -> np.ndarray:
        ratio = self.params.banks.capital_ratio_min
        return np.array([b.lending_capacity_rmb(ratio) for b in self.banks])

    def bank_add(self, attribute: str, banks: np.ndarray, amounts_rmb: np.ndarray) -> None:
        amounts_rmb = np.asarray(amounts_rmb, dtype=float)
        if amounts_rmb.shape != banks.shape:
            amounts_rmb = np.broadcast_to(amounts_rmb, banks.shape)
        per_bank = np.bincount(banks, weights=amounts_rmb, minlength=len(self.banks))
        for b in np.flatnonzero(per_bank):
            setattr(self.banks[b], attribute, getattr(self.banks[b], attribute) + float(per_bank[b]))

    def bank_income(self, banks: np.ndarray, amounts_rmb: np.ndarray) -> None:
        self.bank_add("equity_rmb", banks, amounts_rmb)

    def relending_room(self) -> float:
        return self.relending.room_rmb()

    @property
    def relending_push(self) -> np.ndarray:
        p = self.params.relending
        unused = self.relending.room_rmb() / p.quota_rmb if p.quota_rmb > 0 and self.relending.worth_drawing() else 0.0
        return np.where(self.bank_relending_eligible, p.quantity_push * unused, 0.0)

    @property
    def guarantee_capital_ok(self) -> np.ndarray:
        return np.array([g.guarantee_capital_rmb > 0 for g in self.governments])

    @property
    def pool_ok(self) -> np.ndarray:
        return np.array([g.pool_balance_rmb > 0 for g in self.governments])

    def spend_guarantee_capital(self, region: np.ndarray, amounts_rmb: np.ndarray) -> None:
        per = np.bincount(region, weights=amounts_rmb, minlength=len(self.governments))
        for r, gov in enumerate(self.governments):
            gov.guarantee_capital_rmb -= float(per[r])
            gov.spent_rmb += float(per[r])

    def draw_pools(self, region: np.ndarray, per_firm: np.ndarray) -> np.ndarray:
        """Limit pool payouts (per real firm) to each region's pool balance; debit the pools."""
        result = per_firm.copy()
        for r, gov in enumerate(self.governments):
            mask = region == r
            want = float(per_firm[mask].sum() * self.scale)
            if want <= 0:
                continue
            paid = min(want, max(gov.pool_balance_rmb, 0.0))
            result[mask] *= paid / want
            gov.pool_balance_rmb -= paid
            gov.spent_rmb += paid
        return result

    def fiscal_outlay(self, region: int | None, amount_rmb: float) -> None:
        """Record a government outlay (negative: receipt) in the fiscal-cost metric.

        A national outlay (``region`` None) is shared among the regions by their firm weights.
        """
        if region is None:
            self.acc.values["fiscal_cost_rmb"] += amount_rmb * self.region_firm_weights
        else:
            self.acc.values["fiscal_cost_rmb"][int(region)] += amount_rmb

    def close_firm_cash(self, firms: np.ndarray, kind: str) -> None:
        """Pay a leaving firm's remaining cash to its owners (or write off unpaid bills if negative)."""
        cash = self.population.column("cash")[firms].copy()
        self.ledger.firms_pay(firms, cash, self.households, kind)

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        """One quarter (see the module docstring for the order)."""
        with cyclic_gc_paused():
            self._step()

    def _step(self) -> None:
        self.streams.begin_quarter(self.population.n)  # the draws for the rows there are can start (simulation.draws)
        self.ledger.start_quarter()
        self.acc.reset()
        self.relending.used_this_quarter_rmb = 0.0
        self._policy()
        new_rows = lifecycle.entry(self)
        insurance.take_up(self, new_rows)
        alive = self.population.alive_rows()
        lifecycle.operate(self, alive)
        lifecycle.innovate(self, alive)
        insurance.premiums_and_claims(self, alive)
        insurance.credit_premiums(self)
        self._financing(alive)
        defaulted = credit.service(self)
        self._failures(alive, defaulted)
        alive = self.population.alive_rows()
        self.equity.exits(alive)
        self._accounting()
        self._collect()
        self.quarter_index += 1

    def run(self, quarters: int | None = None, progress: Callable[[int, int], None] | None = None) -> InnovationEconomy:
        """Run ``quarters`` steps (default: the scenario's ``run.quarters``); returns self."""
        total = self.params.run.quarters if quarters is None else int(quarters)
        # for the whole run: the quarters make no reference cycles (see cyclic_gc_paused), and each quarter's
        # whole-population random draws are made ahead on a second thread (same numbers, see simulation.draws)
        with cyclic_gc_paused(), self.streams.ahead():
            for i in range(total):
                self.step()
                if progress is not None:
                    progress(i + 1, total)
        return self

    def _policy(self) -> None:
        changes = self._schedule.get(self.quarter_index)
        if changes:
            self.params = with_changes(self.params, changes)
            self._refresh_policy_arrays()
        p = self.params
        for gov in self.governments:
            w = self.region_firm_weights[gov.region]
            gov.subsidy_budget_rmb = p.subsidy.budget_annual_rmb / 4.0 * w
            gov.pool_balance_rmb += p.risk_pool.budget_annual_rmb / 4.0 * w
        self.equity.new_funds()
        self.equity.charge_fees()
        centers = np.array([r.is_center for r in p.regions.values()])
        if (~centers).any() and hasattr(self, "_center_patents"):
            boost = 1.0 + p.spillover.rate * self._center_patents
            self.spillover_boost = np.where(centers, 1.0, boost)

    def _financing(self, alive: np.ndarray) -> None:
        p = self.params.firms
        pop = self.population
        alive = _still_alive(pop, alive)
        burn = self.firm_burn[alive]
        debt_service = pop.column("debt")[alive] / self.params.banks.loan_term_quarters
        outflow = burn + debt_service
        cash = pop.column("cash")[alive]
        runway = np.where(outflow > 0, cash / np.maximum(outflow, 1.0), np.inf)
        project = pop.column("project")[alive]
        revenue = pop.column("revenue")[alive]
        working_capital = (revenue > 0) & (pop.column("debt")[alive] <= 1.0) & (self.uniform("demand", alive) < p.working_capital_demand_quarterly)
        stage = pop.column("stage")[alive]
        follow_on = pop.column("vc_backed")[alive] & (stage >= Stage.EARLY) & (stage <= Stage.GROWTH) & (
            self.quarter_index - pop.column("last_round_q")[alive] >= self.params.vc.follow_on_quarters)
        applies = np.flatnonzero((runway < p.runway_quarters) | project | working_capital | follow_on)
        rows = alive[applies]
        revenue = revenue[applies]
        need = np.maximum(outflow[applies] * p.funding_need_quarters - cash[applies], 0.0)
        need = np.where(project[applies], need + 1.0 * revenue, need)
        need = np.where(working_capital[applies], need + p.working_capital_quarters * revenue, need)
        need = np.maximum(need, 0.2 * self.params.firms.seed_rd_quarterly_rmb)
        got = self._rd_subsidies(rows)
        remaining = np.maximum(need - got, 0.0)
        equity = self.equity.rounds(rows, remaining)
        remaining = np.maximum(remaining - equity, 0.0)
        loans = credit.lend(self, rows, remaining)
        remaining = np.maximum(remaining - loans, 0.0)
        early = pop.column("stage")[rows] <= Stage.EARLY
        self.acc.add_money("financing_gap_rmb", rows[early], remaining[early])
        self.acc.add_money("early_need_rmb", rows[early], need[early])
        self.acc.add("applicants", rows, 1.0)
        negative = pop.column("cash")[alive] < 0
        pop.column("distress")[alive] = negative
        insolvent = pop.column("insolvent_q")
        insolvent[alive] = np.where(negative, insolvent[alive] + 1, 0)

    def _rd_subsidies(self, rows: np.ndarray) -> np.ndarray:
        """Regional governments grant a share of R&D to seed/early applicants they rank best."""
        p = self.params
        pop = self.population
        granted = np.zeros(len(rows))
        stage = pop.column("stage")[rows]
        candidates = np.flatnonzero(stage <= Stage.EARLY)
        if len(candidates) == 0:
            return granted
        c = p.credit
        noise = c.screening_noise * (1 - c.noise_cut_data_sharing * c.data_sharing)
        applicants = rows[candidates]
        signal = pop.column("quality")[applicants] + noise * self.normal("subsidy", applicants)
        amount = p.subsidy.rd_subsidy_share * 4.0 * pop.column("rd")[applicants]
        region = pop.column("region")[applicants].astype(np.int64)
        # each region's government ranks its applicants by signal (ties in applicant order) and funds them
        # in that order while its budget lasts
        ranked = best_first_within_groups(region, signal)
        groups = SortedGroups.of_sorted(region[ranked])
        cum = groups.cumsum(amount[ranked]) * self.scale
        budget = np.array([gov.subsidy_budget_rmb for gov in self.governments])
        chosen = ranked[cum <= budget[region[ranked]]]
        if len(chosen) == 0:
            return granted
        firms = rows[candidates[chosen]]
        paid = amount[chosen]
        self.ledger.pay_firms(self.region_gov_accounts[region[chosen]], firms, paid, "rd_subsidy")
        by_region = np.bincount(region[chosen], weights=paid * self.scale, minlength=len(self.governments))
        for gov in self.governments:
            gov.subsidy_budget_rmb -= float(by_region[gov.region])
            gov.spent_rmb += float(by_region[gov.region])
        granted[candidates[chosen]] = paid
        self.acc.add_money("subsidies_rmb", firms, paid)
        self.acc.add_money("fiscal_cost_rmb", firms, paid)
        self.acc.add_channel_name("rd_subsidy", firms, paid)
        self.events.log(self, "subsidy", firms, paid, counterparty=region[chosen], detail=pop.column("stage")[firms])
        return granted

    def _failures(self, alive: np.ndarray, defaulted: np.ndarray) -> None:
        pop = self.population
        alive = _still_alive(pop, alive)
        hazard = lifecycle.failure_hazard(self, alive)
        failing = alive[self.uniform("hazard", alive) < hazard]
        unpaid = alive[pop.column("insolvent_q")[alive] >= self.params.firms.insolvency_quarters]
        marked = np.zeros(pop.n, dtype=bool)  # the union of the three, sorted
        for group in (failing, defaulted, unpaid):
            marked[group] = True
        failing = np.flatnonzero(marked)
        ages = np.minimum(pop.age_years(alive, self.quarter_index), 15)
        self.age_at_risk += np.bincount(ages, minlength=16) * 0.25 * self.scale
        self.age_failures += np.bincount(np.minimum(pop.age_years(failing, self.quarter_index), 15), minlength=16) * self.scale
        if len(failing) == 0:
            return
        credit.default_firms(self, failing)
        self.equity.write_off(failing)
        self.events.log(self, "failure", failing, pop.column("cash")[failing], counterparty=np.full(len(failing), -1), detail=pop.column("stage")[failing])
        self.close_firm_cash(failing, "liquidation_to_owners")
        pop.column("receivable")[failing] = 0.0
        lifecycle.mark_exit(self, failing, ExitKind.FAILURE)

    def _accounting(self) -> None:
        p = self.params.banks
        ledger = self.ledger
        self.relending.pay_interest()
        for bank in self.banks:
            deposit_interest = bank.deposits_rmb * p.funding_cost / 4.0
            operating = bank.loans_rmb * p.operating_cost / 4.0
            ledger.transfer(bank.account, self.households, deposit_interest, "deposit_interest")
            ledger.transfer(bank.account, self.households, operating, "bank_operating_costs")
            bank.equity_rmb -= deposit_interest + operating
            exposure = bank.loans_rmb + bank.stakes_cost_rmb
            shortfall = p.capital_top_up_ratio * exposure - bank.equity_rmb
            if shortfall > 0:
                ledger.transfer(self.households, bank.account, shortfall, "capital_injection")
                bank.equity_rmb += shortfall
            cash = float(ledger.balance[bank.account])
            target = 0.02 * bank.loans_rmb
            if cash < target:
                ledger.transfer(self.households, bank.account, target - cash, "deposit_inflow")
                bank.deposits_rmb += target - cash
            elif cash > target and bank.deposits_rmb > 0:
                back = min(cash - target, bank.deposits_rmb)
                ledger.transfer(bank.account, self.households, back, "deposit_outflow")
                bank.deposits_rmb -= back
        if not self.loans.column("open").all():
            self.loans.compact()  # closed loans are dropped (row order is kept), so next quarter's reads of open loans are views
        self.equity.mark_and_close()
        self.ledger_errors.append(self.check_stock_flow())

    # --------------------------------------------------------------- checking
    def stock_flow_report(self) -> dict[str, float]:
        """Discrepancies (RMB) of each accounting identity; all ~0 when the books are consistent."""
        book = self.loans
        live = book.open_rows()
        out = book.column("outstanding")[live]
        per_bank = np.bincount(book.column("bank")[live], weights=out * self.scale, minlength=len(self.banks))
        firm_debt = np.bincount(book.column("firm")[live], weights=out, minlength=self.population.n)
        report = {
            "money_created_or_destroyed": self.ledger.money_sum(),
            "bank_loans_vs_book": float(np.max(np.abs(per_bank - np.array([b.loans_rmb for b in self.banks])))) if self.banks else 0.0,
            "bank_balance_sheets": max((abs(b.balance_sheet_gap_rmb()) for b in self.banks), default=0.0),
            "firm_debt_vs_book": float(np.max(np.abs(firm_debt - self.population.column("debt"))) * self.scale) if self.population.n else 0.0,
            "relending_vs_banks": abs(self.relending.outstanding_rmb - sum(b.relending_debt_rmb for b in self.banks)),
            "insurer_balance_sheet": abs(self.insurer.balance_sheet_gap_rmb()),
            "fund_cash": self.equity.largest_fund_gap_rmb(),
        }
        return report

    def check_stock_flow(self) -> float:
        """Largest absolute discrepancy over all identities, in RMB."""
        return float(max(abs(v) for v in self.stock_flow_report().values()))

    # ------------------------------------------------------------- collection
    def _collect(self) -> None:
        pop = self.population
        acc = self.acc.values
        n_r = len(self.region_names)
        s = self.scale
        alive = pop.alive_rows()
        # live firms by region, stage and whether they have a loan, in one count
        cell = pop.column("region")[alive].astype(np.int64) * 8 + pop.column("stage")[alive] * 2 + (pop.column("debt")[alive] > 1.0)
        by_cell = np.bincount(cell, minlength=8 * n_r).reshape(n_r, 4, 2)
        counts = by_cell.sum(axis=2)
        firms_alive = counts.sum(axis=1) * s
        with_loans = by_cell[:, :, 1].sum(axis=1) * s
        book = self.loans
        live = book.open_rows()
        lreg = book.column("region")[live].astype(np.int64)
        out = book.column("outstanding")[live]
        balance = np.bincount(lreg, weights=out * s, minlength=n_r)
        npl = np.bincount(lreg, weights=out * book.column("npl")[live] * s, minlength=n_r)
        relend = np.bincount(lreg, weights=book.column("refinanced")[live] * s, minlength=n_r)
        centers = self._centers
        center_patents = sum(acc["patents_granted"][r] for r in range(n_r) if centers[r])
        n_center = sum(firms_alive[r] for r in range(n_r) if centers[r])
        self._center_patents = center_patents / max(n_center, 1.0) / max(self.params.firms.patent_rate_quarterly, 1e-9)
        n_c = len(ALL_CHANNELS)
        channel_balance = np.bincount(book.column("channel")[live].astype(np.int64) * n_r + lreg, weights=out * s,
                                      minlength=n_c * n_r).reshape(n_c, n_r)
        quarter = self.quarter_label

        # region values (rows: columns of the table, in order), then region ALL = the regions' sum
        zero = np.zeros(n_r)
        values = np.empty((len(SUMMED_COLUMNS), n_r))
        values[0] = firms_alive
        values[1:5] = counts.T * s
        values[5] = with_loans
        for j, key in enumerate(FLOW_COLUMNS, start=6):
            values[j] = acc.get(key, zero)
        values[len(SUMMED_COLUMNS) - 4] = balance
        values[len(SUMMED_COLUMNS) - 3] = npl
        values[len(SUMMED_COLUMNS) - 2] = relend
        values[len(SUMMED_COLUMNS) - 1] = acc.get("rate_x_amount", zero)
        table = np.empty((len(SUMMED_COLUMNS), n_r + 1))
        table[:, :n_r] = values
        table[:, n_r] = values.sum(axis=1)
        col = dict(zip(SUMMED_COLUMNS, table))
        eligible_amount = np.append(acc["eligible_amount"], acc["eligible_amount"].sum()) if "eligible_amount" in acc else np.zeros(n_r + 1)
        eligible_rate = acc.get("eligible_rate_x_amount", zero)
        eligible_rate = np.append(eligible_rate, eligible_rate.sum())
        spill_rate = self.params.spillover.rate
        spillover = np.append(np.where(centers, 0.0, spill_rate * center_patents * self.region_firm_weights / self._non_center_weight),
                              spill_rate * center_patents)
        nan = np.full(n_r + 1, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            derived = (
                np.where(col["firms_alive"] != 0, col["firms_with_loans"] / col["firms_alive"], 0.0),
                np.where(col["loan_applications"] != 0, col["loans_granted"] / col["loan_applications"], nan),
                np.where(col["new_loans_rmb"] != 0, col["rate_x_amount"] / col["new_loans_rmb"], nan),
                np.where(eligible_amount != 0, eligible_rate / eligible_amount, nan),
                np.where(col["tech_loan_balance_rmb"] != 0, col["npl"] / col["tech_loan_balance_rmb"], 0.0),
                col["relending_outstanding_rmb"],
                spillover,
                np.where(col["fiscal_cost_rmb"] > 0, col["private_mobilised_rmb"] / col["fiscal_cost_rmb"], nan),
            )
        self._timeseries.append([quarter] * (n_r + 1), self._region_labels,
                                *(table[j] for j in range(len(SUMMED_COLUMNS) - 3)), *derived)
        national = dict(zip(TIMESERIES_COLUMNS, (*(table[j, n_r] for j in range(len(SUMMED_COLUMNS) - 3)), *(d[n_r] for d in derived))))
        self.headline = {name: float(national[name]) for name in HEADLINE_SERIES}
        self.datacollector.collect(self)

        new = np.empty((n_c, n_r + 1))
        new[:, :n_r] = self.acc.channel_new
        new[:, n_r] = self.acc.channel_new.sum(axis=1)
        deals = np.empty((n_c, n_r + 1))
        deals[:, :n_r] = self.acc.channel_deals
        deals[:, n_r] = self.acc.channel_deals.sum(axis=1)
        bal = np.empty((n_c, n_r + 1))
        bal[:, :n_r] = channel_balance
        bal[:, n_r] = channel_balance.sum(axis=1)
        self._channels.append([quarter] * (n_c * (n_r + 1)), self._region_labels * n_c, self._channel_labels,
                              new.ravel(), bal.ravel(), deals.ravel())

        banks = self.banks
        self._banks.append([quarter] * len(banks), [b.name for b in banks], [b.kind for b in banks],
                           *([getattr(b, name) for b in banks] for name in BANK_VALUES))
        for bank in banks:
            bank.new_loans_rmb = 0.0
            bank.write_offs_rmb = 0.0
        reported = [f for f in self.equity.funds if not (f.closed and len(f.cashflows) > f.life_quarters + 1)]
        self._funds.append_lazy(len(reported), _FundQuarter(quarter, reported, self.region_names))
        # the quarter's flows by sector pair, made into rows only when a table or last_flows is asked for
        self._last_pairs = dict(self.ledger.flows.by_pair)
        self._flows.append_lazy(sum(1 for v in self._last_pairs.values() if v != 0.0), _FlowQuarter(quarter, self._last_pairs))

    @property
    def last_flows(self) -> list[dict]:
        """The last quarter's money flows: rows ``{source, target, kind, amount_rmb}`` between sectors (RMB)."""
        return flow_rows(self._last_pairs)

    # ------------------------------------------------------------------ tables
    def timeseries(self) -> pd.DataFrame:
        """One row per quarter and region (plus ``ALL``)."""
        return self._timeseries.frame()

    def channels(self) -> pd.DataFrame:
        """New amounts, balances and deals per quarter, region and financing channel."""
        return self._channels.frame()

    def banks_table(self) -> pd.DataFrame:
        return self._banks.frame()

    def funds_table(self) -> pd.DataFrame:
        return self._funds.frame()

    def flows_table(self) -> pd.DataFrame:
        """Money flows by quarter between sectors (source, target, kind, amount_rmb)."""
        return self._flows.frame()

    def events_table(self) -> pd.DataFrame:
        """One row per loan, round, claim, default, exit, failure and subsidy."""
        frame = self.events.frame()
        if frame.empty:
            return pd.DataFrame(columns=["quarter", "kind", "firm_id", "region", "amount_rmb", "counterparty", "detail"])
        start = self.params.run.start_quarter
        frame["quarter"] = [quarter_label(start, int(q)) for q in frame["quarter"]]
        frame["kind"] = pd.Categorical.from_codes(frame["kind"], EVENT_KINDS)
        frame["region"] = pd.Categorical.from_codes(frame["region"], self.region_names)
        return frame

    def firms_table(self) -> pd.DataFrame:
        """The live firms' state (one row per firm agent; amounts per real firm)."""
        pop = self.population
        rows = pop.alive_rows()
        data = {name: pop.column(name)[rows] for name in ("region", "sector", "stage", "quality", "cash", "debt", "revenue", "patents", "rd", "vc_backed", "post_money")}
        frame = pd.DataFrame(data)
        frame.insert(0, "firm_id", rows)
        frame["region"] = [self.region_names[r] for r in frame["region"]]
        frame["age_quarters"] = self.quarter_index - pop.column("born_q")[rows]
        return frame

    def hazard_by_age(self) -> pd.DataFrame:
        """Failure hazard by firm age over the run: failures per firm-year at risk (age 15 = 15+)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            hazard = np.where(self.age_at_risk > 0, self.age_failures / self.age_at_risk, np.nan)
        return pd.DataFrame({"age_years": np.arange(16), "firm_years_at_risk": self.age_at_risk,
                             "failures": self.age_failures, "hazard_annual": hazard})

    def survival_by_cohort(self) -> pd.DataFrame:
        """Share of each entry cohort (entry year) still alive, by age in quarters (firms that entered during the run)."""
        pop = self.population
        born = pop.column("born_q")
        entered = born >= 0
        exit_q = np.where(pop.column("alive"), self.quarter_index, pop.column("exit_q"))
        rows = []
        start_year = int(self.params.run.start_quarter[:4])
        for cohort in np.unique(born[entered] // 4):
            members = entered & (born // 4 == cohort)
            lived = exit_q[members] - born[members]
            horizon = self.quarter_index - int(cohort) * 4
            for age in range(0, max(horizon, 0) + 1, 4):
                rows.append({"cohort": start_year + int(cohort), "age_quarters": age, "firms": int(members.sum() * self.scale),
                             "surviving_share": float((lived >= age).mean())})
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, float]:
        """Headline KPIs of the run so far (see :func:`simulation.kpis.headline_kpis`)."""
        from simulation.kpis import headline_kpis

        return headline_kpis(self)


_FUND_STATE = operator.attrgetter("paid_in_rmb", "invested_rmb", "nav_rmb", "distributed_rmb", "deals", "closed", "_flow_this_quarter")


class _FundQuarter:
    """One quarter's rows of the funds table: the funds' state now, made into columns when the table is built.

    The IRRs are solved then too (all of the quarter's funds together, as at collection):
    the cash-flow lists only grow, so their length now and this quarter's terminal
    value give back what :meth:`VentureFund.irr_flows` returns now.
    """

    def __init__(self, quarter: str, funds: list, region_names: list[str]):
        self.quarter = quarter
        self.funds = funds
        self.region_names = region_names
        self.state = list(map(_FUND_STATE, funds))
        self.lengths = [len(f.cashflows) for f in funds]

    def __call__(self) -> tuple[list, ...]:
        funds = self.funds
        paid, invested, nav, distributed, deals, closed, flow = (list(column) for column in zip(*self.state))
        tvpi = [(d + v) / p if p > 0 else float("nan") for p, v, d in zip(paid, nav, distributed)]  # VentureFund.tvpi
        terminal = [f + v for f, v in zip(flow, nav)]  # VentureFund.terminal_flow_rmb
        irr = irr_many([[*fund.cashflows[:n], last] for fund, n, last in zip(funds, self.lengths, terminal)]).tolist()
        return ([self.quarter] * len(funds), [f.name for f in funds], [f.kind.name.lower() for f in funds],
                [self.region_names[f.region] if f.region is not None else "national" for f in funds],
                [f.vintage_label for f in funds], [f.committed_rmb for f in funds],
                paid, invested, nav, distributed, deals, tvpi, irr, closed)


class _FlowQuarter:
    """One quarter's rows of the flows table, built from its flows by sector pair when the table is asked for."""

    def __init__(self, quarter: str, by_pair: dict[tuple[str, str, str], float]):
        self.quarter = quarter
        self.by_pair = by_pair

    def __call__(self) -> tuple[list, ...]:
        rows = flow_rows(self.by_pair)
        return ([self.quarter] * len(rows), *([row[name] for row in rows] for name in FLOW_TABLE_COLUMNS))


def _still_alive(pop: FirmPopulation, rows: np.ndarray) -> np.ndarray:
    """The rows of ``rows`` whose firm is still alive (``rows`` itself when none has exited)."""
    alive = pop.column("alive")[rows]
    return rows if alive.all() else rows[alive]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block (restored afterwards if it was on).

    A quarter allocates tens of thousands of objects (entering firm agents and
    their registry entries); with the collector on, it rescans every live agent
    several times a quarter, and the agents' turnover triggers a full collection
    every dozen quarters or so. The vectorised phases create no reference cycles
    (a 40-quarter run leaves no cyclic garbage), so nothing is lost by collecting
    after a step or a run instead.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
