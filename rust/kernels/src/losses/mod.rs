//! Scalar regression losses `rho(r)` of the residual `r = y - z`, their derivatives, and their
//! proximal maps, the ingredients of empirical risk minimisation ([`crate::erm`]), of GAMP for
//! ERM (through [`ProxChannel`]) and of the replica-symmetric theory (Python,
//! `hdcore.theory.erm`), which integrates the same functions.
//!
//! Proximal map in residual form (Vilucchio et al., arXiv:2502.20003; digest 06, Sec. 3.2):
//! for `V > 0` the prox residual of `delta = y - omega` is
//! `r(delta) = argmin_r rho(r) + (delta - r)^2 / (2 V)`, a stationary point solves
//! `r + V rho'(r) = delta`, and the map is single-valued and monotone iff
//! `1 + V rho''(r) > 0` for every `r`, i.e. `V < -1 / min rho''` when `min rho'' < 0`:
//! Tukey (`min rho'' = -4/5`) needs `V < 5/4`, Cauchy (`min rho'' = -1/8`) needs `V < 8`; the
//! convex losses are single-valued for every `V`. Beyond that bound [`Loss::prox`] still returns
//! the global minimiser (the Moreau proximal point), and [`Loss::prox_single_valued`] says that
//! the map has become discontinuous.
//!
//! Classification (margin) losses `l(u)` of the margin `u = y z`, `y = +-1`, are stored in the
//! same residual form through `r = -u`: `rho(r) = l(-r)`. Minimising `sum rho(0 - (X' w)_mu)`
//! on the design `X' = diag(y) X` with labels `0` is then ERM of `sum l(y_mu z_mu)`, and the
//! margin prox is `prox_l(t) = -r(-t)`. [`Loss::Logistic`] (`l(u) = log(1 + e^{-u})`),
//! [`Loss::Hinge`] (`l(u) = max(0, 1 - u)`) and [`Loss::SquareHinge`]
//! (`l(u) = max(0, 1 - u)^2/2`) are convex and neither even nor zero at `r = 0`.

pub mod channel;

pub use channel::ProxChannel;

use crate::error::{ensure, invalid, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Elements per task of the batch evaluations (fixed, so results never depend on threads).
const BATCH: usize = 1 << 12;

/// A scalar loss of the residual. Every built-in loss has `rho'' <= 1`; the regression losses are
/// even with `rho(0) = 0`, the margin losses are in the residual form of the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// `rho(r) = r^2 / 2`.
    Square,
    /// `rho(r) = |r|` (`rho'' = 0` away from the kink; its prox is the soft threshold).
    Absolute,
    /// Huber: `r^2/2` for `|r| <= a`, `a |r| - a^2/2` otherwise.
    Huber {
        /// Transition point, `a > 0`.
        a: f64,
    },
    /// Tukey biweight: `(tau^2/6)[1 - (1 - r^2/tau^2)^3]` for `|r| <= tau`, `tau^2/6` otherwise.
    Tukey {
        /// Rejection point, `tau > 0`.
        tau: f64,
    },
    /// Cauchy: `(tau^2/2) log(1 + r^2/tau^2)`.
    Cauchy {
        /// Scale, `tau > 0`.
        tau: f64,
    },
    /// Logistic margin loss: `rho(r) = log(1 + e^r)` (`l(u) = log(1 + e^{-u})`, `u = -r`).
    Logistic,
    /// Hinge margin loss: `rho(r) = max(0, 1 + r)` (`l(u) = max(0, 1 - u)`); `rho'' = 0` away
    /// from the kink at `r = -1`.
    Hinge,
    /// Squared hinge: `rho(r) = max(0, 1 + r)^2/2` (`l(u) = max(0, 1 - u)^2/2`).
    SquareHinge,
}

/// The prox residual of `delta` and its derivative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prox {
    /// `r = argmin_r rho(r) + (delta - r)^2/(2V)` (the global minimiser).
    pub r: f64,
    /// `dr/d delta = 1/(1 + V rho''(r))` (0 inside the dead zone of the absolute loss).
    pub dr: f64,
}

/// Names accepted by [`Loss::from_name`].
pub const NAMES: [&str; 8] = [
    "square",
    "absolute",
    "huber",
    "tukey",
    "cauchy",
    "logistic",
    "hinge",
    "square_hinge",
];

impl Loss {
    /// A loss from its name and parameter (`a` for Huber, `tau` for Tukey and Cauchy).
    pub fn from_name(name: &str, param: Option<f64>) -> Result<Self> {
        let need = |what: &'static str| -> Result<f64> {
            let p = param.ok_or_else(|| {
                invalid(
                    "param",
                    format!("the {name} loss needs its parameter `{what}`"),
                )
            })?;
            ensure(p.is_finite() && p > 0.0, "param", || {
                format!("`{what}` of the {name} loss must be finite and > 0, got {p}")
            })?;
            Ok(p)
        };
        let loss = match name {
            "square" => Loss::Square,
            "absolute" => Loss::Absolute,
            "huber" => Loss::Huber { a: need("a")? },
            "tukey" => Loss::Tukey { tau: need("tau")? },
            "cauchy" => Loss::Cauchy { tau: need("tau")? },
            "logistic" => Loss::Logistic,
            "hinge" => Loss::Hinge,
            "square_hinge" => Loss::SquareHinge,
            other => {
                return Err(invalid(
                    "loss",
                    format!("unknown loss {other:?}; expected one of {NAMES:?}"),
                ))
            }
        };
        if loss.param().is_none() {
            ensure(param.is_none(), "param", || {
                format!("the {name} loss takes no parameter")
            })?;
        }
        Ok(loss)
    }

    /// Name of the loss.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Square => "square",
            Loss::Absolute => "absolute",
            Loss::Huber { .. } => "huber",
            Loss::Tukey { .. } => "tukey",
            Loss::Cauchy { .. } => "cauchy",
            Loss::Logistic => "logistic",
            Loss::Hinge => "hinge",
            Loss::SquareHinge => "square_hinge",
        }
    }

    /// Its parameter, if it has one.
    pub fn param(&self) -> Option<f64> {
        match *self {
            Loss::Square | Loss::Absolute | Loss::Logistic | Loss::Hinge | Loss::SquareHinge => {
                None
            }
            Loss::Huber { a } => Some(a),
            Loss::Tukey { tau } | Loss::Cauchy { tau } => Some(tau),
        }
    }

    /// `(rho(r), rho'(r), rho''(r))`.
    #[inline]
    pub fn eval(&self, r: f64) -> (f64, f64, f64) {
        match *self {
            Loss::Square => (0.5 * r * r, r, 1.0),
            Loss::Absolute => (r.abs(), sign(r), 0.0),
            Loss::Huber { a } => {
                if r.abs() <= a {
                    (0.5 * r * r, r, 1.0)
                } else {
                    (a * r.abs() - 0.5 * a * a, a * sign(r), 0.0)
                }
            }
            Loss::Tukey { tau } => {
                let s = (r / tau) * (r / tau);
                if s <= 1.0 {
                    let u = 1.0 - s;
                    (
                        tau * tau / 6.0 * (1.0 - u * u * u),
                        r * u * u,
                        u * (1.0 - 5.0 * s),
                    )
                } else {
                    (tau * tau / 6.0, 0.0, 0.0)
                }
            }
            Loss::Cauchy { tau } => {
                let s = (r / tau) * (r / tau);
                let den = 1.0 + s;
                (
                    0.5 * tau * tau * s.ln_1p(),
                    r / den,
                    (1.0 - s) / (den * den),
                )
            }
            Loss::Logistic => {
                // log(1 + e^r) = max(r, 0) + log(1 + e^{-|r|}); sigma(r) without overflow
                let e = (-r.abs()).exp();
                let sig = if r >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                };
                (r.max(0.0) + e.ln_1p(), sig, sig * (1.0 - sig))
            }
            Loss::Hinge => {
                let t = 1.0 + r;
                if t > 0.0 {
                    (t, 1.0, 0.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
            Loss::SquareHinge => {
                let t = 1.0 + r;
                if t > 0.0 {
                    (0.5 * t * t, t, 1.0)
                } else {
                    (0.0, 0.0, 0.0)
                }
            }
        }
    }

    /// `rho(r)`.
    #[inline]
    pub fn value(&self, r: f64) -> f64 {
        self.eval(r).0
    }

    /// `(rho'(r), rho''(r))` (cheaper than [`Loss::eval`] for Cauchy: no logarithm).
    #[inline]
    pub fn d1_d2(&self, r: f64) -> (f64, f64) {
        match *self {
            Loss::Cauchy { tau } => {
                let s = (r / tau) * (r / tau);
                let den = 1.0 + s;
                (r / den, (1.0 - s) / (den * den))
            }
            _ => {
                let (_, d1, d2) = self.eval(r);
                (d1, d2)
            }
        }
    }

    /// `rho'(r)`.
    #[inline]
    pub fn d1(&self, r: f64) -> f64 {
        self.d1_d2(r).0
    }

    /// `rho''(r)`.
    #[inline]
    pub fn d2(&self, r: f64) -> f64 {
        self.d1_d2(r).1
    }

    /// `inf_r rho''(r)`: Tukey `-4/5` (at `r^2 = 3 tau^2/5`), Cauchy `-1/8` (at `r^2 = 3 tau^2`).
    pub fn min_d2(&self) -> f64 {
        match self {
            Loss::Square => 1.0,
            Loss::Absolute
            | Loss::Huber { .. }
            | Loss::Logistic
            | Loss::Hinge
            | Loss::SquareHinge => 0.0,
            Loss::Tukey { .. } => -0.8,
            Loss::Cauchy { .. } => -0.125,
        }
    }

    /// `sup_r |rho'(r)|` (infinite for the square loss).
    pub fn max_abs_d1(&self) -> f64 {
        match *self {
            Loss::Square | Loss::SquareHinge => f64::INFINITY,
            Loss::Absolute | Loss::Logistic | Loss::Hinge => 1.0,
            Loss::Huber { a } => a,
            // at r = tau/sqrt(5): (tau/sqrt 5)(4/5)^2
            Loss::Tukey { tau } => tau * 16.0 / (25.0 * 5f64.sqrt()),
            Loss::Cauchy { tau } => 0.5 * tau,
        }
    }

    /// The supremum of the prox variances `V` with a single-valued prox: `-1/min rho''`
    /// (Tukey 5/4, Cauchy 8), infinite for convex losses.
    pub fn max_prox_variance(&self) -> f64 {
        let m = self.min_d2();
        if m < 0.0 {
            -1.0 / m
        } else {
            f64::INFINITY
        }
    }

    /// Whether `1 + V rho''(r) > 0` for every `r`, i.e. the prox at variance `v` is single-valued.
    pub fn prox_single_valued(&self, v: f64) -> bool {
        v >= 0.0 && v < self.max_prox_variance()
    }

    /// Whether the loss is convex.
    pub fn is_convex(&self) -> bool {
        self.min_d2() >= 0.0
    }

    /// Whether `rho` grows quadratically at infinity (then a ridge `lam < 0` keeps the objective
    /// bounded below as long as the Hessian stays positive; otherwise any `lam < 0` makes it
    /// unbounded below far from the origin).
    pub fn grows_quadratically(&self) -> bool {
        matches!(self, Loss::Square)
    }

    /// Points where `rho''` or `rho'''` jumps (quadrature breakpoints of the theory).
    pub fn breakpoints(&self) -> Vec<f64> {
        match *self {
            Loss::Square | Loss::Cauchy { .. } | Loss::Logistic => vec![],
            Loss::Absolute => vec![0.0],
            Loss::Hinge | Loss::SquareHinge => vec![-1.0],
            Loss::Huber { a } => vec![-a, a],
            Loss::Tukey { tau } => vec![-tau, tau],
        }
    }

    /// The points where `1 + v rho''(r) = 0` (empty while the prox is single-valued).
    pub fn inflections(&self, v: f64) -> Vec<f64> {
        if self.prox_single_valued(v) || v <= 0.0 {
            return vec![];
        }
        // roots s = r^2/tau^2 of a quadratic a2 s^2 + a1 s + a0 = 0
        let (tau, a2, a1, a0) = match *self {
            // 1 + v (1 - 6 s + 5 s^2) = 0
            Loss::Tukey { tau } => (tau, 5.0, -6.0, 1.0 + 1.0 / v),
            // v (1 - s) + (1 + s)^2 = 0  <=>  s^2 + (2 - v) s + (1 + v) = 0
            Loss::Cauchy { tau } => (tau, 1.0, 2.0 - v, 1.0 + v),
            _ => return vec![],
        };
        let disc = (a1 * a1 - 4.0 * a2 * a0).max(0.0).sqrt();
        let mut out = Vec::with_capacity(4);
        for s in [(-a1 - disc) / (2.0 * a2), (-a1 + disc) / (2.0 * a2)] {
            if s > 0.0 {
                let r = tau * s.sqrt();
                out.push(-r);
                out.push(r);
            }
        }
        out.sort_by(f64::total_cmp);
        out
    }

    /// Prox residual of `delta` at variance `v >= 0` (see the module docs) and its derivative.
    /// Closed forms for the square, absolute, Huber, hinge and squared-hinge losses; safeguarded
    /// Newton on the stationarity condition for the logistic loss (bracket
    /// `[delta - v, delta]`, since `0 < rho' < 1`), Tukey and Cauchy, with a scan of all stationary points (global
    /// minimum kept) once the prox is multivalued. Non-finite input gives NaN.
    pub fn prox(&self, delta: f64, v: f64) -> Prox {
        if !(delta.is_finite() && v.is_finite() && v >= 0.0) {
            return Prox {
                r: f64::NAN,
                dr: f64::NAN,
            };
        }
        if v == 0.0 {
            return Prox { r: delta, dr: 1.0 };
        }
        match *self {
            Loss::Square => Prox {
                r: delta / (1.0 + v),
                dr: 1.0 / (1.0 + v),
            },
            Loss::Absolute => {
                if delta.abs() <= v {
                    Prox { r: 0.0, dr: 0.0 }
                } else {
                    Prox {
                        r: delta - v * sign(delta),
                        dr: 1.0,
                    }
                }
            }
            Loss::Huber { a } => {
                if delta.abs() <= a * (1.0 + v) {
                    Prox {
                        r: delta / (1.0 + v),
                        dr: 1.0 / (1.0 + v),
                    }
                } else {
                    Prox {
                        r: delta - v * a * sign(delta),
                        dr: 1.0,
                    }
                }
            }
            Loss::Hinge => {
                // r = delta below the kink, stuck at r = -1 for delta in [-1, v - 1], then delta - v
                if delta < -1.0 {
                    Prox { r: delta, dr: 1.0 }
                } else if delta <= v - 1.0 {
                    Prox { r: -1.0, dr: 0.0 }
                } else {
                    Prox {
                        r: delta - v,
                        dr: 1.0,
                    }
                }
            }
            Loss::SquareHinge => {
                if delta <= -1.0 {
                    Prox { r: delta, dr: 1.0 }
                } else {
                    Prox {
                        r: (delta - v) / (1.0 + v),
                        dr: 1.0 / (1.0 + v),
                    }
                }
            }
            Loss::Logistic => {
                let r = self.root(delta, v, delta - v, delta, true);
                Prox {
                    r,
                    dr: 1.0 / (1.0 + v * self.d2(r)),
                }
            }
            Loss::Tukey { tau } if delta.abs() >= tau && self.prox_single_valued(v) => {
                // rho' vanishes beyond tau, so r = delta is the (unique) stationary point
                Prox { r: delta, dr: 1.0 }
            }
            Loss::Tukey { .. } | Loss::Cauchy { .. } => {
                let r = if self.prox_single_valued(v) {
                    // g(0) = -delta and g(delta) = v rho'(delta) have opposite signs
                    let (lo, hi) = if delta >= 0.0 {
                        (0.0, delta)
                    } else {
                        (delta, 0.0)
                    };
                    self.root(delta, v, lo, hi, true)
                } else {
                    self.global_prox(delta, v)
                };
                let den = 1.0 + v * self.d2(r);
                Prox {
                    r,
                    dr: if den > 0.0 { 1.0 / den } else { f64::INFINITY },
                }
            }
        }
    }

    /// Root of `g(r) = r + v rho'(r) - delta` on `[lo, hi]`, where `g` is monotone
    /// (`increasing` says in which direction) and changes sign.
    fn root(&self, delta: f64, v: f64, mut lo: f64, mut hi: f64, increasing: bool) -> f64 {
        let sgn = if increasing { 1.0 } else { -1.0 };
        let g = |r: f64| sgn * (r + v * self.d1(r) - delta);
        let guess = delta / (1.0 + v);
        let mut x = if guess > lo && guess < hi {
            guess
        } else {
            0.5 * (lo + hi)
        };
        for _ in 0..200 {
            let (d1, d2) = self.d1_d2(x);
            let gx = sgn * (x + v * d1 - delta);
            if gx == 0.0 {
                return x;
            }
            if gx < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
            let slope = sgn * (1.0 + v * d2);
            let newton = x - gx / slope;
            let next = if slope > 0.0 && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            let scale = next.abs().max(x.abs()).max(f64::MIN_POSITIVE);
            if (next - x).abs() <= 4.0 * f64::EPSILON * scale
                || hi - lo <= 4.0 * f64::EPSILON * scale
            {
                return next;
            }
            x = next;
        }
        // 200 safeguarded steps always shrink the bracket to rounding level; keep the better end
        if g(lo).abs() <= g(hi).abs() {
            lo
        } else {
            hi
        }
    }

    /// Global minimiser of `rho(r) + (delta - r)^2/(2v)` when several stationary points exist:
    /// `g` is monotone between consecutive inflections (and kinks), every root is bracketed.
    fn global_prox(&self, delta: f64, v: f64) -> f64 {
        let reach = v * self.max_abs_d1();
        let (lo, hi) = (delta - reach, delta + reach);
        let mut cuts = vec![lo];
        for c in self.inflections(v).into_iter().chain(self.breakpoints()) {
            if c > lo && c < hi {
                cuts.push(c);
            }
        }
        cuts.push(hi);
        cuts.sort_by(f64::total_cmp);
        let g = |r: f64| r + v * self.d1(r) - delta;
        let objective = |r: f64| self.value(r) + (delta - r) * (delta - r) / (2.0 * v);
        let mut best = (f64::INFINITY, delta);
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let (ga, gb) = (g(a), g(b));
            let r = if ga == 0.0 {
                a
            } else if gb == 0.0 {
                b
            } else if (ga < 0.0) != (gb < 0.0) {
                self.root(delta, v, a, b, ga < 0.0)
            } else {
                continue;
            };
            let val = objective(r);
            if val < best.0 {
                best = (val, r);
            }
        }
        best.1
    }

    /// Evaluate `rho`, `rho'`, `rho''` on a batch (parallel, fixed chunks).
    pub fn eval_batch(
        &self,
        pool: &ThreadPool,
        r: &[f64],
        value: &mut [f64],
        d1: &mut [f64],
        d2: &mut [f64],
    ) -> Result<()> {
        let n = r.len();
        for (name, len) in [("value", value.len()), ("d1", d1.len()), ("d2", d2.len())] {
            ensure(len == n, name, || format!("has length {len}, expected {n}"))?;
        }
        pool.install(|| {
            r.par_chunks(BATCH)
                .zip(value.par_chunks_mut(BATCH))
                .zip(d1.par_chunks_mut(BATCH))
                .zip(d2.par_chunks_mut(BATCH))
                .for_each(|(((rc, vc), ac), bc)| {
                    for k in 0..rc.len() {
                        let (v, a, b) = self.eval(rc[k]);
                        vc[k] = v;
                        ac[k] = a;
                        bc[k] = b;
                    }
                })
        });
        Ok(())
    }

    /// Prox residuals and derivatives of a batch of `delta` at one variance `v >= 0`.
    pub fn prox_batch(
        &self,
        pool: &ThreadPool,
        delta: &[f64],
        v: f64,
        r: &mut [f64],
        dr: &mut [f64],
    ) -> Result<()> {
        ensure(v.is_finite() && v >= 0.0, "v", || {
            format!("must be finite and >= 0, got {v}")
        })?;
        let n = delta.len();
        ensure(r.len() == n, "r", || {
            format!("has length {}, expected {n}", r.len())
        })?;
        ensure(dr.len() == n, "dr", || {
            format!("has length {}, expected {n}", dr.len())
        })?;
        pool.install(|| {
            delta
                .par_chunks(BATCH)
                .zip(r.par_chunks_mut(BATCH))
                .zip(dr.par_chunks_mut(BATCH))
                .for_each(|((dc, rc), drc)| {
                    for k in 0..dc.len() {
                        let p = self.prox(dc[k], v);
                        rc[k] = p.r;
                        drc[k] = p.dr;
                    }
                })
        });
        Ok(())
    }
}

#[inline]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn all() -> Vec<Loss> {
        vec![
            Loss::Square,
            Loss::Absolute,
            Loss::Huber { a: 0.7 },
            Loss::Tukey { tau: 1.3 },
            Loss::Cauchy { tau: 0.9 },
            Loss::Logistic,
            Loss::Hinge,
            Loss::SquareHinge,
        ]
    }

    /// Brute force: the minimiser of the prox objective on a fine grid, refined by golden section.
    fn brute_prox(loss: &Loss, delta: f64, v: f64) -> f64 {
        let obj = |r: f64| loss.value(r) + (delta - r) * (delta - r) / (2.0 * v);
        let (lo, hi) = (delta.min(0.0) - 5.0, delta.max(0.0) + 5.0);
        let n = 200_000;
        let h = (hi - lo) / n as f64;
        let mut best = (f64::INFINITY, 0.0);
        for i in 0..=n {
            let r = lo + h * i as f64;
            let o = obj(r);
            if o < best.0 {
                best = (o, r);
            }
        }
        let (mut a, mut b) = (best.1 - h, best.1 + h);
        for _ in 0..200 {
            let m1 = a + 0.382 * (b - a);
            let m2 = a + 0.618 * (b - a);
            if obj(m1) < obj(m2) {
                b = m2;
            } else {
                a = m1;
            }
        }
        0.5 * (a + b)
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let h = 1e-6;
        for loss in all() {
            for &r in &[-2.3, -1.0, -0.41, 0.13, 0.5, 0.95, 1.7, 3.1] {
                if loss.breakpoints().contains(&r) {
                    continue; // a kink (hinge, squared hinge at r = -1)
                }
                let (_, d1, d2) = loss.eval(r);
                let fd1 = (loss.value(r + h) - loss.value(r - h)) / (2.0 * h);
                let fd2 = (loss.d1(r + h) - loss.d1(r - h)) / (2.0 * h);
                assert!(
                    (d1 - fd1).abs() < 1e-7,
                    "{loss:?} rho' at {r}: {d1} vs {fd1}"
                );
                assert!(
                    (d2 - fd2).abs() < 1e-6,
                    "{loss:?} rho'' at {r}: {d2} vs {fd2}"
                );
            }
        }
    }

    #[test]
    fn min_second_derivative_is_the_infimum() {
        for loss in all() {
            let m = (-100_000..=100_000)
                .map(|i| loss.d2(i as f64 * 1e-4))
                .fold(f64::INFINITY, f64::min);
            // the logistic sigma(1 - sigma) approaches 0 only as |r| -> infinity (4.5e-5 at 10)
            let tol = if loss == Loss::Logistic { 1e-4 } else { 1e-6 };
            assert!(m >= loss.min_d2() - 1e-12, "{loss:?}: {m}");
            assert!((m - loss.min_d2()).abs() < tol, "{loss:?}: {m}");
            let sup = (-100_000..=100_000)
                .map(|i| loss.d1(i as f64 * 1e-4).abs())
                .fold(0.0, f64::max);
            if loss.max_abs_d1().is_finite() {
                assert!(sup <= loss.max_abs_d1() + 1e-12, "{loss:?}: {sup}");
                assert!((sup - loss.max_abs_d1()).abs() < tol, "{loss:?}: {sup}");
            }
        }
    }

    #[test]
    fn prox_matches_brute_force_minimisation() {
        for loss in all() {
            for &v in &[0.05, 0.5, 1.2, 1.3, 3.0, 9.0] {
                for &delta in &[-4.0, -1.5, -0.8, -0.2, 0.0, 0.3, 0.9, 1.25, 2.2, 6.0] {
                    let p = loss.prox(delta, v);
                    let b = brute_prox(&loss, delta, v);
                    let obj = |r: f64| loss.value(r) + (delta - r) * (delta - r) / (2.0 * v);
                    // compare objective values (robust at ties of a multivalued prox) and points
                    assert!(
                        obj(p.r) <= obj(b) + 1e-10,
                        "{loss:?} v={v} delta={delta}: prox {} (obj {}) vs brute {b} (obj {})",
                        p.r,
                        obj(p.r),
                        obj(b)
                    );
                    if loss.prox_single_valued(v) {
                        assert!((p.r - b).abs() < 1e-6, "{loss:?} v={v} delta={delta}");
                    }
                }
            }
        }
    }

    #[test]
    fn prox_derivative_matches_finite_differences() {
        let h = 1e-6;
        for loss in all() {
            for &v in &[0.1, 0.6, 1.1] {
                for &delta in &[-2.1, -0.55, 0.35, 0.8, 1.9] {
                    let p = loss.prox(delta, v);
                    let fd = (loss.prox(delta + h, v).r - loss.prox(delta - h, v).r) / (2.0 * h);
                    assert!((p.dr - fd).abs() < 1e-5, "{loss:?} v={v} delta={delta}");
                    // stationarity: r + v rho'(r) = delta (away from the absolute loss' dead zone)
                    let dead = match loss {
                        Loss::Absolute => delta.abs() <= v,
                        Loss::Hinge => (-1.0..=v - 1.0).contains(&delta),
                        _ => false,
                    };
                    if !dead {
                        assert!((p.r + v * loss.d1(p.r) - delta).abs() < 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn multivalued_thresholds_are_tukey_five_quarters_and_cauchy_eight() {
        let tukey = Loss::Tukey { tau: 2.0 };
        let cauchy = Loss::Cauchy { tau: 0.5 };
        assert_eq!(tukey.max_prox_variance(), 1.25);
        assert_eq!(cauchy.max_prox_variance(), 8.0);
        assert!(tukey.prox_single_valued(1.2499) && !tukey.prox_single_valued(1.25));
        assert!(cauchy.prox_single_valued(7.999) && !cauchy.prox_single_valued(8.0));
        assert!(Loss::Huber { a: 1.0 }.prox_single_valued(1e6));
        // the definition itself: 1 + V rho''(r) > 0 for all r on a fine grid
        for (loss, vmax) in [(tukey, 1.25), (cauchy, 8.0)] {
            let positive =
                |v: f64| (-200_000..=200_000).all(|i| 1.0 + v * loss.d2(i as f64 * 1e-4) > 0.0);
            assert!(positive(vmax * (1.0 - 1e-6)));
            assert!(!positive(vmax * (1.0 + 1e-3)));
            assert!(loss.inflections(vmax * 0.99).is_empty());
            for r in loss.inflections(vmax * 1.5) {
                assert!((1.0 + vmax * 1.5 * loss.d2(r)).abs() < 1e-12);
            }
        }
        // beyond the threshold the prox jumps: a discontinuity in delta
        let v = 2.0;
        let jumps = (0..4000).any(|i| {
            let d = i as f64 * 1e-3;
            (tukey.prox(d + 1e-3, v).r - tukey.prox(d, v).r).abs() > 0.1
        });
        assert!(jumps);
    }

    #[test]
    fn margin_losses_are_the_classification_losses_of_u_equal_minus_r() {
        for &u in &[-3.0, -0.7, 0.0, 0.4, 1.0, 2.5, 40.0] {
            let r = -u;
            let l = Loss::Logistic.eval(r);
            let sig = 1.0 / (1.0 + f64::exp(u));
            assert!((l.0 - f64::ln_1p(f64::exp(-u))).abs() < 1e-14);
            assert!((l.1 - sig).abs() < 1e-15 && (l.2 - sig * (1.0 - sig)).abs() < 1e-15);
            assert_eq!(Loss::Hinge.value(r), (1.0 - u).max(0.0));
            assert_eq!(Loss::SquareHinge.value(r), 0.5 * (1.0 - u).max(0.0).powi(2));
        }
        // no overflow far out
        assert_eq!(Loss::Logistic.eval(800.0), (800.0, 1.0, 0.0));
        assert_eq!(Loss::Logistic.eval(-800.0).0, 0.0);
        // hinge prox: the dead zone [-1, v - 1] maps to the kink
        let p = Loss::Hinge.prox(-0.5, 1.0);
        assert_eq!((p.r, p.dr), (-1.0, 0.0));
        assert_eq!(Loss::Hinge.prox(2.0, 1.0).r, 1.0);
        assert_eq!(Loss::SquareHinge.prox(1.0, 1.0).r, 0.0);
    }

    #[test]
    fn names_and_parameters_are_validated() {
        assert_eq!(
            Loss::from_name("huber", Some(1.5)).unwrap(),
            Loss::Huber { a: 1.5 }
        );
        assert!(Loss::from_name("huber", None).is_err());
        assert!(Loss::from_name("tukey", Some(0.0)).is_err());
        assert!(Loss::from_name("cauchy", Some(f64::NAN)).is_err());
        assert!(Loss::from_name("square", Some(1.0)).is_err());
        assert!(Loss::from_name("hinge", Some(1.0)).is_err());
        assert!(Loss::from_name("hinge2", None).is_err());
        assert_eq!(
            Loss::from_name("square_hinge", None).unwrap(),
            Loss::SquareHinge
        );
    }

    #[test]
    fn batches_match_scalar_calls_for_any_thread_count() {
        let loss = Loss::Tukey { tau: 1.1 };
        let delta: Vec<f64> = (0..10_000)
            .map(|i| ((i as f64) * 0.37).sin() * 3.0)
            .collect();
        let mut out = Vec::new();
        for t in [1, 2] {
            let p = pool(Some(t)).unwrap();
            let (mut r, mut dr) = (vec![0.0; delta.len()], vec![0.0; delta.len()]);
            loss.prox_batch(&p, &delta, 0.7, &mut r, &mut dr).unwrap();
            out.push((r, dr));
        }
        assert_eq!(out[0], out[1]);
        assert_eq!(out[0].0[17], loss.prox(delta[17], 0.7).r);
        let p = pool(Some(1)).unwrap();
        let mut short = vec![0.0; 3];
        assert!(loss
            .prox_batch(&p, &delta, 0.7, &mut short, &mut [0.0; 3])
            .is_err());
        assert!(loss
            .prox_batch(&p, &delta[..3], -1.0, &mut short, &mut [0.0; 3])
            .is_err());
    }
}
