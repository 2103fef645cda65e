//! Bayes-optimal AMP for rank-one spiked models (Rangan & Fletcher 2012; Deshpande & Montanari
//! 2014; Lesieur, Krzakala & Zdeborova, J. Stat. Mech. 2017, Sec. 4).
//!
//! Spiked Wigner, `Y = (s/n) x x^T + W/sqrt(n)`:
//!   `B^t = s Y xh^t - s^2 <var^t> xh^{t-1}`,  `A^t = s^2 ||xh^t||^2/n`,
//!   `(xh^{t+1}, var^{t+1}) = f(B^t, A^t)` with the prior's denoiser.
//! Spiked covariance, rows `x_mu = z_mu + sqrt(beta/d) v_mu u` (X is `n x d`, alpha = n/d):
//!   `B_v = sqrt(beta/d) X uh^t - beta <var_u^t> vh^{t-1}`,  `A_v = beta ||uh^t||^2/d`,
//!   `vh^t = B_v/(1 + A_v)` (Gaussian latent),
//!   `B_u = sqrt(beta/d) X^T vh^t - beta alpha <var_v^t> uh^t`,  `A_u = beta ||vh^t||^2/d`,
//!   `(uh^{t+1}, var_u^{t+1}) = f(B_u, A_u)`.
//! The state evolution of both loops lives in `hdcore.theory.low_rank` (Python).

use crate::control::Interrupt;
use crate::error::{ensure, ensure_len, KernelError, Result};
use crate::linalg::LinearOperator;
use crate::priors::Prior;
use rayon::ThreadPool;

/// Iteration settings.
#[derive(Debug, Clone, Copy)]
pub struct AmpOptions {
    /// Maximal number of iterations.
    pub n_iter: usize,
    /// Damping in [0, 1): new = (1 - damping) * update + damping * old.
    pub damping: f64,
    /// Stop when `||xh^{t+1} - xh^t||^2 / n < tol`.
    pub tol: f64,
}

impl AmpOptions {
    fn validate(&self) -> Result<()> {
        ensure((0.0..1.0).contains(&self.damping), "damping", || {
            format!("must be in [0, 1), got {}", self.damping)
        })?;
        ensure(self.tol >= 0.0 && !self.tol.is_nan(), "tol", || {
            format!("must be >= 0, got {}", self.tol)
        })
    }
}

/// Output of an AMP run. Traces have one entry per iterate, starting with the initial one.
#[derive(Debug, Clone)]
pub struct AmpOutput {
    /// Final estimate (of `x`, or of `u` for the covariance model).
    pub estimate: Vec<f64>,
    /// Final posterior variances.
    pub variance: Vec<f64>,
    /// Final estimate of the latent `v` (covariance model only).
    pub latent: Vec<f64>,
    /// `|<xh^t, x>| / n` (empty without the truth).
    pub overlap: Vec<f64>,
    /// `||xh^t||^2 / n`.
    pub q: Vec<f64>,
    /// `|<vh^t, v>| / n_samples` (covariance model with the latent truth only).
    pub overlap_latent: Vec<f64>,
    /// `||xh^{t+1} - xh^t||^2 / n` per iteration.
    pub delta: Vec<f64>,
    /// Number of iterations performed.
    pub n_iter: usize,
    /// Whether `delta` fell below the tolerance.
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl AmpOutput {
    /// Empty traces, starting from `x0`; `latent_len` is the size of the latent estimate.
    fn new(x0: &[f64], latent_len: usize) -> Self {
        AmpOutput {
            estimate: x0.to_vec(),
            variance: vec![0.0; x0.len()],
            latent: vec![0.0; latent_len],
            overlap: Vec::new(),
            q: Vec::new(),
            overlap_latent: Vec::new(),
            delta: Vec::new(),
            n_iter: 0,
            converged: false,
        }
    }

    /// Append `q` and the overlap of the current estimate to the traces.
    fn record(&mut self, truth: Option<&[f64]>) {
        let n = self.estimate.len().max(1) as f64;
        self.q.push(dot(&self.estimate, &self.estimate) / n);
        if let Some(t) = truth {
            self.overlap.push(dot(&self.estimate, t).abs() / n);
        }
    }
}

fn check_finite(v: &[f64]) -> Result<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(KernelError::Numerical {
            what: "amp",
            reason: "the iterate became non-finite (try damping)".into(),
        })
    }
}

/// Damped update `old <- (1-damping) new + damping old`; returns `||new_damped - old||^2`.
fn damp(old: &mut [f64], new: &[f64], damping: f64) -> f64 {
    let mut diff = 0.0;
    for (o, &nv) in old.iter_mut().zip(new) {
        let v = (1.0 - damping) * nv + damping * *o;
        diff += (v - *o) * (v - *o);
        *o = v;
    }
    diff
}

/// Bayes AMP for the spiked Wigner model (see the module docs); `y` must be symmetric.
#[allow(clippy::too_many_arguments)]
pub fn amp_wigner<O, I>(
    pool: &ThreadPool,
    y: &O,
    snr: f64,
    prior: &Prior,
    x0: &[f64],
    truth: Option<&[f64]>,
    opts: AmpOptions,
    ctl: &I,
) -> Result<AmpOutput>
where
    O: LinearOperator + ?Sized,
    I: Interrupt + ?Sized,
{
    opts.validate()?;
    let n = y.nrows();
    ensure(y.ncols() == n, "y", || "must be square".into())?;
    ensure_len(x0.len(), n, "x0")?;
    ensure(snr >= 0.0 && snr.is_finite(), "snr", || {
        format!("must be finite and >= 0, got {snr}")
    })?;
    if let Some(t) = truth {
        ensure_len(t.len(), n, "truth")?;
    }
    let nf = n as f64;
    let mut out = AmpOutput::new(x0, 0);
    out.record(truth);
    let mut prev = vec![0.0; n];
    let mut onsager = 0.0; // s^2 <var^t>; zero at t = 0 because xh^{-1} = 0
    let (mut field, mut mean, mut var) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for _ in 0..opts.n_iter {
        ctl.check()?;
        y.apply(pool, &out.estimate, &mut field)?;
        for (f, &p) in field.iter_mut().zip(&prev) {
            *f = snr * *f - onsager * p;
        }
        let a = snr * snr * dot(&out.estimate, &out.estimate) / nf;
        prior.denoise(pool, &field, a, &mut mean, &mut var)?;
        prev.copy_from_slice(&out.estimate);
        let diff = damp(&mut out.estimate, &mean, opts.damping) / nf;
        damp(&mut out.variance, &var, opts.damping);
        check_finite(&out.estimate)?;
        onsager = snr * snr * out.variance.iter().sum::<f64>() / nf;
        out.delta.push(diff);
        out.n_iter += 1;
        out.record(truth);
        if diff < opts.tol {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}

/// Bayes AMP for the spiked covariance model (see the module docs); `x` is the `n x d` data.
#[allow(clippy::too_many_arguments)]
pub fn amp_wishart<O, I>(
    pool: &ThreadPool,
    x: &O,
    beta: f64,
    prior: &Prior,
    u0: &[f64],
    truth_u: Option<&[f64]>,
    truth_v: Option<&[f64]>,
    opts: AmpOptions,
    ctl: &I,
) -> Result<AmpOutput>
where
    O: LinearOperator + ?Sized,
    I: Interrupt + ?Sized,
{
    opts.validate()?;
    let (n, d) = (x.nrows(), x.ncols());
    ensure_len(u0.len(), d, "u0")?;
    ensure(beta >= 0.0 && beta.is_finite(), "beta", || {
        format!("must be finite and >= 0, got {beta}")
    })?;
    if let Some(t) = truth_u {
        ensure_len(t.len(), d, "truth_u")?;
    }
    if let Some(t) = truth_v {
        ensure_len(t.len(), n, "truth_v")?;
    }
    let (nf, df) = (n as f64, d as f64);
    let alpha = nf / df;
    let scale = (beta / df).sqrt();
    let mut out = AmpOutput::new(u0, n);
    out.record(truth_u);
    let mut var_u_avg = 0.0; // <var_u^t>; the first v-field has no Onsager term (vh^{-1} = 0)
    let (mut bv, mut bu, mut mean, mut var) =
        (vec![0.0; n], vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    for _ in 0..opts.n_iter {
        ctl.check()?;
        // v-step (Gaussian latent prior).
        x.apply(pool, &out.estimate, &mut bv)?;
        let a_v = beta * dot(&out.estimate, &out.estimate) / df;
        let shrink = 1.0 / (1.0 + a_v);
        for (b, &prev_v) in bv.iter_mut().zip(&out.latent) {
            *b = (scale * *b - beta * var_u_avg * prev_v) * shrink;
        }
        std::mem::swap(&mut out.latent, &mut bv);
        let var_v_avg = shrink;
        // u-step (prior denoiser).
        x.apply_t(pool, &out.latent, &mut bu)?;
        let a_u = beta * dot(&out.latent, &out.latent) / df;
        for (b, &u) in bu.iter_mut().zip(&out.estimate) {
            *b = scale * *b - beta * alpha * var_v_avg * u;
        }
        prior.denoise(pool, &bu, a_u, &mut mean, &mut var)?;
        let diff = damp(&mut out.estimate, &mean, opts.damping) / df;
        damp(&mut out.variance, &var, opts.damping);
        check_finite(&out.estimate)?;
        var_u_avg = out.variance.iter().sum::<f64>() / df;
        out.delta.push(diff);
        out.n_iter += 1;
        out.record(truth_u);
        if let Some(t) = truth_v {
            out.overlap_latent.push(dot(&out.latent, t).abs() / nf);
        }
        if diff < opts.tol {
            out.converged = true;
            break;
        }
    }
    Ok(out)
}
