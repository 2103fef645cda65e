//! Empirical risk minimisation for regression with a (possibly non-convex) loss and a ridge
//! (possibly negative) or a spherical constraint (Vilucchio et al., arXiv:2502.20003; digest 06,
//! Sec. 1):
//!
//! `w = argmin_w sum_mu rho(y_mu - <w, x_mu>/sqrt(d)) + (lam/2) ||w||^2`, or the same loss on the
//! sphere `||w||^2 = q d`.
//!
//! Solver: L-BFGS (Nocedal & Wright, Alg. 7.4/7.5) with a strong-Wolfe line search whose trial
//! steps cost O(n) (see [`objective`]), so one iteration streams `X` twice. On the sphere the
//! iterate is parametrised as `w = sqrt(q d) u/||u||` and renormalised after every step
//! (Riemannian L-BFGS with the projection retraction); the reported `lam_effective` is the
//! Lagrange multiplier `-<w, grad L>/||w||^2`, the ridge that has the same stationary point.
//!
//! After convergence the smallest eigenvalue of the Hessian
//! `X^T diag(rho'') X/d + lam I` (projected on the tangent space for the sphere) is computed by
//! Lanczos on the negated operator ([`crate::linalg::top_eigenpairs`]); a negative value means a
//! saddle, from which up to `n_restarts` escapes along the negative-curvature direction are
//! tried. The objective is declared unbounded below (an error, never a silent result) when
//! `||w||^2/d` exceeds `max_sq_norm` along a descent direction, and for the square loss when the
//! Hessian is not positive (`lam` below minus the bottom edge of the spectrum of `X^T X/d`).
//! Every sub-quadratic loss (Huber, Tukey, Cauchy, absolute) is unbounded below for any
//! `lam < 0` far from the origin; there the solver returns the local minimum reached from `w0`.
//!
//! The absolute and hinge losses are not differentiable: each is minimised as the limit of its
//! Huber smoothing (`huber_a(r)/a`; for the hinge `max(0, 1 + r)`, the quadratic piece
//! `t^2/(2a)` on `0 < t = 1 + r < a`) for `a = 1, 0.1, 0.01, 1e-3` (constant
//! [`ABSOLUTE_SMOOTHING`]), each stage warm-started from the previous one; the smoothing
//! changes the minimiser by `O(a)` (the smoothed objectives differ from the exact ones by at
//! most `a/2` per sample), and smaller `a` makes the problem too ill-conditioned for L-BFGS
//! (curvature `1/a` on the residuals within `a` of the kink). The margin losses (logistic,
//! hinge, squared hinge) run on `diag(y) X` with labels 0 ([`crate::losses`] module docs).

/// Final Huber smoothing `a` of the absolute and hinge losses (see the module docs).
pub const ABSOLUTE_SMOOTHING: f64 = 1e-3;

pub mod elastic_net;
mod line_search;
mod objective;

use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::linalg::{top_eigenpairs, LanczosOptions};
use crate::losses::Loss;
use crate::rng::fill_standard_normal;
use line_search::{strong_wolfe, AtMax, Search};
pub use objective::Design;
use objective::{dot, Data, Smooth};
use rayon::ThreadPool;
use std::collections::VecDeque;

/// Random-stream domain tags of the regression model and of ERM (`rng::domain::FREE + 40..49`).
pub mod domain {
    use crate::rng::domain::FREE;
    /// Teacher `theta*`.
    pub const TEACHER: u64 = FREE + 40;
    /// Rows of the design matrix.
    pub const DESIGN: u64 = FREE + 41;
    /// Outlier draws.
    pub const OUTLIER: u64 = FREE + 42;
    /// Label noise.
    pub const LABEL_NOISE: u64 = FREE + 43;
    /// Start vectors of the Hessian eigensolver.
    pub const HESSIAN: u64 = FREE + 44;
}

/// Regulariser or constraint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    /// `(lam/2) ||w||^2`, `lam` of any sign.
    Ridge {
        /// Ridge strength.
        lam: f64,
    },
    /// `||w||^2 = q d`.
    Sphere {
        /// Squared norm per coordinate, `q > 0`.
        q: f64,
    },
}

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub struct ErmOptions {
    /// Maximal number of L-BFGS iterations (per restart).
    pub max_iter: usize,
    /// Stop when `||grad||_2 / sqrt(n) <= gtol`.
    pub gtol: f64,
    /// Number of L-BFGS correction pairs.
    pub history: usize,
    /// `||w||^2/d` beyond which the objective is declared unbounded below.
    pub max_sq_norm: f64,
    /// Compute the smallest Hessian eigenvalue at the end.
    pub hessian_check: bool,
    /// Relative residual tolerance of that eigenvalue (the Ritz value is an upper bound of the
    /// smallest eigenvalue; 1e-2 settles its sign at a fraction of the cost of 1e-4).
    pub hessian_tol: f64,
    /// Escapes from saddles (negative Hessian eigenvalue) before giving up.
    pub n_restarts: usize,
    /// Seed of the Lanczos start vectors.
    pub seed: u64,
}

impl Default for ErmOptions {
    fn default() -> Self {
        Self {
            max_iter: 2000,
            gtol: 1e-8,
            history: 10,
            max_sq_norm: 1e4,
            hessian_check: true,
            hessian_tol: 1e-2,
            n_restarts: 3,
            seed: 0,
        }
    }
}

impl ErmOptions {
    fn validate(&self) -> Result<()> {
        ensure(self.gtol.is_finite() && self.gtol > 0.0, "gtol", || {
            format!("must be finite and > 0, got {}", self.gtol)
        })?;
        ensure(self.history >= 1, "history", || "must be at least 1".into())?;
        ensure(
            self.max_sq_norm.is_finite() && self.max_sq_norm > 0.0,
            "max_sq_norm",
            || format!("must be finite and > 0, got {}", self.max_sq_norm),
        )?;
        ensure(
            self.hessian_tol.is_finite() && self.hessian_tol > 0.0,
            "hessian_tol",
            || format!("must be finite and > 0, got {}", self.hessian_tol),
        )
    }
}

/// Result of [`erm`].
#[derive(Debug, Clone)]
pub struct ErmOutput {
    /// The minimiser.
    pub w: Vec<f64>,
    /// `sum rho + (lam/2)||w||^2` (sphere: `sum rho`).
    pub objective: f64,
    /// `||grad||_2 / sqrt(n)` at `w` (Riemannian gradient on the sphere).
    pub grad_norm: f64,
    /// L-BFGS iterations over all restarts.
    pub n_iter: usize,
    /// Objective evaluations (O(n) each).
    pub n_eval: usize,
    /// Passes over `X` (two per iteration; one per Hessian product for dense storage).
    pub n_pass: usize,
    /// Whether `grad_norm <= gtol`.
    pub converged: bool,
    /// Why the solver stopped.
    pub message: String,
    /// Smallest Hessian eigenvalue (NaN when not computed).
    pub hessian_min: f64,
    /// Whether its Lanczos run converged.
    pub hessian_converged: bool,
    /// The ridge with the same stationarity condition (`lam` itself for the ridge).
    pub lam_effective: f64,
    /// Saddle escapes performed.
    pub n_restarts: usize,
}

fn unbounded(reason: String) -> KernelError {
    KernelError::Numerical {
        what: "erm",
        reason: format!("the objective is unbounded below: {reason}"),
    }
}

/// Iterate and its derived quantities.
struct State {
    w: Vec<f64>,
    /// `X w / sqrt(d)`
    xw: Vec<f64>,
    /// gradient (Riemannian on the sphere)
    g: Vec<f64>,
    f: f64,
    lam_eff: f64,
}

struct Solver<'a, O: ?Sized, I: ?Sized> {
    data: Data<'a, O>,
    loss: Smooth,
    /// gradient tolerance of the current stage
    gtol: f64,
    constraint: Constraint,
    opts: ErmOptions,
    ctl: &'a I,
    n_iter: usize,
    n_eval: usize,
}

impl<O: Design + ?Sized, I: Interrupt + ?Sized> Solver<'_, O, I> {
    fn pool(&self) -> &ThreadPool {
        self.data.pool
    }

    fn radius(&self, d: usize) -> f64 {
        match self.constraint {
            Constraint::Sphere { q } => (q * d as f64).sqrt(),
            Constraint::Ridge { .. } => f64::NAN,
        }
    }

    fn lam(&self) -> f64 {
        match self.constraint {
            Constraint::Ridge { lam } => lam,
            Constraint::Sphere { .. } => 0.0,
        }
    }

    /// Objective value, `rho'` and gradient at `w` with known `xw`.
    fn complete(&mut self, w: Vec<f64>, xw: Vec<f64>) -> Result<State> {
        let n = self.data.n();
        let mut d1 = vec![0.0; n];
        let sum = self.data.derivatives(&self.loss, &xw, &mut d1, None);
        let mut g = vec![0.0; w.len()];
        self.data.backward(&d1, &mut g)?;
        g.iter_mut().for_each(|v| *v = -*v);
        let ww = dot(self.pool(), &w, &w);
        let (f, lam_eff) = match self.constraint {
            Constraint::Ridge { lam } => {
                g.iter_mut().zip(&w).for_each(|(gi, wi)| *gi += lam * wi);
                (sum + 0.5 * lam * ww, lam)
            }
            Constraint::Sphere { .. } => {
                let c = dot(self.pool(), &w, &g) / ww;
                g.iter_mut().zip(&w).for_each(|(gi, wi)| *gi -= c * wi);
                (sum, -c)
            }
        };
        if !(f.is_finite() && g.iter().all(|v| v.is_finite())) {
            return Err(KernelError::Numerical {
                what: "erm",
                reason: "the objective or its gradient became non-finite".into(),
            });
        }
        Ok(State {
            w,
            xw,
            g,
            f,
            lam_eff,
        })
    }

    fn grad_norm(&self, s: &State) -> f64 {
        (dot(self.pool(), &s.g, &s.g) / self.data.n() as f64).sqrt()
    }

    /// `(phi(t), phi'(t))` along `p` from `s` (with `xp = X p/sqrt(d)`).
    fn line(&self, s: &State, xp: &[f64], wp: f64, pp: f64, ww: f64, t: f64) -> (f64, f64) {
        match self.constraint {
            Constraint::Ridge { lam } => {
                let [sr, _, sp] = self.data.line_sums(&self.loss, &s.xw, xp, 1.0, t);
                (
                    sr + 0.5 * lam * (ww + 2.0 * t * wp + t * t * pp),
                    -sp + lam * (wp + t * pp),
                )
            }
            Constraint::Sphere { .. } => {
                // w(t) = c (w + t p)/||w + t p||, ||w|| = c
                let c = ww.sqrt();
                let nrm = (ww + 2.0 * t * wp + t * t * pp).sqrt();
                let a = c / nrm;
                let [sr, sw, sp] = self.data.line_sums(&self.loss, &s.xw, xp, a, a * t);
                let dn = (wp + t * pp) / nrm;
                (sr, -(a * sp - a * dn / nrm * (sw + t * sp)))
            }
        }
    }

    /// Move `s` by `t p` (renormalising on the sphere) and recompute the gradient.
    fn step(&mut self, s: &State, p: &[f64], xp: &[f64], t: f64) -> Result<State> {
        let mut w: Vec<f64> = s.w.iter().zip(p).map(|(a, b)| a + t * b).collect();
        let mut xw: Vec<f64> = s.xw.iter().zip(xp).map(|(a, b)| a + t * b).collect();
        if let Constraint::Sphere { .. } = self.constraint {
            let c = self.radius(w.len());
            let k = c / dot(self.pool(), &w, &w).sqrt();
            w.iter_mut().for_each(|v| *v *= k);
            xw.iter_mut().for_each(|v| *v *= k);
        }
        self.complete(w, xw)
    }

    fn t_max(&self, s: &State, wp: f64, pp: f64, ww: f64) -> (f64, AtMax) {
        match self.constraint {
            Constraint::Ridge { .. } => {
                // ||w + t p||^2 = max_sq_norm d
                let m = self.opts.max_sq_norm * s.w.len() as f64;
                let disc = (wp * wp - pp * (ww - m)).max(0.0);
                (((-wp + disc.sqrt()) / pp).max(0.0), AtMax::Unbounded)
            }
            Constraint::Sphere { .. } => (1e6 * ww.sqrt() / pp.sqrt(), AtMax::Accept),
        }
    }

    /// L-BFGS from `s` until convergence, failure or `max_iter`; returns the final state and a
    /// message.
    fn lbfgs(&mut self, mut s: State) -> Result<(State, String)> {
        let d = s.w.len();
        let n = self.data.n();
        let mut hist: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::new();
        let mut xp = vec![0.0; n];
        let mut failures = 0usize;
        for _ in 0..self.opts.max_iter {
            self.ctl.check()?;
            if self.grad_norm(&s) <= self.gtol {
                return Ok((s, "gradient tolerance reached".into()));
            }
            let mut p = two_loop(&s.g, &hist);
            let mut gp = dot(self.pool(), &s.g, &p);
            // not a descent direction (or NaN): restart from steepest descent
            if gp.is_nan() || gp >= 0.0 {
                hist.clear();
                p = s.g.iter().map(|v| -v).collect();
                gp = -dot(self.pool(), &s.g, &s.g);
            }
            self.data.forward(&p, &mut xp)?;
            let (wp, pp, ww) = (
                dot(self.pool(), &s.w, &p),
                dot(self.pool(), &p, &p),
                dot(self.pool(), &s.w, &s.w),
            );
            let t_init = if hist.is_empty() {
                // Newton step along p from the exact curvature of the data term
                let kappa = self.data.curvature(&self.loss, &s.xw, &xp) + s.lam_eff * pp;
                if kappa > 0.0 {
                    -gp / kappa
                } else {
                    (d as f64).sqrt() / pp.sqrt()
                }
            } else {
                1.0
            };
            let (t_max, at_max) = self.t_max(&s, wp, pp, ww);
            let mut evals = 0usize;
            let search = strong_wolfe(
                |t| {
                    evals += 1;
                    self.line(&s, &xp, wp, pp, ww, t)
                },
                s.f,
                gp,
                t_init,
                t_max,
                at_max,
            );
            self.n_eval += evals;
            self.n_iter += 1;
            let t = match search {
                Search::Step(pt) => pt.t,
                Search::Unbounded => {
                    return Err(unbounded(format!(
                        "||w||^2/d exceeded max_sq_norm = {:e} while the objective kept \
                         decreasing (lam = {}; with lam < 0 a sub-quadratic loss has no global \
                         minimum, and the square loss none below minus the bottom edge of the \
                         spectrum of X^T X/d)",
                        self.opts.max_sq_norm,
                        self.lam()
                    )))
                }
                Search::Failed => {
                    failures += 1;
                    if failures >= 2 || hist.is_empty() {
                        return Ok((
                            s,
                            "line search found no decrease (rounding level reached before gtol)"
                                .into(),
                        ));
                    }
                    hist.clear();
                    continue;
                }
            };
            failures = 0;
            let new = self.step(&s, &p, &xp, t)?;
            let sv: Vec<f64> = new.w.iter().zip(&s.w).map(|(a, b)| a - b).collect();
            let yv: Vec<f64> = new.g.iter().zip(&s.g).map(|(a, b)| a - b).collect();
            let sy = dot(self.pool(), &sv, &yv);
            let (ss, yy) = (dot(self.pool(), &sv, &sv), dot(self.pool(), &yv, &yv));
            if sy > 1e-10 * (ss * yy).sqrt() {
                if hist.len() == self.opts.history {
                    hist.pop_front();
                }
                hist.push_back((sv, yv, 1.0 / sy));
            }
            s = new;
            if let Constraint::Ridge { lam } = self.constraint {
                let q = dot(self.pool(), &s.w, &s.w) / d as f64;
                if q > self.opts.max_sq_norm {
                    return Err(unbounded(format!(
                        "||w||^2/d = {q:e} exceeded max_sq_norm (lam = {lam})"
                    )));
                }
            }
        }
        Ok((s, format!("max_iter = {} reached", self.opts.max_iter)))
    }

    /// Smallest eigenvalue (and its unit eigenvector) of the Hessian at `s`: Lanczos on the
    /// negated operator. On the sphere the operator is restricted to the tangent space through
    /// the Householder reflection `Q` that maps `e_d` to `w/||w||` (tangent vectors are
    /// `Q [v; 0]`, `v` in R^{d-1}), and `lam` is the Lagrange multiplier.
    fn hessian_min(&mut self, s: &State) -> Result<(f64, Vec<f64>, bool)> {
        let d = s.w.len();
        let n = self.data.n();
        let sphere = matches!(self.constraint, Constraint::Sphere { .. });
        let m = if sphere { d - 1 } else { d };
        if m == 0 {
            return Ok((f64::NAN, Vec::new(), true));
        }
        let mut d1 = vec![0.0; n];
        let mut d2 = vec![0.0; n];
        self.data
            .derivatives(&self.loss, &s.xw, &mut d1, Some(&mut d2));
        let lam = s.lam_eff;
        let pool = self.data.pool;
        // Householder vector h = w/||w|| - e_d (reflection x -> x - 2 (h.x)/(h.h) h)
        let mut h = vec![0.0; if sphere { d } else { 0 }];
        let mut hh = 0.0;
        if sphere {
            let nrm = dot(pool, &s.w, &s.w).sqrt();
            h.iter_mut().zip(&s.w).for_each(|(a, b)| *a = b / nrm);
            h[d - 1] -= 1.0;
            hh = dot(pool, &h, &h);
        }
        let reflect = |x: &mut [f64]| {
            if hh > 1e-30 {
                let c = 2.0 * dot(pool, &h, x) / hh;
                x.iter_mut().zip(&h).for_each(|(a, b)| *a -= c * b);
            }
        };
        let mut v0 = vec![0.0; m];
        fill_standard_normal(pool, self.opts.seed, domain::HESSIAN, &mut v0);
        let mut full = vec![0.0; d];
        let mut out_full = vec![0.0; d];
        let data = &mut self.data;
        let op = |v: &[f64], out: &mut [f64]| -> Result<()> {
            full[..m].copy_from_slice(v);
            if sphere {
                full[d - 1] = 0.0;
                reflect(&mut full);
            }
            data.gram(&d2, &full, &mut out_full)?;
            out_full
                .iter_mut()
                .zip(&full)
                .for_each(|(o, t)| *o += lam * t);
            if sphere {
                reflect(&mut out_full);
            }
            out.iter_mut()
                .zip(&out_full[..m])
                .for_each(|(o, t)| *o = -t);
            Ok(())
        };
        let mut lo = LanczosOptions::new(m, 1);
        lo.tol = self.opts.hessian_tol;
        lo.max_restarts = 200;
        let e = top_eigenpairs(pool, m, op, &v0, lo, self.ctl)?;
        let mut v = e.vectors.into_iter().next().unwrap_or_else(|| vec![0.0; m]);
        if sphere {
            v.push(0.0);
            reflect(&mut v);
        }
        Ok((-e.values[0], v, e.converged))
    }

    /// Move from a saddle along the unit negative-curvature direction `v`; returns the new state
    /// if the objective decreased.
    fn escape(&mut self, s: &State, v: &[f64]) -> Result<Option<State>> {
        let d = s.w.len();
        let sgn = if dot(self.pool(), &s.g, v) > 0.0 {
            -1.0
        } else {
            1.0
        };
        let p: Vec<f64> = v.iter().map(|x| sgn * x).collect();
        let mut xp = vec![0.0; self.data.n()];
        self.data.forward(&p, &mut xp)?;
        let (wp, pp, ww) = (
            dot(self.pool(), &s.w, &p),
            dot(self.pool(), &p, &p),
            dot(self.pool(), &s.w, &s.w),
        );
        let (t_max, _) = self.t_max(s, wp, pp, ww);
        // largest decrease on a geometric grid of steps, from 1e-3 to sqrt(d) per coordinate scale
        let mut best = (s.f, 0.0);
        let mut t = 1e-3 * (d as f64).sqrt();
        while t <= t_max.min((d as f64).sqrt() * 10.0) {
            let (f, _) = self.line(s, &xp, wp, pp, ww, t);
            self.n_eval += 1;
            if f < best.0 {
                best = (f, t);
            }
            t *= 2.0;
        }
        if best.1 > 0.0 {
            Ok(Some(self.step(s, &p, &xp, best.1)?))
        } else {
            Ok(None)
        }
    }
}

/// L-BFGS two-loop recursion: `-H g` with the stored pairs `(s, y, 1/s.y)`.
fn two_loop(g: &[f64], hist: &VecDeque<(Vec<f64>, Vec<f64>, f64)>) -> Vec<f64> {
    let dotp = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut q: Vec<f64> = g.to_vec();
    let mut alphas = Vec::with_capacity(hist.len());
    for (s, y, rho) in hist.iter().rev() {
        let a = rho * dotp(s, &q);
        q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
        alphas.push(a);
    }
    if let Some((s, y, _)) = hist.back() {
        let gamma = dotp(s, y) / dotp(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for ((s, y, rho), a) in hist.iter().zip(alphas.iter().rev()) {
        let b = rho * dotp(y, &q);
        q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

/// Solve the ERM problem (see the module docs) from `w0` on the data `x` (`n x d`, any
/// [`Design`]: dense storage, or any [`crate::linalg::LinearOperator`] given a `Design` impl) and
/// labels `y`.
#[allow(clippy::too_many_arguments)]
pub fn erm<O, I>(
    pool: &ThreadPool,
    x: &O,
    y: &[f64],
    loss: Loss,
    constraint: Constraint,
    w0: &[f64],
    opts: ErmOptions,
    ctl: &I,
) -> Result<ErmOutput>
where
    O: Design + ?Sized,
    I: Interrupt + ?Sized,
{
    opts.validate()?;
    let (n, d) = (x.nrows(), x.ncols());
    ensure(n >= 1 && d >= 1, "x", || {
        format!("must have at least one row and one column, got {n} x {d}")
    })?;
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(w0.len() == d, "w0", || {
        format!("has length {}, expected {d}", w0.len())
    })?;
    ensure(y.iter().all(|v| v.is_finite()), "y", || {
        "contains NaN or infinity".into()
    })?;
    ensure(w0.iter().all(|v| v.is_finite()), "w0", || {
        "contains NaN or infinity".into()
    })?;
    match constraint {
        Constraint::Ridge { lam } => ensure(lam.is_finite(), "lam", || {
            format!("must be finite, got {lam}")
        })?,
        Constraint::Sphere { q } => {
            ensure(q.is_finite() && q > 0.0, "q", || {
                format!("must be finite and > 0, got {q}")
            })?;
            ensure(w0.iter().any(|&v| v != 0.0), "w0", || {
                "must be non-zero for the spherical constraint".into()
            })?;
        }
    }
    // (loss seen by the solver, gradient tolerance of the stage)
    let stages: Vec<(Smooth, f64)> = match loss {
        Loss::Absolute | Loss::Hinge => {
            let k_max = (-ABSOLUTE_SMOOTHING.log10()).round() as i32;
            (0..=k_max)
                .map(|k| {
                    let gtol = if k == k_max {
                        opts.gtol
                    } else {
                        opts.gtol.max(1e-5)
                    };
                    let a = 10f64.powi(-k);
                    let stage = if loss == Loss::Hinge {
                        Smooth::Hinge { a }
                    } else {
                        Smooth::Absolute { a }
                    };
                    (stage, gtol)
                })
                .collect()
        }
        other => vec![(Smooth::new(other), opts.gtol)],
    };
    let mut solver = Solver {
        data: Data {
            pool,
            x,
            y,
            inv_sqrt_d: 1.0 / (d as f64).sqrt(),
            passes: 0,
        },
        loss: stages[0].0,
        gtol: opts.gtol,
        constraint,
        opts,
        ctl,
        n_iter: 0,
        n_eval: 0,
    };
    let mut w = w0.to_vec();
    if let Constraint::Sphere { q } = constraint {
        let k = (q * d as f64).sqrt() / dot(pool, &w, &w).sqrt();
        w.iter_mut().for_each(|v| *v *= k);
    }
    let mut xw = vec![0.0; n];
    solver.data.forward(&w, &mut xw)?;
    let mut state = solver.complete(w, xw)?;
    let mut message = String::new();
    for (k, &(stage, gtol)) in stages.iter().enumerate() {
        solver.loss = stage;
        solver.gtol = gtol;
        if k > 0 {
            state = solver.complete(state.w, state.xw)?;
        }
        let (s, m) = solver.lbfgs(state)?;
        state = s;
        message = m;
    }
    let mut hessian = (f64::NAN, false);
    let mut restarts = 0usize;
    let must_check = loss.grows_quadratically() && solver.lam() < 0.0;
    if opts.hessian_check || must_check {
        loop {
            let (hmin, v, conv) = solver.hessian_min(&state)?;
            hessian = (hmin, conv);
            if hmin.is_nan() || hmin >= 0.0 {
                break;
            }
            if loss.grows_quadratically() {
                if let Constraint::Ridge { lam } = constraint {
                    return Err(unbounded(format!(
                        "the Hessian X^T X/d + lam I has the negative eigenvalue {hmin:.6e}: \
                         lam = {lam} is below -lambda_min(X^T X/d) = {:.6e}",
                        -(hmin - lam)
                    )));
                }
            }
            if restarts >= opts.n_restarts {
                break;
            }
            match solver.escape(&state, &v)? {
                Some(s) => {
                    restarts += 1;
                    let (s, m) = solver.lbfgs(s)?;
                    state = s;
                    message = format!("{m} (after {restarts} saddle escape(s))");
                }
                None => break,
            }
        }
    }
    let grad_norm = solver.grad_norm(&state);
    Ok(ErmOutput {
        objective: state.f,
        grad_norm,
        converged: grad_norm <= opts.gtol,
        message,
        hessian_min: hessian.0,
        hessian_converged: hessian.1,
        lam_effective: state.lam_eff,
        n_restarts: restarts,
        n_iter: solver.n_iter,
        n_eval: solver.n_eval,
        n_pass: solver.data.passes,
        w: state.w,
    })
}

#[cfg(test)]
mod tests;
