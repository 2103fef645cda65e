//! The input side of GAMP: an [`InputDenoiser`] maps the field `B` (`d x p`) and precision `A`
//! (`p x p`) to the estimate `W = f_in(B, A)` and the average Jacobian
//! `C = (1/d) sum_i d W_i / d b_i` (the next variance `V`). [`ProductPrior`] is the Bayes
//! denoiser of a prior with i.i.d. entries: the posterior mean and covariance of
//! `w in R^p` under `prod_k P(w_k) exp(b^T w - w^T A w / 2)`. Non-separable denoisers (e.g.
//! rotationally invariant matrix denoisers) implement the same trait on the whole field.

use super::small::{Spd, MAXP};
use super::special::MomentAcc;
use crate::error::{ensure, invalid, KernelError, Result};
use crate::priors::Prior;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Input function of GAMP.
pub trait InputDenoiser: Sync {
    /// Number of columns `p`.
    fn p(&self) -> usize;
    /// `b`, `w`: row-major `d x p`; `a`, `c`: row-major `p x p`.
    fn denoise(&self, pool: &ThreadPool, b: &[f64], a: &[f64], w: &mut [f64], c: &mut [f64]) -> Result<()>;
    /// Why the denoiser is not defined at precision `a`, if it is not (the GAMP loop then stops
    /// and reports it); every precision is accepted by default.
    fn outside_domain(&self, _a: &[f64]) -> Option<String> {
        None
    }
}

/// Rows per block of the parallel denoiser (fixed: the sum of Jacobians is reduced in order).
const BLOCK: usize = 1024;

/// A prior with i.i.d. entries on the `p` columns of `W`.
#[derive(Debug, Clone)]
pub struct ProductPrior {
    prior: Prior,
    p: usize,
    /// Atoms `(point, log probability)` of the product prior (discrete priors, `p > 1`).
    atoms: Vec<([f64; MAXP], f64)>,
}

impl ProductPrior {
    /// The product of `p` copies of `prior`.
    pub fn new(prior: Prior, p: usize) -> Result<Self> {
        ensure((1..=MAXP).contains(&p), "p", || format!("must be in 1..={MAXP}, got {p}"))?;
        let single: Vec<(f64, f64)> = match prior {
            Prior::Gaussian => Vec::new(),
            Prior::Spherical if p == 1 => Vec::new(),
            Prior::Spherical => return Err(invalid("prior", "the spherical prior is only available for p = 1")),
            _ if p == 1 => Vec::new(),
            other => other.atoms().ok_or_else(|| {
                invalid("prior", "priors with a continuous part (other than the Gaussian) are only available for p = 1")
            })?,
        };
        let mut atoms = Vec::new();
        if !single.is_empty() && p > 1 {
            let m = single.len();
            let total = m.pow(p as u32);
            for k in 0..total {
                let (mut rest, mut pt, mut lp) = (k, [0.0; MAXP], 0.0);
                for slot in pt.iter_mut().take(p) {
                    let (x, l) = single[rest % m];
                    rest /= m;
                    *slot = x;
                    lp += l;
                }
                atoms.push((pt, lp));
            }
        }
        Ok(Self { prior, p, atoms })
    }

    /// The scalar prior.
    pub fn prior(&self) -> Prior {
        self.prior
    }

    /// Posterior of one row: mean, covariance (`p x p`) and `log E_P exp(b^T w - w^T A w/2)`.
    /// `ia` is the factorisation of `I + A` (Gaussian prior only).
    fn row(&self, b: &[f64], a: &[f64], ia: Option<&Spd>, mean: &mut [f64], cov: &mut [f64]) -> Result<f64> {
        let p = self.p;
        match (self.prior, ia) {
            (Prior::Gaussian | Prior::Spherical, Some(s)) => {
                let mut quad = 0.0;
                for i in 0..p {
                    mean[i] = (0..p).map(|k| s.inv[i * p + k] * b[k]).sum();
                    quad += b[i] * mean[i];
                }
                cov[..p * p].copy_from_slice(&s.inv[..p * p]);
                Ok(0.5 * quad - 0.5 * s.logdet)
            }
            _ if p == 1 => {
                let (m, v) = self.prior.mean_var(b[0], a[0]);
                mean[0] = m;
                cov[0] = v;
                Ok(self.prior.log_partition(b[0], a[0]))
            }
            _ => {
                let mut acc = MomentAcc::new(p);
                for (pt, lp) in &self.atoms {
                    let mut e = *lp;
                    for i in 0..p {
                        e += b[i] * pt[i];
                        for j in 0..p {
                            e -= 0.5 * pt[i] * a[i * p + j] * pt[j];
                        }
                    }
                    acc.add_point(e, &pt[..p]);
                }
                acc.finish(mean, cov).ok_or_else(|| KernelError::Numerical { what: "prior", reason: "posterior has no mass".into() })
            }
        }
    }

    /// Posterior means (`d x p`), covariances (`d x p x p`) and log-partitions (`d`) of every row
    /// of `b` at precision `a` (the prior side of state evolution and the free entropy).
    pub fn posterior(&self, pool: &ThreadPool, b: &[f64], a: &[f64], mean: &mut [f64], cov: &mut [f64], logz: &mut [f64]) -> Result<()> {
        let p = self.p;
        let d = b.len() / p;
        ensure(b.len() == d * p && mean.len() == d * p && cov.len() == d * p * p && logz.len() == d, "b", || "shape mismatch".into())?;
        let ia = self.gaussian_factor(a)?;
        let res: Vec<Result<()>> = pool.install(|| {
            mean.par_chunks_mut(BLOCK * p)
                .zip(cov.par_chunks_mut(BLOCK * p * p))
                .zip(logz.par_chunks_mut(BLOCK))
                .enumerate()
                .map(|(blk, ((mc, cc), lc))| {
                    for r in 0..lc.len() {
                        let i = blk * BLOCK + r;
                        lc[r] = self.row(&b[i * p..(i + 1) * p], a, ia.as_ref(), &mut mc[r * p..(r + 1) * p], &mut cc[r * p * p..(r + 1) * p * p])?;
                    }
                    Ok(())
                })
                .collect()
        });
        res.into_iter().collect()
    }

    fn gaussian_factor(&self, a: &[f64]) -> Result<Option<Spd>> {
        let p = self.p;
        ensure(a.len() == p * p && a.iter().all(|v| v.is_finite()), "a", || format!("must be a finite {p} x {p} matrix"))?;
        if matches!(self.prior, Prior::Gaussian | Prior::Spherical) {
            let mut ia = [0.0; MAXP * MAXP];
            ia[..p * p].copy_from_slice(a);
            for i in 0..p {
                ia[i * p + i] += 1.0;
            }
            Ok(Some(Spd::new(p, &ia)?))
        } else {
            Ok(None)
        }
    }
}

impl InputDenoiser for ProductPrior {
    fn p(&self) -> usize {
        self.p
    }

    fn denoise(&self, pool: &ThreadPool, b: &[f64], a: &[f64], w: &mut [f64], c: &mut [f64]) -> Result<()> {
        let p = self.p;
        let d = b.len() / p;
        ensure(b.len() == d * p && w.len() == d * p && d > 0, "b", || format!("expected a non-empty d x {p} field"))?;
        ensure(c.len() == p * p, "c", || format!("has length {}, expected {}", c.len(), p * p))?;
        if self.prior == Prior::Spherical {
            // whole-field denoiser of the sphere (p = 1)
            let mut var = vec![0.0; d];
            let div = self.prior.denoise(pool, b, a[0], w, &mut var)?;
            c[0] = div;
            return Ok(());
        }
        let ia = self.gaussian_factor(a)?;
        let sums: Vec<Result<Vec<f64>>> = pool.install(|| {
            w.par_chunks_mut(BLOCK * p)
                .enumerate()
                .map(|(blk, wc)| {
                    let mut s = vec![0.0; p * p];
                    let mut cov = [0.0; MAXP * MAXP];
                    for (r, wr) in wc.chunks_mut(p).enumerate() {
                        let i = blk * BLOCK + r;
                        self.row(&b[i * p..(i + 1) * p], a, ia.as_ref(), wr, &mut cov[..p * p])?;
                        for (sv, cv) in s.iter_mut().zip(&cov[..p * p]) {
                            *sv += cv;
                        }
                    }
                    Ok(s)
                })
                .collect()
        });
        c.fill(0.0);
        for s in sums {
            for (cv, sv) in c.iter_mut().zip(s?) {
                *cv += sv;
            }
        }
        c.iter_mut().for_each(|v| *v /= d as f64);
        if w.iter().any(|v| !v.is_finite()) {
            return Err(KernelError::Numerical { what: "gamp", reason: "the estimate became non-finite (try damping)".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    #[test]
    fn product_of_scalar_priors_factorises_for_diagonal_precision() {
        let pl = pool(Some(1)).unwrap();
        for prior in [Prior::Rademacher, Prior::SparseRademacher { rho: 0.3 }, Prior::Gaussian] {
            let pp = ProductPrior::new(prior, 2).unwrap();
            let b = [0.4, -1.1, 2.0, 0.3];
            let a = [0.7, 0.0, 0.0, 1.9];
            let (mut m, mut c, mut lz) = ([0.0; 4], [0.0; 8], [0.0; 2]);
            pp.posterior(&pl, &b, &a, &mut m, &mut c, &mut lz).unwrap();
            for r in 0..2 {
                let (m0, v0) = prior.mean_var(b[2 * r], a[0]);
                let (m1, v1) = prior.mean_var(b[2 * r + 1], a[3]);
                let l = prior.log_partition(b[2 * r], a[0]) + prior.log_partition(b[2 * r + 1], a[3]);
                assert!((m[2 * r] - m0).abs() < 1e-12 && (m[2 * r + 1] - m1).abs() < 1e-12, "{prior:?}");
                assert!((c[4 * r] - v0).abs() < 1e-12 && (c[4 * r + 3] - v1).abs() < 1e-12 && c[4 * r + 1].abs() < 1e-12);
                assert!((lz[r] - l).abs() < 1e-12, "{prior:?} {} {l}", lz[r]);
            }
        }
    }

    #[test]
    fn gaussian_denoiser_is_linear_shrinkage() {
        let pl = pool(Some(2)).unwrap();
        let pp = ProductPrior::new(Prior::Gaussian, 2).unwrap();
        let d = 3000;
        let b: Vec<f64> = (0..2 * d).map(|k| (k as f64 * 0.3).sin()).collect();
        let a = [1.0, 0.5, 0.5, 2.0];
        let (mut w, mut c) = (vec![0.0; 2 * d], [0.0; 4]);
        pp.denoise(&pl, &b, &a, &mut w, &mut c).unwrap();
        // (I + A)^{-1} = [[3, -0.5], [-0.5, 2]] / 5.75
        let inv = [3.0 / 5.75, -0.5 / 5.75, -0.5 / 5.75, 2.0 / 5.75];
        for k in 0..4 {
            assert!((c[k] - inv[k]).abs() < 1e-12);
        }
        assert!((w[0] - (inv[0] * b[0] + inv[1] * b[1])).abs() < 1e-12);
        assert!(ProductPrior::new(Prior::Spherical, 2).is_err());
    }
}
