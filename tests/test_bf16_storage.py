"""bfloat16 storage of the spiked Wigner matrix (issue 20): sampled straight into bfloat16 from
the float64 sampler's Gaussian draws, read by AMP and the mat-vecs with float64 accumulation."""

import numpy as np
import pytest

from hdcore.algorithms import amp
from hdcore.linalg import matvec
from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.models.spiked import from_bfloat16_bits, to_bfloat16_bits
from hdcore.theory import fixed_points


@pytest.mark.parametrize("storage", ["full", "packed"])
def test_bfloat16_sample_is_the_float64_sample_rounded_once(storage):
    m = SpikedWigner(n=300, snr=1.5, prior="rademacher")
    s64 = m.sample(seed=3, storage=storage)
    s16 = m.sample(seed=3, dtype="bfloat16", storage=storage)
    assert s16.y.dtype == np.uint16 and s16.dtype == "bfloat16" and s64.dtype == "float64"
    assert s16.y.shape == s64.y.shape
    np.testing.assert_array_equal(s16.x, s64.x)
    wide = from_bfloat16_bits(s16.y).astype(np.float64)
    assert np.all(np.abs(wide - s64.y) <= 2.0**-8 * np.abs(s64.y))
    # the kernel rounds float64 -> bfloat16 directly, NumPy through float32: ties may differ
    assert np.mean(s16.y == to_bfloat16_bits(s64.y)) > 0.9999
    np.testing.assert_array_equal(s16.dense(), np.asarray(
        SpikedWigner(n=300, snr=1.5).sample(seed=3, dtype="bfloat16").dense()))


def test_bfloat16_matvec_is_the_float64_product_of_the_widened_entries():
    s = SpikedWigner(n=257, snr=1.2).sample(seed=1, dtype="bfloat16", storage="packed")
    v = np.sin(np.arange(257.0))
    ref = s.dense() @ v
    np.testing.assert_allclose(matvec(s.y, v, packed_n=257), ref, rtol=1e-12, atol=1e-12)
    full = SpikedWigner(n=257, snr=1.2).sample(seed=1, dtype="bfloat16")
    np.testing.assert_allclose(matvec(full.y, v), ref, rtol=1e-12, atol=1e-12)


def test_bfloat16_amp_agrees_with_float64_amp_below_the_finite_size_error():
    n = 4000
    m = SpikedWigner(n=n, snr=1.5, prior="rademacher")
    r64 = amp(m.sample(seed=11, storage="packed"), n_iter=200, tol=1e-11)
    r16 = amp(m.sample(seed=11, dtype="bfloat16", storage="packed"), n_iter=200, tol=1e-11)
    # finite-size error: the per-seed spread of the overlap at n = 4000, about 1/sqrt(n)
    finite_size = 1 / np.sqrt(n)
    assert abs(r16.final_overlap - r64.final_overlap) < 0.1 * finite_size
    # both near the n -> infinity fixed point (see test_spiked_amp's tolerance)
    assert r16.final_cosine2 == pytest.approx(fixed_points(m).uninformative, abs=0.05)


def test_bfloat16_sample_and_amp_are_identical_for_one_two_and_three_threads():
    m = SpikedWigner(n=700, snr=1.5, prior="rademacher")
    samples = [m.sample(seed=5, dtype="bfloat16", storage="packed", n_threads=t)
               for t in (1, 2, 3)]
    for s in samples[1:]:
        np.testing.assert_array_equal(s.y, samples[0].y)
    runs = [amp(samples[0], n_iter=20, n_threads=t) for t in (1, 2, 3)]
    for r in runs[1:]:
        assert np.array_equal(r.estimate, runs[0].estimate)
        assert np.array_equal(r.overlap, runs[0].overlap)


def test_open_path_equals_fast_path_on_bfloat16_storage():
    s = SpikedWigner(n=400, snr=1.4).sample(seed=2, dtype="bfloat16", storage="packed")
    fast, slow = amp(s, n_iter=15), amp(s, n_iter=15, open_path=True)
    np.testing.assert_allclose(slow.estimate, fast.estimate, atol=1e-10)


def test_unsupported_dtype_is_a_value_error_naming_the_argument():
    m = SpikedWigner(n=10, snr=1.0)
    for bad in ("float16", "bf16", "int8"):
        with pytest.raises(ValueError, match="`dtype`"):
            m.sample(seed=0, dtype=bad)
    with pytest.raises(ValueError, match="`dtype`"):
        SpikedWishart(d=10, alpha=2.0, beta=1.0).sample(seed=0, dtype="bfloat16")


def test_a_matrix_that_cannot_fit_is_a_memory_error_stating_the_bytes(monkeypatch):
    monkeypatch.setenv("HDCORE_MEMORY_LIMIT", "1e8")
    with pytest.raises(MemoryError, match="asks for"):
        SpikedWigner(n=20000, snr=1.0).sample(seed=0, dtype="bfloat16", storage="packed")
