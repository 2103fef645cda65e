//! The lasso and the elastic net by cyclic coordinate descent on an active set:
//!
//! `w = argmin_w (1/2) ||y - X w||^2 + lam1 ||w||_1 + (lam2/2) ||w||^2`
//!
//! (Friedman, Hastie & Tibshirani, J. Stat. Softw. 33(1), 2010, "Regularization paths for
//! generalized linear models via coordinate descent": the coordinate update of their Eq. (5)
//! with "naive" residual updates, Sec. 2.1, and the active-set cycling of Sec. 2.6).
//!
//! With the residual `r = y - X w`, column `x_j` and `c_j = ||x_j||^2`, coordinate `j` is updated
//! to `w_j = S(x_j^T r + c_j w_j, lam1) / (c_j + lam2)` (`S` the soft threshold) and `r` follows
//! (`O(n)` per coordinate). The optimality (KKT) conditions read, with `g = X^T r - lam2 w`,
//! `g_j = lam1 sign(w_j)` where `w_j != 0` and `|g_j| <= lam1` where `w_j = 0`; the violation
//! of coordinate `j` is `|g_j - lam1 sign(w_j)|`, resp. `max(|g_j| - lam1, 0)`.
//!
//! Scheme: (1) one parallel pass computes every violation from the exact residual; the problem
//! is solved when the largest one is at most `tol * lam_max`, `lam_max = ||X^T y||_inf` (the
//! smallest `lam1` for which `w = 0`); (2) otherwise the active set (non-zero coordinates and
//! violators) is swept cyclically until no coordinate of it violates its condition by more than
//! `tol * lam_max` before its update; (3) the residual is recomputed from `w` (no drift of the
//! incremental updates) and (1) decides again. The reported residual is the one of (1), exact at
//! the returned `w`.
//!
//! Polish: when the active set is nearly square (the lasso below the Donoho-Tanner line, where
//! `X_A` is ill-conditioned) cyclic descent converges slowly, although the support and the signs
//! `s` of the minimiser are often already right. Every `max(20, |A|/8)` sweeps the KKT
//! equations on the support with `s` fixed, `(X_A^T X_A + lam2 I) w_A = X_A^T y - lam1 s`, are solved directly
//! (deterministic Gram product, sequential Cholesky). If it keeps every sign of `s` it replaces
//! `w_A`; otherwise `w` moves to the best zero crossing on the segment towards it (the
//! feature-sign search of Lee, Battle, Raina & Ng, NIPS 2006, which always lowers the
//! objective). Step (1) decides on the exact residual as always.
//!
//! Determinism: the sweeps are sequential and the parallel passes (transposition, column norms,
//! violations, residual) compute every output element by one fixed-order loop, so the result is
//! bit-identical for any number of threads.

use crate::alloc::{count, zeroed};
use crate::control::Interrupt;
use crate::error::{ensure, invalid, Result};
use crate::linalg::simd::{axpy, dot};
use crate::linalg::Scalar;
use crate::sensing::gemm::at_b;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{Mat, Par};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Columns per task of the transposition and of the violation pass.
const COLS: usize = 64;
/// Rows per task of the residual pass.
const ROWS: usize = 1 << 11;

/// Solver settings of [`elastic_net`].
#[derive(Debug, Clone, Copy)]
pub struct ElasticNetOptions {
    /// Stop when every KKT violation is at most `tol * lam_max`.
    pub tol: f64,
    /// Maximal number of coordinate sweeps (over the active set or over all coordinates).
    pub max_sweeps: usize,
}

impl Default for ElasticNetOptions {
    fn default() -> Self {
        Self {
            tol: 1e-9,
            max_sweeps: 100_000,
        }
    }
}

/// Result of [`elastic_net`].
#[derive(Debug, Clone)]
pub struct ElasticNetOutput {
    /// The minimiser.
    pub w: Vec<f64>,
    /// `(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2`.
    pub objective: f64,
    /// Largest KKT violation divided by `lam_max` (module docs), at `w`.
    pub kkt: f64,
    /// `lam_max = ||X^T y||_inf`.
    pub lam_max: f64,
    /// Coordinate sweeps performed (active-set sweeps; the checks are counted in `n_check`).
    pub n_sweeps: usize,
    /// Full passes of step (1).
    pub n_check: usize,
    /// Accepted polish steps (module docs).
    pub n_polish: usize,
    /// Non-zero coordinates of `w`.
    pub n_nonzero: usize,
    /// Whether `kkt <= tol`.
    pub converged: bool,
    /// Why the solver stopped.
    pub message: String,
}

#[inline]
fn soft(z: f64, t: f64) -> f64 {
    if z > t {
        z - t
    } else if z < -t {
        z + t
    } else {
        0.0
    }
}

/// KKT violation of one coordinate with `g = x_j^T r - lam2 w_j`.
#[inline]
fn violation(g: f64, w: f64, lam1: f64) -> f64 {
    if w > 0.0 {
        (g - lam1).abs()
    } else if w < 0.0 {
        (g + lam1).abs()
    } else {
        (g.abs() - lam1).max(0.0)
    }
}

/// Column-major float64 copy (`d` columns of length `n`) of the row-major `n x d` matrix `x`.
fn columns<T: Scalar>(pool: &ThreadPool, x: &[T], n: usize, d: usize) -> Result<Vec<f64>> {
    let mut cols = zeroed::<f64>("x", count("x", &[n, d])?)?;
    pool.install(|| {
        cols.par_chunks_mut(COLS * n).enumerate().for_each(|(b, block)| {
            let j0 = b * COLS;
            let width = block.len() / n;
            for i in 0..n {
                let row = &x[i * d + j0..i * d + j0 + width];
                for (k, v) in row.iter().enumerate() {
                    block[k * n + i] = v.to_f64();
                }
            }
        })
    });
    Ok(cols)
}

/// `r = y - X w` from the columns, over the non-zero coordinates `support`.
fn residual(pool: &ThreadPool, cols: &[f64], n: usize, y: &[f64], w: &[f64], support: &[usize], r: &mut [f64]) {
    pool.install(|| {
        r.par_chunks_mut(ROWS).enumerate().for_each(|(b, out)| {
            let i0 = b * ROWS;
            out.copy_from_slice(&y[i0..i0 + out.len()]);
            for &j in support {
                axpy(-w[j], &cols[j * n + i0..j * n + i0 + out.len()], out);
            }
        })
    });
}

/// Every coordinate's violation (into `v`) from the exact residual `r`.
fn violations(pool: &ThreadPool, cols: &[f64], n: usize, r: &[f64], w: &[f64], lam1: f64, lam2: f64, v: &mut [f64]) {
    pool.install(|| {
        v.par_chunks_mut(COLS).enumerate().for_each(|(b, out)| {
            for (k, vj) in out.iter_mut().enumerate() {
                let j = b * COLS + k;
                let g = dot(&cols[j * n..(j + 1) * n], r) - lam2 * w[j];
                *vj = violation(g, w[j], lam1);
            }
        })
    });
}

/// The solution of the KKT equations on the support of `w` with its signs fixed (module docs); if
/// a sign would change, the best point of the segment towards it (feature-sign search). `None`
/// when `X_A^T X_A + lam2 I` is not positive definite, the buffers do not fit, or nothing
/// decreases the objective. `r` is the residual at `w`.
#[allow(clippy::too_many_arguments)]
fn polish(pool: &ThreadPool, cols: &[f64], n: usize, y: &[f64], r: &[f64], w: &[f64], lam1: f64, lam2: f64) -> Option<Vec<f64>> {
    let support: Vec<usize> = (0..w.len()).filter(|&j| w[j] != 0.0).collect();
    let k = support.len();
    if k == 0 || (lam2 == 0.0 && k > n) {
        return None;
    }
    // X_A as a row-major n x k matrix
    let mut xa = zeroed::<f64>("x", count("x", &[n, k]).ok()?).ok()?;
    pool.install(|| {
        xa.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
            for (a, &j) in support.iter().enumerate() {
                row[a] = cols[j * n + i];
            }
        })
    });
    let g = at_b(pool, &xa, &xa, n, k, k);
    drop(xa);
    let mut gm = Mat::<f64>::from_fn(k, k, |a, b| g[a * k + b] + if a == b { lam2 } else { 0.0 });
    drop(g);
    let mut rhs = Mat::<f64>::from_fn(k, 1, |a, _| {
        let j = support[a];
        dot(&cols[j * n..(j + 1) * n], y) - lam1 * w[j].signum()
    });
    let mut buf = MemBuffer::try_new(llt::factor::cholesky_in_place_scratch::<f64>(k, Par::Seq, Default::default())).ok()?;
    llt::factor::cholesky_in_place(gm.as_mut(), Default::default(), Par::Seq, MemStack::new(&mut buf), Default::default()).ok()?;
    let mut buf = MemBuffer::try_new(llt::solve::solve_in_place_scratch::<f64>(k, 1, Par::Seq)).ok()?;
    llt::solve::solve_in_place(gm.as_ref(), rhs.as_mut(), Par::Seq, MemStack::new(&mut buf));
    let p: Vec<f64> = (0..k).map(|a| rhs[(a, 0)]).collect();
    if !p.iter().all(|v| v.is_finite()) {
        return None;
    }
    let mut out = w.to_vec();
    if support.iter().zip(&p).all(|(&j, &v)| v != 0.0 && v.signum() == w[j].signum()) {
        for (&j, &v) in support.iter().zip(&p) {
            out[j] = v;
        }
        return Some(out);
    }
    // Some sign would flip (feature-sign search, Lee, Battle, Raina & Ng, NIPS 2006, step 3): on
    // the segment w + t (p - w) the objective equals the fixed-sign quadratic up to the first
    // zero crossing, so it decreases there; take the best of the crossings and t = 1.
    let dw: Vec<f64> = support.iter().zip(&p).map(|(&j, &v)| v - w[j]).collect();
    let mut u = zeroed::<f64>("n", n).ok()?;
    pool.install(|| {
        u.par_chunks_mut(ROWS).enumerate().for_each(|(b, out)| {
            let i0 = b * ROWS;
            for (a, &j) in support.iter().enumerate() {
                axpy(dw[a], &cols[j * n + i0..j * n + i0 + out.len()], out);
            }
        })
    });
    let (rr, ru, uu) = (dot(r, r), dot(&u, r), dot(&u, &u));
    let f = |t: f64| {
        let pen: f64 = support
            .iter()
            .zip(&dw)
            .map(|(&j, &dv)| {
                let v = w[j] + t * dv;
                lam1 * v.abs() + 0.5 * lam2 * v * v
            })
            .sum();
        0.5 * (rr - 2.0 * t * ru + t * t * uu) + pen
    };
    let mut best = (f(0.0), 0.0, usize::MAX);
    for (a, &j) in support.iter().enumerate() {
        if p[a].signum() != w[j].signum() || p[a] == 0.0 {
            let t = w[j] / (w[j] - p[a]);
            let v = f(t);
            if v < best.0 {
                best = (v, t, a);
            }
        }
    }
    let v1 = f(1.0);
    if v1 < best.0 {
        best = (v1, 1.0, usize::MAX);
    }
    if best.1 == 0.0 {
        return None;
    }
    for (a, &j) in support.iter().enumerate() {
        out[j] = if a == best.2 { 0.0 } else { w[j] + best.1 * dw[a] };
    }
    Some(out)
}

/// Minimise `(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2` from `w0` (module docs).
///
/// `x` is the row-major `n x d` design; `lam1, lam2 >= 0`. Not reaching `tol` within
/// `max_sweeps` sweeps is reported by `converged = false`, not an error.
#[allow(clippy::too_many_arguments)]
pub fn elastic_net<T: Scalar, I: Interrupt + ?Sized>(
    pool: &ThreadPool,
    x: &[T],
    n: usize,
    d: usize,
    y: &[f64],
    lam1: f64,
    lam2: f64,
    w0: &[f64],
    opts: ElasticNetOptions,
    ctl: &I,
) -> Result<ElasticNetOutput> {
    ensure(n >= 1 && d >= 1, "x", || format!("must have at least one row and one column, got {n} x {d}"))?;
    ensure(x.len() == count("x", &[n, d])?, "x", || format!("has {} entries, expected {n} x {d}", x.len()))?;
    ensure(y.len() == n, "y", || format!("has length {}, expected {n} (the rows of `x`)", y.len()))?;
    ensure(w0.len() == d, "w0", || format!("has length {}, expected {d} (the columns of `x`)", w0.len()))?;
    ensure(lam1.is_finite() && lam1 >= 0.0, "lam1", || format!("must be finite and >= 0, got {lam1}"))?;
    ensure(lam2.is_finite() && lam2 >= 0.0, "lam2", || format!("must be finite and >= 0, got {lam2}"))?;
    ensure(opts.tol.is_finite() && opts.tol > 0.0, "tol", || format!("must be finite and > 0, got {}", opts.tol))?;
    ensure(opts.max_sweeps >= 1, "max_sweeps", || "must be at least 1".into())?;
    ensure(y.iter().all(|v| v.is_finite()), "y", || "contains NaN or infinity".into())?;
    ensure(w0.iter().all(|v| v.is_finite()), "w0", || "contains NaN or infinity".into())?;

    let cols = columns(pool, x, n, d)?;
    if !pool.install(|| cols.par_iter().all(|v| v.is_finite())) {
        return Err(invalid("x", "contains NaN or infinity"));
    }
    let mut norms = zeroed::<f64>("d", d)?;
    pool.install(|| {
        norms.par_iter_mut().enumerate().for_each(|(j, c)| {
            let col = &cols[j * n..(j + 1) * n];
            *c = dot(col, col);
        })
    });
    let mut w = w0.to_vec();
    let mut r = zeroed::<f64>("n", n)?;
    let mut v = zeroed::<f64>("d", d)?;
    // lam_max: the violations at w = 0 with lam1 = 0 are |x_j^T y|.
    let zeros = zeroed::<f64>("d", d)?;
    violations(pool, &cols, n, y, &zeros, 0.0, 0.0, &mut v);
    drop(zeros);
    let lam_max = v.iter().fold(0.0f64, |a, &b| a.max(b));
    let scale = if lam_max > 0.0 { lam_max } else { 1.0 };
    let thresh = opts.tol * scale;

    let (mut n_sweeps, mut n_check, mut n_polish) = (0usize, 0usize, 0usize);
    let mut active: Vec<usize> = Vec::new();
    let (kkt, converged, message) = loop {
        ctl.check()?;
        let support: Vec<usize> = (0..d).filter(|&j| w[j] != 0.0).collect();
        residual(pool, &cols, n, y, &w, &support, &mut r);
        violations(pool, &cols, n, &r, &w, lam1, lam2, &mut v);
        n_check += 1;
        let worst = v.iter().fold(0.0f64, |a, &b| a.max(b));
        if !worst.is_finite() {
            return Err(crate::error::KernelError::Numerical {
                what: "elastic_net",
                reason: "the KKT residual is not finite".into(),
            });
        }
        if worst <= thresh {
            break (worst / scale, true, "KKT conditions satisfied".to_string());
        }
        if n_sweeps >= opts.max_sweeps {
            break (worst / scale, false, format!("stopped after {n_sweeps} sweeps (max_sweeps)"));
        }
        active.clear();
        active.extend((0..d).filter(|&j| w[j] != 0.0 || v[j] > thresh));
        let polish_every = 20.max(active.len() / 8);
        let mut since_polish = 0usize;
        while n_sweeps < opts.max_sweeps {
            ctl.check()?;
            if since_polish >= polish_every {
                since_polish = 0;
                if let Some(p) = polish(pool, &cols, n, y, &r, &w, lam1, lam2) {
                    w = p;
                    let support: Vec<usize> = (0..d).filter(|&j| w[j] != 0.0).collect();
                    residual(pool, &cols, n, y, &w, &support, &mut r);
                    n_polish += 1;
                }
            }
            since_polish += 1;
            n_sweeps += 1;
            let mut sweep_worst = 0.0f64;
            for &j in &active {
                let col = &cols[j * n..(j + 1) * n];
                let (c, wj) = (norms[j], w[j]);
                let g = dot(col, &r) - lam2 * wj;
                sweep_worst = sweep_worst.max(violation(g, wj, lam1));
                let denom = c + lam2;
                let new = if denom > 0.0 { soft(g + denom * wj, lam1) / denom } else { 0.0 };
                if new != wj {
                    axpy(wj - new, col, &mut r);
                    w[j] = new;
                }
            }
            if sweep_worst <= thresh {
                break;
            }
        }
    };
    let l1: f64 = w.iter().map(|v| v.abs()).sum();
    let l2: f64 = w.iter().map(|v| v * v).sum();
    let rss: f64 = r.iter().map(|v| v * v).sum();
    let n_nonzero = w.iter().filter(|&&v| v != 0.0).count();
    Ok(ElasticNetOutput {
        objective: 0.5 * rss + lam1 * l1 + 0.5 * lam2 * l2,
        w,
        kkt,
        lam_max,
        n_sweeps,
        n_check,
        n_polish,
        n_nonzero,
        converged,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::models::regression::test_sample;
    use crate::threads::pool;
    use faer::linalg::solvers::Solve;
    use faer::{Mat, Side};

    fn solve(x: &[f64], n: usize, d: usize, y: &[f64], lam1: f64, lam2: f64, threads: usize) -> ElasticNetOutput {
        let p = pool(Some(threads)).unwrap();
        let opts = ElasticNetOptions { tol: 1e-12, ..Default::default() };
        elastic_net(&p, x, n, d, y, lam1, lam2, &vec![0.0; d], opts, &Never).unwrap()
    }

    fn objective(x: &[f64], n: usize, d: usize, y: &[f64], lam1: f64, lam2: f64, w: &[f64]) -> f64 {
        let rss: f64 = (0..n)
            .map(|i| {
                let z: f64 = (0..d).map(|j| x[i * d + j] * w[j]).sum();
                (y[i] - z).powi(2)
            })
            .sum();
        0.5 * rss + w.iter().map(|v| lam1 * v.abs() + 0.5 * lam2 * v * v).sum::<f64>()
    }

    #[test]
    fn orthogonal_design_gives_the_soft_threshold() {
        let (d, s) = (7, 1.7);
        let mut x = vec![0.0; d * d];
        for j in 0..d {
            x[j * d + j] = s;
        }
        let y = [3.0, -0.2, 0.5, -2.5, 0.0, 1.0, -0.9];
        let (lam1, lam2) = (0.8, 0.3);
        let out = solve(&x, d, d, &y, lam1, lam2, 2);
        assert!(out.converged);
        for j in 0..d {
            let want = soft(s * y[j], lam1) / (s * s + lam2);
            assert!((out.w[j] - want).abs() < 1e-14, "{j}: {} vs {want}", out.w[j]);
        }
        assert_eq!(out.n_nonzero, out.w.iter().filter(|v| **v != 0.0).count());
    }

    #[test]
    fn pure_ridge_matches_the_normal_equations() {
        let pr = test_sample(60, 25, 3);
        let lam2 = 0.7;
        let out = solve(&pr.x, pr.n, pr.d, &pr.y, 0.0, lam2, 2);
        assert!(out.converged, "{}", out.message);
        let a = Mat::from_fn(pr.d, pr.d, |i, j| {
            (0..pr.n).map(|m| pr.x[m * pr.d + i] * pr.x[m * pr.d + j]).sum::<f64>()
                + if i == j { lam2 } else { 0.0 }
        });
        let b = Mat::from_fn(pr.d, 1, |i, _| (0..pr.n).map(|m| pr.x[m * pr.d + i] * pr.y[m]).sum::<f64>());
        let w = a.llt(Side::Lower).unwrap().solve(&b);
        for j in 0..pr.d {
            assert!((out.w[j] - w[(j, 0)]).abs() < 1e-9, "{j}");
        }
    }

    #[test]
    fn lasso_minimises_the_objective_and_satisfies_kkt() {
        // more columns than rows: the lasso regime of compressed sensing
        let pr = test_sample(40, 100, 5);
        let (lam1, lam2) = (2.0, 0.0);
        let out = solve(&pr.x, pr.n, pr.d, &pr.y, lam1, lam2, 2);
        assert!(out.converged && out.kkt <= 1e-12, "{}: {}", out.message, out.kkt);
        assert!(out.n_nonzero > 0 && out.n_nonzero <= pr.n, "{}", out.n_nonzero);
        let f = objective(&pr.x, pr.n, pr.d, &pr.y, lam1, lam2, &out.w);
        assert!((f - out.objective).abs() <= 1e-9 * f.abs());
        // no coordinate move (nor a random direction) lowers the objective
        let mut state = 12345u64;
        for k in 0..200 {
            let mut w = out.w.clone();
            let j = k % pr.d;
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let step = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1e-3;
            w[j] += step;
            assert!(objective(&pr.x, pr.n, pr.d, &pr.y, lam1, lam2, &w) >= f - 1e-10);
        }
    }

    #[test]
    fn ill_conditioned_lasso_converges_through_the_polish_step() {
        // nearly as many non-zeros as rows and a tiny penalty: cyclic descent alone is slow here
        let pr = test_sample(60, 200, 9);
        let lam1 = 1e-2 * solve(&pr.x, pr.n, pr.d, &pr.y, 1.0, 0.0, 1).lam_max;
        let out = solve(&pr.x, pr.n, pr.d, &pr.y, lam1, 0.0, 2);
        assert!(out.converged && out.kkt <= 1e-12, "{} {}", out.message, out.kkt);
        assert!(out.n_polish >= 1 && out.n_nonzero > 40, "{} {}", out.n_polish, out.n_nonzero);
        let f = objective(&pr.x, pr.n, pr.d, &pr.y, lam1, 0.0, &out.w);
        assert!((f - out.objective).abs() <= 1e-9 * f.abs().max(1e-3));
    }

    #[test]
    fn penalty_above_lam_max_gives_zero() {
        let pr = test_sample(30, 20, 7);
        let probe = solve(&pr.x, pr.n, pr.d, &pr.y, 1.0, 0.0, 1);
        let out = solve(&pr.x, pr.n, pr.d, &pr.y, probe.lam_max * 1.0001, 0.0, 1);
        assert_eq!(out.n_nonzero, 0);
        let below = solve(&pr.x, pr.n, pr.d, &pr.y, probe.lam_max * 0.99, 0.0, 1);
        assert_eq!(below.n_nonzero, 1);
    }

    #[test]
    fn result_does_not_depend_on_the_thread_count_and_float32_storage_is_its_values() {
        let pr = test_sample(300, 200, 11);
        let a = solve(&pr.x, pr.n, pr.d, &pr.y, 5.0, 0.1, 1);
        let b = solve(&pr.x, pr.n, pr.d, &pr.y, 5.0, 0.1, 3);
        assert_eq!(a.w, b.w);
        assert_eq!(a.n_sweeps, b.n_sweeps);
        let x32: Vec<f32> = pr.x.iter().map(|&v| v as f32).collect();
        let x64: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
        let p = pool(Some(2)).unwrap();
        let opts = ElasticNetOptions { tol: 1e-12, ..Default::default() };
        let c = elastic_net(&p, &x32, pr.n, pr.d, &pr.y, 5.0, 0.1, &vec![0.0; pr.d], opts, &Never).unwrap();
        let e = solve(&x64, pr.n, pr.d, &pr.y, 5.0, 0.1, 2);
        assert_eq!(c.w, e.w);
    }

    #[test]
    fn bad_input_is_an_invalid_argument_naming_it() {
        let p = pool(Some(1)).unwrap();
        let o = ElasticNetOptions::default();
        let x = vec![1.0, 2.0, 3.0, 4.0];
        let name = |r: Result<ElasticNetOutput>| match r {
            Err(crate::error::KernelError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(elastic_net(&p, &x, 2, 2, &[1.0, 2.0], -1.0, 0.0, &[0.0; 2], o, &Never)), "lam1");
        assert_eq!(name(elastic_net(&p, &x, 2, 2, &[1.0, 2.0], 1.0, f64::NAN, &[0.0; 2], o, &Never)), "lam2");
        assert_eq!(name(elastic_net(&p, &x, 2, 2, &[1.0], 1.0, 0.0, &[0.0; 2], o, &Never)), "y");
        assert_eq!(name(elastic_net(&p, &x, 2, 2, &[1.0, 2.0], 1.0, 0.0, &[0.0; 3], o, &Never)), "w0");
        let bad = vec![1.0, f64::NAN, 3.0, 4.0];
        assert_eq!(name(elastic_net(&p, &bad, 2, 2, &[1.0, 2.0], 1.0, 0.0, &[0.0; 2], o, &Never)), "x");
        let o0 = ElasticNetOptions { tol: 0.0, ..o };
        assert_eq!(name(elastic_net(&p, &x, 2, 2, &[1.0, 2.0], 1.0, 0.0, &[0.0; 2], o0, &Never)), "tol");
    }
}
