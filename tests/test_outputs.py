"""Run outputs: the issue's columns, regions adding up to ALL, atomic writing, Ctrl-C, the Python entry point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from simulation import InnovationEconomy, cli, run_one
from simulation.outputs import RUN_FILES, OutputExistsError, atomic_folder, write_run
from simulation.scenario.loader import load_scenario

TIMESERIES_COLUMNS = [
    "quarter", "region", "firms_alive", "firms_seed", "firms_early", "firms_growth", "firms_mature", "entries", "exits_ipo",
    "exits_ma", "exits_failure", "rd_spending_rmb", "patents_granted", "tech_loan_balance_rmb", "new_loans_rmb",
    "loan_applications", "loans_granted", "access_rate", "avg_loan_rate", "npl_ratio", "relending_outstanding_rmb",
    "vc_invested_rmb", "vc_deals", "insurance_premiums_rmb", "insurance_claims_rmb", "guarantee_payouts_rmb",
    "risk_pool_payouts_rmb", "subsidies_rmb", "fiscal_cost_rmb",
]
CHANNEL_COLUMNS = ["quarter", "region", "channel", "new_amount_rmb", "balance_rmb", "deals"]
CHANNELS = {"collateral_loan", "credit_loan", "ip_pledge_loan", "supply_chain_loan", "project_loan", "linkage_loan",
            "guaranteed_loan", "vc_equity", "guidance_fund_equity", "rd_subsidy"}
# Counts and amounts add up over regions; rates and ratios do not.
ADDITIVE = [c for c in TIMESERIES_COLUMNS[2:] if c not in {"access_rate", "avg_loan_rate", "npl_ratio"}]
SMALL = {"run.scale": 1000.0}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    model = InnovationEconomy("baseline", rng=11, overrides=SMALL)
    model.run(4)
    out = write_run(model, tmp_path_factory.mktemp("w") / "run", seed=11, wall_time_s=1.0)
    return out


def test_write_run_writes_the_issue_files(written):
    assert sorted(p.name for p in written.iterdir()) == sorted(RUN_FILES)
    assert (written / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (written / "dashboard.png").stat().st_size > 50_000


def test_timeseries_has_the_issue_columns_and_quarter_labels(written):
    frame = pd.read_parquet(written / "timeseries.parquet")
    assert set(TIMESERIES_COLUMNS) <= set(frame.columns)
    assert frame["quarter"].unique().tolist() == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert set(frame["region"]) == {"BTH", "YRD", "GBA", "ALL"}
    csv = pd.read_csv(written / "timeseries.csv")
    assert csv.shape == frame.shape and list(csv.columns) == list(frame.columns)


def test_regions_add_up_to_all_for_counts_and_amounts(written):
    frame = pd.read_parquet(written / "timeseries.parquet")
    regions = frame[frame["region"] != "ALL"].groupby("quarter")[ADDITIVE].sum()
    total = frame[frame["region"] == "ALL"].set_index("quarter")[ADDITIVE]
    pd.testing.assert_frame_equal(regions.sort_index(), total.sort_index(), check_exact=False, rtol=1e-9, atol=1e-3)


def test_channels_have_the_issue_columns_and_add_up(written):
    frame = pd.read_parquet(written / "channels.parquet")
    assert list(frame.columns)[:6] == CHANNEL_COLUMNS
    assert set(frame["channel"]) == CHANNELS
    additive = ["new_amount_rmb", "balance_rmb", "deals"]
    regions = frame[frame["region"] != "ALL"].groupby(["quarter", "channel"])[additive].sum().sort_index()
    total = frame[frame["region"] == "ALL"].set_index(["quarter", "channel"])[additive].sort_index()
    pd.testing.assert_frame_equal(regions, total, check_exact=False, rtol=1e-9, atol=1e-3)
    assert len(pd.read_csv(written / "channels.csv")) == len(frame)


def test_bank_fund_and_event_tables_are_real_tables(written):
    banks = pd.read_parquet(written / "banks.parquet")
    assert {"quarter", "bank", "loans_rmb", "capital_ratio"} <= set(banks.columns) and banks["bank"].nunique() >= 10
    funds = pd.read_parquet(written / "funds.parquet")
    assert {"quarter", "fund", "kind", "committed_rmb", "tvpi"} <= set(funds.columns) and len(funds) > 0
    events = pd.read_parquet(written / "events.parquet")
    assert {"quarter", "kind", "firm_id", "amount_rmb"} <= set(events.columns)
    assert {"loan", "round"} <= set(events["kind"].astype(str))


def test_summary_is_strict_json_with_the_ledger_check(written):
    text = (written / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert "ledger_max_abs_error_rmb" in summary
    assert all(value is None or isinstance(value, (int, float)) for value in summary.values())


def test_scenario_toml_reloads_to_the_same_scenario(written):
    again = load_scenario(written / "scenario.toml")
    original = load_scenario("baseline", SMALL)
    assert again.model_dump(exclude={"name"}) == original.model_dump(exclude={"name"})


def test_report_states_headlines_in_words_and_embeds_the_dashboard(written):
    report = (written / "report.md").read_text()
    assert "tech SMEs are alive" in report and "RMB" in report and "bn" in report
    assert "![Dashboard of the run](dashboard.png)" in report


def test_write_run_accepts_the_tables_of_run_one(tmp_path):
    tables = run_one("relending_off", seed=2, quarters=2, overrides={"run.scale": 2000})
    with pytest.raises(TypeError, match="scenario="):
        write_run(tables, tmp_path / "x")
    out = write_run(tables, tmp_path / "tables", scenario=load_scenario("relending_off", {"run.scale": 2000}), seed=2, dashboard=False)
    assert (out / "summary.json").exists() and not (out / "dashboard.png").exists()
    assert json.loads((out / "manifest.json").read_text())["scenario"] == "relending_off"


def test_an_error_while_writing_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "out") as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(OutputExistsError), atomic_folder(tmp_path / "out"):
        pass
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mine.txt"]


def test_keyboard_interrupt_while_writing_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("simulation.outputs.writer.write_dashboard", interrupted)
    code = cli.main(["run", "--scale", "2000", "--quarters", "1", "--out", str(tmp_path / "out")])
    assert code == 130
    assert list(tmp_path.iterdir()) == []
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_a_run_stops_cleanly(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "simulation", "run", "--scale", "10", "--quarters", "400", "--out", "out"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5.0)  # imports and set-up take ~2-3 s; 400 quarters of ~55,000 firm agents take far longer than this
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert list(tmp_path.iterdir()) == []


def test_progress_bar_is_off_when_stderr_is_not_a_terminal():
    bar = cli.progress_bar(3, "x")
    assert bar.disable
    bar.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals")
def test_progress_bar_is_shown_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    process = subprocess.Popen([sys.executable, "-m", "simulation", "run", "--scale", "2000", "--quarters", "3", "--out", "out"],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process has finished
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.wait(timeout=120) == 0
    assert b"quarter" in shown and b"/3 [" in shown  # e.g. "baseline:  33%|###   | 1/3 [00:01<00:02, 1.2quarter/s]"


def test_dashboard_numbers_come_from_the_tables(written):
    """The dashboard's first panel (firms by stage per region) sums to the firms alive in the last quarter."""
    from simulation.outputs.dashboard import draw_dashboard

    ts = pd.read_parquet(written / "timeseries.parquet")
    fig = draw_dashboard(ts, pd.read_parquet(written / "channels.parquet"), "t")
    bars = fig.axes[0].patches
    heights = np.array([bar.get_height() for bar in bars]) * 1e3
    last = ts[(ts["quarter"] == ts["quarter"].iloc[-1]) & (ts["region"] == "ALL")]
    assert heights.sum() == pytest.approx(float(last["firms_alive"].iloc[0]), rel=1e-9)


def test_dashboard_shows_quarters_of_negative_net_fiscal_cost(written):
    """Guidance funds paying back more than governments spend make a quarter's net fiscal cost negative: drawn, not clipped at 0."""
    from simulation.outputs.dashboard import draw_dashboard

    ts = pd.read_parquet(written / "timeseries.parquet")
    quarter = ts["quarter"].iloc[-1]
    ts.loc[(ts["quarter"] == quarter) & (ts["region"] == "ALL"), "fiscal_cost_rmb"] = -5e9
    figure = draw_dashboard(ts, pd.read_parquet(written / "channels.parquet"), "t")
    ax = next(ax for ax in figure.axes if ax.get_title().startswith("Fiscal cost"))
    fiscal = next(line for line in ax.get_lines() if line.get_label().startswith("Fiscal cost"))
    assert min(fiscal.get_ydata()) == pytest.approx(-5.0)
    assert ax.get_ylim()[0] < -5.0
