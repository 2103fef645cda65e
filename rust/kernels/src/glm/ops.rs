//! Multi-column products with the design `X` (`n x d`, row-major, float64 or float32), the
//! only `O(n d p)` work of GAMP and of the spectral methods.
//!
//! Vectors in `R^{d x p}` are stored column-major (`p` contiguous columns of length `d`), vectors
//! in `R^{n x p}` row-major (sample `mu` holds `p` contiguous values).
//!
//! [`fused_pass`] streams `X` once: for each sample it computes `a_mu = W^T x_mu`, lets a
//! closure turn it into `b_mu` (a GAMP output function, a preprocessing matrix, ...) and
//! accumulates `sum_mu x_mu b_mu^T`. One GAMP iteration or one product with
//! `T = sum_mu x_mu x_mu^T (x) T(y_mu)` therefore costs a single pass over `X`.
//!
//! Determinism: samples are grouped in blocks whose size depends only on `n`; each block
//! accumulates its own partial sum, and partial sums are added in block order, so results are
//! bit-identical for any number of threads.

use crate::error::{ensure, KernelError, Result};
use crate::linalg::simd::{axpy, dot};
use crate::linalg::{Dense, LinearOperator, Scalar};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Smallest number of samples per block of [`fused_pass`].
const MIN_BLOCK: usize = 256;
/// Largest number of blocks (bounds the memory of the partial sums to `MAX_BLOCKS d p`).
const MAX_BLOCKS: usize = 64;
/// Rows per task of [`x_times`].
const ROW_BLOCK: usize = 16;
/// Column strip of the reduction of partial sums.
const STRIP: usize = 1024;

/// Samples per block for `n` samples (a function of `n` only).
pub fn block_rows(n: usize) -> usize {
    MIN_BLOCK.max(n.div_ceil(MAX_BLOCKS))
}

fn check_shapes<T: Scalar>(x: &Dense<'_, T>, w: &[f64], p: usize, what: &'static str) -> Result<()> {
    ensure(p >= 1, "p", || "must be at least 1".into())?;
    ensure(w.len() == x.ncols() * p, what, || format!("has length {}, expected d p = {}", w.len(), x.ncols() * p))
}

/// `out = X W` (`n x p` row-major) for `W` column-major `d x p`.
pub fn x_times<T: Scalar>(pool: &ThreadPool, x: &Dense<'_, T>, w: &[f64], p: usize, out: &mut [f64]) -> Result<()> {
    check_shapes(x, w, p, "w")?;
    let (n, d) = (x.nrows(), x.ncols());
    ensure(out.len() == n * p, "out", || format!("has length {}, expected n p = {}", out.len(), n * p))?;
    pool.install(|| {
        out.par_chunks_mut(ROW_BLOCK * p).enumerate().for_each(|(b, ob)| {
            for (r, orow) in ob.chunks_mut(p).enumerate() {
                let row = x.row(b * ROW_BLOCK + r);
                for (k, o) in orow.iter_mut().enumerate() {
                    *o = dot(row, &w[k * d..(k + 1) * d]);
                }
            }
        })
    });
    Ok(())
}

/// `out = X^T G` (`d x p` column-major) for `G` row-major `n x p` (same blocking and reduction
/// order as [`fused_pass`], so both give identical bits).
pub fn xt_times<T: Scalar>(pool: &ThreadPool, x: &Dense<'_, T>, g: &[f64], p: usize, out: &mut [f64]) -> Result<()> {
    let n = x.nrows();
    ensure(g.len() == n * p, "g", || format!("has length {}, expected n p = {}", g.len(), n * p))?;
    pass(pool, x, None, p, |mu, _a, b, _e, _r| {
        b.copy_from_slice(&g[mu * p..(mu + 1) * p]);
        Ok(())
    }, out, 0, &mut [], 0)
    .map(|_| ())
}

/// One pass over `X`: for every sample `mu`, `a = W^T x_mu`, then `f(mu, a, b, extra, row)`
/// writes `b` (length `p`), may add to `extra` (length `n_extra`, summed over samples) and may
/// write `row` (the `r` entries of sample `mu` in `rows`, length `n r`); finally
/// `out = sum_mu x_mu b_mu^T` (`d x p` column-major). Returns the sums of `extra`.
#[allow(clippy::too_many_arguments)]
pub fn fused_pass<T, F>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    w: &[f64],
    p: usize,
    f: F,
    out: &mut [f64],
    n_extra: usize,
    rows: &mut [f64],
    r: usize,
) -> Result<Vec<f64>>
where
    T: Scalar,
    F: Fn(usize, &[f64], &mut [f64], &mut [f64], &mut [f64]) -> Result<()> + Sync,
{
    check_shapes(x, w, p, "w")?;
    pass(pool, x, Some(w), p, f, out, n_extra, rows, r)
}

#[allow(clippy::too_many_arguments)]
fn pass<T, F>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    w: Option<&[f64]>,
    p: usize,
    f: F,
    out: &mut [f64],
    n_extra: usize,
    rows: &mut [f64],
    r: usize,
) -> Result<Vec<f64>>
where
    T: Scalar,
    F: Fn(usize, &[f64], &mut [f64], &mut [f64], &mut [f64]) -> Result<()> + Sync,
{
    let (n, d) = (x.nrows(), x.ncols());
    ensure(out.len() == d * p, "out", || format!("has length {}, expected d p = {}", out.len(), d * p))?;
    ensure(rows.len() == n * r, "rows", || format!("has length {}, expected n r = {}", rows.len(), n * r))?;
    let bs = block_rows(n);
    let nblocks = n.div_ceil(bs).max(1);
    // every block gets its slice of `rows` (none when r = 0)
    let mut row_chunks: Vec<Option<&mut [f64]>> =
        if r == 0 { (0..nblocks).map(|_| None).collect() } else { rows.chunks_mut(bs * r).map(Some).collect() };
    row_chunks.resize_with(nblocks, || None);
    let partials: Vec<Result<(Vec<f64>, Vec<f64>)>> = pool.install(|| {
        row_chunks
            .into_par_iter()
            .enumerate()
            .map(|(blk, mut rchunk)| {
                let mut acc = vec![0.0; d * p];
                let mut extra = vec![0.0; n_extra];
                let mut a = vec![0.0; p];
                let mut b = vec![0.0; p];
                let mut empty: [f64; 0] = [];
                for mu in blk * bs..((blk + 1) * bs).min(n) {
                    let row = x.row(mu);
                    if let Some(w) = w {
                        for (k, ak) in a.iter_mut().enumerate() {
                            *ak = dot(row, &w[k * d..(k + 1) * d]);
                        }
                    }
                    let local = mu - blk * bs;
                    let rs: &mut [f64] = match rchunk.as_deref_mut() {
                        Some(c) => &mut c[local * r..(local + 1) * r],
                        None => &mut empty,
                    };
                    f(mu, &a, &mut b, &mut extra, rs)?;
                    for (k, &bk) in b.iter().enumerate() {
                        if bk != 0.0 {
                            axpy(bk, row, &mut acc[k * d..(k + 1) * d]);
                        }
                    }
                }
                Ok((acc, extra))
            })
            .collect()
    });
    let mut accs = Vec::with_capacity(nblocks);
    let mut extra = vec![0.0; n_extra];
    for res in partials {
        let (acc, e) = res?;
        for (s, v) in extra.iter_mut().zip(&e) {
            *s += v;
        }
        accs.push(acc);
    }
    pool.install(|| {
        out.par_chunks_mut(STRIP).enumerate().for_each(|(s, os)| {
            let j0 = s * STRIP;
            os.fill(0.0);
            for acc in &accs {
                for (k, v) in os.iter_mut().enumerate() {
                    *v += acc[j0 + k];
                }
            }
        })
    });
    if out.iter().any(|v| !v.is_finite()) {
        return Err(KernelError::Numerical { what: "x^T g", reason: "non-finite result".into() });
    }
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn data(n: usize, d: usize) -> Vec<f64> {
        (0..n * d).map(|k| (((k * 2654435761) % 1000) as f64) / 500.0 - 1.0).collect()
    }

    #[test]
    fn products_match_naive_loops_and_threads_do_not_matter() {
        let (n, d, p) = (1500, 37, 3);
        let xs = data(n, d);
        let x = Dense::new(&xs, n, d).unwrap();
        let w: Vec<f64> = (0..d * p).map(|k| (k as f64 * 0.37).sin()).collect();
        let g: Vec<f64> = (0..n * p).map(|k| (k as f64 * 0.11).cos()).collect();
        let (mut xw, mut xtg) = (vec![0.0; n * p], vec![0.0; d * p]);
        let p1 = pool(Some(1)).unwrap();
        x_times(&p1, &x, &w, p, &mut xw).unwrap();
        xt_times(&p1, &x, &g, p, &mut xtg).unwrap();
        for mu in 0..n {
            for k in 0..p {
                let v: f64 = (0..d).map(|i| xs[mu * d + i] * w[k * d + i]).sum();
                assert!((xw[mu * p + k] - v).abs() < 1e-10);
            }
        }
        for i in 0..d {
            for k in 0..p {
                let v: f64 = (0..n).map(|mu| xs[mu * d + i] * g[mu * p + k]).sum();
                assert!((xtg[k * d + i] - v).abs() < 1e-9);
            }
        }
        // fused pass with b = g reproduces X^T g bit for bit, for 1 or 2 threads
        let p2 = pool(Some(2)).unwrap();
        let mut fused = vec![0.0; d * p];
        let mut rows = vec![0.0; n];
        let extra = fused_pass(&p2, &x, &w, p, |mu, a, b, e, r| {
            b.copy_from_slice(&g[mu * p..(mu + 1) * p]);
            e[0] += a[0];
            r[0] = a[1];
            Ok(())
        }, &mut fused, 1, &mut rows, 1)
        .unwrap();
        assert_eq!(fused, xtg);
        let s: f64 = (0..n).map(|mu| xw[mu * p]).sum();
        assert!((extra[0] - s).abs() < 1e-8);
        assert!((0..n).all(|mu| rows[mu] == xw[mu * p + 1]));
        let mut xtg2 = vec![0.0; d * p];
        xt_times(&p2, &x, &g, p, &mut xtg2).unwrap();
        assert_eq!(xtg, xtg2);
    }

    #[test]
    fn shape_errors_are_reported() {
        let xs = data(10, 4);
        let x = Dense::new(&xs, 10, 4).unwrap();
        let p1 = pool(Some(1)).unwrap();
        assert!(x_times(&p1, &x, &[0.0; 7], 2, &mut [0.0; 20]).is_err());
        assert!(xt_times(&p1, &x, &[0.0; 20], 2, &mut [0.0; 7]).is_err());
    }
}
