"""Direction of effect of the levers, with common random numbers over 10 paired seeds.

Each test runs the same seeds with and without a lever change and checks the
mean paired difference of the KPI the source expects to move.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulation import simulate
from tests.conftest import SMALL, paired_seeds

pytestmark = pytest.mark.slow


def paired_differences(kpis: list[str], base: dict, changed: dict, quarters: int = 12) -> np.ndarray:
    """Rows: seeds; columns: ``changed − base`` for each KPI."""
    rows = []
    for seed in paired_seeds(10):
        a = simulate(seed=seed, quarters=quarters, **{**SMALL, **base})
        b = simulate(seed=seed, quarters=quarters, **{**SMALL, **changed})
        rows.append([b[k] - a[k] for k in kpis])
    return np.array(rows)


def t_stat(column: np.ndarray) -> float:
    return float(column.mean() / (column.std(ddof=1) / np.sqrt(len(column)) + 1e-300))


def test_relending_rate_cut_lowers_eligible_rates_and_raises_early_credit():
    d = paired_differences(["avg_eligible_loan_rate", "early_stage_loans_per_year_rmb"], {}, {"relending.rate": 0.0075})
    assert (d[:, 0] < 0).all(), "every seed should see cheaper relending-funded loans"
    assert d[:, 1].mean() > 0 and (d[:, 1] > 0).mean() >= 0.7


def test_data_sharing_improves_screening():
    d = paired_differences(["npl_ratio", "new_loans_per_year_rmb"], {"credit.data_sharing": 0.0}, {"credit.data_sharing": 1.0})
    lower_npl_similar_volume = t_stat(d[:, 0]) < -1.5 and d[:, 1].mean() > -0.02 * 4e12
    more_credit_similar_npl = t_stat(d[:, 1]) > 1.5 and d[:, 0].mean() < 0.002
    assert lower_npl_similar_volume or more_credit_similar_npl


def test_stronger_ip_protection_expands_ip_pledge_lending():
    d = paired_differences(["ip_pledge_loan_per_year_rmb"], {"ip.protection": 0.3}, {"ip.protection": 0.9})
    assert (d[:, 0] > 0).mean() >= 0.9


def test_investment_loan_linkage_lends_more_to_growth_firms():
    d = paired_differences(["growth_stage_loans_per_year_rmb"], {"linkage.enabled": False}, {"linkage.enabled": True})
    assert t_stat(d[:, 0]) > 2.0


def test_closed_ipo_window_means_fewer_ipos_and_lower_vc_returns():
    d = paired_differences(["ipo_exits_per_year", "vc_exit_proceeds_per_year_rmb", "fund_tvpi_pooled"], {}, {"vc.ipo_window": 0.0}, quarters=16)
    assert (d[:, 0] <= 0).all() and d[:, 0].mean() < 0
    assert (d[:, 1] <= 0).mean() >= 0.8
    assert d[:, 2].mean() < 0


def test_larger_risk_pool_lends_more_to_early_firms_at_higher_fiscal_cost():
    d = paired_differences(["early_stage_loans_per_year_rmb", "fiscal_cost_per_year_rmb"], {},
                           {"risk_pool.share": 0.9, "risk_pool.budget_annual_rmb": 2.0e10})
    assert d[:, 0].mean() > 0 and (d[:, 0] > 0).mean() >= 0.7
    assert (d[:, 1] > 0).mean() >= 0.9
