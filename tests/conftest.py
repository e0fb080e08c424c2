"""Shared test helpers: small, fast model runs with common random numbers."""

from __future__ import annotations

import os

import numpy as np

SMALL = {"run.scale": 300.0}


def paired_seeds(n: int = 10, base: int = 2026) -> list[int]:
    """Replication seeds from one SeedSequence, shared by both arms of a comparison."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(base).spawn(n)]


def pytest_sessionfinish(session, exitstatus) -> None:
    """With ``INNOFIN_NO_SKIPS=1`` (set by ``.ci/run``) a skipped test fails the run.

    Tests of optional parts (the browser app, Dask, SALib) skip themselves where
    their extras are missing; in CI every extra is installed, so a skip there means
    a broken install, not an optional part.
    """
    if os.environ.get("INNOFIN_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        reporter.write_line("")
        for report in skipped:
            reporter.write_line(f"INNOFIN_NO_SKIPS: {report.nodeid} was skipped: {report.longrepr}")
        session.exitstatus = 1
