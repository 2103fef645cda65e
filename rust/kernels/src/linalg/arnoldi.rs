//! Eigenvalues of largest real part of an implicit non-symmetric operator, by thick-restart
//! (Krylov-Schur) Arnoldi in real arithmetic (Stewart 2001; Morgan 1996).
//!
//! The operator is only applied to vectors. After `ncv` Arnoldi steps, `A V = V H + f e^T`
//! with `H = V^T A V`; the eigenpairs of the small `H` (faer) give Ritz pairs whose residual is
//! `||f|| |e^T y|`. On a restart the real invariant subspace of `H` spanned by the wanted Ritz
//! vectors (real and imaginary parts of complex pairs, which are kept together) is
//! orthonormalised into `Y`; the basis becomes `V Y`, the projected matrix `Y^T H Y` and the
//! coupling row `||f|| e^T Y`, which is again a Krylov decomposition, and Arnoldi continues
//! from `f`. Full reorthogonalisation (two Gram-Schmidt passes) throughout.

use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use faer::Mat;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Settings of [`top_eigenpairs_nonsymmetric`].
#[derive(Debug, Clone, Copy)]
pub struct ArnoldiOptions {
    /// Number of wanted eigenpairs (largest real part).
    pub k: usize,
    /// Krylov basis size before a restart (`k + 2 <= ncv <= n`).
    pub ncv: usize,
    /// Relative residual tolerance `||A x - theta x|| <= tol * max(|theta|, 1e-300)`.
    pub tol: f64,
    /// Maximal number of restarts.
    pub max_restarts: usize,
}

impl ArnoldiOptions {
    /// Defaults for `k` eigenpairs of an `n x n` operator.
    pub fn new(n: usize, k: usize) -> Self {
        Self { k, ncv: (2 * k + 20).max(30).min(n), tol: 1e-10, max_restarts: 1000 }
    }
}

/// Output of [`top_eigenpairs_nonsymmetric`]: complex eigenpairs, largest real part first
/// (conjugate pairs adjacent, positive imaginary part first).
#[derive(Debug, Clone)]
pub struct ComplexEigenpairs {
    /// Real parts of the eigenvalues.
    pub values_re: Vec<f64>,
    /// Imaginary parts of the eigenvalues.
    pub values_im: Vec<f64>,
    /// Real parts of the unit eigenvectors.
    pub vectors_re: Vec<Vec<f64>>,
    /// Imaginary parts of the unit eigenvectors.
    pub vectors_im: Vec<Vec<f64>>,
    /// Residual norms.
    pub residuals: Vec<f64>,
    /// Number of operator applications.
    pub n_matvec: usize,
    /// Number of restarts.
    pub n_restarts: usize,
    /// Whether every returned residual is within tolerance.
    pub converged: bool,
}

const CHUNK: usize = 4096;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn orthogonalise(pool: &ThreadPool, basis: &[Vec<f64>], w: &mut [f64]) -> Vec<f64> {
    pool.install(|| {
        let h: Vec<f64> = basis.par_iter().map(|v| dot(v, w)).collect();
        w.par_chunks_mut(CHUNK).enumerate().for_each(|(c, wc)| {
            let off = c * CHUNK;
            for (v, &hj) in basis.iter().zip(&h) {
                for (k, x) in wc.iter_mut().enumerate() {
                    *x -= hj * v[off + k];
                }
            }
        });
        h
    })
}

fn combine(pool: &ThreadPool, basis: &[Vec<f64>], coef: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    pool.install(|| {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, oc)| {
            let off = c * CHUNK;
            for (v, &cj) in basis.iter().zip(coef) {
                if cj != 0.0 {
                    for (k, x) in oc.iter_mut().enumerate() {
                        *x += cj * v[off + k];
                    }
                }
            }
        })
    });
    out
}

/// A Ritz value and the indices of the faer eigenpair(s) it stands for.
#[derive(Debug, Clone, Copy)]
struct Unit {
    re: f64,
    im: f64,
    idx: usize,
    /// index of the conjugate partner (complex pairs)
    partner: Option<usize>,
}

/// Group eigenvalues into real ones and conjugate pairs, sorted by decreasing real part.
fn units(re: &[f64], im: &[f64]) -> Vec<Unit> {
    let m = re.len();
    let scale = re.iter().chain(im).fold(0.0f64, |a, b| a.max(b.abs())).max(1e-300);
    let mut used = vec![false; m];
    let mut out = Vec::new();
    for i in 0..m {
        if used[i] {
            continue;
        }
        used[i] = true;
        if im[i].abs() <= 1e-14 * scale {
            out.push(Unit { re: re[i], im: 0.0, idx: i, partner: None });
            continue;
        }
        let partner = (0..m)
            .filter(|&j| !used[j])
            .min_by(|&a, &b| {
                let da = (re[a] - re[i]).abs() + (im[a] + im[i]).abs();
                let db = (re[b] - re[i]).abs() + (im[b] + im[i]).abs();
                da.total_cmp(&db)
            });
        if let Some(j) = partner {
            used[j] = true;
        }
        let (idx, partner) = if im[i] > 0.0 { (i, partner) } else { (partner.unwrap_or(i), Some(i)) };
        out.push(Unit { re: re[i], im: im[i].abs(), idx, partner });
    }
    out.sort_by(|a, b| b.re.total_cmp(&a.re).then(b.im.total_cmp(&a.im)));
    out
}

/// The `k` eigenpairs of largest real part of the operator `op` (`y = A x`) of size `n`.
pub fn top_eigenpairs_nonsymmetric<F, I>(
    pool: &ThreadPool,
    n: usize,
    mut op: F,
    v0: &[f64],
    opts: ArnoldiOptions,
    ctl: &I,
) -> Result<ComplexEigenpairs>
where
    F: FnMut(&[f64], &mut [f64]) -> Result<()>,
    I: Interrupt + ?Sized,
{
    ensure(n >= 1, "n", || "the operator must have size at least 1".into())?;
    ensure(opts.k >= 1 && opts.k <= n, "k", || format!("must be in 1..={n}, got {}", opts.k))?;
    ensure(v0.len() == n, "v0", || format!("has length {}, expected {n}", v0.len()))?;
    ensure(opts.tol > 0.0 && opts.tol.is_finite(), "tol", || "must be positive".into())?;
    let k = opts.k;
    let ncv = opts.ncv.clamp((k + 2).min(n), n);
    // The basis (ncv + 2 vectors of n), the Hessenberg matrix and its (complex) Schur work.
    let need = crate::alloc::total(
        "ncv",
        &[
            crate::alloc::bytes::<f64>("ncv", &[ncv + 2, n])?,
            crate::alloc::bytes::<f64>("ncv", &[6, ncv + 1, ncv])?,
        ],
    )?;
    crate::alloc::ensure_fits("ncv", need)?;
    let norm0 = dot(v0, v0).sqrt();
    ensure(norm0 > 0.0 && norm0.is_finite(), "v0", || "must be a finite non-zero vector".into())?;

    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(ncv + 1);
    // h[i][j] = H_{ij}, stored densely with ncv + 1 rows
    let mut h = vec![vec![0.0; ncv]; ncv + 1];
    let mut v: Vec<f64> = v0.iter().map(|x| x / norm0).collect();
    let mut w = crate::alloc::zeroed::<f64>("n", n)?;
    let mut beta = 0.0;
    let (mut n_matvec, mut n_restarts) = (0usize, 0usize);

    loop {
        let mut exhausted = false;
        while basis.len() < ncv {
            ctl.check()?;
            let j = basis.len();
            op(&v, &mut w)?;
            n_matvec += 1;
            if w.iter().any(|x| !x.is_finite()) {
                return Err(KernelError::Numerical { what: "arnoldi", reason: "operator returned a non-finite vector".into() });
            }
            basis.push(std::mem::take(&mut v));
            let mut hj = orthogonalise(pool, &basis, &mut w);
            let h2 = orthogonalise(pool, &basis, &mut w);
            for (a, b) in hj.iter_mut().zip(&h2) {
                *a += b;
            }
            for (i, &val) in hj.iter().enumerate() {
                h[i][j] = val;
            }
            beta = dot(&w, &w).sqrt();
            h[j + 1][j] = beta;
            let scale = hj.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
            if beta <= 1e-14 * scale || basis.len() == n {
                exhausted = true;
                v = vec![0.0; n];
                break;
            }
            v = w.iter().map(|x| x / beta).collect();
        }

        let m = basis.len();
        let hm = Mat::<f64>::from_fn(m, m, |i, j| h[i][j]);
        let eig = faer::linalg::solvers::Eigen::new_from_real(hm.as_ref()).map_err(|e| KernelError::Numerical {
            what: "arnoldi",
            reason: format!("projected eigenproblem failed: {e:?}"),
        })?;
        let (s, u) = (eig.S(), eig.U());
        let re: Vec<f64> = (0..m).map(|i| s[i].re).collect();
        let im: Vec<f64> = (0..m).map(|i| s[i].im).collect();
        let order = units(&re, &im);
        // residual of Ritz vector i: beta |e_m^T y_i| / ||y_i||
        let resid = |i: usize| -> f64 {
            if exhausted {
                return 0.0;
            }
            let norm: f64 = (0..m).map(|r| u[(r, i)].re.powi(2) + u[(r, i)].im.powi(2)).sum::<f64>().sqrt();
            let last = (u[(m - 1, i)].re.powi(2) + u[(m - 1, i)].im.powi(2)).sqrt();
            beta * last / norm.max(1e-300)
        };
        // the first k individual eigenvalues (pairs count twice)
        let mut wanted: Vec<(usize, f64, f64)> = Vec::new();
        for un in &order {
            if wanted.len() >= k {
                break;
            }
            wanted.push((un.idx, un.re, un.im));
            if un.im != 0.0 && wanted.len() < k {
                wanted.push((un.partner.unwrap_or(un.idx), un.re, -un.im));
            }
        }
        let converged = wanted.iter().all(|&(i, re, im)| resid(i) <= opts.tol * (re.hypot(im)).max(1e-300));
        if converged || exhausted || n_restarts >= opts.max_restarts {
            let mut res = ComplexEigenpairs {
                values_re: Vec::new(),
                values_im: Vec::new(),
                vectors_re: Vec::new(),
                vectors_im: Vec::new(),
                residuals: Vec::new(),
                n_matvec,
                n_restarts,
                converged: converged || exhausted,
            };
            for &(i, vre, vim) in &wanted {
                let conj = vim < 0.0 && s[i].im > 0.0;
                let cre: Vec<f64> = (0..m).map(|r| u[(r, i)].re).collect();
                let cim: Vec<f64> = (0..m).map(|r| if conj { -u[(r, i)].im } else { u[(r, i)].im }).collect();
                let mut xr = combine(pool, &basis, &cre, n);
                let mut xi = combine(pool, &basis, &cim, n);
                let nrm = (dot(&xr, &xr) + dot(&xi, &xi)).sqrt().max(1e-300);
                xr.iter_mut().for_each(|x| *x /= nrm);
                xi.iter_mut().for_each(|x| *x /= nrm);
                res.values_re.push(vre);
                res.values_im.push(vim);
                res.vectors_re.push(xr);
                res.vectors_im.push(xi);
                res.residuals.push(resid(i));
            }
            return Ok(res);
        }

        // Thick restart: keep the invariant subspace of the best units (about half the basis).
        let keep_target = (k + (ncv - k) / 2).min(m - 2).max(k);
        let mut cols: Vec<Vec<f64>> = Vec::new();
        for un in &order {
            if cols.len() >= keep_target {
                break;
            }
            let i = un.idx;
            cols.push((0..m).map(|r| u[(r, i)].re).collect());
            if un.im != 0.0 {
                cols.push((0..m).map(|r| u[(r, i)].im).collect());
            }
        }
        if cols.len() > m - 1 {
            cols.truncate(m - 1);
        }
        // orthonormalise the columns (two modified Gram-Schmidt passes), dropping dependent ones
        let mut y: Vec<Vec<f64>> = Vec::new();
        for mut c in cols {
            for _ in 0..2 {
                for q in &y {
                    let t = dot(q, &c);
                    c.iter_mut().zip(q).for_each(|(a, b)| *a -= t * b);
                }
            }
            let nrm = dot(&c, &c).sqrt();
            if nrm > 1e-10 {
                c.iter_mut().for_each(|a| *a /= nrm);
                y.push(c);
            }
        }
        let keep = y.len();
        // S = Y^T H Y, b = beta * (last row of Y)
        let mut hy = vec![vec![0.0; m]; keep];
        for (c, yc) in y.iter().enumerate() {
            for r in 0..m {
                hy[c][r] = (0..m).map(|t| h[r][t] * yc[t]).sum();
            }
        }
        let mut new_h = vec![vec![0.0; ncv]; ncv + 1];
        for a in 0..keep {
            for c in 0..keep {
                new_h[a][c] = dot(&y[a], &hy[c]);
            }
            new_h[keep][a] = beta * y[a][m - 1];
        }
        let new_basis: Vec<Vec<f64>> = y.iter().map(|yc| combine(pool, &basis, yc, n)).collect();
        basis = new_basis;
        h = new_h;
        // v (the normalised residual f/||f||) continues the decomposition
        n_restarts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::threads::pool;

    /// Block upper-triangular real matrix with known eigenvalues: 2x2 rotation-scaling blocks
    /// `[[a, b], [-b, a]]` (eigenvalues a +- ib) and real diagonal entries.
    fn test_matrix(n: usize) -> (Mat<f64>, Vec<(f64, f64)>) {
        let mut d = Mat::<f64>::zeros(n, n);
        let mut eig = Vec::new();
        let mut i = 0;
        while i < n {
            let a = 1.0 - 2.0 * (i as f64) / n as f64;
            if i % 3 == 0 && i + 1 < n {
                let b = 0.3 + 0.1 * (i as f64).sin();
                d[(i, i)] = a;
                d[(i + 1, i + 1)] = a;
                d[(i, i + 1)] = b;
                d[(i + 1, i)] = -b;
                eig.push((a, b));
                eig.push((a, -b));
                i += 2;
            } else {
                d[(i, i)] = a;
                eig.push((a, 0.0));
                i += 1;
            }
        }
        // non-normal coupling strictly above the diagonal blocks keeps the eigenvalues
        let a = Mat::<f64>::from_fn(n, n, |r, c| d[(r, c)] + if c >= r + 2 { 0.5 * (((r * 31 + c * 17) % 23) as f64 / 23.0 - 0.5) / (n as f64).sqrt() } else { 0.0 });
        eig.sort_by(|x, y| y.0.total_cmp(&x.0).then(y.1.total_cmp(&x.1)));
        (a, eig)
    }

    #[test]
    fn finds_the_rightmost_eigenvalues_including_complex_pairs() {
        let n = 300;
        let (a, eig) = test_matrix(n);
        let p = pool(Some(2)).unwrap();
        let op = |x: &[f64], y: &mut [f64]| {
            for i in 0..n {
                y[i] = (0..n).map(|j| a[(i, j)] * x[j]).sum();
            }
            Ok(())
        };
        let v0: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.7).sin()).collect();
        let mut o = ArnoldiOptions::new(n, 4);
        o.ncv = 40;
        let res = top_eigenpairs_nonsymmetric(&p, n, op, &v0, o, &Never).unwrap();
        assert!(res.converged, "residuals {:?}", res.residuals);
        for (r, &(re, im)) in eig.iter().take(4).enumerate() {
            assert!((res.values_re[r] - re).abs() < 1e-8 && (res.values_im[r] - im).abs() < 1e-8, "{r}: {} {} vs {re} {im}", res.values_re[r], res.values_im[r]);
        }
        // eigenvector check: ||A x - lambda x|| small (complex arithmetic)
        for r in 0..4 {
            let (xr, xi) = (&res.vectors_re[r], &res.vectors_im[r]);
            let (lr, li) = (res.values_re[r], res.values_im[r]);
            let mut err = 0.0;
            for i in 0..n {
                let ar: f64 = (0..n).map(|j| a[(i, j)] * xr[j]).sum();
                let ai: f64 = (0..n).map(|j| a[(i, j)] * xi[j]).sum();
                err += (ar - (lr * xr[i] - li * xi[i])).powi(2) + (ai - (lr * xi[i] + li * xr[i])).powi(2);
            }
            assert!(err.sqrt() < 1e-7, "{r}: {}", err.sqrt());
        }
    }

    #[test]
    fn tiny_operators_and_bad_arguments() {
        let p = pool(Some(1)).unwrap();
        let op = |x: &[f64], y: &mut [f64]| {
            y[0] = 2.0 * x[0] + x[1];
            y[1] = -x[0] + 2.0 * x[1];
            Ok(())
        };
        let res = top_eigenpairs_nonsymmetric(&p, 2, op, &[1.0, 0.3], ArnoldiOptions::new(2, 2), &Never).unwrap();
        assert!((res.values_re[0] - 2.0).abs() < 1e-12 && (res.values_im[0] - 1.0).abs() < 1e-12);
        assert!((res.values_im[1] + 1.0).abs() < 1e-12);
        assert!(top_eigenpairs_nonsymmetric(&p, 2, op, &[0.0, 0.0], ArnoldiOptions::new(2, 1), &Never).is_err());
        assert!(top_eigenpairs_nonsymmetric(&p, 2, op, &[1.0, 0.0], ArnoldiOptions::new(2, 3), &Never).is_err());
    }
}
