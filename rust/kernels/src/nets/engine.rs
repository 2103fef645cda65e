//! The pieces every streamed two-layer-network kernel is built from: pointwise functions, the
//! sampler of one row block, the forward pass of a block on a faer GEMM, and [`StripSum`], the
//! deterministic accumulator of `A^T B` over row blocks.

use crate::error::{ensure, invalid, Result};
use crate::linalg::simd::dot;
use crate::rng::stream;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Rows of a block per task of [`preactivations`].
const ROWS: usize = 128;
/// Output columns per task of [`StripSum`].
const STRIP: usize = 64;

/// A pointwise function: a student activation or a single-index target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `tanh(x)`.
    Tanh,
    /// `max(x, 0)` (derivative `1[x > 0]`).
    Relu,
    /// `sin(x)`.
    Sin,
    /// `erf(x)`.
    Erf,
    /// `x`.
    Linear,
    /// `He_2(x)/sqrt(2) = (x^2 - 1)/sqrt(2)`.
    He2,
}

impl Function {
    /// Parse a name (`tanh`, `relu`, `sin`, `erf`, `linear`, `he2`); `what` names the argument.
    pub fn parse(name: &str, what: &'static str) -> Result<Self> {
        Ok(match name {
            "tanh" => Self::Tanh,
            "relu" => Self::Relu,
            "sin" => Self::Sin,
            "erf" => Self::Erf,
            "linear" => Self::Linear,
            "he2" => Self::He2,
            other => {
                return Err(invalid(
                    what,
                    format!(
                    "unknown function {other:?}; expected one of tanh, relu, sin, erf, linear, he2"
                ),
                ))
            }
        })
    }

    /// `f(x)`.
    #[inline]
    pub fn value(self, x: f64) -> f64 {
        match self {
            Self::Tanh => x.tanh(),
            Self::Relu => x.max(0.0),
            Self::Sin => x.sin(),
            Self::Erf => libm::erf(x),
            Self::Linear => x,
            Self::He2 => (x * x - 1.0) * std::f64::consts::FRAC_1_SQRT_2,
        }
    }

    /// `f'(x)`.
    #[inline]
    pub fn deriv(self, x: f64) -> f64 {
        match self {
            Self::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Sin => x.cos(),
            Self::Erf => std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp(),
            Self::Linear => 1.0,
            Self::He2 => std::f64::consts::SQRT_2 * x,
        }
    }
}

/// A teacher: unit direction `theta` (length `d`), target function and label-noise variance.
#[derive(Debug, Clone, Copy)]
pub struct Teacher<'a> {
    /// `theta*` (`||theta*|| = 1` in the models; not re-normalised here).
    pub theta: &'a [f64],
    /// `sigma*`.
    pub target: Function,
    /// Label-noise variance.
    pub noise: f64,
}

impl Teacher<'_> {
    /// Check the teacher against the input dimension `d`.
    pub fn check(&self, d: usize) -> Result<()> {
        ensure(self.theta.len() == d, "theta", || {
            format!("has length {}, expected d = {d}", self.theta.len())
        })?;
        ensure(self.theta.iter().all(|v| v.is_finite()), "theta", || {
            "contains NaN or infinity".into()
        })?;
        ensure(self.noise.is_finite() && self.noise >= 0.0, "noise", || {
            format!("must be finite and >= 0, got {}", self.noise)
        })
    }
}

/// Fill rows `row0 .. row0 + rows` of the batch tagged `tag`: `x` (`rows x d`, `x ~ N(0, I_d)`,
/// row `mu` from the stream `(seed, tag, mu)`) and the labels `y = target(<theta, x>) + sqrt(noise)
/// xi` (`xi` from `(seed, tag + 1, mu)`; no draw when `noise = 0`).
#[allow(clippy::too_many_arguments)]
pub fn sample_block(
    pool: &ThreadPool,
    seed: u64,
    tag: u64,
    row0: usize,
    d: usize,
    teacher: &Teacher<'_>,
    x: &mut [f64],
    y: &mut [f64],
) {
    let sd = teacher.noise.sqrt();
    pool.install(|| {
        x.par_chunks_mut(d)
            .zip(y.par_iter_mut())
            .enumerate()
            .for_each(|(i, (row, yi))| {
                let mu = (row0 + i) as u64;
                let mut rng = stream(seed, &[tag, mu]);
                for v in row.iter_mut() {
                    *v = StandardNormal.sample(&mut rng);
                }
                let mut val = teacher.target.value(dot(row, teacher.theta));
                if sd > 0.0 {
                    let mut r = stream(seed, &[tag + 1, mu]);
                    let g: f64 = StandardNormal.sample(&mut r);
                    val += sd * g;
                }
                *yi = val;
            })
    });
}

/// Fill `out` (`rows x d`, row-major) with i.i.d. rows uniform on the unit sphere of `R^d`
/// (Gaussian rows from the streams `(seed, tag, chunk)`, normalised).
pub fn sphere_rows(pool: &ThreadPool, seed: u64, tag: u64, d: usize, out: &mut [f64]) {
    crate::rng::fill_standard_normal(pool, seed, tag, out);
    pool.install(|| {
        out.par_chunks_mut(d).for_each(|row| {
            let nrm = dot(row, row).sqrt();
            if nrm > 0.0 {
                row.iter_mut().for_each(|v| *v /= nrm);
            }
        })
    });
}

/// `z = x W^T` for a block `x` (`rows x d`) and `W` (`p x d`), all row-major; fixed chunks of
/// [`ROWS`] rows, one sequential faer product each.
pub fn preactivations(pool: &ThreadPool, x: &[f64], w: &[f64], d: usize, p: usize, z: &mut [f64]) {
    let wt = MatRef::from_row_major_slice(w, p, d).transpose();
    pool.install(|| {
        z.par_chunks_mut(ROWS * p)
            .zip(x.par_chunks(ROWS * d))
            .for_each(|(zc, xc)| {
                let rows = xc.len() / d;
                let xm = MatRef::from_row_major_slice(xc, rows, d);
                let zm = MatMut::from_row_major_slice_mut(zc, rows, p);
                matmul(zm, Accum::Replace, xm, wt, 1.0, Par::Seq);
            })
    });
}

/// The network output `f_mu = a^T sigma(z_mu)/sqrt(p)` of each row of `z` (`rows x p`).
pub fn outputs(pool: &ThreadPool, z: &[f64], a: &[f64], act: Function, out: &mut [f64]) {
    let p = a.len();
    let s = 1.0 / (p as f64).sqrt();
    pool.install(|| {
        out.par_iter_mut().zip(z.par_chunks(p)).for_each(|(o, zr)| {
            *o = s * zr
                .iter()
                .zip(a)
                .map(|(&v, &aj)| aj * act.value(v))
                .sum::<f64>();
        })
    });
}

/// `sum_b A_b^T B_b` over row blocks `(A_b, B_b)` (`rows x m`, `rows x n`), deterministic: the
/// `n` output columns are split into fixed strips of [`STRIP`] columns, each strip owned by one
/// task that adds the blocks in the order they come. With `lower` (a Gram matrix, `A = B`)
/// only the rows `i >= j0` of strip `j0..j1` are computed and the result is mirrored.
pub struct StripSum {
    m: usize,
    n: usize,
    lower: bool,
    strips: Vec<(usize, usize)>,
    acc: Vec<Mat<f64>>,
    started: bool,
}

impl StripSum {
    /// An empty sum with `m x n` output (`lower` needs `m = n`).
    pub fn new(m: usize, n: usize, lower: bool) -> Self {
        let strips: Vec<(usize, usize)> = (0..n.div_ceil(STRIP))
            .map(|s| (s * STRIP, ((s + 1) * STRIP).min(n)))
            .collect();
        let acc = strips
            .iter()
            .map(|&(j0, j1)| Mat::zeros(if lower { m - j0 } else { m }, j1 - j0))
            .collect();
        Self {
            m,
            n,
            lower,
            strips,
            acc,
            started: false,
        }
    }

    /// Add `A^T B` for one block (`a`: `rows x m`, `b`: `rows x n`, row-major).
    pub fn add(&mut self, pool: &ThreadPool, a: &[f64], b: &[f64], rows: usize) {
        let (m, n, lower) = (self.m, self.n, self.lower);
        let am = MatRef::from_row_major_slice(&a[..rows * m], rows, m);
        let bm = MatRef::from_row_major_slice(&b[..rows * n], rows, n);
        let accum = if self.started {
            Accum::Add
        } else {
            Accum::Replace
        };
        let strips = &self.strips;
        pool.install(|| {
            self.acc
                .par_iter_mut()
                .zip(strips.par_iter())
                .for_each(|(acc, &(j0, j1))| {
                    let i0 = if lower { j0 } else { 0 };
                    matmul(
                        acc.as_mut(),
                        accum,
                        am.subcols(i0, m - i0).transpose(),
                        bm.subcols(j0, j1 - j0),
                        1.0,
                        Par::Seq,
                    );
                })
        });
        self.started = true;
    }

    /// The sum times `scale`, row-major `m x n` (mirrored when `lower`).
    pub fn finish(self, scale: f64, out: &mut [f64]) {
        let n = self.n;
        for (&(j0, j1), acc) in self.strips.iter().zip(&self.acc) {
            let i0 = if self.lower { j0 } else { 0 };
            for j in j0..j1 {
                for i in i0..self.m {
                    let v = if self.started {
                        scale * acc[(i - i0, j - j0)]
                    } else {
                        0.0
                    };
                    out[i * n + j] = v;
                    if self.lower {
                        out[j * n + i] = v;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn strip_sum_matches_naive_loops_for_any_thread_count() {
        // integer data: every sum is exact, so the blocked result must equal the naive one
        let (rows, m, n) = (37, 150, 131);
        let a: Vec<f64> = (0..rows * m)
            .map(|i| ((i * 7919) % 7) as f64 - 3.0)
            .collect();
        let b: Vec<f64> = (0..rows * n)
            .map(|i| ((i * 104729) % 5) as f64 - 2.0)
            .collect();
        let run = |threads| {
            let pl = pool(Some(threads)).unwrap();
            let mut s = StripSum::new(m, n, false);
            s.add(&pl, &a, &b, rows);
            s.add(&pl, &a, &b, rows);
            let mut out = vec![0.0; m * n];
            s.finish(0.5, &mut out);
            out
        };
        let naive: Vec<f64> = (0..m * n)
            .map(|ij| {
                (0..rows)
                    .map(|r| a[r * m + ij / n] * b[r * n + ij % n])
                    .sum()
            })
            .collect();
        assert_eq!(run(1), naive);
        assert_eq!(run(3), naive);
        // Gram matrix (lower + mirror)
        let pl = pool(Some(2)).unwrap();
        let mut g = StripSum::new(n, n, true);
        g.add(&pl, &b, &b, rows);
        let mut out = vec![0.0; n * n];
        g.finish(1.0, &mut out);
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..rows).map(|r| b[r * n + i] * b[r * n + j]).sum();
                assert_eq!(out[i * n + j], v);
            }
        }
    }

    #[test]
    fn functions_and_derivatives_agree() {
        for f in [
            Function::Tanh,
            Function::Sin,
            Function::Erf,
            Function::Linear,
            Function::He2,
            Function::Relu,
        ] {
            for &x in &[-1.3, -0.2, 0.4, 2.1] {
                let h = 1e-6;
                let num = (f.value(x + h) - f.value(x - h)) / (2.0 * h);
                assert!((num - f.deriv(x)).abs() < 1e-6, "{f:?} at {x}");
            }
        }
        assert!(Function::parse("bogus", "activation").is_err());
    }
}
