//! Matrix denoisers: the input side of matrix message passing
//! (`crate::sensing::gamp::gamp_matrix`). A denoiser maps an observation `R = S + sqrt(delta) Z`
//! (spectral units if symmetric, entry units otherwise) to an estimate and the variance of that
//! estimate per unit, the quantity the output side turns into its Onsager variance.
//!
//! * [`SpectralPrior`]: the Bayes denoiser (the RIE); its variance is its MMSE.
//! * [`SoftThreshold`]: the proximal map of the trace / nuclear norm (ERM); its variance is
//!   `delta D`, with `D` the normalised divergence of [`super::spectral_fn`].

use super::spectral_fn::soft_threshold_symmetric;
use super::SpectralPrior;
use crate::error::{ensure, Result};
use rayon::ThreadPool;

/// An input denoiser of matrix GAMP.
pub trait MatrixDenoiser: Sync {
    /// Whether it acts on symmetric matrices.
    fn is_symmetric(&self) -> bool;
    /// Check the parameters.
    fn validate(&self) -> Result<()>;
    /// Denoise the `rows x cols` row-major observation `r` at noise `delta`: the estimate and
    /// its variance per unit.
    fn denoise(
        &self,
        pool: &ThreadPool,
        r: &[f64],
        rows: usize,
        cols: usize,
        delta: f64,
    ) -> Result<(Vec<f64>, f64)>;
}

impl MatrixDenoiser for SpectralPrior {
    fn is_symmetric(&self) -> bool {
        SpectralPrior::is_symmetric(self)
    }

    fn validate(&self) -> Result<()> {
        SpectralPrior::validate(self)
    }

    fn denoise(
        &self,
        pool: &ThreadPool,
        r: &[f64],
        rows: usize,
        cols: usize,
        delta: f64,
    ) -> Result<(Vec<f64>, f64)> {
        SpectralPrior::denoise(self, pool, r, rows, cols, delta)
    }
}

/// Eigenvalue soft threshold at `theta = lam_scale delta`: the proximal map of
/// `lam Tr S` on the PSD cone (`psd`) or of `lam ||S||_*` on symmetric matrices, for a penalty
/// whose curvature-to-noise ratio gives `theta / delta = lam_scale` (matrix sensing:
/// `lam_scale = lam noise_gain / field_gain = 2 lam / d`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftThreshold {
    /// `theta / delta`.
    pub lam_scale: f64,
    /// Clip the eigenvalues at zero (PSD cone) instead of shrinking them with their sign.
    pub psd: bool,
}

impl MatrixDenoiser for SoftThreshold {
    fn is_symmetric(&self) -> bool {
        true
    }

    fn validate(&self) -> Result<()> {
        ensure(
            self.lam_scale.is_finite() && self.lam_scale >= 0.0,
            "lam",
            || {
                format!(
                    "must be finite and >= 0, got lam_scale = {}",
                    self.lam_scale
                )
            },
        )
    }

    fn denoise(
        &self,
        pool: &ThreadPool,
        r: &[f64],
        rows: usize,
        cols: usize,
        delta: f64,
    ) -> Result<(Vec<f64>, f64)> {
        ensure(rows == cols, "r", || {
            format!("the soft threshold needs a square matrix, got {rows} x {cols}")
        })?;
        ensure(delta.is_finite() && delta > 0.0, "delta", || {
            format!("noise variance must be finite and > 0, got {delta}")
        })?;
        let out = soft_threshold_symmetric(pool, r, rows, self.lam_scale * delta, self.psd)?;
        Ok((out.estimate, delta * out.divergence))
    }
}
