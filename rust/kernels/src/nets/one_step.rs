//! One giant gradient step on the first layer of `f(x) = a^T sigma(W x)/sqrt(p)` (Cui, Pesce,
//! Dandi, Krzakala, Lu, Zdeborova & Loureiro 2024, arXiv:2402.04980, Sec. 2; the authors'
//! `Simulations.ipynb`): with a fresh batch `(X, y)` of `n0` samples and the residuals
//! `r = y - f(X)`,
//!
//! ```text
//! G  = (1/n0) X^T [ ((r/sqrt(p)) a^T) (.) sigma'(X W0^T) ]      (d x p)
//! W1 = W0 + eta sqrt(p) G^T,   eta = eta_tilde sqrt(p)            (the maximal scaling)
//! ```
//!
//! `X` is never stored: it is drawn in blocks of [`BLOCK`] rows, and `X^T [...]` is accumulated
//! block by block in a [`StripSum`] (bit-identical for any number of threads). The same pass
//! accumulates the spike `X^T r / n0` (`d`), whose direction the first layer aligns with.

use super::engine::{outputs, preactivations, sample_block, Function, StripSum, Teacher};
use super::{tags, BLOCK};
use crate::control::Interrupt;
use crate::error::{ensure, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Output of [`giant_step`].
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// `W1` (`p x d`, row-major).
    pub w1: Vec<f64>,
    /// `X^T r / n0` (`d`).
    pub spike: Vec<f64>,
}

/// The giant step from `w0` (`p x d`, row-major) with second layer `a0` (`p`) on `n0` fresh
/// samples of the teacher, drawn from `seed` (module docs).
#[allow(clippy::too_many_arguments)]
pub fn giant_step(
    pool: &ThreadPool,
    w0: &[f64],
    a0: &[f64],
    d: usize,
    act: Function,
    teacher: &Teacher<'_>,
    n0: usize,
    eta_tilde: f64,
    seed: u64,
    ctl: &dyn Interrupt,
) -> Result<StepOutput> {
    let p = a0.len();
    ensure(p >= 1 && d >= 1, "p", || {
        "p and d must be at least 1".into()
    })?;
    ensure(w0.len() == p * d, "w0", || {
        format!("has length {}, expected p d = {}", w0.len(), p * d)
    })?;
    ensure(n0 >= 1, "n0", || "must be at least 1".into())?;
    ensure(eta_tilde.is_finite(), "eta", || {
        format!("must be finite, got {eta_tilde}")
    })?;
    teacher.check(d)?;
    let bl = BLOCK.min(n0);
    let mut x = vec![0.0; bl * d];
    let mut y = vec![0.0; bl];
    let mut z = vec![0.0; bl * p];
    let mut f = vec![0.0; bl];
    let q = p + 1;
    let mut m = vec![0.0; bl * q];
    let mut sum = StripSum::new(d, q, false);
    let s = 1.0 / (p as f64).sqrt();
    let mut row0 = 0;
    while row0 < n0 {
        ctl.check()?;
        let rows = bl.min(n0 - row0);
        sample_block(
            pool,
            seed,
            tags::STEP_X,
            row0,
            d,
            teacher,
            &mut x[..rows * d],
            &mut y[..rows],
        );
        preactivations(pool, &x[..rows * d], w0, d, p, &mut z[..rows * p]);
        outputs(pool, &z[..rows * p], a0, act, &mut f[..rows]);
        let (y, f, z) = (&y, &f, &z);
        pool.install(|| {
            m[..rows * q]
                .par_chunks_mut(q)
                .enumerate()
                .for_each(|(mu, mr)| {
                    let r = y[mu] - f[mu];
                    let zr = &z[mu * p..(mu + 1) * p];
                    for ((o, &zj), &aj) in mr[..p].iter_mut().zip(zr).zip(a0) {
                        *o = r * s * aj * act.deriv(zj);
                    }
                    mr[p] = r;
                })
        });
        sum.add(pool, &x[..rows * d], &m[..rows * q], rows);
        row0 += rows;
    }
    let mut g = vec![0.0; d * q];
    sum.finish(1.0 / n0 as f64, &mut g);
    // W1 = W0 + eta sqrt(p) G^T with eta = eta_tilde sqrt(p)
    let lr = eta_tilde * p as f64;
    let mut w1 = w0.to_vec();
    pool.install(|| {
        w1.par_chunks_mut(d).enumerate().for_each(|(j, row)| {
            for (k, v) in row.iter_mut().enumerate() {
                *v += lr * g[k * q + j];
            }
        })
    });
    let spike: Vec<f64> = (0..d).map(|k| g[k * q + p]).collect();
    ensure(w1.iter().all(|v| v.is_finite()), "eta", || {
        "the step produced NaN or infinity".into()
    })?;
    Ok(StepOutput { w1, spike })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::rng::stream;
    use crate::threads::pool;
    use rand_distr::{Distribution, StandardNormal};

    fn setup(p: usize, d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut rng = stream(3, &[1]);
        let mut w0: Vec<f64> = (0..p * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        for row in w0.chunks_mut(d) {
            let nrm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            row.iter_mut().for_each(|v| *v /= nrm);
        }
        let mut th: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
        let nrm = th.iter().map(|v| v * v).sum::<f64>().sqrt();
        th.iter_mut().for_each(|v| *v /= nrm);
        (w0, vec![1.0 / (p as f64).sqrt(); p], th)
    }

    #[test]
    fn step_matches_a_dense_reference_and_is_thread_independent() {
        let (p, d, n0) = (70, 50, 2 * BLOCK + 33);
        let (w0, a0, th) = setup(p, d);
        let t = Teacher {
            theta: &th,
            target: Function::Sin,
            noise: 0.1,
        };
        let run = |threads| {
            giant_step(
                &pool(Some(threads)).unwrap(),
                &w0,
                &a0,
                d,
                Function::Tanh,
                &t,
                n0,
                2.0,
                9,
                &Never,
            )
            .unwrap()
        };
        let (o1, o2, o3) = (run(1), run(2), run(3));
        assert_eq!(o1.w1, o2.w1);
        assert_eq!(o1.w1, o3.w1);
        assert_eq!(o1.spike, o3.spike);
        // dense reference: the same batch, plain loops
        let pl = pool(Some(1)).unwrap();
        let mut x = vec![0.0; n0 * d];
        let mut y = vec![0.0; n0];
        sample_block(&pl, 9, tags::STEP_X, 0, d, &t, &mut x, &mut y);
        let mut w1 = w0.clone();
        let mut spike = vec![0.0; d];
        for mu in 0..n0 {
            let xr = &x[mu * d..(mu + 1) * d];
            let zs: Vec<f64> = (0..p)
                .map(|j| (0..d).map(|k| w0[j * d + k] * xr[k]).sum())
                .collect();
            let f: f64 = (0..p).map(|j| a0[j] * zs[j].tanh()).sum::<f64>() / (p as f64).sqrt();
            let r = y[mu] - f;
            for j in 0..p {
                let c = 2.0 * (p as f64).sqrt() * (p as f64).sqrt() / n0 as f64 * r
                    / (p as f64).sqrt()
                    * a0[j]
                    * Function::Tanh.deriv(zs[j]);
                for k in 0..d {
                    w1[j * d + k] += c * xr[k];
                }
            }
            for k in 0..d {
                spike[k] += r * xr[k] / n0 as f64;
            }
        }
        let err = o1
            .w1
            .iter()
            .zip(&w1)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-10, "{err}");
        let err = o1
            .spike
            .iter()
            .zip(&spike)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "{err}");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (p, d) = (4, 3);
        let (w0, a0, th) = setup(p, d);
        let t = Teacher {
            theta: &th,
            target: Function::Sin,
            noise: 0.0,
        };
        let pl = pool(Some(1)).unwrap();
        assert!(giant_step(
            &pl,
            &w0[..5],
            &a0,
            d,
            Function::Tanh,
            &t,
            10,
            1.0,
            0,
            &Never
        )
        .is_err());
        assert!(giant_step(&pl, &w0, &a0, d, Function::Tanh, &t, 0, 1.0, 0, &Never).is_err());
        assert!(giant_step(
            &pl,
            &w0,
            &a0,
            d,
            Function::Tanh,
            &t,
            10,
            f64::NAN,
            0,
            &Never
        )
        .is_err());
        let bad = Teacher {
            theta: &th[..2],
            target: Function::Sin,
            noise: 0.0,
        };
        assert!(giant_step(&pl, &w0, &a0, d, Function::Tanh, &bad, 10, 1.0, 0, &Never).is_err());
    }
}
