//! Built-in priors of the low-rank models: their sampler, their posterior-mean denoiser for the
//! scalar Gaussian channel `b = a x + sqrt(a) z` (equivalently the tilted measure
//! `P(x) exp(b x - a x^2 / 2)`), the posterior variance (= derivative of the denoiser in `b`)
//! and the log-partition function. This is the one definition of each prior: the AMP loops use
//! it directly and the Python theory (state evolution, free entropy) integrates it.

use crate::error::{ensure, Result};
use crate::glm::special::{log_nsf, HALF_LN_2PI};
use crate::rng::{fill_chunks, fill_standard_normal};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Maximal number of components of a [`Mixture`].
pub const MAX_COMPONENTS: usize = 8;

/// Rate of the exponential prior with `E x^2 = 1` (`2/lambda^2 = 1`); also the rate of the
/// Laplace prior with `E x^2 = 1` (`2 s^2 = 1`, `lambda = 1/s`).
pub const UNIT_RATE: f64 = std::f64::consts::SQRT_2;

/// A Gaussian mixture `sum_k w_k N(m_k, v_k)` with at most [`MAX_COMPONENTS`] components
/// (`v_k = 0` is an atom at `m_k`). Stored inline so that [`Prior`] stays `Copy`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mixture {
    k: usize,
    w: [f64; MAX_COMPONENTS],
    m: [f64; MAX_COMPONENTS],
    v: [f64; MAX_COMPONENTS],
}

impl Mixture {
    /// A mixture from its weights (normalised here to sum to 1), means and variances; checks
    /// `1 <= K <= 8`, equal lengths, finite entries, `w_k >= 0` with a positive sum, `v_k >= 0`.
    pub fn new(weights: &[f64], means: &[f64], vars: &[f64]) -> Result<Self> {
        let k = weights.len();
        ensure((1..=MAX_COMPONENTS).contains(&k), "weights", || {
            format!("a mixture needs 1..={MAX_COMPONENTS} components, got {k}")
        })?;
        ensure(means.len() == k && vars.len() == k, "means", || {
            format!("weights, means and vars must have the same length, got {k}, {}, {}", means.len(), vars.len())
        })?;
        ensure(weights.iter().all(|w| w.is_finite() && *w >= 0.0), "weights", || {
            "must be finite and >= 0".into()
        })?;
        ensure(means.iter().all(|m| m.is_finite()), "means", || "must be finite".into())?;
        ensure(vars.iter().all(|v| v.is_finite() && *v >= 0.0), "vars", || {
            "must be finite and >= 0".into()
        })?;
        let total: f64 = weights.iter().sum();
        ensure(total > 0.0, "weights", || "must have a positive sum".into())?;
        let mut out = Mixture { k, w: [0.0; MAX_COMPONENTS], m: [0.0; MAX_COMPONENTS], v: [0.0; MAX_COMPONENTS] };
        for i in 0..k {
            out.w[i] = weights[i] / total;
            out.m[i] = means[i];
            out.v[i] = vars[i];
        }
        Ok(out)
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.k
    }

    /// Whether the mixture has no component (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// `(w_k, m_k, v_k)` of every component.
    pub fn components(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        (0..self.k).map(move |i| (self.w[i], self.m[i], self.v[i]))
    }

    /// `E x^2`.
    pub fn second_moment(&self) -> f64 {
        self.components().map(|(w, m, v)| w * (m * m + v)).sum()
    }

    /// Whether every component is an atom.
    pub fn is_discrete(&self) -> bool {
        self.components().all(|(_, _, v)| v == 0.0)
    }

    /// Log-partition, posterior mean and variance under `P(x) exp(b x - a x^2/2)`: component
    /// `k` contributes `log w_k - log(1 + a v_k)/2 + (2 m_k b + b^2 v_k - a m_k^2)/(2(1 + a v_k))`
    /// with posterior `N((m_k + b v_k)/(1 + a v_k), v_k/(1 + a v_k))`.
    #[inline]
    fn tilted(&self, b: f64, a: f64) -> (f64, f64, f64) {
        let mut l = [f64::NEG_INFINITY; MAX_COMPONENTS];
        let mut mu = [0.0; MAX_COMPONENTS];
        let mut s2 = [0.0; MAX_COMPONENTS];
        let mut mx = f64::NEG_INFINITY;
        for (i, (w, m, v)) in self.components().enumerate() {
            if w == 0.0 {
                continue;
            }
            let den = 1.0 + a * v;
            l[i] = w.ln() - 0.5 * den.ln() + (2.0 * m * b + b * b * v - a * m * m) / (2.0 * den);
            mu[i] = (m + b * v) / den;
            s2[i] = v / den;
            mx = mx.max(l[i]);
        }
        let (mut z, mut m1, mut m2) = (0.0, 0.0, 0.0);
        for i in 0..self.k {
            let e = (l[i] - mx).exp();
            z += e;
            m1 += e * mu[i];
            m2 += e * (s2[i] + mu[i] * mu[i]);
        }
        let mean = m1 / z;
        (mx + z.ln(), mean, (m2 / z - mean * mean).max(0.0))
    }
}

/// Coefficients of the asymptotic series of the Mills ratio used by [`half_line`]: with
/// `u = 1/alpha^2`, `alpha R(alpha) = S(u)`, `(1 - S)/u = T(u)` and `(S^2 - T)/u = W(u)`.
const SERIES_TERMS: usize = 10;

fn mills_series(u: f64) -> (f64, f64, f64) {
    // c_S[k] = (-1)^k (2k-1)!!, c_T[k] = -c_S[k+1], c_W[k] = (S^2)_{k+1} - c_T[k+1]
    let mut cs = [0.0; SERIES_TERMS + 2];
    cs[0] = 1.0;
    for k in 1..cs.len() {
        cs[k] = -cs[k - 1] * (2 * k - 1) as f64;
    }
    let horner = |c: &dyn Fn(usize) -> f64| (0..SERIES_TERMS).rev().fold(0.0, |acc, k| acc * u + c(k));
    let s = horner(&|k| cs[k]);
    let t = horner(&|k| -cs[k + 1]);
    let sq = |k: usize| (0..=k).map(|i| cs[i] * cs[k - i]).sum::<f64>();
    let w = horner(&|k| sq(k + 1) + cs[k + 2]);
    (s, t, w)
}

/// `(log I, mean, var)` of the measure `exp(c x - a x^2/2)` on `x >= 0`, `I` its mass. With
/// `s = 1/sqrt(a)` and `alpha = -c s` it is `N(c/a, 1/a)` truncated to `x > 0`:
/// `I = s R(alpha)` (`R` the Mills ratio), mean `s (lambda - alpha)`, variance
/// `s^2 (1 - lambda (lambda - alpha))` with `lambda = 1/R(alpha)`; for `alpha > 15` these are
/// evaluated from the asymptotic series of `R` (no cancellation), and at `a = 0` the exact
/// exponential limits for `c < 0`. An improper measure (`a = 0`, `c >= 0`) is regularised with
/// `a = 1e-12`.
pub fn half_line(c: f64, a: f64) -> (f64, f64, f64) {
    if a <= 0.0 && c < 0.0 {
        let r = -1.0 / c;
        return (r.ln(), r, r * r);
    }
    let a = a.max(1e-12);
    let s = 1.0 / a.sqrt();
    half_line_scaled(s, -c * s, -c * s > 15.0)
}

/// [`half_line`] from `s = 1/sqrt(a)` and `alpha = -c s`, by the series or the direct formula.
fn half_line_scaled(s: f64, alpha: f64, series: bool) -> (f64, f64, f64) {
    if series {
        let u = 1.0 / (alpha * alpha);
        let (ss, t, w) = mills_series(u);
        let log_i = (s / alpha).ln() + ss.ln();
        let mean = s * t / (alpha * ss);
        let var = s * s * w / (alpha * alpha * ss * ss);
        return (log_i, mean, var.max(0.0));
    }
    // log R(alpha) = log P(Z > alpha) - log phi(alpha)
    let log_r = log_nsf(alpha) + 0.5 * alpha * alpha + HALF_LN_2PI;
    let lam = (-log_r).exp();
    let delta = lam - alpha;
    (s.ln() + log_r, s * delta, (s * s * (1.0 - lam * delta)).max(0.0))
}

/// A prior on the entries of a planted vector. Every built-in prior has `E x^2 = 1` (the
/// Gaussian mixture: as given); `binary`, `exponential`, `positive` and mixtures may have
/// `E x != 0`.
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
    /// Gauss-Bernoulli (compressed sensing): 0 with probability `1 - rho`, else `N(0, 1/rho)`.
    GaussBernoulli {
        /// Density of non-zeros, in (0, 1].
        rho: f64,
    },
    /// Binary with bias: `x = 1/sqrt(rho)` with probability `rho`, else 0 (`E x = sqrt(rho)`).
    Binary {
        /// Probability of the non-zero value, in (0, 1].
        rho: f64,
    },
    /// Exponential with rate `sqrt(2)` (non-negative, `E x = 1/sqrt(2)`).
    Exponential,
    /// Half-normal `|N(0, 1)|` (non-negative, `E x = sqrt(2/pi)`).
    Positive,
    /// Laplace with scale `1/sqrt(2)`: density `exp(-sqrt(2)|x|)/sqrt(2)`.
    Laplace,
    /// A Gaussian mixture (`E x^2` as given).
    GaussMixture(Mixture),
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

    /// A Gauss-Bernoulli prior, checking `0 < rho <= 1`.
    pub fn gauss_bernoulli(rho: f64) -> Result<Self> {
        ensure(rho > 0.0 && rho <= 1.0, "rho", || format!("must be in (0, 1], got {rho}"))?;
        Ok(Prior::GaussBernoulli { rho })
    }

    /// A binary prior, checking `0 < rho <= 1`.
    pub fn binary(rho: f64) -> Result<Self> {
        ensure(rho > 0.0 && rho <= 1.0, "rho", || format!("must be in (0, 1], got {rho}"))?;
        Ok(Prior::Binary { rho })
    }

    /// The atoms `(x, log P(x))` of a discrete prior (None for a prior with a density part).
    pub fn atoms(&self) -> Option<Vec<(f64, f64)>> {
        match *self {
            Prior::Rademacher => Some(vec![(-1.0, 0.5f64.ln()), (1.0, 0.5f64.ln())]),
            Prior::SparseRademacher { rho } => {
                let s = 1.0 / rho.sqrt();
                let mut v = vec![(-s, (0.5 * rho).ln()), (s, (0.5 * rho).ln())];
                if rho < 1.0 {
                    v.push((0.0, (1.0 - rho).ln()));
                }
                Some(v)
            }
            Prior::Binary { rho } => {
                let mut v = vec![(1.0 / rho.sqrt(), rho.ln())];
                if rho < 1.0 {
                    v.push((0.0, (1.0 - rho).ln()));
                }
                Some(v)
            }
            Prior::GaussMixture(mix) if mix.is_discrete() => {
                Some(mix.components().filter(|c| c.0 > 0.0).map(|(w, m, _)| (m, w.ln())).collect())
            }
            _ => None,
        }
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
            _ => {
                let (_, m, v) = self.tilted(b, a);
                (m, v)
            }
        }
    }

    /// `(log Z, mean, var)` of the tilted measure for the priors added after the first four
    /// (closed forms: Gaussian mixtures, and truncated Gaussians via [`half_line`]).
    #[inline]
    fn tilted(&self, b: f64, a: f64) -> (f64, f64, f64) {
        match *self {
            Prior::GaussBernoulli { rho } => {
                let mix = Mixture {
                    k: 2,
                    w: pad([1.0 - rho, rho]),
                    m: [0.0; MAX_COMPONENTS],
                    v: pad([0.0, 1.0 / rho]),
                };
                mix.tilted(b, a)
            }
            Prior::Binary { rho } => {
                let s = 1.0 / rho.sqrt();
                let mix = Mixture { k: 2, w: pad([1.0 - rho, rho]), m: pad([0.0, s]), v: [0.0; MAX_COMPONENTS] };
                mix.tilted(b, a)
            }
            Prior::GaussMixture(mix) => mix.tilted(b, a),
            Prior::Exponential => {
                let (li, m, v) = half_line(b - UNIT_RATE, a);
                (UNIT_RATE.ln() + li, m, v)
            }
            Prior::Positive => {
                let (li, m, v) = half_line(b, 1.0 + a);
                (std::f64::consts::LN_2 - HALF_LN_2PI + li, m, v)
            }
            Prior::Laplace => {
                let (lp, mp, vp) = half_line(b - UNIT_RATE, a);
                let (ln, mn, vn) = half_line(-b - UNIT_RATE, a);
                let mx = lp.max(ln);
                let (wp, wn) = ((lp - mx).exp(), (ln - mx).exp());
                let z = wp + wn;
                let mean = (wp * mp - wn * mn) / z;
                let second = (wp * (vp + mp * mp) + wn * (vn + mn * mn)) / z;
                ((0.5 * UNIT_RATE).ln() + mx + z.ln(), mean, (second - mean * mean).max(0.0))
            }
            Prior::Gaussian | Prior::Spherical | Prior::Rademacher | Prior::SparseRademacher { .. } => {
                let (m, v) = self.mean_var(b, a);
                (self.log_partition(b, a), m, v)
            }
        }
    }

    /// `E x` and `E x^2`.
    pub fn moments(&self) -> (f64, f64) {
        match *self {
            Prior::Binary { rho } => (rho.sqrt(), 1.0),
            Prior::Exponential => (1.0 / UNIT_RATE, 1.0),
            Prior::Positive => ((2.0 / std::f64::consts::PI).sqrt(), 1.0),
            Prior::GaussMixture(mix) => (mix.components().map(|(w, m, _)| w * m).sum(), mix.second_moment()),
            _ => (0.0, 1.0),
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
            _ => self.tilted(b, a).0,
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
            Prior::GaussBernoulli { rho } => {
                let s = 1.0 / rho.sqrt();
                fill_chunks(pool, seed, domain, out, |rng, c| {
                    for v in c.iter_mut() {
                        let u: f64 = rng.random();
                        let g: f64 = StandardNormal.sample(rng);
                        *v = if u < rho { s * g } else { 0.0 };
                    }
                })
            }
            Prior::Binary { rho } => {
                let s = 1.0 / rho.sqrt();
                fill_chunks(pool, seed, domain, out, |rng, c| {
                    for v in c.iter_mut() {
                        let u: f64 = rng.random();
                        *v = if u < rho { s } else { 0.0 };
                    }
                })
            }
            Prior::Exponential => fill_chunks(pool, seed, domain, out, |rng, c| {
                for v in c.iter_mut() {
                    let u: f64 = rng.random();
                    *v = -(-u).ln_1p() / UNIT_RATE;
                }
            }),
            Prior::Positive => fill_chunks(pool, seed, domain, out, |rng, c| {
                for v in c.iter_mut() {
                    let g: f64 = StandardNormal.sample(rng);
                    *v = g.abs();
                }
            }),
            Prior::Laplace => fill_chunks(pool, seed, domain, out, |rng, c| {
                for v in c.iter_mut() {
                    let u: f64 = rng.random();
                    let e = -(-u).ln_1p() / UNIT_RATE;
                    *v = if rng.random::<bool>() { e } else { -e };
                }
            }),
            Prior::GaussMixture(mix) => fill_chunks(pool, seed, domain, out, |rng, c| {
                for v in c.iter_mut() {
                    let u: f64 = rng.random();
                    let g: f64 = StandardNormal.sample(rng);
                    let mut acc = 0.0;
                    let mut pick = mix.k - 1;
                    for i in 0..mix.k {
                        acc += mix.w[i];
                        if u < acc {
                            pick = i;
                            break;
                        }
                    }
                    *v = mix.m[pick] + mix.v[pick].sqrt() * g;
                }
            }),
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

fn pad<const N: usize>(x: [f64; N]) -> [f64; MAX_COMPONENTS] {
    let mut out = [0.0; MAX_COMPONENTS];
    out[..N].copy_from_slice(&x);
    out
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
            Prior::GaussBernoulli { rho: 0.1 },
            Prior::GaussBernoulli { rho: 1.0 },
            Prior::Binary { rho: 0.3 },
            Prior::Exponential,
            Prior::Positive,
            Prior::Laplace,
            Prior::GaussMixture(Mixture::new(&[0.3, 0.7], &[-1.0, 0.5], &[0.2, 0.0]).unwrap()),
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
            Prior::GaussBernoulli { rho: 0.2 },
            Prior::Binary { rho: 0.2 },
            Prior::Exponential,
            Prior::Positive,
            Prior::Laplace,
        ] {
            let mut x = vec![0.0; 200_000];
            p.sample(&pl, 3, 1, &mut x);
            let m2 = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
            assert!((m2 - 1.0).abs() < 0.02, "{p:?}: {m2}");
        }
    }

    #[test]
    fn half_line_series_and_direct_formulas_agree_at_the_switch() {
        for alpha in [15.0, 20.0] {
            let (l1, m1, v1) = half_line_scaled(1.3, alpha, true);
            let (l2, m2, v2) = half_line_scaled(1.3, alpha, false);
            assert!((l1 - l2).abs() < 1e-12 && (m1 - m2).abs() < 1e-11 * m1 && (v1 - v2).abs() < 1e-9 * v1, "{l1} {l2} {m1} {m2} {v1} {v2}");
        }
        // a -> 0 with c < 0 tends to the exponential measure of rate -c
        let (l, m, v) = half_line(-2.0, 1e-14);
        assert!((l - 0.5f64.ln()).abs() < 1e-9 && (m - 0.5).abs() < 1e-9 && (v - 0.25).abs() < 1e-9);
        let (l0, m0, v0) = half_line(-2.0, 0.0);
        assert!((l0 - l).abs() < 1e-9 && (m0 - m).abs() < 1e-9 && (v0 - v).abs() < 1e-9);
    }

    #[test]
    fn mixtures_are_validated() {
        assert!(Mixture::new(&[], &[], &[]).is_err());
        assert!(Mixture::new(&[1.0], &[0.0, 1.0], &[1.0]).is_err());
        assert!(Mixture::new(&[1.0], &[0.0], &[-1.0]).is_err());
        assert!(Mixture::new(&[0.0], &[0.0], &[1.0]).is_err());
        let m = Mixture::new(&[2.0, 2.0], &[-1.0, 1.0], &[0.0, 0.0]).unwrap();
        // an all-atom mixture is Rademacher
        let r = Prior::Rademacher;
        for &(b, a) in &[(0.3, 0.5), (-4.0, 2.0)] {
            let (x, y) = (Prior::GaussMixture(m).mean_var(b, a), r.mean_var(b, a));
            assert!((x.0 - y.0).abs() < 1e-14 && (x.1 - y.1).abs() < 1e-14);
            assert!((Prior::GaussMixture(m).log_partition(b, a) - r.log_partition(b, a)).abs() < 1e-14);
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
