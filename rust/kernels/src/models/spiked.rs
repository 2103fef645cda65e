//! Spiked Wigner and spiked covariance (Wishart) samples.
//!
//! Noise streams are keyed per row (`(seed, NOISE, row)`), so full, packed, float64, float32
//! and bfloat16 storage of the same seed hold the same matrix (up to the storage's rounding,
//! applied once to the float64 entry), and the sample does not depend on the number of threads.

use crate::error::{ensure, Result};
use crate::linalg::{packed_offset, Scalar};
use crate::priors::Prior;
use crate::rng::{domain, fill_standard_normal, stream};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Storage layout of a symmetric matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymStorage {
    /// Row-major `n x n`.
    Full,
    /// Upper triangle, row by row (`n(n+1)/2` entries).
    Packed,
}

struct SyncPtr<T>(*mut T);
// SAFETY: used only to write disjoint elements from different tasks.
unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}

/// Sample `Y = (snr/n) x x^T + W/sqrt(n)`, `W` symmetric with N(0,1) off-diagonal and N(0,2)
/// diagonal entries, `x` i.i.d. from `prior`. Writes `x` and `Y` (in the given storage).
pub fn spiked_wigner<T: Scalar>(
    pool: &ThreadPool,
    n: usize,
    snr: f64,
    prior: &Prior,
    seed: u64,
    storage: SymStorage,
    y: &mut [T],
    x: &mut [f64],
) -> Result<()> {
    ensure(snr >= 0.0 && snr.is_finite(), "snr", || {
        format!("must be finite and >= 0, got {snr}")
    })?;
    ensure(x.len() == n, "x", || {
        format!("has length {}, expected {n}", x.len())
    })?;
    let expected = match storage {
        SymStorage::Full => n * n,
        SymStorage::Packed => n * (n + 1) / 2,
    };
    ensure(y.len() == expected, "y", || {
        format!("has length {}, expected {expected}", y.len())
    })?;
    prior.sample(pool, seed, domain::SIGNAL, x);
    let x: &[f64] = x;
    let (signal, noise) = (snr / n as f64, 1.0 / (n as f64).sqrt());
    let upper_row = |i: usize, out: &mut [T]| {
        let mut rng = stream(seed, &[domain::NOISE, i as u64]);
        for (k, v) in out.iter_mut().enumerate() {
            let j = i + k;
            let g: f64 = StandardNormal.sample(&mut rng);
            let g = if k == 0 {
                g * std::f64::consts::SQRT_2
            } else {
                g
            };
            *v = T::from_f64(signal * x[i] * x[j] + noise * g);
        }
    };
    match storage {
        SymStorage::Packed => {
            let ptr = SyncPtr(y.as_mut_ptr());
            pool.install(|| {
                (0..n).into_par_iter().for_each(|i| {
                    let p = &ptr;
                    // SAFETY: rows of the packed triangle are disjoint ranges of `y`.
                    let row = unsafe {
                        std::slice::from_raw_parts_mut(p.0.add(packed_offset(n, i)), n - i)
                    };
                    upper_row(i, row);
                })
            });
        }
        SymStorage::Full => {
            pool.install(|| {
                y.par_chunks_mut(n.max(1))
                    .enumerate()
                    .for_each(|(i, row)| upper_row(i, &mut row[i..]));
            });
            // Mirror the upper triangle into the lower one, tile by tile.
            const TILE: usize = 64;
            let ptr = SyncPtr(y.as_mut_ptr());
            pool.install(|| {
                (0..n.div_ceil(TILE)).into_par_iter().for_each(|ib| {
                    let p = &ptr;
                    for jb in 0..=ib {
                        for i in ib * TILE..((ib + 1) * TILE).min(n) {
                            for j in jb * TILE..((jb + 1) * TILE).min(i) {
                                // SAFETY: writes go to the strict lower triangle of rows of
                                // tile-row `ib` (owned by this task); reads come from the upper
                                // triangle, which no task writes in this phase.
                                unsafe { *p.0.add(i * n + j) = *p.0.add(j * n + i) };
                            }
                        }
                    }
                })
            });
        }
    }
    Ok(())
}

/// Sample `n` rows `x_mu = z_mu + sqrt(beta/d) v_mu u` (so `Cov = I + beta u u^T/d`), with
/// `u` i.i.d. from `prior` and `v_mu ~ N(0,1)`. Writes `X` (row-major `n x d`), `u` and `v`.
#[allow(clippy::too_many_arguments)]
pub fn spiked_wishart<T: Scalar>(
    pool: &ThreadPool,
    n: usize,
    d: usize,
    beta: f64,
    prior: &Prior,
    seed: u64,
    xmat: &mut [T],
    u: &mut [f64],
    v: &mut [f64],
) -> Result<()> {
    ensure(beta >= 0.0 && beta.is_finite(), "beta", || {
        format!("must be finite and >= 0, got {beta}")
    })?;
    ensure(u.len() == d, "u", || {
        format!("has length {}, expected {d}", u.len())
    })?;
    ensure(v.len() == n, "v", || {
        format!("has length {}, expected {n}", v.len())
    })?;
    ensure(xmat.len() == n * d, "x", || {
        format!("has length {}, expected {n} x {d}", xmat.len())
    })?;
    prior.sample(pool, seed, domain::SIGNAL, u);
    fill_standard_normal(pool, seed, domain::LATENT, v);
    let amp = (beta / d as f64).sqrt();
    let (u, v): (&[f64], &[f64]) = (u, v);
    pool.install(|| {
        xmat.par_chunks_mut(d.max(1))
            .enumerate()
            .for_each(|(mu, row)| {
                let mut rng = stream(seed, &[domain::NOISE, mu as u64]);
                let s = amp * v[mu];
                for (val, &ui) in row.iter_mut().zip(u) {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    *val = T::from_f64(g + s * ui);
                }
            })
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn full_and_packed_storage_hold_the_same_symmetric_matrix() {
        let p = pool(Some(2)).unwrap();
        let n = 150;
        let mut full = vec![0.0f64; n * n];
        let mut packed = vec![0.0f64; n * (n + 1) / 2];
        let (mut x1, mut x2) = (vec![0.0; n], vec![0.0; n]);
        spiked_wigner(
            &p,
            n,
            1.5,
            &Prior::Rademacher,
            9,
            SymStorage::Full,
            &mut full,
            &mut x1,
        )
        .unwrap();
        spiked_wigner(
            &p,
            n,
            1.5,
            &Prior::Rademacher,
            9,
            SymStorage::Packed,
            &mut packed,
            &mut x2,
        )
        .unwrap();
        assert_eq!(x1, x2);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(full[i * n + j], full[j * n + i]);
            }
            assert_eq!(
                &full[i * n + i..(i + 1) * n],
                &packed[packed_offset(n, i)..packed_offset(n, i) + n - i]
            );
        }
    }

    #[test]
    fn bf16_storage_rounds_the_float64_sample_once_for_any_thread_count() {
        use crate::linalg::{LinearOperator, SymPacked};
        use half::bf16;
        let n = 301;
        let mut f64s = vec![0.0f64; crate::linalg::packed_len(n)];
        let mut x = vec![0.0; n];
        spiked_wigner(
            &pool(Some(1)).unwrap(),
            n,
            1.5,
            &Prior::Rademacher,
            5,
            SymStorage::Packed,
            &mut f64s,
            &mut x,
        )
        .unwrap();
        let mut ys: Vec<Vec<f64>> = Vec::new();
        for threads in [1, 2, 3] {
            let p = pool(Some(threads)).unwrap();
            let mut b = vec![bf16::ZERO; crate::linalg::packed_len(n)];
            let mut xb = vec![0.0; n];
            spiked_wigner(
                &p,
                n,
                1.5,
                &Prior::Rademacher,
                5,
                SymStorage::Packed,
                &mut b,
                &mut xb,
            )
            .unwrap();
            assert_eq!(x, xb);
            for (u, v) in f64s.iter().zip(&b) {
                assert_eq!(*v, bf16::from_f64(*u));
                assert!((v.to_f64() - u).abs() <= u.abs() * 2f64.powi(-8));
            }
            let v: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
            let mut y = vec![0.0; n];
            SymPacked::new(&b, n)
                .unwrap()
                .apply(&p, &v, &mut y)
                .unwrap();
            ys.push(y);
        }
        assert_eq!(ys[0], ys[1]);
        assert_eq!(ys[0], ys[2]);
        // the product is the float64 product of the widened entries
        let wide: Vec<f64> = f64s.iter().map(|&u| bf16::from_f64(u).to_f64()).collect();
        let v: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
        let mut y = vec![0.0; n];
        SymPacked::new(&wide, n)
            .unwrap()
            .apply(&pool(Some(2)).unwrap(), &v, &mut y)
            .unwrap();
        for (u, w) in y.iter().zip(&ys[0]) {
            assert!((u - w).abs() < 1e-12);
        }
    }

    #[test]
    fn wigner_noise_has_the_stated_variances() {
        let p = pool(None).unwrap();
        let n = 1000;
        let mut y = vec![0.0f64; n * n];
        let mut x = vec![0.0; n];
        spiked_wigner(
            &p,
            n,
            0.0,
            &Prior::Gaussian,
            1,
            SymStorage::Full,
            &mut y,
            &mut x,
        )
        .unwrap();
        let off: f64 = (0..n)
            .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
            .map(|(i, j)| y[i * n + j].powi(2))
            .sum::<f64>()
            / (n * (n - 1) / 2) as f64;
        let diag: f64 = (0..n).map(|i| y[i * n + i].powi(2)).sum::<f64>() / n as f64;
        assert!((off * n as f64 - 1.0).abs() < 0.01, "{off}");
        assert!((diag * n as f64 - 2.0).abs() < 0.3, "{diag}");
    }

    #[test]
    fn wishart_sample_is_thread_independent() {
        let (n, d) = (300, 50);
        let mut a = vec![0.0f32; n * d];
        let mut b = vec![0.0f32; n * d];
        let (mut u1, mut v1, mut u2, mut v2) =
            (vec![0.0; d], vec![0.0; n], vec![0.0; d], vec![0.0; n]);
        spiked_wishart(
            &pool(Some(1)).unwrap(),
            n,
            d,
            2.0,
            &Prior::Gaussian,
            4,
            &mut a,
            &mut u1,
            &mut v1,
        )
        .unwrap();
        spiked_wishart(
            &pool(Some(2)).unwrap(),
            n,
            d,
            2.0,
            &Prior::Gaussian,
            4,
            &mut b,
            &mut u2,
            &mut v2,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(u1, u2);
        assert_eq!(v1, v2);
    }
}
