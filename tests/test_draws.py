"""Poisson counts by inverting the CDF at each firm's uniform draw."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.draws import POISSON_EXACT_MAX_MEAN, poisson_from_uniforms


def _cdf(k: int, mean: float) -> float:
    """P(K <= k) for K ~ Poisson(mean), term by term in log space (an independent reference)."""
    return sum(math.exp(j * math.log(mean) - mean - math.lgamma(j + 1)) for j in range(k + 1)) if mean > 0 else 1.0


@pytest.mark.parametrize("mean", [0.0, 0.03, 0.4, 2.5, 10.0, 60.0])
def test_each_count_is_the_smallest_k_whose_cdf_passes_its_draw(mean):
    u = np.linspace(0.0, 0.999999, 401)
    counts = poisson_from_uniforms(np.full(len(u), mean), u)
    for draw, k in zip(u.tolist(), counts.tolist()):
        assert _cdf(k, mean) > draw - 1e-12
        assert k == 0 or _cdf(k - 1, mean) <= draw + 1e-12


@pytest.mark.parametrize("mean", [0.2, 3.0, 40.0, 2 * POISSON_EXACT_MAX_MEAN])
def test_counts_have_the_poisson_mean_and_variance(mean):
    u = np.random.default_rng(4).random(200_000)
    counts = poisson_from_uniforms(np.full(len(u), mean), u)
    assert counts.mean() == pytest.approx(mean, rel=0.02)
    assert counts.var() == pytest.approx(mean, rel=0.03)


def test_a_firm_keeps_its_count_when_other_firms_means_change():
    rng = np.random.default_rng(5)
    mean, u = rng.exponential(0.5, 1_000), rng.random(1_000)
    changed = mean.copy()
    changed[::2] *= 3.0
    before, after = poisson_from_uniforms(mean, u), poisson_from_uniforms(changed, u)
    assert np.array_equal(before[1::2], after[1::2])
    assert (after[::2] >= before[::2]).all() and (after[::2] > before[::2]).any()  # a higher mean never lowers a count
