//! Dense linear algebra: SIMD inner loops, parallel mat-vecs, Lanczos on implicit operators.

pub mod arnoldi;
pub mod lanczos;
pub mod matvec;
pub mod simd;
pub mod tensor3;

pub use arnoldi::{top_eigenpairs_nonsymmetric, ArnoldiOptions, ComplexEigenpairs};
pub use lanczos::{top_eigenpairs, Eigenpairs, LanczosOptions};
pub use matvec::{packed_len, packed_offset, Dense, LinearOperator, SymPacked};
pub use simd::Scalar;

use rayon::prelude::*;
use rayon::ThreadPool;

/// Whether every entry is finite (parallel scan in fixed chunks).
pub fn all_finite<T: Scalar>(pool: &ThreadPool, data: &[T]) -> bool {
    pool.install(|| {
        data.par_chunks(1 << 16)
            .all(|c| c.iter().all(|v| v.to_f64().is_finite()))
    })
}

/// Read bandwidth of this machine in bytes per second: the best of `repeats` parallel sums over a
/// buffer of `n` float64 (make it much larger than the last-level cache). Returns the
/// bandwidth and the checksum (so the reads cannot be optimised away).
pub fn read_bandwidth(pool: &ThreadPool, n: usize, repeats: usize) -> (f64, f64) {
    let buf: Vec<f64> = pool.install(|| (0..n).into_par_iter().map(|i| (i % 7) as f64).collect());
    let mut best = f64::INFINITY;
    let mut check = 0.0;
    for _ in 0..repeats.max(1) {
        let t = std::time::Instant::now();
        check = pool.install(|| {
            buf.par_chunks(1 << 16)
                .map(|c| {
                    let mut acc = [0.0f64; 8];
                    for ch in c.chunks_exact(8) {
                        for k in 0..8 {
                            acc[k] += ch[k];
                        }
                    }
                    acc.iter().sum::<f64>()
                })
                .sum::<f64>()
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    ((n * 8) as f64 / best, check)
}

/// Whether the row-major `n x n` matrix equals its transpose exactly (tiled, parallel).
pub fn is_symmetric<T: Scalar + PartialEq>(pool: &ThreadPool, data: &[T], n: usize) -> bool {
    const TILE: usize = 64;
    if data.len() != n * n {
        return false;
    }
    let tiles = n.div_ceil(TILE);
    pool.install(|| {
        (0..tiles).into_par_iter().all(|ib| {
            (0..=ib).all(|jb| {
                (ib * TILE..((ib + 1) * TILE).min(n)).all(|i| {
                    (jb * TILE..((jb + 1) * TILE).min(i))
                        .all(|j| data[i * n + j] == data[j * n + i])
                })
            })
        })
    })
}
