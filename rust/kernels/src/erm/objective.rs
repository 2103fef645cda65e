//! The data term `sum_mu rho(y_mu - (X w)_mu / sqrt(d))` and its derivatives, evaluated in fixed
//! chunks of samples whose partial sums are reduced in chunk order (bit-identical results for
//! any number of threads).
//!
//! Along a search direction `p` the pre-activations are an affine combination
//! `a * xw + b * xp` of the two n-vectors `xw = X w/sqrt(d)` and `xp = X p/sqrt(d)`, so every
//! trial step of the line search costs O(n) and no pass over `X`: an L-BFGS iteration streams
//! `X` exactly twice (`X p` and `X^T rho'`).

use crate::error::{ensure, Result};
use crate::linalg::simd::{axpy, dot as simd_dot};
use crate::linalg::{Dense, LinearOperator, Scalar};
use crate::losses::Loss;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Samples per task of the reductions.
const CHUNK: usize = 1 << 12;

/// A loss as seen by the solver: the loss itself, or the Huber-type smoothing of a kinked one
/// (continuation in `a`, see [`super::erm`]): the absolute loss as `huber_a(r)/a`, the hinge
/// `max(0, 1 + r)` as `0` for `t = 1 + r <= 0`, `t^2/(2a)` for `0 < t < a`, `t - a/2` beyond.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Smooth {
    Exact(Loss),
    Absolute { a: f64 },
    Hinge { a: f64 },
}

impl Smooth {
    pub fn new(loss: Loss) -> Self {
        Smooth::Exact(loss)
    }

    #[inline]
    pub fn eval(&self, r: f64) -> (f64, f64, f64) {
        match *self {
            Smooth::Exact(loss) => loss.eval(r),
            Smooth::Absolute { a } => {
                let (v, d1, d2) = Loss::Huber { a }.eval(r);
                (v / a, d1 / a, d2 / a)
            }
            Smooth::Hinge { a } => {
                let t = 1.0 + r;
                if t <= 0.0 {
                    (0.0, 0.0, 0.0)
                } else if t < a {
                    (0.5 * t * t / a, t / a, 1.0 / a)
                } else {
                    (t - 0.5 * a, 1.0, 0.0)
                }
            }
        }
    }

    #[inline]
    pub fn d2(&self, r: f64) -> f64 {
        match *self {
            Smooth::Exact(loss) => loss.d2(r),
            _ => self.eval(r).2,
        }
    }
}

/// Rows per task of the fused weighted Gram product.
const GRAM_BLOCK: usize = 256;

/// A design matrix for ERM: a [`LinearOperator`] that can also apply its weighted Gram matrix
/// `X^T diag(c) X` (the Hessian of the data term, up to `1/d`).
pub trait Design: LinearOperator {
    /// `out = X^T diag(c) X v` (default: a pass with `X`, a pass with `X^T`).
    fn weighted_gram(
        &self,
        pool: &ThreadPool,
        c: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        let mut t = vec![0.0; self.nrows()];
        self.apply(pool, v, &mut t)?;
        t.iter_mut().zip(c).for_each(|(a, b)| *a *= b);
        self.apply_t(pool, &t, out)
    }

    /// Passes over `X` one [`Design::weighted_gram`] costs.
    fn gram_passes(&self) -> usize {
        2
    }
}

/// Dense storage fuses the two passes: each row is read once, `t = x_mu . v`, then
/// `out += c_mu t x_mu` while the row is in cache. Fixed blocks of rows give partial vectors
/// summed in block order (thread-count independent).
impl<T: Scalar> Design for Dense<'_, T> {
    fn weighted_gram(
        &self,
        pool: &ThreadPool,
        c: &[f64],
        v: &[f64],
        out: &mut [f64],
    ) -> Result<()> {
        let (n, d) = (self.nrows(), self.ncols());
        ensure(c.len() == n, "c", || {
            format!("has length {}, expected {n}", c.len())
        })?;
        ensure(v.len() == d && out.len() == d, "v", || {
            format!(
                "v and out must have length {d}, got {} and {}",
                v.len(),
                out.len()
            )
        })?;
        let partials: Vec<Vec<f64>> = pool.install(|| {
            (0..n.div_ceil(GRAM_BLOCK))
                .into_par_iter()
                .map(|b| {
                    let mut p = vec![0.0; d];
                    let rows = b * GRAM_BLOCK..((b + 1) * GRAM_BLOCK).min(n);
                    for (i, &ci) in rows.clone().zip(&c[rows]) {
                        let row = self.row(i);
                        let t = ci * simd_dot(row, v);
                        if t != 0.0 {
                            axpy(t, row, &mut p);
                        }
                    }
                    p
                })
                .collect()
        });
        pool.install(|| {
            out.par_chunks_mut(512).enumerate().for_each(|(s, oc)| {
                let j0 = s * 512;
                oc.fill(0.0);
                for p in &partials {
                    for (k, o) in oc.iter_mut().enumerate() {
                        *o += p[j0 + k];
                    }
                }
            })
        });
        Ok(())
    }

    fn gram_passes(&self) -> usize {
        1
    }
}

/// The data of an ERM problem.
pub(crate) struct Data<'a, O: ?Sized> {
    pub pool: &'a ThreadPool,
    pub x: &'a O,
    pub y: &'a [f64],
    pub inv_sqrt_d: f64,
    /// Passes over `X` so far.
    pub passes: usize,
}

impl<O: Design + ?Sized> Data<'_, O> {
    pub fn n(&self) -> usize {
        self.y.len()
    }

    /// `out = X v / sqrt(d)`.
    pub fn forward(&mut self, v: &[f64], out: &mut [f64]) -> Result<()> {
        self.x.apply(self.pool, v, out)?;
        self.passes += 1;
        let s = self.inv_sqrt_d;
        out.iter_mut().for_each(|o| *o *= s);
        Ok(())
    }

    /// `out = X^T u / sqrt(d)`.
    pub fn backward(&mut self, u: &[f64], out: &mut [f64]) -> Result<()> {
        self.x.apply_t(self.pool, u, out)?;
        self.passes += 1;
        let s = self.inv_sqrt_d;
        out.iter_mut().for_each(|o| *o *= s);
        Ok(())
    }

    /// `out = X^T diag(c) X v / d`.
    pub fn gram(&mut self, c: &[f64], v: &[f64], out: &mut [f64]) -> Result<()> {
        self.x.weighted_gram(self.pool, c, v, out)?;
        self.passes += self.x.gram_passes();
        let s = self.inv_sqrt_d * self.inv_sqrt_d;
        out.iter_mut().for_each(|o| *o *= s);
        Ok(())
    }

    /// With `r = y - a xw - b xp`: `(sum rho(r), sum rho'(r) xw, sum rho'(r) xp)`.
    pub fn line_sums(&self, loss: &Smooth, xw: &[f64], xp: &[f64], a: f64, b: f64) -> [f64; 3] {
        let y = self.y;
        let parts: Vec<[f64; 3]> = self.pool.install(|| {
            y.par_chunks(CHUNK)
                .enumerate()
                .map(|(c, yc)| {
                    let off = c * CHUNK;
                    let mut acc = [0.0; 3];
                    for (k, &yv) in yc.iter().enumerate() {
                        let (u, v) = (xw[off + k], xp[off + k]);
                        let (f, d1, _) = loss.eval(yv - a * u - b * v);
                        acc[0] += f;
                        acc[1] += d1 * u;
                        acc[2] += d1 * v;
                    }
                    acc
                })
                .collect()
        });
        parts
            .iter()
            .fold([0.0; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]])
    }

    /// `sum rho''(y - xw) xp^2` (curvature of the data term along `p`).
    pub fn curvature(&self, loss: &Smooth, xw: &[f64], xp: &[f64]) -> f64 {
        let y = self.y;
        let parts: Vec<f64> = self.pool.install(|| {
            y.par_chunks(CHUNK)
                .enumerate()
                .map(|(c, yc)| {
                    let off = c * CHUNK;
                    yc.iter()
                        .enumerate()
                        .map(|(k, &yv)| {
                            let v = xp[off + k];
                            loss.d2(yv - xw[off + k]) * v * v
                        })
                        .sum::<f64>()
                })
                .collect()
        });
        parts.iter().sum()
    }

    /// Writes `rho'(y - xw)` into `d1` and `rho''(y - xw)` into `d2` (if given); returns
    /// `sum rho(y - xw)`.
    pub fn derivatives(
        &self,
        loss: &Smooth,
        xw: &[f64],
        d1: &mut [f64],
        d2: Option<&mut [f64]>,
    ) -> f64 {
        let y = self.y;
        let parts: Vec<f64> = self.pool.install(|| match d2 {
            Some(d2) => y
                .par_chunks(CHUNK)
                .zip(d1.par_chunks_mut(CHUNK))
                .zip(d2.par_chunks_mut(CHUNK))
                .enumerate()
                .map(|(c, ((yc, ac), bc))| {
                    let off = c * CHUNK;
                    let mut s = 0.0;
                    for k in 0..yc.len() {
                        let (f, a, b) = loss.eval(yc[k] - xw[off + k]);
                        s += f;
                        ac[k] = a;
                        bc[k] = b;
                    }
                    s
                })
                .collect(),
            None => y
                .par_chunks(CHUNK)
                .zip(d1.par_chunks_mut(CHUNK))
                .enumerate()
                .map(|(c, (yc, ac))| {
                    let off = c * CHUNK;
                    let mut s = 0.0;
                    for k in 0..yc.len() {
                        let (f, a, _) = loss.eval(yc[k] - xw[off + k]);
                        s += f;
                        ac[k] = a;
                    }
                    s
                })
                .collect(),
        });
        parts.iter().sum()
    }
}

/// Deterministic dot product of two d- or n-vectors (fixed chunks, ordered reduction).
pub(crate) fn dot(pool: &ThreadPool, a: &[f64], b: &[f64]) -> f64 {
    if a.len() <= 4 * CHUNK {
        return a.iter().zip(b).map(|(x, y)| x * y).sum();
    }
    let parts: Vec<f64> = pool.install(|| {
        a.par_chunks(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>())
            .collect()
    });
    parts.iter().sum()
}
