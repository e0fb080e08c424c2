"""Stock-flow consistency, reproducibility and the model's structure."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import InnovationEconomy, lifecycle, simulate
from simulation.agents import Bank, CentralBank, Insurer, NationalGovernment, RegionalGovernment, TechFirm, VentureFund
from simulation.agents.venture import irr_annual_each
from simulation.markets import credit
from tests.conftest import paired_seeds

FAST = {"run.scale": 2000.0}


def _tolerance(model: InnovationEconomy) -> float:
    """Floating-point slack: a billionth of a yuan per yuan moved."""
    return max(1.0, 1e-9 * model.ledger.gross_total)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.floats(0.0, 0.03),
    quota=st.floats(0.0, 3.0e12),
    share=st.floats(0.0, 1.0),
    tech_flow=st.floats(0.0, 1.0),
    pool=st.floats(0.0, 0.9),
    linkage=st.booleans(),
    supply=st.booleans(),
    ipo=st.floats(0.0, 2.0),
    subsidy=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31),
)
def test_ledger_balances_under_random_scenarios(rate, quota, share, tech_flow, pool, linkage, supply, ipo, subsidy, seed):
    overrides = {**FAST, "relending.rate": rate, "relending.quota_rmb": quota, "relending.refinanced_share": share,
                 "credit.tech_flow_weight": tech_flow, "risk_pool.share": pool, "linkage.enabled": linkage,
                 "supply_chain.enabled": supply, "vc.ipo_window": ipo, "insurance.premium_subsidy": subsidy}
    model = InnovationEconomy("baseline", rng=seed, overrides=overrides)
    model.run(4)
    report = model.stock_flow_report()
    assert max(abs(v) for v in report.values()) <= _tolerance(model), report
    assert len(model.ledger_errors) == 4


def test_every_quarter_is_checked_and_money_is_conserved():
    model = InnovationEconomy("baseline", rng=5, overrides=FAST)
    model.run(6)
    assert max(model.ledger_errors) <= _tolerance(model)
    assert abs(model.ledger.money_sum()) <= _tolerance(model)


def test_checker_finds_money_created_outside_a_transaction():
    model = InnovationEconomy("baseline", rng=5, overrides=FAST)
    model.run(1)
    model.ledger.balance[model.banks[0].account] += 1.0e6  # a yuan-printing bug
    report = model.stock_flow_report()
    assert report["money_created_or_destroyed"] > 0.9e6
    assert report["bank_balance_sheets"] > 0.9e6


def test_same_seed_same_results_and_different_seeds_differ():
    a = simulate(seed=11, quarters=4, **FAST)
    b = simulate(seed=11, quarters=4, **FAST)
    c = simulate(seed=12, quarters=4, **FAST)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a, sort_keys=True) != json.dumps(c, sort_keys=True)


def test_reproducible_in_another_process():
    here = simulate(seed=7, quarters=3, **FAST)
    code = (
        "import json; from simulation import simulate; "
        "print(json.dumps(simulate(seed=7, quarters=3, **{'run.scale': 2000.0}), sort_keys=True))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    assert out == json.dumps(here, sort_keys=True)


def test_all_agent_kinds_are_mesa_agents():
    model = InnovationEconomy("baseline", rng=1, overrides=FAST)
    kinds = model.agents_by_type
    for cls in (TechFirm, Bank, VentureFund, Insurer, RegionalGovernment, NationalGovernment, CentralBank):
        assert cls in kinds and len(kinds[cls]) > 0, cls
    names = {bank.name for bank in kinds[Bank]}
    assert {"ICBC", "CCB", "ABC", "BOC", "BOCOM", "PSBC"} <= names
    firms_alive = model.population.column("alive").sum()
    assert len(kinds[TechFirm]) == firms_alive


def test_exited_firms_leave_the_mesa_model_but_keep_their_history():
    model = InnovationEconomy("baseline", rng=3, overrides=FAST)
    model.run(6)
    exited = np.flatnonzero(~model.population.column("alive"))
    assert len(exited) > 0
    assert model.firm_agent(int(exited[0])) is None
    assert len(model.agents_by_type[TechFirm]) == model.population.column("alive").sum()


def test_scheduled_lever_change_applies_from_its_quarter():
    scenario = {"schedule": [{"quarter": "2026Q3", "set": {"relending.rate": 0.005}}]}
    model = InnovationEconomy(scenario, rng=2, overrides=FAST)
    model.run(2)
    assert model.params.relending.rate == 0.0125
    model.run(1)
    assert model.params.relending.rate == 0.005


def test_reported_totals_are_real_world_units_and_regions_add_up():
    model = InnovationEconomy("baseline", rng=4, overrides=FAST)
    model.run(3)
    ts = model.timeseries()
    assert set(ts["region"]) == {"BTH", "YRD", "GBA", "ALL"}
    for column in ("firms_alive", "entries", "new_loans_rmb", "vc_invested_rmb", "fiscal_cost_rmb", "tech_loan_balance_rmb"):
        regions = ts[ts["region"] != "ALL"].groupby("quarter")[column].sum()
        total = ts[ts["region"] == "ALL"].set_index("quarter")[column]
        assert np.allclose(regions.loc[total.index], total, rtol=1e-9), column
    first = ts[(ts["region"] == "ALL")].iloc[0]
    assert 4.0e5 < first["firms_alive"] < 7.0e5  # ~550k real firms whatever the scale
    assert 1.0e12 < first["tech_loan_balance_rmb"] < 6.0e12


def test_every_financing_channel_is_used_in_the_baseline():
    model = InnovationEconomy("baseline", rng=1, overrides={"run.scale": 300.0})
    model.run(8)
    used = model.channels().groupby("channel")["new_amount_rmb"].sum()
    assert (used > 0).all(), used[used <= 0]
    ts = model.timeseries()
    for column in ("insurance_claims_rmb", "risk_pool_payouts_rmb", "relending_outstanding_rmb", "subsidies_rmb"):
        assert ts[column].sum() > 0, column


REST_OF_COUNTRY = {"firm_share": 0.3, "is_center": False, "research_productivity": 0.6, "rd_intensity": 0.7, "vc_share": 0.1}


def test_a_scenario_can_add_a_rest_of_country_region_that_gains_from_spillovers():
    """A non-center region is data; the centers' patents raise its research (spill-overs), with common random numbers."""
    patents = {}
    for rate in (0.0, 0.1):
        total = 0.0
        for seed in paired_seeds(4):
            model = InnovationEconomy("baseline", rng=seed, overrides={
                "run.scale": 500.0, "regions.ROC": REST_OF_COUNTRY, "spillover.rate": rate})
            model.run(12)
            table = model.timeseries()
            assert set(table["region"]) == {"BTH", "YRD", "GBA", "ROC", "ALL"}
            regions = table[table["region"] != "ALL"].groupby("quarter")["patents_granted"].sum()
            assert np.allclose(regions.to_numpy(), table[table["region"] == "ALL"].set_index("quarter")["patents_granted"].loc[regions.index])
            summary = model.summary()
            assert (summary["spillover_patents_per_year"] > 0) == (rate > 0)
            total += table[table["region"] == "ROC"]["patents_granted"].sum()
        patents[rate] = total
    assert patents[0.1] > 1.1 * patents[0.0], patents


def test_mesa_datacollector_records_the_national_headline_series_every_quarter():
    model = InnovationEconomy("baseline", rng=5, overrides={"run.scale": 1000.0})
    model.run(5)
    collected = model.datacollector.get_model_vars_dataframe()
    national = model.timeseries().query("region == 'ALL'").reset_index(drop=True)
    assert len(collected) == 5
    for name in ("firms_alive", "tech_loan_balance_rmb", "access_rate", "npl_ratio", "vc_invested_rmb", "fiscal_cost_rmb"):
        assert np.allclose(collected[name].to_numpy(), national[name].to_numpy(), equal_nan=True), name


def test_banks_do_not_draw_relending_dearer_than_their_own_funding():
    cheap = InnovationEconomy("baseline", rng=3, overrides={"run.scale": 1000.0, "relending.rate": 0.010})
    dear = InnovationEconomy("baseline", rng=3, overrides={"run.scale": 1000.0, "relending.rate": 0.020})  # funding cost 1.6 %
    cheap.run(4)
    dear.run(4)
    assert cheap.timeseries()["relending_new_rmb"].sum() > 0
    assert dear.timeseries()["relending_new_rmb"].sum() == 0


def test_no_new_loan_to_a_firm_in_arrears():
    model = InnovationEconomy("baseline", rng=3, overrides={"run.scale": 1000.0})
    model.run(2)
    rows = model.population.alive_rows()
    need = np.full(len(rows), 5e6)
    arrears = model.population.column("arrears_q")
    arrears[rows[::2]] = 1
    granted = credit.lend(model, rows, need)
    assert granted[::2].sum() == 0 and granted[1::2].sum() > 0


def test_firm_size_stays_bounded_over_a_century():
    model = InnovationEconomy("baseline", rng=2, overrides={"run.scale": 2000.0})
    model.run(400)
    size = model.population.column("size")[model.population.alive_rows()]
    assert size.max() <= lifecycle.MAX_LOG_SIZE
    assert 0.4 < size.std() < 1.2  # mean reversion keeps the dispersion near revenue_sigma = 0.8


def test_fund_irr_of_a_long_series_is_finite_without_warnings():
    flows = [-1.0] + [0.0] * 398 + [3.0]
    (irr,) = irr_annual_each([flows])
    assert np.isfinite(irr) and 0 < irr < 0.02
