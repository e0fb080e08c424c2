"""End-to-end tests of the ``innofin`` command through ``python -m simulation`` (real runs, small scale)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from simulation.outputs import RUN_FILES
from simulation.scenario.loader import shipped_scenarios

SMALL = ["--scale", "1000", "--quarters", "4"]


def innofin(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``python -m simulation ARGS`` in ``cwd`` (not a terminal: no progress bar)."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    command = [sys.executable, "-m", "simulation", *args]
    return subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    cwd = tmp_path_factory.mktemp("run")
    result = innofin("run", "baseline", "--seed", "3", *SMALL, "--set", "relending.rate=0.01", "--out", "out", cwd=cwd)
    return result, cwd / "out"


def test_run_writes_every_file_and_prints_headlines(baseline_run):
    result, out = baseline_run
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    assert "Tech-SME loan balance (end)" in result.stdout and "RMB" in result.stdout
    assert f"results: {Path('out')}" in result.stdout
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_run_records_provenance_and_the_resolved_scenario(baseline_run):
    _, out = baseline_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["scale"] == 1000 and manifest["quarters"] == 4
    assert manifest["package_versions"]["mesa"] and manifest["package_versions"]["python"]
    assert "git_commit" in manifest and manifest["wall_time_s"] > 0
    assert "relending.rate=0.01" in manifest["command_line"]
    scenario = tomllib.loads((out / "scenario.toml").read_text())
    assert scenario["relending"]["rate"] == 0.01 and scenario["run"]["scale"] == 1000
    summary = json.loads((out / "summary.json").read_text())
    assert "ledger_max_abs_error_rmb" in summary and summary["firms_alive"] > 0
    report = (out / "report.md").read_text()
    assert "![Dashboard of the run](dashboard.png)" in report and "| Indicator |" in report


def test_rerunning_the_written_scenario_gives_the_same_summary(baseline_run, tmp_path):
    _, out = baseline_run
    again = innofin("run", str(out / "scenario.toml"), "--seed", "3", "--out", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    first = json.loads((out / "summary.json").read_text())
    second = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert first == second


def test_run_defaults_to_a_timestamped_folder_under_runs(tmp_path):
    result = innofin("run", *SMALL[:2], "--quarters", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("baseline-")


def test_list_shows_every_shipped_scenario_with_its_question(tmp_path):
    result = innofin("list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(shipped_scenarios())
    for name in shipped_scenarios():
        line = next(line for line in lines if line.split()[0] == name)
        assert "INVALID" not in line and "?" in line


def test_validate_accepts_a_good_file(tmp_path):
    (tmp_path / "mine.toml").write_text('extends = "baseline.toml"\nquestion = "What if?"\n[relending]\nrate = 0.01\n')
    result = innofin("validate", "mine.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "mine.toml: valid" in result.stdout


def test_schema_is_json_schema_of_the_scenario(tmp_path):
    result = innofin("schema", cwd=tmp_path)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"relending", "credit", "vc", "schedule"} <= set(schema["properties"])


def test_compare_reports_paired_differences_with_intervals_and_charts(tmp_path):
    (tmp_path / "cheap.toml").write_text('extends = "baseline.toml"\nname = "cheap"\n[relending]\nrate = 0.0\nquota_rmb = 3e12\n')
    result = innofin("compare", "baseline", "cheap.toml", "--seeds", "3", "--scale", "1000", "--quarters", "3", "--jobs", "2",
                     "--out", "cmp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "cmp"
    differences = pd.read_csv(out / "differences.csv")
    assert set(differences["scenario"]) == {"cheap"}
    assert {"mean_diff", "ci_low", "ci_high", "distinguishable"} <= set(differences.columns)
    assert (differences["ci_low"] <= differences["mean_diff"] + 1e-9).all()
    assert (differences["mean_diff"] <= differences["ci_high"] + 1e-9).all()
    assert set(differences["distinguishable"]) <= {"yes", "no", "n/a"}
    rate = differences.set_index("kpi").loc["avg_loan_rate"]
    assert rate["mean_diff"] < 0  # a free, larger facility lowers the average loan rate
    kpis = pd.read_csv(out / "kpis.csv")
    assert kpis.groupby("scenario")["seed"].apply(lambda s: tuple(sorted(s))).nunique() == 1  # the same seeds everywhere
    assert (out / "charts" / "access_rate.png").stat().st_size > 10_000
    assert "distinguishable" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["replication_seeds"]) == 3


def test_ctrl_c_during_compare_stops_the_workers_and_writes_nothing(tmp_path):
    import signal
    import time

    # 120 quarters of ~55,000 firm agents: each run takes far longer than the 6 s before Ctrl-C, however fast the model gets
    process = subprocess.Popen([sys.executable, "-m", "simulation", "compare", "baseline", "relending_off", "--seeds", "4", "--jobs", "2",
                                "--scale", "10", "--quarters", "120", "--out", "cmp"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6.0)  # the workers are in their first runs by now
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    started = time.perf_counter()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert time.perf_counter() - started < 10, "workers were not stopped"
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """innofin run ... | head -1: no 'Broken pipe' error, exit code 0 (it used to be 'innofin: error: Broken pipe', exit 2)."""
    for attempt in range(3):
        command = f"set -o pipefail; '{sys.executable}' -m simulation run --scale 4000 --quarters 1 --out out{attempt} | head -1"
        result = subprocess.run(["/bin/bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.startswith("baseline: 1 quarter from")
