//! Implicit sensing operators `S -> (<A_mu, S>)_mu` and their adjoints `g -> sum_mu g_mu A_mu`.
//! No operator stores the `n` sensing matrices.
//!
//! Normalisations (hdcore's matrix-sensing convention, see `hdcore.models.matrix_sensing`):
//! * [`Quadratic`]: `A_mu = (x_mu x_mu^T - I_d) / sqrt(d)`, `x_mu ~ N(0, I_d)` (the rows of the
//!   stored input matrix), `S` in spectral units. Forward `h = (x^T S x - Tr S)/sqrt(d)` via
//!   row-chunked triangular products `X tril(S)` fused with the row dots
//!   ([`gemm::quadratic_forms`]); adjoint `(X^T diag(g) X - (sum g) I)/sqrt(d)` via the lower
//!   triangle accumulated over fixed row blocks ([`gemm::at_diag_a_blocked`]): `n d^2` flops each.
//! * [`GaussianSymmetric`]: `A_mu = G_mu / sqrt(d)`, `G` symmetric with N(0, 1) off-diagonal and
//!   N(0, 2) diagonal entries, regenerated from the stream `(seed, DESIGN, mu)`.
//! * [`GaussianRect`]: `A_mu = X_mu / sqrt(d1 d2)`, `X_mu` i.i.d. N(0, 1) (`d1 x d2`),
//!   regenerated from `(seed, DESIGN, mu)`; `S` in entry units.
//!
//! The symmetric operators satisfy `E[A <A, B>] = 2B/d` (Isserlis: `Var Tr((xx^T - I)B) =
//! 2 Tr B^2`), the rectangular one `E[A <A, B>] = B/(d1 d2)`; [`Geometry`] records the
//! resulting constants of GAMP.

use super::gemm;
use super::tags;
use crate::error::{ensure, Result};
use crate::rng::stream;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Samples per task of the implicit Gaussian operators.
const SAMPLE_BLOCK: usize = 32;

/// Constants of the Gaussian output channel for an operator with `n` samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// `Var_post <A, S>` = `c` x (MMSE per unit): 2 (symmetric), 1 (rectangular).
    pub c: f64,
    /// `sum_mu A_mu <A_mu, B> ~ field_gain B`: `2n/d` or `n/(d1 d2)`.
    pub field_gain: f64,
    /// The effective denoising noise is `(Delta + V)/noise_gain`: `4n/d^2` or `n/(d1 d2)`.
    pub noise_gain: f64,
}

/// A linear sensing operator on `rows x cols` matrices (row-major).
pub trait SensingOperator: Sync {
    /// Number of samples `n`.
    fn n_samples(&self) -> usize;
    /// Rows of `S`.
    fn rows(&self) -> usize;
    /// Columns of `S`.
    fn cols(&self) -> usize;
    /// Whether `S` (and every `A_mu`) is symmetric.
    fn symmetric(&self) -> bool;
    /// `out_mu = <A_mu, S>`.
    fn forward(&self, pool: &ThreadPool, s: &[f64], out: &mut [f64]) -> Result<()>;
    /// `out = sum_mu g_mu A_mu`.
    fn adjoint(&self, pool: &ThreadPool, g: &[f64], out: &mut [f64]) -> Result<()>;
    /// Channel constants.
    fn geometry(&self) -> Geometry {
        let n = self.n_samples() as f64;
        let (r, c) = (self.rows() as f64, self.cols() as f64);
        if self.symmetric() {
            Geometry {
                c: 2.0,
                field_gain: 2.0 * n / r,
                noise_gain: 4.0 * n / (r * r),
            }
        } else {
            Geometry {
                c: 1.0,
                field_gain: n / (r * c),
                noise_gain: n / (r * c),
            }
        }
    }
}

fn check_io(op: &dyn SensingOperator, s_len: usize, out_len: usize, forward: bool) -> Result<()> {
    let (len_s, len_h) = (op.rows() * op.cols(), op.n_samples());
    if forward {
        ensure(s_len == len_s, "s", || {
            format!(
                "has {s_len} entries, expected {} x {}",
                op.rows(),
                op.cols()
            )
        })?;
        ensure(out_len == len_h, "out", || {
            format!("has length {out_len}, expected {len_h}")
        })
    } else {
        ensure(s_len == len_h, "g", || {
            format!("has length {s_len}, expected {len_h}")
        })?;
        ensure(out_len == len_s, "out", || {
            format!(
                "has {out_len} entries, expected {} x {}",
                op.rows(),
                op.cols()
            )
        })
    }
}

/// Quadratic sensing `A_mu = (x_mu x_mu^T - I)/sqrt(d)` on the stored inputs `x` (`n x d`).
#[derive(Debug, Clone, Copy)]
pub struct Quadratic<'a> {
    x: &'a [f64],
    n: usize,
    d: usize,
}

impl<'a> Quadratic<'a> {
    /// View the row-major `n x d` inputs.
    pub fn new(x: &'a [f64], n: usize, d: usize) -> Result<Self> {
        ensure(x.len() == n * d, "x", || {
            format!("has {} entries, expected {n} x {d}", x.len())
        })?;
        ensure(d > 0 && n > 0, "x", || {
            "must have at least one sample and one column".into()
        })?;
        Ok(Self { x, n, d })
    }
}

impl SensingOperator for Quadratic<'_> {
    fn n_samples(&self) -> usize {
        self.n
    }
    fn rows(&self) -> usize {
        self.d
    }
    fn cols(&self) -> usize {
        self.d
    }
    fn symmetric(&self) -> bool {
        true
    }
    fn forward(&self, pool: &ThreadPool, s: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, s.len(), out.len(), true)?;
        let d = self.d;
        let trace: f64 = (0..d).map(|i| s[i * d + i]).sum();
        gemm::quadratic_forms(pool, self.x, s, self.n, d, out);
        let scale = 1.0 / (d as f64).sqrt();
        for h in out.iter_mut() {
            *h = (*h - trace) * scale;
        }
        Ok(())
    }
    fn adjoint(&self, pool: &ThreadPool, g: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, g.len(), out.len(), false)?;
        let d = self.d;
        let m = gemm::at_diag_a_blocked(pool, self.x, g, self.n, d);
        let sum_g: f64 = g.iter().sum();
        let scale = 1.0 / (d as f64).sqrt();
        for (k, (o, v)) in out.iter_mut().zip(&m).enumerate() {
            let diag = if k % (d + 1) == 0 { sum_g } else { 0.0 };
            *o = (v - diag) * scale;
        }
        Ok(())
    }
}

/// Symmetric Gaussian (GOE-type) sensing regenerated from its seed.
#[derive(Debug, Clone, Copy)]
pub struct GaussianSymmetric {
    seed: u64,
    n: usize,
    d: usize,
}

impl GaussianSymmetric {
    /// `n` symmetric `d x d` sensing matrices keyed by `seed`.
    pub fn new(seed: u64, n: usize, d: usize) -> Result<Self> {
        ensure(n > 0 && d > 0, "n", || "sizes must be positive".into())?;
        Ok(Self { seed, n, d })
    }

    /// Upper triangle (row by row) of `G_mu` (diagonal already multiplied by sqrt 2).
    pub fn upper(&self, mu: usize, buf: &mut [f64]) {
        let mut rng = stream(self.seed, &[tags::DESIGN, mu as u64]);
        let d = self.d;
        let mut k = 0;
        for i in 0..d {
            for j in i..d {
                let v: f64 = StandardNormal.sample(&mut rng);
                buf[k] = if i == j {
                    v * std::f64::consts::SQRT_2
                } else {
                    v
                };
                k += 1;
            }
        }
    }
}

impl SensingOperator for GaussianSymmetric {
    fn n_samples(&self) -> usize {
        self.n
    }
    fn rows(&self) -> usize {
        self.d
    }
    fn cols(&self) -> usize {
        self.d
    }
    fn symmetric(&self) -> bool {
        true
    }
    fn forward(&self, pool: &ThreadPool, s: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, s.len(), out.len(), true)?;
        let d = self.d;
        // <G, S> = sum_i G_ii S_ii + 2 sum_{i<j} G_ij S_ij, on the packed upper triangle.
        let mut w = Vec::with_capacity(d * (d + 1) / 2);
        for i in 0..d {
            for j in i..d {
                w.push(if i == j {
                    s[i * d + i]
                } else {
                    s[i * d + j] + s[j * d + i]
                });
            }
        }
        let scale = 1.0 / (d as f64).sqrt();
        pool.install(|| {
            out.par_chunks_mut(SAMPLE_BLOCK)
                .enumerate()
                .for_each(|(b, o)| {
                    let mut buf = vec![0.0; w.len()];
                    for (k, h) in o.iter_mut().enumerate() {
                        self.upper(b * SAMPLE_BLOCK + k, &mut buf);
                        *h = buf.iter().zip(&w).map(|(a, c)| a * c).sum::<f64>() * scale;
                    }
                })
        });
        Ok(())
    }
    fn adjoint(&self, pool: &ThreadPool, g: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, g.len(), out.len(), false)?;
        let d = self.d;
        let len = d * (d + 1) / 2;
        let partial = reduce_blocks(pool, self.n, len, |mu, acc, buf| {
            self.upper(mu, buf);
            for (a, v) in acc.iter_mut().zip(buf.iter()) {
                *a += g[mu] * v;
            }
        });
        let scale = 1.0 / (d as f64).sqrt();
        let mut k = 0;
        for i in 0..d {
            for j in i..d {
                out[i * d + j] = partial[k] * scale;
                out[j * d + i] = partial[k] * scale;
                k += 1;
            }
        }
        Ok(())
    }
}

/// Sum over samples of per-sample contributions to a vector of length `len`: fixed blocks of
/// [`SAMPLE_BLOCK`] samples accumulate in order, partial vectors are added in block order.
fn reduce_blocks<F>(pool: &ThreadPool, n: usize, len: usize, add: F) -> Vec<f64>
where
    F: Fn(usize, &mut [f64], &mut [f64]) + Sync,
{
    // Bound the memory of the partial sums (at most ~32M floats) by grouping blocks; the
    // grouping depends on the shapes only.
    let n_blocks = n.div_ceil(SAMPLE_BLOCK);
    let groups = n_blocks.clamp(1, (32usize << 20).div_ceil(len.max(1)).clamp(1, 64));
    let per_group = n_blocks.div_ceil(groups);
    let partials: Vec<Vec<f64>> = pool.install(|| {
        (0..groups)
            .into_par_iter()
            .map(|gi| {
                let mut acc = vec![0.0; len];
                let mut buf = vec![0.0; len];
                let start = gi * per_group * SAMPLE_BLOCK;
                let stop = ((gi + 1) * per_group * SAMPLE_BLOCK).min(n);
                for mu in start..stop {
                    add(mu, &mut acc, &mut buf);
                }
                acc
            })
            .collect()
    });
    let mut total = vec![0.0; len];
    for p in &partials {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// Rectangular Gaussian sensing regenerated from its seed.
#[derive(Debug, Clone, Copy)]
pub struct GaussianRect {
    seed: u64,
    n: usize,
    d1: usize,
    d2: usize,
}

impl GaussianRect {
    /// `n` sensing matrices of shape `d1 x d2` keyed by `seed`.
    pub fn new(seed: u64, n: usize, d1: usize, d2: usize) -> Result<Self> {
        ensure(n > 0 && d1 > 0 && d2 > 0, "n", || {
            "sizes must be positive".into()
        })?;
        Ok(Self { seed, n, d1, d2 })
    }

    /// `X_mu` (row-major `d1 x d2`, unnormalised).
    pub fn matrix(&self, mu: usize, buf: &mut [f64]) {
        let mut rng = stream(self.seed, &[tags::DESIGN, mu as u64]);
        for v in buf.iter_mut() {
            *v = StandardNormal.sample(&mut rng);
        }
    }
}

impl SensingOperator for GaussianRect {
    fn n_samples(&self) -> usize {
        self.n
    }
    fn rows(&self) -> usize {
        self.d1
    }
    fn cols(&self) -> usize {
        self.d2
    }
    fn symmetric(&self) -> bool {
        false
    }
    fn forward(&self, pool: &ThreadPool, s: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, s.len(), out.len(), true)?;
        let scale = 1.0 / ((self.d1 * self.d2) as f64).sqrt();
        pool.install(|| {
            out.par_chunks_mut(SAMPLE_BLOCK)
                .enumerate()
                .for_each(|(b, o)| {
                    let mut buf = vec![0.0; s.len()];
                    for (k, h) in o.iter_mut().enumerate() {
                        self.matrix(b * SAMPLE_BLOCK + k, &mut buf);
                        *h = buf.iter().zip(s).map(|(a, c)| a * c).sum::<f64>() * scale;
                    }
                })
        });
        Ok(())
    }
    fn adjoint(&self, pool: &ThreadPool, g: &[f64], out: &mut [f64]) -> Result<()> {
        check_io(self, g.len(), out.len(), false)?;
        let total = reduce_blocks(pool, self.n, self.d1 * self.d2, |mu, acc, buf| {
            self.matrix(mu, buf);
            for (a, v) in acc.iter_mut().zip(buf.iter()) {
                *a += g[mu] * v;
            }
        });
        let scale = 1.0 / ((self.d1 * self.d2) as f64).sqrt();
        for (o, v) in out.iter_mut().zip(total) {
            *o = v * scale;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fill_standard_normal;
    use crate::threads::pool;

    fn check_adjoint(op: &dyn SensingOperator, seed: u64) {
        let p = pool(Some(2)).unwrap();
        let (len, n) = (op.rows() * op.cols(), op.n_samples());
        let mut s = vec![0.0; len];
        fill_standard_normal(&p, seed, 7, &mut s);
        if op.symmetric() {
            let d = op.rows();
            for i in 0..d {
                for j in 0..i {
                    s[i * d + j] = s[j * d + i];
                }
            }
        }
        let mut g = vec![0.0; n];
        fill_standard_normal(&p, seed, 8, &mut g);
        let (mut h, mut m) = (vec![0.0; n], vec![0.0; len]);
        op.forward(&p, &s, &mut h).unwrap();
        op.adjoint(&p, &g, &mut m).unwrap();
        let lhs: f64 = h.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = m.iter().zip(&s).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-9 * (1.0 + lhs.abs()),
            "{lhs} vs {rhs}"
        );
        let (mut h1, mut m1) = (vec![0.0; n], vec![0.0; len]);
        op.forward(&pool(Some(1)).unwrap(), &s, &mut h1).unwrap();
        op.adjoint(&pool(Some(1)).unwrap(), &g, &mut m1).unwrap();
        assert_eq!(h, h1);
        assert_eq!(m, m1);
    }

    #[test]
    fn adjoints_are_adjoint_and_thread_independent() {
        let (n, d) = (300, 37);
        let mut x = vec![0.0; n * d];
        fill_standard_normal(&pool(Some(1)).unwrap(), 1, 5, &mut x);
        check_adjoint(&Quadratic::new(&x, n, d).unwrap(), 2);
        check_adjoint(&GaussianSymmetric::new(3, n, 11).unwrap(), 4);
        check_adjoint(&GaussianRect::new(5, n, 7, 13).unwrap(), 6);
    }

    #[test]
    fn quadratic_sensing_variance_is_twice_tr_b_squared() {
        // Var Tr((x x^T - I) B) = 2 Tr B^2: with A = X/sqrt(d), E <A, B>^2 = 2 Tr B^2 / d.
        let p = pool(None).unwrap();
        let (n, d) = (20_000, 20);
        let mut x = vec![0.0; n * d];
        fill_standard_normal(&p, 11, 5, &mut x);
        let b: Vec<f64> = (0..d * d)
            .map(|k| ((k / d) as f64 - (k % d) as f64).cos() / d as f64)
            .collect();
        let tr_b2: f64 = b.iter().map(|v| v * v).sum();
        let mut h = vec![0.0; n];
        Quadratic::new(&x, n, d)
            .unwrap()
            .forward(&p, &b, &mut h)
            .unwrap();
        let m2 = h.iter().map(|v| v * v).sum::<f64>() / n as f64;
        let want = 2.0 * tr_b2 / d as f64;
        assert!((m2 / want - 1.0).abs() < 0.05, "{m2} vs {want}");
    }
}
