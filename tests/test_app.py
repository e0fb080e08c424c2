"""The app's levers, figures and command, without a browser."""

from __future__ import annotations

import argparse
import inspect
import socket

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from simulation.app import charts
from simulation.app.commands import add_commands, cmd_app, free_port, scenario_argument
from simulation.app.levers import LEVERS, ClassroomEconomy, lever_defaults, lever_overrides, scenario_choices, scenario_value
from simulation.scenario.loader import ScenarioError, load_scenario, shipped_scenarios

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model() -> ClassroomEconomy:
    economy = ClassroomEconomy("baseline", seed=3, scale=1000)
    economy.run(3)
    return economy


def test_every_lever_shows_the_scenario_value_and_maps_back_to_it():
    scenario = load_scenario("baseline")
    shown = lever_defaults("baseline")
    for lever in LEVERS:
        assert lever.low <= shown[lever.key] <= lever.high or lever.switch, lever.key
        assert lever.parameter_value(shown[lever.key]) == pytest.approx(scenario_value(scenario, lever.parameter)), lever.key
    assert lever_overrides("baseline", shown) == {}


def test_moving_the_national_guarantee_share_keeps_the_guarantee_split_whole():
    overrides = lever_overrides("baseline", {"guarantee_national_pct": 40.0})
    merged = load_scenario("baseline", overrides).guarantee
    assert merged.national_share == pytest.approx(0.40)
    total = merged.bank_share + merged.guarantor_share + merged.reguarantor_share + merged.national_share
    assert total == pytest.approx(1.0)


def test_the_model_uses_the_lever_values_it_is_given():
    economy = ClassroomEconomy("baseline", seed=1, scale=2000,
                               levers={"relending_rate_pct": 0.5, "linkage": False, "guidance_life_years": 12})
    assert economy.params.relending.rate == pytest.approx(0.005)
    assert economy.params.linkage.enabled is False
    assert economy.params.guidance.life_years == 12
    assert economy.params.run.scale == 2000
    assert economy.lever_values["relending_rate_pct"] == 0.5
    with pytest.raises(ValueError, match="unknown lever"):
        ClassroomEconomy("baseline", levers={"relending_speed": 1.0})


def test_snapshot_is_computed_once_per_quarter(model):
    first = model.snapshot()
    assert model.snapshot() is first
    assert set(first) == {"timeseries", "channels", "firms", "flows"}
    assert len(first["firms"]) == len(model.population.alive_rows())
    assert model.last_quarter == first["timeseries"]["quarter"].iloc[-1] == "2026Q3"


def test_scenario_choices_list_the_shipped_scenarios_and_an_extra_file(tmp_path):
    assert scenario_choices() == list(shipped_scenarios())
    extra = str(tmp_path / "mine.toml")
    assert scenario_choices(extra)[0] == extra


def _all_figures(model: ClassroomEconomy, figures: dict | None = None) -> dict[str, Figure]:
    snap = model.snapshot()
    figures = figures or {}
    return {
        "stage": charts.firms_by_stage(snap["timeseries"], fig=figures.get("stage")),
        "credit": charts.credit_by_channel(snap["channels"], fig=figures.get("credit")),
        "access": charts.access_and_rate(snap["timeseries"], fig=figures.get("access")),
        "npl": charts.npl_ratio(snap["timeseries"], fig=figures.get("npl")),
        "vc": charts.vc_by_stage(snap["timeseries"], fig=figures.get("vc")),
        "fiscal": charts.fiscal_vs_private(snap["timeseries"], fig=figures.get("fiscal")),
        "regions": charts.regions_view(snap["firms"], model.region_names, model.scale, model.last_quarter, fig=figures.get("regions")),
        "flows": charts.money_flows(snap["flows"], model.last_quarter, fig=figures.get("flows")),
    }


def test_every_figure_draws_before_the_first_quarter_and_after_it():
    economy = ClassroomEconomy("baseline", seed=2, scale=2000)
    empty = _all_figures(economy)
    empty_png = {name: charts.to_png(fig) for name, fig in empty.items()}
    economy.step()
    drawn = _all_figures(economy, empty)
    for name, fig in drawn.items():
        assert fig is empty[name], f"{name}: the figure should be reused"
        png = charts.to_png(fig)
        assert png.startswith(PNG_MAGIC)
        if name != "regions":  # the agents exist before the first quarter
            assert png != empty_png[name], f"{name}: the first quarter should replace the placeholder"
        assert not [t for t in fig.texts if t.get_gid() == "placeholder"]


@pytest.mark.parametrize("name", ["firms_by_stage", "access_and_rate", "npl_ratio", "vc_by_stage", "fiscal_vs_private"])
def test_a_redrawn_figure_matches_a_fresh_one(model, name):
    draw = getattr(charts, name)
    ts = model.snapshot()["timeseries"]
    first_quarter = ts[ts["quarter"] == ts["quarter"].iloc[0]]
    fresh = charts.to_png(draw(ts))
    assert charts.to_png(draw(ts, fig=draw(first_quarter))) == fresh


def test_regions_view_draws_one_dot_per_firm_agent(model):
    fig = charts.regions_view(model.firms_table(), model.region_names, model.scale)
    dots = sum(len(collection.get_offsets()) for ax in fig.axes for collection in ax.collections)
    assert dots == len(model.population.alive_rows())


def test_money_flows_tables_add_up_and_follow_policy_money(model):
    flows = pd.DataFrame(model.last_flows)
    pairs = charts.flows_by_pair(flows)
    external = flows[flows["source"] != flows["target"]]["amount_rmb"].sum()
    assert pairs["amount_rmb"].sum() == pytest.approx(external)
    assert pairs["amount_rmb"].is_monotonic_decreasing
    policy = charts.policy_flows(flows)
    assert (policy["source"].isin(charts.POLICY_SECTORS) | policy["target"].isin(charts.POLICY_SECTORS)).all()
    assert "relending_drawdown" in set(policy["kind"])


def test_money_flow_labels_are_words_drawn_clear_of_the_axis(model):
    fig = charts.money_flows(model.last_flows, model.last_quarter)
    fig.canvas.draw()
    labels = [text for ax in fig.axes for text in ax.texts if "→" in text.get_text()]
    assert labels and not any("_" in text.get_text() for text in labels)
    assert charts.kind_words("rd_subsidy") == "R&D subsidy" and charts.kind_words("loan_repayment") == "loan repayment"
    for text in labels:  # each label starts right of its panel's left edge, so the spine does not cut its first letter
        assert text.get_window_extent().x0 > text.axes.get_window_extent().x0 + 1


def test_stacked_series_stack_to_their_total():
    fig = Figure()
    ax = fig.subplots()
    top = charts._stacked(ax, [np.array([1.0, 2.0]), np.array([3.0, 4.0])], ["#000000", "#111111"], ["a", "b"])
    assert top.tolist() == [4.0, 6.0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="innofin")
    add_commands(parser.add_subparsers(dest="command"))
    return parser


def test_app_command_is_registered_with_its_options():
    args = _parser().parse_args(["app"])
    assert (args.scenario, args.host, args.port, args.func) == ("baseline", "127.0.0.1", 8765, cmd_app)
    args = _parser().parse_args(["app", "baseline", "--port", "9001", "--host", "0.0.0.0"])
    assert (args.port, args.host) == (9001, "0.0.0.0")


def test_app_command_rejects_a_bad_scenario_before_starting(tmp_path):
    args = _parser().parse_args(["app", str(tmp_path / "missing.toml")])
    with pytest.raises(ScenarioError, match="not found"):
        cmd_app(args)


def test_app_command_refuses_a_busy_port(capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cmd_app(_parser().parse_args(["app", "--port", str(port)]))
    err = capsys.readouterr().err
    if "missing" in err:  # the viz extra is not installed: that is reported first
        assert code == 2 and "pip install" in err
    else:
        assert code == 2 and f"--port {port}: already in use" in err
    assert len(err.strip().splitlines()) == 1


def test_app_command_names_the_missing_extra(monkeypatch, capsys):
    monkeypatch.setattr("simulation.app.commands.missing_viz_modules", lambda: ["solara"])
    code = cmd_app(_parser().parse_args(["app", "--port", str(free_port())]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "solara" in err and ".[viz]" in err


def test_scenario_file_is_passed_as_an_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "mine.toml").write_text('name = "mine"\nextends = "baseline"\n')
    monkeypatch.chdir(tmp_path)
    assert scenario_argument("mine.toml") == str(tmp_path / "mine.toml")
    assert scenario_argument("baseline") == "baseline"


# Mesa 3.3.1's ComponentsView calls a hook after an early return; solara warns about it when Mesa's viz is imported.
@pytest.mark.filterwarnings("ignore:Failed to validate hooks:UserWarning")
def test_app_page_inputs_match_the_model_signature():
    pytest.importorskip("solara", reason="the app's dependencies are missing: pip install -e '.[viz]'")
    from mesa.visualization import solara_viz

    from simulation.app import app

    choices = app.Choices("baseline", lever_defaults("baseline"))
    params = app.model_params(choices)
    assert set(params) <= set(inspect.signature(app.SessionEconomy.__init__).parameters)
    solara_viz._check_model_params(app.SessionEconomy.__init__, params)  # what SolaraViz checks at start-up
    assert callable(app.Page) and len(app.COMPONENTS) == 8

    # Reset rebuilds the model from the session's current choices (what SolaraViz does with these inputs).
    choices.levers["relending_rate_pct"] = 0.75
    rebuilt = app.SessionEconomy(choices, seed=4, scale=2000)
    assert rebuilt.params.relending.rate == pytest.approx(0.0075) and rebuilt.seed == 4
    choices.pick("relending_2025")
    assert choices.levers == lever_defaults("relending_2025")
    assert app.SessionEconomy(choices, scale=2000).scenario_name == "relending_2025"


def test_fiscal_chart_shows_negative_net_quarters(model):
    ts = model.timeseries().copy()
    last = ts["quarter"].iloc[-1]
    ts.loc[(ts["quarter"] == last) & (ts["region"] == "ALL"), "fiscal_cost_rmb"] = -4e9
    ax = charts.fiscal_vs_private(ts).axes[0]
    assert min(ax.get_lines()[0].get_ydata()) == pytest.approx(-4.0) and ax.get_ylim()[0] < -4.0
