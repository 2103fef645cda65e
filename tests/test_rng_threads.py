"""Seeds: same seed -> same numbers, whatever the number of threads; Generators accepted."""

import numpy as np
import pytest

import hdcore
from hdcore import _core
from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.random import as_seed, spawn


def test_standard_normal_is_identical_for_one_and_two_threads():
    a = _core.standard_normal(50_000, 7, 0, n_threads=1)
    b = _core.standard_normal(50_000, 7, 0, n_threads=2)
    assert np.array_equal(a, b)
    assert abs(a.mean()) < 0.02 and abs(a.var() - 1) < 0.03


@pytest.mark.parametrize("storage,dtype", [("full", "float64"), ("packed", "float64"),
                                           ("full", "float32")])
def test_spiked_wigner_sample_is_thread_independent(storage, dtype):
    m = SpikedWigner(n=300, snr=1.3, prior="sparse_rademacher(0.3)")
    s1 = m.sample(seed=11, storage=storage, dtype=dtype, n_threads=1)
    s2 = m.sample(seed=11, storage=storage, dtype=dtype, n_threads=2)
    assert np.array_equal(s1.y, s2.y) and np.array_equal(s1.x, s2.x)


def test_packed_float32_and_full_storage_hold_the_same_matrix():
    m = SpikedWigner(n=120, snr=1.0, prior="rademacher")
    full = m.sample(seed=5).y
    packed = m.sample(seed=5, storage="packed")
    assert np.array_equal(packed.dense(), full)
    f32 = m.sample(seed=5, dtype="float32").y
    assert f32.dtype == np.float32 and np.array_equal(f32, full.astype(np.float32))


def test_spiked_wishart_sample_is_thread_independent():
    m = SpikedWishart(d=200, alpha=1.5, beta=2.0, prior="rademacher")
    a, b = m.sample(seed=3, n_threads=1), m.sample(seed=3, n_threads=2)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)


def test_different_seeds_differ_and_generators_are_accepted():
    m = SpikedWigner(n=50, snr=1.0)
    assert not np.array_equal(m.sample(seed=1).y, m.sample(seed=2).y)
    g1, g2 = np.random.default_rng(4), np.random.default_rng(4)
    assert np.array_equal(m.sample(seed=g1).y, m.sample(seed=g2).y)
    # a Generator advances: two draws from it differ
    assert not np.array_equal(m.sample(seed=g1).y, m.sample(seed=g1).y)


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        as_seed(-1)
    with pytest.raises(TypeError, match="seed"):
        as_seed(1.5)
    assert spawn(3, 1) != spawn(3, 2) and spawn(3, 1) == spawn(3, 1)


def test_thread_count_resolution(monkeypatch):
    assert hdcore.get_num_threads(3) == 3
    monkeypatch.setenv("HDCORE_NUM_THREADS", "1")
    assert hdcore.get_num_threads() == 1
    monkeypatch.setenv("HDCORE_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="HDCORE_NUM_THREADS"):
        hdcore.get_num_threads()
    with pytest.raises(ValueError, match="n_threads"):
        hdcore.get_num_threads(0)


def _child_matvec(seed):
    from hdcore.linalg import matvec

    a = np.random.default_rng(seed).standard_normal((300, 300))
    return float(np.abs(matvec(a, np.ones(300)) - a.sum(axis=1)).max())


def test_fork_after_using_the_thread_pool_does_not_deadlock():
    """The Rust pools are rebuilt in a forked child (fork guard), so multiprocessing with the
    'fork' start method works after the parent has used hdcore's threads."""
    import multiprocessing as mp

    from hdcore.linalg import matvec

    matvec(np.ones((500, 500)), np.ones(500), n_threads=2)  # parent starts its pool
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        errors = pool.map_async(_child_matvec, [1, 2, 3]).get(timeout=120)
    assert max(errors) < 1e-9
