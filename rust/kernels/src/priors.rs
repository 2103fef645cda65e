//! Built-in priors of the low-rank models: their sampler, their posterior-mean denoiser for the
//! scalar Gaussian channel `b = a x + sqrt(a) z` (equivalently the tilted measure
//! `P(x) exp(b x - a x^2 / 2)`), the posterior variance (= derivative of the denoiser in `b`)
//! and the log-partition function. This is the one definition of each prior: the AMP loops use
//! it directly and the Python theory (state evolution, free entropy) integrates it.

use crate::error::{ensure, Result};
use crate::rng::{fill_chunks, fill_standard_normal};
use rand::RngExt;
use rayon::prelude::*;
use rayon::ThreadPool;

/// A prior on the entries of a planted vector; every built-in prior has `E x = 0`, `E x^2 = 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prior {
    /// `x ~ N(0, 1)`.
    Gaussian,
    /// `x = +-1` with probability 1/2.
    Rademacher,
    /// `x = +-1/sqrt(rho)` with probability `rho/2` each, else 0.
    SparseRademacher {
        /// Density of non-zeros, in (0, 1].
        rho: f64,
    },
    /// Uniform on the sphere of radius `sqrt(n)` (not separable: the denoiser acts on the whole
    /// vector; asymptotically it coincides with the Gaussian one).
    Spherical,
}

#[inline]
fn log1pexp_neg(t: f64) -> f64 {
    // log(1 + exp(-t)) for t >= 0
    (-t).exp().ln_1p()
}

impl Prior {
    /// A sparse Rademacher prior, checking `0 < rho <= 1`.
    pub fn sparse_rademacher(rho: f64) -> Result<Self> {
        ensure(rho > 0.0 && rho <= 1.0, "rho", || {
            format!("must be in (0, 1], got {rho}")
        })?;
        Ok(Prior::SparseRademacher { rho })
    }

    /// Whether the denoiser acts entry by entry.
    pub fn is_separable(&self) -> bool {
        !matches!(self, Prior::Spherical)
    }

    /// Posterior mean and variance of `x` under `P(x) exp(b x - a x^2/2)` (separable priors; the
    /// spherical prior uses its Gaussian asymptote here).
    #[inline]
    pub fn mean_var(&self, b: f64, a: f64) -> (f64, f64) {
        match *self {
            Prior::Gaussian | Prior::Spherical => (b / (1.0 + a), 1.0 / (1.0 + a)),
            Prior::Rademacher => {
                let m = b.tanh();
                (m, 1.0 - m * m)
            }
            Prior::SparseRademacher { rho } => {
                let s = 1.0 / rho.sqrt();
                let bs = b.abs() * s;
                let t = bs - 0.5 * a * s * s;
                let e2 = (-2.0 * bs).exp();
                let l0 = (1.0 - rho).ln();
                let l1 = (0.5 * rho).ln() + t;
                let mx = l0.max(l1);
                let w0 = (l0 - mx).exp();
                let w1 = (l1 - mx).exp();
                let den = w0 + w1 * (1.0 + e2);
                let mean = b.signum() * s * w1 * (1.0 - e2) / den;
                let second = s * s * w1 * (1.0 + e2) / den;
                (mean, (second - mean * mean).max(0.0))
            }
        }
    }

    /// `log E_P[exp(b x - a x^2/2)]` (the spherical prior uses its Gaussian asymptote).
    #[inline]
    pub fn log_partition(&self, b: f64, a: f64) -> f64 {
        match *self {
            Prior::Gaussian | Prior::Spherical => b * b / (2.0 * (1.0 + a)) - 0.5 * (1.0 + a).ln(),
            Prior::Rademacher => {
                let ab = b.abs();
                ab + log1pexp_neg(2.0 * ab) - std::f64::consts::LN_2 - 0.5 * a
            }
            Prior::SparseRademacher { rho } => {
                let s = 1.0 / rho.sqrt();
                let bs = b.abs() * s;
                let l0 = (1.0 - rho).ln();
                let l1 = (0.5 * rho).ln() + bs - 0.5 * a * s * s + log1pexp_neg(2.0 * bs);
                let mx = l0.max(l1);
                mx + ((l0 - mx).exp() + (l1 - mx).exp()).ln()
            }
        }
    }

    /// Draw `out.len()` i.i.d. entries (for the spherical prior: a uniform point of the sphere
    /// of radius `sqrt(len)`), from streams keyed by `(seed, domain)`.
    pub fn sample(&self, pool: &ThreadPool, seed: u64, domain: u64, out: &mut [f64]) {
        match *self {
            Prior::Gaussian => fill_standard_normal(pool, seed, domain, out),
            Prior::Spherical => {
                fill_standard_normal(pool, seed, domain, out);
                let norm2: f64 = out
                    .chunks(crate::rng::CHUNK)
                    .map(|c| c.iter().map(|v| v * v).sum::<f64>())
                    .sum();
                if norm2 > 0.0 {
                    let scale = (out.len() as f64 / norm2).sqrt();
                    pool.install(|| out.par_iter_mut().for_each(|v| *v *= scale));
                }
            }
            Prior::Rademacher => fill_chunks(pool, seed, domain, out, |rng, c| {
                for v in c.iter_mut() {
                    *v = if rng.random::<bool>() { 1.0 } else { -1.0 };
                }
            }),
            Prior::SparseRademacher { rho } => {
                let s = 1.0 / rho.sqrt();
                fill_chunks(pool, seed, domain, out, |rng, c| {
                    for v in c.iter_mut() {
                        let u: f64 = rng.random();
                        *v = if u < 0.5 * rho {
                            s
                        } else if u < rho {
                            -s
                        } else {
                            0.0
                        };
                    }
                })
            }
        }
    }

    /// Apply the denoiser to a whole field `b` at precision `a`: writes the posterior means and
    /// the derivatives `d mean_i / d b_i` (posterior variances for separable priors), and
    /// returns their average (the Onsager coefficient).
    pub fn denoise(
        &self,
        pool: &ThreadPool,
        b: &[f64],
        a: f64,
        mean: &mut [f64],
        var: &mut [f64],
    ) -> Result<f64> {
        let n = b.len();
        ensure(mean.len() == n && var.len() == n, "mean", || {
            "output lengths must match b".into()
        })?;
        ensure(a >= 0.0 && a.is_finite(), "a", || {
            format!("precision must be finite and >= 0, got {a}")
        })?;
        if n == 0 {
            return Ok(0.0);
        }
        if let Prior::Spherical = self {
            // f(b) = sqrt(n a/(1+a)) b/||b|| (the high-dimensional posterior mean on the sphere).
            let c = (n as f64 * a / (1.0 + a)).sqrt();
            let Some(g) = project_to_sphere(pool, b, c, mean) else {
                mean.fill(0.0);
                var.fill(1.0 / (1.0 + a));
                return Ok(1.0 / (1.0 + a));
            };
            let div = g * (1.0 - 1.0 / n as f64);
            pool.install(|| var.par_iter_mut().for_each(|v| *v = div));
            return Ok(div);
        }
        const BLOCK: usize = 4096;
        let sums: Vec<f64> = pool.install(|| {
            mean.par_chunks_mut(BLOCK)
                .zip(var.par_chunks_mut(BLOCK))
                .zip(b.par_chunks(BLOCK))
                .map(|((mc, vc), bc)| {
                    let mut s = 0.0;
                    for ((m, v), &bi) in mc.iter_mut().zip(vc.iter_mut()).zip(bc) {
                        let (mu, va) = self.mean_var(bi, a);
                        *m = mu;
                        *v = va;
                        s += va;
                    }
                    s
                })
                .collect()
        });
        Ok(sums.iter().sum::<f64>() / n as f64)
    }
}

/// `out = radius b / ||b||`, the point of the sphere of that radius in the direction of `b`;
/// returns `radius / ||b||` (None, leaving `out` untouched, when `b = 0`). The squared norm is
/// summed over fixed chunks, so the result does not depend on the thread count.
pub fn project_to_sphere(pool: &ThreadPool, b: &[f64], radius: f64, out: &mut [f64]) -> Option<f64> {
    let norm = b
        .chunks(crate::rng::CHUNK)
        .map(|c| c.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return None;
    }
    let g = radius / norm;
    pool.install(|| out.par_iter_mut().zip(b).for_each(|(m, &bi)| *m = g * bi));
    Some(g)
}

/// Elementwise `(mean, var)` at `(b[i], a[i])` (separable form), in parallel fixed chunks.
pub fn mean_var_many(
    pool: &ThreadPool,
    prior: &Prior,
    b: &[f64],
    a: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let pairs: Vec<(f64, f64)> = pool.install(|| {
        b.par_iter()
            .zip(a)
            .map(|(&bi, &ai)| prior.mean_var(bi, ai))
            .collect()
    });
    pairs.into_iter().unzip()
}

/// Elementwise log-partition at `(b[i], a[i])`.
pub fn log_partition_many(pool: &ThreadPool, prior: &Prior, b: &[f64], a: &[f64]) -> Vec<f64> {
    pool.install(|| {
        b.par_iter()
            .zip(a)
            .map(|(&bi, &ai)| prior.log_partition(bi, ai))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn numeric_derivative(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-5;
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    #[test]
    fn mean_and_variance_are_derivatives_of_the_log_partition() {
        let priors = [
            Prior::Gaussian,
            Prior::Rademacher,
            Prior::SparseRademacher { rho: 0.1 },
            Prior::SparseRademacher { rho: 1.0 },
        ];
        for p in priors {
            for &(b, a) in &[
                (0.3, 0.5),
                (-2.0, 3.0),
                (5.0, 10.0),
                (0.0, 0.0),
                (-40.0, 50.0),
            ] {
                let (m, v) = p.mean_var(b, a);
                let dm = numeric_derivative(|x| p.log_partition(x, a), b);
                let dv = numeric_derivative(|x| p.mean_var(x, a).0, b);
                assert!(
                    (m - dm).abs() < 1e-6 * (1.0 + m.abs()),
                    "{p:?} b={b} a={a}: {m} vs {dm}"
                );
                assert!(
                    (v - dv).abs() < 1e-5 * (1.0 + v.abs()),
                    "{p:?} b={b} a={a}: {v} vs {dv}"
                );
                assert!(m.is_finite() && v >= 0.0);
            }
        }
    }

    #[test]
    fn samples_have_unit_second_moment() {
        let pl = pool(Some(2)).unwrap();
        for p in [
            Prior::Gaussian,
            Prior::Rademacher,
            Prior::SparseRademacher { rho: 0.2 },
            Prior::Spherical,
        ] {
            let mut x = vec![0.0; 200_000];
            p.sample(&pl, 3, 1, &mut x);
            let m2 = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
            assert!((m2 - 1.0).abs() < 0.02, "{p:?}: {m2}");
        }
    }

    #[test]
    fn spherical_denoiser_is_asymptotically_gaussian() {
        let pl = pool(Some(1)).unwrap();
        let n = 100_000;
        let a: f64 = 2.0;
        let mut x = vec![0.0; n];
        Prior::Gaussian.sample(&pl, 5, 2, &mut x);
        let b: Vec<f64> = x.iter().map(|v| v * (a * (1.0 + a)).sqrt()).collect();
        let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
        let div = Prior::Spherical
            .denoise(&pl, &b, a, &mut m, &mut v)
            .unwrap();
        assert!((div - 1.0 / (1.0 + a)).abs() < 0.01);
        assert!(Prior::sparse_rademacher(0.0).is_err());
    }
}
