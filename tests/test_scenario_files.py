"""The shipped scenario files: the baseline mirrors the schema; every scenario validates and runs."""

from __future__ import annotations

import tomllib

import pytest

from simulation.api import run_one
from simulation.scenario.loader import load_scenario, shipped_scenarios
from simulation.scenario.schema import Scenario
from simulation.scenario.write_baseline import BASELINE_PATH, baseline_text


def test_baseline_file_is_generated_from_the_schema():
    """If this fails, run: python -m simulation.scenario.write_baseline"""
    assert BASELINE_PATH.read_text(encoding="utf-8") == baseline_text()


def test_baseline_holds_every_parameter_at_its_schema_default():
    raw = tomllib.loads(BASELINE_PATH.read_text(encoding="utf-8"))
    loaded = Scenario.model_validate(raw).model_dump()
    defaults = Scenario().model_dump()
    loaded.pop("question"), defaults.pop("question")
    assert loaded == defaults

    def keys(model_dump: dict, prefix: str = "") -> set[str]:
        found = set()
        for key, value in model_dump.items():
            if isinstance(value, dict) and key != "set":
                found |= keys(value, f"{prefix}{key}.")
            else:
                found.add(prefix + key)
        return found

    written = keys(raw)
    assert keys(Scenario().model_dump(exclude={"extends"})) <= written


def test_baseline_comments_give_units_or_sources():
    text = BASELINE_PATH.read_text(encoding="utf-8")
    assert "§1, A: 1.25 % from 2026-01" in text  # relending rate source
    assert "[unit: RMB" in text and "allowed: 0 <= x <= 1" in text


POLICY = sorted(name for name in shipped_scenarios() if name != "baseline")


def test_the_issue_scenarios_are_shipped():
    wanted = {"relending_2025", "relending_expansion", "relending_off", "tech_flow_credit", "data_sharing", "ai_credit",
              "ip_pledge_reform", "investment_loan_linkage", "supply_chain_finance", "guarantee_tech_plan", "risk_compensation_90",
              "tech_insurance_subsidy", "patient_capital", "centers_as_cities", "ipo_window_closed", "vc_fundraising_shock"}
    assert wanted <= set(POLICY)


@pytest.mark.parametrize("name", POLICY)
def test_policy_scenario_extends_baseline_asks_a_question_and_changes_something(name):
    path = shipped_scenarios()[name]
    text = path.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    assert raw["extends"] == "baseline.toml"
    assert text.startswith("#") and "Source" in text.split("\n\n")[0]
    scenario = load_scenario(name)
    assert scenario.name == name and scenario.question.endswith("?")
    baseline = load_scenario("baseline").model_dump(exclude={"name", "question", "extends"})
    assert scenario.model_dump(exclude={"name", "question", "extends"}) != baseline


@pytest.mark.parametrize("name", ["baseline", *POLICY])
def test_every_shipped_scenario_runs_two_quarters(name):
    tables = run_one(name, seed=1, quarters=2, overrides={"run.scale": 2000})
    assert len(tables["timeseries"]["quarter"].unique()) == 2
    assert tables["summary"]["firms_alive"] > 0
