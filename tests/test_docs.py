"""The generated parameter table covers the whole schema, and the model benchmark runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from simulation.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaf_keys(model: BaseModel, prefix: str = "") -> set[str]:
    keys = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            keys |= _leaf_keys(value, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def test_parameter_table_lists_every_schema_parameter():
    table = _load(ROOT / "docs" / "make_parameter_table.py").render()
    skipped = {"name", "question", "extends", "schedule", "regions", "banks.banks"}
    for key in sorted(_leaf_keys(Scenario()) - skipped):
        assert f"`{key}`" in table, f"{key} missing from the parameter table"
    from simulation.scenario.schema import RegionProfile

    for field in RegionProfile.model_fields:
        assert f"`{field}`" in table
    assert "ICBC" in table and "Policy & other banks" in table


def test_parameter_table_check_detects_a_stale_file(tmp_path):
    script = ROOT / "docs" / "make_parameter_table.py"
    target = tmp_path / "parameters.md"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), "--output", str(target), *args],
                              check=False, capture_output=True, text=True, cwd=ROOT)

    assert run("--check").returncode == 1
    assert run().returncode == 0
    assert run("--check").returncode == 0
    target.write_text(target.read_text() + "\nedited by hand\n")
    assert run("--check").returncode == 1


def test_model_benchmark_child_reports_figures():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_model.py"), "--child", "--scales", "2000", "--quarters", "2"],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["firm_quarters"] >= figures["firm_agents_start"] > 0
    assert figures["firm_quarters_per_second"] > 0 and figures["peak_rss_mb"] > 0
    assert figures["ledger_max_abs_error_rmb"] < 1e3


def test_check_flags_parameter_names_the_schema_lacks():
    module = _load(ROOT / "docs" / "make_parameter_table.py")
    text = "uses `relending.rate`, `regions.BTH.firm_share`, `banks.banks`, code `credit.lend`, and a typo `relending.ratez`"
    assert module.unknown_keys_in(text) == ["relending.ratez"]
