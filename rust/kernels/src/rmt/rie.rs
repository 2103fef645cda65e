//! Rotationally invariant estimators (RIE) for matrix denoising `Y = S + sqrt(delta) Z`.
//!
//! * Symmetric (spectral units: `S` has an O(1) spectrum, `Z` is GOE with semicircle on
//!   `[-2, 2]`): `Y = sum_k lambda_k v_k v_k^T`, `S_hat = sum_k (lambda_k - 2 delta Re g_Y(lambda_k))
//!   v_k v_k^T`.
//! * Rectangular (entry units: `S` is `rows x cols` with O(1) entries, `Z` i.i.d. N(0, 1)):
//!   with `N = min(rows, cols)`, `aspect = max/min`, `Y~ = Y / (rows cols)^(1/4) =
//!   sum_k s_k u_k v_k^T`, `S_hat = (rows cols)^(1/4) sum_k (s_k - (2 delta / sqrt(aspect))
//!   ((aspect - 1)/(2 s_k) + Re G(s_k))) u_k v_k^T`, with `G` the Stieltjes transform of the
//!   symmetrised singular-value law of `Y~`.
//!
//! Both are Tweedie's formula `E[S | Y] = Y + noise-variance x score` for a prior invariant
//! under rotations; the score of the eigen/singular values is the Hilbert transform of their
//! limiting law (Bun, Allez, Bouchaud & Potters 2016; Troiani et al. 2022, arXiv:2203.07752).
//! `Re g` comes either from the theory law of `Y` ([`Hilbert::Theory`]) or from the
//! observed spectrum itself ([`Hilbert::Empirical`], `Re g_n(lambda_k + i eta)`).
//!
//! [`SpectralPrior`] bundles a prior with its RIE and denoising MMSE: it is the input denoiser
//! of GAMP-RIE (`crate::sensing::gamp_rie`) and can serve any other message-passing loop.

use super::eig::{eigh, reconstruct, svd};
use super::empirical;
use super::laws::Law;
use crate::error::{ensure, KernelError, Result};
use faer::c64;
use rayon::prelude::*;
use rayon::ThreadPool;

/// Where the Hilbert transform `Re g(x + i0)` of the observation's spectrum comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hilbert {
    /// The limiting law of the observation.
    Theory(Law),
    /// The observed spectrum, smoothed at `eta` (`None`: [`empirical::default_eta`]).
    Empirical { eta: Option<f64> },
}

/// Output of an RIE.
#[derive(Debug, Clone)]
pub struct RieOutput {
    /// The estimate, in the units of the input.
    pub estimate: Vec<f64>,
    /// Eigenvalues (ascending) or singular values (descending) of the (scaled) observation.
    pub values: Vec<f64>,
    /// The shrunk values.
    pub shrunk: Vec<f64>,
    /// `Re g` at each value.
    pub hilbert: Vec<f64>,
}

fn hilbert_at(
    pool: &ThreadPool,
    values: &[f64],
    source: &Hilbert,
    singular: bool,
) -> Result<Vec<f64>> {
    match source {
        Hilbert::Theory(law) => {
            law.validate()?;
            ensure(law.is_singular() == singular, "law", || {
                if singular {
                    "a rectangular RIE needs the law rect_product".into()
                } else {
                    "a symmetric RIE needs a law of eigenvalues (not rect_product)".into()
                }
            })?;
            pool.install(|| {
                values
                    .par_iter()
                    .map(|&x| law.stieltjes(c64::new(x, 0.0)).map(|g| g.re))
                    .collect()
            })
        }
        Hilbert::Empirical { eta } => {
            let eta = match eta {
                Some(e) => {
                    ensure(e.is_finite() && *e > 0.0, "eta", || {
                        format!("must be finite and > 0, got {e}")
                    })?;
                    *e
                }
                None => {
                    if singular {
                        let sym: Vec<f64> = values.iter().flat_map(|&s| [s, -s]).collect();
                        empirical::default_eta(&sym)
                    } else {
                        empirical::default_eta(values)
                    }
                }
            };
            let z: Vec<c64> = values.iter().map(|&x| c64::new(x, eta)).collect();
            let g = if singular {
                empirical::stieltjes_symmetrised(pool, values, &z)
            } else {
                empirical::stieltjes(pool, values, &z)
            };
            Ok(g.into_iter().map(|g| g.re).collect())
        }
    }
}

fn check_delta(delta: f64) -> Result<()> {
    ensure(delta.is_finite() && delta > 0.0, "delta", || {
        format!("noise variance must be finite and > 0, got {delta}")
    })
}

/// Symmetric RIE of the `n x n` row-major observation `y` (spectral units).
pub fn rie_symmetric(
    pool: &ThreadPool,
    y: &[f64],
    n: usize,
    delta: f64,
    source: &Hilbert,
) -> Result<RieOutput> {
    check_delta(delta)?;
    let e = eigh(pool, y, n, true)?;
    let h = hilbert_at(pool, &e.values, source, false)?;
    let shrunk: Vec<f64> = e
        .values
        .iter()
        .zip(&h)
        .map(|(l, g)| l - 2.0 * delta * g)
        .collect();
    let estimate = reconstruct(pool, &e.vectors, &shrunk, &e.vectors, n, n)?;
    Ok(RieOutput {
        estimate,
        values: e.values,
        shrunk,
        hilbert: h,
    })
}

/// Rectangular RIE of the `rows x cols` row-major observation `y` (entry units).
pub fn rie_rectangular(
    pool: &ThreadPool,
    y: &[f64],
    rows: usize,
    cols: usize,
    delta: f64,
    source: &Hilbert,
) -> Result<RieOutput> {
    check_delta(delta)?;
    ensure(rows > 0 && cols > 0, "y", || "must be non-empty".into())?;
    let aspect = rows.max(cols) as f64 / rows.min(cols) as f64;
    if let Hilbert::Theory(Law::RectProduct { aspect: a, .. }) = source {
        ensure((a - aspect).abs() <= 1e-9 * aspect, "aspect", || {
            format!("the law has aspect {a} but the matrix is {rows} x {cols} (aspect {aspect})")
        })?;
    }
    crate::alloc::reserve::<f64>("y", &[rows, cols])?;
    let c = ((rows * cols) as f64).powf(0.25);
    let scaled: Vec<f64> = y.iter().map(|v| v / c).collect();
    let s = svd(pool, &scaled, rows, cols, true)?;
    let h = hilbert_at(pool, &s.values, source, true)?;
    let shrunk: Vec<f64> = s
        .values
        .iter()
        .zip(&h)
        .map(|(&x, &g)| {
            if x > 0.0 {
                c * (x - 2.0 * delta / aspect.sqrt() * ((aspect - 1.0) / (2.0 * x) + g))
            } else {
                0.0
            }
        })
        .collect();
    let estimate = reconstruct(pool, &s.u, &shrunk, &s.v, rows, cols)?;
    let shrunk = shrunk.into_iter().map(|v| v / c).collect();
    Ok(RieOutput {
        estimate,
        values: s.values,
        shrunk,
        hilbert: h,
    })
}

/// A rotationally invariant prior with its Bayes denoiser (the RIE) and denoising MMSE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpectralPrior {
    /// `S = W^T W / m` (`W`: `m x d` i.i.d. N(0, 1), `kappa = m/d`), spectral units:
    /// Marchenko-Pastur spectrum of mean 1 and `(1/d) E Tr S^2 = 1 + 1/kappa`.
    Wishart { kappa: f64 },
    /// `S = V U / sqrt(r)` (`V`: `rows x r`, `U`: `r x cols`, i.i.d. N(0, 1)), entry units
    /// (`E S_ij^2 = 1`); `aspect = max/min` side, `rank = r / min side`.
    Product { aspect: f64, rank: f64 },
}

impl SpectralPrior {
    /// Check the parameters.
    pub fn validate(&self) -> Result<()> {
        self.observation_law(1.0).validate()
    }

    /// Law of the spectrum of `S + sqrt(delta) Z`.
    pub fn observation_law(&self, delta: f64) -> Law {
        match *self {
            SpectralPrior::Wishart { kappa } => Law::MpSemicircle { kappa, delta },
            SpectralPrior::Product { aspect, rank } => Law::RectProduct {
                aspect,
                rank,
                delta,
            },
        }
    }

    /// Whether `S` is symmetric.
    pub fn is_symmetric(&self) -> bool {
        matches!(self, SpectralPrior::Wishart { .. })
    }

    /// Prior variance per unit (`(1/d) E ||S - E S||_F^2` or per entry): the MMSE at zero SNR.
    pub fn variance(&self) -> f64 {
        match *self {
            SpectralPrior::Wishart { kappa } => 1.0 / kappa,
            SpectralPrior::Product { .. } => 1.0,
        }
    }

    /// Prior mean `E S` (the identity for Wishart, zero for the product prior), row-major.
    pub fn mean(&self, rows: usize, cols: usize) -> Vec<f64> {
        let mut m = vec![0.0; rows * cols];
        if self.is_symmetric() {
            for i in 0..rows.min(cols) {
                m[i * cols + i] = 1.0;
            }
        }
        m
    }

    /// Denoising MMSE at noise `delta` (same units as the RIE). At very large `delta` the
    /// observation carries no information and the prior variance is returned.
    pub fn mmse(&self, pool: &ThreadPool, delta: f64) -> Result<f64> {
        check_delta(delta)?;
        if delta > 1e8 * (1.0 + self.variance()) {
            return Ok(self.variance());
        }
        self.observation_law(delta).denoising_mmse(pool)
    }

    /// Bayes-optimal denoising of `y` (`rows x cols`, row-major) at noise `delta`: returns the
    /// estimate and the MMSE predicted for it.
    pub fn denoise(
        &self,
        pool: &ThreadPool,
        y: &[f64],
        rows: usize,
        cols: usize,
        delta: f64,
    ) -> Result<(Vec<f64>, f64)> {
        self.validate()?;
        if delta > 1e8 * (1.0 + self.variance()) {
            return Ok((self.mean(rows, cols), self.variance()));
        }
        let law = self.observation_law(delta);
        let out = match *self {
            SpectralPrior::Wishart { .. } => {
                ensure(rows == cols, "y", || {
                    format!("a Wishart prior needs a square matrix, got {rows} x {cols}")
                })?;
                rie_symmetric(pool, y, rows, delta, &Hilbert::Theory(law))?
            }
            SpectralPrior::Product { .. } => {
                rie_rectangular(pool, y, rows, cols, delta, &Hilbert::Theory(law))?
            }
        };
        let mmse = law.denoising_mmse(pool)?;
        if !mmse.is_finite() {
            return Err(KernelError::Numerical {
                what: "rie",
                reason: format!("non-finite MMSE at delta = {delta}"),
            });
        }
        Ok((out.estimate, mmse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::fill_standard_normal;
    use crate::threads::pool;

    #[test]
    fn symmetric_rie_on_pure_noise_is_zero() {
        let p = pool(Some(2)).unwrap();
        let n = 300;
        let mut a = vec![0.0; n * n];
        fill_standard_normal(&p, 1, 9, &mut a);
        let delta: f64 = 0.5;
        let mut y = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                y[i * n + j] =
                    delta.sqrt() * (a[i * n + j] + a[j * n + i]) / (2.0 * n as f64).sqrt();
            }
        }
        let out = rie_symmetric(
            &p,
            &y,
            n,
            delta,
            &Hilbert::Theory(Law::Semicircle { variance: delta }),
        )
        .unwrap();
        let norm2 = out.estimate.iter().map(|v| v * v).sum::<f64>() / n as f64;
        // inside the bulk the shrinkage is exactly zero; only the O(n^{-2/3}) edge outliers remain
        assert!(norm2 < 1e-3 * delta, "{norm2}");
    }
}
