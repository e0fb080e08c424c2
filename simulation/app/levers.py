"""The policy levers a class can move in the app, and the model the app runs.

Each :class:`Lever` maps one slider or switch (shown in convenient units, e.g.
percent or billion RMB) to one dotted scenario parameter. :class:`ClassroomEconomy`
is the :class:`~simulation.model.InnovationEconomy` with those levers as keyword
arguments, which is the form Mesa's SolaraViz needs to rebuild a model on Reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from simulation.model import InnovationEconomy
from simulation.scenario.loader import load_scenario, shipped_scenarios
from simulation.scenario.schema import Scenario, quarter_label

SCALES = (50, 100, 200, 500, 1000)
"""Real firms per firm agent offered in the app (50 is the research default; 200 keeps each quarter fast)."""
DEFAULT_SCALE = 200
DEFAULT_SEED = 1


@dataclass(frozen=True)
class Lever:
    """One policy lever as shown in the app.

    Attributes:
        key: keyword argument of :class:`ClassroomEconomy` (a Python name).
        parameter: the dotted scenario parameter it sets.
        label: text beside the slider, with its unit.
        low: smallest slider value (display units).
        high: largest slider value (display units).
        step: slider increment (display units).
        factor: parameter value = display value × factor (e.g. 0.01 for percent).
        switch: a yes/no lever (checkbox) instead of a slider.
        integer: a whole-number slider.
    """

    key: str
    parameter: str
    label: str
    low: float = 0.0
    high: float = 1.0
    step: float = 0.05
    factor: float = 1.0
    switch: bool = False
    integer: bool = False

    def display(self, scenario: Scenario) -> Any:
        """The lever's value in ``scenario``, in display units."""
        value = scenario_value(scenario, self.parameter)
        if self.switch:
            return bool(value)
        shown = min(max(float(value) / self.factor, self.low), self.high)
        return round(shown) if self.integer else round(shown, 6)

    def parameter_value(self, shown: Any) -> Any:
        """The parameter value for a display value."""
        if self.switch:
            return bool(shown)
        if self.integer:
            return round(float(shown) * self.factor)
        return float(shown) * self.factor


LEVERS: tuple[Lever, ...] = (
    Lever("relending_rate_pct", "relending.rate", "Relending rate to banks (% a year)", 0.5, 3.0, 0.05, 0.01),
    Lever("relending_quota_bn", "relending.quota_rmb", "Relending quota (bn RMB)", 0.0, 3000.0, 100.0, 1e9),
    Lever("tech_flow_weight", "credit.tech_flow_weight", "Credit scoring on technology flow (0 = collateral only)"),
    Lever("data_sharing", "credit.data_sharing", "Data sharing with banks (0-1)"),
    Lever("ai_assessment", "credit.ai_assessment", "AI / big-data credit assessment (0-1)"),
    Lever("ip_protection", "ip.protection", "IP protection strength (0-1)"),
    Lever("ip_pledge_ltv_pct", "ip.pledge_ltv", "IP pledge loan-to-value (%)", 10.0, 60.0, 5.0, 0.01),
    Lever("linkage", "linkage.enabled", "Investment-loan linkage", switch=True),
    Lever("risk_pool_share_pct", "risk_pool.share", "Risk-compensation pool share of losses (%)", 0.0, 90.0, 5.0, 0.01),
    Lever("guarantee_national_pct", "guarantee.national_share", "National guarantee fund share of losses (%)", 0.0, 60.0, 5.0, 0.01),
    Lever("premium_subsidy_pct", "insurance.premium_subsidy", "Insurance premium subsidy (%)", 0.0, 100.0, 10.0, 0.01),
    Lever("guidance_early_pct", "guidance.early_share", "Guidance funds' seed/early share (%)", 0.0, 100.0, 5.0, 0.01),
    Lever("guidance_life_years", "guidance.life_years", "Guidance fund life (years)", 5, 30, 1, 1.0, integer=True),
    Lever("ipo_window", "vc.ipo_window", "IPO window (× normal)", 0.0, 2.0, 0.1),
)
LEVERS_BY_KEY = {lever.key: lever for lever in LEVERS}


def scenario_value(scenario: Scenario, dotted: str) -> Any:
    """Read a dotted parameter (``"relending.rate"``) from a scenario."""
    value: Any = scenario
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@lru_cache(maxsize=32)
def _load(scenario: str) -> Scenario:
    return load_scenario(scenario)


def scenario_choices(extra: str | None = None) -> list[str]:
    """Shipped scenario names, plus ``extra`` (a name or path given on the command line) if not among them."""
    names = list(shipped_scenarios())
    if extra and extra not in names:
        names.insert(0, extra)
    return names


def lever_defaults(scenario: str) -> dict[str, Any]:
    """Every lever's value in a scenario (display units), keyed by lever key."""
    loaded = _load(scenario)
    return {lever.key: lever.display(loaded) for lever in LEVERS}


def lever_overrides(scenario: str, values: dict[str, Any]) -> dict[str, Any]:
    """Dotted overrides for the lever values that differ from the scenario's own.

    The guarantee split must add up to 1: when the national fund's share moves,
    the originating guarantor's share takes up the difference (the bank and the
    provincial re-guarantor keep theirs).
    """
    loaded = _load(scenario)
    defaults = lever_defaults(scenario)
    overrides: dict[str, Any] = {}
    for key, shown in values.items():
        lever = LEVERS_BY_KEY[key]
        if shown is None or shown == defaults[key]:
            continue
        overrides[lever.parameter] = lever.parameter_value(shown)
    if "guarantee.national_share" in overrides:
        g = loaded.guarantee
        national = min(overrides["guarantee.national_share"], 1.0 - g.bank_share - g.reguarantor_share)
        overrides["guarantee.national_share"] = national
        overrides["guarantee.guarantor_share"] = round(max(0.0, 1.0 - g.bank_share - g.reguarantor_share - national), 9)
    return overrides


class ClassroomEconomy(InnovationEconomy):
    """The model as the app builds it: a scenario, a seed, a scale and lever values.

    Args:
        scenario_name: shipped scenario name or path of a scenario file.
        seed: seed of the model's random generators.
        scale: real firms represented by one firm agent.
        levers: lever values in display units keyed by :data:`LEVERS` keys (e.g.
            ``{"relending_rate_pct": 1.0}``); missing levers keep the scenario's values.
            The app passes the session's lever board here: it is read when the model is built (on Reset).

    Example:
        >>> model = ClassroomEconomy("baseline", seed=2, scale=500, levers={"relending_rate_pct": 1.0})
        >>> model.lever_overrides
        {'relending.rate': 0.01, 'run.scale': 500.0}
    """

    def __init__(self, scenario_name: str = "baseline", seed: int = DEFAULT_SEED, scale: int = DEFAULT_SCALE,
                 levers: Mapping[str, Any] | None = None):
        # Only named keyword arguments (no **kwargs): Mesa's SolaraViz checks them against its inputs,
        # and Mesa >= 3.5 would pass its own ``scenario`` object to a model accepting **kwargs.
        unknown = set(levers or {}) - set(LEVERS_BY_KEY)
        if unknown:
            raise ValueError(f"levers: unknown lever(s) {sorted(unknown)}; known: {sorted(LEVERS_BY_KEY)}")
        self.lever_values = {**lever_defaults(scenario_name), **dict(levers or {})}
        overrides = lever_overrides(scenario_name, self.lever_values)
        overrides["run.scale"] = float(scale)
        super().__init__(scenario_name, rng=int(seed), overrides=overrides)
        self.lever_overrides = overrides
        self.seed = int(seed)
        self._snapshot: tuple[int, dict] | None = None

    @property
    def last_quarter(self) -> str:
        """Label of the last simulated quarter (``""`` before the first); tables and flows end there."""
        return quarter_label(self.params.run.start_quarter, self.quarter_index - 1) if self.quarter_index else ""

    def snapshot(self) -> dict[str, Any]:
        """This quarter's tables for the charts, computed once per quarter.

        Returns:
            dict with ``timeseries``, ``channels`` (DataFrames), ``firms`` (live firm agents) and
            ``flows`` (the last quarter's money flows, a list of dicts).
        """
        if self._snapshot is None or self._snapshot[0] != self.quarter_index:
            self._snapshot = (self.quarter_index, {
                "timeseries": self.timeseries(),
                "channels": self.channels(),
                "firms": self.firms_table(),
                "flows": list(self.last_flows),
            })
        return self._snapshot[1]
