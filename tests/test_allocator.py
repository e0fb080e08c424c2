"""The allocator settings are applied on glibc, and give way to the user's own settings.

Their effect (fewer page faults, a faster run) is a benchmark figure: ``benchmarks/bench_model.py``
prints the page faults of each run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings exist for glibc's malloc only")

RUN = "from simulation import InnovationEconomy; from simulation.allocator import reuse_freed_memory; " \
      "InnovationEconomy('baseline', rng=1, overrides={'run.scale': 2000.0}).run(1); print(reuse_freed_memory())"


def _applied(**env: str) -> bool:
    """Whether a fresh process that runs a model has the settings in effect, under ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "INNOFIN_MALLOC_TUNING"}
    done = subprocess.run([sys.executable, "-c", RUN], env={**clean, **env}, capture_output=True, text=True, check=True)
    return {"True": True, "False": False}[done.stdout.strip()]


def test_a_model_applies_the_settings():
    assert _applied()


@pytest.mark.parametrize("env", [{"MALLOC_ARENA_MAX": "2"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}, {"INNOFIN_MALLOC_TUNING": "0"}])
def test_users_own_settings_win(env):
    assert not _applied(**env)
