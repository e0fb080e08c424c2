"""The baseline at a fixed seed must match a stored summary (relative tolerance 1e-9).

A failure means the model's results changed. If the change is intended, regenerate the
stored file on purpose and commit it together with the change::

    INNOFIN_REGENERATE=1 python -m pytest tests/test_outputs_regression.py

"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from simulation import simulate
from simulation.outputs.writer import json_ready

STORED = Path(__file__).parent / "data" / "regression_baseline.json"
SETTINGS = {"scenario": "baseline", "seed": 20260101, "quarters": 6, "run.scale": 1000.0}
REL_TOL = 1e-9
# Floating-point rounding noise of the stock-flow check, not a model result: compared by size only.
NOISE_KEYS = {"ledger_max_abs_error_rmb"}
REGENERATE = "INNOFIN_REGENERATE=1 python -m pytest tests/test_outputs_regression.py"


def current_summary() -> dict[str, float | None]:
    kpis = simulate(SETTINGS["scenario"], seed=SETTINGS["seed"], quarters=SETTINGS["quarters"], **{"run.scale": SETTINGS["run.scale"]})
    return json_ready(kpis)


def test_baseline_summary_matches_the_stored_regression_file():
    summary = current_summary()
    if os.environ.get("INNOFIN_REGENERATE") == "1":
        STORED.write_text(json.dumps({"settings": SETTINGS, "regenerate": REGENERATE, "summary": summary}, indent=2) + "\n")
    stored = json.loads(STORED.read_text())
    assert stored["settings"] == SETTINGS
    expected = stored["summary"]
    assert set(summary) == set(expected), f"KPI names changed; if intended run: {REGENERATE}"
    changed = []
    for key, want in expected.items():
        got = summary[key]
        if key in NOISE_KEYS:
            assert got is not None and abs(got) < 1.0, f"{key} = {got}: the ledger does not balance"
            continue
        same = (got is None and want is None) or (
            got is not None and want is not None and math.isclose(got, want, rel_tol=REL_TOL, abs_tol=1e-12))
        if not same:
            changed.append(f"{key}: stored {want!r}, now {got!r}")
    assert not changed, f"{len(changed)} KPI(s) changed ({'; '.join(changed[:5])}). If intended run: {REGENERATE}"
