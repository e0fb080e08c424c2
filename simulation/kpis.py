"""Headline KPIs of a run: the numbers ``simulate()`` returns and ``summary.json`` holds.

Flows are averaged per year over the run; stocks and ratios are taken over the
last four quarters (or fewer if the run is shorter). Money in RMB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.agents.venture import FundKind, irr_annual_each

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def headline_kpis(model: InnovationEconomy) -> dict[str, float]:
    """The run's headline numbers (all floats)."""
    ts = model.timeseries()
    if ts.empty:
        return {}
    total = ts[ts["region"] == "ALL"].reset_index(drop=True)
    years = len(total) / 4.0
    last = total.tail(min(4, len(total)))

    def per_year(column: str) -> float:
        return float(total[column].sum() / years)

    new_loans = total["new_loans_rmb"].sum()
    rate = float((total["avg_loan_rate"].fillna(0) * total["new_loans_rmb"]).sum() / new_loans) if new_loans else float("nan")
    eligible = total["avg_eligible_loan_rate"]
    kpis: dict[str, float] = {
        "firms_alive": float(last["firms_alive"].iloc[-1]),
        "entries_per_year": per_year("entries"),
        "ipo_exits_per_year": per_year("exits_ipo"),
        "ma_exits_per_year": per_year("exits_ma"),
        "failures_per_year": per_year("exits_failure"),
        "patents_per_year": per_year("patents_granted"),
        "rd_spending_per_year_rmb": per_year("rd_spending_rmb"),
        "revenue_per_year_rmb": per_year("revenue_rmb"),
        "tech_loan_balance_rmb": float(last["tech_loan_balance_rmb"].iloc[-1]),
        "new_loans_per_year_rmb": per_year("new_loans_rmb"),
        "early_stage_loans_per_year_rmb": per_year("new_loans_early_rmb"),
        "growth_stage_loans_per_year_rmb": per_year("new_loans_growth_rmb"),
        "access_rate": float(last["access_rate"].mean()),
        "approval_rate": _nanmean(total["approval_rate"]),
        "avg_loan_rate": rate,
        "avg_eligible_loan_rate": _nanmean(eligible),
        "npl_ratio": float(last["npl_ratio"].mean()),
        "default_rate_annual": float(total["defaulted_rmb"].sum() / years / max(total["tech_loan_balance_rmb"].mean(), 1.0)),
        "relending_outstanding_rmb": float(last["relending_outstanding_rmb"].iloc[-1]),
        "relending_utilisation": float(last["relending_outstanding_rmb"].iloc[-1] / model.params.relending.quota_rmb) if model.params.relending.quota_rmb else 0.0,
        "vc_invested_per_year_rmb": per_year("vc_invested_rmb"),
        "vc_deals_per_year": per_year("vc_deals"),
        "insurance_premiums_per_year_rmb": per_year("insurance_premiums_rmb"),
        "insurance_loss_ratio": float(total["insurance_claims_rmb"].sum() / max(total["insurance_premiums_rmb"].sum(), 1.0)),
        "guarantee_payouts_per_year_rmb": per_year("guarantee_payouts_rmb"),
        "risk_pool_payouts_per_year_rmb": per_year("risk_pool_payouts_rmb"),
        "subsidies_per_year_rmb": per_year("subsidies_rmb"),
        "fiscal_cost_per_year_rmb": per_year("fiscal_cost_rmb"),
        "private_per_public_yuan": float(total["private_mobilised_rmb"].sum() / total["fiscal_cost_rmb"].sum()) if total["fiscal_cost_rmb"].sum() > 0 else float("nan"),
        "early_financing_gap_share": float(total["financing_gap_rmb"].sum() / max(total["early_need_rmb"].sum(), 1.0)),
        "spillover_patents_per_year": per_year("spillover_patents"),
    }
    market = [f for f in model.equity.funds if f.kind == FundKind.MARKET and f.paid_in_rmb > 0]
    tvpi = [f.tvpi for f in market]
    irr = irr_annual_each([f.irr_flows() for f in market])
    paid = sum(f.paid_in_rmb for f in market)
    kpis["fund_tvpi_pooled"] = float(sum(f.distributed_rmb + f.nav_rmb for f in market) / paid) if paid else float("nan")
    kpis["vc_exit_proceeds_per_year_rmb"] = per_year("vc_exit_proceeds_rmb")
    channels = model.channels()
    if not channels.empty:
        by_channel = channels[channels["region"] == "ALL"].groupby("channel")["new_amount_rmb"].sum() / years
        for channel, value in by_channel.items():
            kpis[f"{channel}_per_year_rmb"] = float(value)
    kpis["fund_tvpi_median"] = float(np.nanmedian(tvpi)) if tvpi else float("nan")
    kpis["fund_irr_median"] = float(np.nanmedian(irr)) if irr and np.isfinite(irr).any() else float("nan")
    patents = ts[ts["region"] != "ALL"].groupby("region")["patents_granted"].sum()
    for region, value in patents.items():
        kpis[f"patent_share_{region}"] = float(value / max(patents.sum(), 1.0))
    banks = model.banks_table()
    if not banks.empty:
        final = banks[banks["quarter"] == banks["quarter"].iloc[-1]]
        big4 = final[final["bank"].isin(["ICBC", "CCB", "ABC", "BOC"])]["loans_rmb"].sum()
        kpis["big4_share_of_tech_loans"] = float(big4 / max(final["loans_rmb"].sum(), 1.0))
        kpis["min_bank_capital_ratio"] = float(final["capital_ratio"].min())
    kpis["ledger_max_abs_error_rmb"] = float(max(model.ledger_errors, default=0.0))
    return kpis
