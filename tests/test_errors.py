"""Bad input raises ValueError/TypeError naming the argument; the core never crashes."""

import numpy as np
import pytest

from hdcore import _core
from hdcore.algorithms import amp, pca
from hdcore.models import SpikedWigner, SpikedWignerSample, SpikedWishart


@pytest.mark.parametrize("kwargs,exc,name", [
    (dict(n=-3, snr=1.0), ValueError, "n"),
    (dict(n=0, snr=1.0), ValueError, "n"),
    (dict(n=10, snr=-1.0), ValueError, "snr"),
    (dict(n=10, snr=float("nan")), ValueError, "snr"),
    (dict(n=10, snr=float("inf")), ValueError, "snr"),
    (dict(n=2.5, snr=1.0), TypeError, "n"),
    (dict(n=10, snr="big"), TypeError, "snr"),
    (dict(n=10, snr=1.0, prior="cauchy"), ValueError, "prior"),
])
def test_model_arguments_are_checked(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        SpikedWigner(**kwargs)


def test_wishart_arguments_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        SpikedWishart(d=10, alpha=0.0, beta=1.0)
    with pytest.raises(ValueError, match="beta"):
        SpikedWishart(d=10, alpha=1.0, beta=-1.0)


def _sample(y, n=4):
    return SpikedWignerSample(model=SpikedWigner(n=n, snr=1.0), y=y, x=np.ones(n))


def test_amp_rejects_bad_matrices():
    with pytest.raises(ValueError, match="square"):
        amp(_sample(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="symmetric"):
        amp(_sample(np.arange(16.0).reshape(4, 4)))
    bad = np.eye(4)
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        amp(_sample(bad))
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        pca(_sample(bad))
    with pytest.raises(TypeError, match="`y`"):
        amp(_sample(np.eye(4, dtype=np.int32)))


def test_amp_rejects_bad_options():
    s = SpikedWigner(n=20, snr=1.0).sample(seed=0)
    with pytest.raises(ValueError, match="damping"):
        amp(s, damping=1.0)
    with pytest.raises(ValueError, match="n_iter"):
        amp(s, n_iter=-1)
    with pytest.raises(ValueError, match="init"):
        amp(s, init="zeros")
    with pytest.raises(ValueError, match="init"):
        amp(s, init=np.ones(3))
    with pytest.raises(ValueError, match="storage"):
        SpikedWigner(n=20, snr=1.0).sample(storage="banded")
    with pytest.raises(ValueError, match="dtype"):
        SpikedWigner(n=20, snr=1.0).sample(dtype="float16")


def test_core_entry_points_validate_directly():
    y = np.eye(3)
    with pytest.raises(ValueError, match="x0"):
        _core.amp_wigner(y, 1.0, "rademacher", np.ones(2))
    with pytest.raises(ValueError, match="unknown prior"):
        _core.amp_wigner(y, 1.0, "nope", np.ones(3))
    with pytest.raises(ValueError, match="rho"):
        _core.prior_sample("sparse_rademacher", 3, 0)
    with pytest.raises(ValueError, match="rho"):
        _core.prior_sample("sparse_rademacher", 3, 0, rho=1.5)
    with pytest.raises(ValueError, match="snr"):
        _core.sample_spiked_wigner(3, -1.0, "gaussian", 0)
    with pytest.raises(TypeError, match="`v0`"):
        _core.eigsh_top(y, 1, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`k`"):
        _core.eigsh_top(y, 4, np.ones(3))


def test_interrupt_reaches_a_running_kernel():
    """Ctrl-C (SIGINT) stops a long Rust loop promptly with KeyboardInterrupt."""
    import subprocess
    import sys
    import time

    code = (
        "import numpy as np, hdcore\n"
        "s = hdcore.models.SpikedWigner(n=1500, snr=1.5).sample(seed=0)\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    hdcore.algorithms.amp(s, n_iter=10**7, tol=0)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    p.send_signal(2)
    out, _ = p.communicate(timeout=30)
    assert "interrupted" in out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), x0_len=st.integers(0, 14),
       snr=st.one_of(st.floats(-2, 3), st.just(float("nan"))),
       damping=st.floats(-0.5, 1.5),
       prior=st.sampled_from(["gaussian", "rademacher", "spherical", "sparse_rademacher", "bogus"]),
       rho=st.one_of(st.none(), st.floats(-0.5, 1.5)))
def test_amp_binding_never_crashes(n, x0_len, snr, damping, prior, rho):
    """Random arguments to the AMP entry point: a result or a ValueError naming the problem."""
    y = np.eye(n)
    valid = (x0_len == n and snr == snr and snr >= 0 and 0 <= damping < 1 and prior != "bogus"
             and (prior != "sparse_rademacher" or (rho is not None and 0 < rho <= 1)))
    try:
        out = _core.amp_wigner(y, snr, prior, np.ones(x0_len), rho=rho, damping=damping,
                               n_iter=3)
    except ValueError as e:
        assert not valid, e
        assert "`" in str(e) or "prior" in str(e)
    else:
        assert valid and np.isfinite(out["estimate"]).all()
