"""The policy levers researchers change most, as a Markdown table generated from the schema.

The README's lever table is this module's output (a test keeps them equal)::

    python -m simulation.scenario.levers     # prints the table

Every other parameter is listed in ``docs/parameters.md``.
"""

from __future__ import annotations

from typing import Any

from simulation.scenario.fields import allowed_values, field_at
from simulation.scenario.schema import Scenario
from simulation.scenario.write_baseline import _format

# (dotted key, short name of the policy lever)
LEVERS: tuple[tuple[str, str], ...] = (
    ("relending.quota_rmb", "PBoC S&T relending quota"),
    ("relending.rate", "relending rate to banks"),
    ("relending.refinanced_share", "share of an eligible loan refinanced"),
    ("relending.loan_rate_cap", "cap on rates of relending-funded loans"),
    ("relending.interest_subsidy_pp", "fiscal interest subsidy to borrowers"),
    ("relending.first_loan_earmark", "quota reserved for first loans"),
    ("credit.tech_flow_weight", "technology-flow vs collateral assessment"),
    ("credit.data_sharing", "data sharing with governments, parks, institutes"),
    ("credit.ai_assessment", "big-data / AI credit assessment"),
    ("banks.renewal_without_repayment", "loan renewal without repaying principal"),
    ("ip.protection", "IP protection strength"),
    ("ip.pledge_ltv", "IP pledge loan-to-value"),
    ("ip.recovery_on_disposal", "recovery when pledged IP is sold"),
    ("linkage.enabled", "investment-loan linkage"),
    ("linkage.equity_per_loan", "equity per yuan of linkage loan"),
    ("supply_chain.enabled", "supply-chain finance"),
    ("supply_chain.anchor_coverage", "anchors whose receivables banks accept"),
    ("guarantee.bank_share", "bank's share of guaranteed-loan losses"),
    ("guarantee.national_share", "National Financing Guarantee Fund share"),
    ("guarantee.fee", "guarantee fee"),
    ("risk_pool.share", "risk-compensation pool share of losses"),
    ("risk_pool.budget_annual_rmb", "risk-compensation pool budget"),
    ("insurance.premium_subsidy", "government share of tech-insurance premiums"),
    ("subsidy.budget_annual_rmb", "R&D subsidy budget"),
    ("guidance.early_share", "guidance funds' seed/early share"),
    ("guidance.life_years", "guidance fund life"),
    ("guidance.reinvestment_requirement", "返投 reinvestment requirement"),
    ("vc.fund_life_years", "market VC fund life"),
    ("vc.fundraising_shock", "shock to VC fundraising"),
    ("vc.ipo_window", "IPO window"),
    ("regions.BTH.center_scope", "center = region or core cities (also YRD, GBA)"),
    ("run.scale", "real firms per firm agent (speed vs detail)"),
    ("run.quarters", "length of the run"),
)


def _value_at(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and abs(value) >= 1e5:
        return _format(value)
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def lever_table() -> str:
    """The Markdown lever table: dotted key, default, allowed values, meaning and source."""
    defaults = Scenario().model_dump(mode="json")
    lines = ["| dotted key | lever | default | allowed | unit, source (calibration notes § and grade) |", "|---|---|---|---|---|"]
    for key, lever in LEVERS:
        info = field_at(Scenario, tuple(key.split(".")))
        if info is None:
            raise KeyError(f"{key} is not a scenario parameter")
        description = (info.description or "").replace("|", "/")
        lines.append(f"| `{key}` | {lever} | {_show(_value_at(defaults, key))} | {allowed_values(info) or ('true/false' if isinstance(_value_at(defaults, key), bool) else '')} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(lever_table(), end="")
