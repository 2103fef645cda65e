//! Spectral functions of symmetric matrices, `F(A) = sum_i eta(lambda_i) v_i v_i^T`, with the
//! divergence that message passing needs; here the soft threshold, the proximal map of the
//! trace norm on the PSD cone (`eta(l) = (l - theta)_+`) or of the nuclear norm on symmetric
//! matrices (`eta(l) = sign(l) (|l| - theta)_+`).
//!
//! Divergence. In orthonormal coordinates of the symmetric matrices (`E_ii` and
//! `(E_ij + E_ji)/sqrt 2`, `i < j`) the divergence of a spectral map is
//! `sum_i eta'(lambda_i) + sum_{i<j} (eta(lambda_i) - eta(lambda_j)) / (lambda_i - lambda_j)`
//! (Candes, Sing-Long & Trzasko 2013, "Unbiased risk estimates for singular value thresholding",
//! Sec. IV). [`divergence`] returns it normalised per coordinate pair,
//! ```text
//! D = (2/d^2) div = (1/d^2) [ 2 sum_i eta'(lambda_i) + sum_{i != j} (eta_i - eta_j)/(lambda_i - lambda_j) ],
//! ```
//! the quantity for which `delta D` is the variance per spectral unit of the estimate of a
//! denoiser at noise `delta` (for a Bayes denoiser it is its MMSE, by Tweedie's formula).
//! Quotients of nearly equal eigenvalues are replaced by `eta'(lambda_i)`.

use super::eig::{eigh, reconstruct};
use crate::error::{ensure, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Output of [`soft_threshold_symmetric`].
#[derive(Debug, Clone)]
pub struct SpectralFnOutput {
    /// `F(A)`, row-major `d x d`.
    pub estimate: Vec<f64>,
    /// Eigenvalues of `A`, ascending.
    pub values: Vec<f64>,
    /// `eta(values)`.
    pub shrunk: Vec<f64>,
    /// The normalised divergence `D` (module docs).
    pub divergence: f64,
}

/// Relative gap below which two eigenvalues are treated as equal in [`divergence`].
const GAP_RTOL: f64 = 1e-12;

/// `D` of the spectral map with values `f = eta(values)` and derivatives `fprime` (module docs).
/// Rows are summed in parallel and reduced in row order: the result does not depend on the
/// number of threads.
pub fn divergence(pool: &ThreadPool, values: &[f64], f: &[f64], fprime: &[f64]) -> f64 {
    let d = values.len();
    if d == 0 {
        return 0.0;
    }
    let scale = values
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let rows: Vec<f64> = pool.install(|| {
        (0..d)
            .into_par_iter()
            .map(|i| {
                let (li, fi) = (values[i], f[i]);
                // the diagonal i = j counts twice (2 sum_i eta'), as eta'(lambda_i) each time
                let mut s = fprime[i];
                for j in 0..d {
                    let gap = li - values[j];
                    s += if gap.abs() <= GAP_RTOL * scale {
                        fprime[i]
                    } else {
                        (fi - f[j]) / gap
                    };
                }
                s
            })
            .collect()
    });
    rows.iter().sum::<f64>() / (d as f64 * d as f64)
}

/// The soft threshold `eta(l)` and its derivative (0 at the kink).
fn soft(l: f64, theta: f64, psd: bool) -> (f64, f64) {
    if psd {
        if l > theta {
            (l - theta, 1.0)
        } else {
            (0.0, 0.0)
        }
    } else if l.abs() > theta {
        (l.signum() * (l.abs() - theta), 1.0)
    } else {
        (0.0, 0.0)
    }
}

/// Spectral soft threshold of the symmetric `d x d` row-major matrix `a` (its upper triangle is
/// read) at `theta >= 0`: `psd` clips the eigenvalues at zero (`(l - theta)_+`, the proximal
/// map of `theta Tr` on the PSD cone), otherwise shrinks them towards zero keeping the sign
/// (`theta ||.||_*`). Returns the estimate and its divergence `D`.
pub fn soft_threshold_symmetric(
    pool: &ThreadPool,
    a: &[f64],
    d: usize,
    theta: f64,
    psd: bool,
) -> Result<SpectralFnOutput> {
    ensure(theta.is_finite() && theta >= 0.0, "theta", || {
        format!("must be finite and >= 0, got {theta}")
    })?;
    ensure(Some(a.len()) == d.checked_mul(d), "a", || {
        format!("has {} elements, expected {d} x {d}", a.len())
    })?;
    ensure(a.iter().all(|v| v.is_finite()), "a", || {
        "contains NaN or infinity".into()
    })?;
    let e = eigh(pool, a, d, true)?;
    let (shrunk, fprime): (Vec<f64>, Vec<f64>) =
        e.values.iter().map(|&l| soft(l, theta, psd)).unzip();
    let estimate = reconstruct(pool, &e.vectors, &shrunk, &e.vectors, d, d)?;
    let divergence = divergence(pool, &e.values, &shrunk, &fprime);
    Ok(SpectralFnOutput {
        estimate,
        values: e.values,
        shrunk,
        divergence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn random_sym(d: usize, seed: u64) -> Vec<f64> {
        let mut a = vec![0.0; d * d];
        crate::rng::fill_standard_normal(&pool(Some(1)).unwrap(), seed, 9, &mut a);
        let mut s = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                s[i * d + j] = (a[i * d + j] + a[j * d + i]) / (2.0 * d as f64).sqrt();
            }
        }
        s
    }

    #[test]
    fn soft_threshold_shrinks_the_eigenvalues() {
        let p = pool(Some(2)).unwrap();
        let d = 30;
        let a = random_sym(d, 1);
        for psd in [true, false] {
            let out = soft_threshold_symmetric(&p, &a, d, 0.4, psd).unwrap();
            let e = eigh(&p, &a, d, true).unwrap();
            let want: Vec<f64> = e
                .values
                .iter()
                .map(|&l| {
                    if psd {
                        (l - 0.4f64).max(0.0)
                    } else {
                        l.signum() * (l.abs() - 0.4f64).max(0.0)
                    }
                })
                .collect();
            let back = reconstruct(&p, &e.vectors, &want, &e.vectors, d, d).unwrap();
            let err = back
                .iter()
                .zip(&out.estimate)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-13, "{err}");
            assert_eq!(out.shrunk, want);
        }
    }

    /// `sum` over the orthonormal coordinates of the symmetric matrices of `dF/dcoordinate`,
    /// by central differences.
    fn finite_difference_divergence(a: &[f64], d: usize, theta: f64, psd: bool) -> f64 {
        let p = pool(Some(1)).unwrap();
        let h = 1e-6;
        let mut total = 0.0;
        for i in 0..d {
            for j in i..d {
                let w = if i == j {
                    1.0
                } else {
                    std::f64::consts::FRAC_1_SQRT_2
                };
                let mut plus = a.to_vec();
                let mut minus = a.to_vec();
                for (r, c) in [(i, j), (j, i)] {
                    plus[r * d + c] += h * w;
                    minus[r * d + c] -= h * w;
                    if i == j {
                        break;
                    }
                }
                let fp = soft_threshold_symmetric(&p, &plus, d, theta, psd).unwrap();
                let fm = soft_threshold_symmetric(&p, &minus, d, theta, psd).unwrap();
                // <basis, (F(a + h basis) - F(a - h basis)) / 2h>
                let mut dot = (fp.estimate[i * d + j] - fm.estimate[i * d + j]) * w;
                if i != j {
                    dot += (fp.estimate[j * d + i] - fm.estimate[j * d + i]) * w;
                }
                total += dot / (2.0 * h);
            }
        }
        total
    }

    #[test]
    fn divergence_matches_finite_differences() {
        let p = pool(Some(2)).unwrap();
        let d = 9;
        let a = random_sym(d, 4);
        for (theta, psd) in [(0.3, true), (0.3, false), (0.0, true), (5.0, true)] {
            let out = soft_threshold_symmetric(&p, &a, d, theta, psd).unwrap();
            let fd = finite_difference_divergence(&a, d, theta, psd);
            let got = out.divergence * (d * d) as f64 / 2.0;
            assert!(
                (got - fd).abs() < 1e-6 * (1.0 + fd.abs()),
                "{theta} {psd}: {got} vs {fd}"
            );
        }
    }

    #[test]
    fn identity_map_has_unit_divergence() {
        // theta = 0 on the symmetric soft threshold is the identity: div = d(d+1)/2
        let p = pool(Some(1)).unwrap();
        let d = 12;
        let out = soft_threshold_symmetric(&p, &random_sym(d, 2), d, 0.0, false).unwrap();
        let want = (d + 1) as f64 / d as f64;
        assert!((out.divergence - want).abs() < 1e-12, "{}", out.divergence);
    }

    #[test]
    fn soft_threshold_is_thread_independent() {
        let d = 230;
        let a = random_sym(d, 3);
        let o1 = soft_threshold_symmetric(&pool(Some(1)).unwrap(), &a, d, 0.2, true).unwrap();
        let o2 = soft_threshold_symmetric(&pool(Some(2)).unwrap(), &a, d, 0.2, true).unwrap();
        assert_eq!(o1.estimate, o2.estimate);
        assert_eq!(o1.divergence.to_bits(), o2.divergence.to_bits());
    }

    #[test]
    fn bad_input_names_the_argument() {
        let p = pool(Some(1)).unwrap();
        let a = random_sym(3, 1);
        let name = |r: Result<SpectralFnOutput>| match r {
            Err(crate::KernelError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            name(soft_threshold_symmetric(&p, &a, 3, -1.0, true)),
            "theta"
        );
        assert_eq!(
            name(soft_threshold_symmetric(&p, &a, 3, f64::NAN, true)),
            "theta"
        );
        assert_eq!(name(soft_threshold_symmetric(&p, &a, 4, 0.1, true)), "a");
        let mut bad = a.clone();
        bad[1] = f64::INFINITY;
        assert_eq!(name(soft_threshold_symmetric(&p, &bad, 3, 0.1, true)), "a");
    }
}
