"""The one-page dashboard of a run (``dashboard.png``), drawn with matplotlib.

Six panels a researcher can put on a slide: firms by stage per region, new
credit by channel, access rate and average loan rate, NPL ratio by region, VC
investment by round, and fiscal cost against private money mobilised.
Money is shown in RMB bn, rates and ratios in per cent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

STAGES = (("firms_seed", "Seed"), ("firms_early", "Early"), ("firms_growth", "Growth"), ("firms_mature", "Mature"))
VC_ROUNDS = (("vc_invested_seed_rmb", "Seed"), ("vc_invested_A_rmb", "Series A"), ("vc_invested_B_rmb", "Series B"),
             ("vc_invested_Cplus_rmb", "Series C+"))
LOAN_CHANNELS = (
    ("collateral_loan", "Collateral"), ("credit_loan", "Credit (unsecured)"), ("ip_pledge_loan", "IP pledge"),
    ("supply_chain_loan", "Supply chain"), ("project_loan", "Project"), ("linkage_loan", "Investment-loan linkage"),
    ("guaranteed_loan", "Government-guaranteed"),
)
BN = 1e9


def _quarter_axis(ax: Axes, quarters: list[str]) -> None:
    """Label the x axis with years (one tick per first quarter, at most ~10 labels)."""
    positions = [i for i, q in enumerate(quarters) if q.endswith("Q1")] or [0]
    step = max(1, int(np.ceil(len(positions) / 10)))
    positions = positions[::step]
    ax.set_xticks(positions)
    ax.set_xticklabels([quarters[i][:4] for i in positions])
    ax.set_xlim(-0.5, max(len(quarters) - 0.5, 0.5))
    ax.grid(axis="y", alpha=0.3)


def _firms_by_stage(ax: Axes, ts: pd.DataFrame) -> None:
    last = ts[ts["quarter"] == ts["quarter"].iloc[-1]]
    regions = last[last["region"] != "ALL"].set_index("region")
    bottom = np.zeros(len(regions))
    for column, label in STAGES:
        values = regions[column].to_numpy(dtype=float) / 1e3
        ax.bar(regions.index, values, bottom=bottom, label=label)
        bottom += values
    ax.set_title(f"Tech SMEs by stage and region, {last['quarter'].iloc[0]}")
    ax.set_ylabel("thousand firms")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)


def _credit_by_channel(ax: Axes, channels: pd.DataFrame, quarters: list[str]) -> None:
    total = channels[channels["region"] == "ALL"].pivot_table(index="quarter", columns="channel", values="new_amount_rmb", aggfunc="sum")
    total = total.reindex(quarters).fillna(0.0)
    x = np.arange(len(quarters))
    series = [(label, total[name].to_numpy() / BN) for name, label in LOAN_CHANNELS if name in total]
    if series:
        ax.stackplot(x, *[values for _, values in series], labels=[label for label, _ in series], alpha=0.85)
    ax.set_ylim(0, max(float(np.sum([v for _, v in series], axis=0).max()) * 1.35, 1.0) if series else 1.0)
    ax.set_title("New tech loans by channel")
    ax.set_ylabel("RMB bn per quarter")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    _quarter_axis(ax, quarters)


def _access_and_rate(ax: Axes, total: pd.DataFrame, quarters: list[str]) -> None:
    x = np.arange(len(quarters))
    ax.plot(x, total["access_rate"] * 100, color="tab:blue", label="Firms with a loan (left)")
    ax.set_ylabel("access rate, % of firms", color="tab:blue")
    ax.set_ylim(0, max(100.0, float(np.nanmax(total["access_rate"] * 100)) if len(total) else 100.0))
    right = ax.twinx()
    right.plot(x, total["avg_loan_rate"] * 100, color="tab:red", label="Average new-loan rate (right)")
    right.set_ylabel("average new-loan rate, % per year", color="tab:red")
    top = float(np.nanmax(total["avg_loan_rate"] * 100)) if total["avg_loan_rate"].notna().any() else 5.0
    right.set_ylim(0, max(top * 1.3, 1.0))
    ax.set_title("Access to credit and its price")
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="lower left")
    _quarter_axis(ax, quarters)


def _npl(ax: Axes, ts: pd.DataFrame, quarters: list[str]) -> None:
    x = np.arange(len(quarters))
    for region, rows in ts.groupby("region", sort=False):
        rows = rows.set_index("quarter").reindex(quarters)
        style = {"color": "black", "linewidth": 2.2} if region == "ALL" else {"linewidth": 1.2}
        ax.plot(x, rows["npl_ratio"] * 100, label="All regions" if region == "ALL" else region, **style)
    ax.set_title("Non-performing tech loans")
    ax.set_ylabel("NPL ratio, % of balance")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    _quarter_axis(ax, quarters)


def _vc_by_round(ax: Axes, total: pd.DataFrame) -> None:
    years = total["quarter"].str[:4]
    by_year = total.groupby(years, sort=True)[[c for c, _ in VC_ROUNDS]].sum() / BN
    bottom = np.zeros(len(by_year))
    for column, label in VC_ROUNDS:
        ax.bar(by_year.index, by_year[column], bottom=bottom, label=label)
        bottom += by_year[column].to_numpy()
    ax.set_ylim(0, max(float(bottom.max()) * 1.1, 1.0) if len(bottom) else 1.0)
    ax.set_title("Venture capital invested by round")
    ax.set_ylabel("RMB bn per year")
    ax.tick_params(axis="x", labelrotation=45 if len(by_year) > 6 else 0)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _fiscal_vs_private(ax: Axes, total: pd.DataFrame, quarters: list[str]) -> None:
    x = np.arange(len(quarters))
    fiscal = total["fiscal_cost_rmb"].to_numpy() / BN
    private = total["private_mobilised_rmb"].to_numpy() / BN
    ratio = private.sum() / fiscal.sum() if fiscal.sum() > 0 else float("nan")
    ax.plot(x, private, color="tab:green", label=f"Private money mobilised: {ratio:,.1f} yuan per public yuan")
    ax.plot(x, fiscal, color="tab:purple", label="Fiscal cost (net of guidance-fund returns)")
    ax.set_title("Fiscal cost vs private money mobilised")
    ax.set_ylabel("RMB bn per quarter")
    lowest = float(np.nanmin(fiscal)) if len(fiscal) else 0.0
    highest = float(np.nanmax(np.concatenate([private, fiscal]))) if len(fiscal) else 1.0
    # Quarters when guidance funds pay back more than governments spend are shown below 0, not clipped;
    # the top leaves room for the legend above the lines.
    if lowest < 0:
        ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_ylim(bottom=lowest * 1.15 if lowest < 0 else 0.0, top=max(highest, 1e-9) * 1.3)
    ax.legend(fontsize=8, loc="upper right")
    _quarter_axis(ax, quarters)


def draw_dashboard(timeseries: pd.DataFrame, channels: pd.DataFrame, title: str) -> Figure:
    """The dashboard figure (16 × 10 inches) for one run's tables."""
    total = timeseries[timeseries["region"] == "ALL"].reset_index(drop=True)
    quarters = total["quarter"].tolist()
    fig = Figure(figsize=(16, 10), layout="constrained")
    axes = fig.subplots(2, 3)
    _firms_by_stage(axes[0, 0], timeseries)
    _credit_by_channel(axes[0, 1], channels, quarters)
    _access_and_rate(axes[0, 2], total, quarters)
    _npl(axes[1, 0], timeseries, quarters)
    _vc_by_round(axes[1, 1], total)
    _fiscal_vs_private(axes[1, 2], total, quarters)
    fig.suptitle(title, fontsize=14)
    return fig


def write_dashboard(timeseries: pd.DataFrame, channels: pd.DataFrame, path: str | Path, title: str, dpi: int = 100) -> Path:
    """Draw the dashboard and save it as PNG at ``path``."""
    fig = draw_dashboard(timeseries, channels, title)
    fig.savefig(path, dpi=dpi)
    return Path(path)
