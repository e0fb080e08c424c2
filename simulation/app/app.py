"""The InnoFin classroom app: Mesa's SolaraViz around :class:`ClassroomEconomy`.

Run it with ``innofin app [SCENARIO]`` (or ``solara run simulation/app/app.py``).
The page has a scenario picker, sliders and switches for the main policy
levers, a seed and a scale, Mesa's Reset / Play / Step controls, six live charts,
a view of the firm agents in the three regions and the quarter's money flows.

Each browser session builds its own model inside :func:`Page`, so visitors do
not share (or step) one another's economy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz

from simulation.app import charts
from simulation.app.commands import SCENARIO_ENV
from simulation.app.levers import DEFAULT_SCALE, DEFAULT_SEED, LEVERS, SCALES, ClassroomEconomy, Lever, lever_defaults, scenario_choices

TITLE = "InnoFin: financing innovation in China"
SEEDS = list(range(20))
HELP = (
    "<p><b>How to use.</b> Pick a scenario: it loads at once, with its own lever settings. "
    "Move the levers below (or the seed and scale), then press <b>Reset</b>: <i>slider changes apply on Reset</i>. "
    "<b>Step</b> runs one quarter; <b>▶</b> plays quarter after quarter.</p>"
    "<p>One firm agent stands for <i>scale</i> real firms; amounts are real-world RMB.</p>"
)
# solara.Markdown is avoided: it loads KaTeX from a CDN, which the offline asset package lacks.


@dataclass
class Choices:
    """One browser session's scenario and lever values, edited by the page and read when a model is built."""

    scenario: str
    levers: dict[str, Any] = field(default_factory=dict)

    def pick(self, scenario: str) -> None:
        """Switch to another scenario, with that scenario's own lever values."""
        self.scenario = scenario
        self.levers = dict(lever_defaults(scenario))


class SessionEconomy(ClassroomEconomy):
    """The model as SolaraViz rebuilds it on Reset: from the session's current choices, a seed and a scale.

    Args:
        choices: the session's scenario and lever values (read now, so edits made since the last Reset apply).
        seed: seed of the model's random generators.
        scale: real firms represented by one firm agent.
    """

    def __init__(self, choices: Choices, seed: int = DEFAULT_SEED, scale: int = DEFAULT_SCALE):
        super().__init__(choices.scenario, seed=seed, scale=scale, levers=dict(choices.levers))


def model_params(choices: Choices) -> dict[str, Any]:
    """SolaraViz inputs: the session's choices (fixed: the same object, edited in place), seed and scale (menus)."""
    return {
        "choices": choices,
        "seed": {"type": "Select", "label": "Seed (random draws)", "value": DEFAULT_SEED, "values": SEEDS},
        "scale": {"type": "Select", "label": "Scale (real firms per agent)", "value": DEFAULT_SCALE, "values": list(SCALES)},
    }


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"


@solara.component
def LeverInput(lever: Lever, value: Any, on_value: Callable[[Any], None], changed: bool):
    """One lever: its label and value (marked * until Reset applies it) above a slider, or a switch."""
    mark = " *" if changed else ""
    if lever.switch:
        solara.Switch(label=f"{lever.label}: {_shown(value)}{mark}", value=bool(value), on_value=on_value)
        return
    solara.Text(f"{lever.label}: {_shown(value)}{mark}", style={"font-size": "0.85rem", "font-weight": "bold" if changed else "normal"})
    if lever.integer:
        solara.SliderInt("", value=int(value), min=int(lever.low), max=int(lever.high), step=int(lever.step), on_value=on_value,
                         thumb_label=False)
    else:
        solara.SliderFloat("", value=float(value), min=lever.low, max=lever.high, step=lever.step, on_value=on_value, thumb_label=False)


@solara.component
def LeverPanel(choices: Choices, model: solara.Reactive[ClassroomEconomy], scenario: str):
    """Sliders and switches for every lever of ``scenario``; edits go to ``choices``, which the model reads on Reset."""
    values, set_values = solara.use_state(dict(choices.levers))
    applied = model.value.lever_values

    def setter(key: str) -> Callable[[Any], None]:
        def set_value(value: Any) -> None:
            choices.levers[key] = value
            set_values(dict(choices.levers))
        return set_value

    pending = [lever.key for lever in LEVERS if values[lever.key] != applied.get(lever.key)]
    with solara.Card("Policy levers", subtitle=f"starting from {scenario}"):
        if pending:
            solara.Warning(f"{len(pending)} change(s) marked * not applied yet: press Reset.", dense=True)
        else:
            solara.Info("The running model uses these values.", dense=True)
        for lever in LEVERS:
            LeverInput(lever, values[lever.key], setter(lever.key), lever.key in pending)


def _chart(name: str, draw: Callable[[ClassroomEconomy, Figure | None], Figure], with_status: bool = False) -> Callable:
    """A SolaraViz component showing one figure of the model, redrawn once per quarter (optionally under the status line).

    ``draw(model, fig)`` draws the figure, reusing ``fig`` (this session's figure from the last quarter) when given.
    """

    @solara.component
    def Chart(model: ClassroomEconomy, quarter: int):
        figures = solara.use_memo(dict, [model])

        def render() -> bytes:
            figures["figure"] = draw(model, figures.get("figure"))
            return charts.to_png(figures["figure"])

        png = solara.use_memo(render, [model, quarter])
        with solara.Column(gap="0px"):
            if with_status:
                Status(model, quarter)
            solara.Image(png, width="100%")

    def component(model: ClassroomEconomy):
        return Chart(model, model.quarter_index)

    component.__name__ = name
    return component


@solara.component
def Status(model: ClassroomEconomy, quarter: int):
    """The run in one line: scenario, seed, quarter, agents, and the levers moved away from the scenario."""
    label = f"<b>last quarter</b> {model.last_quarter}" if quarter else "before the first quarter"
    moved = ", ".join(f"{k} = {_shown(v)}" for k, v in model.lever_overrides.items() if k != "run.scale")
    agents = len(model.population.alive_rows())
    solara.HTML(tag="div", style={"font-size": "0.85rem", "padding": "0 8px"}, unsafe_innerHTML=(
        f"<b>Scenario</b> {escape(model.scenario_name)} · <b>seed</b> {model.seed} · {label} · "
        f"<b>{agents:,} firm agents</b> (1 agent = {model.scale:g} real firms)<br>"
        f"<b>Levers changed from the scenario:</b> {escape(moved or 'none')}"
    ))


def _state_label(model: ClassroomEconomy) -> str:
    """When the firms' state was taken: at the end of the last quarter, or at the start of the run."""
    return f"end of {model.last_quarter}" if model.quarter_index else f"start of {model.quarter_label}"


def _ts(model: ClassroomEconomy):
    return model.snapshot()["timeseries"]


COMPONENTS = [
    _chart("FirmAgents", lambda m, f: charts.regions_view(m.snapshot()["firms"], m.region_names, m.scale, _state_label(m), fig=f),
           with_status=True),
    _chart("MoneyFlows", lambda m, f: charts.money_flows(m.snapshot()["flows"], m.last_quarter, fig=f)),
    _chart("FirmsByStage", lambda m, f: charts.firms_by_stage(_ts(m), fig=f)),
    _chart("CreditByChannel", lambda m, f: charts.credit_by_channel(m.snapshot()["channels"], fig=f)),
    _chart("AccessAndRate", lambda m, f: charts.access_and_rate(_ts(m), fig=f)),
    _chart("NonPerformingLoans", lambda m, f: charts.npl_ratio(_ts(m), fig=f)),
    _chart("VentureByStage", lambda m, f: charts.vc_by_stage(_ts(m), fig=f)),
    _chart("FiscalVsPrivate", lambda m, f: charts.fiscal_vs_private(_ts(m), fig=f)),
]


@solara.component
def Page():
    """The app page; each browser session gets its own model and choices."""
    initial = os.environ.get(SCENARIO_ENV, "baseline")
    choices = solara.use_memo(lambda: Choices(initial, dict(lever_defaults(initial))), [])
    model = solara.use_memo(lambda: solara.reactive(SessionEconomy(choices)), [])
    scenario = solara.use_reactive(choices.scenario)

    def pick(name: str) -> None:
        # A new scenario loads at once (keeping the running seed and scale); its levers replace the sliders' values.
        choices.pick(name)
        scenario.set(name)
        model.set(SessionEconomy(choices, seed=model.value.seed, scale=int(model.value.scale)))

    with solara.Sidebar(), solara.Card("Scenario"):
        solara.Select("Scenario", values=scenario_choices(initial), value=scenario.value, on_value=pick)
        solara.HTML(tag="div", unsafe_innerHTML=HELP)
    # All charts are on one page: Mesa's page tabs would only show a lone "Page 0" label above them.
    solara.Style(".v-tabs { display: none !important; }")
    SolaraViz(model, components=COMPONENTS, model_params=model_params(choices), name=TITLE)
    LeverSidebar(choices, model, scenario.value)


@solara.component
def LeverSidebar(choices: Choices, model: solara.Reactive[ClassroomEconomy], scenario: str, depth: int = 2):
    """The lever panel in the sidebar, below Mesa's controls.

    Solara orders sidebar content by how deep in the component tree it is declared;
    declaring the panel ``depth`` components deeper than the page puts it after SolaraViz's cards.
    """
    if depth > 1:
        LeverSidebar(choices, model, scenario, depth - 1)
        return
    with solara.Sidebar():
        # A new scenario starts the panel afresh with that scenario's lever values. The scenario is also a
        # prop: the sidebar only takes a new element when its props change, not its key alone.
        LeverPanel(choices, model, scenario).key(f"levers-{scenario}")
