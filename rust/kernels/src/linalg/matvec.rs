//! Parallel dense mat-vecs: rectangular row-major storage and packed symmetric (upper-triangle)
//! storage, with float64 or float32 elements. All kernels are bandwidth-bound: they stream the
//! matrix once and keep vectors in cache.
//!
//! Determinism: the work split is fixed by the shape (row blocks, column strips, triangle
//! blocks), never by the number of threads, and every partial sum is reduced in a fixed order,
//! so results are bit-identical for any thread count.

use super::simd::{axpy, dot, dot_axpy, dot_axpy4, Scalar};
use crate::error::{ensure, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Rows handled by one task of [`gemv`].
const ROW_BLOCK: usize = 8;
/// Width of the strips in which partial vectors are reduced.
const STRIP: usize = 512;
/// At most this many partial vectors in a transposed product...
const MAX_PARTIALS: usize = 64;
/// ...holding together at most this many float64 (256 MiB).
const PARTIAL_BUDGET: usize = 1 << 25;

/// Number of row blocks of a transposed product: a function of the shape only (never of the
/// thread count), enough to keep many threads busy, bounded in memory.
fn partial_blocks(m: usize, n: usize) -> usize {
    let by_rows = m.div_ceil(64);
    let by_memory = (PARTIAL_BUDGET / n.max(1)).max(1);
    MAX_PARTIALS.min(by_rows).min(by_memory).max(1)
}
/// Number of element-balanced blocks of the packed symmetric mat-vec.
const SYM_BLOCKS: usize = 32;

/// A linear operator that can be applied (and transposed) on float64 vectors.
pub trait LinearOperator: Sync {
    /// Output dimension of [`LinearOperator::apply`].
    fn nrows(&self) -> usize;
    /// Input dimension of [`LinearOperator::apply`].
    fn ncols(&self) -> usize;
    /// `y = A x`.
    fn apply(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()>;
    /// `y = A^T x`.
    fn apply_t(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()>;
}

fn check_dims(x: &[f64], y: &[f64], nx: usize, ny: usize) -> Result<()> {
    ensure(x.len() == nx, "x", || {
        format!("has length {}, expected {nx}", x.len())
    })?;
    ensure(y.len() == ny, "y", || {
        format!("has length {}, expected {ny}", y.len())
    })
}

/// A borrowed row-major `nrows x ncols` matrix.
#[derive(Debug, Clone, Copy)]
pub struct Dense<'a, T> {
    data: &'a [T],
    nrows: usize,
    ncols: usize,
}

impl<'a, T: Scalar> Dense<'a, T> {
    /// View `data` (row-major, length `nrows * ncols`) as a matrix.
    pub fn new(data: &'a [T], nrows: usize, ncols: usize) -> Result<Self> {
        ensure(nrows.checked_mul(ncols) == Some(data.len()), "a", || {
            format!("has {} elements, expected {nrows} x {ncols}", data.len())
        })?;
        Ok(Self { data, nrows, ncols })
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.ncols..(i + 1) * self.ncols]
    }

    /// The underlying row-major slice.
    pub fn data(&self) -> &'a [T] {
        self.data
    }
}

impl<T: Scalar> LinearOperator for Dense<'_, T> {
    fn nrows(&self) -> usize {
        self.nrows
    }
    fn ncols(&self) -> usize {
        self.ncols
    }
    fn apply(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        check_dims(x, y, self.ncols, self.nrows)?;
        if self.ncols == 0 {
            y.fill(0.0);
            return Ok(());
        }
        let x32: Vec<f32> = if T::WANTS_F32_X {
            x.iter().map(|&v| v as f32).collect()
        } else {
            Vec::new()
        };
        let x32 = &x32[..];
        pool.install(|| {
            y.par_chunks_mut(ROW_BLOCK).enumerate().for_each(|(b, yb)| {
                let r0 = b * ROW_BLOCK;
                // groups of four rows share each load of x; the rest one by one
                let full = yb.len() - yb.len() % 4;
                for g in (0..full).step_by(4) {
                    let rows = [
                        self.row(r0 + g),
                        self.row(r0 + g + 1),
                        self.row(r0 + g + 2),
                        self.row(r0 + g + 3),
                    ];
                    yb[g..g + 4].copy_from_slice(&T::dot4_rows(rows, x, x32));
                }
                for (k, yi) in yb.iter_mut().enumerate().skip(full) {
                    *yi = dot(self.row(r0 + k), x);
                }
            })
        });
        Ok(())
    }

    fn apply_t(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        check_dims(x, y, self.nrows, self.ncols)?;
        let (m, n) = (self.nrows, self.ncols);
        // Fixed row blocks (chosen from the shape only) each accumulate a partial vector
        // while streaming their rows contiguously; the partials are summed in block order.
        let nblocks = partial_blocks(m, n);
        let rows_per = m.div_ceil(nblocks).max(1);
        let partials: Vec<Vec<f64>> = pool.install(|| {
            (0..nblocks)
                .into_par_iter()
                .map(|b| {
                    let mut p = vec![0.0; n];
                    let rows = (b * rows_per).min(m)..((b + 1) * rows_per).min(m);
                    for (i, &xi) in rows.clone().zip(&x[rows]) {
                        axpy(xi, self.row(i), &mut p);
                    }
                    p
                })
                .collect()
        });
        sum_partials(pool, &partials, y);
        Ok(())
    }
}

fn sum_partials(pool: &ThreadPool, partials: &[Vec<f64>], y: &mut [f64]) {
    pool.install(|| {
        y.par_chunks_mut(STRIP).enumerate().for_each(|(s, ys)| {
            let j0 = s * STRIP;
            ys.fill(0.0);
            for p in partials {
                for (k, v) in ys.iter_mut().enumerate() {
                    *v += p[j0 + k];
                }
            }
        })
    });
}

/// Offset of row `i` in packed upper-triangle storage of an `n x n` symmetric matrix
/// (row `i` holds columns `i..n`): `sum_{k<i} (n - k) = i n - i(i-1)/2`.
#[inline]
pub fn packed_offset(n: usize, i: usize) -> usize {
    i * n - i * i.saturating_sub(1) / 2
}

/// Length of the packed storage of an `n x n` symmetric matrix.
#[inline]
pub fn packed_len(n: usize) -> usize {
    n * (n + 1) / 2
}

/// A borrowed symmetric matrix stored as its packed upper triangle, row by row.
#[derive(Debug, Clone)]
pub struct SymPacked<'a, T> {
    data: &'a [T],
    n: usize,
    /// Row ranges of the element-balanced blocks.
    blocks: Vec<(usize, usize)>,
}

impl<'a, T: Scalar> SymPacked<'a, T> {
    /// View `data` (length n(n+1)/2) as a packed symmetric matrix.
    pub fn new(data: &'a [T], n: usize) -> Result<Self> {
        ensure(data.len() == packed_len(n), "a", || {
            format!(
                "packed storage of a {n} x {n} matrix has {} elements, got {}",
                packed_len(n),
                data.len()
            )
        })?;
        // Split the rows so that every block holds about the same number of elements.
        let total = packed_len(n).max(1);
        let nb = SYM_BLOCKS.min(n.max(1));
        let mut blocks = Vec::with_capacity(nb);
        let (mut start, mut acc, mut b) = (0usize, 0usize, 1usize);
        for i in 0..n {
            acc += n - i;
            if acc * nb >= b * total && i + 1 < n && blocks.len() + 1 < nb {
                blocks.push((start, i + 1));
                start = i + 1;
                b += 1;
            }
        }
        blocks.push((start, n));
        Ok(Self { data, n, blocks })
    }

    /// Dimension.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Row `i` of the upper triangle (columns `i..n`).
    #[inline]
    pub fn upper_row(&self, i: usize) -> &'a [T] {
        let off = packed_offset(self.n, i);
        &self.data[off..off + (self.n - i)]
    }
}

impl<T: Scalar> LinearOperator for SymPacked<'_, T> {
    fn nrows(&self) -> usize {
        self.n
    }
    fn ncols(&self) -> usize {
        self.n
    }
    fn apply(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        let n = self.n;
        check_dims(x, y, n, n)?;
        // Block b: for its rows i, y_i gets row_i . x[i..] and y[i+1..] gets x_i row_i[1..].
        let partials: Vec<Vec<f64>> = pool.install(|| {
            self.blocks
                .par_iter()
                .map(|&(r0, r1)| {
                    let mut p = vec![0.0; n];
                    let mut i = r0;
                    // Four rows at a time: their common columns j >= i + 4 are read with one
                    // load of x_j and one update of p_j; the 4 x 4 corner is done entry-wise.
                    while i + 4 <= r1 {
                        let rows = [
                            &self.upper_row(i)[4..],
                            &self.upper_row(i + 1)[3..],
                            &self.upper_row(i + 2)[2..],
                            &self.upper_row(i + 3)[1..],
                        ];
                        let xs = [x[i], x[i + 1], x[i + 2], x[i + 3]];
                        let d = dot_axpy4(rows, &x[i + 4..], xs, &mut p[i + 4..]);
                        for r in 0..4 {
                            let row = self.upper_row(i + r);
                            let mut acc = d[r] + row[0].to_f64() * xs[r];
                            for (k, a) in row[1..4 - r].iter().enumerate() {
                                let j = i + r + 1 + k;
                                let a = a.to_f64();
                                acc += a * x[j];
                                p[j] += a * xs[r];
                            }
                            p[i + r] += acc;
                        }
                        i += 4;
                    }
                    for i in i..r1 {
                        let row = self.upper_row(i);
                        let (head, tail) = p[i..].split_at_mut(1);
                        let d = dot_axpy(&row[1..], &x[i + 1..], x[i], tail);
                        head[0] += d + row[0].to_f64() * x[i];
                    }
                    p
                })
                .collect()
        });
        sum_partials(pool, &partials, y);
        Ok(())
    }
    fn apply_t(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.apply(pool, x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn matrix(m: usize, n: usize) -> Vec<f64> {
        (0..m * n)
            .map(|k| (((k * 2654435761) % 1000) as f64) / 500.0 - 1.0)
            .collect()
    }

    fn naive(a: &[f64], m: usize, n: usize, x: &[f64], t: bool) -> Vec<f64> {
        if t {
            (0..n)
                .map(|j| (0..m).map(|i| a[i * n + j] * x[i]).sum())
                .collect()
        } else {
            (0..m)
                .map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum())
                .collect()
        }
    }

    #[test]
    fn dense_matches_naive_for_many_shapes() {
        let p = pool(Some(2)).unwrap();
        for &(m, n) in &[(1, 1), (3, 5), (17, 9), (5000, 3), (40, 2100), (9, 2049)] {
            let a = matrix(m, n);
            let op = Dense::new(&a, m, n).unwrap();
            let x: Vec<f64> = (0..n).map(|j| (j as f64).sin()).collect();
            let mut y = vec![0.0; m];
            op.apply(&p, &x, &mut y).unwrap();
            for (u, v) in y.iter().zip(naive(&a, m, n, &x, false)) {
                assert!((u - v).abs() < 1e-9);
            }
            let xt: Vec<f64> = (0..m).map(|j| (j as f64).cos()).collect();
            let mut yt = vec![0.0; n];
            op.apply_t(&p, &xt, &mut yt).unwrap();
            for (u, v) in yt.iter().zip(naive(&a, m, n, &xt, true)) {
                assert!((u - v).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn packed_symmetric_matches_dense() {
        let p = pool(Some(2)).unwrap();
        for n in [1usize, 2, 3, 10, 33, 257] {
            let mut full = matrix(n, n);
            for i in 0..n {
                for j in 0..i {
                    full[i * n + j] = full[j * n + i];
                }
            }
            let mut packed = Vec::new();
            for i in 0..n {
                packed.extend_from_slice(&full[i * n + i..(i + 1) * n]);
            }
            let x: Vec<f64> = (0..n).map(|j| (j as f64 * 0.3).sin()).collect();
            let mut y1 = vec![0.0; n];
            let mut y2 = vec![0.0; n];
            Dense::new(&full, n, n)
                .unwrap()
                .apply(&p, &x, &mut y1)
                .unwrap();
            SymPacked::new(&packed, n)
                .unwrap()
                .apply(&p, &x, &mut y2)
                .unwrap();
            for (u, v) in y1.iter().zip(&y2) {
                assert!((u - v).abs() < 1e-9, "n = {n}");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let (m, n) = (300, 2500);
        let a = matrix(m, n);
        let op = Dense::new(&a, m, n).unwrap();
        let x: Vec<f64> = (0..m).map(|j| (j as f64).sin()).collect();
        let mut y1 = vec![0.0; n];
        let mut y2 = vec![0.0; n];
        op.apply_t(&pool(Some(1)).unwrap(), &x, &mut y1).unwrap();
        op.apply_t(&pool(Some(2)).unwrap(), &x, &mut y2).unwrap();
        assert_eq!(y1, y2);
    }

    #[test]
    fn wrong_lengths_are_errors_not_panics() {
        let p = pool(Some(1)).unwrap();
        let a = matrix(3, 4);
        assert!(Dense::new(&a, 4, 4).is_err());
        let op = Dense::new(&a, 3, 4).unwrap();
        let mut y = vec![0.0; 3];
        assert!(op.apply(&p, &[1.0; 3], &mut y).is_err());
        assert!(SymPacked::new(&a, 4).is_err());
    }
}
