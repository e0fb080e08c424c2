"""Firm lifecycle, vectorised over the population: entry, operations, innovation, stages, hazards.

Equations are in ``docs/model.md`` (submodels "Entry", "Operations",
"Innovation", "Stage transitions", "Exit hazard"). All amounts are per real
firm in RMB; the ledger multiplies by ``scale`` when money moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.firm import ExitKind, Stage

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy

N_SECTORS = 5
SECTOR_WEIGHTS = np.array([0.27, 0.15, 0.30, 0.13, 0.15])  # semis & electronics, biotech, adv. manufacturing, new energy, software
SECTOR_TANGIBLE = np.array([1.0, 0.8, 1.6, 1.4, 0.4])  # tangible-asset intensity (software is lightest)
SUPPLIER_SHARE_OF_REVENUE = 0.3  # share of a supplier's sales that go to its anchor firm
KNOWLEDGE_RETENTION = 0.9  # quarterly retention of the R&D stock
MAX_LOG_SIZE = 4.0  # largest log size relative to the stage median (revenue about 55 × the median)


def _stage_medians(values: list[float], stage: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)[stage]


def create_firms(model: InnovationEconomy, region: np.ndarray, stage: np.ndarray, born_q: np.ndarray) -> np.ndarray:
    """Append firms to the population and create their Mesa agents; returns the new rows."""
    p = model.params.firms
    rng = model.streams["entry"]
    n = len(region)
    quality = rng.normal(0.0, p.quality_sigma, n)
    size = rng.normal(0.0, p.revenue_sigma, n)
    sector = rng.choice(N_SECTORS, size=n, p=SECTOR_WEIGHTS)
    tangible = _stage_medians(p.tangible_assets_rmb, stage) * SECTOR_TANGIBLE[sector] * np.exp(0.8 * size)
    rows = model.population.append(
        n,
        region=region,
        sector=sector,
        stage=stage,
        alive=True,
        born_q=born_q,
        exit_q=-1,
        quality=quality,
        size=size,
        tangible=tangible,
        anchor=-1,
        post_money=0.0,
        last_round_q=-100,
    )
    model.streams.new_quarter(model.population.n)  # the rows are final for the quarter: its draws can start
    model.create_firm_agents(rows)
    return rows


def initial_population(model: InnovationEconomy) -> np.ndarray:
    """The start-quarter population: stages, ages, patents and cash consistent with the stage."""
    params = model.params
    p = params.firms
    rng = model.streams["init"]
    n_agents = max(1, round(p.population_real * model.center_factor_total / model.scale))
    region = rng.choice(len(model.region_names), size=n_agents, p=model.region_firm_weights)
    stage = rng.choice(4, size=n_agents, p=np.asarray(p.initial_stage_shares) / np.sum(p.initial_stage_shares))
    # age in quarters grows with stage (seed 0-3 yrs, early 1-5, growth 2-8, mature 4-15)
    low = np.array([0, 4, 8, 16])[stage]
    high = np.array([12, 20, 32, 60])[stage]
    age = rng.integers(low, high + 1)
    rows = create_firms(model, region, stage, born_q=-age)
    pop = model.population
    pop.column("patents")[rows] = rng.poisson(np.array([0.5, 2.0, 6.0, 12.0])[stage] * np.exp(0.4 * pop.column("quality")[rows]))
    pop.column("knowledge")[rows] = np.array([1.0, 3.0, 8.0, 20.0])[stage] * p.seed_rd_quarterly_rmb
    revenue = _stage_medians(p.revenue_quarterly_rmb, stage) * np.exp(pop.column("size")[rows])
    pop.column("revenue")[rows] = revenue
    cash = np.array([1.5, 1.5, 1.2, 1.0])[stage] * (
        _stage_medians(p.opex_quarterly_rmb, stage) + p.seed_rd_quarterly_rmb
    ) * rng.uniform(2.0, 6.0, n_agents)
    model.ledger.pay_firms(model.households, rows, cash, "initial_equity")
    backed = rng.random(n_agents) < np.array([0.05, 0.15, 0.25, 0.2])[stage] * np.exp(0.5 * pop.column("quality")[rows])
    pop.column("vc_backed")[rows] = backed
    pop.column("rounds")[rows] = np.where(backed, np.array([1, 1, 2, 3])[stage], 0)
    pop.column("post_money")[rows] = _stage_medians([15e6, 60e6, 300e6, 900e6], stage) * np.exp(0.5 * pop.column("quality")[rows])
    assign_supply_chains(model, rows)
    return rows


def assign_supply_chains(model: InnovationEconomy, new_rows: np.ndarray) -> None:
    """Link new early/growth firms as suppliers of anchor firms in their region."""
    pop = model.population
    rng = model.streams["supply_chain"]
    stage = pop.column("stage")
    alive = pop.column("alive")
    is_anchor = pop.column("is_anchor")
    mature = np.flatnonzero(alive & (stage == Stage.MATURE) & ~is_anchor)
    promote = mature[model.uniform("supply_chain", mature) < model.params.firms.anchor_share_of_mature]
    is_anchor[promote] = True
    pop.column("anchor_covered")[promote] = rng.random(len(promote)) < model.params.supply_chain.anchor_coverage
    anchors = np.flatnonzero(alive & is_anchor)
    if len(anchors) == 0 or len(new_rows) == 0:
        return
    region = pop.column("region")
    density = model.region_param("supply_chain_density")[region[new_rows]]
    candidates = new_rows[(rng.random(len(new_rows)) < density) & ~is_anchor[new_rows]]
    anchor_region = region[anchors]
    for r in np.unique(region[candidates]):
        in_region = anchors[anchor_region == r]
        pick = candidates[region[candidates] == r]
        if len(in_region) and len(pick):
            pop.column("anchor")[pick] = rng.choice(in_region, size=len(pick))


def entry(model: InnovationEconomy) -> np.ndarray:
    """New seed-stage firms in every region (Poisson, in real firms divided by scale)."""
    p = model.params.firms
    expected_real = p.population_real * p.entry_rate_annual / 4.0 * model.region_firm_weights * model.center_factor_total
    counts = model.streams["entry"].poisson(expected_real / model.scale)
    region = np.repeat(np.arange(len(counts)), counts)
    if len(region) == 0:
        return region
    stage = np.zeros(len(region), dtype=np.int8)
    rows = create_firms(model, region, stage, born_q=np.full(len(region), model.quarter_index))
    model.ledger.pay_firms(model.households, rows, np.full(len(rows), p.founder_cash_rmb), "founder_equity")
    model.acc.add("entries", rows, 1.0)
    assign_supply_chains(model, rows)
    return rows


def operate(model: InnovationEconomy, rows: np.ndarray) -> None:
    """Revenue, costs, R&D, receivables; money moves through the ledger."""
    params = model.params
    p = params.firms
    pop = model.population
    stage = pop.column("stage")[rows]
    region = pop.column("region")[rows]
    quality = pop.column("quality")[rows]
    size = pop.column("size")

    # fat-tailed growth: persistent size random walk with Student-t shocks
    shock = model.student_t("operate", p.growth_shock_df, rows) * 0.08 + 0.01 * quality
    # a quarter's growth is capped at e^±1, and a firm's size at e^4 ≈ 55 × its stage median (still an SME)
    np.clip(shock, -1.0, 1.0, out=shock)
    size[rows] = np.minimum((1.0 - p.size_mean_reversion) * size[rows] + shock, MAX_LOG_SIZE)
    s = size[rows]
    export_by_region = model.region_param("export_demand")
    # demand: the region's export demand for growth and mature firms, its transformation capacity before
    demand_by_region = np.stack((model.region_param("transformation_capacity"), export_by_region), axis=1).ravel()
    demand = demand_by_region[2 * region.astype(np.intp) + (stage >= Stage.GROWTH)]
    revenue = _stage_medians(p.revenue_quarterly_rmb, stage) * np.exp(s + 0.25 * quality) * demand
    opex = _stage_medians(p.opex_quarterly_rmb, stage) * np.exp(0.85 * s)
    rd_intensity = model.region_param("rd_intensity")[region]
    rd = np.maximum(p.rd_to_revenue * revenue * 1.5, 0.5 * p.seed_rd_quarterly_rmb)
    seed = np.flatnonzero(stage == Stage.SEED)
    rd[seed] = p.seed_rd_quarterly_rmb * np.exp(0.3 * s[seed])
    rd *= rd_intensity
    distressed = pop.column("distress")[rows]
    rd = np.where(distressed, 0.3 * rd, rd)
    pop.column("revenue")[rows] = revenue
    pop.column("rd")[rows] = rd

    # suppliers: part of revenue is sold to the anchor on one quarter's credit
    anchor = pop.column("anchor")[rows]
    anchor_alive = (anchor >= 0) & pop.column("alive")[np.maximum(anchor, 0)]
    receivable_prev = pop.column("receivable")[rows]
    settle = anchor_alive & (receivable_prev > 0)
    if settle.any():
        model.ledger.firm_to_firm(anchor[settle], rows[settle], receivable_prev[settle], "supply_chain_settlement")
    to_anchor = np.where(anchor_alive, SUPPLIER_SHARE_OF_REVENUE * revenue, 0.0)  # paid next quarter
    pop.column("receivable")[rows] = to_anchor
    pop.column("anchor")[rows[~anchor_alive & (anchor >= 0)]] = -1

    # other sales: households and, in proportion to export demand, the rest of the world
    market_sales = revenue - np.where(anchor_alive, SUPPLIER_SHARE_OF_REVENUE * revenue, 0.0)
    export_share = np.clip(0.15 * export_by_region, 0.0, 0.6)[region]
    model.ledger.pay_firms(model.households, rows, market_sales * (1 - export_share), "sales_domestic")
    model.ledger.pay_firms(model.rest_of_world, rows, market_sales * export_share, "sales_export")
    model.ledger.firms_pay(rows, opex, model.households, "operating_costs")
    model.ledger.firms_pay(rows, rd, model.households, "rd_spending")
    pop.column("knowledge")[rows] = KNOWLEDGE_RETENTION * pop.column("knowledge")[rows] + rd
    model.acc.add_money("rd_spending_rmb", rows, rd)
    model.acc.add_money("revenue_rmb", rows, revenue)
    model.firm_burn[rows] = np.maximum(opex + rd - revenue, 0.0)


def innovate(model: InnovationEconomy, rows: np.ndarray) -> None:
    """Patents and stage transitions (breakthrough, product-market fit, scaling)."""
    params = model.params
    p = params.firms
    pop = model.population
    stage = pop.column("stage")[rows]
    region = pop.column("region")[rows]
    quality = pop.column("quality")[rows]
    research = (model.region_param("research_productivity") * model.spillover_boost)[region]
    rd_ratio = pop.column("rd")[rows] / p.seed_rd_quarterly_rmb
    ip_factor = 0.5 + params.ip.protection
    exp_half_quality = np.exp(0.5 * quality)
    patent_rate = p.patent_rate_quarterly * exp_half_quality * research * ip_factor * np.sqrt(np.maximum(rd_ratio, 0.0))
    new_patents = model.poisson("patents", patent_rate, rows)
    pop.column("patents")[rows] += new_patents
    model.acc.add("patents_granted", rows, new_patents)

    transform = model.region_param("transformation_capacity")
    base = np.append(np.asarray(p.stage_up_quarterly), 0.0)[stage]
    multiplier = np.zeros(len(rows))  # mature firms stay mature
    seed = np.flatnonzero(stage == Stage.SEED)
    knowledge_factor = np.minimum(1.5, pop.column("knowledge")[rows[seed]] / (4.0 * p.seed_rd_quarterly_rmb)) ** 0.5
    multiplier[seed] = research[seed] * knowledge_factor * exp_half_quality[seed]
    # scaling needs money: firms that cannot fund a quarter of next-stage costs progress slower
    early = np.flatnonzero(stage == Stage.EARLY)
    multiplier[early] = (transform[region[early]] * _funded(model, rows[early], Stage.GROWTH)
                         * np.exp(0.45 * quality[early]))
    growth = np.flatnonzero(stage == Stage.GROWTH)
    multiplier[growth] = (np.sqrt(transform[region[growth]]) * _funded(model, rows[growth], Stage.MATURE)
                          * np.exp(0.3 * quality[growth]))
    up = model.uniform("stages", rows) < np.clip(base * multiplier, 0.0, 0.9)
    moved = rows[up]
    pop.column("stage")[moved] += 1
    model.acc.add("breakthroughs", rows[up & (stage == Stage.SEED)], 1.0)
    newly_tangible = _stage_medians(p.tangible_assets_rmb, pop.column("stage")[moved]) * SECTOR_TANGIBLE[pop.column("sector")[moved]]
    pop.column("tangible")[moved] = np.maximum(pop.column("tangible")[moved], newly_tangible * np.exp(0.8 * pop.column("size")[moved]))
    pop.column("project")[rows] = (stage >= Stage.GROWTH) & (model.uniform("projects", rows) < 0.06)


def _funded(model: InnovationEconomy, rows: np.ndarray, next_stage: Stage) -> np.ndarray:
    """1 for firms with cash for half a quarter of ``next_stage``'s operating costs, else 0.35 (progress slows)."""
    next_cost = model.params.firms.opex_quarterly_rmb[next_stage]
    return np.where(model.population.column("cash")[rows] >= 0.5 * next_cost, 1.0, 0.35)


def failure_hazard(model: InnovationEconomy, rows: np.ndarray) -> np.ndarray:
    """Quarterly failure probability: SAIC age profile × tech multiplier × quality and distress."""
    p = model.params.firms
    pop = model.population
    age = np.minimum(pop.age_years(rows, model.quarter_index), len(p.hazard_by_age_annual) - 1)
    annual = np.asarray(p.hazard_by_age_annual)[np.maximum(age, 0)] * p.hazard_multiplier
    quality = pop.column("quality")[rows]
    beta = p.hazard_quality_beta
    # normalise so the population-average multiplier is one: E[exp(-βq)] = exp(β²σ²/2)
    relative = np.exp(-beta * quality - 0.5 * (beta * p.quality_sigma) ** 2)
    relative *= np.where(pop.column("distress")[rows], p.distress_hazard_factor, 1.0)
    stage = pop.column("stage")[rows]
    relative *= np.array([1.1, 1.0, 0.9, 0.7])[stage]
    annual = np.clip(annual * relative, 0.0, 0.95)
    return 1.0 - (1.0 - annual) ** 0.25


def mark_exit(model: InnovationEconomy, rows: np.ndarray, kind: ExitKind) -> None:
    """Flag firms as exited and remove their Mesa agents (their rows stay for history)."""
    if len(rows) == 0:
        return
    pop = model.population
    pop.column("alive")[rows] = False
    pop.column("exit_kind")[rows] = int(kind)
    pop.column("exit_q")[rows] = model.quarter_index
    name = {ExitKind.IPO: "exits_ipo", ExitKind.ACQUISITION: "exits_ma", ExitKind.FAILURE: "exits_failure"}[kind]
    model.acc.add(name, rows, 1.0)
    model.acc.add_age_exits(rows)
    model.remove_firm_agents(rows)
