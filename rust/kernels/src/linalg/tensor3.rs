//! Contractions of a dense 3-tensor `T` (`n1 x n3 x n4`, row-major: slice `T_i` is the
//! `n3 x n4` matrix at offset `i n3 n4`).
//!
//! [`contract_all`] computes the three vector contractions an AMP or gradient step on a rank-one
//! tensor model needs,
//!
//! ```text
//! a_i = x^T T_i y = T(., x, y),   b = sum_i u_i T_i y = T(u, ., y),   c = sum_i u_i T_i^T x = T(u, x, .)
//! ```
//!
//! in ONE pass over the tensor: each fibre `T[i, j, :]` is read once and gives its dot product
//! with `y` (feeding `a_i` and `b_j`) while it is added, times `u_i x_j`, into `c` (fused
//! dot + axpy). The slices are split into fixed blocks of [`BLOCK`] slices, independent of the
//! number of threads; each block keeps its own partial `b` and `c`, and the partials are added
//! in block order, so the result is bit-identical for any thread count.
//! [`mode_contract`] computes `M = sum_i e_i T_i` (the curriculum's contracted matrix).

use crate::error::{ensure, Result};
use crate::linalg::simd::{axpy, dot_axpy};
use crate::linalg::Scalar;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Slices per block of [`contract_all`] (fixed: the reduction order must not depend on threads).
pub const BLOCK: usize = 4;

/// `T(., x, y)`, `T(u, ., y)`, `T(u, x, .)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contractions {
    /// `T(., x, y)`, length `n1`.
    pub a: Vec<f64>,
    /// `T(u, ., y)`, length `n3`.
    pub b: Vec<f64>,
    /// `T(u, x, .)`, length `n4`.
    pub c: Vec<f64>,
}

fn check_dims<T>(t: &[T], dims: [usize; 3]) -> Result<()> {
    let [n1, n3, n4] = dims;
    let len = n1.checked_mul(n3).and_then(|v| v.checked_mul(n4));
    ensure(len == Some(t.len()), "t", || {
        format!("has {} entries, expected {n1} x {n3} x {n4}", t.len())
    })
}

/// The three contractions of `t` (dims `[n1, n3, n4]`) with `u` (n1), `x` (n3), `y` (n4).
pub fn contract_all<T: Scalar>(
    pool: &ThreadPool,
    t: &[T],
    dims: [usize; 3],
    u: &[f64],
    x: &[f64],
    y: &[f64],
) -> Result<Contractions> {
    check_dims(t, dims)?;
    let [n1, n3, n4] = dims;
    ensure(u.len() == n1, "u", || format!("has length {}, expected {n1}", u.len()))?;
    ensure(x.len() == n3, "x", || format!("has length {}, expected {n3}", x.len()))?;
    ensure(y.len() == n4, "y", || format!("has length {}, expected {n4}", y.len()))?;
    let mut a = crate::alloc::zeroed::<f64>("t", n1)?;
    if n1 == 0 || n3 == 0 || n4 == 0 {
        return Ok(Contractions { a, b: vec![0.0; n3], c: vec![0.0; n4] });
    }
    let slice = n3 * n4;
    let blocks = n1.div_ceil(BLOCK);
    // one partial (b, c) per block, laid out [b (n3) | c (n4)]
    let mut partial = crate::alloc::zeroed::<f64>("t", blocks * (n3 + n4))?;
    pool.install(|| {
        partial
            .par_chunks_mut(n3 + n4)
            .zip(a.par_chunks_mut(BLOCK))
            .zip(t.par_chunks(BLOCK * slice))
            .enumerate()
            .for_each(|(blk, ((part, a_blk), t_blk))| {
                let (pb, pc) = part.split_at_mut(n3);
                for (s, (ai, ti)) in a_blk.iter_mut().zip(t_blk.chunks_exact(slice)).enumerate() {
                    let ui = u[blk * BLOCK + s];
                    let mut acc = 0.0;
                    for (j, fibre) in ti.chunks_exact(n4).enumerate() {
                        let d = dot_axpy(fibre, y, ui * x[j], pc);
                        acc += x[j] * d;
                        pb[j] += ui * d;
                    }
                    *ai = acc;
                }
            })
    });
    let mut b = vec![0.0; n3];
    let mut c = vec![0.0; n4];
    for part in partial.chunks_exact(n3 + n4) {
        let (pb, pc) = part.split_at(n3);
        b.iter_mut().zip(pb).for_each(|(o, v)| *o += v);
        c.iter_mut().zip(pc).for_each(|(o, v)| *o += v);
    }
    Ok(Contractions { a, b, c })
}

/// `M = sum_i e_i T_i` (`n3 x n4`, row-major). Each row of `M` is summed by one task in the
/// order of `i`, so the result does not depend on the number of threads.
pub fn mode_contract<T: Scalar>(
    pool: &ThreadPool,
    t: &[T],
    dims: [usize; 3],
    e: &[f64],
) -> Result<Vec<f64>> {
    check_dims(t, dims)?;
    let [n1, n3, n4] = dims;
    ensure(e.len() == n1, "e", || format!("has length {}, expected {n1}", e.len()))?;
    let mut m = crate::alloc::zeroed::<f64>("t", n3 * n4)?;
    if n4 == 0 {
        return Ok(m);
    }
    let slice = n3 * n4;
    pool.install(|| {
        m.par_chunks_mut(n4).enumerate().for_each(|(j, row)| {
            for (i, &ei) in e.iter().enumerate() {
                let off = i * slice + j * n4;
                axpy(ei, &t[off..off + n4], row);
            }
        })
    });
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn data(dims: [usize; 3]) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let [n1, n3, n4] = dims;
        let t: Vec<f64> = (0..n1 * n3 * n4).map(|k| ((k * 7919) % 23) as f64 / 7.0 - 1.5).collect();
        let u: Vec<f64> = (0..n1).map(|i| (i as f64 * 0.37).sin()).collect();
        let x: Vec<f64> = (0..n3).map(|i| (i as f64 * 0.71).cos()).collect();
        let y: Vec<f64> = (0..n4).map(|i| 0.1 * i as f64 - 0.4).collect();
        (t, u, x, y)
    }

    #[test]
    fn contractions_match_naive_sums_and_any_thread_count() {
        for dims in [[1, 1, 1], [5, 3, 4], [17, 9, 21], [33, 40, 7]] {
            let [n1, n3, n4] = dims;
            let (t, u, x, y) = data(dims);
            let got = contract_all(&pool(Some(1)).unwrap(), &t, dims, &u, &x, &y).unwrap();
            let got2 = contract_all(&pool(Some(2)).unwrap(), &t, dims, &u, &x, &y).unwrap();
            assert_eq!(got, got2);
            let at = |i: usize, j: usize, k: usize| t[(i * n3 + j) * n4 + k];
            for i in 0..n1 {
                let mut s = 0.0;
                for j in 0..n3 {
                    for k in 0..n4 {
                        s += x[j] * at(i, j, k) * y[k];
                    }
                }
                assert!((got.a[i] - s).abs() < 1e-10);
            }
            for j in 0..n3 {
                let mut s = 0.0;
                for i in 0..n1 {
                    for k in 0..n4 {
                        s += u[i] * at(i, j, k) * y[k];
                    }
                }
                assert!((got.b[j] - s).abs() < 1e-10);
            }
            for k in 0..n4 {
                let mut s = 0.0;
                for i in 0..n1 {
                    for j in 0..n3 {
                        s += u[i] * at(i, j, k) * x[j];
                    }
                }
                assert!((got.c[k] - s).abs() < 1e-10);
            }
            let m = mode_contract(&pool(Some(2)).unwrap(), &t, dims, &u).unwrap();
            for j in 0..n3 {
                for k in 0..n4 {
                    let s: f64 = (0..n1).map(|i| u[i] * at(i, j, k)).sum();
                    assert!((m[j * n4 + k] - s).abs() < 1e-10);
                }
            }
            let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
            let g32 = contract_all(&pool(Some(2)).unwrap(), &t32, dims, &u, &x, &y).unwrap();
            assert!(g32.a.iter().zip(&got.a).all(|(p, q)| (p - q).abs() < 1e-4));
        }
    }

    #[test]
    fn bad_shapes_name_the_argument() {
        let p = pool(Some(1)).unwrap();
        let t = vec![0.0f64; 24];
        let e = contract_all(&p, &t, [2, 3, 5], &[0.0; 2], &[0.0; 3], &[0.0; 5]).unwrap_err();
        assert!(e.to_string().contains("`t`"));
        let e = contract_all(&p, &t, [2, 3, 4], &[0.0; 3], &[0.0; 3], &[0.0; 4]).unwrap_err();
        assert!(e.to_string().contains("`u`"));
        let e = mode_contract(&p, &t, [2, 3, 4], &[0.0; 1]).unwrap_err();
        assert!(e.to_string().contains("`e`"));
    }
}
