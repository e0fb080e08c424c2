"""``report.md``: the headline numbers of a run in words and in a table, with the dashboard."""

from __future__ import annotations

from typing import Any

from simulation.outputs.headline import HEADLINE_KPIS, format_value


def _get(summary: dict[str, Any], key: str) -> float:
    value = summary.get(key)
    return float("nan") if value is None else float(value)


def headline_sentences(summary: dict[str, Any], end_quarter: str) -> list[str]:
    """A few plain-language sentences about the run's results."""
    def f(key: str, unit: str) -> str:
        return format_value(_get(summary, key), unit)

    return [
        (f"By {end_quarter}, {f('firms_alive', 'count')} tech SMEs are alive; each year about "
        f"{f('entries_per_year', 'count')} firms enter, {f('failures_per_year', 'count')} fail and "
        f"{f('ipo_exits_per_year', 'count')} list on a stock exchange."),
        (f"Banks hold {f('tech_loan_balance_rmb', 'rmb_bn')} of tech-SME loans and lend {f('new_loans_per_year_rmb', 'rmb_bn')} "
        f"a year; {f('access_rate', 'share')} of firms have a loan, at an average new-loan rate of {f('avg_loan_rate', 'share')}, "
        f"and {f('npl_ratio', 'share')} of the balance is non-performing."),
        (f"The PBoC relending facility refinances {f('relending_outstanding_rmb', 'rmb_bn')} of these loans at the end "
        f"({f('relending_utilisation', 'share')} of the quota)."),
        (f"Venture funds invest {f('vc_invested_per_year_rmb', 'rmb_bn')} a year; early-stage firms still miss "
        f"{f('early_financing_gap_share', 'share')} of the money they seek."),
        (f"Governments spend {f('fiscal_cost_per_year_rmb', 'rmb_bn')} a year (R&D and interest subsidies, guarantee and "
        "risk-pool payouts, insurance premium subsidies, and public capital for guidance funds net of what the funds pay back); "
        f"each public yuan goes with {f('private_per_public_yuan', 'ratio')} yuan of private money."),
    ]


def report_markdown(summary: dict[str, Any], manifest: dict[str, Any], question: str, end_quarter: str,
                    dashboard: str | None = "dashboard.png") -> str:
    """The text of ``report.md``."""
    lines = [
        f"# InnoFin run: {manifest['scenario']}",
        "",
        f"*Question:* {question}" if question else "",
        "",
        (f"Seed {manifest['seed']}, {manifest['quarters']} quarters from {manifest['start_quarter']} to {end_quarter}, "
        f"one firm agent per {manifest['scale']:g} real firms. Money in RMB (real-world amounts); flows are averages per year "
        "over the run, stocks and ratios refer to the last year."),
        "",
        "## Headline results",
        "",
        *[f"- {sentence}" for sentence in headline_sentences(summary, end_quarter)],
        "",
        "| Indicator | Value | Key in summary.json |",
        "|---|---:|---|",
        *[f"| {kpi.label} | {kpi.format(_get(summary, kpi.key))} | `{kpi.key}` |" for kpi in HEADLINE_KPIS],
        "",
        f"Stock-flow check: largest ledger error {_get(summary, 'ledger_max_abs_error_rmb'):.3g} RMB.",
        "",
    ]
    if dashboard:
        lines += ["## Dashboard", "", f"![Dashboard of the run]({dashboard})", ""]
    lines += [
        "## Files",
        "",
        ("`timeseries.parquet/.csv` (quarter × region, with region ALL), `channels.parquet/.csv` (financing channels), "
        "`banks.parquet`, `funds.parquet`, `events.parquet`, `flows.parquet`, `summary.json` (all headline KPIs), "
        "`scenario.toml` (the resolved scenario: rerun with `innofin run scenario.toml --seed "
        f"{manifest['seed']}`), `manifest.json` (versions, commit, command line)."),
        "",
    ]
    return "\n".join(lines)
