//! Samplers of the matrix-sensing models: teachers, inputs and labels (normalisations in
//! `operators.rs` and in `hdcore.models.matrix_sensing`). Every random quantity comes from
//! streams keyed by `(seed, tag, row or sample)`, so samples do not depend on the number of
//! threads.

use super::gemm;
use super::operators::SensingOperator;
use super::tags;
use crate::error::{ensure, Result};
use crate::rmt::sample::gaussian_matrix;
use crate::rng::stream;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Wishart teacher: `W` (`m x d`, i.i.d. N(0, 1)) and `S = W^T W / m` (spectral units).
pub fn wishart_teacher(
    pool: &ThreadPool,
    d: usize,
    m: usize,
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    ensure(d > 0 && m > 0, "m", || {
        format!("teacher sizes must be positive, got d = {d}, m = {m}")
    })?;
    {
        use crate::alloc::{bytes, ensure_fits, total};
        let need = total("d", &[bytes::<f64>("m", &[m, d])?, bytes::<f64>("d", &[2, d, d])?])?;
        ensure_fits("d", need)?;
    }
    let w = gaussian_matrix(pool, m, d, seed, tags::TEACHER);
    let mut s = gemm::at_diag_a(pool, &w, &vec![1.0; m], m, d);
    let inv = 1.0 / m as f64;
    s.iter_mut().for_each(|v| *v *= inv);
    Ok((w, s))
}

/// Product teacher: `V` (`rows x r`), `U` (`r x cols`), i.i.d. N(0, 1), and `S = V U / sqrt(r)`
/// (entry units, `E S_ij^2 = 1`).
pub fn product_teacher(
    pool: &ThreadPool,
    rows: usize,
    cols: usize,
    r: usize,
    seed: u64,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    ensure(rows > 0 && cols > 0 && r > 0, "r", || {
        format!("teacher sizes must be positive, got {rows} x {cols}, rank {r}")
    })?;
    {
        use crate::alloc::{bytes, ensure_fits, total};
        let need = total(
            "rows",
            &[
                bytes::<f64>("r", &[rows, r])?,
                bytes::<f64>("r", &[r, cols])?,
                bytes::<f64>("rows", &[rows, cols])?,
            ],
        )?;
        ensure_fits("rows", need)?;
    }
    let v = gaussian_matrix(pool, rows, r, seed, tags::TEACHER);
    let u = gaussian_matrix(pool, r, cols, seed, tags::TEACHER_B);
    let mut s = gemm::a_b(pool, &v, &u, rows, r, cols);
    let inv = 1.0 / (r as f64).sqrt();
    s.iter_mut().for_each(|x| *x *= inv);
    Ok((v, u, s))
}

/// `n x d` i.i.d. N(0, 1) inputs (rows `x_mu`).
pub fn gaussian_inputs(pool: &ThreadPool, n: usize, d: usize, seed: u64) -> Vec<f64> {
    gaussian_matrix(pool, n, d, seed, tags::DESIGN)
}

/// Labels `y_mu = <A_mu, S> + sqrt(delta) xi_mu`.
pub fn labels(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    s: &[f64],
    delta: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    ensure(delta.is_finite() && delta >= 0.0, "noise", || {
        format!("must be finite and >= 0, got {delta}")
    })?;
    let mut y = vec![0.0; op.n_samples()];
    op.forward(pool, s, &mut y)?;
    if delta > 0.0 {
        add_noise(pool, &mut y, delta, seed, tags::NOISE);
    }
    Ok(y)
}

fn add_noise(pool: &ThreadPool, y: &mut [f64], delta: f64, seed: u64, tag: u64) {
    let sd = delta.sqrt();
    pool.install(|| {
        y.par_chunks_mut(crate::rng::CHUNK)
            .enumerate()
            .for_each(|(c, ch)| {
                let mut rng = stream(seed, &[tag, c as u64]);
                for v in ch.iter_mut() {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    *v += sd * z;
                }
            })
    });
}

/// Labels of the extensive-width quadratic network in sensing units,
/// `y_mu = (1 / sqrt(m kappa)) sum_k [ (w_k . x_mu / sqrt(d) + sigma xi_{mu k})^2
/// - ||w_k||^2 / d - sigma^2 ]`, `kappa = m/d`, with pre-activation noise `xi ~ N(0, 1)` from
/// the stream `(seed, PREACTIVATION, mu)`. For `sigma = 0` this is exactly
/// `(x^T S x - Tr S)/sqrt(d)` with `S = W^T W/m`.
#[allow(clippy::too_many_arguments)]
pub fn network_labels(
    pool: &ThreadPool,
    x: &[f64],
    w: &[f64],
    n: usize,
    d: usize,
    m: usize,
    sigma: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    ensure(x.len() == n * d, "x", || {
        format!("has {} entries, expected {n} x {d}", x.len())
    })?;
    ensure(w.len() == m * d, "w", || {
        format!("has {} entries, expected {m} x {d}", w.len())
    })?;
    ensure(sigma.is_finite() && sigma >= 0.0, "noise", || {
        format!("must be finite and >= 0, got {sigma}")
    })?;
    let wt: Vec<f64> = (0..d * m).map(|k| w[(k % m) * d + k / m]).collect(); // d x m
    let h = gemm::a_b(pool, x, &wt, n, d, m); // n x m, entries w_k . x_mu
    let norms: Vec<f64> = (0..m)
        .map(|k| w[k * d..(k + 1) * d].iter().map(|v| v * v).sum::<f64>() / d as f64)
        .collect();
    let (sd, scale) = (
        (d as f64).sqrt(),
        1.0 / ((m as f64) * (m as f64 / d as f64)).sqrt(),
    );
    let mut y = vec![0.0; n];
    pool.install(|| {
        y.par_iter_mut().enumerate().for_each(|(mu, out)| {
            let mut rng = stream(seed, &[tags::PREACTIVATION, mu as u64]);
            let mut acc = 0.0;
            for k in 0..m {
                let xi: f64 = if sigma > 0.0 {
                    StandardNormal.sample(&mut rng)
                } else {
                    0.0
                };
                let pre = h[mu * m + k] / sd + sigma * xi;
                acc += pre * pre - norms[k] - sigma * sigma;
            }
            *out = acc * scale;
        })
    });
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensing::operators::Quadratic;
    use crate::threads::pool;

    #[test]
    fn noiseless_network_labels_are_quadratic_sensing_of_the_wishart_teacher() {
        let p = pool(Some(2)).unwrap();
        let (n, d, m) = (200, 30, 12);
        let (w, s) = wishart_teacher(&p, d, m, 1).unwrap();
        let x = gaussian_inputs(&p, n, d, 1);
        let y_net = network_labels(&p, &x, &w, n, d, m, 0.0, 1).unwrap();
        let y_op = labels(&p, &Quadratic::new(&x, n, d).unwrap(), &s, 0.0, 1).unwrap();
        for (a, b) in y_net.iter().zip(&y_op) {
            assert!((a - b).abs() < 1e-10 * (1.0 + a.abs()), "{a} vs {b}");
        }
        let y1 = network_labels(&pool(Some(1)).unwrap(), &x, &w, n, d, m, 0.3, 4).unwrap();
        let y2 = network_labels(&p, &x, &w, n, d, m, 0.3, 4).unwrap();
        assert_eq!(y1, y2);
    }
}
