//! Spiked matrix + spiked 3-tensor sharing a factor (Tabanelli, Mergny, Zdeborova & Krzakala,
//! arXiv:2506.02664, Sec. 2):
//!
//! ```text
//! Y_m[i, j]    = u_i v_j / sqrt(N1)   + sqrt(delta_m) Z_ij      (N1 x N2)
//! Y_t[i, j, k] = u_i x_j y_k / N1     + sqrt(delta_t) Z'_ijk    (N1 x N3 x N4, row-major)
//! ```
//!
//! Streams (`rng::domain::FREE + 50..55`): factor `k` of (u, v, x, y) from `FREE + 50 + k`;
//! row `i` of the matrix noise from `(FREE + 54, i)`; fibre `(i, j)` of the tensor noise from
//! `(FREE + 55, i, j)`. The sample does not depend on the number of threads, and float32
//! storage holds the float64 sample rounded.

use crate::error::{ensure, ensure_len, Result};
use crate::linalg::Scalar;
use crate::priors::Prior;
use crate::rng::{domain::FREE, stream};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Stream tags of this model.
pub mod domain {
    use super::FREE;
    /// Factor `k` (0 = u, 1 = v, 2 = x, 3 = y) uses `FACTOR + k`.
    pub const FACTOR: u64 = FREE + 50;
    /// Noise of the matrix modality (keyed by row).
    pub const MATRIX_NOISE: u64 = FREE + 54;
    /// Noise of the tensor modality (keyed by fibre `(i, j)`).
    pub const TENSOR_NOISE: u64 = FREE + 55;
}

/// Sizes and noise levels of a spiked matrix-tensor sample.
#[derive(Debug, Clone, Copy)]
pub struct MatrixTensorSpec {
    /// `(N1, N2, N3, N4)`.
    pub dims: [usize; 4],
    /// Matrix noise variance (`f64::INFINITY`: no matrix modality).
    pub delta_m: f64,
    /// Tensor noise variance (`f64::INFINITY`: no tensor modality).
    pub delta_t: f64,
}

fn check_delta(d: f64, name: &'static str) -> Result<()> {
    ensure(d > 0.0 && !d.is_nan(), name, || {
        format!("must be > 0 (infinity drops the modality), got {d}")
    })
}

/// Draw the four factors from their priors and the observations. `y_m` (`N1 N2` entries) is
/// written unless `delta_m` is infinite, `y_t` (`N1 N3 N4` entries) unless `delta_t` is.
pub fn sample_matrix_tensor<T: Scalar>(
    pool: &ThreadPool,
    spec: &MatrixTensorSpec,
    priors: &[Prior; 4],
    seed: u64,
    y_m: Option<&mut [T]>,
    y_t: Option<&mut [T]>,
    factors: [&mut [f64]; 4],
) -> Result<()> {
    let [n1, n2, n3, n4] = spec.dims;
    check_delta(spec.delta_m, "delta_m")?;
    check_delta(spec.delta_t, "delta_t")?;
    for (k, (f, &n)) in factors.iter().zip(&spec.dims).enumerate() {
        const NAMES: [&str; 4] = ["u", "v", "x", "y"];
        ensure(n >= 1, NAMES[k], || "needs a dimension of at least 1".into())?;
        ensure_len(f.len(), n, NAMES[k])?;
    }
    let [u, v, x, y] = factors;
    for (k, f) in [&mut *u, &mut *v, &mut *x, &mut *y].into_iter().enumerate() {
        priors[k].sample(pool, seed, domain::FACTOR + k as u64, f);
    }
    let (u, v, x, y): (&[f64], &[f64], &[f64], &[f64]) = (u, v, x, y);
    if spec.delta_m.is_finite() {
        let ym = y_m.ok_or_else(|| crate::error::invalid("y_m", "missing"))?;
        ensure_len(ym.len(), n1 * n2, "y_m")?;
        let (scale, noise) = (1.0 / (n1 as f64).sqrt(), spec.delta_m.sqrt());
        pool.install(|| {
            ym.par_chunks_mut(n2).enumerate().for_each(|(i, row)| {
                let mut rng = stream(seed, &[domain::MATRIX_NOISE, i as u64]);
                let s = scale * u[i];
                for (val, &vj) in row.iter_mut().zip(v) {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    *val = T::from_f64(s * vj + noise * g);
                }
            })
        });
    }
    if spec.delta_t.is_finite() {
        let yt = y_t.ok_or_else(|| crate::error::invalid("y_t", "missing"))?;
        ensure_len(yt.len(), n1 * n3 * n4, "y_t")?;
        let (scale, noise) = (1.0 / n1 as f64, spec.delta_t.sqrt());
        pool.install(|| {
            yt.par_chunks_mut(n4).enumerate().for_each(|(r, fibre)| {
                let (i, j) = (r / n3, r % n3);
                let mut rng = stream(seed, &[domain::TENSOR_NOISE, i as u64, j as u64]);
                let s = scale * u[i] * x[j];
                for (val, &yk) in fibre.iter_mut().zip(y) {
                    let g: f64 = StandardNormal.sample(&mut rng);
                    *val = T::from_f64(s * yk + noise * g);
                }
            })
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn draw<T: Scalar + Default + Clone>(
        threads: usize,
        spec: &MatrixTensorSpec,
    ) -> (Vec<T>, Vec<T>, Vec<Vec<f64>>) {
        let [n1, n2, n3, n4] = spec.dims;
        let mut ym = vec![T::default(); n1 * n2];
        let mut yt = vec![T::default(); n1 * n3 * n4];
        let mut f: Vec<Vec<f64>> = spec.dims.iter().map(|&n| vec![0.0; n]).collect();
        let [a, b, c, d] = &mut f[..] else { unreachable!() };
        sample_matrix_tensor(
            &pool(Some(threads)).unwrap(),
            spec,
            &[Prior::Gaussian, Prior::Rademacher, Prior::Gaussian, Prior::Gaussian],
            7,
            Some(&mut ym),
            Some(&mut yt),
            [a, b, c, d],
        )
        .unwrap();
        (ym, yt, f)
    }

    #[test]
    fn thread_count_independent_and_f32_is_rounded_f64() {
        let spec = MatrixTensorSpec { dims: [13, 9, 7, 5], delta_m: 0.5, delta_t: 2.0 };
        let (m1, t1, f1) = draw::<f64>(1, &spec);
        let (m2, t2, f2) = draw::<f64>(2, &spec);
        assert_eq!((&m1, &t1, &f1), (&m2, &t2, &f2));
        let (m3, t3, _) = draw::<f32>(2, &spec);
        assert!(m1.iter().zip(&m3).all(|(a, b)| *a as f32 == *b));
        assert!(t1.iter().zip(&t3).all(|(a, b)| *a as f32 == *b));
        assert!(f1[1].iter().all(|v| v.abs() == 1.0));
    }

    #[test]
    fn signal_and_noise_have_the_stated_scales() {
        let spec = MatrixTensorSpec { dims: [60, 50, 40, 30], delta_m: 0.25, delta_t: 4.0 };
        let (ym, yt, f) = draw::<f64>(2, &spec);
        let (u, x, y) = (&f[0], &f[2], &f[3]);
        let [n1, _, n3, n4] = spec.dims;
        // residual after removing the spike has the noise variance
        let mut r2 = 0.0;
        for i in 0..n1 {
            for j in 0..n3 {
                for k in 0..n4 {
                    let s = u[i] * x[j] * y[k] / n1 as f64;
                    r2 += (yt[(i * n3 + j) * n4 + k] - s).powi(2);
                }
            }
        }
        let var = r2 / (n1 * n3 * n4) as f64;
        assert!((var - 4.0).abs() < 0.1, "{var}");
        let v = &f[1];
        let mut m2 = 0.0;
        for i in 0..n1 {
            for j in 0..50 {
                m2 += (ym[i * 50 + j] - u[i] * v[j] / (n1 as f64).sqrt()).powi(2);
            }
        }
        assert!((m2 / 3000.0 - 0.25).abs() < 0.02);
    }

    #[test]
    fn infinite_delta_skips_the_modality_and_bad_deltas_fail() {
        let p = pool(Some(1)).unwrap();
        let spec = MatrixTensorSpec { dims: [3, 3, 3, 3], delta_m: f64::INFINITY, delta_t: 1.0 };
        let mut yt = vec![0.0f64; 27];
        let mut f: Vec<Vec<f64>> = vec![vec![0.0; 3]; 4];
        let [a, b, c, d] = &mut f[..] else { unreachable!() };
        let pr = [Prior::Gaussian; 4];
        sample_matrix_tensor::<f64>(&p, &spec, &pr, 1, None, Some(&mut yt), [a, b, c, d]).unwrap();
        assert!(yt.iter().any(|v| *v != 0.0));
        for bad in [0.0, -1.0, f64::NAN] {
            let spec = MatrixTensorSpec { delta_m: bad, ..spec };
            let [a, b, c, d] = &mut f[..] else { unreachable!() };
            let e = sample_matrix_tensor::<f64>(&p, &spec, &pr, 1, None, Some(&mut yt), [a, b, c, d]);
            assert!(e.unwrap_err().to_string().contains("delta_m"));
        }
    }
}
