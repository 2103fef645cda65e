//! Matrix GAMP for sensing: one loop for the Bayes-optimal algorithm (Gaussian channel + RIE,
//! [`super::gamp_rie`]) and for empirical risk minimisation (square loss + a proximal input
//! denoiser, [`super::gamp_nuclear`]).
//!
//! With the operator constants of [`super::Geometry`] (`c`, `field_gain`, `noise_gain`), one iteration
//! is (Onsager term with the previous output function `g^{t-1}`; Rangan 2011, arXiv:1010.5141,
//! with the matrix input side of Maillard et al. 2024, arXiv:2408.03733, Sec. 4):
//! ```text
//! V^t      = c var^{t-1}
//! omega^t  = <A_mu, S^t> - V^t g^{t-1}_mu                     (damped with omega^{t-1}, V^{t-1})
//! g^t, a^t = output(y, omega^t, V^t)                          ([`OutputChannel`])
//! R^t      = S^t + sum_mu g^t_mu A_mu / (field_gain a^t)
//! delta^t  = 1 / (noise_gain a^t)                             (effective denoising noise)
//! S^{t+1}, var^t = denoiser(R^t; delta^t)                     ([`MatrixDenoiser`])
//! ```
//! `a^t` is the output precision: `mean (g^t)^2` for the Bayes channel (Nishimori), the mean
//! of `-dg/domega = 1/(1 + V)` for the square loss.

use super::operators::SensingOperator;
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::rmt::MatrixDenoiser;
use rayon::ThreadPool;

/// Iteration settings.
#[derive(Debug, Clone, Copy)]
pub struct GampOptions {
    /// Maximal number of iterations.
    pub n_iter: usize,
    /// Damping in [0, 1) of `(omega, V)`: `new = (1 - damping) update + damping old`.
    pub damping: f64,
    /// Stop when `||S^{t+1} - S^t||^2 / units < tol` (and, for ERM, `V` has settled).
    pub tol: f64,
}

/// Output side of matrix GAMP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputChannel {
    /// Bayes posterior of the Gaussian channel of variance `noise`:
    /// `g = (y - omega)/(noise + V)`, `a = mean g^2`.
    Gaussian { noise: f64 },
    /// Proximal map of the square loss `(y - z)^2 / 2` (ERM): `g = (y - omega)/(1 + V)`,
    /// `a = 1/(1 + V)`.
    SquareLoss,
}

impl OutputChannel {
    fn validate(&self) -> Result<()> {
        match *self {
            OutputChannel::Gaussian { noise } => {
                ensure(noise.is_finite() && noise >= 0.0, "noise", || {
                    format!("must be finite and >= 0, got {noise}")
                })
            }
            OutputChannel::SquareLoss => Ok(()),
        }
    }

    /// Whether the Onsager variance has settled, `V^t -> V^{t+1}`: always for the Bayes channel
    /// (its variance follows the estimate), within `sqrt(tol) (1 + V)` for ERM, whose state
    /// includes `V` (from the zero start the first threshold may kill every eigenvalue, leaving
    /// `S` unchanged while `V` moves).
    fn variance_settled(&self, v: f64, v_next: f64, tol: f64) -> bool {
        match self {
            OutputChannel::Gaussian { .. } => true,
            OutputChannel::SquareLoss => (v_next - v).abs() <= tol.sqrt() * (1.0 + v),
        }
    }

    /// Fill `g` and return the output precision `a`.
    fn output(&self, y: &[f64], omega: &[f64], v: f64, g: &mut [f64]) -> f64 {
        let inv = match *self {
            OutputChannel::Gaussian { noise } => 1.0 / (noise + v),
            OutputChannel::SquareLoss => 1.0 / (1.0 + v),
        };
        let mut sq = 0.0;
        for ((g, y), w) in g.iter_mut().zip(y).zip(omega) {
            *g = (y - w) * inv;
            sq += *g * *g;
        }
        match self {
            OutputChannel::Gaussian { .. } => sq / y.len() as f64,
            OutputChannel::SquareLoss => inv,
        }
    }
}

/// Output of [`gamp_matrix`]. Traces have one entry per iteration.
#[derive(Debug, Clone, Default)]
pub struct GampOutput {
    /// Final estimate (row-major, units of the operator).
    pub estimate: Vec<f64>,
    /// `||S^t - S*||^2 / units` of the iterate entering iteration t+1 (needs the truth).
    pub mse: Vec<f64>,
    /// Effective denoising noise `delta^t`.
    pub delta_eff: Vec<f64>,
    /// Variance per unit of the new iterate predicted by the denoiser (`var^t`; the MMSE for
    /// the RIE).
    pub mmse: Vec<f64>,
    /// The (damped) Onsager variance `V^t` used at iteration t.
    pub variance: Vec<f64>,
    /// `||S^{t+1} - S^t||^2 / units`.
    pub diff: Vec<f64>,
    /// Iterations performed.
    pub n_iter: usize,
    /// Whether `diff` fell below the tolerance.
    pub converged: bool,
}

/// Normaliser of squared errors: `d` for symmetric (spectral units), `rows cols` otherwise.
pub fn units(op: &dyn SensingOperator) -> f64 {
    if op.symmetric() {
        op.rows() as f64
    } else {
        (op.rows() * op.cols()) as f64
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Run matrix GAMP on the labels `y` of the operator `op` (module docs).
///
/// `init` is the starting estimate and `init_var` its assumed variance per unit (`V^0 = c
/// init_var`). `what` names the algorithm in numerical errors.
#[allow(clippy::too_many_arguments)]
pub fn gamp_matrix<D, I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    channel: OutputChannel,
    denoiser: &D,
    init: &[f64],
    init_var: f64,
    truth: Option<&[f64]>,
    opts: GampOptions,
    ctl: &I,
    what: &'static str,
) -> Result<GampOutput>
where
    D: MatrixDenoiser + ?Sized,
    I: Interrupt + ?Sized,
{
    denoiser.validate()?;
    channel.validate()?;
    let (n, rows, cols) = (op.n_samples(), op.rows(), op.cols());
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(init.len() == rows * cols, "init", || {
        format!("has {} entries, expected {rows} x {cols}", init.len())
    })?;
    ensure(init_var.is_finite() && init_var > 0.0, "init_mmse", || {
        format!("must be finite and > 0, got {init_var}")
    })?;
    ensure((0.0..1.0).contains(&opts.damping), "damping", || {
        format!("must be in [0, 1), got {}", opts.damping)
    })?;
    ensure(opts.tol >= 0.0 && !opts.tol.is_nan(), "tol", || {
        format!("must be >= 0, got {}", opts.tol)
    })?;
    ensure(denoiser.is_symmetric() == op.symmetric(), "prior", || {
        "the denoiser and the sensing operator must both be symmetric or both rectangular".into()
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
    let (mut omega, mut g) = (vec![0.0; n], vec![0.0; n]);
    let mut v = geo.c * init_var;
    let mut var = init_var;
    let mut h = vec![0.0; n];
    let mut field = vec![0.0; rows * cols];
    for t in 0..opts.n_iter {
        ctl.check()?;
        if let Some(tr) = truth {
            out.mse.push(sq_dist(&out.estimate, tr) / u);
        }
        // output side (g holds g^{t-1} until it is overwritten)
        let v_new = geo.c * var;
        op.forward(pool, &out.estimate, &mut h)?;
        let damp = if t == 0 { 0.0 } else { opts.damping };
        for mu in 0..n {
            let w_new = h[mu] - v_new * g[mu];
            omega[mu] = (1.0 - damp) * w_new + damp * omega[mu];
        }
        v = (1.0 - damp) * v_new + damp * v;
        let a = channel.output(y, &omega, v, &mut g);
        if !(a.is_finite() && a > 0.0) {
            let name = match channel {
                OutputChannel::Gaussian { .. } => "mean squared output function",
                OutputChannel::SquareLoss => "output precision",
            };
            return Err(KernelError::Numerical {
                what,
                reason: format!("{name} is {a} (try damping)"),
            });
        }
        // input side: R = S + A^T g / (field_gain a), denoised at noise 1/(noise_gain a)
        op.adjoint(pool, &g, &mut field)?;
        let k = 1.0 / (geo.field_gain * a);
        for (f, s) in field.iter_mut().zip(&out.estimate) {
            *f = s + k * *f;
        }
        let delta_eff = 1.0 / (geo.noise_gain * a);
        if !delta_eff.is_finite() {
            // a tiny but positive precision: the output variance V has diverged
            return Err(KernelError::Numerical {
                what,
                reason: format!("the output variance V = {v:e} diverged (try damping)"),
            });
        }
        let (new, m) = denoiser.denoise(pool, &field, rows, cols, delta_eff)?;
        if new.iter().any(|x| !x.is_finite()) {
            return Err(KernelError::Numerical {
                what,
                reason: "the estimate became non-finite (try damping)".into(),
            });
        }
        let diff = sq_dist(&new, &out.estimate) / u;
        out.estimate = new;
        var = m.max(1e-300);
        out.delta_eff.push(delta_eff);
        out.mmse.push(m);
        out.variance.push(v);
        out.diff.push(diff);
        out.n_iter += 1;
        if diff < opts.tol && channel.variance_settled(v, geo.c * var, opts.tol) {
            out.converged = true;
            break;
        }
    }
    if let Some(tr) = truth {
        out.mse.push(sq_dist(&out.estimate, tr) / u);
    }
    Ok(out)
}
