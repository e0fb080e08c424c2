"""The baseline against calibration targets (calibration.md §9.7) and stylized facts, over several seeds."""

from __future__ import annotations

import numpy as np
import pytest

from simulation import InnovationEconomy
from tests.conftest import paired_seeds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    models = []
    for seed in paired_seeds(3, base=7):
        model = InnovationEconomy("baseline", rng=seed, overrides={"run.scale": 200.0})
        model.run(20)
        models.append(model)
    return models


def test_patent_shares_follow_the_regional_patent_stock(runs):
    for model in runs:
        k = model.summary()
        assert abs(k["patent_share_YRD"] - 0.49) < 0.05
        assert abs(k["patent_share_BTH"] - 0.26) < 0.05
        assert abs(k["patent_share_GBA"] - 0.25) < 0.05


def test_access_rate_near_the_pboc_series(runs):
    # target 50.2 % (PBoC, end-2025); the current calibration sits below it, see docs/model.md
    rates = [model.summary()["access_rate"] for model in runs]
    assert 0.30 < np.mean(rates) < 0.65


def test_big_banks_lead_tech_lending_in_market_share_order(runs):
    fresh = InnovationEconomy("baseline", rng=1, overrides={"run.scale": 200.0})
    loans = {bank.name: bank.loans_rmb for bank in fresh.banks}
    assert loans["ICBC"] > loans["CCB"] > loans["ABC"] > loans["BOC"] > loans["BOCOM"] > loans["PSBC"]
    big4 = sum(loans[name] for name in ("ICBC", "CCB", "ABC", "BOC")) / sum(loans.values())
    assert abs(big4 - 0.46) < 0.01  # §2.3: the big four hold about 46 % of tech loans
    for model in runs:
        banks = model.banks_table()
        last = banks[banks["quarter"] == banks["quarter"].iloc[-1]].set_index("bank")["loans_rmb"]
        assert min(last["ICBC"], last["CCB"]) > max(last["BOCOM"], last["PSBC"])
        share = model.summary()["big4_share_of_tech_loans"]
        assert 0.40 < share < 0.65


def test_exit_hazard_rises_to_a_peak_in_years_two_to_four(runs):
    hazard = np.nanmean([m.hazard_by_age()["hazard_annual"].to_numpy() for m in runs], axis=0)
    peak = int(np.nanargmax(hazard[:8]))
    assert 1 <= peak <= 3, hazard[:8]
    assert hazard[0] < 0.5 * hazard[peak]
    assert hazard[8:].mean() < hazard[peak]


def test_relending_facility_is_used_but_within_quota(runs):
    for model in runs:
        k = model.summary()
        assert 0.2 < k["relending_utilisation"] <= 1.0 + 1e-9


def test_venture_outcomes_are_heavy_tailed_with_most_deals_below_cost(runs):
    outcomes = np.concatenate([np.array(m.equity.outcomes) for m in runs if m.equity.outcomes])
    multiple = outcomes[:, 1] / outcomes[:, 0]
    assert (multiple < 1.0).mean() > 0.5
    assert multiple.max() > 5.0


def test_firm_sizes_are_skewed_and_growth_rates_fat_tailed(runs):
    model = runs[0]
    firms = model.firms_table()
    revenue = firms.loc[firms["revenue"] > 0, "revenue"].to_numpy()
    assert revenue.mean() > 1.5 * np.median(revenue)  # right-skewed size distribution
    rows = model.population.alive_rows()
    before = np.log(np.maximum(model.population.column("revenue")[rows], 1.0))
    stage_before = model.population.column("stage")[rows].copy()
    model.step()
    keep = model.population.column("alive")[rows] & (model.population.column("stage")[rows] == stage_before) & (stage_before > 0)
    growth = np.log(model.population.column("revenue")[rows[keep]]) - before[keep]
    growth = growth - growth.mean()
    kurtosis = (growth**4).mean() / (growth**2).mean() ** 2
    assert kurtosis > 4.0, kurtosis  # a normal distribution has 3
