"""Shared test helpers: small, fast model runs with common random numbers."""

from __future__ import annotations

import numpy as np

SMALL = {"run.scale": 300.0}


def paired_seeds(n: int = 10, base: int = 2026) -> list[int]:
    """Replication seeds from one SeedSequence, shared by both arms of a comparison."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(base).spawn(n)]
