"""Matrix sensing: normalisations, GAMP-RIE against the fixed point, perfect recovery,
theory limits, baselines, determinism and argument checks."""

from dataclasses import replace

import numpy as np
import pytest

from hdcore.algorithms import factorised_gd, gamp_rie, nuclear_norm, ridge
from hdcore.models import BilinearSequenceRegression, MatrixSensing, QuadraticNetwork
from hdcore.theory import matrix_sensing as ms

# ---- normalisations -----------------------------------------------------------------------

def test_quadratic_and_gaussian_sensing_have_variance_twice_tr_a_squared():
    # Var Tr((x x^T - I) A) = 2 Tr A^2: with y = Tr(X S)/sqrt(d), E y^2 = 2 ||S||_F^2 / d
    d = 12
    rng = np.random.default_rng(0)
    a = rng.standard_normal((d, d))
    a = (a + a.T) / 2
    for sensing in ("quadratic", "gaussian"):
        model = MatrixSensing(d, d, 40.0, "wishart(2.0)", sensing)  # n = 5760
        smp = model.sample(seed=1)
        h = smp.forward(a)
        want = 2 * np.sum(a * a) / d
        # relative standard error of a mean of n squared near-Gaussians: sqrt(2/n) ~ 2%
        assert np.mean(h**2) == pytest.approx(want, rel=0.08), sensing
    rect = MatrixSensing(7, 9, 80.0, "product(0.5)", "gaussian").sample(seed=2)
    b = rng.standard_normal((7, 9))
    assert np.mean(rect.forward(b) ** 2) == pytest.approx(np.sum(b * b) / 63, rel=0.08)


def test_labels_follow_the_stated_normalisation():
    smp = MatrixSensing(20, 20, 0.5, "wishart(0.5)", "quadratic").sample(seed=3)
    x, s = smp.x, smp.s
    y_direct = (np.einsum("ni,ij,nj->n", x, s, x) - np.trace(s)) / np.sqrt(20)
    assert np.allclose(smp.y, y_direct, atol=1e-10)
    # S = W^T W / m with MP spectrum of mean 1
    w = smp.factors[0]
    assert np.allclose(s, w.T @ w / w.shape[0], atol=1e-12)
    b = BilinearSequenceRegression(D=10, beta=1.5, rho=0.4, alpha=0.6).sample(seed=4)
    v, u = b.factors
    assert np.allclose(b.s, v @ u / np.sqrt(4), atol=1e-12)
    design = b.design()
    assert np.allclose(np.einsum("nij,ij->n", design, b.s), b.y, atol=1e-10)


def test_network_labels_are_sqrt_kappa_times_sensing_labels_and_noise_maps_to_delta():
    net = QuadraticNetwork(d=30, kappa=0.5, alpha=2.0)
    smp = net.sample(seed=5)
    assert np.allclose(smp.y, smp.forward(smp.s), atol=1e-10)
    noisy = replace(net, noise=0.5)
    smp = noisy.sample(seed=5)
    resid = smp.y - smp.forward(smp.s)
    # pre-activation noise = label noise of variance 2 sigma^2 (2 + sigma^2)/kappa (+ O(1/sqrt n))
    assert np.var(resid) == pytest.approx(noisy.delta, rel=0.05)
    assert noisy.delta == pytest.approx(2 * 0.25 * 2.25 / 0.5)


def test_forward_and_adjoint_are_adjoint():
    for model in (MatrixSensing(15, 15, 0.8, "wishart(0.5)", "quadratic"),
                  MatrixSensing(15, 15, 0.8, "wishart(0.5)", "gaussian"),
                  MatrixSensing(8, 13, 0.8, "product(0.5)", "gaussian")):
        smp = model.sample(seed=6)
        rng = np.random.default_rng(7)
        s = rng.standard_normal((model.d1, model.d2))
        if model.symmetric:
            s = s + s.T
        g = rng.standard_normal(model.n)
        assert np.dot(smp.forward(s), g) == pytest.approx(np.sum(smp.adjoint(g) * s), rel=1e-10)


def test_samples_and_algorithms_do_not_depend_on_the_thread_count():
    model = QuadraticNetwork(d=40, kappa=0.5, alpha=0.3, noise=0.2)
    a, b = model.sample(seed=8, n_threads=1), model.sample(seed=8, n_threads=2)
    assert np.array_equal(a.y, b.y) and np.array_equal(a.s, b.s) and np.array_equal(a.x, b.x)
    r1 = gamp_rie(a, n_iter=5, n_threads=1)
    r2 = gamp_rie(a, n_iter=5, n_threads=2)
    assert np.array_equal(r1.estimate, r2.estimate)
    bsr = BilinearSequenceRegression(D=20, beta=1.5, rho=0.5, alpha=0.5, noise=0.1)
    s1, s2 = bsr.sample(seed=9, n_threads=1), bsr.sample(seed=9, n_threads=2)
    assert np.array_equal(s1.y, s2.y)
    g1 = factorised_gd(s1, n_steps=20, n_inits=2, n_threads=1)
    g2 = factorised_gd(s1, n_steps=20, n_inits=2, n_threads=2)
    assert np.array_equal(g1.estimate, g2.estimate)


# ---- GAMP-RIE -----------------------------------------------------------------------------

def test_gamp_rie_reaches_the_bayes_optimal_fixed_point_quadratic_d200():
    model = QuadraticNetwork(d=200, kappa=0.5, alpha=0.3)
    fp = ms.fixed_point(model)
    res = gamp_rie(model.sample(seed=10), n_iter=150, tol=1e-6)
    # quadratic sensing converges to its Gaussian-sensing limit with O(1/d) corrections of
    # sizeable constant (we measure +4% at d = 100, +2% at d = 200 for this point); the
    # error of one sample fluctuates by O(1/d)
    assert res.final_mse == pytest.approx(fp.mse, rel=0.08)
    assert res.normalised_mse[0] == pytest.approx(1.0, rel=0.05)  # starts at the prior mean


def test_gamp_rie_reaches_the_fixed_point_bsr():
    model = BilinearSequenceRegression(D=50, beta=1.0, rho=0.5, alpha=0.4, noise=0.1)
    fp = ms.fixed_point(model)
    res = gamp_rie(model.sample(seed=11), n_iter=150, tol=1e-7)
    # Gaussian sensing: finite-size error O(1/D) (measured < 2% at D = 50)
    assert res.final_mse == pytest.approx(fp.mse, rel=0.06)


def test_gamp_rie_follows_state_evolution_with_gaussian_sensing():
    model = MatrixSensing(60, 60, 0.3, "wishart(0.5)", "gaussian", noise=0.05)
    se = ms.state_evolution(model, n_iter=6)
    res = gamp_rie(model.sample(seed=12), n_iter=6, damping=0.0)
    # per-iteration agreement at d = 60 up to finite-size fluctuations of a few percent
    assert np.allclose(res.mse[:7], se.mse[:7], rtol=0.08)


def test_fast_and_open_paths_give_the_same_numbers():
    for model in (QuadraticNetwork(d=40, kappa=0.5, alpha=0.3, noise=0.1),
                  BilinearSequenceRegression(D=20, beta=1.5, rho=0.5, alpha=0.5, noise=0.1)):
        smp = model.sample(seed=13)
        fast = gamp_rie(smp, n_iter=12)
        open_ = gamp_rie(smp, n_iter=12, open_path=True)
        assert np.allclose(fast.mse, open_.mse, rtol=1e-9, atol=1e-12)
        assert np.allclose(fast.estimate, open_.estimate, rtol=1e-8, atol=1e-10)
    # a random start (an independent draw from the prior) has twice the prior variance as error
    smp = QuadraticNetwork(d=60, kappa=0.5, alpha=0.3).sample(seed=19)
    rnd = gamp_rie(smp, n_iter=1, init="random", seed=3)
    assert rnd.normalised_mse[0] == pytest.approx(2.0, rel=0.1)


# ---- perfect recovery and theory ------------------------------------------------------------

@pytest.mark.parametrize("kappa", [0.3, 0.5, 1.0, 2.0])
def test_noiseless_error_vanishes_at_the_quadratic_network_threshold(kappa):
    a_pr = kappa - kappa**2 / 2 if kappa < 1 else 0.5
    model = QuadraticNetwork(d=100, kappa=kappa, alpha=a_pr)
    assert ms.perfect_recovery_threshold(model) == pytest.approx(a_pr)
    below = ms.fixed_point(replace(model, alpha=a_pr - 0.03)).mse
    near = ms.fixed_point(replace(model, alpha=a_pr - 0.003)).mse
    assert below > near > 0
    assert ms.fixed_point(replace(model, alpha=a_pr + 0.005)).mse == 0.0


@pytest.mark.parametrize("beta,rho", [(1.0, 0.5), (2.0, 0.5), (1.0, 1.0), (2.0, 1.5), (0.5, 0.3)])
def test_noiseless_error_vanishes_at_the_bsr_threshold(beta, rho):
    model = BilinearSequenceRegression(D=100, beta=beta, rho=rho, alpha=0.5)
    r_eff = min(rho, 1.0, beta)
    a_pr = min(1.0, r_eff * (1 + beta - r_eff) / beta)
    assert ms.perfect_recovery_threshold(model) == pytest.approx(a_pr)
    assert ms.fixed_point(replace(model, alpha=a_pr - 0.02)).mse > 0
    if a_pr < 1:
        assert ms.fixed_point(replace(model, alpha=a_pr + 0.005)).mse == 0.0


def test_gamp_rie_recovers_the_matrix_above_the_threshold():
    model = QuadraticNetwork(d=100, kappa=0.5, alpha=0.45)  # alpha_PR = 0.375
    res = gamp_rie(model.sample(seed=14), n_iter=200, tol=1e-9)
    assert res.final_mse < 2e-3 * model.to_sensing().prior_variance


def test_fixed_point_limits():
    # alpha -> 0: the prior mean, normalised error 1
    qn = QuadraticNetwork(d=1000, kappa=0.5, alpha=1e-4)
    assert ms.fixed_point(qn).normalised_mse == pytest.approx(1, abs=1e-3)
    bsr = BilinearSequenceRegression(D=1000, beta=2, rho=0.5, alpha=1e-4)
    assert ms.fixed_point(bsr).mse == pytest.approx(1, abs=1e-3)
    # kappa -> infinity: 1 - 2 alpha (and the noisy closed form)
    for a in (0.1, 0.3):
        big = QuadraticNetwork(d=10, kappa=200.0, alpha=a)
        assert ms.fixed_point(big).normalised_mse == pytest.approx(1 - 2 * a, abs=5e-3)
        assert ms.quadratic_large_width_limit(a) == pytest.approx(1 - 2 * a)
        noisy = replace(big, noise=0.4)
        assert ms.fixed_point(noisy).normalised_mse == pytest.approx(
            ms.quadratic_large_width_limit(a, 0.4), abs=5e-3)
    # beta -> infinity (ETB+24 equation; noiseless closed form (1 - a)(1 - a/rho))
    assert ms.bsr_large_beta_mse(0.3, 0.5) == pytest.approx(0.7 * 0.4)
    b = BilinearSequenceRegression(D=10, beta=1000.0, rho=0.5, alpha=0.3, noise=0.1)
    assert ms.fixed_point(b).mse == pytest.approx(ms.bsr_large_beta_mse(0.3, 0.5, 0.1), abs=5e-3)
    # rho -> 0 at fixed alpha_LR (rank-r BBP); finite-rho corrections are O(rho)
    lr = BilinearSequenceRegression(D=1000, beta=2.0, rho=0.01, alpha=1.5 * 0.01 * 3 / 2, noise=0.1)
    assert ms.fixed_point(lr).mse == pytest.approx(ms.bsr_low_rank_mse(1.5, 2.0, 0.1), abs=0.01)
    # ridge at lam = noise is the Bayes linear estimator; noiseless 1 - alpha
    assert ms.ridge_mse(0.4) == pytest.approx(0.6)
    assert ms.ridge_mse(0.5, 0.2, lam=0.2) == pytest.approx(ms.ridge_mse(0.5, 0.2), rel=1e-6)
    assert ms.ridge_mse(0.5, 0.2, lam=1.0) > ms.ridge_mse(0.5, 0.2)
    # state evolution converges to the fixed point
    m = QuadraticNetwork(d=10, kappa=0.5, alpha=0.3, noise=0.3)
    assert ms.state_evolution(m, n_iter=500).mse[-1] == pytest.approx(ms.fixed_point(m).mse, rel=1e-6)


def test_free_entropy_is_maximised_at_the_fixed_point():
    for model in (QuadraticNetwork(d=10, kappa=0.5, alpha=0.3, noise=0.3),
                  BilinearSequenceRegression(D=10, beta=2.0, rho=0.5, alpha=0.4, noise=0.1)):
        fp = ms.fixed_point(model)
        qs = fp.q + np.array([-0.3, -0.1, -0.02, 0.0, 0.02, 0.1])
        phi = np.array([ms.free_entropy(model, q) for q in qs])
        assert np.argmax(phi) == 3
        assert np.all(np.diff(phi[:4]) > 0) and np.all(np.diff(phi[3:]) < 0)  # unimodal


# ---- baselines ----------------------------------------------------------------------------

def test_gradient_descent_interpolates_and_averaging_helps():
    model = QuadraticNetwork(d=30, kappa=0.5, alpha=0.3)
    smp = model.sample(seed=15)
    gd = factorised_gd(smp, n_inits=4, n_steps=1500, lr=0.5)
    assert gd.loss[-1] < 1e-4  # GD interpolates the noiseless data
    bayes = ms.fixed_point(model).mse
    assert gd.single_mse > bayes
    assert gd.mse < gd.single_mse  # averaging over initialisations reduces the error
    above = factorised_gd(replace(model, alpha=0.5).sample(seed=16), n_steps=1500, lr=0.5)
    assert above.mse < 0.05  # above the threshold GD finds the planted matrix


def test_nuclear_norm_and_ridge_baselines():
    smp = BilinearSequenceRegression(D=12, beta=1.0, rho=0.25, alpha=0.8).sample(seed=17)
    nn = nuclear_norm(smp, n_iter=1500)
    assert nn.residual < 1e-4 and nn.mse < 0.05  # well above the MNNE threshold: exact
    model = BilinearSequenceRegression(D=20, beta=1.0, rho=0.5, alpha=0.5, noise=0.1)
    errs = [ridge(model.sample(seed=s)).mse for s in range(4)]
    # one draw fluctuates by ~0.1 at n = 200 (the norm of a product matrix fluctuates a lot);
    # the mean of 4 by ~0.05
    assert np.mean(errs) == pytest.approx(ms.ridge_mse(0.5, 0.1), abs=0.15)


# ---- argument checks ----------------------------------------------------------------------

def test_bad_input_raises_errors_naming_the_argument():
    with pytest.raises(ValueError, match="kappa"):
        QuadraticNetwork(d=10, kappa=0.0, alpha=0.3)
    with pytest.raises(ValueError, match="kappa"):
        QuadraticNetwork(d=10, kappa=-1.0, alpha=0.3)
    with pytest.raises(ValueError, match="noise"):
        QuadraticNetwork(d=10, kappa=0.5, alpha=0.3, noise=float("nan"))
    with pytest.raises(ValueError, match="d1"):
        MatrixSensing(10, 12, 0.3, "wishart(0.5)")
    with pytest.raises(ValueError, match="sensing"):
        MatrixSensing(10, 10, 0.3, "wishart(0.5)", "fourier")
    with pytest.raises(ValueError, match="sensing"):
        MatrixSensing(10, 12, 0.3, "product(0.5)", "quadratic")
    with pytest.raises(ValueError, match="prior"):
        MatrixSensing(10, 10, 0.3, "gaussian(1)")
    with pytest.raises(TypeError, match="D"):
        BilinearSequenceRegression(D=10.5, beta=1.0, rho=0.5, alpha=0.3)
    smp = QuadraticNetwork(d=10, kappa=0.5, alpha=0.3).sample(seed=1)
    with pytest.raises(ValueError, match="damping"):
        gamp_rie(smp, damping=1.0)
    with pytest.raises(ValueError, match="init"):
        gamp_rie(smp, init=np.ones((3, 3)))
    with pytest.raises(ValueError, match="estimate"):
        smp.error(np.ones((10, 9)))
    with pytest.raises(ValueError, match="lr"):
        factorised_gd(smp, lr=-1.0)
    with pytest.raises(TypeError, match="sample"):
        gamp_rie(np.eye(3))
