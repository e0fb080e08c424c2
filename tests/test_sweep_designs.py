"""Sweep specs and designs: what each design samples, and one-line errors for bad specs."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.experiments.designs import design_points, expected_points, replicate_seeds, unit_sample
from simulation.experiments.spec import SweepError, SweepSpec, build_spec, load_spec

LEVERS = {
    "relending.rate": {"low": 0.005, "high": 0.02},
    "relending.quota_rmb": {"low": 0.6e12, "high": 1.8e12, "log": True},
    "guidance.life_years": {"low": 8, "high": 15, "integer": True},
    "linkage.enabled": {"values": [True, False]},
}


def spec(design: str, samples: int | None = None, **extra) -> SweepSpec:
    return build_spec({"design": design, "samples": samples, "parameters": LEVERS, **extra})


def check_within(points, levers=LEVERS) -> None:
    for key, p in levers.items():
        column = points[key]
        if "values" in p:
            assert set(column) <= set(p["values"])
        else:
            assert column.min() >= p["low"] and column.max() <= p["high"], key
    assert all(float(v).is_integer() for v in points["guidance.life_years"])


def test_grid_is_the_full_product_of_values_and_levels():
    grid = build_spec({"design": "grid", "parameters": {
        "relending.rate": {"values": [0.01, 0.0125, 0.015]},
        "relending.quota_rmb": {"low": 0.8e12, "high": 1.6e12, "levels": 5},
        "linkage.enabled": {"values": [True, False]},
    }})
    points = design_points(grid)
    assert len(points) == 3 * 5 * 2 == expected_points(grid)
    assert not points.duplicated().any()
    assert sorted(points["relending.quota_rmb"].unique()) == pytest.approx(np.linspace(0.8e12, 1.6e12, 5))
    assert points.index.name == "point_id" and list(points.index) == list(range(30))


@pytest.mark.parametrize("design", ["random", "lhs"])
def test_random_and_lhs_sample_n_points_within_bounds(design):
    s = spec(design, 40)
    points = design_points(s)
    assert len(points) == 40 == expected_points(s)
    check_within(points)
    assert points["linkage.enabled"].nunique() == 2


def test_lhs_puts_one_point_in_every_stratum():
    u = unit_sample(spec("lhs", 25))
    for j in range(u.shape[1]):
        strata = np.floor(u[:, j] * 25).astype(int)
        assert sorted(strata) == list(range(25))


def test_sobol_follows_the_saltelli_structure():
    n, d = 16, len(LEVERS)
    s = spec("sobol", n)
    u = unit_sample(s)
    assert u.shape == (n * (2 * d + 2), d) == (expected_points(s), d)
    blocks = u.reshape(n, 2 * d + 2, d)
    a, b = blocks[:, 0], blocks[:, -1]
    for j in range(d):
        ab_j = blocks[:, 1 + j]                      # A with column j taken from B
        assert np.array_equal(np.delete(ab_j, j, axis=1), np.delete(a, j, axis=1))
        assert np.array_equal(ab_j[:, j], b[:, j])
        ba_j = blocks[:, 1 + d + j]                  # B with column j taken from A
        assert np.array_equal(np.delete(ba_j, j, axis=1), np.delete(b, j, axis=1))
        assert np.array_equal(ba_j[:, j], a[:, j])
    check_within(design_points(s))
    first_order = spec("sobol", n, second_order=False)
    assert len(design_points(first_order)) == n * (d + 2)


def test_morris_trajectories_move_one_parameter_per_step():
    r, d = 6, len(LEVERS)
    s = spec("morris", r)
    u = unit_sample(s)
    assert u.shape == (r * (d + 1), d) == (expected_points(s), d)
    assert set(np.round(np.unique(u), 9)) <= {0.0, round(1 / 3, 9), round(2 / 3, 9), 1.0}
    steps = np.diff(u.reshape(r, d + 1, d), axis=1)
    assert ((steps != 0).sum(axis=2) == 1).all()
    check_within(design_points(s))


def test_designs_are_reproducible_and_seeded():
    assert design_points(spec("lhs", 10)).equals(design_points(spec("lhs", 10)))
    assert not design_points(spec("lhs", 10)).equals(design_points(spec("lhs", 10, base_seed=1)))


def test_replicate_seeds_come_from_seed_sequence_spawn():
    s = build_spec({"seeds": 5, "base_seed": 42, "parameters": {"relending.rate": {"values": [0.01]}}})
    seeds = replicate_seeds(s)
    assert len(set(seeds)) == 5 and all(0 <= x < 2**63 for x in seeds)
    expected = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in np.random.SeedSequence(42).spawn(5)]
    assert seeds == expected


@pytest.mark.parametrize(("data", "message"), [
    ({"parameters": {"relending.rat": {"values": [0.01]}}}, "parameters.relending.rat: not a scenario parameter (unknown key; did you mean 'rate'?"),
    ({"parameters": {"relending": {"values": [0.01]}}}, "parameters.relending: a table of parameters, not one value (e.g. 'relending.quota_rmb')"),
    ({"parameters": {"relending.rate": {"low": 0.02, "high": 0.01, "levels": 2}}}, "must be below 'high'"),
    ({"parameters": {"relending.rate": {"values": [0.01], "low": 0.0}}}, "give either 'values' or 'low' and 'high'"),
    ({"design": "sobol", "samples": 10, "parameters": {"relending.rate": {"low": 0.0, "high": 0.1}}}, "samples: sobol needs a power of 2"),
    ({"design": "lhs", "parameters": {"relending.rate": {"low": 0.0, "high": 0.1}}}, "samples: required for design 'lhs'"),
    ({"design": "grid", "parameters": {"relending.rate": {"low": 0.0, "high": 0.1}}}, "a grid needs 'values' or 'levels'"),
    ({"desing": "grid", "parameters": {"relending.rate": {"values": [0.01]}}}, "desing: unknown key; allowed keys: name,"),
    ({"design": "factorial", "parameters": {"relending.rate": {"values": [0.01]}}}, "design: Input should be 'grid', 'random'"),
    ({"scenario": "nosuch", "parameters": {"relending.rate": {"values": [0.01]}}}, "scenario: nosuch: scenario file 'nosuch' not found"),
])
def test_bad_specs_are_one_line_errors(data, message):
    with pytest.raises(SweepError) as caught:
        load_spec(data)
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_toml_spec_names_its_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('design = "grid"\n[parameters]\n"relending.rate" = { values = [0.01] }\n"ip.protecton" = { values = [0.5] }\n')
    with pytest.raises(SweepError, match=r"bad\.toml: parameters\.ip\.protecton: not a scenario parameter \(unknown key; did you mean 'protection'\?"):
        load_spec(path)
    (tmp_path / "broken.toml").write_text("design = \n")
    with pytest.raises(SweepError, match=r"broken\.toml: not valid TOML"):
        load_spec(tmp_path / "broken.toml")
    with pytest.raises(SweepError, match="missing.toml: sweep file not found"):
        load_spec(tmp_path / "missing.toml")


@pytest.mark.parametrize("name", ["relending_grid", "sobol_levers", "morris_small"])
def test_shipped_sweeps_are_valid(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "sweeps" / f"{name}.toml"
    built, scenario = load_spec(path)
    points = design_points(built)
    assert len(points) == expected_points(built) > 1 and scenario.name == "baseline"
    if built.design == "sobol":
        assert len(built.parameters) == 10


def test_bare_lists_and_scalars_are_shorthands():
    s = build_spec({"design": "grid", "parameters": {"relending.rate": [0.01, 0.02], "linkage.enabled": False}})
    assert s.parameters["relending.rate"].values == [0.01, 0.02] and s.parameters["linkage.enabled"].values == [False]
    points = design_points(s)
    assert len(points) == 2 and not points["linkage.enabled"].any()
