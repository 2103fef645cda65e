"""PCA of the spiked models against the BBP formulas."""

import numpy as np
import pytest

from hdcore.algorithms import pca
from hdcore.models import SpikedWigner, SpikedWishart
from hdcore.theory import bbp, fixed_points


# Finite-size error: the outlier eigenvalue fluctuates by O(n^{-1/2}) (~0.02 at n = 4000) and
# the squared cosine by O(n^{-1/2}) as well; below threshold the top eigenvalue sits within
# O(n^{-2/3}) (Tracy-Widom scale, ~0.01) of the edge. Means over 2 seeds, tolerance 0.04.
@pytest.mark.parametrize("snr", [0.6, 1.5, 2.5])
def test_bbp_top_eigenvalue_and_overlap_wigner(snr):
    model = SpikedWigner(n=4000, snr=snr, prior="rademacher")
    res = [pca(model.sample(seed=s)) for s in range(2)]
    pred = bbp(model)
    assert np.mean([r.eigenvalues[0] for r in res]) == pytest.approx(pred.top_eigenvalue, abs=0.04)
    assert np.mean([r.cosine2 for r in res]) == pytest.approx(pred.cosine2, abs=0.04)


@pytest.mark.parametrize("beta", [0.4, 1.2, 2.5])
def test_bbp_top_eigenvalue_and_overlap_spiked_covariance(beta):
    # Rademacher spike: ||u||^2 = d exactly, so only the noise fluctuates (a Gaussian u adds
    # a relative O(sqrt(2/d)) jitter to the outlier)
    model = SpikedWishart(d=1500, alpha=2.0, beta=beta, prior="rademacher")
    res = [pca(model.sample(seed=s)) for s in range(2)]
    pred = bbp(model)
    assert np.mean([r.eigenvalues[0] for r in res]) == pytest.approx(pred.top_eigenvalue, abs=0.05)
    assert np.mean([r.cosine2 for r in res]) == pytest.approx(pred.cosine2, abs=0.05)


def test_bbp_closed_forms_and_thresholds():
    assert bbp(SpikedWigner(n=10, snr=1.0)).cosine2 == 0
    b = bbp(SpikedWigner(n=10, snr=2.0))
    assert (b.top_eigenvalue, b.cosine2) == (2.5, 0.75)
    w = bbp(SpikedWishart(d=10, alpha=4.0, beta=1.0))
    assert w.threshold == 0.5 and w.bulk_edge == pytest.approx(2.25)
    assert w.top_eigenvalue == pytest.approx(2 * 1.25)
    assert w.cosine2 == pytest.approx((1 - 0.25) / 1.25)


@pytest.mark.parametrize("beta", [0.8, 1.3, 3.0])
def test_gaussian_prior_bayes_amp_fixed_point_equals_pca(beta):
    """With Gaussian factors the Bayes-optimal overlap is the BBP one (both are spectral)."""
    model = SpikedWishart(d=10, alpha=1.7, beta=beta, prior="gaussian")
    assert fixed_points(model).uninformative == pytest.approx(bbp(model).cosine2, abs=1e-9)
    wig = SpikedWigner(n=10, snr=beta + 0.2, prior="gaussian")
    assert fixed_points(wig).uninformative == pytest.approx(bbp(wig).cosine2, abs=1e-9)
