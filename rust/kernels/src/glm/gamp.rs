//! Generalised approximate message passing with `p x p` matrix variances (Rangan 2011; the
//! multi-index form of Aubin et al. 2018 and Troiani et al. 2024, arXiv:2405.15480), for the
//! design `X` with i.i.d. `N(0, 1/d)` entries. With `W` (`d x p`), `V` and `g^{-1} = 0`:
//!
//! ```text
//! omega_mu = W^T x_mu - V g_mu^{t-1}
//! g_mu, dg_mu = g_out(omega_mu, V)                 (OutputChannel)
//! A = -(1/d) sum_mu dg_mu,   B = X^T g + W A
//! W, V = f_in(B, A), (1/d) sum_i d f_in / d b_i    (InputDenoiser)
//! ```
//!
//! One iteration streams `X` once ([`super::ops::fused_pass`]).
//!
//! Damping `delta` follows the damped GAMP of Vila, Schniter, Rangan, Krzakala & Zdeborova
//! (ICASSP 2015, Alg. 1) with `beta = 1 - delta`: from the second iteration on, `g` and `A` are
//! running averages `(1 - delta) new + delta old`, and `B = X^T g + W_bar A` uses the running
//! average `W_bar` of the estimates; `omega` uses the damped `g` of the previous iteration. This
//! keeps the Onsager correction consistent, which damping `W` and `V` alone does not (the
//! per-sample recursion of `omega` then diverges for non-log-concave channels such as phase
//! retrieval). Without damping the loop is plain GAMP. The uninformative fixed point of channels
//! with `E[z | y] = 0` is unstable along `V` for plain GAMP once `alpha` is large (for
//! `y = z^2` the multiplier is `-alpha`), so such channels need damping.
//!
//! The loop stops when `||W^{t+1} - W^t||_F^2 / d < tol`, or when the posterior has collapsed
//! onto a point (`tr V / p < 1e-13`, perfect recovery with a discrete prior): further iterations
//! would only amplify rounding errors. It also stops, reporting why in [`GampOutput::stopped`],
//! when an ingredient declares the current `V` or `A` outside its domain
//! ([`OutputChannel::outside_domain`], [`InputDenoiser::outside_domain`]; e.g. a proximal output
//! function that has become multivalued, or a ridge `B/(A + lam)` with `A + lam <= 0`). The
//! overlaps `M = W^T W*/d` and `Q = W^T W/d` are recorded per iterate.
//!
//! Two options serve other estimators than the Bayes one ([`super::prox`], GAMP for ERM):
//! `scale` runs the loop on the design `scale X` without copying `X` (`1/sqrt(d)` for a design
//! with `N(0, 1)` entries), and `fixed_variance` keeps `V` at its start value `v0` instead of
//! taking the denoiser's average Jacobian (the fixed-variance GAMP of ERM; `A` is still computed
//! from the data).

use super::input::InputDenoiser;
use super::ops::fused_pass;
use super::output::OutputChannel;
use super::small::{symmetrize, MAXP};
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::linalg::{Dense, LinearOperator, Scalar};
use rayon::ThreadPool;

/// `tr V / p` below which the posterior is considered collapsed onto a point.
pub const COLLAPSED: f64 = 1e-13;

/// Iteration settings.
#[derive(Debug, Clone, Copy)]
pub struct GampOptions {
    /// Maximal number of iterations.
    pub n_iter: usize,
    /// Damping in `[0, 1)` of `g`, `A` and the input-side average of `W` (see the module docs).
    pub damping: f64,
    /// Stop when `||W^{t+1} - W^t||_F^2 / d < tol`.
    pub tol: f64,
    /// The loop runs on the design `scale X` (1 for `X` with `N(0, 1/d)` entries).
    pub scale: f64,
    /// Keep `V = v0` at every iteration instead of the denoiser's average Jacobian.
    pub fixed_variance: bool,
}

impl GampOptions {
    /// `n_iter` iterations with the given damping and tolerance, on `X` itself, `V` updated.
    pub fn new(n_iter: usize, damping: f64, tol: f64) -> Self {
        Self { n_iter, damping, tol, scale: 1.0, fixed_variance: false }
    }
}

/// Output of a GAMP run; traces have one entry per iterate (the start first).
#[derive(Debug, Clone)]
pub struct GampOutput {
    /// Final estimate, row-major `d x p`.
    pub estimate: Vec<f64>,
    /// Final variance `V` (`p x p`).
    pub variance: Vec<f64>,
    /// `M^t = W^T W*/d`, `p x p` per iterate (empty without the truth).
    pub m: Vec<f64>,
    /// `Q^t = W^T W/d`, `p x p` per iterate.
    pub q: Vec<f64>,
    /// `V^t`, `p x p` per iterate (the variance used with `W^t` in the next iteration).
    pub v: Vec<f64>,
    /// `||W^{t+1} - W^t||_F^2 / d` per iteration.
    pub delta: Vec<f64>,
    /// Last precision `A` (`p x p`).
    pub a: Vec<f64>,
    /// Iterations performed.
    pub n_iter: usize,
    /// Whether `delta` fell below the tolerance.
    pub converged: bool,
    /// Why the loop stopped early: the current `V` or `A` left the domain of an ingredient
    /// (the estimate is the last one computed inside it; `variance` and `a` are the offending
    /// values).
    pub stopped: Option<String>,
}

/// `W^T U / d` for row-major `d x p` matrices.
pub fn gram(p: usize, w: &[f64], u: &[f64]) -> Vec<f64> {
    let d = w.len() / p;
    let mut out = vec![0.0; p * p];
    for (wr, ur) in w.chunks(p).zip(u.chunks(p)) {
        for k in 0..p {
            for l in 0..p {
                out[k * p + l] += wr[k] * ur[l];
            }
        }
    }
    out.iter_mut().for_each(|v| *v /= d as f64);
    out
}

fn to_col_major(p: usize, w: &[f64], out: &mut [f64]) {
    let d = w.len() / p;
    for i in 0..d {
        for k in 0..p {
            out[k * d + i] = w[i * p + k];
        }
    }
}

/// Run GAMP from `w0` (row-major `d x p`) and `v0` (`p x p`).
#[allow(clippy::too_many_arguments)]
pub fn gamp<T, O, D, I>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    channel: &O,
    denoiser: &D,
    w0: &[f64],
    v0: &[f64],
    truth: Option<&[f64]>,
    opts: GampOptions,
    ctl: &I,
) -> Result<GampOutput>
where
    T: Scalar,
    O: OutputChannel,
    D: InputDenoiser,
    I: Interrupt + ?Sized,
{
    let (n, d) = (x.nrows(), x.ncols());
    let p = channel.p();
    ensure((1..=MAXP).contains(&p), "p", || format!("must be in 1..={MAXP}, got {p}"))?;
    ensure(denoiser.p() == p, "p", || format!("the channel has p = {p} but the prior has p = {}", denoiser.p()))?;
    ensure(channel.n() == n, "y", || format!("has {} labels, expected n = {n}", channel.n()))?;
    ensure(w0.len() == d * p, "w0", || format!("has length {}, expected d p = {}", w0.len(), d * p))?;
    ensure(v0.len() == p * p, "v0", || format!("has length {}, expected p^2 = {}", v0.len(), p * p))?;
    ensure((0.0..1.0).contains(&opts.damping), "damping", || format!("must be in [0, 1), got {}", opts.damping))?;
    ensure(opts.tol >= 0.0 && !opts.tol.is_nan(), "tol", || format!("must be >= 0, got {}", opts.tol))?;
    ensure(opts.scale.is_finite() && opts.scale > 0.0, "scale", || format!("must be finite and > 0, got {}", opts.scale))?;
    if let Some(t) = truth {
        ensure(t.len() == d * p, "truth", || format!("has length {}, expected d p = {}", t.len(), d * p))?;
    }
    let df = d as f64;
    let mut w = w0.to_vec();
    let mut v = v0.to_vec();
    symmetrize(p, &mut v);
    let mut out = GampOutput { estimate: Vec::new(), variance: Vec::new(), m: Vec::new(), q: Vec::new(), v: Vec::new(), delta: Vec::new(), a: vec![0.0; p * p], n_iter: 0, converged: false, stopped: None };
    let record = |out: &mut GampOutput, w: &[f64], v: &[f64]| {
        out.q.extend(gram(p, w, w));
        out.v.extend_from_slice(v);
        if let Some(t) = truth {
            out.m.extend(gram(p, w, t));
        }
    };
    record(&mut out, &w, &v);
    let mut w_cm = vec![0.0; d * p];
    let mut w_bar = w.clone();
    let mut a = vec![0.0; p * p];
    let mut g_prev = vec![0.0; n * p];
    let mut g_new = vec![0.0; n * p];
    let mut b_cm = vec![0.0; d * p];
    let mut b = vec![0.0; d * p];
    let mut w_new = vec![0.0; d * p];
    let mut c = vec![0.0; p * p];
    let delta = opts.damping;
    let s = opts.scale;
    for t in 0..opts.n_iter {
        ctl.check()?;
        if let Some(reason) = channel.outside_domain(&v) {
            out.stopped = Some(reason);
            break;
        }
        let damp = if t == 0 { 0.0 } else { delta };
        to_col_major(p, &w, &mut w_cm);
        let ctx = channel.prepare(&v)?;
        let vv = &v;
        let gp = &g_prev;
        let dgsum = fused_pass(
            pool,
            x,
            &w_cm,
            p,
            |mu, xw, bo, extra, grow| {
                let old = &gp[mu * p..(mu + 1) * p];
                let mut omega = [0.0; MAXP];
                for k in 0..p {
                    omega[k] = s * xw[k] - (0..p).map(|l| vv[k * p + l] * old[l]).sum::<f64>();
                }
                let mut dg = [0.0; MAXP * MAXP];
                channel.g_out(&ctx, mu, &omega[..p], bo, &mut dg[..p * p])?;
                if damp > 0.0 {
                    for (bk, ok) in bo.iter_mut().zip(old) {
                        *bk = (1.0 - damp) * *bk + damp * ok;
                    }
                }
                for (e, v) in extra.iter_mut().zip(&dg[..p * p]) {
                    *e += v;
                }
                grow.copy_from_slice(bo);
                Ok(())
            },
            &mut b_cm,
            p * p,
            &mut g_new,
            p,
        )?;
        let mut a_new: Vec<f64> = dgsum.iter().map(|s| -s / df).collect();
        symmetrize(p, &mut a_new);
        for (ak, nk) in a.iter_mut().zip(&a_new) {
            *ak = (1.0 - damp) * nk + damp * *ak;
        }
        if let Some(reason) = denoiser.outside_domain(&a) {
            out.a.copy_from_slice(&a);
            out.stopped = Some(reason);
            break;
        }
        for (wb, wk) in w_bar.iter_mut().zip(&w) {
            *wb = (1.0 - damp) * wk + damp * *wb;
        }
        // B = s X^T g + W_bar A (row-major)
        for i in 0..d {
            for k in 0..p {
                b[i * p + k] = s * b_cm[k * d + i] + (0..p).map(|l| w_bar[i * p + l] * a[l * p + k]).sum::<f64>();
            }
        }
        denoiser.denoise(pool, &b, &a, &mut w_new, &mut c)?;
        let diff = w.iter().zip(&w_new).map(|(o, nv)| (nv - o) * (nv - o)).sum::<f64>() / df;
        std::mem::swap(&mut w, &mut w_new);
        if !opts.fixed_variance {
            v.copy_from_slice(&c);
            symmetrize(p, &mut v);
        }
        if w.iter().any(|x| !x.is_finite()) || v.iter().any(|x| !x.is_finite()) {
            return Err(KernelError::Numerical { what: "gamp", reason: "the iterate became non-finite (try damping)".into() });
        }
        std::mem::swap(&mut g_prev, &mut g_new);
        out.a.copy_from_slice(&a);
        out.delta.push(diff);
        out.n_iter += 1;
        record(&mut out, &w, &v);
        let collapsed = (0..p).map(|k| v[k * p + k]).sum::<f64>() / (p as f64) < COLLAPSED;
        if diff < opts.tol || collapsed {
            out.converged = true;
            break;
        }
    }
    out.estimate = w;
    out.variance = v;
    Ok(out)
}
