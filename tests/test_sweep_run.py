"""Running sweeps: identical results on every executor, failures recorded, results folder, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from simulation.experiments import SweepError, load_sweep, sweep
from simulation.experiments.analyze import analyze
from simulation.experiments.commands import main as command

SMALL = {"quarters": 4, "scale": 2000}
GRID = {
    "name": "tiny_grid", "design": "grid", "seeds": 2, "base_seed": 7, **SMALL,
    "outputs": {"timeseries": True},
    "parameters": {"relending.rate": {"values": [0.005, 0.02]}, "relending.quota_rmb": {"low": 0.6e12, "high": 1.8e12, "levels": 2}},
}


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["elapsed_s"], errors="ignore")


@pytest.fixture(scope="module")
def serial_grid() -> pd.DataFrame:
    return sweep(GRID, executor="serial", out=None)


def test_serial_sweep_has_one_row_per_run(serial_grid):
    runs = serial_grid
    assert list(runs["run_id"]) == list(range(8))
    assert (runs["point_id"] == runs["run_id"] // 2).all() and (runs["replicate"] == runs["run_id"] % 2).all()
    assert (runs["status"] == "ok").all() and (runs["error"] == "").all()
    assert runs.groupby("replicate")["seed"].nunique().eq(1).all() and runs["seed"].nunique() == 2
    assert {"relending.rate", "relending.quota_rmb", "firms_alive", "relending_outstanding_rmb"} <= set(runs.columns)
    # common random numbers: same seed, same lever values -> same result; another seed -> another result
    assert runs.loc[0, "firms_alive"] != runs.loc[1, "firms_alive"]


def test_process_pool_and_dask_cluster_give_identical_results(serial_grid, tmp_path):
    from distributed import LocalCluster

    serial = serial_grid
    process = sweep(GRID, executor="process", workers=2, out=tmp_path / "process", flush_every=3)
    pd.testing.assert_frame_equal(comparable(serial), comparable(process), check_exact=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        dask = sweep(GRID, scheduler=cluster.scheduler_address, out=tmp_path / "dask", flush_every=5)  # an existing scheduler
    pd.testing.assert_frame_equal(comparable(serial), comparable(dask), check_exact=True)
    own_cluster = sweep(GRID, executor="dask", workers=1, out=None)  # a LocalCluster of its own, one worker
    pd.testing.assert_frame_equal(comparable(serial), comparable(own_cluster), check_exact=True)
    series_process = load_sweep(tmp_path / "process", "timeseries")
    series_dask = load_sweep(tmp_path / "dask", "timeseries")
    assert len(series_process) > 0 and set(series_process["run_id"]) == set(range(8))
    pd.testing.assert_frame_equal(series_process, series_dask, check_exact=True)


def test_results_folder_has_parts_and_manifest(tmp_path):
    out = tmp_path / "grid"
    runs = sweep(GRID, executor="serial", out=out, flush_every=3)
    parts = sorted(p.name for p in (out / "runs").iterdir())
    assert parts == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert sorted(p.name for p in (out / "timeseries").iterdir()) == parts
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "complete" and manifest["status_counts"] == {"ok": 8, "failed": 0, "missing": 0}
    assert manifest["spec"]["parameters"]["relending.rate"]["values"] == [0.005, 0.02]
    assert manifest["scenario"]["relending"]["rate"] == pytest.approx(0.0125)
    assert manifest["versions"]["mesa"] and manifest["versions"]["python"]
    assert "git_commit" in manifest and manifest["runs_total"] == 8
    pd.testing.assert_frame_equal(load_sweep(out), runs)
    assert not list(out.rglob("*.tmp"))
    drawn = {path.name for path in analyze(out, kpis=["relending_outstanding_rmb"])}
    assert {"heatmap_relending_outstanding_rmb.png", "scatter_relending_outstanding_rmb.png", "fan_relending_outstanding_rmb.png",
            "points.csv", "rank_correlations.parquet"} <= drawn
    with pytest.raises(SweepError, match="already holds sweep results; pass --resume"):
        sweep(GRID, executor="serial", out=out)
    with pytest.raises(SweepError, match="holds a different sweep"):
        sweep({**GRID, "seeds": 3}, executor="serial", out=out, resume=True)
    with pytest.raises(SweepError, match="not a sweep results folder"):
        load_sweep(tmp_path)
    fresh = sweep({**GRID, "outputs": {}}, executor="serial", out=tmp_path / "new", resume=True)  # nothing to resume: starts
    assert len(fresh) == 8 and len(load_sweep(tmp_path / "new")) == 8


def test_failing_runs_are_recorded_and_the_rest_complete(tmp_path):
    spec = {**GRID, "outputs": {}, "seeds": 1,
            "parameters": {"relending.rate": {"values": [0.01, 0.9, 0.02]}, "ip.protection": {"values": [0.5, 1.5]}}}
    runs = sweep(spec, executor="process", workers=2, out=tmp_path / "f")
    assert len(runs) == 6
    bad = (runs["relending.rate"] == 0.9) | (runs["ip.protection"] == 1.5)
    assert (runs.loc[bad, "status"] == "failed").all() and (runs.loc[~bad, "status"] == "ok").all()
    assert runs.loc[bad, "error"].str.contains("ScenarioError").all()
    assert runs.loc[bad, "firms_alive"].isna().all() and runs.loc[~bad, "firms_alive"].notna().all()
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["status_counts"] == {"ok": 2, "failed": 4, "missing": 0}


def test_resume_after_kill_finishes_exactly_the_missing_runs(tmp_path):
    spec = {**GRID, "outputs": {"timeseries": True}, "seeds": 4,
            "parameters": {"relending.rate": {"low": 0.005, "high": 0.02, "levels": 8}}}
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(
        f'name = "killed"\ndesign = "grid"\nseeds = 4\nbase_seed = 7\nquarters = {SMALL["quarters"]}\nscale = {SMALL["scale"]}\n'
        '[outputs]\ntimeseries = true\n[parameters]\n"relending.rate" = { low = 0.005, high = 0.02, levels = 8 }\n'
    )
    out = tmp_path / "out"
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulation.experiments", "sweep", str(spec_file), "--out", str(out), "--executor", "process",
             "--workers", "2", "--flush-every", "2", "--no-progress"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "runs").glob("part-*.parquet"))) < 3:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, no chance to clean up
        proc.wait()
    before = load_sweep(out)
    assert 0 < len(before) < 32 and not before["run_id"].duplicated().any()
    assert json.loads((out / "manifest.json").read_text())["state"] == "running"

    seen: list[int] = []
    resumed = sweep(spec_file, executor="serial", out=out, resume=True, progress=lambda done, failed, total: seen.append(done))
    assert seen[0] == len(before) and seen[-1] == 32 and len(seen) == 32 - len(before) + 1
    assert list(resumed["run_id"]) == list(range(32)) and (resumed["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(resumed[resumed["run_id"].isin(before["run_id"])]).reset_index(drop=True),
                                  comparable(before).reset_index(drop=True))
    reference = sweep(spec, executor="serial", out=None)
    pd.testing.assert_frame_equal(comparable(resumed), comparable(reference), check_exact=True)
    series = load_sweep(out, "timeseries")
    assert not series.duplicated(["run_id", "quarter", "region"]).any() and set(series["run_id"]) == set(range(32))
    assert not list(out.rglob("*.tmp"))
    assert json.loads((out / "manifest.json").read_text())["status_counts"] == {"ok": 32, "failed": 0, "missing": 0}


def test_command_line_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[parameters]\n"relending.rat" = { values = [0.01] }\n')
    assert command(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("innofin: error: ") and err.count("\n") == 1 and "relending.rat" in err
    assert not (tmp_path / "o").exists()
    assert command(["analyze", str(tmp_path)]) == 2
    assert "not a sweep results folder" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text('quarters = 1\nscale = 2000\n[parameters]\n"relending.rate" = { values = [0.01] }\n')
    for address, message in (("tcp://127.0.0.1:1", "cannot reach a Dask scheduler at tcp://127.0.0.1:1"),
                             ("nonsense", "'nonsense' is not a scheduler address like tcp://host:8786")):
        assert command(["sweep", str(good), "--scheduler", address, "--out", str(tmp_path / "d")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"innofin: error: --scheduler: {message}") and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


def test_command_line_sweep_runs_and_reports(tmp_path, capsys):
    spec = tmp_path / "ok.toml"
    spec.write_text('name = "cli"\nquarters = 2\nscale = 2000\n[parameters]\n"relending.rate" = { values = [0.01, 0.02] }\n')
    assert command(["sweep", str(spec), "--executor", "serial", "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "2 runs (2 ok, 0 failed)" in captured.out
    assert len(load_sweep(tmp_path / "o")) == 2


def test_process_pool_sweep_runs_in_a_jupyter_kernel(tmp_path):
    """A real Jupyter kernel: the spawn-based pool neither hangs nor needs anything defined in the notebook."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    spec = {**GRID, "outputs": {}, "seeds": 1}
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from simulation import sweep, load_sweep"),
        nbformat.v4.new_code_cell(f"runs = sweep({spec!r}, executor='process', workers=2, out='nb_out')\n"
                                  "assert len(runs) == 4 and (runs['status'] == 'ok').all()\n"
                                  "print(len(load_sweep('nb_out')))"),
    ])
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert notebook.cells[1].outputs[0]["text"].strip() == "4"


def test_a_killed_worker_ends_the_sweep_cleanly_and_resume_finishes_it(tmp_path):
    import concurrent.futures as cf
    import multiprocessing

    spec = {**GRID, "outputs": {}, "seeds": 1, "parameters": {"relending.rate": {"low": 0.005, "high": 0.02, "levels": 16}}}
    out = tmp_path / "out"
    pool = cf.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))

    def kill_a_worker(done: int, failed: int, total: int) -> None:
        if done == 2:
            os.kill(next(iter(pool._processes)), signal.SIGKILL)  # as the out-of-memory killer would

    try:
        with pytest.raises(SweepError, match=r"the ProcessPoolExecutor executor failed \(BrokenProcessPool.*continue with --resume"):
            sweep(spec, executor=pool, out=out, progress=kill_a_worker, flush_every=1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted" and manifest["status_counts"]["missing"] > 0
    resumed = sweep(spec, executor="serial", out=out, resume=True)
    assert list(resumed["run_id"]) == list(range(16)) and (resumed["status"] == "ok").all()


def child_pids(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (read from /proc)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_pool_workers_end_when_the_sweep_process_alone_is_killed(tmp_path):
    """kill -9 of the sweep process only (as the out-of-memory killer does): its pool workers must not live on."""
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('name = "orphans"\ndesign = "grid"\nseeds = 20\nbase_seed = 7\nquarters = 40\nscale = 2000\n'
                         '[parameters]\n"relending.rate" = [0.01, 0.02]\n')
    proc = subprocess.Popen([sys.executable, "-m", "simulation.experiments", "sweep", str(spec_file), "--out", str(tmp_path / "out"),
                             "--workers", "2", "--flush-every", "1", "--no-progress"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list((tmp_path / "out" / "runs").glob("part-*.parquet")):
            time.sleep(0.05)
        workers = {pid for pid in child_pids(proc.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()}
        assert len(workers) == 2
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(running(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(running(pid) for pid in workers), "pool workers outlived their killed parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the sweep's session
        except ProcessLookupError:
            pass


def test_a_script_without_a_main_guard_is_told_how_to_fix_it(tmp_path):
    script = tmp_path / "no_guard.py"
    script.write_text("from simulation import sweep\n"
                      f"sweep({GRID!r}, executor='process', workers=1, out=None)\n")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert "sweep() was called while a worker process was importing your script" in result.stderr
    assert "if __name__ == '__main__':" in result.stderr


@pytest.mark.parametrize(("module", "args", "words"), [
    ("distributed", ["--executor", "dask"], ["--executor dask", "pip install -e '.[dask]'"]),
    ("SALib.sample.morris", [], ["the morris design needs SALib", "pip install -e '.[sa]'"]),
])
def test_a_missing_extra_is_one_line_naming_it(module, args, words, tmp_path, monkeypatch, capsys):
    """Without the dask or sa extra (here: the module made unimportable) the command says what to install; no traceback."""
    from simulation.cli import main as innofin

    spec = tmp_path / "spec.toml"
    spec.write_text('name = "x"\ndesign = "morris"\nsamples = 2\nquarters = 1\nscale = 4000\n'
                    '[parameters]\n"relending.rate" = { low = 0.01, high = 0.02 }\n"risk_pool.share" = { low = 0.3, high = 0.9 }\n')
    monkeypatch.setitem(sys.modules, module, None)
    code = innofin(["sweep", str(spec), "--out", str(tmp_path / "out"), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("innofin: error: ")
    for word in words:
        assert word in err
    assert not (tmp_path / "out").exists()
