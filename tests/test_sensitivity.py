"""SALib indices on tiny studies: finite, and the obviously dominant lever ranks first; analyze writes tables and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.experiments import SweepError, sweep
from simulation.experiments.analyze import analyze
from simulation.experiments.sensitivity import morris_indices, sobol_indices
from simulation.experiments.spec import build_spec

KPI = "relending_outstanding_rmb"
# The relending quota caps the facility's outstanding balance; the IP appraisal fee barely touches it.
LEVERS = {"relending.quota_rmb": {"low": 0.2e12, "high": 2.0e12}, "ip.appraisal_cost": {"low": 0.02, "high": 0.03}}
# Saltelli estimates with 8 base samples are too noisy to rank reliably; 16 keep the study at 96 short runs.
SOBOL_SAMPLES = 16
SMALL = {"quarters": 4, "scale": 2000, "base_seed": 3}


@pytest.fixture(scope="module")
def sobol_study(tmp_path_factory):
    spec = build_spec({"name": "tiny_sobol", "design": "sobol", "samples": SOBOL_SAMPLES, "seeds": 1, "outputs": {"timeseries": True},
                       "parameters": LEVERS, **SMALL})
    out = tmp_path_factory.mktemp("sobol") / "run"
    return spec, sweep(spec, executor="process", workers=2, out=out), out


@pytest.fixture(scope="module")
def morris_study(tmp_path_factory):
    spec = build_spec({"name": "tiny_morris", "design": "morris", "samples": 4, "seeds": 2, "parameters": LEVERS, **SMALL})
    out = tmp_path_factory.mktemp("morris") / "run"
    return spec, sweep(spec, executor="process", workers=2, out=out), out


def test_sobol_indices_are_finite_and_rank_the_dominant_lever_first(sobol_study):
    spec, runs, _ = sobol_study
    assert len(runs) == SOBOL_SAMPLES * (2 * 2 + 2)
    table = sobol_indices(runs, spec, KPI).set_index("parameter")
    values = table[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy()
    assert np.isfinite(values).all() and (table[["S1_conf", "ST_conf"]] >= 0).all().all()
    assert table["ST"].idxmax() == "relending.quota_rmb" and table["S1"].idxmax() == "relending.quota_rmb"
    assert table.loc["relending.quota_rmb", "ST"] > 0.5 > table.loc["ip.appraisal_cost", "ST"]


def test_morris_indices_are_finite_and_rank_the_dominant_lever_first(morris_study):
    spec, runs, _ = morris_study
    assert len(runs) == 4 * (2 + 1) * 2
    table = morris_indices(runs, spec, KPI).set_index("parameter")
    assert np.isfinite(table.to_numpy()).all() and (table["sigma"] >= 0).all()
    assert table["mu_star"].idxmax() == "relending.quota_rmb"
    assert table.loc["relending.quota_rmb", "mu_star"] > 10 * table.loc["ip.appraisal_cost", "mu_star"]


def test_indices_need_the_matching_design_and_a_known_kpi(sobol_study, morris_study):
    spec, runs, _ = sobol_study
    with pytest.raises(SweepError, match="Morris indices need a morris design"):
        morris_indices(runs, spec, KPI)
    with pytest.raises(SweepError, match="KPI 'no_such_kpi' not in the results"):
        sobol_indices(runs, spec, "no_such_kpi")
    broken = runs.copy()
    broken.loc[broken["point_id"] == 3, "status"] = "failed"
    with pytest.raises(SweepError, match="1 design point\\(s\\) have no successful run"):
        sobol_indices(broken, spec, KPI)


def test_analyze_writes_tables_and_figures(sobol_study):
    _spec, _runs, out = sobol_study
    written = analyze(out, kpis=[KPI])
    names = {p.name for p in written}
    assert {"points.csv", "points.parquet", "sobol_indices.csv", "sobol_indices.parquet", "rank_correlations.csv",
            f"sobol_{KPI}.png", f"scatter_{KPI}.png", f"fan_{KPI}.png"} <= names
    for path in written:
        assert path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    indices = pd.read_parquet(out / "analysis" / "sobol_indices.parquet")
    assert set(indices["parameter"]) == set(LEVERS) and KPI in set(indices["kpi"])
    points = pd.read_csv(out / "analysis" / "points.csv")
    assert len(points) == SOBOL_SAMPLES * (2 * 2 + 2) and f"{KPI}_mean" in points.columns
    with pytest.raises(SweepError, match="unknown KPI 'nope'"):
        analyze(out, kpis=["nope"])


def test_analyze_morris_and_the_command(morris_study, capsys):
    from simulation.experiments.commands import main

    _, _, out = morris_study
    assert main(["analyze", str(out), "--kpi", KPI]) == 0
    assert (out / "analysis" / f"morris_{KPI}.png").is_file() and (out / "analysis" / "morris_indices.csv").is_file()
    assert "files ->" in capsys.readouterr().out
