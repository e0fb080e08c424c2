"""Matplotlib figures of a run, for the browser app and the lesson notebooks.

Every function takes result tables (as returned by ``model.timeseries()``,
``model.channels()``, ``model.firms_table()`` and ``model.last_flows``) and
returns a new :class:`matplotlib.figure.Figure`. Figures are built without
``pyplot``, so they are safe to draw from the app's worker threads and need
no closing. Money is shown in billion RMB (bn), rates and shares in percent.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

BN = 1e9
STAGES = ("seed", "early", "growth", "mature")
STAGE_COLOURS = ("#56B4E9", "#009E73", "#E69F00", "#D55E00")  # Okabe-Ito, colour-blind safe
REGION_COLOURS = {"BTH": "#0072B2", "YRD": "#009E73", "GBA": "#CC79A7", "ALL": "#000000"}
LOAN_CHANNELS = {
    "collateral_loan": "collateral",
    "credit_loan": "credit (unsecured)",
    "ip_pledge_loan": "IP pledge",
    "supply_chain_loan": "supply chain",
    "project_loan": "project",
    "linkage_loan": "investment-loan linkage",
    "guaranteed_loan": "guaranteed",
}
CHANNEL_COLOURS = ("#0072B2", "#56B4E9", "#CC79A7", "#F0E442", "#999999", "#D55E00", "#009E73")
VC_STAGES = {"vc_invested_seed_rmb": "seed", "vc_invested_A_rmb": "A", "vc_invested_B_rmb": "B", "vc_invested_Cplus_rmb": "C+"}
SECTOR_NAMES = {
    "firms": "tech firms", "banks": "banks", "venture_funds": "venture funds", "insurers": "insurers",
    "government": "government", "households": "households", "rest_of_world": "rest of world", "central_bank": "central bank",
}
SECTOR_COLOURS = {
    "firms": "#009E73", "banks": "#0072B2", "venture_funds": "#CC79A7", "insurers": "#F0E442",
    "government": "#D55E00", "households": "#999999", "rest_of_world": "#56B4E9", "central_bank": "#E69F00",
}
POLICY_SECTORS = ("central_bank", "government")
FIGSIZE = (6.4, 3.6)


PNG_OPTIONS = {"format": "png", "pil_kwargs": {"compress_level": 1}}
"""``savefig`` options for fast redraws (light PNG compression: encoding dominated at level 6)."""


def _figure(ncols: int = 1, figsize: tuple[float, float] = FIGSIZE, fig: Figure | None = None, margins: dict | None = None,
            **kwargs) -> tuple[Figure, np.ndarray]:
    """A new figure with one row of ``ncols`` axes, or ``fig`` emptied of its data for a redraw.

    Reusing a figure keeps its axes and tick artists, which are the slow part of a redraw.
    """
    if fig is not None and len(fig.axes) == ncols:
        for ax in fig.axes:
            for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.texts]:
                artist.remove()
            if ax.legend_ is not None:
                ax.legend_.remove()
            ax.set_axis_on()
            ax.set_autoscale_on(True)  # limits set on the last drawing (e.g. set_ylim(bottom=0)) switched it off
        for text in [t for t in fig.texts if t.get_gid() == "placeholder"]:
            text.remove()
        fig.suptitle("")
        return fig, np.array(fig.axes)
    # Fixed margins instead of a layout engine: constrained layout doubles the drawing time.
    fig = Figure(figsize=figsize, dpi=100)
    fig.subplots_adjust(**{"left": 0.09, "right": 0.98, "top": 0.86, "bottom": 0.2, "wspace": 0.25, **(margins or {})})
    axes = np.atleast_1d(fig.subplots(1, ncols, squeeze=False, **kwargs)[0])
    return fig, axes


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (text drawn without hinting: a sixth faster, hardly visible at 100 dpi)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"text.hinting": "none"}):
        fig.savefig(buffer, **PNG_OPTIONS)
    return buffer.getvalue()


def _empty(fig: Figure, axes: np.ndarray, title: str) -> Figure:
    """A placeholder figure before the first quarter."""
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.text(0.5, 0.5, "No quarter simulated yet:\npress Step or Play", ha="center", va="center", color="#555555", gid="placeholder")
    return fig


def _quarter_axis(ax, quarters: Sequence[str]) -> None:
    """Label the x axis with quarters, at most ~8 labels."""
    n = len(quarters)
    every = max(1, int(np.ceil(n / 5)))
    ticks = list(range(0, n, every))
    ax.set_xticks(ticks, [quarters[i] for i in ticks], fontsize=7, rotation=30, ha="right")
    ax.set_xlim(-0.5, max(n - 0.5, 0.5))
    ax.yaxis.set_major_locator(MaxNLocator(4))  # few ticks: creating tick artists dominates redraw time
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)


def _stacked(ax, series: Sequence[np.ndarray], colours: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Stacked quarterly bars drawn as one step patch per series (hundreds of bar patches redraw too slowly)."""
    n = len(series[0]) if series else 0
    edges = np.arange(n + 1) - 0.5
    bottom = np.zeros(n)
    for values, colour, label in zip(series, colours, labels):
        top = bottom + np.asarray(values, dtype=float)
        ax.stairs(top, edges, baseline=bottom, fill=True, color=colour, label=label)
        bottom = top
    return bottom


def _markers(n: int) -> dict:
    """Dots on short lines, so that the first quarters are visible."""
    return {"marker": "o", "ms": 3} if n <= 12 else {}


def _regions(ts: pd.DataFrame) -> list[str]:
    return [r for r in pd.unique(ts["region"]) if r != "ALL"]


def _all(ts: pd.DataFrame) -> pd.DataFrame:
    return ts[ts["region"] == "ALL"].reset_index(drop=True)


def firms_by_stage(ts: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """Firms alive by lifecycle stage, one stacked-area panel per region (thousand firms)."""
    regions = _regions(ts) if not ts.empty else ["BTH", "YRD", "GBA"]
    fig, axes = _figure(len(regions), fig=fig, sharey=True)
    if ts.empty:
        return _empty(fig, axes, "Firms by stage per region")
    for ax, region in zip(axes, regions):
        part = ts[ts["region"] == region]
        _stacked(ax, [part[f"firms_{stage}"].to_numpy() / 1e3 for stage in STAGES], STAGE_COLOURS, STAGES)
        ax.set_title(region, fontsize=10)
        _quarter_axis(ax, list(part["quarter"]))
    axes[0].set_ylabel("thousand firms", fontsize=8)
    axes[-1].legend(fontsize=7, loc="upper left", reverse=True)
    fig.suptitle("Firms by stage per region", fontsize=10)
    return fig


def credit_by_channel(channels: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """New tech lending per quarter by loan channel, all regions (bn RMB, stacked)."""
    fig, axes = _figure(fig=fig)
    ax = axes[0]
    if channels.empty:
        return _empty(fig, axes, "New credit by channel")
    nat = channels[(channels["region"] == "ALL") & channels["channel"].isin(list(LOAN_CHANNELS))]
    table = nat.pivot_table(index="quarter", columns="channel", values="new_amount_rmb", aggfunc="sum", sort=False)
    table = table.reindex(columns=[c for c in LOAN_CHANNELS if c in table.columns]).fillna(0.0) / BN
    top = _stacked(ax, [table[c].to_numpy() for c in table.columns], CHANNEL_COLOURS, [LOAN_CHANNELS[c] for c in table.columns])
    ax.set_title("New tech credit by channel (all regions)", fontsize=10)
    ax.set_ylabel("bn RMB per quarter", fontsize=8)
    _quarter_axis(ax, list(table.index))
    ax.legend(fontsize=6.5, loc="upper left", ncols=2, reverse=True)
    ax.set_ylim(0, max(top.max(), 1e-9) * 1.45)
    return fig


def access_and_rate(ts: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """Share of firms with a bank loan (left) and average rate on new loans (right), by region (%)."""
    fig, axes = _figure(2, fig=fig)
    if ts.empty:
        return _empty(fig, axes, "Credit access and loan rate")
    for region in [*_regions(ts), "ALL"]:
        part = ts[ts["region"] == region]
        x = np.arange(len(part))
        style = {"color": REGION_COLOURS.get(region, None), "lw": 2.2 if region == "ALL" else 1.3, "label": region, **_markers(len(part))}
        axes[0].plot(x, 100 * part["access_rate"], **style)
        axes[1].plot(x, 100 * part["avg_loan_rate"], **style)
    axes[0].set_title("Firms with a bank loan (%)", fontsize=10)
    axes[1].set_title("Average rate on new loans (% a year)", fontsize=10)
    for ax in axes:
        _quarter_axis(ax, list(_all(ts)["quarter"]))
    axes[0].legend(fontsize=7)
    return fig


def npl_ratio(ts: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """Non-performing share of the tech-loan balance by region (%)."""
    fig, axes = _figure(fig=fig)
    ax = axes[0]
    if ts.empty:
        return _empty(fig, axes, "Non-performing loans")
    for region in [*_regions(ts), "ALL"]:
        part = ts[ts["region"] == region]
        ax.plot(np.arange(len(part)), 100 * part["npl_ratio"], color=REGION_COLOURS.get(region), lw=2.2 if region == "ALL" else 1.3,
                label=region, **_markers(len(part)))
    ax.set_title("Non-performing loans (% of tech-loan balance)", fontsize=10)
    ax.set_ylim(bottom=0)
    _quarter_axis(ax, list(_all(ts)["quarter"]))
    ax.legend(fontsize=7)
    return fig


def vc_by_stage(ts: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """Venture capital invested per quarter by round (seed, A, B, C+), all regions (bn RMB)."""
    fig, axes = _figure(fig=fig)
    ax = axes[0]
    if ts.empty:
        return _empty(fig, axes, "VC invested by stage")
    nat = _all(ts)
    series = [nat[column].to_numpy() / BN if column in nat else np.zeros(len(nat)) for column in VC_STAGES]
    top = _stacked(ax, series, STAGE_COLOURS, list(VC_STAGES.values()))
    ax.set_title("Venture capital invested by round (all regions)", fontsize=10)
    ax.set_ylabel("bn RMB per quarter", fontsize=8)
    _quarter_axis(ax, list(nat["quarter"]))
    ax.legend(fontsize=7, loc="upper left", ncols=4, reverse=True)
    ax.set_ylim(0, max(top.max(), 1e-9) * 1.3)
    return fig


def fiscal_vs_private(ts: pd.DataFrame, fig: Figure | None = None) -> Figure:
    """Public money spent (fiscal cost) against private money mobilised per quarter (bn RMB)."""
    fig, axes = _figure(fig=fig)
    ax = axes[0]
    if ts.empty:
        return _empty(fig, axes, "Fiscal cost and private money mobilised")
    nat = _all(ts)
    x = np.arange(len(nat))
    ax.plot(x, nat["fiscal_cost_rmb"] / BN, color=SECTOR_COLOURS["government"], lw=2, label="fiscal cost (public, net of fund returns)",
            **_markers(len(nat)))
    ax.plot(x, nat["private_mobilised_rmb"] / BN, color=SECTOR_COLOURS["banks"], lw=2, label="private money mobilised",
            **_markers(len(nat)))
    fiscal = nat["fiscal_cost_rmb"].sum()
    ratio = nat["private_mobilised_rmb"].sum() / fiscal if fiscal > 0 else float("nan")
    ax.set_title(f"Public cost vs private money mobilised: {ratio:.1f} yuan per public yuan so far", fontsize=10)
    ax.set_ylabel("bn RMB per quarter", fontsize=8)
    lowest = float(nat["fiscal_cost_rmb"].min() / BN)
    if lowest < 0:  # guidance funds paid back more than governments spent that quarter: show it, do not clip at 0
        ax.axhline(0.0, color="black", lw=0.6)
        ax.set_ylim(bottom=lowest * 1.15)
    else:
        ax.set_ylim(bottom=0)
    _quarter_axis(ax, list(nat["quarter"]))
    ax.legend(fontsize=7)
    return fig


def _jitter(ids: np.ndarray, multiplier: float) -> np.ndarray:
    """A fixed offset in [-0.5, 0.5) per firm id (low-discrepancy, no randomness), so dots do not flicker."""
    return np.mod(ids * multiplier, 1.0) - 0.5


def regions_view(firms: pd.DataFrame, regions: Iterable[str] = ("BTH", "YRD", "GBA"), scale: float | None = None,
                 quarter: str = "", fig: Figure | None = None) -> Figure:
    """Every live firm agent as a dot: one panel per region, rows by stage, x by age, dot area by revenue.

    Args:
        firms: ``model.firms_table()`` (one row per firm agent).
        regions: region names, one panel each.
        scale: real firms per agent, for the panel titles.
        quarter: when the state was taken (e.g. "end of 2027Q2"), for the title.
        fig: a figure drawn by this function before, to redraw (faster than a new one).
    """
    regions = list(regions)
    fig, axes = _figure(len(regions), figsize=(6.4, 4.2), fig=fig, sharey=True)
    ids = firms["firm_id"].to_numpy(dtype=float)
    stage = firms["stage"].to_numpy()
    age_years = firms["age_quarters"].to_numpy() / 4.0
    x = age_years + 0.9 * _jitter(ids, 0.6180339887)
    y = stage + 0.8 * _jitter(ids, 0.7548776662)
    revenue = np.clip(firms["revenue"].to_numpy(), 0.0, None)
    size = 1.0 + 40.0 * np.sqrt(revenue / max(np.quantile(revenue, 0.99), 1.0)) if len(revenue) else np.zeros(0)
    colour = np.array(STAGE_COLOURS)[stage] if len(stage) else np.zeros(0)
    x_max = max(float(np.max(x)) if len(x) else 0.0, 10.0) + 0.5
    region_of = firms["region"].to_numpy()
    for ax, region in zip(axes, regions):
        mine = region_of == region
        ax.scatter(x[mine], y[mine], s=size[mine], c=colour[mine], alpha=0.6, linewidths=0)
        ax.set_title(f"{region}: {int(mine.sum()):,} agents", fontsize=8.5)
        ax.set_xlim(-0.6, x_max)
        ax.set_xlabel("firm age (years)", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.tick_params(labelsize=7)
        for level in range(1, 4):
            ax.axhline(level - 0.5, color="#dddddd", lw=0.8)
    axes[0].set_yticks(range(4), list(STAGES), fontsize=8)
    axes[0].set_ylim(-0.55, 3.55)
    per = f" (1 agent = {scale:g} firms)" if scale else ""
    when = f", {quarter}" if quarter else ""
    fig.suptitle(f"Firm agents{when}{per}: colour = stage, dot size = revenue", fontsize=10)
    return fig


def flows_by_pair(flows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Sum a quarter's flows by (source, target) sector pair, largest first (``amount_rmb``)."""
    frame = pd.DataFrame(flows, columns=["source", "target", "kind", "amount_rmb"])
    pairs = frame[frame["source"] != frame["target"]].groupby(["source", "target"], as_index=False)["amount_rmb"].sum()
    return pairs.sort_values("amount_rmb", ascending=False).reset_index(drop=True)


def policy_flows(flows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """The flows paid by or to the central bank and governments, by kind, largest first."""
    frame = pd.DataFrame(flows, columns=["source", "target", "kind", "amount_rmb"])
    policy = frame[frame["source"].isin(POLICY_SECTORS) | frame["target"].isin(POLICY_SECTORS)]
    return policy.sort_values("amount_rmb", ascending=False).reset_index(drop=True)


# Flow kinds whose ledger name does not read well once underscores become spaces.
KIND_WORDS = {"rd_subsidy": "R&D subsidy", "capital_call_public": "public capital call", "capital_call_private": "private capital call",
              "distribution_public": "public distribution", "distribution_private": "private distribution",
              "guarantee_payout_national": "national guarantee payout", "ip_appraisal_fee": "IP appraisal fee"}


def kind_words(kind: str) -> str:
    """A ledger flow kind in words (``"rd_subsidy"`` → ``"R&D subsidy"``)."""
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def _hbars(ax, labels: list[str], amounts_bn: np.ndarray, colours: list[str]) -> None:
    """Horizontal bars, each with its label written above it (long labels need no margin) and its amount at its end."""
    y = np.arange(len(labels))[::-1].astype(float)
    top = float(amounts_bn.max()) if len(amounts_bn) else 1.0
    ax.barh(y, amounts_bn, color=colours, height=0.45)
    for yi, value, label in zip(y, amounts_bn, labels):
        ax.text(0.012, yi + 0.28, label, va="bottom", fontsize=6.5, transform=ax.get_yaxis_transform())  # clear of the left spine
        ax.text(value + 0.01 * top, yi, f"{value:,.0f}" if value >= 10 else f"{value:,.1f}", va="center", fontsize=6.5)
    ax.set_xlim(0, top * 1.2 if top > 0 else 1.0)
    ax.set_ylim(-0.6, len(labels) - 0.1)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=7)
    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.set_xlabel("bn RMB this quarter", fontsize=7.5)
    ax.grid(axis="x", alpha=0.3)


def money_flows(flows: list[dict] | pd.DataFrame, quarter: str = "", top: int = 8, fig: Figure | None = None) -> Figure:
    """Who paid whom in one quarter: the largest sector-to-sector flows (left) and the policy money by kind (right).

    Bars are coloured by the paying sector; amounts in bn RMB. The right panel follows the
    central bank's relending (drawdowns, repayments, interest) and the governments' spending.

    Args:
        flows: ``model.last_flows`` (or one quarter of ``model.flows_table()``).
        quarter: label of the quarter, for the title.
        top: bars per panel.
        fig: a figure drawn by this function before, to redraw.
    """
    fig, axes = _figure(2, figsize=(6.4, 4.2), fig=fig, margins={"left": 0.03, "wspace": 0.12, "bottom": 0.12})
    frame = pd.DataFrame(flows, columns=["source", "target", "kind", "amount_rmb"])
    if frame.empty:
        return _empty(fig, axes, "Money flows of the quarter")
    pairs = flows_by_pair(frame).head(top)
    _hbars(axes[0], [f"{SECTOR_NAMES.get(s, s)} → {SECTOR_NAMES.get(t, t)}" for s, t in zip(pairs["source"], pairs["target"])],
           pairs["amount_rmb"].to_numpy() / BN, [SECTOR_COLOURS.get(s, "#777777") for s in pairs["source"]])
    axes[0].set_title("Largest flows between sectors", fontsize=9)
    policy = policy_flows(frame).head(top)
    labels = [f"{kind_words(row.kind)}: {SECTOR_NAMES.get(row.source, row.source)} → {SECTOR_NAMES.get(row.target, row.target)}"
              for row in policy.itertuples()]
    _hbars(axes[1], labels, policy["amount_rmb"].to_numpy() / BN, [SECTOR_COLOURS.get(s, "#777777") for s in policy["source"]])
    axes[1].set_title("Policy money: central bank and governments", fontsize=9)
    fig.suptitle(f"Money flows {quarter}: bar colour = the sector that pays".strip(), fontsize=10)
    return fig
