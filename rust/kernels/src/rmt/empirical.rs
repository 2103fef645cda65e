//! Empirical Stieltjes transforms of a finite spectrum, `g_n(z) = (1/n) sum_j 1/(z - lambda_j)`.
//! The `O(n k)` double loop runs in parallel over fixed blocks of evaluation points; each value
//! sums the spectrum in order, so results do not depend on the number of threads.

use faer::c64;
use rayon::prelude::*;
use rayon::ThreadPool;

const BLOCK: usize = 64;

/// `g_n(z_k)` for every `z_k`.
pub fn stieltjes(pool: &ThreadPool, eigs: &[f64], z: &[c64]) -> Vec<c64> {
    let inv_n = 1.0 / eigs.len().max(1) as f64;
    let mut out = vec![c64::new(0.0, 0.0); z.len()];
    pool.install(|| {
        out.par_chunks_mut(BLOCK)
            .zip(z.par_chunks(BLOCK))
            .for_each(|(o, zs)| {
                for (gk, &zk) in o.iter_mut().zip(zs) {
                    let (mut re, mut im) = (0.0, 0.0);
                    for &l in eigs {
                        let (a, b) = (zk.re - l, zk.im);
                        let den = a * a + b * b;
                        re += a / den;
                        im -= b / den;
                    }
                    *gk = c64::new(re * inv_n, im * inv_n);
                }
            })
    });
    out
}

/// Symmetrised version for singular values `s_j >= 0`:
/// `G_n(z) = (1/2n) sum_j [1/(z - s_j) + 1/(z + s_j)]`.
pub fn stieltjes_symmetrised(pool: &ThreadPool, sv: &[f64], z: &[c64]) -> Vec<c64> {
    let both: Vec<f64> = sv.iter().flat_map(|&s| [s, -s]).collect();
    stieltjes(pool, &both, z)
}

/// [`stieltjes`] (or [`stieltjes_symmetrised`]) at `re_k + i im_k`, as real and imaginary parts.
pub fn stieltjes_split(
    pool: &ThreadPool,
    eigs: &[f64],
    re: &[f64],
    im: &[f64],
    symmetrised: bool,
) -> (Vec<f64>, Vec<f64>) {
    let z: Vec<c64> = re.iter().zip(im).map(|(&a, &b)| c64::new(a, b)).collect();
    let g = if symmetrised {
        stieltjes_symmetrised(pool, eigs, &z)
    } else {
        stieltjes(pool, eigs, &z)
    };
    g.into_iter().map(|z| (z.re, z.im)).unzip()
}

/// Default smoothing of the data-driven RIE: `eta = n^{-1/2}` times the spread (standard
/// deviation) of the spectrum, the usual bias-variance compromise.
pub fn default_eta(values: &[f64]) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    var.sqrt().max(f64::MIN_POSITIVE) / n.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn matches_a_naive_sum_and_is_thread_independent() {
        let eigs: Vec<f64> = (0..300)
            .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let z: Vec<c64> = (0..200)
            .map(|k| c64::new(k as f64 / 100.0 - 1.0, 0.05))
            .collect();
        let a = stieltjes(&pool(Some(1)).unwrap(), &eigs, &z);
        let b = stieltjes(&pool(Some(2)).unwrap(), &eigs, &z);
        assert_eq!(a, b);
        let naive: c64 = eigs.iter().map(|&l| (z[7] - l).inv()).sum::<c64>() / eigs.len() as f64;
        assert!((a[7] - naive).norm() < 1e-12);
    }
}
