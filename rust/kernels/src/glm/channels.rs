//! Output channels of GLMs and multi-index models: `y = f(z) + sqrt(noise) xi`, `z in R^p`.
//!
//! The one object every algorithm and theory routine uses is the posterior of the pre-activation
//! `z` under the Gaussian "prior" `N(omega, V)` tilted by the likelihood `P(y | z)`:
//! `Z(y; omega, V) = E_{z ~ N(omega, V)} P(y | z)`, with the posterior mean and covariance. Bayes
//! GAMP's output function is `g_out = V^{-1}(E[z | y, omega, V] - omega)` and its Jacobian
//! `V^{-1} Cov[z | y, omega, V] V^{-1} - V^{-1}`; the channel matrix of the spectral methods is
//! `G(y) = E[z z^T | y] - I_p`, the posterior at `omega = 0`, `V = I`; state evolution and the
//! replica free entropy integrate `log Z` and `g_out` (Rangan 2011; Aubin et al. 2018;
//! Defilippis et al. 2025, arXiv:2502.02545, Sec. 2).
//!
//! `log Z` is the log-density of `y` with respect to Lebesgue measure, or counting measure on
//! label values that have positive probability (the signs, `relu(z) = 0`).
//!
//! Exact formulas (noiseless unless stated):
//! * piecewise-linear links (`linear`, `sign`, `relu`, `abs`, with or without noise): mixtures
//!   of truncated Gaussians, or of atoms at the preimages of `y`;
//! * `square` (`y = z^2`): two atoms at `+-sqrt(y)`;
//! * `prod` with `p = 2` (`y = z1 z2`): a 1-d integral along the hyperbola, parametrised as
//!   `|z1| = sqrt|y| e^s`, `|z2| = sqrt|y| e^{-s}` on which `delta(z1 z2 - y) dz = ds`;
//! * `norm` with `p = 2` (`y = |z|^2/2`): the circle of radius `sqrt(2y)`, `delta dz = d theta`;
//! * `ratio` (`y = z1/z2`): the line `z = t (y, 1)`, `delta dz = |t| dt`, in closed form;
//! * `sign_prod` (`y = sign(z1 z2)`): a 1-d Gauss-Legendre integral over `z1` of truncated-normal
//!   moments of `z2 | z1`.
//!
//! Every other case (a link with noise and no exact formula) integrates `N(y; f(z), noise)` by
//! Gauss-Hermite cubature in `p` dimensions.

use super::small::{Spd, MAXP};
use super::special::{gauss_hermite, gauss_legendre, log_npdf, truncated_normal, MomentAcc, HALF_LN_2PI, TWO_PI};
use crate::error::{ensure, invalid, KernelError, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// A built-in link function `y = f(z)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// `y = z` (`p = 1`).
    Linear,
    /// `y = sign(z)` (`p = 1`).
    Sign,
    /// `y = max(z, 0)` (`p = 1`).
    Relu,
    /// `y = |z|` (`p = 1`).
    Abs,
    /// `y = z^2`, phase retrieval (`p = 1`).
    Square,
    /// `y = prod_k z_k` (`p >= 2`; `z1 z2` for `p = 2`).
    Product,
    /// `y = sign(z1 z2)` (`p = 2`).
    SignProduct,
    /// `y = |z|^2 / p`.
    Norm,
    /// `y = z1 / z2` (`p = 2`).
    Ratio,
    /// `y = sign(sum_k sign(z_k))` (odd `p`).
    Committee,
}

impl Link {
    /// Parse a canonical name: `linear`, `sign`, `relu`, `abs`, `square`, `prod`, `sign_prod`,
    /// `norm`, `ratio`, `committee`.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "linear" => Link::Linear,
            "sign" => Link::Sign,
            "relu" => Link::Relu,
            "abs" => Link::Abs,
            "square" => Link::Square,
            "prod" => Link::Product,
            "sign_prod" => Link::SignProduct,
            "norm" => Link::Norm,
            "ratio" => Link::Ratio,
            "committee" => Link::Committee,
            other => {
                return Err(invalid(
                    "link",
                    format!("unknown link {other:?}; expected one of linear, sign, relu, abs, square, prod, sign_prod, norm, ratio, committee"),
                ))
            }
        })
    }

    /// Canonical name.
    pub fn name(&self) -> &'static str {
        match self {
            Link::Linear => "linear",
            Link::Sign => "sign",
            Link::Relu => "relu",
            Link::Abs => "abs",
            Link::Square => "square",
            Link::Product => "prod",
            Link::SignProduct => "sign_prod",
            Link::Norm => "norm",
            Link::Ratio => "ratio",
            Link::Committee => "committee",
        }
    }

    /// Check that the link is defined for `p` directions.
    pub fn check_p(&self, p: usize) -> Result<()> {
        let ok = match self {
            Link::Linear | Link::Sign | Link::Relu | Link::Abs | Link::Square => p == 1,
            Link::Product => p >= 2,
            Link::SignProduct | Link::Ratio => p == 2,
            Link::Norm => p >= 1,
            Link::Committee => p % 2 == 1,
        };
        ensure(ok && (1..=MAXP).contains(&p), "p", || {
            let need = match self {
                Link::Linear | Link::Sign | Link::Relu | Link::Abs | Link::Square => "p = 1".to_string(),
                Link::Product => "p >= 2".into(),
                Link::SignProduct | Link::Ratio => "p = 2".into(),
                Link::Norm => "p >= 1".into(),
                Link::Committee => "an odd p".into(),
            };
            format!("link {:?} needs {need} (and p <= {MAXP}), got p = {p}", self.name())
        })
    }

    /// `f(z)`.
    #[inline]
    pub fn apply(&self, z: &[f64]) -> f64 {
        let sgn = |v: f64| if v >= 0.0 { 1.0 } else { -1.0 };
        match self {
            Link::Linear => z[0],
            Link::Sign => sgn(z[0]),
            Link::Relu => z[0].max(0.0),
            Link::Abs => z[0].abs(),
            Link::Square => z[0] * z[0],
            Link::Product => z.iter().product(),
            Link::SignProduct => sgn(z[0] * z[1]),
            Link::Norm => z.iter().map(|v| v * v).sum::<f64>() / z.len() as f64,
            Link::Ratio => z[0] / z[1],
            Link::Committee => sgn(z.iter().map(|&v| sgn(v)).sum()),
        }
    }

    /// Whether `y` is a possible noiseless label.
    pub fn label_ok(&self, y: f64) -> bool {
        if !y.is_finite() {
            return false;
        }
        match self {
            Link::Sign | Link::SignProduct | Link::Committee => y == 1.0 || y == -1.0,
            Link::Relu | Link::Abs | Link::Square | Link::Norm => y >= 0.0,
            Link::Linear | Link::Product | Link::Ratio => true,
        }
    }
}

/// One linear piece `f(z) = a z + c` on `(lo, hi)` of a scalar link.
#[derive(Debug, Clone, Copy)]
struct Piece {
    lo: f64,
    hi: f64,
    a: f64,
    c: f64,
}

const INF: f64 = f64::INFINITY;

fn pieces(link: Link) -> &'static [Piece] {
    const LINEAR: [Piece; 1] = [Piece { lo: -INF, hi: INF, a: 1.0, c: 0.0 }];
    const SIGN: [Piece; 2] = [Piece { lo: -INF, hi: 0.0, a: 0.0, c: -1.0 }, Piece { lo: 0.0, hi: INF, a: 0.0, c: 1.0 }];
    const RELU: [Piece; 2] = [Piece { lo: -INF, hi: 0.0, a: 0.0, c: 0.0 }, Piece { lo: 0.0, hi: INF, a: 1.0, c: 0.0 }];
    const ABS: [Piece; 2] = [Piece { lo: -INF, hi: 0.0, a: -1.0, c: 0.0 }, Piece { lo: 0.0, hi: INF, a: 1.0, c: 0.0 }];
    match link {
        Link::Linear => &LINEAR,
        Link::Sign => &SIGN,
        Link::Relu => &RELU,
        Link::Abs => &ABS,
        _ => &[],
    }
}

/// Posterior of `z` given `(y, omega, V)`: `log Z`, mean and covariance (`p x p` row-major).
#[derive(Debug, Clone)]
pub struct Posterior {
    /// `log Z(y; omega, V)`.
    pub log_z: f64,
    /// `E[z | y, omega, V]`.
    pub mean: [f64; MAXP],
    /// `Cov[z | y, omega, V]`.
    pub cov: [f64; MAXP * MAXP],
}

impl Default for Posterior {
    fn default() -> Self {
        Self { log_z: 0.0, mean: [0.0; MAXP], cov: [0.0; MAXP * MAXP] }
    }
}

/// Trapezoid spacing (in the curve parameter) of the level-set integrals; the integrands are
/// analytic in a strip, so the error is about `exp(-2 pi d / h)`.
const LEVEL_STEP: f64 = 0.2;
/// Node bounds of the level-set integrals.
const LEVEL_MIN: usize = 24;
const LEVEL_MAX: usize = 4096;
/// Half-width (in standard deviations) of the box where `N(omega, V)` has its mass.
const BOX: f64 = 10.0;

/// Fallback of the level-set integrals when `N(omega, V)` puts no mass near the level set within
/// the box: scan the curve parameter on `[lo, hi]` and integrate around the maximum of the
/// log-density (a window of 8 standard deviations of the local Gaussian approximation, or the
/// whole scan when the peak is broad).
fn peak_window(acc: &mut MomentAcc, lo: f64, hi: f64, point: impl Fn(f64) -> [f64; 2], logdens: impl Fn(&[f64; 2]) -> f64) {
    const N: usize = 4096;
    const FINE: usize = 129;
    let hc = (hi - lo) / (N - 1) as f64;
    let vals: Vec<f64> = (0..N).map(|k| logdens(&point(lo + k as f64 * hc))).collect();
    let k = (0..N).max_by(|&a, &b| vals[a].total_cmp(&vals[b])).unwrap_or(0);
    let (l0, l1, l2) = (vals[k.saturating_sub(1)], vals[k], vals[(k + 1).min(N - 1)]);
    let second = l0 - 2.0 * l1 + l2;
    let sharp = k > 0 && k + 1 < N && second < 0.0 && 8.0 * hc / (-second).sqrt() < 4.0 * hc;
    if sharp {
        let centre = lo + k as f64 * hc + 0.5 * hc * (l0 - l2) / second;
        let half = 8.0 * hc / (-second).sqrt();
        let h = 2.0 * half / (FINE - 1) as f64;
        for j in 0..FINE {
            let z = point(centre - half + j as f64 * h);
            let tw = if j == 0 || j == FINE - 1 { 0.5 * h } else { h };
            acc.add_point(tw.ln() + logdens(&z), &z);
        }
    } else {
        for (j, &lv) in vals.iter().enumerate() {
            let tw = if j == 0 || j == N - 1 { 0.5 * hc } else { hc };
            acc.add_point(tw.ln() + lv, &point(lo + j as f64 * hc));
        }
    }
}

/// A channel: link, number of directions `p` and label-noise variance.
#[derive(Debug, Clone)]
pub struct Channel {
    link: Link,
    p: usize,
    noise: f64,
    /// Tensor Gauss-Hermite nodes (`K x p`) and log-weights, for noisy links without a formula.
    cub_nodes: Vec<f64>,
    cub_logw: Vec<f64>,
    /// Gauss-Legendre rule on [-1, 1] for the `sign_prod` integral.
    gl: (Vec<f64>, Vec<f64>),
}

/// Default number of Gauss-Hermite nodes per dimension of the cubature for `p` directions.
pub fn default_cubature_nodes(p: usize) -> usize {
    match p {
        1 => 128,
        2 => 40,
        3 => 16,
        _ => ((4096f64).powf(1.0 / p as f64).floor() as usize).max(3),
    }
}

impl Channel {
    /// A channel; `n_nodes` is the number of Gauss-Hermite nodes per dimension of the cubature
    /// (used only for noisy links without a closed form; `None` picks a default).
    pub fn new(link: Link, p: usize, noise: f64, n_nodes: Option<usize>) -> Result<Self> {
        link.check_p(p)?;
        ensure(noise >= 0.0 && noise.is_finite(), "noise", || format!("must be finite and >= 0, got {noise}"))?;
        // Degenerate aliases: one-direction versions of the multi-index links.
        let mut ch = Self { link, p, noise, cub_nodes: Vec::new(), cub_logw: Vec::new(), gl: gauss_legendre(32)? };
        if noise > 0.0 && !ch.piecewise() {
            let m = n_nodes.unwrap_or_else(|| default_cubature_nodes(p));
            ensure((1..=512).contains(&m), "n_nodes", || format!("must be in 1..=512, got {m}"))?;
            let total = m.checked_pow(p as u32).filter(|&t| t <= 1 << 22);
            let total = total.ok_or_else(|| invalid("n_nodes", format!("{m}^{p} cubature nodes are too many")))?;
            let (x, w) = gauss_hermite(m)?;
            ch.cub_nodes = Vec::with_capacity(total * p);
            ch.cub_logw = Vec::with_capacity(total);
            for k in 0..total {
                let mut rest = k;
                let mut lw = 0.0;
                for _ in 0..p {
                    let i = rest % m;
                    rest /= m;
                    ch.cub_nodes.push(x[i]);
                    lw += w[i].ln();
                }
                ch.cub_logw.push(lw);
            }
        }
        Ok(ch)
    }

    /// Parse a canonical link name and build the channel.
    pub fn from_name(name: &str, p: usize, noise: f64, n_nodes: Option<usize>) -> Result<Self> {
        Self::new(Link::from_name(name)?, p, noise, n_nodes)
    }

    /// The link.
    pub fn link(&self) -> Link {
        self.link
    }

    /// Number of directions.
    pub fn p(&self) -> usize {
        self.p
    }

    /// Label-noise variance.
    pub fn noise(&self) -> f64 {
        self.noise
    }

    fn piecewise(&self) -> bool {
        matches!(self.link, Link::Linear | Link::Sign | Link::Relu | Link::Abs) || (self.link == Link::Committee && self.p == 1)
    }

    /// Whether the output function is available: exact formula, or cubature (noise > 0).
    pub fn check_output_function(&self) -> Result<()> {
        if self.noise > 0.0 {
            return Ok(());
        }
        let exact = match self.link {
            Link::Linear | Link::Sign | Link::Relu | Link::Abs | Link::Square | Link::Ratio | Link::SignProduct => true,
            Link::Product | Link::Norm => self.p <= 2,
            Link::Committee => self.p == 1,
        };
        ensure(exact, "noise", || {
            format!(
                "the noiseless link {:?} with p = {} has no exact output function in hdcore; give noise > 0 (Gauss-Hermite cubature)",
                self.link.name(),
                self.p
            )
        })
    }

    /// `f(z)` (noiseless).
    #[inline]
    pub fn link_value(&self, z: &[f64]) -> f64 {
        self.link.apply(z)
    }

    /// Whether `y` is a possible label of this channel.
    pub fn label_ok(&self, y: f64) -> bool {
        if self.noise > 0.0 {
            y.is_finite()
        } else {
            self.link.label_ok(y)
        }
    }

    /// Posterior of `z` under `N(omega, V) P(y | z)`; errors if `y` has zero likelihood.
    pub fn posterior(&self, y: f64, omega: &[f64], v: &Spd, out: &mut Posterior) -> Result<()> {
        let p = self.p;
        let mut acc = MomentAcc::new(p);
        if self.piecewise() {
            self.piecewise_posterior(y, omega[0], v.v[0], &mut acc);
        } else if self.noise > 0.0 {
            acc = self.cubature(y, omega, &self.offsets(v));
        } else {
            match (self.link, p) {
                (Link::Square, _) | (Link::Norm, 1) => self.square(y, omega[0], v.v[0], &mut acc),
                (Link::Product, 2) => self.hyperbola(y, omega, v, &mut acc),
                (Link::Norm, 2) => self.circle(y, omega, v, &mut acc),
                (Link::SignProduct, 2) => self.sign_product(y, omega, v, &mut acc),
                (Link::Ratio, 2) => {
                    return self.ratio(y, omega, v, out);
                }
                _ => {
                    self.check_output_function()?;
                }
            }
        }
        self.finish(y, omega, &mut acc, out)
    }

    fn piecewise_posterior(&self, y: f64, w: f64, v: f64, acc: &mut MomentAcc) {
        let s = v.sqrt();
        let link = if self.link == Link::Committee { Link::Sign } else { self.link };
        let ps = pieces(link);
        if self.noise > 0.0 {
            let dn = self.noise;
            for pc in ps {
                if pc.a == 0.0 {
                    let (lz, m, var) = truncated_normal(w, s, pc.lo, pc.hi);
                    let ly = log_npdf((y - pc.c) / dn.sqrt()) - 0.5 * dn.ln();
                    acc.add_component(ly + lz, &[m], &[var]);
                } else {
                    let m2 = (y - pc.c) / pc.a;
                    let v2 = dn / (pc.a * pc.a);
                    let pre = -pc.a.abs().ln() + log_npdf((w - m2) / (v + v2).sqrt()) - 0.5 * (v + v2).ln();
                    let vp = 1.0 / (1.0 / v + 1.0 / v2);
                    let mp = vp * (w / v + m2 / v2);
                    let (lz, m, var) = truncated_normal(mp, vp.sqrt(), pc.lo, pc.hi);
                    acc.add_component(pre + lz, &[m], &[var]);
                }
            }
            return;
        }
        let mut flat = false;
        for pc in ps.iter().filter(|pc| pc.a == 0.0 && pc.c == y) {
            let (lz, m, var) = truncated_normal(w, s, pc.lo, pc.hi);
            acc.add_component(lz, &[m], &[var]);
            flat = true;
        }
        if flat {
            return;
        }
        for pc in ps.iter().filter(|pc| pc.a != 0.0) {
            let z0 = (y - pc.c) / pc.a;
            if z0 >= pc.lo && z0 <= pc.hi {
                let lw = log_npdf((z0 - w) / s) - s.ln() - pc.a.abs().ln();
                acc.add_point(lw, &[z0]);
            }
        }
    }

    fn square(&self, y: f64, w: f64, v: f64, acc: &mut MomentAcc) {
        if y < 0.0 {
            return;
        }
        let ys = y.max(1e-300);
        let r = ys.sqrt();
        let s = v.sqrt();
        let jac = (2.0 * r).ln();
        for z0 in [r, -r] {
            acc.add_point(log_npdf((z0 - w) / s) - s.ln() - jac, &[z0]);
        }
    }

    /// `y = z1 z2`: trapezoid in `s` along both branches of the hyperbola.
    fn hyperbola(&self, y: f64, w: &[f64], v: &Spd, acc: &mut MomentAcc) {
        let r = y.abs().max(1e-300).sqrt();
        let sy = if y >= 0.0 { 1.0 } else { -1.0 };
        let sd = [v.v[0].sqrt(), v.v[3].sqrt()];
        // |z| range of z in [c - h, c + h] with the given sign
        let range = |sign: f64, c: f64, h: f64| -> Option<(f64, f64)> {
            let (lo, hi) = if sign > 0.0 { (c - h, c + h) } else { (-(c + h), -(c - h)) };
            if hi <= 0.0 {
                None
            } else {
                Some((lo.max(0.0), hi))
            }
        };
        for attempt in 0..8 {
            let c = BOX * 2f64.powi(attempt);
            let mut any = false;
            for b in [1.0, -1.0] {
                let (s1, s2) = (b, b * sy);
                let (Some((lo1, hi1)), Some((lo2, hi2))) = (range(s1, w[0], c * sd[0]), range(s2, w[1], c * sd[1])) else {
                    continue;
                };
                let s_lo = (lo1 / r).ln().max(-(hi2 / r).ln());
                let s_hi = (hi1 / r).ln().min(-(lo2 / r).ln());
                if s_hi <= s_lo || !s_lo.is_finite() || !s_hi.is_finite() {
                    continue;
                }
                any = true;
                let n = (((s_hi - s_lo) / LEVEL_STEP).ceil() as usize).clamp(LEVEL_MIN, LEVEL_MAX);
                let h = (s_hi - s_lo) / (n - 1) as f64;
                for k in 0..n {
                    let s = s_lo + k as f64 * h;
                    let tw = if k == 0 || k == n - 1 { 0.5 * h } else { h };
                    let z = [s1 * r * s.exp(), s2 * r * (-s).exp()];
                    acc.add_point(tw.ln() + v.log_density(&z, w), &z);
                }
            }
            if any {
                return;
            }
        }
        // N(omega, V) is far from the hyperbola: integrate around the closest points
        let big = w[0].abs().max(w[1].abs()) + BOX * sd[0].max(sd[1]);
        let span = ((big / r).ln().abs() + 5.0).max(5.0);
        for b in [1.0, -1.0] {
            peak_window(acc, -span, span, |s| [b * r * s.exp(), b * sy * r * (-s).exp()], |z| v.log_density(z, w));
        }
    }

    /// `y = |z|^2/2`: trapezoid in the angle on the circle of radius `sqrt(2y)`.
    fn circle(&self, y: f64, w: &[f64], v: &Spd, acc: &mut MomentAcc) {
        if y < 0.0 {
            return;
        }
        let r = (2.0 * y).sqrt();
        if r == 0.0 {
            acc.add_point(TWO_PI.ln() + v.log_density(&[0.0, 0.0], w), &[0.0, 0.0]);
            return;
        }
        let (a, b, d) = (v.v[0], v.v[1], v.v[3]);
        let lmin = (0.5 * (a + d) - (0.25 * (a - d) * (a - d) + b * b).sqrt()).max(1e-300);
        let arc = 0.5 * lmin.sqrt();
        let sd = [a.sqrt(), d.sqrt()];
        let theta_c = w[1].atan2(w[0]);
        let mut add = |t0: f64, t1: f64, periodic: bool| {
            let width = t1 - t0;
            let n = ((width * r / arc).ceil() as usize).clamp(LEVEL_MIN, LEVEL_MAX);
            let h = if periodic { width / n as f64 } else { width / (n - 1) as f64 };
            for k in 0..n {
                let t = t0 + k as f64 * h;
                let tw = if !periodic && (k == 0 || k == n - 1) { 0.5 * h } else { h };
                let z = [r * t.cos(), r * t.sin()];
                acc.add_point(tw.ln() + v.log_density(&z, w), &z);
            }
        };
        for attempt in 0..8 {
            let c = BOX * 2f64.powi(attempt);
            let (h0, h1) = (c * sd[0], c * sd[1]);
            if w[0].abs() <= h0 && w[1].abs() <= h1 {
                add(theta_c - std::f64::consts::PI, theta_c + std::f64::consts::PI, true);
                return;
            }
            // distances from the origin to the box and its angular extent
            let nearest = [w[0].clamp(-h0, h0) - w[0], w[1].clamp(-h1, h1) - w[1]];
            let dmin = (nearest[0].powi(2) + nearest[1].powi(2)).sqrt();
            let corners = [[w[0] - h0, w[1] - h1], [w[0] - h0, w[1] + h1], [w[0] + h0, w[1] - h1], [w[0] + h0, w[1] + h1]];
            let dmax = corners.iter().map(|q| (q[0] * q[0] + q[1] * q[1]).sqrt()).fold(0.0, f64::max);
            if r < dmin || r > dmax {
                continue;
            }
            let rel = |q: &[f64; 2]| {
                let mut t = q[1].atan2(q[0]) - theta_c;
                while t > std::f64::consts::PI {
                    t -= TWO_PI;
                }
                while t <= -std::f64::consts::PI {
                    t += TWO_PI;
                }
                t
            };
            let lo = corners.iter().map(rel).fold(f64::INFINITY, f64::min);
            let hi = corners.iter().map(rel).fold(f64::NEG_INFINITY, f64::max);
            add(theta_c + lo, theta_c + hi, false);
            return;
        }
        peak_window(acc, -std::f64::consts::PI, std::f64::consts::PI, |t| [r * t.cos(), r * t.sin()], |z| v.log_density(z, w));
    }

    /// `y = z1/z2`: closed form along the line `z = t (y, 1)` with measure `|t| dt`.
    fn ratio(&self, y: f64, w: &[f64], v: &Spd, out: &mut Posterior) -> Result<()> {
        let u = [y, 1.0];
        let pi = &v.inv;
        let a = u[0] * (pi[0] * u[0] + pi[1] * u[1]) + u[1] * (pi[2] * u[0] + pi[3] * u[1]);
        let b = u[0] * (pi[0] * w[0] + pi[1] * w[1]) + u[1] * (pi[2] * w[0] + pi[3] * w[1]);
        let c = v.quad(w, &[0.0, 0.0]);
        let sig = 1.0 / a.sqrt();
        let mu = b / a;
        let t = mu / sig;
        let phi = log_npdf(t).exp();
        let erf = libm::erf(t * std::f64::consts::FRAC_1_SQRT_2);
        let e1 = sig * (2.0 * phi + t * erf);
        let e2 = sig * sig * ((1.0 + t * t) * erf + 2.0 * t * phi);
        let e3 = sig.powi(3) * (2.0 * (t * t + 2.0) * phi + (t.powi(3) + 3.0 * t) * erf);
        if e1.is_nan() || e1 <= 0.0 || !a.is_finite() {
            return Err(KernelError::Numerical { what: "channel", reason: format!("ratio posterior degenerate at y = {y}") });
        }
        let mt = e2 / e1;
        let vt = (e3 / e1 - mt * mt).max(0.0);
        out.log_z = e1.ln() + HALF_LN_2PI - 0.5 * a.ln() - 0.5 * (c - b * b / a) - TWO_PI.ln() - 0.5 * v.logdet;
        for i in 0..2 {
            out.mean[i] = mt * u[i];
            for j in 0..2 {
                out.cov[i * 2 + j] = vt * u[i] * u[j];
            }
        }
        Ok(())
    }

    /// `y = sign(z1 z2)`: Gauss-Legendre over `z1` (split at 0 and where `E[z2 | z1]` vanishes)
    /// of the truncated-normal moments of `z2 | z1`.
    fn sign_product(&self, y: f64, w: &[f64], v: &Spd, acc: &mut MomentAcc) {
        if y != 1.0 && y != -1.0 {
            return;
        }
        let (v11, v12, v22) = (v.v[0], v.v[1], v.v[3]);
        let sd1 = v11.sqrt();
        let slope = v12 / v11;
        let s = (v22 - v12 * v12 / v11).max(1e-300).sqrt();
        let lo = (w[0] - BOX * sd1).min(0.0);
        let hi = (w[0] + BOX * sd1).max(0.0);
        let mut cuts = vec![lo, hi];
        if lo < 0.0 && hi > 0.0 {
            cuts.push(0.0);
        }
        if slope != 0.0 {
            let root = w[0] - w[1] / slope;
            if root > lo && root < hi && root != 0.0 {
                cuts.push(root);
            }
        }
        cuts.sort_by(|a, b| a.total_cmp(b));
        let (gx, gw) = (&self.gl.0, &self.gl.1);
        for seg in cuts.windows(2) {
            let (a, b) = (seg[0], seg[1]);
            if b <= a {
                continue;
            }
            let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
            for (x, wt) in gx.iter().zip(gw) {
                let z1 = mid + half * x;
                let want_pos = (z1 >= 0.0) == (y > 0.0);
                let (l2, h2) = if want_pos { (0.0, INF) } else { (-INF, 0.0) };
                let m2 = w[1] + slope * (z1 - w[0]);
                let (lz2, mean2, var2) = truncated_normal(m2, s, l2, h2);
                let lw = (wt * half).ln() + log_npdf((z1 - w[0]) / sd1) - sd1.ln() + lz2;
                acc.add_component(lw, &[z1, mean2], &[0.0, 0.0, 0.0, var2]);
            }
        }
    }

    /// The cubature nodes `L zeta_k` for the variance `v` (`K x p`, empty for exact links).
    fn offsets(&self, v: &Spd) -> Vec<f64> {
        let p = self.p;
        let mut off = vec![0.0; self.cub_nodes.len()];
        for (o, zeta) in off.chunks_mut(p).zip(self.cub_nodes.chunks(p)) {
            for (i, oi) in o.iter_mut().enumerate() {
                *oi = (0..=i).map(|j| v.l[i * p + j] * zeta[j]).sum::<f64>();
            }
        }
        off
    }

    /// Factor the variance once for many posteriors at the same `V`.
    pub fn prepare(&self, v: Spd) -> Prepared {
        let offsets = self.offsets(&v);
        Prepared { v, offsets }
    }

    /// [`Channel::posterior`] at a prepared variance (the fast form used by the GAMP loop).
    pub fn posterior_prepared(&self, y: f64, omega: &[f64], prep: &Prepared, out: &mut Posterior) -> Result<()> {
        if self.noise > 0.0 && !self.piecewise() {
            let mut acc = self.cubature(y, omega, &prep.offsets);
            return self.finish(y, omega, &mut acc, out);
        }
        self.posterior(y, omega, &prep.v, out)
    }

    fn finish(&self, y: f64, omega: &[f64], acc: &mut MomentAcc, out: &mut Posterior) -> Result<()> {
        let p = self.p;
        match acc.finish(&mut out.mean[..p], &mut out.cov[..p * p]) {
            Some(lz) => {
                out.log_z = lz;
                Ok(())
            }
            None => Err(KernelError::Numerical {
                what: "channel",
                reason: format!("label y = {y} has zero likelihood under link {:?} (omega = {:?})", self.link.name(), &omega[..p]),
            }),
        }
    }

    /// Gauss-Hermite cubature of `N(y; f(z), noise)` over `z = omega + L zeta_k`, in two passes
    /// (log-weights and their maximum, then the weighted moments).
    fn cubature(&self, y: f64, w: &[f64], offsets: &[f64]) -> MomentAcc {
        let p = self.p;
        let half_prec = 0.5 / self.noise;
        let lnorm = -0.5 * self.noise.ln() - HALF_LN_2PI;
        CUBATURE_BUF.with(|buf| {
            let mut lw = buf.borrow_mut();
            lw.clear();
            let mut mx = f64::NEG_INFINITY;
            let mut z = [0.0; MAXP];
            for (o, base) in offsets.chunks_exact(p).zip(&self.cub_logw) {
                for i in 0..p {
                    z[i] = w[i] + o[i];
                }
                let r = y - self.link.apply(&z[..p]);
                let l = base - half_prec * r * r;
                mx = mx.max(l);
                lw.push(l);
            }
            let (mut s, mut m1, mut m2) = (0.0, [0.0; MAXP], [0.0; MAXP * MAXP]);
            for (o, &l) in offsets.chunks_exact(p).zip(lw.iter()) {
                // nodes below exp(-40) of the largest weight change nothing at double precision
                if l - mx < -40.0 {
                    continue;
                }
                let e = (l - mx).exp();
                s += e;
                for i in 0..p {
                    let zi = w[i] + o[i];
                    m1[i] += e * zi;
                    for j in 0..=i {
                        m2[i * p + j] += e * zi * (w[j] + o[j]);
                    }
                }
            }
            for i in 0..p {
                for j in 0..i {
                    m2[j * p + i] = m2[i * p + j];
                }
            }
            MomentAcc::from_sums(p, mx + lnorm, s, &m1, &m2)
        })
    }
}

thread_local! {
    /// Log-weights of the cubature nodes (one buffer per thread, reused across samples).
    static CUBATURE_BUF: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A channel's view of one variance `V`: its factorisation and, for cubature, the nodes `L zeta`.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The variance.
    pub v: Spd,
    offsets: Vec<f64>,
}

/// The posterior of every sample: `log_z` (`n`), `mean` (`n x p`) and `cov` (`n x p x p`) for
/// labels `y` and fields `omega` (`n x p`) at the common variance `v` (parallel over samples).
#[allow(clippy::too_many_arguments)]
pub fn posterior_batch(
    pool: &ThreadPool,
    ch: &Channel,
    y: &[f64],
    omega: &[f64],
    v: &Spd,
    log_z: &mut [f64],
    mean: &mut [f64],
    cov: &mut [f64],
) -> Result<()> {
    let (n, p) = (y.len(), ch.p());
    ensure(omega.len() == n * p, "omega", || format!("has length {}, expected n p = {}", omega.len(), n * p))?;
    ensure(log_z.len() == n && mean.len() == n * p && cov.len() == n * p * p, "out", || "output lengths must match y".into())?;
    ensure(v.p == p, "v", || format!("must be {p} x {p}"))?;
    ch.check_output_function()?;
    let prep = ch.prepare(v.clone());
    pool.install(|| {
        log_z
            .par_iter_mut()
            .zip(mean.par_chunks_mut(p))
            .zip(cov.par_chunks_mut(p * p))
            .enumerate()
            .try_for_each(|(i, ((l, m), c))| {
                let mut post = Posterior::default();
                ch.posterior_prepared(y[i], &omega[i * p..(i + 1) * p], &prep, &mut post)?;
                *l = post.log_z;
                m.copy_from_slice(&post.mean[..p]);
                c.copy_from_slice(&post.cov[..p * p]);
                Ok(())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force posterior by a fine 2-d (or 1-d) grid with a Gaussian-smoothed likelihood of
    /// tiny width for noiseless links (the level-set integrals are its limit).
    fn brute(ch: &Channel, y: f64, w: &[f64], v: &Spd, eps: f64, n: usize) -> (f64, Vec<f64>, Vec<f64>) {
        // midpoint rule on cells aligned with z_i = 0 (where the links jump or kink), so that
        // piecewise-smooth integrands converge at O(h^2)
        let p = ch.p();
        let discrete = matches!(ch.link(), Link::Sign | Link::SignProduct | Link::Committee) && ch.noise() == 0.0;
        let span: Vec<f64> = (0..p).map(|i| 9.0 * v.v[i * p + i].sqrt()).collect();
        let h: Vec<f64> = span.iter().map(|s| 2.0 * s / (n - 1) as f64).collect();
        let start: Vec<f64> = (0..p).map(|i| ((w[i] - span[i]) / h[i]).floor() * h[i]).collect();
        let mut acc = MomentAcc::new(p);
        let total = if p == 1 { n } else { n * n };
        for k in 0..total {
            let idx = [k % n, k / n];
            let z: Vec<f64> = (0..p).map(|i| start[i] + (idx[i] as f64 + 0.5) * h[i]).collect();
            let f = ch.link_value(&z);
            let ll = if discrete {
                if f == y { 0.0 } else { continue }
            } else {
                log_npdf((y - f) / eps.sqrt()) - 0.5 * eps.ln()
            };
            let lw = h.iter().map(|x| x.ln()).sum::<f64>() + v.log_density(&z, w) + ll;
            acc.add_point(lw, &z);
        }
        let (mut m, mut c) = (vec![0.0; p], vec![0.0; p * p]);
        let lz = acc.finish(&mut m, &mut c).unwrap();
        (lz, m, c)
    }

    fn check(ch: &Channel, y: f64, w: &[f64], v: &[f64], eps: f64, tol: f64) {
        let n = if ch.p() == 1 { 400_001 } else if eps < 1e-3 || ch.noise() == 0.0 { 6401 } else { 1601 };
        let p = ch.p();
        let v = Spd::new(p, v).unwrap();
        let mut post = Posterior::default();
        ch.posterior(y, w, &v, &mut post).unwrap();
        let (lz, m, c) = brute(ch, y, w, &v, eps, n);
        assert!((post.log_z - lz).abs() < tol, "{:?} y={y}: logZ {} vs {lz}", ch.link(), post.log_z);
        for i in 0..p {
            assert!((post.mean[i] - m[i]).abs() < tol, "{:?} y={y}: mean {:?} vs {m:?}", ch.link(), &post.mean[..p]);
            for j in 0..p {
                assert!((post.cov[i * p + j] - c[i * p + j]).abs() < tol, "{:?} y={y}: cov {:?} vs {c:?}", ch.link(), &post.cov[..p * p]);
            }
        }
    }

    #[test]
    fn noisy_scalar_links_match_brute_force() {
        for (name, y) in [("linear", 0.7), ("sign", -0.4), ("relu", 0.3), ("abs", 1.2), ("square", 0.8)] {
            let ch = Channel::from_name(name, 1, 0.3, Some(200)).unwrap();
            check(&ch, y, &[0.4], &[0.7], 0.3, 2e-6);
        }
    }

    #[test]
    fn noiseless_scalar_links_match_small_noise_limit() {
        for (name, y) in [("linear", 0.7), ("relu", 0.3), ("abs", 1.2), ("square", 0.8)] {
            let ch = Channel::from_name(name, 1, 0.0, None).unwrap();
            check(&ch, y, &[0.4], &[0.7], 1e-8, 1e-5);
        }
        // discrete labels: compare with the exact truncated normal
        let ch = Channel::from_name("sign", 1, 0.0, None).unwrap();
        let v = Spd::new(1, &[0.7]).unwrap();
        let mut post = Posterior::default();
        ch.posterior(-1.0, &[0.4], &v, &mut post).unwrap();
        let (lz, m, var) = truncated_normal(0.4, 0.7f64.sqrt(), f64::NEG_INFINITY, 0.0);
        assert!((post.log_z - lz).abs() < 1e-14 && (post.mean[0] - m).abs() < 1e-14 && (post.cov[0] - var).abs() < 1e-14);
        let relu = Channel::from_name("relu", 1, 0.0, None).unwrap();
        relu.posterior(0.0, &[0.4], &v, &mut post).unwrap();
        assert!(post.mean[0] < 0.0 && post.log_z < 0.0);
    }

    #[test]
    fn two_direction_level_sets_match_brute_force() {
        let v = [0.8, 0.3, 0.3, 0.6];
        let w = [0.5, -0.2];
        for (name, y) in [("prod", 0.35), ("prod", -1.3), ("norm", 0.9), ("ratio", -0.7), ("sign_prod", 1.0), ("sign_prod", -1.0)] {
            let ch = Channel::from_name(name, 2, 0.0, None).unwrap();
            // the brute force smooths the delta into N(y; f(z), 1e-4) (bias O(1e-4)) on a grid of
            // step 0.0025, fine enough for that width
            check(&ch, y, &w, &v, 1e-4, 1e-3);
        }
    }

    #[test]
    fn noisy_cubature_matches_brute_force() {
        // 40 x 40 Gauss-Hermite nodes resolve the quartic exponent of N(y; z1 z2, 0.5) to ~1e-5
        let ch = Channel::from_name("prod", 2, 0.5, Some(40)).unwrap();
        check(&ch, 0.4, &[0.3, 0.1], &[0.9, 0.2, 0.2, 0.7], 0.5, 5e-5);
    }

    #[test]
    fn standard_posterior_of_z1_z2_gives_the_bessel_density() {
        // at omega = 0, V = I: Z(y) = K0(|y|)/pi; K0(1) = 0.42102443824070834
        let ch = Channel::from_name("prod", 2, 0.0, None).unwrap();
        let v = Spd::new(2, &[1.0, 0.0, 0.0, 1.0]).unwrap();
        let mut post = Posterior::default();
        ch.posterior(1.0, &[0.0, 0.0], &v, &mut post).unwrap();
        // the trapezoid of step 0.2 in s errs by ~1e-10 (about exp(-2 pi (pi/4) / h))
        assert!((post.log_z - (0.42102443824070834f64 / std::f64::consts::PI).ln()).abs() < 1e-9, "{}", post.log_z);
        // E[z1 z2 | y] = y, E[z1^2 | y] = |y| K1/K0 = 0.6019072301972346/0.42102443824070834
        assert!((post.cov[1] - 1.0).abs() < 1e-9);
        assert!((post.cov[0] - 0.6019072301972346 / 0.42102443824070834).abs() < 1e-9);
        // tiny and large labels stay finite
        for y in [1e-12, -1e-7, 40.0] {
            ch.posterior(y, &[0.0, 0.0], &v, &mut post).unwrap();
            assert!(post.log_z.is_finite() && post.cov[0].is_finite());
        }
    }

    #[test]
    fn far_tail_labels_and_tiny_variances_stay_finite() {
        let ch = Channel::from_name("prod", 2, 0.0, None).unwrap();
        let v = Spd::new(2, &[1e-6, 0.0, 0.0, 1e-6]).unwrap();
        let mut post = Posterior::default();
        ch.posterior(1.0, &[1.0, 1.0], &v, &mut post).unwrap();
        assert!((post.mean[0] - 1.0).abs() < 1e-5 && (post.mean[1] - 1.0).abs() < 1e-5);
        // z1 z2 = -1 is ~1400 standard deviations away: the posterior sits at the closest
        // points of the hyperbola to (1, 1), (1, -1) and (-1, 1) at equal distance
        ch.posterior(-1.0, &[1.0, 1.0], &v, &mut post).unwrap();
        assert!(post.log_z.is_finite() && post.mean[0].is_finite());
        assert!((post.mean[0] * post.mean[1]).abs() < 1.0 + 1e-6);
        let circ = Channel::from_name("norm", 2, 0.0, None).unwrap();
        circ.posterior(2.0, &[1.5, 1.0], &v, &mut post).unwrap();
        assert!(post.log_z.is_finite());
        let sp = Channel::from_name("sign_prod", 2, 0.0, None).unwrap();
        sp.posterior(-1.0, &[3.0, 3.0], &Spd::new(2, &[0.1, 0.0, 0.0, 0.1]).unwrap(), &mut post).unwrap();
        assert!(post.log_z.is_finite() && post.cov[1] + post.mean[0] * post.mean[1] < 0.0, "E[z1 z2 | y = -1] must be negative");
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(Link::from_name("tanh").is_err());
        assert!(Channel::from_name("sign", 2, 0.0, None).is_err());
        assert!(Channel::from_name("committee", 2, 0.0, None).is_err());
        assert!(Channel::from_name("sign", 1, -1.0, None).is_err());
        assert!(Channel::from_name("norm", 4, 0.0, None).unwrap().check_output_function().is_err());
        let ch = Channel::from_name("sign", 1, 0.0, None).unwrap();
        assert!(!ch.label_ok(0.5) && ch.label_ok(-1.0));
        let v = Spd::new(1, &[1.0]).unwrap();
        assert!(ch.posterior(0.5, &[0.0], &v, &mut Posterior::default()).is_err());
    }
}
