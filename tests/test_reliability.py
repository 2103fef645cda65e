"""Issue 21: no input may kill the process.

(a) user-sized buffers that cannot fit raise MemoryError naming the argument and the bytes;
(b) size products that overflow usize/i64 raise ValueError/MemoryError naming the argument;
(c) rmt.eigh refuses non-symmetric input (ValueError, documented tolerance 1e-8 relative);
(d) a Rust panic anywhere (binding, kernel, thread pool) becomes hdcore.InternalError and the
    interpreter keeps running.
Every case runs in a fresh subprocess too, so an abort shows up as a non-zero return code.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hdcore
from hdcore import _core
from hdcore import algorithms as A
from hdcore import models as M
from hdcore import rmt

BIG = 10**9  # n*n*8 bytes = 8 EB: fits in usize, never in memory
HUGE = 2**40  # n*n overflows usize

_BYTES = re.compile(r"\d+ bytes")


def _ms_big():
    return M.MatrixSensing(d1=BIG, d2=BIG, alpha=1.0, prior="wishart(0.5)", sensing="quadratic")


def _sgd_full():
    model = M.SequenceSingleIndex(d=BIG, L=1, target="z1")
    return A.online_sgd(model, "ssi", 0.5, 10, seed=0, mode="full")


# (name, callable, argument names allowed in the message)
ALLOC_CASES = [
    ("SpikedWigner", lambda: M.SpikedWigner(n=BIG, snr=1.0).sample(seed=0), "n"),
    ("SpikedWigner/float32",
     lambda: M.SpikedWigner(n=BIG, snr=1.0).sample(seed=0, dtype="float32"), "n"),
    ("SpikedWigner/packed",
     lambda: M.SpikedWigner(n=BIG, snr=1.0).sample(seed=0, storage="packed"), "n"),
    ("SpikedWishart", lambda: M.SpikedWishart(d=BIG, alpha=1.0, beta=1.0).sample(seed=0),
     "n|d"),
    ("SpikedWishart/float32",
     lambda: M.SpikedWishart(d=BIG, alpha=1.0, beta=1.0).sample(seed=0, dtype="float32"), "n|d"),
    ("MultiIndex", lambda: M.MultiIndex(d=BIG, alpha=1.0, p=1).sample(seed=0), "n|d"),
    ("MultiIndex/float32",
     lambda: M.MultiIndex(d=BIG, alpha=1.0, p=1).sample(seed=0, dtype="float32"), "n|d"),
    ("ContaminatedRegression",
     lambda: M.ContaminatedRegression(d=BIG, alpha=1.0, eps=0.1, delta_in=1.0,
                                      delta_out=1.0).sample(seed=0), "n|d"),
    ("MatrixSensing/quadratic", lambda: _ms_big().sample(seed=0), "n|d|d1|m|width"),
    ("standard_normal", lambda: _core.standard_normal(2**60, 0), "n"),
    ("prior_sample", lambda: _core.prior_sample("gaussian", 2**60, 0), "n"),
    ("rmt_sample_spectrum", lambda: _core.rmt_sample_spectrum("semicircle", [1.0], BIG, 0), "d"),
    ("sgd_teacher", lambda: _core.sgd_teacher(2**60, 0, 0), "d"),
    ("online_sgd/full", _sgd_full, "d"),
]

OVERFLOW_CASES = [
    ("SpikedWigner", lambda: M.SpikedWigner(n=HUGE, snr=1.0).sample(seed=0), "n"),
    ("SpikedWigner/2^62", lambda: M.SpikedWigner(n=2**62, snr=1.0).sample(seed=0), "n"),
    ("SpikedWishart", lambda: M.SpikedWishart(d=HUGE, alpha=1.0, beta=1.0).sample(seed=0),
     "n|d"),
    ("MultiIndex", lambda: M.MultiIndex(d=HUGE, alpha=1.0, p=1).sample(seed=0), "n|d"),
    ("sample_inputs", lambda: _core.sample_inputs(HUGE, HUGE, 0), "n|d"),
    ("sample_wishart_teacher", lambda: _core.sample_wishart_teacher(HUGE, HUGE, 0), "d|m"),
    ("sample_product_teacher",
     lambda: _core.sample_product_teacher(HUGE, HUGE, HUGE, 0), "rows|cols|r"),
    ("sample_contaminated_regression",
     lambda: _core.sample_contaminated_regression(HUGE, HUGE, 0.1, 1, 1, 1, 0), "n|d"),
    ("multi_index_sample", lambda: _core.multi_index_sample(HUGE, HUGE, 1, 0, prior_name="gaussian"),
     "n|d"),
    ("rmt_sample_spectrum", lambda: _core.rmt_sample_spectrum("semicircle", [1.0], HUGE, 0), "d"),
    ("sensing_design",
     lambda: _core.sensing_design("gaussian_symmetric", 0, 0, HUGE, HUGE, HUGE), ""),
    ("factorised_gd",
     lambda: _core.factorised_gd("gaussian_symmetric", np.ones(3), HUGE, d1=HUGE, d2=HUGE),
     "width|d1|d2"),
    ("eigsh_top_callable",
     lambda: _core.eigsh_top_callable(lambda v: v, HUGE, 2, np.ones(3)), "n|v0"),
    ("eigs_top_callable",
     lambda: _core.eigs_top_callable(lambda v: v, HUGE, 2, np.ones(3)), "n|v0"),
    ("read_bandwidth_probe", lambda: _core.read_bandwidth_probe(2**62), "n"),
    ("sgd_rng_throughput", lambda: _core.sgd_rng_throughput(2**62), "n"),
    ("standard_normal/2^63", lambda: _core.standard_normal(2**63, 0), "n"),
]


@pytest.mark.parametrize("name,fn,args", ALLOC_CASES, ids=[c[0] for c in ALLOC_CASES])
def test_impossible_buffer_is_memory_error(name, fn, args):
    with pytest.raises((MemoryError, ValueError)) as info:
        fn()
    msg = str(info.value)
    if isinstance(info.value, MemoryError):
        assert _BYTES.search(msg), msg
    assert re.search(rf"`({args})`", msg), msg


@pytest.mark.parametrize("name,fn,args", OVERFLOW_CASES, ids=[c[0] for c in OVERFLOW_CASES])
def test_overflowing_size_never_wraps(name, fn, args):
    with pytest.raises((ValueError, MemoryError, OverflowError)) as info:
        fn()
    if args:
        assert re.search(rf"`({args})`", str(info.value)), str(info.value)


def test_lanczos_work_arrays_bounded():
    # ncv larger than n is clamped (or refused), never allocated as asked
    a = np.eye(4)
    try:
        out = _core.eigsh_top(a, 2, np.ones(4), ncv=2**40)
    except (ValueError, MemoryError) as e:
        assert "ncv" in str(e)
    else:
        assert np.all(np.isfinite(out["values"]))


def test_erm_huge_history_never_preallocated():
    # the L-BFGS memory grows with the iterations: a huge `history` is not a buffer size
    x = np.eye(3)
    try:
        out = _core.erm_solve(x, np.ones(3), "square", np.zeros(3), lam=0.1, history=2**60)
    except (ValueError, MemoryError) as e:
        assert "history" in str(e)
    else:
        assert np.all(np.isfinite(out["w"]))


def test_eigh_non_symmetric_is_value_error():
    a = np.arange(9.0).reshape(3, 3)
    with pytest.raises(ValueError, match="symmetric"):
        rmt.eigh(a)
    with pytest.raises(ValueError, match="symmetric"):
        _core.eigh(a)
    # inside the documented tolerance (1e-8 relative) it is accepted
    s = a + a.T
    s[0, 1] += 1e-12
    w, _ = rmt.eigh(s)
    assert np.all(np.isfinite(w))


@pytest.mark.parametrize("where", ["binding", "kernel", "pool"])
def test_panic_becomes_internal_error(where):
    with pytest.raises(hdcore.InternalError, match="deliberate panic"):
        _core._panic_for_test(where)
    # the process is fine afterwards, and so is the thread pool
    assert _core.standard_normal(5, 0).shape == (5,)
    assert np.isfinite(_core.rmt_denoising_mmse("mp_semicircle", [0.5, 1.0]))


def test_panic_hook_rejects_unknown_where():
    with pytest.raises(ValueError, match="where_"):
        _core._panic_for_test("elsewhere")


def test_everything_survives_in_a_fresh_interpreter():
    """The same cases in a subprocess: returncode 0 proves no abort/segfault."""
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        import hdcore
        from hdcore import _core
        import test_reliability as T
        for where in ("binding", "kernel", "pool", "binding"):
            try:
                _core._panic_for_test(where)
            except hdcore.InternalError:
                pass
            else:
                sys.exit(3)
        for name, fn, _ in T.ALLOC_CASES + T.OVERFLOW_CASES:
            try:
                fn()
            except (MemoryError, ValueError, OverflowError):
                pass
            else:
                print("no error:", name)
                sys.exit(4)
        print("survived")
    """) % (str(__import__("pathlib").Path(__file__).parent),)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "survived" in proc.stdout


def test_huge_n_threads_is_value_error():
    # found by the fuzz: rayon tried to start 2^62 threads and never returned
    with pytest.raises(ValueError, match="n_threads"):
        _core.standard_normal(3, 0, n_threads=2**62)
