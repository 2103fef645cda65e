//! Gaussian multi-index data: `x_mu ~ N(0, I_d/d)`, teacher `W*` (`d x p`) with i.i.d. prior
//! entries, `z_mu = W*^T x_mu ~ N(0, I_p)`, `y_mu = f(z_mu) + sqrt(noise) xi_mu`
//! (Defilippis et al. 2025, arXiv:2502.02545, Sec. 2).
//!
//! Streams: row `mu` of `X` from `(seed, DESIGN, mu)`, the teacher from `(seed, TEACHER, chunk)`,
//! the label noise of sample `mu` from `(seed, LABEL_NOISE, mu)`: the sample does not depend on
//! the number of threads, and float32 storage holds the float64 design rounded (`z` and `y` are
//! computed from the stored design).

use super::channels::Channel;
use super::domain;
use crate::error::{ensure, Result};
use crate::linalg::simd::dot;
use crate::linalg::Scalar;
use crate::priors::Prior;
use crate::rng::stream;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Sample the design `x` (`n x d` row-major), the teacher `w` (`d x p` row-major; drawn from
/// `prior` if given, else used as passed), the pre-activations `z` (`n x p`) and, when a channel
/// is given, the labels `y` (`n`).
#[allow(clippy::too_many_arguments)]
pub fn multi_index<T: Scalar>(
    pool: &ThreadPool,
    n: usize,
    d: usize,
    p: usize,
    prior: Option<&Prior>,
    channel: Option<&Channel>,
    seed: u64,
    x: &mut [T],
    w: &mut [f64],
    z: &mut [f64],
    y: &mut [f64],
) -> Result<()> {
    ensure(n >= 1 && d >= 1 && p >= 1, "n", || "n, d and p must be at least 1".into())?;
    ensure(x.len() == n * d, "x", || format!("has length {}, expected n d = {}", x.len(), n * d))?;
    ensure(w.len() == d * p, "w", || format!("has length {}, expected d p = {}", w.len(), d * p))?;
    ensure(z.len() == n * p, "z", || format!("has length {}, expected n p = {}", z.len(), n * p))?;
    if let Some(ch) = channel {
        ensure(ch.p() == p, "p", || format!("the link needs p = {}, got {p}", ch.p()))?;
        ensure(y.len() == n, "y", || format!("has length {}, expected n = {n}", y.len()))?;
    }
    if let Some(pr) = prior {
        pr.sample(pool, seed, domain::TEACHER, w);
    }
    ensure(w.iter().all(|v| v.is_finite()), "w", || "contains NaN or infinity".into())?;
    let mut wc = vec![0.0; d * p];
    for i in 0..d {
        for k in 0..p {
            wc[k * d + i] = w[i * p + k];
        }
    }
    let scale = 1.0 / (d as f64).sqrt();
    let noise = channel.map(|c| c.noise().sqrt()).unwrap_or(0.0);
    let wc = &wc;
    pool.install(|| {
        x.par_chunks_mut(d).zip(z.par_chunks_mut(p)).enumerate().for_each(|(mu, (row, zr))| {
            let mut rng = stream(seed, &[domain::DESIGN, mu as u64]);
            for v in row.iter_mut() {
                let g: f64 = StandardNormal.sample(&mut rng);
                *v = T::from_f64(g * scale);
            }
            for (k, zk) in zr.iter_mut().enumerate() {
                *zk = dot(row, &wc[k * d..(k + 1) * d]);
            }
        })
    });
    if let Some(ch) = channel {
        let z: &[f64] = z;
        pool.install(|| {
            y.par_iter_mut().enumerate().for_each(|(mu, yv)| {
                let mut val = ch.link_value(&z[mu * p..(mu + 1) * p]);
                if noise > 0.0 {
                    let mut rng = stream(seed, &[domain::LABEL_NOISE, mu as u64]);
                    let g: f64 = StandardNormal.sample(&mut rng);
                    val += noise * g;
                }
                *yv = val;
            })
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn sample_is_thread_independent_and_normalised() {
        let (n, d, p) = (400, 300, 2);
        let ch = Channel::from_name("prod", 2, 0.1, None).unwrap();
        let run = |threads| {
            let mut x = vec![0.0f64; n * d];
            let (mut w, mut z, mut y) = (vec![0.0; d * p], vec![0.0; n * p], vec![0.0; n]);
            multi_index(&pool(Some(threads)).unwrap(), n, d, p, Some(&Prior::Rademacher), Some(&ch), 7, &mut x, &mut w, &mut z, &mut y).unwrap();
            (x, w, z, y)
        };
        let a = run(1);
        let b = run(2);
        assert_eq!(a.0, b.0);
        assert_eq!(a.3, b.3);
        let var_x = a.0.iter().map(|v| v * v).sum::<f64>() / (n * d) as f64;
        assert!((var_x * d as f64 - 1.0).abs() < 0.02, "{var_x}");
        let var_z = a.2.iter().map(|v| v * v).sum::<f64>() / (n * p) as f64;
        assert!((var_z - 1.0).abs() < 0.15, "{var_z}");
        // float32 storage: same design up to rounding
        let mut x32 = vec![0.0f32; n * d];
        let (mut w, mut z, mut y) = (vec![0.0; d * p], vec![0.0; n * p], vec![0.0; n]);
        multi_index(&pool(Some(2)).unwrap(), n, d, p, Some(&Prior::Rademacher), Some(&ch), 7, &mut x32, &mut w, &mut z, &mut y).unwrap();
        assert!(x32.iter().zip(&a.0).all(|(u, v)| (*u as f64 - v).abs() < 1e-7));
        let wrong = Channel::from_name("sign", 1, 0.0, None).unwrap();
        assert!(multi_index(&pool(Some(1)).unwrap(), n, d, p, None, Some(&wrong), 7, &mut x32, &mut w, &mut z, &mut y).is_err());
    }
}
