//! Top eigenpairs of an implicit symmetric operator by thick-restart Lanczos with full
//! reorthogonalisation (Wu & Simon 2000; the symmetric case of Stewart's Krylov-Schur method).
//!
//! The operator is only ever applied to vectors (`op(x, y)` sets `y = A x`), so `A` can be a
//! dense or packed matrix, `X^T D X` through two passes over `X`, or a Python callable. The
//! projected matrix `H = V^T A V` is formed column by column with two Gram-Schmidt passes; on a
//! restart the best Ritz vectors are kept and `H` becomes diagonal. The small eigenproblems are
//! solved with faer.

use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use faer::{Mat, Side};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Settings of [`top_eigenpairs`].
#[derive(Debug, Clone, Copy)]
pub struct LanczosOptions {
    /// Number of wanted eigenpairs (largest algebraic eigenvalues).
    pub k: usize,
    /// Maximal Krylov basis size before a restart (`k < ncv <= n`).
    pub ncv: usize,
    /// Relative residual tolerance `||A x - theta x|| <= tol * max(|theta|, 1e-300)`.
    pub tol: f64,
    /// Maximal number of restarts.
    pub max_restarts: usize,
}

impl LanczosOptions {
    /// Sensible defaults for `k` eigenpairs of an `n x n` operator.
    pub fn new(n: usize, k: usize) -> Self {
        Self {
            k,
            ncv: (2 * k + 20).max(30).min(n),
            tol: 1e-10,
            max_restarts: 500,
        }
    }
}

/// Output of [`top_eigenpairs`].
#[derive(Debug, Clone)]
pub struct Eigenpairs {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// Unit eigenvectors, `vectors[i]` belongs to `values[i]`.
    pub vectors: Vec<Vec<f64>>,
    /// Residual norms `||A x_i - theta_i x_i||`.
    pub residuals: Vec<f64>,
    /// Number of operator applications.
    pub n_matvec: usize,
    /// Number of restarts performed.
    pub n_restarts: usize,
    /// Whether every residual is within tolerance.
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// One Gram-Schmidt pass: `h = V^T w`, `w -= V h`; returns `h`.
fn orthogonalise(pool: &ThreadPool, basis: &[Vec<f64>], w: &mut [f64]) -> Vec<f64> {
    pool.install(|| {
        let h: Vec<f64> = basis.par_iter().map(|v| dot(v, w)).collect();
        w.par_chunks_mut(4096).enumerate().for_each(|(c, wc)| {
            let off = c * 4096;
            for (v, &hj) in basis.iter().zip(&h) {
                for (k, x) in wc.iter_mut().enumerate() {
                    *x -= hj * v[off + k];
                }
            }
        });
        h
    })
}

/// `sum_j coef[j] * basis[j]`.
fn combine(pool: &ThreadPool, basis: &[Vec<f64>], coef: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    pool.install(|| {
        out.par_chunks_mut(4096).enumerate().for_each(|(c, oc)| {
            let off = c * 4096;
            for (v, &cj) in basis.iter().zip(coef) {
                for (k, x) in oc.iter_mut().enumerate() {
                    *x += cj * v[off + k];
                }
            }
        })
    });
    out
}

/// The `k` largest eigenpairs of the symmetric operator `op` of size `n`, from start vector `v0`.
pub fn top_eigenpairs<F, I>(
    pool: &ThreadPool,
    n: usize,
    mut op: F,
    v0: &[f64],
    opts: LanczosOptions,
    ctl: &I,
) -> Result<Eigenpairs>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<()>,
    I: Interrupt + ?Sized,
{
    ensure(n >= 1, "n", || {
        "the operator must have size at least 1".into()
    })?;
    ensure(opts.k >= 1 && opts.k <= n, "k", || {
        format!("must be in 1..={n}, got {}", opts.k)
    })?;
    ensure(v0.len() == n, "v0", || {
        format!("has length {}, expected {n}", v0.len())
    })?;
    ensure(opts.tol > 0.0 && opts.tol.is_finite(), "tol", || {
        "must be positive".into()
    })?;
    let ncv = opts.ncv.clamp((opts.k + 1).min(n), n);
    let k = opts.k;
    // The basis (ncv + 2 vectors of n) and the projected matrix with its eigenvectors.
    let need = crate::alloc::total(
        "ncv",
        &[
            crate::alloc::bytes::<f64>("ncv", &[ncv + 2, n])?,
            crate::alloc::bytes::<f64>("ncv", &[3, ncv, ncv])?,
        ],
    )?;
    crate::alloc::ensure_fits("ncv", need)?;

    let norm0 = dot(v0, v0).sqrt();
    ensure(norm0 > 0.0 && norm0.is_finite(), "v0", || {
        "must be a finite non-zero vector".into()
    })?;
    let mut v: Vec<f64> = v0.iter().map(|x| x / norm0).collect();
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(ncv + 1);
    let mut h = crate::alloc::zeroed::<f64>("ncv", ncv * ncv)?;
    let mut w = crate::alloc::zeroed::<f64>("n", n)?;
    let mut n_matvec = 0usize;
    let mut n_restarts = 0usize;
    let mut beta = 0.0;

    loop {
        // Extend the basis up to ncv vectors.
        let mut exhausted = false;
        while basis.len() < ncv {
            ctl.check()?;
            let j = basis.len();
            op(&v, &mut w)?;
            n_matvec += 1;
            if w.iter().any(|x| !x.is_finite()) {
                return Err(KernelError::Numerical {
                    what: "lanczos",
                    reason: "operator returned a non-finite vector".into(),
                });
            }
            basis.push(std::mem::take(&mut v));
            let mut hj = orthogonalise(pool, &basis, &mut w);
            let h2 = orthogonalise(pool, &basis, &mut w);
            for (a, b) in hj.iter_mut().zip(&h2) {
                *a += b;
            }
            for (i, &val) in hj.iter().enumerate() {
                h[i * ncv + j] = val;
                h[j * ncv + i] = val;
            }
            beta = dot(&w, &w).sqrt();
            let scale = hj
                .iter()
                .fold(0.0f64, |m, x| m.max(x.abs()))
                .max(f64::MIN_POSITIVE);
            if beta <= 1e-14 * scale || basis.len() == n {
                exhausted = true; // invariant subspace found: the Ritz pairs are exact
                v = vec![0.0; n];
                break;
            }
            v = w.iter().map(|x| x / beta).collect();
        }

        // Ritz pairs of the projected matrix.
        let m = basis.len();
        let hm = Mat::<f64>::from_fn(m, m, |i, j| h[i * ncv + j]);
        let eig = hm
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| KernelError::Numerical {
                what: "lanczos",
                reason: format!("projected eigenproblem failed: {e:?}"),
            })?;
        let theta: Vec<f64> = (0..m).map(|i| eig.S()[i]).collect();
        let y = eig.U();
        // faer returns ascending eigenvalues: the top ones are at the end.
        let order: Vec<usize> = (0..m).rev().collect();
        let resid = |i: usize| {
            if exhausted {
                0.0
            } else {
                (beta * y[(m - 1, i)]).abs()
            }
        };
        let kk = k.min(m);
        let converged = order[..kk]
            .iter()
            .all(|&i| resid(i) <= opts.tol * theta[i].abs().max(1e-300));
        if converged || exhausted || n_restarts >= opts.max_restarts {
            let mut values = Vec::with_capacity(kk);
            let mut vectors = Vec::with_capacity(kk);
            let mut residuals = Vec::with_capacity(kk);
            for &i in &order[..kk] {
                let coef: Vec<f64> = (0..m).map(|r| y[(r, i)]).collect();
                values.push(theta[i]);
                vectors.push(combine(pool, &basis, &coef, n));
                residuals.push(resid(i));
            }
            return Ok(Eigenpairs {
                values,
                vectors,
                residuals,
                n_matvec,
                n_restarts,
                converged: converged || exhausted,
            });
        }

        // Thick restart: keep the best `keep` Ritz vectors, H becomes diag(theta).
        let keep = (k + (ncv - k) / 2).min(m - 1).max(k);
        let mut new_basis = Vec::with_capacity(ncv + 1);
        for &i in &order[..keep] {
            let coef: Vec<f64> = (0..m).map(|r| y[(r, i)]).collect();
            new_basis.push(combine(pool, &basis, &coef, n));
        }
        h.iter_mut().for_each(|x| *x = 0.0);
        for (r, &i) in order[..keep].iter().enumerate() {
            h[r * ncv + r] = theta[i];
        }
        basis = new_basis;
        n_restarts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::threads::pool;

    #[test]
    fn diagonal_operator_gives_its_largest_entries() {
        let p = pool(Some(2)).unwrap();
        let n = 500;
        let d: Vec<f64> = (0..n).map(|i| (i as f64) / n as f64).collect();
        let op = |x: &[f64], y: &mut [f64]| {
            for i in 0..x.len() {
                y[i] = d[i] * x[i];
            }
            Ok(())
        };
        let v0: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64).sin()).collect();
        let res = top_eigenpairs(&p, n, op, &v0, LanczosOptions::new(n, 3), &Never).unwrap();
        assert!(res.converged);
        for (r, val) in res.values.iter().enumerate() {
            assert!((val - d[n - 1 - r]).abs() < 1e-9, "{val}");
            assert!(res.vectors[r][n - 1 - r].abs() > 1.0 - 1e-6);
        }
    }

    #[test]
    fn matches_dense_eigensolver() {
        let p = pool(Some(1)).unwrap();
        let n = 120;
        let a = Mat::<f64>::from_fn(n, n, |i, j| {
            (((i + 1) * (j + 1)) as f64).sin() + if i == j { 0.01 * i as f64 } else { 0.0 }
        });
        let a = Mat::<f64>::from_fn(n, n, |i, j| a[(i, j)] + a[(j, i)]);
        let dense = a.self_adjoint_eigen(Side::Lower).unwrap();
        let op = |x: &[f64], y: &mut [f64]| {
            for i in 0..n {
                y[i] = (0..n).map(|j| a[(i, j)] * x[j]).sum();
            }
            Ok(())
        };
        let v0 = vec![1.0; n];
        let res = top_eigenpairs(&p, n, op, &v0, LanczosOptions::new(n, 4), &Never).unwrap();
        for r in 0..4 {
            assert!((res.values[r] - dense.S()[n - 1 - r]).abs() < 1e-8);
        }
    }

    #[test]
    fn tiny_operators_and_bad_arguments() {
        let p = pool(Some(1)).unwrap();
        let op = |x: &[f64], y: &mut [f64]| {
            y[0] = 2.0 * x[0];
            Ok(())
        };
        let res = top_eigenpairs(&p, 1, op, &[1.0], LanczosOptions::new(1, 1), &Never).unwrap();
        assert!((res.values[0] - 2.0).abs() < 1e-15);
        let op = |_: &[f64], _: &mut [f64]| Ok(());
        assert!(top_eigenpairs(&p, 3, op, &[0.0; 3], LanczosOptions::new(3, 1), &Never).is_err());
        assert!(top_eigenpairs(&p, 3, op, &[1.0; 3], LanczosOptions::new(3, 4), &Never).is_err());
    }
}
