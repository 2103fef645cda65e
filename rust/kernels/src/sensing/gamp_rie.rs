//! GAMP-RIE: generalised approximate message passing for matrix sensing with a Gaussian output
//! channel and a rotationally invariant prior, whose input denoiser is the RIE
//! (Maillard, Troiani, Martin, Krzakala, Zdeborova 2024, arXiv:2408.03733, Sec. 4 and their
//! `AMP.ipynb`; Erba, Troiani, Biggio, Maillard, Zdeborova 2024, arXiv:2410.18858, `AMP.jl`).
//!
//! With the operator constants of [`super::Geometry`] (`c`, `field_gain`, `noise_gain`), one iteration
//! is (Onsager term with the previous output function `g^{t-1}`):
//! ```text
//! V^t      = c mmse^{t-1}
//! omega^t  = <A_mu, S^t> - V^t g^{t-1}_mu                     (damped with omega^{t-1}, V^{t-1})
//! g^t_mu   = (y_mu - omega^t_mu) / (Delta + V^t)
//! a^t      = mean_mu (g^t_mu)^2
//! R^t      = S^t + sum_mu g^t_mu A_mu / (field_gain a^t)
//! delta^t  = 1 / (noise_gain a^t)                             (effective denoising noise)
//! S^{t+1}  = RIE(R^t; delta^t),   mmse^t = mmse_den(delta^t)
//! ```
//! In the high-dimensional limit `a^t -> 1/(Delta + V^t)` and this is the state evolution
//! `delta^t = (Delta + c mmse^{t-1}) / noise_gain'` of `hdcore.theory.matrix_sensing`
//! (symmetric: `q_hat = 2 alpha / (Delta/2 + mmse)`; rectangular: `q_hat = alpha/(Delta + mmse)`).
//!
//! The loop is [`super::gamp::gamp_matrix`] with the Gaussian output channel and the RIE
//! ([`crate::rmt::SpectralPrior`]) as input denoiser.

use super::gamp::{gamp_matrix, GampOptions, GampOutput, OutputChannel};
use super::operators::SensingOperator;
use crate::control::Interrupt;
use crate::error::Result;
use crate::rmt::SpectralPrior;
use rayon::ThreadPool;

/// Run GAMP-RIE on the labels `y` of the operator `op` with label-noise variance `noise`.
///
/// `init` is the starting estimate and `init_mmse` its assumed MSE per unit (the uninformed
/// start is the prior mean with the prior variance).
#[allow(clippy::too_many_arguments)]
pub fn gamp_rie<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    noise: f64,
    prior: &SpectralPrior,
    init: &[f64],
    init_mmse: f64,
    truth: Option<&[f64]>,
    opts: GampOptions,
    ctl: &I,
) -> Result<GampOutput>
where
    I: Interrupt + ?Sized,
{
    gamp_matrix(
        pool,
        op,
        y,
        OutputChannel::Gaussian { noise },
        prior,
        init,
        init_mmse,
        truth,
        opts,
        ctl,
        "gamp_rie",
    )
}
