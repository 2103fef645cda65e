//! Dense symmetric eigendecomposition and SVD (faer), and reconstruction from a modified
//! spectrum. Matrices are row-major slices.
//!
//! Parallelism: faer splits its blocked algorithms by the requested degree of parallelism. The
//! degree is fixed here ([`PAR_DEGREE`]) and the work runs inside the caller's pool, so the
//! arithmetic (hence the result) does not depend on how many threads the pool has.

use crate::error::{ensure, KernelError, Result};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{svd as faer_svd, svd_scratch, ComputeSvdVectors};
use faer::{Accum, Mat, MatRef, Par};
use rayon::ThreadPool;
use std::num::NonZeroUsize;

/// Degree of parallelism handed to faer (independent of the pool size, see the module docs).
pub const PAR_DEGREE: usize = 4;

/// Below this dimension the sequential algorithms are used.
const PAR_MIN_DIM: usize = 192;

fn par(n: usize) -> Par {
    if n < PAR_MIN_DIM {
        Par::Seq
    } else {
        Par::Rayon(NonZeroUsize::new(PAR_DEGREE).unwrap_or(NonZeroUsize::MIN))
    }
}

fn numerical(what: &'static str, e: impl std::fmt::Debug) -> KernelError {
    KernelError::Numerical {
        what,
        reason: format!("{e:?}"),
    }
}

/// Eigenvalues (ascending) and eigenvectors of a symmetric matrix.
#[derive(Debug, Clone)]
pub struct Eigh {
    /// Dimension.
    pub n: usize,
    /// Eigenvalues, ascending.
    pub values: Vec<f64>,
    /// Row-major `n x n`; column `k` is the unit eigenvector of `values[k]` (empty if not
    /// requested).
    pub vectors: Vec<f64>,
}

/// Row-major copy of a (column-major) faer matrix; empty for `None` (vectors not requested).
fn to_row_major(x: Option<Mat<f64>>) -> Vec<f64> {
    let Some(x) = x else { return Vec::new() };
    let (r, c) = (x.nrows(), x.ncols());
    let mut out = vec![0.0; r * c];
    for j in 0..c {
        let col = x.col(j);
        for i in 0..r {
            out[i * c + j] = col[i];
        }
    }
    out
}

/// Eigendecomposition of the symmetric `n x n` row-major matrix `a` (its upper triangle,
/// `a[i * n + j]` for `j >= i`, is read: faer reads the lower triangle of the column-major view).
/// `vectors = false` computes the eigenvalues only.
pub fn eigh(pool: &ThreadPool, a: &[f64], n: usize, vectors: bool) -> Result<Eigh> {
    ensure(Some(a.len()) == n.checked_mul(n), "a", || {
        format!("has {} elements, expected {n} x {n}", a.len())
    })?;
    // faer's scratch (about one n x n), the eigenvectors and their row-major copy.
    let copies = if vectors { 3 } else { 1 };
    crate::alloc::reserve::<f64>("a", &[copies + 1, n, n])?;
    if n == 0 {
        return Ok(Eigh {
            n,
            values: Vec::new(),
            vectors: Vec::new(),
        });
    }
    // Row-major storage of a symmetric matrix is also its column-major storage.
    let am = MatRef::from_column_major_slice(a, n, n);
    let p = par(n);
    let compute = if vectors {
        ComputeEigenvectors::Yes
    } else {
        ComputeEigenvectors::No
    };
    pool.install(|| {
        let mut s = Diag::<f64>::zeros(n);
        let mut u = if vectors {
            Some(Mat::<f64>::zeros(n, n))
        } else {
            None
        };
        let mut buf = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
            n,
            compute,
            p,
            Default::default(),
        ));
        self_adjoint_evd(
            am,
            s.as_mut(),
            u.as_mut().map(|m| m.as_mut()),
            p,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .map_err(|e| numerical("eigh", e))?;
        let values: Vec<f64> = (0..n).map(|i| s[i]).collect();
        let vecs = to_row_major(u);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(numerical("eigh", "non-finite eigenvalue"));
        }
        Ok(Eigh {
            n,
            values,
            vectors: vecs,
        })
    })
}

/// Relative tolerance of [`check_symmetric`]: `max |a_ij - a_ji| <= SYMMETRY_RTOL max |a_ij|`.
/// Rounding in products such as `Q D Q^T` leaves about `n eps max|a|`, far below it; a matrix
/// that is not symmetric by construction is far above it.
pub const SYMMETRY_RTOL: f64 = 1e-8;

/// `(max_ij |a_ij - a_ji|, max_ij |a_ij|)` of the row-major `n x n` matrix `a` (rows in
/// parallel, reduced in row order).
pub fn asymmetry(pool: &ThreadPool, a: &[f64], n: usize) -> (f64, f64) {
    use rayon::prelude::*;
    if a.len() != n.saturating_mul(n) || n == 0 {
        return (0.0, 0.0);
    }
    pool.install(|| {
        (0..n)
            .into_par_iter()
            .map(|i| {
                let (mut d, mut m) = (0.0f64, 0.0f64);
                for j in 0..n {
                    let x = a[i * n + j];
                    m = m.max(x.abs());
                    if j > i {
                        d = d.max((x - a[j * n + i]).abs());
                    }
                }
                (d, m)
            })
            .reduce(|| (0.0, 0.0), |x, y| (x.0.max(y.0), x.1.max(y.1)))
    })
}

/// Fail with an invalid argument `name` unless `a` is symmetric to [`SYMMETRY_RTOL`].
pub fn check_symmetric(pool: &ThreadPool, a: &[f64], n: usize, name: &'static str) -> Result<()> {
    let (d, m) = asymmetry(pool, a, n);
    ensure(d <= SYMMETRY_RTOL * m, name, || {
        format!(
            "must be symmetric: max |a_ij - a_ji| = {d:.3e} exceeds {SYMMETRY_RTOL:e} x max |a_ij| = {:.3e} (symmetrise with (a + a.T) / 2)",
            SYMMETRY_RTOL * m
        )
    })
}

/// Thin SVD `A = U diag(s) V^T` of a row-major `m x n` matrix.
#[derive(Debug, Clone)]
pub struct Svd {
    /// Rows of `A`.
    pub m: usize,
    /// Columns of `A`.
    pub n: usize,
    /// Singular values, descending (`k = min(m, n)` of them).
    pub values: Vec<f64>,
    /// Row-major `m x k` (empty if not requested).
    pub u: Vec<f64>,
    /// Row-major `n x k` (empty if not requested).
    pub v: Vec<f64>,
}

/// Thin SVD of the row-major `m x n` matrix `a`; `vectors = false` computes the singular values
/// only.
pub fn svd(pool: &ThreadPool, a: &[f64], m: usize, n: usize, vectors: bool) -> Result<Svd> {
    ensure(Some(a.len()) == m.checked_mul(n), "a", || {
        format!("has {} elements, expected {m} x {n}", a.len())
    })?;
    {
        // faer's copy and scratch (about two m x n), U, V (and their row-major copies).
        let k = m.min(n);
        use crate::alloc::bytes;
        let need = crate::alloc::total(
            "a",
            &[bytes::<f64>("a", &[3, m, n])?, bytes::<f64>("a", &[4, m + n, k])?],
        )?;
        crate::alloc::ensure_fits("a", need)?;
    }
    let k = m.min(n);
    if k == 0 {
        return Ok(Svd {
            m,
            n,
            values: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
        });
    }
    let am = MatRef::from_row_major_slice(a, m, n);
    let p = par(k);
    let cv = if vectors {
        ComputeSvdVectors::Thin
    } else {
        ComputeSvdVectors::No
    };
    pool.install(|| {
        let mut s = Diag::<f64>::zeros(k);
        let mut u = if vectors {
            Some(Mat::<f64>::zeros(m, k))
        } else {
            None
        };
        let mut v = if vectors {
            Some(Mat::<f64>::zeros(n, k))
        } else {
            None
        };
        let mut buf = MemBuffer::new(svd_scratch::<f64>(m, n, cv, cv, p, Default::default()));
        faer_svd(
            am,
            s.as_mut(),
            u.as_mut().map(|x| x.as_mut()),
            v.as_mut().map(|x| x.as_mut()),
            p,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .map_err(|e| numerical("svd", e))?;
        let values: Vec<f64> = (0..k).map(|i| s[i]).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(numerical("svd", "non-finite singular value"));
        }
        Ok(Svd {
            m,
            n,
            values,
            u: to_row_major(u),
            v: to_row_major(v),
        })
    })
}

/// `L diag(f) R^T` for row-major `L` (`m x k`) and `R` (`n x k`): the reconstruction of a
/// matrix from its (modified) eigen- or singular values. Returns a row-major `m x n` matrix.
pub fn reconstruct(
    pool: &ThreadPool,
    left: &[f64],
    f: &[f64],
    right: &[f64],
    m: usize,
    n: usize,
) -> Result<Vec<f64>> {
    let k = f.len();
    ensure(left.len() == m * k, "left", || {
        format!("has {} elements, expected {m} x {k}", left.len())
    })?;
    ensure(right.len() == n * k, "right", || {
        format!("has {} elements, expected {n} x {k}", right.len())
    })?;
    let l = MatRef::from_row_major_slice(left, m, k);
    let mut out = crate::alloc::zeroed::<f64>("left", crate::alloc::count("left", &[m, n])?)?;
    let scaled = Mat::<f64>::from_fn(n, k, |i, j| right[i * k + j] * f[j]);
    {
        let dst = faer::MatMut::from_row_major_slice_mut(&mut out, m, n);
        let p = par(m.max(n));
        pool.install(|| matmul(dst, Accum::Replace, l, scaled.as_ref().transpose(), 1.0, p));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn random_sym(n: usize, seed: u64) -> Vec<f64> {
        let mut a = vec![0.0; n * n];
        crate::rng::fill_standard_normal(&pool(Some(1)).unwrap(), seed, 9, &mut a);
        let mut s = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
            }
        }
        s
    }

    #[test]
    fn eigh_reconstructs_and_is_thread_independent() {
        let n = 260;
        let a = random_sym(n, 3);
        let e1 = eigh(&pool(Some(1)).unwrap(), &a, n, true).unwrap();
        let e2 = eigh(&pool(Some(2)).unwrap(), &a, n, true).unwrap();
        assert_eq!(e1.values, e2.values);
        assert_eq!(e1.vectors, e2.vectors);
        let back = reconstruct(
            &pool(Some(2)).unwrap(),
            &e1.vectors,
            &e1.values,
            &e1.vectors,
            n,
            n,
        )
        .unwrap();
        let err = back
            .iter()
            .zip(&a)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-10, "{err}");
    }

    #[test]
    fn svd_reconstructs_a_wide_matrix() {
        let (m, n) = (70, 230);
        let mut a = vec![0.0; m * n];
        crate::rng::fill_standard_normal(&pool(Some(1)).unwrap(), 5, 9, &mut a);
        let s = svd(&pool(Some(2)).unwrap(), &a, m, n, true).unwrap();
        assert!(s.values.windows(2).all(|w| w[0] >= w[1]));
        let back = reconstruct(&pool(Some(1)).unwrap(), &s.u, &s.values, &s.v, m, n).unwrap();
        let err = back
            .iter()
            .zip(&a)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-10, "{err}");
    }
}
