"""The results folder of a sweep: Parquet part files written as runs finish, and a manifest.

Layout::

    DIR/manifest.json            spec, base scenario, versions, git commit, status counts
    DIR/runs/part-000000.parquet one row per run: run_id, point_id, replicate, seed,
                                 parameters (dotted keys), KPIs, status, error, elapsed_s
    DIR/timeseries/part-000000.parquet   quarterly rows of the same runs (if kept)

Every file is written to a temporary name and moved into place with
``os.replace``, so a killed sweep never leaves a half-written part. A run
counts as done once its row is in a ``runs`` part; the ``timeseries`` part of
the same number is written first, and one without its ``runs`` partner is an
orphan that :meth:`ResultStore.open` removes. DuckDB reads the folder
directly: ``SELECT * FROM read_parquet('DIR/runs/*.parquet', union_by_name=true)``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulation.experiments.spec import SweepError
from simulation.experiments.worker import RunOutcome

MANIFEST = "manifest.json"
RUNS, SERIES = "runs", "timeseries"
PART = re.compile(r"^part-(\d{6})\.parquet$")
FORMAT = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (all or nothing)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as one Parquet file, atomically."""
    table = pa.Table.from_pandas(_storable(frame), preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python types (e.g. a lever given as ["none", 0.03]) become text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            kinds = {type(v) for v in out[column] if v is not None}
            if len(kinds) > 1:
                out[column] = out[column].map(lambda v: None if v is None else str(v))
    return out


def read_parts(folder: Path) -> pd.DataFrame:
    """All part files of a folder as one DataFrame (columns unioned by name)."""
    files = sorted(p for p in folder.glob("part-*.parquet") if PART.match(p.name)) if folder.is_dir() else []
    frames = [pq.read_table(path).to_pandas() for path in files]
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{root}: not a sweep results folder (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise SweepError(f"{path}: cannot be read ({error})") from None


def load_sweep(root: str | Path, table: str = RUNS) -> pd.DataFrame:
    """The results of a sweep folder as one DataFrame, sorted by run (``table``: "runs" or "timeseries")."""
    root = Path(root)
    read_manifest(root)
    if table not in (RUNS, SERIES):
        raise SweepError(f"table must be '{RUNS}' or '{SERIES}' (got {table!r})")
    return in_run_order(read_parts(root / table), table)


def in_run_order(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Rows sorted by run (and quarter and region for time series), whatever order runs finished in."""
    if frame.empty:
        return frame
    keys = ["run_id"] + (["quarter", "region"] if table == SERIES else [])
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


class ResultStore:
    """Collects run outcomes and writes them as part files (or only keeps them in memory when ``root`` is None).

    Args:
        root: results folder, or None for an in-memory sweep.
        flush_every: runs per part file.
        flush_seconds: also write a part when this many seconds passed since the last one.
    """

    def __init__(self, root: str | Path | None, flush_every: int = 100, flush_seconds: float = 30.0) -> None:
        self.root = Path(root) if root is not None else None
        self.flush_every, self.flush_seconds = max(1, flush_every), flush_seconds
        self.rows: list[dict[str, Any]] = []
        self.series: list[pd.DataFrame] = []
        self.kept_rows: list[dict[str, Any]] = []
        self.kept_series: list[pd.DataFrame] = []
        self.counts: Counter[str] = Counter()
        self.done_ids: set[int] = set()
        self.next_part = 0
        self.last_flush = time.monotonic()
        self.manifest: dict[str, Any] = {}

    # -- opening -----------------------------------------------------------------
    def has_results(self) -> bool:
        """True when the folder holds a manifest or run parts (something to resume or to protect)."""
        if self.root is None:
            return False
        return (self.root / MANIFEST).exists() or any((self.root / RUNS).glob("part-*.parquet"))

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a new results folder; refuses one that already holds results."""
        self.manifest = dict(manifest, format=FORMAT)
        if self.root is None:
            return
        if self.has_results():
            raise SweepError(f"{self.root}: already holds sweep results; pass --resume to finish them or choose another --out")
        (self.root / RUNS).mkdir(parents=True, exist_ok=True)
        (self.root / SERIES).mkdir(exist_ok=True)
        self.write_manifest("running")

    def open(self, manifest: dict[str, Any]) -> None:
        """Reopen a folder to resume it: clean temporary files and orphan parts, read what is done."""
        if self.root is None:
            raise SweepError("resume needs a results folder (--out DIR)")
        old = read_manifest(self.root)
        for key, what in (("spec", "sweep spec"), ("scenario", "base scenario")):
            if old.get(key) != manifest.get(key):
                raise SweepError(f"{self.root}: holds a different sweep (its {what} differs); use another --out to start afresh")
        self.manifest = dict(old, **{k: v for k, v in manifest.items() if k not in ("created",)})
        (self.root / RUNS).mkdir(parents=True, exist_ok=True)
        (self.root / SERIES).mkdir(exist_ok=True)
        for folder in (self.root, self.root / RUNS, self.root / SERIES):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
        runs = {PART.match(p.name).group(1) for p in (self.root / RUNS).iterdir() if PART.match(p.name)}
        for path in (self.root / SERIES).iterdir():
            match = PART.match(path.name)
            if match and match.group(1) not in runs:
                path.unlink()
        numbers = [int(n) for n in runs]
        self.next_part = max(numbers) + 1 if numbers else 0
        done = read_parts(self.root / RUNS)
        if not done.empty:
            self.done_ids = {int(i) for i in done["run_id"]}
            self.counts.update(done["status"].tolist())
        self.write_manifest("running")

    # -- writing -----------------------------------------------------------------
    def add(self, outcome: RunOutcome) -> None:
        """Record one finished run; writes a part when enough runs or time accumulated."""
        self.rows.append(outcome.row)
        if outcome.timeseries is not None:
            self.series.append(outcome.timeseries)
        self.counts[outcome.row["status"]] += 1
        self.done_ids.add(int(outcome.row["run_id"]))
        if len(self.rows) >= self.flush_every or time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write buffered runs as the next part (time series first, then the runs part that commits them)."""
        self.last_flush = time.monotonic()
        if not self.rows:
            return
        rows, series = pd.DataFrame(self.rows), self.series
        self.rows, self.series = [], []
        if self.root is None:
            self.kept_rows.append(rows)
            self.kept_series.extend(series)
            return
        name = f"part-{self.next_part:06d}.parquet"
        self.next_part += 1
        if series:
            write_parquet(pd.concat(series, ignore_index=True), self.root / SERIES / name)
        write_parquet(rows, self.root / RUNS / name)
        self.write_manifest("running")

    def write_manifest(self, state: str) -> None:
        self.manifest.update(state=state, status_counts=self.status_counts(), updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        if self.root is not None:
            text = json.dumps(self.manifest, indent=2, default=str)
            atomic_write_bytes(self.root / MANIFEST, text.encode())

    def status_counts(self) -> dict[str, int]:
        total = int(self.manifest.get("runs_total", 0))
        ok, failed = self.counts.get("ok", 0), self.counts.get("failed", 0)
        return {"ok": ok, "failed": failed, "missing": max(0, total - ok - failed)}

    def close(self, state: str) -> None:
        """Write what is buffered and the final manifest (``complete`` or ``interrupted``)."""
        self.flush()
        self.write_manifest(state)

    # -- reading -----------------------------------------------------------------
    def frame(self, table: str = RUNS) -> pd.DataFrame:
        """Everything collected so far (from disk, or from memory for in-memory sweeps)."""
        if self.root is not None:
            return load_sweep(self.root, table)
        parts = self.kept_rows if table == RUNS else self.kept_series
        parts = [p for p in parts if len(p)]
        return in_run_order(pd.concat(parts, ignore_index=True), table) if parts else pd.DataFrame()
