"""Bad input of every kind: one clear line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulation.scenario.loader import ScenarioError, late_changes, load_scenario

BASE = 'extends = "baseline.toml"\n'

# name: (files to write, command arguments, words the one-line message must contain)
CASES = {
    "unknown key with did-you-mean": ({"s.toml": BASE + "[relending]\nrat = 0.01\n"}, ["run", "s.toml"],
                                      ["s.toml", "relending.rat", "unknown key", "did you mean 'rate'", "allowed keys"]),
    "unknown section": ({"s.toml": BASE + "[reelnding]\nrate = 0.01\n"}, ["run", "s.toml"], ["reelnding", "did you mean 'relending'"]),
    "wrong type": ({"s.toml": BASE + '[relending]\nrate = "low"\n'}, ["run", "s.toml"],
                   ["s.toml", "relending.rate", "valid number", "got 'low'", "allowed: 0 <= x <= 0.5"]),
    "out of range": ({"s.toml": BASE + "[relending]\nrate = 0.9\n"}, ["run", "s.toml"],
                     ["s.toml", "relending.rate", "less than or equal to 0.5", "got 0.9"]),
    "negative list element": ({"s.toml": BASE + "[vc]\ndeal_size_rmb = [15e6, -60e6, 160e6, 400e6]\n"}, ["run", "s.toml"],
                              ["s.toml", "vc.deal_size_rmb[1]", "got -60000000.0", "allowed: x >= 0"]),
    "bad choice": ({"s.toml": BASE + '[regions.BTH]\ncenter_scope = "city"\n'}, ["run", "s.toml"],
                   ["regions.BTH.center_scope", "'regions' or 'cities'"]),
    "bad quarter": ({"s.toml": BASE + '[[schedule]]\nquarter = "2027Q5"\nset = { "relending.rate" = 0.01 }\n'}, ["run", "s.toml"],
                    ["s.toml", "schedule[0].quarter", "2026Q1", "2027Q5"]),
    "bad scheduled key": ({"s.toml": BASE + '[[schedule]]\nquarter = "2027Q3"\nset = { "relending.rat" = 0.01 }\n'}, ["run", "s.toml"],
                          ["schedule[0] (2027Q3)", "relending.rat", "did you mean 'rate'"]),
    "missing extends target": ({"s.toml": 'extends = "nothere.toml"\n'}, ["run", "s.toml"],
                               ["s.toml: extends", "'nothere.toml' not found", "shipped scenarios: "]),
    "extends cycle": ({"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'}, ["run", "a.toml"],
                      ["extends", "cycle", "a.toml -> b.toml -> a.toml"]),
    "not TOML": ({"s.toml": BASE + "[relending\n"}, ["run", "s.toml"], ["s.toml", "not valid TOML", "line 2"]),
    "missing file": ({}, ["run", "nofile.toml"], ["nofile.toml", "not found"]),
    "misspelt shipped name": ({}, ["run", "relending_of"], ["did you mean 'relending_off'"]),
    "missing file to validate": ({}, ["validate", "nofile.toml"], ["nofile.toml", "not found"]),
    "bad --set syntax": ({}, ["run", "--set", "relending.rate"], ["--set 'relending.rate'", "KEY=VALUE"]),
    "bad --set key": ({}, ["run", "--set", "relending.rat=0.01"], ["override", "relending.rat", "did you mean 'rate'"]),
    "bad --set value": ({}, ["run", "--set", "relending.rate=abc"], ["override", "relending.rate", "got 'abc'"]),
    "bad --quarters": ({}, ["run", "--quarters", "0"], ["run.quarters", "greater than or equal to 1"]),
    "bad argument": ({}, ["run", "--seed", "x"], ["--seed", "invalid int value: 'x'"]),
    "unknown command": ({}, ["rn"], ["invalid choice: 'rn'", "'run'"]),
    "compare bad seeds": ({}, ["compare", "baseline", "relending_off", "--seeds", "0"], ["--seeds 0", "at least 1"]),
    "optional cap out of range": ({"s.toml": BASE + "[relending]\nloan_rate_cap = 5.0\n"}, ["run", "s.toml"],
                                  ["s.toml", "relending.loan_rate_cap", "got 5.0", 'allowed: 0 <= x <= 0.5 or "none"']),
    "optional cap of the wrong type": ({"s.toml": BASE + '[relending]\nloan_rate_cap = "low"\n'}, ["validate", "s.toml"],
                                       ["relending.loan_rate_cap", "got 'low'", 'or "none"']),
    "scheduled quarter before the run": ({"s.toml": BASE + '[[schedule]]\nquarter = "2020Q1"\nset = { "relending.rate" = 0.01 }\n'},
                                         ["validate", "s.toml"], ["s.toml", "schedule[0].quarter", "2020Q1 is before the start", "allowed: 2026Q1 or later"]),
    "scheduled run setting": ({"s.toml": BASE + '[[schedule]]\nquarter = "2027Q1"\nset = { "run.scale" = 100 }\n'}, ["validate", "s.toml"],
                              ["schedule[0] (2027Q1): run.scale", "cannot change during a run"]),
    "misspelt region": ({"s.toml": BASE + '[regions.GAB]\ncenter_scope = "cities"\n'}, ["run", "s.toml"],
                        ["s.toml", "regions.GAB", "unknown region", "did you mean 'GBA'", "firm_share"]),
    "misspelt region in --set": ({}, ["run", "--set", "regions.GAB.center_scope=cities"], ["override", "regions.GAB", "did you mean 'GBA'"]),
    "infinite amount": ({"s.toml": BASE + "[relending]\nquota_rmb = inf\n"}, ["run", "s.toml"],
                        ["s.toml", "relending.quota_rmb", "finite number", "got inf", "allowed: x >= 0"]),
    "infinite scheduled amount": ({"s.toml": BASE + '[[schedule]]\nquarter = "2027Q1"\nset = { "relending.quota_rmb" = inf }\n'},
                                  ["validate", "s.toml"], ["schedule[0] (2027Q1): relending.quota_rmb", "finite number"]),
    "--set on a whole table": ({}, ["run", "--set", "relending=0.01"], ["override", "relending", "table of parameters", "allowed keys: quota_rmb, rate"]),
    "negative seed": ({}, ["run", "--seed", "-1"], ["--seed", ">= 0", "-1"]),
    "compare with one scenario": ({}, ["compare", "baseline", "--seeds", "2"], ["at least two scenarios"]),
    "output folder that cannot be made": ({"file": "not a folder"}, ["run", "--scale", "2000", "--quarters", "1", "--out", "file/out"],
                                          ["file/out", "cannot create the results folder"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(case, tmp_path):
    files, args, words = CASES[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    before = sorted(p.name for p in tmp_path.iterdir())
    command = [sys.executable, "-m", "simulation", *args]
    if args[0] in {"run", "compare"} and "--out" not in args:
        command += ["--out", "out"]  # would be created if the input were accepted
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    result = subprocess.run(command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("innofin: error: ")
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no temporary folder


def test_existing_output_folder_is_refused_before_running(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = subprocess.run([sys.executable, "-m", "simulation", "run", "--scale", "2000", "--quarters", "1", "--out", "out"],
                            check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_errors_of_a_chain_name_the_file_that_has_the_problem(tmp_path):
    (tmp_path / "parent.toml").write_text(BASE + "[vc]\nipo_window = 9.0\n")
    (tmp_path / "child.toml").write_text('extends = "parent.toml"\n[relending]\nrate = 0.01\n')
    with pytest.raises(ScenarioError, match=r"vc\.ipo_window: .*less than or equal to 3"):
        load_scenario(tmp_path / "child.toml")


def test_a_chain_of_extends_applies_every_level_and_concatenates_schedules(tmp_path):
    (tmp_path / "parent.toml").write_text(BASE + '[relending]\nrate = 0.01\n'
                                          '[[schedule]]\nquarter = "2027Q1"\nset = { "vc.ipo_window" = 0.5 }\n')
    (tmp_path / "child.toml").write_text('extends = "parent.toml"\n[relending]\nquota_rmb = 5e11\n'
                                         '[[schedule]]\nquarter = "2028Q1"\nset = { "vc.ipo_window" = 1.0 }\n')
    scenario = load_scenario(tmp_path / "child.toml")
    assert scenario.name == "child"
    assert (scenario.relending.rate, scenario.relending.quota_rmb) == (0.01, 5e11)
    assert [change.quarter for change in scenario.schedule] == ["2027Q1", "2028Q1"]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_any_unknown_relending_key_is_a_one_line_scenario_error(word):
    from simulation.scenario.schema import RelendingSettings

    if word in RelendingSettings.model_fields:
        return
    with pytest.raises(ScenarioError) as caught:
        load_scenario("baseline", {f"relending.{word}": 1})
    message = str(caught.value)
    assert "\n" not in message and f"relending.{word}" in message and "allowed keys" in message


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not 0 <= x <= 0.5))
def test_any_out_of_range_rate_is_refused_with_its_range(rate):
    with pytest.raises(ScenarioError, match=r"relending\.rate: .*allowed: 0 <= x <= 0\.5"):
        load_scenario("baseline", {"relending.rate": rate})


def test_paths_to_shipped_files_are_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_scenario("relending_off").relending.quota_rmb == 0
    assert load_scenario(Path("relending_2025.toml")).relending.rate == 0.015


def test_a_file_without_extends_changes_the_schema_defaults_and_is_named_after_itself(tmp_path):
    (tmp_path / "mine.toml").write_text('[regions.GBA]\ncenter_scope = "cities"\n')
    scenario = load_scenario(tmp_path / "mine.toml")
    assert scenario.name == "mine"
    assert sorted(scenario.regions) == ["BTH", "GBA", "YRD"]  # the other regions are kept, not dropped
    assert scenario.regions["GBA"].center_scope == "cities" and scenario.regions["BTH"].center_scope == "regions"


def test_a_new_region_with_its_size_is_accepted(tmp_path):
    (tmp_path / "roc.toml").write_text(BASE + "[regions.ROC]\nfirm_share = 0.2\nis_center = false\n")
    assert sorted(load_scenario(tmp_path / "roc.toml").regions) == ["BTH", "GBA", "ROC", "YRD"]
    assert "ROC" in load_scenario("baseline", {"regions.ROC.firm_share": 0.1}).regions


def test_a_change_after_the_end_of_the_run_is_noted_not_refused(tmp_path):
    """Quick runs of scenarios with schedules stay possible, and a resolved scenario.toml of a short run reruns;
    the commands say that the change does not apply."""
    (tmp_path / "late.toml").write_text(BASE + '[run]\nquarters = 4\n[[schedule]]\nquarter = "2072Q3"\nset = { "relending.rate" = 0.01 }\n')
    assert late_changes(load_scenario(tmp_path / "late.toml")) == [
        "late: schedule[0] (2072Q3) comes after the run's last quarter 2026Q4 (run.quarters 4) and does not apply"]
    assert not late_changes(load_scenario("relending_expansion"))
    assert len(late_changes(load_scenario("relending_expansion", {"run.quarters": 2}))) == 1
    command = [sys.executable, "-m", "simulation", "run", "relending_expansion", "--scale", "4000", "--quarters", "2", "--out", "a"]
    first = subprocess.run(command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "note: relending_expansion: schedule[0] (2027Q3) comes after" in first.stderr
    again = subprocess.run([sys.executable, "-m", "simulation", "run", "a/scenario.toml", "--out", "b"], check=False, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "a" / "summary.json").read_text() == (tmp_path / "b" / "summary.json").read_text()
