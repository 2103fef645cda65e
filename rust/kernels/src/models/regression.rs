//! The epsilon-contaminated linear regression model (Vilucchio et al., arXiv:2502.20003;
//! digest 06, Sec. 1): rows `x_mu ~ N(0, I_d)`, teacher `theta* ~ N(0, I_d)`,
//! `z_mu = <theta*, x_mu>/sqrt(d)`; with probability `1 - eps` the label is an inlier
//! `y = z + sqrt(delta_in) xi`, otherwise an outlier `y = beta z + sqrt(delta_out) xi`,
//! `xi ~ N(0, 1)`.
//!
//! Streams (`rng::domain::FREE + 40..49`, see [`crate::erm::domain`]): the teacher in fixed
//! chunks, row `mu` of `X` from its own stream, the outlier draws and the label noise in fixed
//! chunks, so a sample depends on the seed only, never on the number of threads.

use crate::erm::domain;
use crate::error::{ensure, Result};
use crate::linalg::{Dense, LinearOperator, Scalar};
use crate::rng::{fill_chunks, fill_standard_normal, stream};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Parameters of the label distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contamination {
    /// Fraction of outliers, in [0, 1].
    pub eps: f64,
    /// Noise variance of the inliers (>= 0).
    pub delta_in: f64,
    /// Noise variance of the outliers (>= 0).
    pub delta_out: f64,
    /// Slope of the outliers' labels on `z`.
    pub beta: f64,
}

impl Contamination {
    fn validate(&self) -> Result<()> {
        ensure((0.0..=1.0).contains(&self.eps), "eps", || {
            format!("must be in [0, 1], got {}", self.eps)
        })?;
        ensure(
            self.delta_in.is_finite() && self.delta_in >= 0.0,
            "delta_in",
            || format!("must be finite and >= 0, got {}", self.delta_in),
        )?;
        ensure(
            self.delta_out.is_finite() && self.delta_out >= 0.0,
            "delta_out",
            || format!("must be finite and >= 0, got {}", self.delta_out),
        )?;
        ensure(self.beta.is_finite(), "beta", || {
            format!("must be finite, got {}", self.beta)
        })
    }
}

/// Draw a sample: writes `X` (row-major `n x d`, in the storage type `T`), the teacher
/// `theta` (length `d`), the labels `y` and the outlier indicators (length `n`). The labels use
/// `z` computed from the stored `X`.
#[allow(clippy::too_many_arguments)]
pub fn contaminated_regression<T: Scalar>(
    pool: &ThreadPool,
    n: usize,
    d: usize,
    c: &Contamination,
    seed: u64,
    x: &mut [T],
    theta: &mut [f64],
    y: &mut [f64],
    outlier: &mut [bool],
) -> Result<()> {
    c.validate()?;
    ensure(n >= 1 && d >= 1, "n", || {
        format!("need n >= 1 and d >= 1, got n = {n}, d = {d}")
    })?;
    ensure(x.len() == n * d, "x", || {
        format!("has length {}, expected {n} x {d}", x.len())
    })?;
    ensure(theta.len() == d, "theta", || {
        format!("has length {}, expected {d}", theta.len())
    })?;
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(outlier.len() == n, "outlier", || {
        format!("has length {}, expected {n}", outlier.len())
    })?;
    fill_standard_normal(pool, seed, domain::TEACHER, theta);
    pool.install(|| {
        x.par_chunks_mut(d).enumerate().for_each(|(mu, row)| {
            let mut rng = stream(seed, &[domain::DESIGN, mu as u64]);
            for v in row.iter_mut() {
                let g: f64 = StandardNormal.sample(&mut rng);
                *v = T::from_f64(g);
            }
        })
    });
    let mut z = vec![0.0; n];
    Dense::new(&*x, n, d)?.apply(pool, theta, &mut z)?;
    let scale = 1.0 / (d as f64).sqrt();
    fill_chunks(pool, seed, domain::OUTLIER, outlier, |rng, chunk| {
        for o in chunk.iter_mut() {
            let u: f64 = rng.random();
            *o = u < c.eps;
        }
    });
    fill_standard_normal(pool, seed, domain::LABEL_NOISE, y);
    let (sin, sout) = (c.delta_in.sqrt(), c.delta_out.sqrt());
    let outlier: &[bool] = outlier;
    pool.install(|| {
        y.par_iter_mut()
            .zip(z.par_iter())
            .zip(outlier.par_iter())
            .for_each(|((yv, &zv), &o)| {
                let zv = zv * scale;
                *yv = if o {
                    c.beta * zv + sout * *yv
                } else {
                    zv + sin * *yv
                };
            })
    });
    Ok(())
}

/// A float64 draw with the parameters of the robust-regression study (eps = 0.1,
/// delta_in = 0.1, delta_out = 1, beta = 0), for the tests of the estimators.
#[cfg(test)]
pub(crate) struct TestSample {
    pub x: Vec<f64>,
    pub theta: Vec<f64>,
    pub y: Vec<f64>,
    pub n: usize,
    pub d: usize,
}

#[cfg(test)]
pub(crate) fn test_sample(n: usize, d: usize, seed: u64) -> TestSample {
    let p = crate::threads::pool(Some(2)).unwrap();
    let c = Contamination {
        eps: 0.1,
        delta_in: 0.1,
        delta_out: 1.0,
        beta: 0.0,
    };
    let (mut x, mut theta, mut y, mut o) =
        (vec![0.0; n * d], vec![0.0; d], vec![0.0; n], vec![false; n]);
    contaminated_regression(&p, n, d, &c, seed, &mut x, &mut theta, &mut y, &mut o).unwrap();
    TestSample { x, theta, y, n, d }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn draw(threads: usize, c: &Contamination) -> (Vec<f32>, Vec<f64>, Vec<f64>, Vec<bool>) {
        let (n, d) = (5000, 40);
        let p = pool(Some(threads)).unwrap();
        let (mut x, mut t, mut y, mut o) = (
            vec![0f32; n * d],
            vec![0.0; d],
            vec![0.0; n],
            vec![false; n],
        );
        contaminated_regression(&p, n, d, c, 11, &mut x, &mut t, &mut y, &mut o).unwrap();
        (x, t, y, o)
    }

    #[test]
    fn sample_is_thread_independent_and_has_the_stated_moments() {
        let c = Contamination {
            eps: 0.2,
            delta_in: 0.1,
            delta_out: 2.0,
            beta: 0.0,
        };
        let a = draw(1, &c);
        let b = draw(2, &c);
        assert_eq!(a, b);
        let (_, _, y, o) = a;
        let n = y.len() as f64;
        let frac = o.iter().filter(|&&v| v).count() as f64 / n;
        // binomial standard error sqrt(0.2 * 0.8 / 5000) = 0.0057
        assert!((frac - 0.2).abs() < 0.025, "{frac}");
        // E y^2 = 0.8 (|theta|^2/d + 0.1) + 0.2 * 2 ~ 1.28 (+ the spread of |theta|^2/d)
        let m2 = y.iter().map(|v| v * v).sum::<f64>() / n;
        assert!((m2 - 1.28).abs() < 0.3, "{m2}");
    }

    #[test]
    fn bad_parameters_are_rejected() {
        let p = pool(Some(1)).unwrap();
        let bad = [
            Contamination {
                eps: 1.5,
                delta_in: 0.1,
                delta_out: 1.0,
                beta: 0.0,
            },
            Contamination {
                eps: 0.1,
                delta_in: -0.1,
                delta_out: 1.0,
                beta: 0.0,
            },
            Contamination {
                eps: 0.1,
                delta_in: 0.1,
                delta_out: f64::NAN,
                beta: 0.0,
            },
        ];
        for c in bad {
            let (mut x, mut t, mut y, mut o) =
                (vec![0f64; 6], vec![0.0; 3], vec![0.0; 2], vec![false; 2]);
            assert!(
                contaminated_regression(&p, 2, 3, &c, 0, &mut x, &mut t, &mut y, &mut o).is_err()
            );
        }
    }
}
