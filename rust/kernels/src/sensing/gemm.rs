//! Deterministic parallel matrix products on row-major slices (faer kernels, sequential per
//! task). The work is split by the shapes only -- row chunks of the left factor, or column
//! strips of the output -- so every output entry is computed by one task with a fixed order of
//! operations, whatever the number of threads.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Rows of `A` per task in [`a_b`].
const ROWS: usize = 256;
/// Output columns per task in [`at_b`] and [`at_diag_a`].
const STRIP: usize = 48;

fn copy_rows(dst: &mut [f64], src: &Mat<f64>, ncols: usize) {
    for (i, row) in dst.chunks_mut(ncols).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = src[(i, j)];
        }
    }
}

/// `A B` for `A`: `m x k`, `B`: `k x n`.
pub fn a_b(pool: &ThreadPool, a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    if m == 0 || n == 0 {
        return out;
    }
    let bm = MatRef::from_row_major_slice(b, k, n);
    pool.install(|| {
        out.par_chunks_mut(ROWS * n).enumerate().for_each(|(c, o)| {
            let rows = o.len() / n;
            let am = MatRef::from_row_major_slice(&a[c * ROWS * k..(c * ROWS + rows) * k], rows, k);
            let mut tmp = Mat::<f64>::zeros(rows, n);
            matmul(tmp.as_mut(), Accum::Replace, am, bm, 1.0, Par::Seq);
            copy_rows(o, &tmp, n);
        })
    });
    out
}

fn strips(n: usize) -> Vec<(usize, usize)> {
    (0..n.div_ceil(STRIP))
        .map(|s| (s * STRIP, ((s + 1) * STRIP).min(n)))
        .collect()
}

/// `A^T B` for `A`: `k x m`, `B`: `k x n` (the reduction over `k` stays inside one task).
pub fn at_b(pool: &ThreadPool, a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * n];
    if m == 0 || n == 0 {
        return out;
    }
    let am = MatRef::from_row_major_slice(a, k, m);
    let bm = MatRef::from_row_major_slice(b, k, n);
    let parts: Vec<Mat<f64>> = pool.install(|| {
        strips(n)
            .into_par_iter()
            .map(|(j0, j1)| {
                let mut tmp = Mat::<f64>::zeros(m, j1 - j0);
                matmul(
                    tmp.as_mut(),
                    Accum::Replace,
                    am.transpose(),
                    bm.subcols(j0, j1 - j0),
                    1.0,
                    Par::Seq,
                );
                tmp
            })
            .collect()
    });
    for ((j0, j1), p) in strips(n).into_iter().zip(parts) {
        for i in 0..m {
            for j in j0..j1 {
                out[i * n + j] = p[(i, j - j0)];
            }
        }
    }
    out
}

/// The symmetric `X^T diag(g) X` for `X`: `k x d` (only the lower triangle is computed, then
/// mirrored; the result is exactly symmetric).
pub fn at_diag_a(pool: &ThreadPool, x: &[f64], g: &[f64], k: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    if d == 0 {
        return out;
    }
    let xm = MatRef::from_row_major_slice(x, k, d);
    let parts: Vec<Mat<f64>> = pool.install(|| {
        strips(d)
            .into_par_iter()
            .map(|(j0, j1)| {
                let w = j1 - j0;
                let scaled = Mat::<f64>::from_fn(k, w, |mu, j| g[mu] * x[mu * d + j0 + j]);
                let mut tmp = Mat::<f64>::zeros(d - j0, w);
                matmul(
                    tmp.as_mut(),
                    Accum::Replace,
                    xm.subcols(j0, d - j0).transpose(),
                    scaled.as_ref(),
                    1.0,
                    Par::Seq,
                );
                tmp
            })
            .collect()
    });
    for ((j0, j1), p) in strips(d).into_iter().zip(parts) {
        for i in j0..d {
            for j in j0..j1.min(i + 1) {
                let v = p[(i - j0, j - j0)];
                out[i * d + j] = v;
                out[j * d + i] = v;
            }
        }
    }
    out
}

/// Rows of `X` per task in [`quadratic_forms`].
const QF_ROWS: usize = 256;
/// Rows of `X` per product in [`at_diag_a_blocked`], and blocks per accumulation group.
const SYRK_ROWS: usize = 256;
const SYRK_GROUP: usize = 8;

/// Width of the column blocks of the symmetric products: the `k (k + 1) / 2` block products of
/// a block triangle need `(k + 1) / (2k)` of the flops of the full product, at the efficiency
/// of plain (rectangular) GEMMs -- faer's triangular products reached only about half of it
/// (a triangular `X L` took as long as the full `X S` at d = 200).
const SYM_BLOCK: usize = 64;

/// Column blocks of the symmetric products: `k = ceil(d / SYM_BLOCK)` blocks of width
/// `ceil(d / k)` (the shape alone fixes them).
fn sym_blocks(d: usize) -> Vec<(usize, usize)> {
    let k = d.div_ceil(SYM_BLOCK).max(1);
    let w = d.div_ceil(k).max(1);
    (0..k)
        .map(|j| (j * w, ((j + 1) * w).min(d)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// `h_mu = x_mu^T S x_mu` for the rows `x_mu` of `X` (`n x d`) and a `d x d` `S`, fused
/// (the `n x d` product `X S` is never stored). Symmetry saves flops:
/// `x^T S x = 2 x^T B x` with `B` the block upper triangle of `(S + S^T)/2`, diagonal blocks
/// halved ([`sym_blocks`]), computed block column by block column as plain products. Each
/// fixed chunk of `QF_ROWS` rows is one sequential task.
pub fn quadratic_forms(
    pool: &ThreadPool,
    x: &[f64],
    s: &[f64],
    n: usize,
    d: usize,
    out: &mut [f64],
) {
    if n == 0 {
        return;
    }
    let blocks = sym_blocks(d);
    let mut block_of = vec![0; d];
    for (b, &(a0, a1)) in blocks.iter().enumerate() {
        block_of[a0..a1].iter_mut().for_each(|x| *x = b);
    }
    // B (column-major d x d): the symmetric part of S on the blocks above the block diagonal,
    // half of it on the diagonal blocks, zero below (any S, not only a symmetric one, gives
    // x^T S x)
    let l = Mat::<f64>::from_fn(d, d, |i, j| match block_of[i].cmp(&block_of[j]) {
        std::cmp::Ordering::Less => 0.5 * (s[i * d + j] + s[j * d + i]),
        std::cmp::Ordering::Equal => 0.25 * (s[i * d + j] + s[j * d + i]),
        std::cmp::Ordering::Greater => 0.0,
    });
    pool.install(|| {
        out.par_chunks_mut(QF_ROWS).enumerate().for_each(|(c, o)| {
            let rows = o.len();
            let xr = &x[c * QF_ROWS * d..(c * QF_ROWS + rows) * d];
            let xm = MatRef::from_row_major_slice(xr, rows, d);
            // tmp = X_c B, row-major; block column j sums X_c[:, I_i] B[I_i, I_j] over i <= j
            let mut tmp = vec![0.0; rows * d];
            {
                let mut dst = faer::MatMut::from_row_major_slice_mut(&mut tmp, rows, d);
                for &(j0, j1) in &blocks {
                    for &(i0, i1) in blocks.iter().filter(|(i0, _)| *i0 <= j0) {
                        matmul(
                            dst.as_mut().subcols_mut(j0, j1 - j0),
                            if i0 == 0 { Accum::Replace } else { Accum::Add },
                            xm.subcols(i0, i1 - i0),
                            l.as_ref().submatrix(i0, j0, i1 - i0, j1 - j0),
                            1.0,
                            Par::Seq,
                        );
                    }
                }
            }
            for (mu, h) in o.iter_mut().enumerate() {
                let (a, b) = (&xr[mu * d..(mu + 1) * d], &tmp[mu * d..(mu + 1) * d]);
                *h = 2.0 * crate::linalg::simd::dot(a, b);
            }
        })
    });
}

/// The symmetric `X^T diag(g) X` for `X`: `k x d`, by blocks of samples: blocks of
/// `SYRK_ROWS` rows are accumulated in order into one lower triangle per group of
/// `SYRK_GROUP` blocks (the column blocks on and below the block diagonal, [`sym_blocks`]:
/// `(k + 1)/(2k)` of the flops of the full product), the group sums are added in group order
/// and mirrored. The grouping depends on the shapes only.
pub fn at_diag_a_blocked(pool: &ThreadPool, x: &[f64], g: &[f64], k: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * d];
    if d == 0 || k == 0 {
        return out;
    }
    let n_blocks = k.div_ceil(SYRK_ROWS);
    let n_groups = n_blocks.div_ceil(SYRK_GROUP);
    let blocks = sym_blocks(d);
    let parts: Vec<Mat<f64>> = pool.install(|| {
        (0..n_groups)
            .into_par_iter()
            .map(|gi| {
                let mut acc = Mat::<f64>::zeros(d, d);
                let mut scaled = vec![0.0; SYRK_ROWS * d];
                let b1 = ((gi + 1) * SYRK_GROUP).min(n_blocks);
                for b in gi * SYRK_GROUP..b1 {
                    let r0 = b * SYRK_ROWS;
                    let r1 = (r0 + SYRK_ROWS).min(k);
                    let rows = r1 - r0;
                    let xr = &x[r0 * d..r1 * d];
                    for (mu, (sr, xrow)) in scaled.chunks_mut(d).zip(xr.chunks(d)).enumerate() {
                        let gm = g[r0 + mu];
                        for (a, v) in sr.iter_mut().zip(xrow) {
                            *a = gm * v;
                        }
                    }
                    let xm = MatRef::from_row_major_slice(xr, rows, d);
                    let sm = MatRef::from_row_major_slice(&scaled[..rows * d], rows, d);
                    // the blocks on and below the block diagonal ([`sym_blocks`])
                    let accum = if b == gi * SYRK_GROUP {
                        Accum::Replace
                    } else {
                        Accum::Add
                    };
                    for &(j0, j1) in &blocks {
                        for &(i0, i1) in blocks.iter().filter(|(i0, _)| *i0 >= j0) {
                            matmul(
                                acc.as_mut().submatrix_mut(i0, j0, i1 - i0, j1 - j0),
                                accum,
                                xm.subcols(i0, i1 - i0).transpose(),
                                sm.subcols(j0, j1 - j0),
                                1.0,
                                Par::Seq,
                            );
                        }
                    }
                }
                acc
            })
            .collect()
    });
    for p in &parts {
        for j in 0..d {
            for i in j..d {
                out[i * d + j] += p[(i, j)];
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            out[j * d + i] = out[i * d + j];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn naive_at_b(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[l * m + i] * b[l * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn products_match_naive_loops_for_any_thread_count() {
        let (k, m, n) = (131, 97, 53);
        let a: Vec<f64> = (0..k * m)
            .map(|i| ((i * 7919) % 23) as f64 - 11.0)
            .collect();
        let b: Vec<f64> = (0..k * n)
            .map(|i| ((i * 104729) % 19) as f64 - 9.0)
            .collect();
        let c1 = at_b(&pool(Some(1)).unwrap(), &a, &b, k, m, n);
        let c2 = at_b(&pool(Some(2)).unwrap(), &a, &b, k, m, n);
        assert_eq!(c1, c2);
        assert_eq!(c1, naive_at_b(&a, &b, k, m, n));
        // A B with A = a viewed as m x k (transposed data is irrelevant for the check)
        let ab = a_b(&pool(Some(2)).unwrap(), &a[..m * k], &b[..k * n], m, k, n);
        let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        assert_eq!(ab, naive_at_b(&at, &b, k, m, n));
        let g: Vec<f64> = (0..k).map(|i| (i % 5) as f64 - 2.0).collect();
        let s1 = at_diag_a(&pool(Some(1)).unwrap(), &a, &g, k, m);
        let s2 = at_diag_a(&pool(Some(2)).unwrap(), &a, &g, k, m);
        assert_eq!(s1, s2);
        let ga: Vec<f64> = (0..k * m).map(|i| a[i] * g[i / m]).collect();
        assert_eq!(s1, naive_at_b(&a, &ga, k, m, m));
    }

    #[test]
    fn symmetric_products_match_naive_loops_for_any_thread_count() {
        // integer data: every sum is exact, so the block-triangular kernels must agree with
        // the naive loops bit for bit; k spans several accumulation groups, d = 37 is one
        // column block, d = 150 three (sym_blocks) and d = 129 three of unequal width
        assert_eq!(sym_blocks(150), vec![(0, 50), (50, 100), (100, 150)]);
        assert_eq!(sym_blocks(129), vec![(0, 43), (43, 86), (86, 129)]);
        assert_eq!(sym_blocks(64), vec![(0, 64)]);
        for (k, d) in [(2 * SYRK_ROWS * SYRK_GROUP + 77, 37), (SYRK_ROWS * SYRK_GROUP + 5, 150),
                       (300, 129)] {
            let x: Vec<f64> = (0..k * d).map(|i| ((i * 7919) % 7) as f64 - 3.0).collect();
            let g: Vec<f64> = (0..k).map(|i| (i % 5) as f64 - 2.0).collect();
            // a non-symmetric S: the forms use its symmetric part
            let s: Vec<f64> = (0..d * d)
                .map(|i| ((i * 104729) % 9) as f64 - 4.0)
                .collect();
            let naive_h: Vec<f64> = (0..k)
                .map(|mu| {
                    let xr = &x[mu * d..(mu + 1) * d];
                    (0..d)
                        .map(|i| (0..d).map(|j| xr[i] * s[i * d + j] * xr[j]).sum::<f64>())
                        .sum()
                })
                .collect();
            let ga: Vec<f64> = (0..k * d).map(|i| x[i] * g[i / d]).collect();
            let naive_m = naive_at_b(&x, &ga, k, d, d);
            for t in [1, 2, 3] {
                let p = pool(Some(t)).unwrap();
                let mut h = vec![0.0; k];
                quadratic_forms(&p, &x, &s, k, d, &mut h);
                assert_eq!(h, naive_h, "d = {d}");
                assert_eq!(at_diag_a_blocked(&p, &x, &g, k, d), naive_m, "d = {d}");
            }
        }
    }
}
