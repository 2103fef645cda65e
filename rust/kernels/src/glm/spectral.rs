//! Matrix-free spectral operators of multi-index models (Defilippis et al. 2025,
//! arXiv:2502.02545, Sec. 2), from the linearisation of Bayes GAMP at its uninformative fixed
//! point, with per-sample `p x p` blocks (`G(y_mu)` or a preprocessing `T(y_mu)`):
//!
//! * asymmetric `L = ((X X^T - I_n) (x) I_p) diag(G_mu)` on `R^{n p}` (row-major `n x p`):
//!   `L omega = X (X^T u) - u` with `u_mu = G_mu omega_mu` (two passes over `X`);
//! * symmetric `T = sum_mu (x_mu x_mu^T) (x) T_mu` on `R^{d p}` (column-major `d x p`):
//!   `T w = X^T (T_mu (W^T x_mu))_mu` (one fused pass).
//!
//! Neither operator is formed: a product costs `O(n d p)`.

use super::ops::{fused_pass, x_times, xt_times};
use crate::control::Interrupt;
use crate::error::{ensure, Result};
use crate::linalg::arnoldi::{top_eigenpairs_nonsymmetric, ArnoldiOptions, ComplexEigenpairs};
use crate::linalg::{top_eigenpairs, Dense, Eigenpairs, LanczosOptions, LinearOperator, Scalar};
use rayon::ThreadPool;

fn check_blocks<T: Scalar>(x: &Dense<'_, T>, blocks: &[f64], p: usize) -> Result<()> {
    let n = x.nrows();
    ensure(p >= 1, "p", || "must be at least 1".into())?;
    ensure(blocks.len() == n * p * p, "blocks", || format!("has length {}, expected n p^2 = {}", blocks.len(), n * p * p))?;
    ensure(blocks.iter().all(|v| v.is_finite()), "blocks", || "contain NaN or infinity".into())
}

/// `out = L omega` (see the module docs); `u` (`n p`) and `v` (`d p`) are scratch space.
#[allow(clippy::too_many_arguments)]
pub fn l_matvec<T: Scalar>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    g: &[f64],
    p: usize,
    omega: &[f64],
    out: &mut [f64],
    u: &mut [f64],
    v: &mut [f64],
) -> Result<()> {
    let n = x.nrows();
    ensure(omega.len() == n * p && out.len() == n * p, "omega", || format!("expected length n p = {}", n * p))?;
    for mu in 0..n {
        let gb = &g[mu * p * p..(mu + 1) * p * p];
        for k in 0..p {
            u[mu * p + k] = (0..p).map(|l| gb[k * p + l] * omega[mu * p + l]).sum();
        }
    }
    xt_times(pool, x, u, p, v)?;
    x_times(pool, x, v, p, out)?;
    for (o, ui) in out.iter_mut().zip(u.iter()) {
        *o -= ui;
    }
    Ok(())
}

/// `out = T w` (see the module docs).
pub fn t_matvec<T: Scalar>(pool: &ThreadPool, x: &Dense<'_, T>, t: &[f64], p: usize, w: &[f64], out: &mut [f64]) -> Result<()> {
    fused_pass(
        pool,
        x,
        w,
        p,
        |mu, a, b, _, _| {
            let tb = &t[mu * p * p..(mu + 1) * p * p];
            for k in 0..p {
                b[k] = (0..p).map(|l| tb[k * p + l] * a[l]).sum();
            }
            Ok(())
        },
        out,
        0,
        &mut [],
        0,
    )
    .map(|_| ())
}

/// Eigenpairs of `L` with the largest real parts (Arnoldi); vectors are row-major `n x p`.
#[allow(clippy::too_many_arguments)]
pub fn asymmetric_top<T: Scalar, I: Interrupt + ?Sized>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    g: &[f64],
    p: usize,
    v0: &[f64],
    opts: ArnoldiOptions,
    ctl: &I,
) -> Result<ComplexEigenpairs> {
    check_blocks(x, g, p)?;
    let (n, d) = (x.nrows(), x.ncols());
    let mut u = vec![0.0; n * p];
    let mut v = vec![0.0; d * p];
    let op = |om: &[f64], out: &mut [f64]| l_matvec(pool, x, g, p, om, out, &mut u, &mut v);
    top_eigenpairs_nonsymmetric(pool, n * p, op, v0, opts, ctl)
}

/// Top eigenpairs of `T` (Lanczos); vectors are column-major `d x p`.
#[allow(clippy::too_many_arguments)]
pub fn symmetric_top<T: Scalar, I: Interrupt + ?Sized>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    t: &[f64],
    p: usize,
    v0: &[f64],
    opts: LanczosOptions,
    ctl: &I,
) -> Result<Eigenpairs> {
    check_blocks(x, t, p)?;
    for mu in 0..x.nrows() {
        let b = &t[mu * p * p..(mu + 1) * p * p];
        let sym = (0..p).all(|i| (0..i).all(|j| (b[i * p + j] - b[j * p + i]).abs() <= 1e-12 * (1.0 + b[i * p + j].abs())));
        ensure(sym, "blocks", || format!("the preprocessing block of sample {mu} is not symmetric"))?;
    }
    let d = x.ncols();
    let op = |w: &[f64], out: &mut [f64]| t_matvec(pool, x, t, p, w, out);
    top_eigenpairs(pool, d * p, op, v0, opts, ctl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::threads::pool;

    fn setup(n: usize, d: usize, p: usize) -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..n * d).map(|k| ((((k * 2654435761) % 1000) as f64) / 500.0 - 1.0) / (d as f64).sqrt()).collect();
        let mut g = vec![0.0; n * p * p];
        for mu in 0..n {
            for i in 0..p {
                for j in 0..=i {
                    let v = ((mu * 7 + i * 3 + j) as f64).sin();
                    g[mu * p * p + i * p + j] = v;
                    g[mu * p * p + j * p + i] = v;
                }
            }
        }
        (x, g)
    }

    #[test]
    fn operators_match_dense_definitions() {
        let (n, d, p) = (50, 20, 2);
        let (xs, g) = setup(n, d, p);
        let x = Dense::new(&xs, n, d).unwrap();
        let pl = pool(Some(2)).unwrap();
        let omega: Vec<f64> = (0..n * p).map(|k| (k as f64 * 0.3).cos()).collect();
        let (mut out, mut u, mut v) = (vec![0.0; n * p], vec![0.0; n * p], vec![0.0; d * p]);
        l_matvec(&pl, &x, &g, p, &omega, &mut out, &mut u, &mut v).unwrap();
        for mu in 0..n {
            for k in 0..p {
                let mut s = 0.0;
                for nu in 0..n {
                    let kmn: f64 = (0..d).map(|i| xs[mu * d + i] * xs[nu * d + i]).sum::<f64>() - if mu == nu { 1.0 } else { 0.0 };
                    let gw: f64 = (0..p).map(|l| g[nu * p * p + k * p + l] * omega[nu * p + l]).sum();
                    s += kmn * gw;
                }
                assert!((out[mu * p + k] - s).abs() < 1e-10);
            }
        }
        let w: Vec<f64> = (0..d * p).map(|k| (k as f64 * 0.7).sin()).collect();
        let mut tw = vec![0.0; d * p];
        t_matvec(&pl, &x, &g, p, &w, &mut tw).unwrap();
        for i in 0..d {
            for k in 0..p {
                let mut s = 0.0;
                for mu in 0..n {
                    let a: Vec<f64> = (0..p).map(|l| (0..d).map(|j| xs[mu * d + j] * w[l * d + j]).sum()).collect();
                    s += xs[mu * d + i] * (0..p).map(|l| g[mu * p * p + k * p + l] * a[l]).sum::<f64>();
                }
                assert!((tw[k * d + i] - s).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn eigen_drivers_run_and_agree_with_direct_products() {
        let (n, d, p) = (120, 40, 2);
        let (xs, g) = setup(n, d, p);
        let x = Dense::new(&xs, n, d).unwrap();
        let pl = pool(Some(2)).unwrap();
        let v0: Vec<f64> = (0..n * p).map(|k| 1.0 + (k as f64).sin()).collect();
        let res = asymmetric_top(&pl, &x, &g, p, &v0, ArnoldiOptions::new(n * p, 2), &Never).unwrap();
        assert!(res.converged);
        let w0: Vec<f64> = (0..d * p).map(|k| 1.0 + (k as f64).cos()).collect();
        let sym = symmetric_top(&pl, &x, &g, p, &w0, LanczosOptions::new(d * p, 2), &Never).unwrap();
        assert!(sym.converged && sym.values[0] >= sym.values[1]);
        let mut bad = g.clone();
        bad[1] += 1.0;
        assert!(symmetric_top(&pl, &x, &bad, p, &w0, LanczosOptions::new(d * p, 2), &Never).is_err());
    }
}
