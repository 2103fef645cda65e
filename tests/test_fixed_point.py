"""The fixed-point engine (hdcore.theory.fixed_point) on maps with known fixed points."""

import doctest
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg

import hdcore
from hdcore.models import SpikedWigner
from hdcore.theory import fixed_point as fpe
from hdcore.theory.fixed_point import OutOfDomain, branches, continuation, solve, transition
from hdcore.theory.low_rank import (
    algorithmic_threshold,
    fixed_points,
    information_theoretic_threshold,
    state_evolution_map,
)


def test_docstring_examples():
    assert doctest.testmod(fpe).failed == 0


def test_contraction_scalar_and_vector():
    r = solve(np.cos, 1.0, tol=1e-13, max_iter=500)
    assert r.converged and isinstance(r.x, float)
    assert r.x == pytest.approx(0.7390851332151607, abs=1e-12)
    assert r.residual < 1e-13
    # x = A x + b with spectral radius 0.9: solution (I - A)^{-1} b
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 6))
    a *= 0.9 / np.max(np.abs(np.linalg.eigvals(a)))
    b = rng.standard_normal(6)
    exact = np.linalg.solve(np.eye(6) - a, b)
    plain = solve(lambda x: a @ x + b, np.zeros(6), tol=1e-12, max_iter=5000, raise_on_failure=False)
    acc = solve(lambda x: a @ x + b, np.zeros(6), tol=1e-12, max_iter=5000, anderson=6)
    assert acc.converged
    np.testing.assert_allclose(acc.x, exact, atol=1e-10)
    if plain.converged:  # a non-normal A may make the plain iteration very slow, never faster
        np.testing.assert_allclose(plain.x, exact, atol=1e-9)
    assert acc.n_iter < plain.n_iter


def test_trace_is_the_damped_iteration():
    def f(x):
        return np.array([np.cos(x[0]), 0.5 * np.sin(x[1]) + 0.3])

    res = solve(f, np.array([1.0, 0.0]), damping=0.4, tol=1e-12, max_iter=200, trace=True)
    x = np.array([1.0, 0.0])
    for t, xt in enumerate(res.trace):
        np.testing.assert_allclose(xt, x, rtol=1e-14, atol=1e-15, err_msg=f"iterate {t}")
        x = 0.6 * f(x) + 0.4 * x
    assert len(res.trace) == res.n_iter + 1


def _double_well(z):
    x, y = z
    return np.array([x - 0.2 * (x**3 - x + 0.1 * y), y - 0.2 * (y - 0.1 * x)])


def test_two_attractors_and_their_basins():
    star = np.sqrt(0.99)
    wells = {+1: np.array([star, 0.1 * star]), -1: np.array([-star, -0.1 * star])}
    for x0 in np.linspace(-2, 2, 9):
        for y0 in np.linspace(-1, 1, 5):
            if abs(x0) < 0.3:
                continue
            res = solve(_double_well, np.array([x0, y0]), tol=1e-12, max_iter=2000)
            np.testing.assert_allclose(res.x, wells[int(np.sign(x0))], atol=1e-10)
    b = branches(_double_well, {"left": np.array([-1.0, 0.5]), "right": np.array([1.0, -0.5]),
                                "right2": np.array([0.8, 0.8])}, tol=1e-12, max_iter=2000)
    assert b.coexist and b.groups == (("left",), ("right", "right2"))
    np.testing.assert_allclose(b.limit("left"), wells[-1], atol=1e-10)
    one = branches(_double_well, [np.array([1.0, 0.0]), np.array([2.0, 1.0])], tol=1e-12, max_iter=2000)
    assert not one.coexist and len(one.distinct) == 1


def test_oscillating_map_converges_with_anderson():
    r = 3.3  # logistic map: F'(x*) = 2 - r = -1.3, the plain iteration falls onto a 2-cycle
    def f(x):
        return r * x * (1 - x)

    with pytest.raises(hdcore.ConvergenceError) as info:
        solve(f, 0.6, tol=1e-12, max_iter=300)
    assert info.value.residual > 0.1 and "no convergence" in info.value.reason
    assert not info.value.result.converged
    res = solve(f, 0.6, tol=1e-12, max_iter=300, anderson=2)
    assert res.converged and res.x == pytest.approx(1 - 1 / r, abs=1e-12)


def test_domain_back_off_and_stop_with_reason():
    # x = log(x) + 2: stable root 3.146 (F' = 1/x < 1), unstable root 0.1586 below which the
    # iteration is pushed towards x = 0, the edge of the domain
    def f(x):
        if x <= 0:
            raise OutOfDomain("log of a non-positive number")
        return np.log(x) + 2

    good = solve(f, 1.0, tol=1e-12, max_iter=500)
    assert good.x == pytest.approx(3.146193220620583, abs=1e-10)
    bad = solve(f, 0.05, tol=1e-12, max_iter=500, raise_on_failure=False)
    assert not bad.converged and "pushed out of the domain" in bad.reason
    assert "non-positive" in bad.reason and 0 < bad.x < 0.1586
    # the same with a domain callback instead of an exception
    bad2 = solve(lambda x: np.log(abs(x)) + 2, 0.05, domain=lambda x: None if x > 0 else "x <= 0",
                 tol=1e-12, max_iter=500, raise_on_failure=False)
    assert not bad2.converged and "x <= 0" in bad2.reason and np.isfinite(bad2.x) and bad2.x > 0
    # a start outside the domain, a map returning NaN
    out = solve(f, -1.0, raise_on_failure=False)
    assert not out.converged and out.n_iter == 0 and "start is outside" in out.reason
    nan = solve(lambda x: np.nan, 1.0, raise_on_failure=False)
    assert not nan.converged and "non-finite" in nan.reason


def test_matrix_iterates_stay_symmetric():
    rng = np.random.default_rng(1)
    a = 0.4 * rng.standard_normal((5, 5)) / np.sqrt(5)
    b = rng.standard_normal((5, 5))
    b = b @ b.T
    res = solve(lambda q: a @ q @ a.T + b, np.eye(5), tol=1e-13, max_iter=500, anderson=3)
    np.testing.assert_allclose(res.x, scipy.linalg.solve_discrete_lyapunov(a, b), atol=1e-11)
    np.testing.assert_array_equal(res.x, res.x.T)
    # a pytree: dict of a symmetric matrix and a tuple
    tree = solve(lambda t: {"q": 0.5 * t["q"] + np.eye(2), "s": (0.5 * t["s"][0] + 1, np.cos(t["s"][1]))},
                 {"q": np.zeros((2, 2)), "s": (0.0, np.ones(3))}, tol=1e-12, max_iter=200, anderson=2)
    np.testing.assert_allclose(tree.x["q"], 2 * np.eye(2), atol=1e-11)
    assert tree.x["s"][0] == pytest.approx(2.0) and tree.x["s"][1].shape == (3,)


def test_bad_maps_and_arguments():
    with pytest.raises(TypeError, match="shape"):
        solve(lambda x: np.zeros(3), np.zeros(2))
    with pytest.raises(TypeError, match="keys"):
        solve(lambda x: {"b": 1.0}, {"a": 1.0})
    with pytest.raises(TypeError, match="x0"):
        solve(lambda x: x, "abc")
    with pytest.raises(ValueError, match="damping"):
        solve(np.cos, 1.0, damping=1.0)
    with pytest.raises(ValueError, match="x0"):
        solve(np.cos, np.nan)
    with pytest.raises(ValueError, match="grid"):
        continuation(lambda x, p: x, [], 0.0)
    with pytest.raises(ValueError, match="no transition"):
        transition(lambda p: True, 0.0, 1.0, xtol=1e-3)


def test_continuation_finds_the_hysteresis_loop():
    # mean-field Ising at beta J = 2: m = tanh(2 m + h) has two stable branches for |h| < h_c,
    # h_c = atanh(1/sqrt(2)) - sqrt(2) in absolute value (where 2 (1 - m^2) = 1)
    h_c = abs(np.arctanh(1 / np.sqrt(2)) - np.sqrt(2))
    grid = np.linspace(-1, 1, 81)
    path = continuation(lambda m, h: np.tanh(2 * m + h), grid, -1.0, direction="both", tol=1e-12,
                        max_iter=5000)
    assert all(r.converged for r in path.forward + path.backward)
    away = np.abs(np.abs(grid) - h_c) > 0.02
    np.testing.assert_array_equal(path.hysteresis[away], (np.abs(grid) < h_c)[away])
    fwd = np.array([r.x for r in path.forward])
    assert np.all(fwd[grid < h_c - 0.02] < 0) and np.all(fwd[grid > h_c + 0.02] > 0)
    backward_only = continuation(lambda m, h: np.tanh(2 * m + h), grid, 1.0, direction="backward",
                                 tol=1e-12, max_iter=5000)
    assert backward_only.forward is None
    np.testing.assert_allclose([r.x for r in backward_only.backward], [r.x for r in path.backward])


def test_spiked_wigner_sparse_prior_branches():
    """Inside the hard phase the SE has two stable branches; above the algorithmic threshold and
    far below the information-theoretic one, a single one (the thresholds the study draws)."""
    model = SpikedWigner(n=10, snr=1.0, prior="sparse_rademacher(0.05)")
    alg = algorithmic_threshold(model)
    it = information_theoretic_threshold(model)
    assert it < alg
    starts = {"uninformative": 1e-6, "informed": 1.0}
    for snr, coexist in ((0.5 * (it + alg), True), (0.3 * it, False), (1.2 * alg, False)):
        m = replace(model, snr=snr)
        b = branches(state_evolution_map(m), starts, tol=1e-12, max_iter=20000)
        assert b.coexist == coexist, snr
        ref = fixed_points(m)
        assert b.limit("informed") == pytest.approx(ref.informative, abs=1e-6)
        assert b.limit("uninformative") == pytest.approx(ref.uninformative, abs=1e-6)


def test_stable_falls_back_when_anderson_finds_a_repeller():
    # m = tanh(2 m) from a small start: the secant steps of Anderson land on the repeller m = 0,
    # the plain iteration on the attractor m* = 0.9575
    def f(m):
        return np.tanh(2 * m)

    fast = solve(f, 1e-3, anderson=2, tol=1e-12, max_iter=500)
    assert abs(fast.x) < 1e-9
    safe = solve(f, 1e-3, anderson=2, tol=1e-12, max_iter=500, stable=True)
    assert safe.x == pytest.approx(0.957504024633, abs=1e-9)
    near = solve(f, 0.9, anderson=2, tol=1e-12, max_iter=500, stable=True)
    assert near.x == pytest.approx(safe.x, abs=1e-10) and near.n_iter < safe.n_iter


def test_solve_many_equals_one_solve_per_entry():
    from hdcore.theory.fixed_point import solve_many

    snrs = np.concatenate([np.linspace(0.3, 0.7, 6), np.linspace(1.3, 2.0, 10)])
    model = SpikedWigner(n=10, snr=1.0, prior="rademacher")
    maps = [state_evolution_map(replace(model, snr=float(s))) for s in snrs]
    batch = solve_many(lambda m, i: model.prior.overlap(snrs[i] ** 2 * m), np.full(16, 0.5), damping=0.2,
                       tol=1e-12, max_iter=5000)
    for k, f in enumerate(maps):
        one = solve(f, 0.5, damping=0.2, tol=1e-12, max_iter=5000)
        assert batch.x[k] == pytest.approx(one.x, abs=1e-13) and batch.n_iter[k] == one.n_iter
    assert batch.converged.all() and not batch.stopped.any()
    capped = solve_many(lambda x, i: 2 * x, np.ones(3), stop=lambda x: x > 10, max_iter=50)
    assert capped.stopped.all() and not capped.converged.any() and np.all(capped.n_iter == 4)
