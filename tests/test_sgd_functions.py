"""The Rust and NumPy definitions of targets, students and losses agree, and bad input is
rejected with errors that name the argument."""

import math

import numpy as np
import pytest

from hdcore import _core
from hdcore.algorithms import online_sgd
from hdcore.ingredients import Activation, get_target, positional_semantic_matrix
from hdcore.models import (
    AttentionStudent,
    SequenceSingleIndex,
    SSIStudent,
    TiedStudent,
    UntiedStudent,
)
from hdcore.models.sequence import get_student, loss_and_grad

CASES = [
    ({"L": 3, "target": "staircase3"}, "ssi", "squared"),
    ({"L": 2, "target": "he2difference"}, SSIStudent("z1z2"), "mse"),
    ({"L": 3, "target": "z1z2z3"}, TiedStudent("tanh"), "squared"),
    ({"L": 4, "target": "he2sum"}, UntiedStudent("relu"), "mse"),
    ({"L": 2, "target": "mean"}, TiedStudent("sigmoid"), "frobenius"),
    ({"L": 1, "target": "z1"}, TiedStudent("he2"), "squared"),
    ({"L": 2, "target": "attention", "positional": "opposite", "target_kw": {"omega": 0.3, "a": 0.8}},
     "attention", "squared"),
    ({"L": 2, "target": "attention", "target_kw": {"omega": 0.6}}, "attention", "frobenius"),
    ({"L": 3, "target": "sum"}, AttentionStudent("trace"), "squared"),
    ({"L": 2, "target": "difference"},
     AttentionStudent("bilinear", a=[0.6, 0.8], b=[1.0, -1.0]), "mse"),
    ({"L": 3, "target": "attention",
          "target_kw": {"omega": 0.5, "A": np.full((3, 3), 1.0 / 3.0)}}, "attention", "squared"),
]


@pytest.mark.parametrize("kw,student,loss", CASES)
def test_rust_and_numpy_losses_and_gradients_agree(kw, student, loss, rng):
    model = SequenceSingleIndex(d=10, **kw)
    st = get_student(student, model)
    spec = {**model.spec(), **st.spec(model), "loss": loss}
    zs = rng.standard_normal((50, model.L))
    z = rng.standard_normal((50, model.L))
    out = _core.sgd_eval(spec, zs, z)
    val, grad = loss_and_grad(model, st, zs, z, loss)
    np.testing.assert_allclose(out["loss"], val, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["grad"], grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out["y"], model.target(zs), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out["yhat"], st.output(z), rtol=1e-12, atol=1e-14)
    # and the gradient is the derivative of the loss (central differences)
    h = 1e-6
    for k in range(model.L):
        zp, zm = z.copy(), z.copy()
        zp[:, k] += h
        zm[:, k] -= h
        fd = (loss_and_grad(model, st, zs, zp, loss)[0] - loss_and_grad(model, st, zs, zm, loss)[0])
        np.testing.assert_allclose(fd / (2 * h), grad[:, k], rtol=1e-5, atol=1e-6)


def test_activations_and_targets_closed_forms():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(Activation("he2")(x), (x**2 - 1) / math.sqrt(2))
    np.testing.assert_allclose(Activation("relu").deriv(x), [0.0, 0.0, 1.0])
    z = np.array([[1.0, 2.0, 3.0]])
    assert get_target("staircase3")(z)[0, 0] == 1 + 2 + 6
    assert get_target("he2sum")(z)[0, 0] == pytest.approx((0 + 3 + 8) / math.sqrt(2))
    A = positional_semantic_matrix(1.0)
    np.testing.assert_allclose(A.sum(1), 1.0)
    assert A[0, 0] == pytest.approx(1 / (1 + math.exp(-2)))


@pytest.mark.parametrize("build,name", [
    (lambda: SequenceSingleIndex(d=10, L=0, target="sum"), "`L`"),
    (lambda: SequenceSingleIndex(d=0, L=2, target="sum"), "`d`"),
    (lambda: SequenceSingleIndex(d=10, L=2, target="nope"), "target"),
    (lambda: SequenceSingleIndex(d=10, L=1, target="z1z2"), "`L`"),
    (lambda: SequenceSingleIndex(d=10, L=2, target="sum", noise=-1.0), "`noise`"),
    (lambda: TiedStudent("swish"), "activation"),
    (lambda: SequenceSingleIndex(d=10, L=2, target="attention", target_kw={"omega": 1.5}),
     "`omega`"),
])
def test_bad_models_raise_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_bad_sgd_arguments_raise_naming_the_argument():
    model = SequenceSingleIndex(d=50, L=2, target="sum")
    with pytest.raises(ValueError, match="`lr`"):
        online_sgd(model, "ssi", float("nan"), 10)
    with pytest.raises(ValueError, match="`lr`"):
        online_sgd(model, "ssi", -0.1, 10)
    with pytest.raises(ValueError, match="student"):
        online_sgd(model, "perceptron", 0.1, 10)
    with pytest.raises(TypeError, match="`steps`"):
        online_sgd(model, "ssi", 0.1, 1.5)
    with pytest.raises(ValueError, match="`mode`"):
        online_sgd(model, "ssi", 0.1, 10, mode="fast")
    with pytest.raises(ValueError, match="`m0`"):
        online_sgd(model, "ssi", 0.1, 10, m0=1.5)
    with pytest.raises(ValueError, match="`e0`"):
        online_sgd(model, "ssi", 0.1, 10, m0=0.1, e0=0.1)
    with pytest.raises(ValueError, match="outputs"):
        online_sgd(model, "attention", 0.1, 10)
    with pytest.raises(ValueError, match="positional"):
        online_sgd(SequenceSingleIndex(d=50, L=2, target="sum", positional="opposite"),
                   "untied", 0.1, 10)
    with pytest.raises(ValueError, match="`loss`"):
        online_sgd(model, "ssi", 0.1, 10, loss="hinge")


def test_core_rejects_bad_specs_without_panicking():
    good = {"L": 2, "target": "sum", "student": "tied", "activation": "identity"}
    z = np.zeros((1, 2))
    for patch, name in [({"L": 0}, "`L`"), ({"target": "cubic"}, "target"),
                        ({"activation": "gelu"}, "activation"), ({"noise": -1.0}, "`noise`"),
                        ({"noise": float("nan")}, "`noise`"), ({"student": "mlp"}, "student"),
                        ({"target": "attention", "omega": 0.5, "a_matrix": [1.0, 0.0]},
                         "a_matrix")]:
        with pytest.raises(ValueError, match=name):
            _core.sgd_eval({**good, **patch}, z, z)
    with pytest.raises(ValueError, match="`lr`"):
        _core.sgd_simulate(good, 10, float("nan"), 5, 0, [0])
    with pytest.raises(ValueError, match="`d`"):
        _core.sgd_simulate(good, 0, 0.1, 5, 0, [0])
    with pytest.raises(ValueError, match="`d`"):
        _core.sgd_simulate(good, 3, 0.1, 5, 0, [0], mode="reduced")
    with pytest.raises(TypeError):
        _core.sgd_simulate({**good, "L": "two"}, 10, 0.1, 5, 0, [0])


def test_impossible_memory_is_an_error_not_an_abort():
    model = SequenceSingleIndex(d=10**12, L=4, target="sum")
    with pytest.raises(MemoryError, match="`d` asks for .* bytes"):
        online_sgd(model, "ssi", 0.1, 1)
    # the reduced mode does not care
    r = online_sgd(model, "ssi", 0.1, 10, mode="reduced", m0=0.5)
    assert r.m[0, 0] == 0.5


def test_model_sample_uses_the_teacher_of_the_simulation():
    model = SequenceSingleIndex(d=300, L=2, target="z1z2", positional="opposite", noise=0.0)
    s = model.sample(50, seed=7, run=1)
    w_star, p = model.teacher(7, 1)
    assert s.x.shape == (50, 2, 300) and s.y.shape == (50, 1)
    assert w_star @ w_star == pytest.approx(300, rel=1e-12) and abs(w_star @ p) < 1e-10
    np.testing.assert_allclose(s.y[:, 0], np.prod(s.x @ w_star, axis=-1))
    # student projections include the positional shift s_l e for tied weights
    w = np.sqrt(300) * p
    np.testing.assert_allclose(s.projections(w), s.x @ w + np.array([1.0, -1.0]) * 1.0)
