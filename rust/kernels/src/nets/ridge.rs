//! Ridge read-out on the features `F = sigma(X W^T)` of `n` fresh samples (Cui et al. 2024,
//! arXiv:2402.04980, Eq. (3) and the authors' `Simulations.ipynb`):
//!
//! ```text
//! w = argmin  sum_mu (y_mu - w^T sigma(W x_mu)/sqrt(p))^2 + lam ||w||^2
//!   = (F^T F/p + lam I)^{-1} F^T y/sqrt(p)
//! ```
//!
//! `X` is streamed in blocks of [`BLOCK`] rows; `F^T F` and `F^T y` are accumulated in
//! [`StripSum`]s (bit-identical for any number of threads) and the `p x p` system is solved by
//! a sequential faer Cholesky factorisation. The test error is the mean squared error against
//! the *noiseless* target on `n_test` further fresh samples.

use super::engine::{preactivations, sample_block, Function, StripSum, Teacher};
use super::{tags, BLOCK};
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{Mat, Par};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Output of [`ridge_readout`].
#[derive(Debug, Clone)]
pub struct ReadoutOutput {
    /// Second-layer weights `w` (`p`).
    pub w: Vec<f64>,
    /// `(1/n) sum_mu (y_mu - w^T sigma(W x_mu)/sqrt(p))^2` on the (noisy) training labels.
    pub train_error: f64,
    /// The same on `n_test` fresh samples with noiseless labels.
    pub test_error: f64,
    /// The feature covariance `F^T F / n` (`p x p`, row-major) when asked for.
    pub covariance: Option<Vec<f64>>,
}

fn features(
    pool: &ThreadPool,
    x: &[f64],
    w: &[f64],
    d: usize,
    p: usize,
    act: Function,
    f: &mut [f64],
) {
    preactivations(pool, x, w, d, p, f);
    pool.install(|| {
        f.par_chunks_mut(1 << 12)
            .for_each(|c| c.iter_mut().for_each(|v| *v = act.value(*v)))
    });
}

/// Fit the read-out on the features of `w` (`p x d`) for `n` samples of `teacher` and report
/// its errors (module docs); `covariance` also returns `F^T F / n`.
#[allow(clippy::too_many_arguments)]
pub fn ridge_readout(
    pool: &ThreadPool,
    w: &[f64],
    d: usize,
    act: Function,
    teacher: &Teacher<'_>,
    n: usize,
    n_test: usize,
    lam: f64,
    seed: u64,
    covariance: bool,
    ctl: &dyn Interrupt,
) -> Result<ReadoutOutput> {
    ensure(d >= 1 && w.len() % d == 0 && !w.is_empty(), "w", || {
        format!("has length {}, not a positive multiple of d = {d}", w.len())
    })?;
    let p = w.len() / d;
    ensure(n >= 1, "n", || "must be at least 1".into())?;
    ensure(n_test >= 1, "n_test", || "must be at least 1".into())?;
    ensure(lam.is_finite() && lam > 0.0, "lam", || {
        format!("must be finite and > 0, got {lam}")
    })?;
    teacher.check(d)?;
    let bl = BLOCK.min(n.max(n_test));
    let mut x = vec![0.0; bl * d];
    let mut y = vec![0.0; bl];
    let mut f = vec![0.0; bl * p];
    let mut gram = StripSum::new(p, p, true);
    let mut fty = StripSum::new(p, 1, false);
    let mut yy = 0.0;
    let mut row0 = 0;
    while row0 < n {
        ctl.check()?;
        let rows = bl.min(n - row0);
        sample_block(
            pool,
            seed,
            tags::READOUT_X,
            row0,
            d,
            teacher,
            &mut x[..rows * d],
            &mut y[..rows],
        );
        features(pool, &x[..rows * d], w, d, p, act, &mut f[..rows * p]);
        gram.add(pool, &f[..rows * p], &f[..rows * p], rows);
        fty.add(pool, &f[..rows * p], &y[..rows], rows);
        yy += y[..rows].iter().map(|v| v * v).sum::<f64>();
        row0 += rows;
    }
    let mut g = vec![0.0; p * p];
    gram.finish(1.0, &mut g);
    let mut b = vec![0.0; p];
    fty.finish(1.0 / (p as f64).sqrt(), &mut b);
    let cov = covariance.then(|| g.iter().map(|v| v / n as f64).collect::<Vec<f64>>());
    // (F^T F/p + lam I) w = F^T y/sqrt(p)
    let mut a = Mat::<f64>::from_fn(p, p, |i, j| {
        g[i * p + j] / p as f64 + if i == j { lam } else { 0.0 }
    });
    drop(g);
    let fail = |reason: &str| KernelError::Numerical {
        what: "ridge read-out",
        reason: reason.into(),
    };
    let mut buf = MemBuffer::try_new(llt::factor::cholesky_in_place_scratch::<f64>(
        p,
        Par::Seq,
        Default::default(),
    ))
    .map_err(|_| fail("cannot allocate the Cholesky workspace"))?;
    llt::factor::cholesky_in_place(
        a.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|_| {
        fail("the regularised Gram matrix is not positive definite (features not finite?)")
    })?;
    let mut rhs = Mat::<f64>::from_fn(p, 1, |i, _| b[i]);
    let mut buf = MemBuffer::try_new(llt::solve::solve_in_place_scratch::<f64>(p, 1, Par::Seq))
        .map_err(|_| fail("cannot allocate the solve workspace"))?;
    llt::solve::solve_in_place(a.as_ref(), rhs.as_mut(), Par::Seq, MemStack::new(&mut buf));
    let wout: Vec<f64> = (0..p).map(|i| rhs[(i, 0)]).collect();
    ensure(wout.iter().all(|v| v.is_finite()), "lam", || {
        "the read-out weights are not finite".into()
    })
    .map_err(|_| fail("the read-out weights are not finite"))?;
    // train error from A w = b:  ||y - F w/sqrt(p)||^2 = y^T y - w^T b - lam ||w||^2
    let wb: f64 = wout.iter().zip(&b).map(|(u, v)| u * v).sum();
    let ww: f64 = wout.iter().map(|v| v * v).sum();
    let train_error = ((yy - wb - lam * ww) / n as f64).max(0.0);
    // test error on noiseless labels
    let clean = Teacher {
        noise: 0.0,
        ..*teacher
    };
    let s = 1.0 / (p as f64).sqrt();
    let mut sq = 0.0;
    let mut row0 = 0;
    while row0 < n_test {
        ctl.check()?;
        let rows = bl.min(n_test - row0);
        sample_block(
            pool,
            seed,
            tags::TEST_X,
            row0,
            d,
            &clean,
            &mut x[..rows * d],
            &mut y[..rows],
        );
        features(pool, &x[..rows * d], w, d, p, act, &mut f[..rows * p]);
        let (f, y, wout) = (&f, &y, &wout);
        sq += pool
            .install(|| {
                (0..rows)
                    .into_par_iter()
                    .map(|mu| {
                        let yhat: f64 = f[mu * p..(mu + 1) * p]
                            .iter()
                            .zip(wout)
                            .map(|(u, v)| u * v)
                            .sum();
                        (y[mu] - s * yhat).powi(2)
                    })
                    .collect::<Vec<f64>>()
            })
            .iter()
            .sum::<f64>();
        row0 += rows;
    }
    Ok(ReadoutOutput {
        w: wout,
        train_error,
        test_error: sq / n_test as f64,
        covariance: cov,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::rng::stream;
    use crate::threads::pool;
    use faer::linalg::solvers::Solve;
    use faer::Side;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn readout_solves_the_normal_equations_and_is_thread_independent() {
        let (p, d, n, n_test) = (60, 40, BLOCK + 91, 300);
        let mut rng = stream(5, &[2]);
        let w: Vec<f64> = (0..p * d)
            .map(|_| {
                let g: f64 = StandardNormal.sample(&mut rng);
                g / (d as f64).sqrt()
            })
            .collect();
        let th: Vec<f64> = (0..d).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
        let t = Teacher {
            theta: &th,
            target: Function::Sin,
            noise: 0.05,
        };
        let run = |k| {
            ridge_readout(
                &pool(Some(k)).unwrap(),
                &w,
                d,
                Function::Tanh,
                &t,
                n,
                n_test,
                0.1,
                4,
                true,
                &Never,
            )
            .unwrap()
        };
        let (o1, o2, o3) = (run(1), run(2), run(3));
        assert_eq!(o1.w, o2.w);
        assert_eq!(o1.w, o3.w);
        assert_eq!(o1.test_error.to_bits(), o3.test_error.to_bits());
        assert_eq!(o1.covariance, o2.covariance);
        // dense reference
        let pl = pool(Some(1)).unwrap();
        let mut x = vec![0.0; n * d];
        let mut y = vec![0.0; n];
        sample_block(&pl, 4, tags::READOUT_X, 0, d, &t, &mut x, &mut y);
        let fm = Mat::<f64>::from_fn(n, p, |mu, j| {
            (0..d)
                .map(|k| x[mu * d + k] * w[j * d + k])
                .sum::<f64>()
                .tanh()
        });
        let a = Mat::<f64>::from_fn(p, p, |i, j| {
            (0..n).map(|mu| fm[(mu, i)] * fm[(mu, j)]).sum::<f64>() / p as f64
                + if i == j { 0.1 } else { 0.0 }
        });
        let bb = Mat::<f64>::from_fn(p, 1, |i, _| {
            (0..n).map(|mu| fm[(mu, i)] * y[mu]).sum::<f64>() / (p as f64).sqrt()
        });
        let wr = a.llt(Side::Lower).unwrap().solve(&bb);
        for i in 0..p {
            assert!((o1.w[i] - wr[(i, 0)]).abs() < 1e-9, "{i}");
        }
        let train: f64 = (0..n)
            .map(|mu| {
                (y[mu] - (0..p).map(|j| fm[(mu, j)] * o1.w[j]).sum::<f64>() / (p as f64).sqrt())
                    .powi(2)
            })
            .sum::<f64>()
            / n as f64;
        assert!(
            (train - o1.train_error).abs() < 1e-10,
            "{train} vs {}",
            o1.train_error
        );
        let cov = o1.covariance.as_ref().unwrap();
        assert!(
            (cov[3 * p + 7] - (0..n).map(|mu| fm[(mu, 3)] * fm[(mu, 7)]).sum::<f64>() / n as f64)
                .abs()
                < 1e-12
        );
        assert!(ridge_readout(
            &pl,
            &w,
            d,
            Function::Tanh,
            &t,
            n,
            n_test,
            0.0,
            4,
            false,
            &Never
        )
        .is_err());
        assert!(ridge_readout(
            &pl,
            &w,
            d,
            Function::Tanh,
            &t,
            0,
            n_test,
            0.1,
            4,
            false,
            &Never
        )
        .is_err());
    }
}
