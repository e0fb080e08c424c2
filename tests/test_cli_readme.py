"""The README stays true: its lever table is the generated one, its commands match CI and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

from simulation.cli import build_parser
from simulation.scenario.levers import lever_table
from simulation.scenario.loader import shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_lever_table_is_the_generated_one():
    """If this fails, paste the output of `python -m simulation.scenario.levers` into README.md."""
    start = README.index("<!-- lever table")
    start = README.index("\n", start) + 1
    end = README.index("<!-- end of lever table -->")
    assert README[start:end] == lever_table()


def test_test_command_matches_ci():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = re.search(r'pip install --quiet -e "(\.\[[^\]]*\])"', ci).group(1)
    readme_test = re.search(rf'pip install -e "{re.escape(install)}" && (python -m pytest[^\n`]*)', README)
    assert readme_test, "the README's test command installs the same extras as .ci/run"
    ci_commands = [line.strip() for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert readme_test.group(1).strip() in ci_commands, ".ci/run runs the README's test command as it is written"
    assert "pip install -e . && innofin run baseline" in README


def test_every_shipped_scenario_is_listed_and_the_dashboard_picture_exists():
    for name in shipped_scenarios():
        if name != "baseline":
            assert f"| `{name}` |" in README
    assert "![" in README and (ROOT / "docs" / "dashboard.png").is_file()


def test_every_subcommand_in_the_readme_exists():
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    for command in re.findall(r"^\| `innofin (\w+)", README, flags=re.MULTILINE):
        assert command in commands


def test_sweep_files_named_in_the_readme_exist():
    for path in set(re.findall(r"scenarios/sweeps/[\w.]+\.(?:toml|md)", README)):
        assert (ROOT / path).is_file(), path


def test_the_readme_duckdb_query_runs_on_a_sweep_folder(tmp_path):
    """The query reads the folder's Parquet parts; with DuckDB installed it is run as printed, otherwise its columns are checked."""
    from simulation.experiments import load_sweep, sweep

    sql = re.search(r'duckdb\.sql\("""(.*?)"""\)', README, flags=re.DOTALL).group(1)
    folder = re.search(r"read_parquet\('([^']+)/runs/\*\.parquet'", sql).group(1)
    spec = {"name": "readme", "design": "grid", "seeds": 1, "quarters": 1, "scale": 4000,
            "parameters": {"relending.rate": [0.01, 0.02], "relending.quota_rmb": [1.2e12]}}
    out = tmp_path / "sweep"
    sweep(spec, executor="serial", out=out)
    query = sql.replace(folder, out.as_posix())
    try:
        import duckdb
    except ImportError:
        runs = load_sweep(out)
        for column in set(re.findall(r'"([\w.]+)"', query)) | {"status", "relending_utilisation"}:
            assert column in runs.columns, column
        assert sorted(p.name for p in (out / "runs").glob("*.parquet"))
    else:
        rows = duckdb.sql(query).fetchall()
        assert [row[0] for row in rows] == [0.01, 0.02] and all(row[-1] == 1 for row in rows)
