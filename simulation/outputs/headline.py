"""Headline KPIs: which numbers a researcher sees first, with labels and units.

Used by the ``innofin run`` table, ``report.md`` and ``innofin compare``.
Each :class:`Kpi` names a key of ``model.summary()`` and, where one exists,
the matching column of the timeseries (region ``ALL``) for charts over time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Kpi:
    """One headline number.

    Attributes:
        key: key in ``summary()`` (``summary.json``).
        label: words for tables and charts.
        unit: ``"rmb_bn"`` (shown in RMB bn), ``"share"`` (shown in %), ``"count"`` or ``"ratio"``.
        column: timeseries column with the same quantity per quarter, or ``None``.
    """

    key: str
    label: str
    unit: str
    column: str | None = None
    series: str = ""

    @property
    def series_label(self) -> str:
        """Words for the quarterly ``column`` in charts (``"Fiscal cost per quarter"``)."""
        return self.series or self.label

    def format(self, value: float) -> str:
        """The value as text with its unit (``"RMB 3,630 bn"``, ``"50.2 %"``, ``"566,000"``)."""
        return format_value(value, self.unit)

    @property
    def unit_text(self) -> str:
        return UNIT_TEXT[self.unit]


UNIT_TEXT = {"rmb_bn": "RMB bn", "share": "%", "count": "number", "ratio": "yuan per yuan"}

HEADLINE_KPIS: tuple[Kpi, ...] = (
    Kpi("firms_alive", "Tech SMEs alive (end)", "count", "firms_alive", "Tech SMEs alive"),
    Kpi("entries_per_year", "New firms per year", "count", "entries", "New firms per quarter"),
    Kpi("failures_per_year", "Failures per year", "count", "exits_failure", "Failures per quarter"),
    Kpi("ipo_exits_per_year", "IPO exits per year", "count", "exits_ipo", "IPO exits per quarter"),
    Kpi("patents_per_year", "Patents granted per year", "count", "patents_granted", "Patents granted per quarter"),
    Kpi("tech_loan_balance_rmb", "Tech-SME loan balance (end)", "rmb_bn", "tech_loan_balance_rmb", "Tech-SME loan balance"),
    Kpi("new_loans_per_year_rmb", "New tech loans per year", "rmb_bn", "new_loans_rmb", "New tech loans per quarter"),
    Kpi("access_rate", "Firms with a loan (access rate)", "share", "access_rate"),
    Kpi("avg_loan_rate", "Average new-loan rate", "share", "avg_loan_rate", "Average new-loan rate (per year)"),
    Kpi("npl_ratio", "NPL ratio of tech loans", "share", "npl_ratio"),
    Kpi("relending_outstanding_rmb", "Relending outstanding (end)", "rmb_bn", "relending_outstanding_rmb", "Relending outstanding"),
    Kpi("vc_invested_per_year_rmb", "VC invested per year", "rmb_bn", "vc_invested_rmb", "VC invested per quarter"),
    Kpi("early_financing_gap_share", "Early-stage financing gap", "share", None),
    Kpi("fiscal_cost_per_year_rmb", "Fiscal cost per year", "rmb_bn", "fiscal_cost_rmb", "Fiscal cost per quarter"),
    Kpi("private_per_public_yuan", "Private money per public yuan", "ratio", None),
)


def format_value(value: float | None, unit: str) -> str:
    """Format a number for people: RMB in billions, shares in per cent, counts with separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if unit == "rmb_bn":
        billions = value / 1e9
        return f"RMB {billions:,.0f} bn" if abs(billions) >= 100 else f"RMB {billions:,.1f} bn"
    if unit == "share":
        return f"{value * 100:.2f} %" if abs(value) < 0.1 else f"{value * 100:.1f} %"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def format_difference(value: float | None, unit: str) -> str:
    """A signed difference: RMB in bn, shares in percentage points (``"+0.93 pp"``)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if unit == "rmb_bn":
        return f"RMB {value / 1e9:+,.1f} bn"
    if unit == "share":
        return f"{value * 100:+.2f} pp"
    if unit == "count":
        return f"{value:+,.0f}" if round(value) != 0 else "0"
    return f"{value:+,.2f}"


def scale_for_unit(unit: str) -> float:
    """Divide raw values by this to get the displayed unit (RMB → RMB bn, share → %)."""
    return {"rmb_bn": 1e9, "share": 0.01}.get(unit, 1.0)


_SHARE_ENDINGS = ("_rate", "_ratio", "_share", "share", "utilisation", "_rate_annual", "_subsidy", "_ltv")


def unit_of(name: str) -> str:
    """The display unit of a KPI, timeseries column or dotted parameter from its name.

    ``"rmb_bn"`` for amounts in RMB (``*_rmb``, ``*_rmb_*``), ``"share"`` for rates, ratios and shares
    (shown in %), otherwise ``""`` (counts, multipliers, years: shown as they are).
    """
    last = name.rsplit(".", 1)[-1]
    if last.endswith("_rmb") or "_rmb_" in last:
        return "rmb_bn"
    if last in ("rate", "share") or last.endswith(_SHARE_ENDINGS) or "_share_" in last:
        return "share"
    return ""


def axis_label(name: str) -> tuple[float, str]:
    """``(divisor, label)`` to draw ``name`` on an axis in people's units, e.g. ``(1e9, "tech_loan_balance_rmb (RMB bn)")``."""
    unit = unit_of(name)
    return scale_for_unit(unit), f"{name} ({UNIT_TEXT[unit]})" if unit else name
