//! FISTA for nuclear-norm (trace-norm) penalised least squares of matrix sensing,
//! ```text
//! min_S  (1/2) sum_mu (y_mu - <A_mu, S>)^2 + lam ||S||_*          (lam Tr S over PSD S: psd)
//! ```
//! (Beck & Teboulle 2009, SIAM J. Imaging Sci. 2:183, Alg. FISTA with constant step; the
//! proximal map of the nuclear norm is the singular-value soft threshold, Cai, Candes & Shen
//! 2010, Thm 2.1). Continuation (`decay < 1`) lowers `lam` by that factor per iteration down to
//! a floor: the route of Python's `hdcore.algorithms.nuclear_norm` to the minimal-nuclear-norm
//! interpolator. The whole loop runs here, so one call borrows the data once (no per-iteration
//! conversion or finiteness scan of `X`), and a call can resume from the [`FistaState`] it
//! returns (progress bars run it in chunks).
//!
//! Every step is deterministic for any thread count: the operators, the eigen / singular value
//! decompositions and the reductions below are all in a fixed order.

use super::operators::SensingOperator;
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::rmt::eig::{reconstruct, svd};
use crate::rmt::spectral_fn::soft_threshold_symmetric;
use rayon::ThreadPool;

/// Iterate of FISTA: the estimate `x`, the extrapolated point `z`, the momentum `t` and the
/// current penalty `lam` (continuation).
#[derive(Debug, Clone, PartialEq)]
pub struct FistaState {
    /// Estimate `x^k` (row-major `rows x cols`).
    pub x: Vec<f64>,
    /// Extrapolated point `z^k`.
    pub z: Vec<f64>,
    /// Momentum `t_k` (`t_0 = 1`).
    pub t: f64,
    /// Current penalty.
    pub lam: f64,
}

impl FistaState {
    /// Start at `init` with `x = z = init`, `t = 1` and penalty `lam`.
    pub fn new(init: Vec<f64>, lam: f64) -> Self {
        FistaState {
            z: init.clone(),
            x: init,
            t: 1.0,
            lam,
        }
    }
}

/// Options of [`nuclear_norm_fista`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FistaOptions {
    /// Step size (`<= 1 / ||A^T A||` for the monotone decrease guarantee).
    pub step: f64,
    /// Iterations of this call.
    pub n_iter: usize,
    /// Stop when `||x^{k+1} - x^k|| / ||x^{k+1}|| < tol` and the penalty is fixed
    /// (`decay = 1`) or at its floor.
    pub tol: f64,
    /// Factor per iteration of the continuation (`1`: fixed penalty, `lam_floor` unused).
    pub decay: f64,
    /// Floor of the continuation.
    pub lam_floor: f64,
    /// Restrict to PSD matrices (symmetric operators only).
    pub psd: bool,
}

/// Output of [`nuclear_norm_fista`].
#[derive(Debug, Clone)]
pub struct FistaOutput {
    /// The state after the last iteration (resume from it).
    pub state: FistaState,
    /// Iterations run by this call.
    pub n_iter: usize,
    /// Relative change of the estimate at each iteration.
    pub change: Vec<f64>,
    /// Whether the stopping rule was met.
    pub converged: bool,
}

/// `sum_i a_i^2` in a fixed order.
fn sum_sq(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum()
}

/// Proximal map of `theta ||.||_*` (`psd`: of `theta Tr` on the PSD cone) at `w`; symmetric
/// operators symmetrise `w` first (the iterates stay symmetric up to rounding).
fn prox(
    pool: &ThreadPool,
    w: &mut [f64],
    rows: usize,
    cols: usize,
    theta: f64,
    symmetric: bool,
    psd: bool,
) -> Result<Vec<f64>> {
    if symmetric {
        for i in 0..rows {
            for j in i + 1..rows {
                let m = 0.5 * (w[i * rows + j] + w[j * rows + i]);
                w[i * rows + j] = m;
                w[j * rows + i] = m;
            }
        }
        return Ok(soft_threshold_symmetric(pool, w, rows, theta, psd)?.estimate);
    }
    let s = svd(pool, w, rows, cols, true)?;
    let shrunk: Vec<f64> = s.values.iter().map(|v| (v - theta).max(0.0)).collect();
    reconstruct(pool, &s.u, &shrunk, &s.v, rows, cols)
}

/// Run FISTA from `state` on the labels `y` of `op` (module docs).
pub fn nuclear_norm_fista<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    mut state: FistaState,
    opts: FistaOptions,
    ctl: &I,
) -> Result<FistaOutput>
where
    I: Interrupt + ?Sized,
{
    let (rows, cols, n) = (op.rows(), op.cols(), op.n_samples());
    let len = rows * cols;
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(state.x.len() == len && state.z.len() == len, "init", || {
        format!("has {} entries, expected {rows} x {cols}", state.x.len())
    })?;
    ensure(opts.step.is_finite() && opts.step > 0.0, "step", || {
        format!("must be finite and > 0, got {}", opts.step)
    })?;
    ensure(opts.tol.is_finite() && opts.tol >= 0.0, "tol", || {
        format!("must be finite and >= 0, got {}", opts.tol)
    })?;
    ensure(opts.decay > 0.0 && opts.decay <= 1.0, "decay", || {
        format!("must be in (0, 1], got {}", opts.decay)
    })?;
    ensure(
        opts.lam_floor.is_finite() && opts.lam_floor >= 0.0 && state.lam.is_finite(),
        "lam",
        || {
            format!(
                "must be finite and >= 0, got {} (floor {})",
                state.lam, opts.lam_floor
            )
        },
    )?;
    ensure(!opts.psd || op.symmetric(), "psd", || {
        "the PSD constraint needs a symmetric sensing operator".into()
    })?;
    let mut h = vec![0.0; n];
    let mut grad = vec![0.0; len];
    let mut change = Vec::with_capacity(opts.n_iter);
    let mut converged = false;
    let mut it = 0;
    while it < opts.n_iter {
        ctl.check()?;
        op.forward(pool, &state.z, &mut h)?;
        for (h, y) in h.iter_mut().zip(y) {
            *h -= y;
        }
        op.adjoint(pool, &h, &mut grad)?;
        for (g, z) in grad.iter_mut().zip(&state.z) {
            *g = z - opts.step * *g;
        }
        let x_new = prox(
            pool,
            &mut grad,
            rows,
            cols,
            opts.step * state.lam,
            op.symmetric(),
            opts.psd,
        )?;
        let t_new = 0.5 * (1.0 + (1.0 + 4.0 * state.t * state.t).sqrt());
        let beta = (state.t - 1.0) / t_new;
        let mut diff2 = 0.0;
        for ((z, xn), x) in state.z.iter_mut().zip(&x_new).zip(&state.x) {
            let d = xn - x;
            diff2 += d * d;
            *z = xn + beta * d;
        }
        let rel = (diff2 / sum_sq(&x_new).max(1e-300)).sqrt();
        if !rel.is_finite() {
            return Err(KernelError::Numerical {
                what: "nuclear_norm_fista",
                reason: "the iterate is not finite (step too large?)".into(),
            });
        }
        change.push(rel);
        state.x = x_new;
        state.t = t_new;
        state.lam = opts.lam_floor.max(state.lam * opts.decay);
        it += 1;
        if rel < opts.tol && (opts.decay == 1.0 || state.lam <= opts.lam_floor) {
            converged = true;
            break;
        }
    }
    Ok(FistaOutput {
        state,
        n_iter: it,
        change,
        converged,
    })
}

/// `1.05 x` the largest eigenvalue of `A^T A` by `n_power` power iterations from a Gaussian
/// start (stream `(seed, domain)`, symmetrised for symmetric operators): the inverse of FISTA's
/// step.
pub fn operator_norm2<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    n_power: usize,
    seed: u64,
    ctl: &I,
) -> Result<f64>
where
    I: Interrupt + ?Sized,
{
    let (rows, cols) = (op.rows(), op.cols());
    let mut v = vec![0.0; rows * cols];
    crate::rng::fill_standard_normal(pool, seed, super::tags::POWER, &mut v);
    if op.symmetric() {
        for i in 0..rows {
            for j in i + 1..rows {
                let m = 0.5 * (v[i * rows + j] + v[j * rows + i]);
                v[i * rows + j] = m;
                v[j * rows + i] = m;
            }
        }
    }
    let mut h = vec![0.0; op.n_samples()];
    let mut w = vec![0.0; rows * cols];
    let mut lam = 1.0;
    for _ in 0..n_power.max(1) {
        ctl.check()?;
        let norm = sum_sq(&v).sqrt().max(1e-300);
        v.iter_mut().for_each(|x| *x /= norm);
        op.forward(pool, &v, &mut h)?;
        op.adjoint(pool, &h, &mut w)?;
        lam = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        std::mem::swap(&mut v, &mut w);
    }
    ensure(lam.is_finite() && lam > 0.0, "x", || {
        format!("the sensing operator has ||A^T A|| = {lam}")
    })?;
    Ok(1.05 * lam)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::sensing::models::{labels, wishart_teacher};
    use crate::sensing::{GaussianRect, GaussianSymmetric};
    use crate::threads::pool;

    fn sym_problem(d: usize, alpha: f64) -> (GaussianSymmetric, Vec<f64>) {
        let p = pool(Some(2)).unwrap();
        let n = (alpha * (d * d) as f64).round() as usize;
        let op = GaussianSymmetric::new(7, n, d).unwrap();
        let (_, s) = wishart_teacher(&p, d, d / 2, 3).unwrap();
        let y = labels(&p, &op, &s, 0.1, 5).unwrap();
        (op, y)
    }

    fn opts(step: f64, n_iter: usize, psd: bool) -> FistaOptions {
        FistaOptions {
            step,
            n_iter,
            tol: 1e-13,
            decay: 1.0,
            lam_floor: 0.0,
            psd,
        }
    }

    /// Proximal-gradient fixed point: `S = prox_{step lam}(S - step A^T (A S - y))`.
    fn fixed_point_residual(
        p: &ThreadPool,
        op: &dyn SensingOperator,
        y: &[f64],
        s: &[f64],
        step: f64,
        lam: f64,
        psd: bool,
    ) -> f64 {
        let (r, c) = (op.rows(), op.cols());
        let mut h = vec![0.0; op.n_samples()];
        op.forward(p, s, &mut h).unwrap();
        for (h, y) in h.iter_mut().zip(y) {
            *h -= y;
        }
        let mut g = vec![0.0; r * c];
        op.adjoint(p, &h, &mut g).unwrap();
        let mut w: Vec<f64> = s.iter().zip(&g).map(|(s, g)| s - step * g).collect();
        let q = prox(p, &mut w, r, c, step * lam, op.symmetric(), psd).unwrap();
        q.iter()
            .zip(s)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn converges_to_the_proximal_fixed_point() {
        let p = pool(Some(2)).unwrap();
        let d = 14;
        let (op, y) = sym_problem(d, 0.6);
        let step = 1.0 / operator_norm2(&p, &op, 30, 1, &Never).unwrap();
        let lam = 0.5 * d as f64;
        for psd in [true, false] {
            let out = nuclear_norm_fista(
                &p,
                &op,
                &y,
                FistaState::new(vec![0.0; d * d], lam),
                opts(step, 3000, psd),
                &Never,
            )
            .unwrap();
            assert!(out.converged, "{:?}", &out.change[out.change.len() - 3..]);
            let res = fixed_point_residual(&p, &op, &y, &out.state.x, step, lam, psd);
            assert!(res < 1e-8, "psd {psd}: {res}");
        }
    }

    #[test]
    fn rectangular_operator_and_resuming() {
        let p = pool(Some(2)).unwrap();
        let (d1, d2, n) = (8, 6, 40);
        let op = GaussianRect::new(3, n, d1, d2).unwrap();
        let mut s = vec![0.0; d1 * d2];
        crate::rng::fill_standard_normal(&p, 4, 1, &mut s);
        let y = labels(&p, &op, &s, 0.0, 5).unwrap();
        let step = 1.0 / operator_norm2(&p, &op, 30, 1, &Never).unwrap();
        let o = opts(step, 40, false);
        let whole = nuclear_norm_fista(
            &p,
            &op,
            &y,
            FistaState::new(vec![0.0; d1 * d2], 0.3),
            o,
            &Never,
        )
        .unwrap();
        let half = FistaOptions { n_iter: 20, ..o };
        let a = nuclear_norm_fista(
            &p,
            &op,
            &y,
            FistaState::new(vec![0.0; d1 * d2], 0.3),
            half,
            &Never,
        )
        .unwrap();
        let b = nuclear_norm_fista(&p, &op, &y, a.state, half, &Never).unwrap();
        assert_eq!(whole.state, b.state);
        let long = nuclear_norm_fista(
            &p,
            &op,
            &y,
            whole.state,
            FistaOptions { n_iter: 5000, ..o },
            &Never,
        )
        .unwrap();
        assert!(long.converged);
        assert!(fixed_point_residual(&p, &op, &y, &long.state.x, step, 0.3, false) < 1e-8);
    }

    #[test]
    fn thread_independent_and_validated() {
        let d = 10;
        let (op, y) = sym_problem(d, 0.7);
        let run = |t| {
            let p = pool(Some(t)).unwrap();
            let step = 1.0 / operator_norm2(&p, &op, 30, 1, &Never).unwrap();
            let o = FistaOptions {
                decay: 0.9,
                lam_floor: 0.01,
                ..opts(step, 60, true)
            };
            nuclear_norm_fista(
                &p,
                &op,
                &y,
                FistaState::new(vec![0.0; d * d], 5.0),
                o,
                &Never,
            )
            .unwrap()
            .state
        };
        let (a, b, c) = (run(1), run(2), run(3));
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!((a.lam - 0.01).abs() < 1e-15);
        let p = pool(Some(1)).unwrap();
        let bad = |o: FistaOptions| {
            nuclear_norm_fista(
                &p,
                &op,
                &y,
                FistaState::new(vec![0.0; d * d], 1.0),
                o,
                &Never,
            )
            .is_err()
        };
        assert!(bad(FistaOptions {
            step: 0.0,
            ..opts(1.0, 2, true)
        }));
        assert!(bad(FistaOptions {
            decay: 1.5,
            ..opts(1.0, 2, true)
        }));
        assert!(bad(FistaOptions {
            tol: f64::NAN,
            ..opts(1.0, 2, true)
        }));
        assert!(nuclear_norm_fista(
            &p,
            &op,
            &y[1..],
            FistaState::new(vec![0.0; d * d], 1.0),
            opts(1.0, 2, true),
            &Never
        )
        .is_err());
        let rect = GaussianRect::new(3, 20, 4, 3).unwrap();
        assert!(nuclear_norm_fista(
            &p,
            &rect,
            &[0.0; 20],
            FistaState::new(vec![0.0; 12], 1.0),
            opts(1.0, 2, true),
            &Never
        )
        .is_err());
    }
}
