"""State evolution, free entropy and thresholds of the spiked models."""

import numpy as np
import pytest

from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.theory import (
    algorithmic_threshold,
    fixed_points,
    free_entropy,
    information_theoretic_threshold,
    state_evolution,
)


def test_state_evolution_fixed_point_is_stationary_for_the_free_entropy():
    for model in (SpikedWigner(n=10, snr=1.4, prior="rademacher"),
                  SpikedWishart(d=10, alpha=2, beta=1.2, prior="sparse_rademacher(0.2)")):
        m = state_evolution(model, tol=1e-14, n_iter=10_000).fixed_point
        h = 1e-5
        dphi = (free_entropy(model, m + h) - free_entropy(model, m - h)) / (2 * h)
        assert abs(dphi) < 1e-6
        assert free_entropy(model, m) > free_entropy(model, 0.0)


def test_uninformative_point_is_zero_below_the_algorithmic_threshold():
    assert algorithmic_threshold(SpikedWigner(n=10, snr=1, prior="rademacher")) == 1.0
    assert algorithmic_threshold(SpikedWishart(d=10, alpha=4, beta=1)) == pytest.approx(0.5)
    assert fixed_points(SpikedWigner(n=10, snr=0.99, prior="rademacher")).uninformative == 0
    assert fixed_points(SpikedWigner(n=10, snr=1.01, prior="rademacher")).uninformative > 0


def test_sparse_prior_has_a_hard_phase_below_the_tricritical_density():
    """Sparse Rademacher: the transition is continuous (IT = algorithmic = 1) for rho above
    ~0.09 and first order below (Lesieur, Krzakala & Zdeborova 2017, Fig. 3)."""
    assert information_theoretic_threshold(SpikedWigner(n=10, snr=1, prior="sparse_rademacher(0.12)")) \
        == pytest.approx(1.0)
    it = information_theoretic_threshold(SpikedWigner(n=10, snr=1, prior="sparse_rademacher(0.05)"))
    assert 0.8 < it < 0.92
    fp = fixed_points(SpikedWigner(n=10, snr=it + 0.01, prior="sparse_rademacher(0.05)"))
    assert fp.hard_phase
    fp = fixed_points(SpikedWigner(n=10, snr=it - 0.01, prior="sparse_rademacher(0.05)"))
    assert not fp.hard_phase and fp.bayes_optimal == 0


def test_se_trace_starts_at_its_initial_overlap_and_damping_keeps_the_fixed_point():
    model = SpikedWigner(n=10, snr=1.5, prior="rademacher")
    se = state_evolution(model, init=0.3)
    assert se.overlap[0] == 0.3 and se.converged
    damped = state_evolution(model, init=0.3, damping=0.5, n_iter=5000)
    assert damped.fixed_point == pytest.approx(se.fixed_point, abs=1e-9)
    assert np.allclose(se.mse, 1 - se.overlap)
    with pytest.raises(ValueError, match="init"):
        state_evolution(model, init="magic")
