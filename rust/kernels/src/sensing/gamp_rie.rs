//! GAMP-RIE: generalised approximate message passing for matrix sensing with a Gaussian output
//! channel and a rotationally invariant prior, whose input denoiser is the RIE
//! (Maillard, Troiani, Martin, Krzakala, Zdeborova 2024, arXiv:2408.03733, Sec. 4 and their
//! `AMP.ipynb`; Erba, Troiani, Biggio, Maillard, Zdeborova 2024, arXiv:2410.18858, `AMP.jl`).
//!
//! With the operator constants of [`Geometry`] (`c`, `field_gain`, `noise_gain`), one iteration
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
//! The loop is written for this one channel (p = 1, Gaussian) and this one denoiser: the RIE
//! lives in [`crate::rmt::SpectralPrior::denoise`] so that a general GAMP engine can use it as
//! an input denoiser unchanged.

use super::operators::SensingOperator;
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::rmt::SpectralPrior;
use rayon::ThreadPool;

/// Iteration settings.
#[derive(Debug, Clone, Copy)]
pub struct GampOptions {
    /// Maximal number of iterations.
    pub n_iter: usize,
    /// Damping in [0, 1) of `(omega, V)`: `new = (1 - damping) update + damping old`.
    pub damping: f64,
    /// Stop when `||S^{t+1} - S^t||^2 / units < tol`.
    pub tol: f64,
}

/// Output of [`gamp_rie`]. Traces have one entry per iteration.
#[derive(Debug, Clone, Default)]
pub struct GampOutput {
    /// Final estimate (row-major, units of the operator).
    pub estimate: Vec<f64>,
    /// `||S^t - S*||^2 / units` of the iterate entering iteration t+1 (needs the truth).
    pub mse: Vec<f64>,
    /// Effective denoising noise `delta^t`.
    pub delta_eff: Vec<f64>,
    /// Predicted MSE `mmse_den(delta^t)` of the new iterate.
    pub mmse: Vec<f64>,
    /// `||S^{t+1} - S^t||^2 / units`.
    pub diff: Vec<f64>,
    /// Iterations performed.
    pub n_iter: usize,
    /// Whether `diff` fell below the tolerance.
    pub converged: bool,
}

fn units(op: &dyn SensingOperator) -> f64 {
    // per (1/d)||.||_F^2 for symmetric (spectral units), per entry for rectangular
    if op.symmetric() {
        op.rows() as f64
    } else {
        (op.rows() * op.cols()) as f64
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

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
    prior.validate()?;
    let (n, rows, cols) = (op.n_samples(), op.rows(), op.cols());
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(init.len() == rows * cols, "init", || {
        format!("has {} entries, expected {rows} x {cols}", init.len())
    })?;
    ensure(noise.is_finite() && noise >= 0.0, "noise", || {
        format!("must be finite and >= 0, got {noise}")
    })?;
    ensure(
        init_mmse.is_finite() && init_mmse > 0.0,
        "init_mmse",
        || format!("must be finite and > 0, got {init_mmse}"),
    )?;
    ensure((0.0..1.0).contains(&opts.damping), "damping", || {
        format!("must be in [0, 1), got {}", opts.damping)
    })?;
    ensure(opts.tol >= 0.0 && !opts.tol.is_nan(), "tol", || {
        format!("must be >= 0, got {}", opts.tol)
    })?;
    ensure(prior.is_symmetric() == op.symmetric(), "prior", || {
        "the prior and the sensing operator must both be symmetric or both rectangular".into()
    })?;
    if let Some(t) = truth {
        ensure(t.len() == rows * cols, "truth", || {
            format!("has {} entries, expected {rows} x {cols}", t.len())
        })?;
    }
    let geo = op.geometry();
    let u = units(op);
    let mut out = GampOutput {
        estimate: init.to_vec(),
        ..Default::default()
    };
    let (mut omega, mut g_prev) = (vec![0.0; n], vec![0.0; n]);
    let mut v = geo.c * init_mmse;
    let mut mmse = init_mmse;
    let mut h = vec![0.0; n];
    let mut field = vec![0.0; rows * cols];
    for t in 0..opts.n_iter {
        ctl.check()?;
        if let Some(tr) = truth {
            out.mse.push(sq_dist(&out.estimate, tr) / u);
        }
        // output side
        let v_new = geo.c * mmse;
        op.forward(pool, &out.estimate, &mut h)?;
        let damp = if t == 0 { 0.0 } else { opts.damping };
        for mu in 0..n {
            let w_new = h[mu] - v_new * g_prev[mu];
            omega[mu] = (1.0 - damp) * w_new + damp * omega[mu];
        }
        v = (1.0 - damp) * v_new + damp * v;
        let inv = 1.0 / (noise + v);
        let mut a = 0.0;
        for mu in 0..n {
            let g = (y[mu] - omega[mu]) * inv;
            g_prev[mu] = g;
            a += g * g;
        }
        a /= n as f64;
        if !(a.is_finite() && a > 0.0) {
            return Err(KernelError::Numerical {
                what: "gamp_rie",
                reason: format!("mean squared output function is {a} (try damping)"),
            });
        }
        // input side: R = S + A^T g / (field_gain a), RIE at noise 1/(noise_gain a)
        op.adjoint(pool, &g_prev, &mut field)?;
        let k = 1.0 / (geo.field_gain * a);
        for (f, s) in field.iter_mut().zip(&out.estimate) {
            *f = s + k * *f;
        }
        let delta_eff = 1.0 / (geo.noise_gain * a);
        let (new, m) = prior.denoise(pool, &field, rows, cols, delta_eff)?;
        if new.iter().any(|x| !x.is_finite()) {
            return Err(KernelError::Numerical {
                what: "gamp_rie",
                reason: "the estimate became non-finite (try damping)".into(),
            });
        }
        let diff = sq_dist(&new, &out.estimate) / u;
        out.estimate = new;
        mmse = m.max(1e-300);
        out.delta_eff.push(delta_eff);
        out.mmse.push(m);
        out.diff.push(diff);
        out.n_iter += 1;
        if diff < opts.tol {
            out.converged = true;
            break;
        }
    }
    if let Some(tr) = truth {
        out.mse.push(sq_dist(&out.estimate, tr) / u);
    }
    Ok(out)
}
