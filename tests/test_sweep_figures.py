"""Figures of sweeps and comparisons speak in people's units: RMB bn and %, words rather than column names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation.experiments import figures
from simulation.experiments.compare import CompareResult, plot_kpi
from simulation.outputs.headline import HEADLINE_KPIS, axis_label, unit_of


def test_units_are_read_from_names():
    assert unit_of("tech_loan_balance_rmb") == unit_of("relending.quota_rmb") == "rmb_bn"
    assert unit_of("access_rate") == unit_of("relending.rate") == unit_of("risk_pool.share") == unit_of("npl_ratio") == "share"
    assert unit_of("firms_alive") == unit_of("vc.ipo_window") == unit_of("guidance.life_years") == ""
    assert axis_label("fiscal_cost_per_year_rmb") == (1e9, "fiscal_cost_per_year_rmb (RMB bn)")


def grid_runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for point, (rate, quota) in enumerate((r, q) for r in (0.01, 0.02) for q in (0.6e12, 1.2e12)):
        for replicate in range(3):
            rows.append({"run_id": len(rows), "point_id": point, "replicate": replicate, "seed": replicate, "status": "ok",
                         "relending.rate": rate, "relending.quota_rmb": quota,
                         "tech_loan_balance_rmb": 8e12 + quota * 0.1 + rng.normal(0, 1e11), "access_rate": 0.5 + rate + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def test_scatter_and_heatmap_draw_money_in_rmb_bn_and_rates_in_percent():
    runs = grid_runs()
    scatter = figures.kpi_scatter(runs, ["relending.rate", "relending.quota_rmb"], "tech_loan_balance_rmb")
    rate_ax, quota_ax = scatter.axes[:2]
    assert rate_ax.get_xlabel() == "relending.rate (%)" and quota_ax.get_xlabel() == "relending.quota_rmb (RMB bn)"
    assert rate_ax.get_ylabel() == "tech_loan_balance_rmb (RMB bn)"
    x, y = rate_ax.collections[0].get_offsets().T
    assert set(np.round(x, 6)) == {1.0, 2.0} and 7_000 < y.min() and y.max() < 10_000
    heatmap = figures.grid_heatmap(runs, "relending.rate", "relending.quota_rmb", "access_rate")
    ax = heatmap.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"] and [t.get_text() for t in ax.get_yticklabels()] == ["1200", "600"]
    cells = [float(t.get_text()) for t in ax.texts]
    assert all(40 < value < 60 for value in cells)  # per cent, not a fraction
    assert heatmap.axes[1].get_ylabel() == "access_rate (%)"


def test_comparison_charts_are_titled_in_words():
    quarters = ["2026Q1", "2026Q2", "2026Q3"]
    ts = pd.DataFrame([{"scenario": name, "seed": seed, "quarter": q, "fiscal_cost_rmb": 1e10 * (1 + i + (name == "b")) + seed * 1e8}
                       for name in ("a", "b") for seed in (1, 2, 3) for i, q in enumerate(quarters)])
    result = CompareResult(["a", "b"], [1, 2, 3], pd.DataFrame(), pd.DataFrame(), ts)
    kpi = next(k for k in HEADLINE_KPIS if k.key == "fiscal_cost_per_year_rmb")
    left, right = plot_kpi(result, kpi).axes
    assert left.get_title().startswith("Fiscal cost per quarter") and "fiscal_cost_rmb" not in left.get_title()
    assert left.get_ylabel() == "Fiscal cost per quarter (RMB bn)" and right.get_ylabel() == "difference (RMB bn)"
    assert 5 < max(left.lines[0].get_ydata()) < 50  # drawn in RMB bn
