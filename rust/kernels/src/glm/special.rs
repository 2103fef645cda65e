//! Scalar special functions and quadrature rules of the GLM kernels: the standard normal CDF in
//! log space (stable in both tails), truncated-normal moments, Gauss-Hermite and Gauss-Legendre
//! rules (Golub-Welsch), and a streaming log-sum-exp accumulator of posterior moments.

use super::small::MAXP;
use crate::error::{KernelError, Result};
use faer::{Mat, Side};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `log(2 pi) / 2`.
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `log phi(x)`, the standard normal log-density.
#[inline]
pub fn log_npdf(x: f64) -> f64 {
    -0.5 * x * x - HALF_LN_2PI
}

/// `log P(Z > x)` for `Z ~ N(0, 1)`, accurate in both tails.
pub fn log_nsf(x: f64) -> f64 {
    if x < -5.0 {
        (-0.5 * libm::erfc(-x * FRAC_1_SQRT_2)).ln_1p()
    } else if x < 30.0 {
        (0.5 * libm::erfc(x * FRAC_1_SQRT_2)).ln()
    } else {
        // Mills ratio R(x) = P(Z > x)/phi(x) = (1/x)(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8 - ...)
        let u = 1.0 / (x * x);
        let series = 1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u * (1.0 - 7.0 * u * (1.0 - 9.0 * u))));
        log_npdf(x) - x.ln() + series.ln()
    }
}

/// `log P(Z < x)`.
#[inline]
pub fn log_ncdf(x: f64) -> f64 {
    log_nsf(-x)
}

/// `log(exp(a) - exp(b))` for `a >= b` (`-inf` when equal).
#[inline]
fn log_diff_exp(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        a
    } else if b >= a {
        f64::NEG_INFINITY
    } else {
        a + (-(b - a).exp()).ln_1p()
    }
}

/// `log P(lo < Z < hi)` for `Z ~ N(0, 1)`, `lo <= hi` (either may be infinite).
pub fn log_nmass(lo: f64, hi: f64) -> f64 {
    if lo >= hi {
        return f64::NEG_INFINITY;
    }
    if lo >= 0.0 {
        log_diff_exp(log_nsf(lo), log_nsf(hi))
    } else if hi <= 0.0 {
        log_diff_exp(log_ncdf(hi), log_ncdf(lo))
    } else {
        let tails = 0.5 * libm::erfc(hi * FRAC_1_SQRT_2) + 0.5 * libm::erfc(-lo * FRAC_1_SQRT_2);
        (-tails).ln_1p()
    }
}

/// Mass (in log), mean and variance of `N(m, s^2)` restricted to `(lo, hi)`.
pub fn truncated_normal(m: f64, s: f64, lo: f64, hi: f64) -> (f64, f64, f64) {
    let a = (lo - m) / s;
    let b = (hi - m) / s;
    let lz = log_nmass(a, b);
    if lz == f64::NEG_INFINITY {
        let edge = if a > 0.0 { lo } else { hi };
        return (lz, edge, 0.0);
    }
    let pa = if a.is_finite() { (log_npdf(a) - lz).exp() } else { 0.0 };
    let pb = if b.is_finite() { (log_npdf(b) - lz).exp() } else { 0.0 };
    let apa = if a.is_finite() { a * pa } else { 0.0 };
    let bpb = if b.is_finite() { b * pb } else { 0.0 };
    let d = pa - pb;
    let mean = (m + s * d).clamp(lo, hi);
    let var = (s * s * (1.0 + apa - bpb - d * d)).max(0.0);
    (lz, mean, var)
}

/// Nodes and weights of an `n`-point Gauss rule from its Jacobi matrix (Golub-Welsch).
fn golub_welsch(n: usize, off: impl Fn(usize) -> f64, mass: f64) -> Result<(Vec<f64>, Vec<f64>)> {
    let j = Mat::<f64>::from_fn(n, n, |r, c| {
        if r + 1 == c {
            off(c)
        } else if c + 1 == r {
            off(r)
        } else {
            0.0
        }
    });
    let eig = j.self_adjoint_eigen(Side::Lower).map_err(|e| KernelError::Numerical {
        what: "quadrature",
        reason: format!("Golub-Welsch eigenproblem failed: {e:?}"),
    })?;
    let nodes: Vec<f64> = (0..n).map(|i| eig.S()[i]).collect();
    let u = eig.U();
    let mut weights: Vec<f64> = (0..n).map(|i| mass * u[(0, i)] * u[(0, i)]).collect();
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|w| *w *= mass / total);
    Ok((nodes, weights))
}

/// Probabilists' Gauss-Hermite rule: `E f(Z) ~ sum_k w_k f(x_k)`, `Z ~ N(0, 1)`, weights summing to 1.
pub fn gauss_hermite(n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    golub_welsch(n.max(1), |k| (k as f64).sqrt(), 1.0)
}

/// Gauss-Legendre rule on `[-1, 1]` (weights summing to 2).
pub fn gauss_legendre(n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    golub_welsch(
        n.max(1),
        |k| {
            let k = k as f64;
            k / (4.0 * k * k - 1.0).sqrt()
        },
        2.0,
    )
}

/// Streaming accumulator of a mixture `sum_k exp(lw_k) (1, z_k, z_k z_k^T + C_k)`, kept relative
/// to the running maximum log-weight so that nothing under- or overflows.
#[derive(Debug, Clone)]
pub struct MomentAcc {
    p: usize,
    max: f64,
    sum: f64,
    m1: [f64; MAXP],
    m2: [f64; MAXP * MAXP],
}

impl MomentAcc {
    /// An empty accumulator for `p`-dimensional components.
    pub fn new(p: usize) -> Self {
        Self { p, max: f64::NEG_INFINITY, sum: 0.0, m1: [0.0; MAXP], m2: [0.0; MAXP * MAXP] }
    }

    #[inline]
    fn weight(&mut self, lw: f64) -> Option<f64> {
        if lw == f64::NEG_INFINITY || lw.is_nan() {
            return None;
        }
        if lw > self.max {
            let scale = (self.max - lw).exp();
            let pp = self.p * self.p;
            self.sum *= scale;
            self.m1[..self.p].iter_mut().for_each(|v| *v *= scale);
            self.m2[..pp].iter_mut().for_each(|v| *v *= scale);
            self.max = lw;
        }
        Some((lw - self.max).exp())
    }

    /// An accumulator holding `exp(max) (sum, m1, m2)` (the sums of weights, of `w z` and of
    /// `w z z^T` relative to `exp(max)`), e.g. from a two-pass loop that found the maximum first.
    pub fn from_sums(p: usize, max: f64, sum: f64, m1: &[f64], m2: &[f64]) -> Self {
        let mut acc = Self::new(p);
        acc.max = max;
        acc.sum = sum;
        acc.m1[..p].copy_from_slice(&m1[..p]);
        acc.m2[..p * p].copy_from_slice(&m2[..p * p]);
        acc
    }

    /// Add a point mass at `z` with log-weight `lw`.
    #[inline]
    pub fn add_point(&mut self, lw: f64, z: &[f64]) {
        if let Some(w) = self.weight(lw) {
            let p = self.p;
            self.sum += w;
            for i in 0..p {
                self.m1[i] += w * z[i];
                for j in 0..p {
                    self.m2[i * p + j] += w * z[i] * z[j];
                }
            }
        }
    }

    /// Add a component with log-weight `lw`, mean `z` and covariance `c` (`p x p`).
    #[inline]
    pub fn add_component(&mut self, lw: f64, z: &[f64], c: &[f64]) {
        if let Some(w) = self.weight(lw) {
            let p = self.p;
            self.sum += w;
            for i in 0..p {
                self.m1[i] += w * z[i];
                for j in 0..p {
                    self.m2[i * p + j] += w * (z[i] * z[j] + c[i * p + j]);
                }
            }
        }
    }

    /// `log sum_k exp(lw_k)`, posterior mean and covariance; `None` if every weight vanished.
    pub fn finish(&self, mean: &mut [f64], cov: &mut [f64]) -> Option<f64> {
        if self.sum.is_nan() || self.sum <= 0.0 || !self.max.is_finite() {
            return None;
        }
        let p = self.p;
        for (m, s) in mean.iter_mut().zip(&self.m1[..p]) {
            *m = s / self.sum;
        }
        for i in 0..p {
            for j in 0..p {
                cov[i * p + j] = self.m2[i * p + j] / self.sum - mean[i] * mean[j];
            }
        }
        for i in 0..p {
            cov[i * p + i] = cov[i * p + i].max(0.0);
            for j in 0..i {
                let s = 0.5 * (cov[i * p + j] + cov[j * p + i]);
                cov[i * p + j] = s;
                cov[j * p + i] = s;
            }
        }
        Some(self.max + self.sum.ln())
    }
}

/// `2 pi`.
pub const TWO_PI: f64 = 2.0 * PI;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tails_match_known_values() {
        // P(Z > 1) = 0.15865525393145707, P(Z > 40) = 3.655893540915e-350 (log -804.6084420137538)
        assert!((log_nsf(1.0).exp() - 0.15865525393145707).abs() < 1e-15);
        assert!((log_nsf(40.0) + 804.6084420137538).abs() < 1e-9);
        assert!((log_nsf(29.9) - log_nsf(30.1)).abs() < 10.0);
        let (a, b) = (log_nsf(29.999_999), log_nsf(30.000_001));
        assert!((a - b - 30.0 * 2e-6).abs() < 1e-7, "continuity at the switch: {a} {b}");
        assert!((log_ncdf(-40.0) - log_nsf(40.0)).abs() < 1e-12);
        assert!(log_nsf(-40.0).abs() < 1e-300);
        assert!((log_nmass(-1.0, 1.0).exp() - 0.6826894921370859).abs() < 1e-15);
        assert!((log_nmass(50.0, 51.0) - log_nsf(50.0)).abs() < 1e-12);
    }

    #[test]
    fn truncated_normal_moments_match_quadrature() {
        for &(m, s, lo, hi) in &[(0.3, 1.2, 0.0, f64::INFINITY), (-2.0, 0.5, f64::NEG_INFINITY, -3.0), (1.0, 2.0, -1.0, 0.5), (0.0, 1.0, 8.0, f64::INFINITY)] {
            let (lz, mean, var) = truncated_normal(m, s, lo, hi);
            let (a, b) = (lo.max(m - 14.0 * s), hi.min(m + 14.0 * s));
            let n = 200_000;
            let h = (b - a) / n as f64;
            let (mut z0, mut z1, mut z2) = (0.0, 0.0, 0.0);
            for k in 0..=n {
                let x = a + k as f64 * h;
                let w = if k == 0 || k == n { 0.5 } else { 1.0 } * h * (log_npdf((x - m) / s)).exp() / s;
                z0 += w;
                z1 += w * x;
                z2 += w * x * x;
            }
            let (qm, qv) = (z1 / z0, z2 / z0 - (z1 / z0).powi(2));
            assert!((lz.exp() - z0).abs() < 1e-8 * z0.max(1e-300) + 1e-14, "{lz} {z0}");
            assert!((mean - qm).abs() < 1e-6, "{mean} {qm}");
            assert!((var - qv).abs() < 1e-6, "{var} {qv}");
        }
    }

    #[test]
    fn gauss_rules_integrate_polynomials() {
        let (x, w) = gauss_hermite(20).unwrap();
        let m4: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(4)).sum();
        let m6: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(6)).sum();
        assert!((m4 - 3.0).abs() < 1e-12 && (m6 - 15.0).abs() < 1e-11);
        let (x, w) = gauss_legendre(12).unwrap();
        let i: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(10)).sum();
        assert!((i - 2.0 / 11.0).abs() < 1e-14);
    }

    #[test]
    fn moment_accumulator_is_shift_invariant() {
        let mut a = MomentAcc::new(2);
        a.add_point(-1000.0, &[1.0, 2.0]);
        a.add_point(-999.0, &[3.0, -1.0]);
        a.add_component(-1001.0, &[0.0, 0.0], &[1.0, 0.5, 0.5, 1.0]);
        let (mut m, mut c) = ([0.0; 2], [0.0; 4]);
        let lz = a.finish(&mut m, &mut c).unwrap();
        let w = [(-1.0f64).exp(), 1.0, (-2.0f64).exp()];
        let s: f64 = w.iter().sum();
        assert!((lz - (-999.0 + s.ln())).abs() < 1e-12);
        assert!((m[0] - (w[0] * 1.0 + w[1] * 3.0) / s).abs() < 1e-12);
        assert!((c[1] - c[2]).abs() < 1e-15);
    }
}
