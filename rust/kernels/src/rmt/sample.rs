//! Random matrices whose spectra follow the laws of [`super::laws`] (for tests and figures).
//! Streams: `(seed, RMT_A, row)` and `(seed, RMT_B, row)`, so samples do not depend on the
//! number of threads.

use super::eig::{eigh, svd};
use super::laws::Law;
use crate::error::{ensure, Result};
use crate::rng::{domain, stream};
use crate::sensing::gemm;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Domain tag of the first random matrix of a sample.
pub const RMT_A: u64 = domain::FREE + 27;
/// Domain tag of the second random matrix of a sample.
pub const RMT_B: u64 = domain::FREE + 28;

/// `rows x cols` i.i.d. N(0, 1) matrix, row `i` from stream `(seed, tag, i)`.
pub fn gaussian_matrix(
    pool: &ThreadPool,
    rows: usize,
    cols: usize,
    seed: u64,
    tag: u64,
) -> Vec<f64> {
    gaussian_matrix_keyed(pool, rows, cols, seed, &[tag])
}

/// `rows x cols` i.i.d. N(0, 1) matrix, row `i` from stream `(seed, key..., i)`.
pub fn gaussian_matrix_keyed(
    pool: &ThreadPool,
    rows: usize,
    cols: usize,
    seed: u64,
    key: &[u64],
) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    pool.install(|| {
        out.par_chunks_mut(cols.max(1))
            .enumerate()
            .for_each(|(i, row)| {
                let mut words = key.to_vec();
                words.push(i as u64);
                let mut rng = stream(seed, &words);
                for v in row.iter_mut() {
                    *v = StandardNormal.sample(&mut rng);
                }
            })
    });
    out
}

/// GOE matrix with semicircle on `[-2, 2]`: off-diagonal N(0, 1/n), diagonal N(0, 2/n).
pub fn goe(pool: &ThreadPool, n: usize, seed: u64, tag: u64) -> Vec<f64> {
    let a = gaussian_matrix(pool, n, n, seed, tag);
    let s = (2.0 * n as f64).sqrt();
    let mut out = vec![0.0; n * n];
    pool.install(|| {
        out.par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(i, row)| {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = (a[i * n + j] + a[j * n + i]) / s;
                }
            })
    });
    out
}

/// The memory of [`sample_spectrum`] (checked sizes; `MemoryError` before anything is drawn).
fn ensure_sample_fits(law: &Law, d: usize) -> Result<()> {
    use crate::alloc::{bytes, ensure_fits, total};
    let round = |x: f64| -> usize {
        let v = (x * d as f64).round();
        if v.is_finite() && v < usize::MAX as f64 { (v as usize).max(1) } else { usize::MAX }
    };
    let need = match *law {
        // the GOE, its source and eigh's scratch
        Law::Semicircle { .. } => bytes::<f64>("d", &[4, d, d])?,
        Law::MarchenkoPastur { kappa, .. } | Law::MpSemicircle { kappa, .. } => total(
            "d",
            &[bytes::<f64>("d", &[round(kappa), d])?, bytes::<f64>("d", &[5, d, d])?],
        )?,
        Law::RectProduct { aspect, rank, .. } => {
            let (m, r) = (round(aspect).max(d), round(rank));
            total(
                "d",
                &[
                    bytes::<f64>("d", &[d, r])?,
                    bytes::<f64>("d", &[r, m])?,
                    bytes::<f64>("d", &[5, d, m])?,
                ],
            )?
        }
    };
    ensure_fits("d", need)
}

/// Spectrum of one `d x d` (or, for `RectProduct`, `d x aspect d`) random matrix with the law
/// `law`: eigenvalues ascending, or the symmetrised singular values `+-s_k` (ascending).
///
/// * `Semicircle { v }`: `sqrt(v)` GOE.
/// * `MarchenkoPastur { kappa, scale }`: `scale W^T W / m`, `m = round(kappa d)`.
/// * `MpSemicircle { kappa, delta }`: `W^T W / m + sqrt(delta)` GOE.
/// * `RectProduct { aspect, rank, delta }`: `(V U / sqrt(r) + sqrt(delta) Z) / (N M)^(1/4)`,
///   `N = d`, `M = round(aspect d)`, `r = round(rank d)`.
pub fn sample_spectrum(pool: &ThreadPool, law: &Law, d: usize, seed: u64) -> Result<Vec<f64>> {
    law.validate()?;
    ensure(d >= 2, "d", || format!("must be at least 2, got {d}"))?;
    ensure_sample_fits(law, d)?;
    match *law {
        Law::Semicircle { variance } => {
            let mut g = goe(pool, d, seed, RMT_A);
            let s = variance.sqrt();
            g.iter_mut().for_each(|v| *v *= s);
            Ok(eigh(pool, &g, d, false)?.values)
        }
        Law::MarchenkoPastur { kappa, scale }
        | Law::MpSemicircle {
            kappa,
            delta: scale,
        } => {
            let m = ((kappa * d as f64).round() as usize).max(1);
            let w = gaussian_matrix(pool, m, d, seed, RMT_A);
            let mut s = gemm::at_b(pool, &w, &w, m, d, d);
            let (mult, noise) = match *law {
                Law::MarchenkoPastur { scale, .. } => (scale / m as f64, 0.0),
                _ => (1.0 / m as f64, scale.sqrt()),
            };
            let g = if noise > 0.0 {
                goe(pool, d, seed, RMT_B)
            } else {
                Vec::new()
            };
            for (k, v) in s.iter_mut().enumerate() {
                *v = *v * mult + if noise > 0.0 { noise * g[k] } else { 0.0 };
            }
            Ok(eigh(pool, &s, d, false)?.values)
        }
        Law::RectProduct {
            aspect,
            rank,
            delta,
        } => {
            let (n, m) = (d, ((aspect * d as f64).round() as usize).max(d));
            let r = ((rank * d as f64).round() as usize).max(1);
            let v = gaussian_matrix(pool, n, r, seed, RMT_A);
            let u = gaussian_matrix(pool, r, m, seed, RMT_B);
            let z = gaussian_matrix(pool, n, m, seed, RMT_B + 1);
            let mut y = gemm::a_b(pool, &v, &u, n, r, m);
            let (c1, c2) = (1.0 / (r as f64).sqrt(), delta.sqrt());
            let norm = ((n * m) as f64).powf(-0.25);
            for (yv, zv) in y.iter_mut().zip(&z) {
                *yv = (c1 * *yv + c2 * zv) * norm;
            }
            let s = svd(pool, &y, n, m, false)?.values;
            let mut out: Vec<f64> = s.iter().flat_map(|&x| [x, -x]).collect();
            out.sort_by(|a, b| a.total_cmp(b));
            Ok(out)
        }
    }
}
