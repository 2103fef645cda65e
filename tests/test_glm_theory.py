"""State evolution and free entropy of Bayes GAMP for GLMs and multi-index models."""

import numpy as np
import pytest

from hdcore.models import MultiIndex, SpikedWigner
from hdcore.theory import (
    gamp_fixed_points,
    gamp_state_evolution,
    glm_free_entropy,
    glm_thresholds,
    state_evolution,
)
from hdcore.theory.glm import _output_side


def test_linear_gaussian_state_evolution_has_its_closed_form():
    # y = z + sqrt(D) xi with a Gaussian prior: qhat = alpha/(D + 1 - q), q = qhat/(1 + qhat)
    alpha, noise = 1.3, 0.2
    se = state_evolution(MultiIndex(d=10, alpha=alpha, p=1, link="linear", noise=noise), tol=1e-13)
    q = se.fixed_point[0, 0]
    assert q == pytest.approx(alpha / (noise + 1 - q) / (1 + alpha / (noise + 1 - q)), abs=1e-10)
    assert se.final_overlap == pytest.approx(np.sqrt(q))


def test_output_side_at_zero_overlap_is_the_channel_matrix_average():
    # at Q = 0, g_out = E[z | y] and Qhat = alpha E_y[E[z|y] E[z|y]^T]: sign gives 2 alpha/pi,
    # channels with E[z | y] = 0 give 0 (the uninformative fixed point)
    qhat, psi = _output_side(MultiIndex(d=10, alpha=1.5, p=1, link="sign"), np.zeros((1, 1)), {})
    assert qhat[0, 0] == pytest.approx(1.5 * 2 / np.pi, abs=1e-12)
    assert psi == pytest.approx(-np.log(2), abs=1e-12)
    qhat, _ = _output_side(MultiIndex(d=10, alpha=1.5, p=2, link="z1*z2"), 1e-9 * np.eye(2), {})
    assert np.abs(qhat).max() < 1e-6


def test_uninformative_fixed_point_is_stable_below_and_unstable_above_alpha_c():
    # linear stability of Q = 0 is governed by F (alpha_c = 1/2 for phase retrieval)
    for alpha, grows in ((0.4, False), (0.7, True)):
        se = gamp_state_evolution(MultiIndex(d=10, alpha=alpha, p=1, link="square"), n_iter=60)
        assert (se.fixed_point[0, 0] > 1e-3) == grows


def test_two_direction_state_evolution_is_converged_in_the_number_of_points():
    # the p = 2 expectations use scrambled Sobol points; 2^13 and 2^15 points agree to ~1e-2
    model = MultiIndex(d=10, alpha=1.5, p=2, link="z1*z2")
    a = gamp_state_evolution(model, tol=1e-7, se_options={"log2n": 13})
    b = gamp_state_evolution(model, tol=1e-7, se_options={"log2n": 15})
    assert a.final_overlap == pytest.approx(b.final_overlap, abs=1e-2)
    # by the symmetries of z1 z2 the fixed point is proportional to the identity
    q = b.fixed_point
    assert abs(q[0, 1]) < 0.02 and q[0, 0] == pytest.approx(q[1, 1], abs=0.02)


@pytest.mark.slow
def test_binary_perceptron_first_order_transition():
    # Rademacher teacher, sign link: perfect recovery becomes information-theoretically possible
    # at alpha_IT and reachable by GAMP at alpha_alg (Gyorgyi 1990: 1.245; Barbier et al. 2019:
    # 1.249 and 1.493). An independent scipy.integrate computation of the same replica
    # free entropy gives alpha_IT = 1.24468, which this implementation must match.
    model = MultiIndex(d=10, alpha=1.3, p=1, link="sign", prior="rademacher")
    alpha_it, alpha_alg = glm_thresholds(model, lower=1.1, upper=1.7, xtol=2e-4, tol=1e-10)
    assert alpha_it == pytest.approx(1.24468, abs=1e-3)
    assert alpha_it == pytest.approx(1.249, abs=6e-3)
    assert alpha_alg == pytest.approx(1.493, abs=3e-3)
    # between the two: a hard phase (GAMP stuck, Bayes-optimal estimator perfect)
    fp = gamp_fixed_points(MultiIndex(d=10, alpha=1.35, p=1, link="sign", prior="rademacher"))
    assert fp.hard_phase and fp.overlap_bayes_optimal == pytest.approx(1.0, abs=1e-9)
    # perfect recovery has free entropy -log 2 (entropy of the prior; labels are noiseless)
    assert fp.phi_informative == pytest.approx(-np.log(2), abs=1e-6)


def test_free_entropy_is_stationary_at_the_fixed_point():
    # d Phi/dQ = 0 at a state evolution fixed point: this needs psi_in' = Q/2 and
    # alpha psi_out' = Qhat/2, i.e. that log Z and g_out of the channel (and of the prior) are
    # consistent; away from the fixed point the slope is O(1)
    for link, prior, alpha in (("sign", "gaussian", 1.5), ("abs", "rademacher", 0.7)):
        model = MultiIndex(d=10, alpha=alpha, p=1, link=link, prior=prior)
        q = gamp_state_evolution(model, tol=1e-13).fixed_point[0, 0]
        assert 0.05 < q < 0.95
        h = 1e-4

        def slope(x, model=model, h=h):
            return (glm_free_entropy(model, x + h) - glm_free_entropy(model, x - h)) / (2 * h)

        assert abs(slope(q)) < 1e-5
        assert abs(slope(0.5 * q)) > 1e-3


def test_state_evolution_dispatches_on_the_model():
    assert hasattr(state_evolution(SpikedWigner(n=10, snr=1.5, prior="rademacher")), "overlap")
    with pytest.raises(TypeError):
        gamp_state_evolution(SpikedWigner(n=10, snr=1.5))
    with pytest.raises(ValueError, match="init"):
        gamp_state_evolution(MultiIndex(d=10, alpha=1.0, p=1), init="warm")
