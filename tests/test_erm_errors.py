"""Bad input to the regression model, the losses, ERM and the theory raises ValueError/TypeError
naming the argument; the Rust entry points never crash."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hdcore import _core
from hdcore.algorithms import erm
from hdcore.models import ContaminatedRegression

OK = dict(d=20, alpha=2.0, eps=0.1, delta_in=0.1, delta_out=1.0)


@pytest.mark.parametrize("changes,exc,name", [
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(eps=1.5), ValueError, "eps"),
    (dict(eps=-0.1), ValueError, "eps"),
    (dict(delta_in=-0.1), ValueError, "delta_in"),
    (dict(delta_out=float("inf")), ValueError, "delta_out"),
    (dict(beta=float("nan")), ValueError, "beta"),
    (dict(d=0), ValueError, "d"),
    (dict(d=2.5), TypeError, "d"),
    (dict(alpha="many"), TypeError, "alpha"),
    (dict(d=10, alpha=0.01), ValueError, "alpha"),
])
def test_model_arguments_are_checked(changes, exc, name):
    with pytest.raises(exc, match=name):
        ContaminatedRegression(**{**OK, **changes})


def test_erm_arguments_are_checked():
    s = ContaminatedRegression(**OK).sample(0)
    with pytest.raises(ValueError, match="exactly one"):
        erm(s, "square")
    with pytest.raises(ValueError, match="lam"):
        erm(s, "square", float("nan"))
    with pytest.raises(ValueError, match="unknown loss"):
        erm(s, "hinge", 0.1)
    with pytest.raises(ValueError, match="tau"):
        erm(s, "tukey(0)", 0.1)
    with pytest.raises(ValueError, match="init"):
        erm(s, "square", 0.1, init=np.ones(3))
    with pytest.raises(ValueError, match="init"):
        erm(s, "square", 0.1, init="random")
    with pytest.raises(ValueError, match="gtol"):
        erm(s, "square", 0.1, gtol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        erm(s, "square", 0.1, max_iter=0)
    with pytest.raises(TypeError, match="sample"):
        erm(s.x, "square", 0.1)
    with pytest.raises(ValueError, match="absolute"):
        erm(s, "absolute", 0.1, open_path=True)
    with pytest.raises(ValueError, match="dtype"):
        ContaminatedRegression(**OK).sample(0, dtype="float16")


def test_core_entry_points_validate_directly():
    x = np.ones((5, 3))
    y = np.zeros(5)
    with pytest.raises(ValueError, match="`y`"):
        _core.erm_solve(x, np.zeros(4), "square", np.zeros(3), lam=0.1)
    with pytest.raises(ValueError, match="`w0`"):
        _core.erm_solve(x, y, "square", np.zeros(2), lam=0.1)
    with pytest.raises(ValueError, match="exactly one"):
        _core.erm_solve(x, y, "square", np.zeros(3))
    with pytest.raises(ValueError, match="unknown loss"):
        _core.erm_solve(x, y, "nonsense", np.zeros(3), lam=0.1)
    with pytest.raises(ValueError, match="param"):
        _core.erm_solve(x, y, "huber", np.zeros(3), lam=0.1)
    bad = x.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _core.erm_solve(bad, y, "square", np.zeros(3), lam=0.1)
    with pytest.raises(TypeError, match="`x`"):
        _core.erm_solve(np.ones((5, 3), dtype=np.int64), y, "square", np.zeros(3), lam=0.1)
    with pytest.raises(ValueError, match="q"):
        _core.erm_solve(x, y, "square", np.ones(3), q=-1.0)
    with pytest.raises(ValueError, match="w0"):
        _core.erm_solve(x, y, "square", np.zeros(3), q=1.0)
    with pytest.raises(ValueError, match="`v`"):
        _core.loss_prox("huber", np.ones(3), -1.0, param=1.0)
    with pytest.raises(ValueError, match="`v`"):
        _core.prox_g_out("huber", np.ones(3), np.ones(3), 0.0, param=1.0)
    with pytest.raises(ValueError, match="omega"):
        _core.prox_g_out("huber", np.ones(3), np.ones(2), 1.0, param=1.0)
    with pytest.raises(ValueError, match="eps"):
        _core.sample_contaminated_regression(5, 3, 2.0, 0.1, 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="`n`"):
        _core.sample_contaminated_regression(0, 3, 0.1, 0.1, 1.0, 0.0, 0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 8), d=st.integers(1, 5), w0_len=st.integers(0, 6),
       loss=st.sampled_from(["square", "absolute", "huber", "tukey", "cauchy", "bogus"]),
       param=st.one_of(st.none(), st.floats(-1, 3), st.just(float("nan"))),
       lam=st.one_of(st.none(), st.floats(-5, 5), st.just(float("nan"))),
       q=st.one_of(st.none(), st.floats(-1, 2)))
def test_erm_binding_never_crashes(n, d, w0_len, loss, param, lam, q):
    """Random arguments: a result or a ValueError/NumericalError, never a crash."""
    x = np.linspace(-1, 1, n * d).reshape(n, d)
    y = np.linspace(0.5, -0.5, n)
    try:
        out = _core.erm_solve(x, y, loss, np.ones(w0_len), param=param, lam=lam, q=q, max_iter=50)
    except ValueError as e:
        assert "`" in str(e) or "loss" in str(e) or "exactly one" in str(e), e
    except _core.NumericalError as e:
        assert "erm" in str(e)
    else:
        assert out["w"].shape == (d,) and np.isfinite(out["objective"])


@settings(max_examples=60, deadline=None)
@given(loss=st.sampled_from(["huber", "tukey", "cauchy"]), param=st.floats(0.01, 5),
       v=st.floats(0, 50), delta=st.floats(-1e3, 1e3))
def test_prox_is_finite_and_stationary_for_any_variance(loss, param, v, delta):
    r, dr = _core.loss_prox(loss, np.array([delta]), v, param=param)
    _, d1, _ = _core.loss_eval(loss, r, param=param)
    assert np.isfinite(r[0])
    # a stationary point of rho(r) + (delta - r)^2/(2v) (the global minimiser when multivalued)
    assert abs(r[0] + v * d1[0] - delta) <= 1e-9 * (1 + abs(delta))


def test_interrupt_reaches_a_running_erm():
    """Ctrl-C (SIGINT) stops the Rust L-BFGS promptly with KeyboardInterrupt (GIL released,
    interrupt polled on the calling thread): one absolute-loss solve here takes ~10 s (hundreds
    of iterations of the smoothed problem), the interrupt must land within a few seconds."""
    import subprocess
    import sys
    import time

    code = (
        "import hdcore\n"
        "from hdcore.models import ContaminatedRegression\n"
        "s = ContaminatedRegression(d=1000, alpha=10, eps=0.1, delta_in=0.1, delta_out=1.0).sample(0)\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    hdcore.algorithms.erm(s, 'absolute', 0.01, hessian_check=False)\n"
        "    print('finished', flush=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t0 = time.perf_counter()
    p.send_signal(2)
    out, _ = p.communicate(timeout=60)
    assert "interrupted" in out
    assert time.perf_counter() - t0 < 5.0
