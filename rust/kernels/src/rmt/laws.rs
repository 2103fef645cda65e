//! Limiting spectral laws with algebraic Stieltjes transforms.
//!
//! Convention: `g(z) = int rho(t) / (z - t) dt` (so `g ~ 1/z` at infinity and
//! `rho(x) = -Im g(x + i0) / pi`). Each law is the root of a polynomial `P(g; z)` of degree at
//! most 4 in `g`, selected by continuation from infinity ([`track_stieltjes`]); its support is
//! read off the real zeros of the discriminant (`edges.rs`, derived in `derive.py`) and
//! checked against the density.
//!
//! * `Semicircle { variance: v }`: `v g^2 - z g + 1 = 0`, support `[-2 sqrt v, 2 sqrt v]`.
//! * `MarchenkoPastur { kappa, scale }`: eigenvalues of `scale/m sum_{k<=m} w_k w_k^T`,
//!   `w_k ~ N(0, I_d)`, `kappa = m/d` (any ratio; an atom `1 - kappa` at 0 when `kappa < 1`):
//!   `scale z g^2 - (kappa z - (kappa - 1) scale) g + kappa = 0`.
//! * `MpSemicircle { kappa, delta }`: `Y = S + sqrt(delta) Z`, `S` as above with `scale = 1`,
//!   `Z` GOE with semicircle on `[-2, 2]`:
//!   `delta g^3 - (z + kappa delta) g^2 + (kappa z - kappa + 1) g - kappa = 0`
//!   (Maillard, Troiani, Martin, Krzakala, Zdeborova 2024, arXiv:2408.03733, App. on the RIE).
//! * `RectProduct { aspect, rank, delta }`: the symmetrised singular-value law of
//!   `Y = (V U / sqrt(r) + sqrt(delta) Z) / (N M)^(1/4)` (`V: N x r`, `U: r x M`, `Z: N x M`,
//!   i.i.d. N(0, 1); `N <= M`, `aspect = M/N`, `rank = r/N`), i.e. `G(z) = z g_B(z^2)` with
//!   `g_B` the Stieltjes transform of `Y Y^T`, a root of the quartic derived in `derive.py`
//!   (Erba, Troiani, Biggio, Maillard, Zdeborova 2024, arXiv:2410.18858, Sec. on the RIE).

use super::edges::{mp_semicircle_edge, rect_product_edge};
use super::poly::{gauss_legendre, real_roots, roots, track_stieltjes, Coeffs};
use crate::error::{ensure, KernelError, Result};
use faer::c64;
use rayon::prelude::*;
use rayon::ThreadPool;
use std::f64::consts::PI;

/// A spectral law (see the module docs for the normalisations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Law {
    /// Semicircle of variance `variance` (support `[-2 sqrt v, 2 sqrt v]`).
    Semicircle { variance: f64 },
    /// Marchenko-Pastur law of `scale/m W^T W` with `kappa = m/d`.
    MarchenkoPastur { kappa: f64, scale: f64 },
    /// MP(`kappa`) (+) semicircle(`delta`).
    MpSemicircle { kappa: f64, delta: f64 },
    /// Symmetrised singular values of a rank-`rank N` product plus noise `delta`.
    RectProduct { aspect: f64, rank: f64, delta: f64 },
}

/// A Gauss rule for `int f(x) rho(x) dx` over the continuous part of a law.
#[derive(Debug, Clone, Default)]
pub struct Quadrature {
    /// Nodes.
    pub x: Vec<f64>,
    /// Weights (of `dx`, not of `rho dx`).
    pub w: Vec<f64>,
    /// Density at the nodes.
    pub rho: Vec<f64>,
}

impl Quadrature {
    /// `sum_i w_i f(x_i, rho_i)`.
    pub fn sum(&self, f: impl Fn(f64, f64) -> f64) -> f64 {
        self.x
            .iter()
            .zip(&self.w)
            .zip(&self.rho)
            .map(|((x, w), r)| w * f(*x, *r))
            .sum()
    }
}

fn positive(name: &'static str, v: f64) -> Result<()> {
    ensure(v.is_finite() && v > 0.0, name, || {
        format!("must be finite and > 0, got {v}")
    })
}

fn track_failed(z: c64) -> KernelError {
    KernelError::Numerical {
        what: "stieltjes",
        reason: format!("branch tracking failed at z = {z}"),
    }
}

/// Nodes per support interval of [`Law::quadrature`].
pub const DEFAULT_NODES: usize = 160;

/// Shortcut for `g(w + i0)` at a real `w` inside the bulk, for polynomials of degree 2 or 3
/// with real coefficients: inside the support the physical root is complex (`Im g < 0`) and its
/// conjugate is also a root; outside it, the physical root is real and, the degree being at
/// most 3, so are all the others. Hence when the roots contain exactly one clearly complex
/// pair, its member with `Im g < 0` is the physical branch -- no continuation needed. It is
/// polished by Newton; near an edge (nearly real pair) or outside the bulk, `None` (the caller
/// falls back to [`track_stieltjes`]).
fn bulk_root(c: &Coeffs) -> Option<c64> {
    if c[4].norm() != 0.0 || c.iter().any(|v| v.im != 0.0) || c[3].re == 0.0 && c[2].re == 0.0 {
        return None;
    }
    let re: Vec<f64> = c[..4].iter().map(|v| v.re).collect();
    let r = roots(&re);
    let mut pair = r
        .iter()
        .filter(|z| z.im.abs() > 1e-6 * z.norm().max(1e-300));
    let first = *pair.next()?;
    let second = *pair.next()?;
    if pair.next().is_some() || (first - second.conj()).norm() > 1e-6 * first.norm() {
        return None;
    }
    let guess = if first.im < 0.0 { first } else { second };
    let g = super::poly::newton(c, guess, 30, 1e-14)?;
    (g.im < 0.0 && (g - guess).norm() <= 1e-6 * guess.norm()).then_some(g)
}

impl Law {
    /// Check the parameters.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Law::Semicircle { variance } => positive("variance", variance),
            Law::MarchenkoPastur { kappa, scale } => {
                positive("kappa", kappa)?;
                positive("scale", scale)
            }
            Law::MpSemicircle { kappa, delta } => {
                positive("kappa", kappa)?;
                positive("delta", delta)
            }
            Law::RectProduct {
                aspect,
                rank,
                delta,
            } => {
                ensure(aspect.is_finite() && aspect >= 1.0, "aspect", || {
                    format!("must be finite and >= 1, got {aspect}")
                })?;
                positive("rank", rank)?;
                positive("delta", delta)
            }
        }
    }

    /// Whether the law is the symmetrised singular-value law of a rectangular matrix.
    pub fn is_singular(&self) -> bool {
        matches!(self, Law::RectProduct { .. })
    }

    /// Polynomial in `g` whose root is the Stieltjes transform of the base law (for
    /// `RectProduct`, the law of `Y Y^T` in the variable `w = z^2`).
    fn coeffs(&self, w: c64) -> Coeffs {
        let z0 = c64::new(0.0, 0.0);
        let r = |v: f64| c64::new(v, 0.0);
        match *self {
            Law::Semicircle { variance } => [r(1.0), -w, r(variance), z0, z0],
            Law::MarchenkoPastur { kappa, scale } => [
                r(kappa),
                -(w * kappa - (kappa - 1.0) * scale),
                w * scale,
                z0,
                z0,
            ],
            Law::MpSemicircle { kappa, delta } => [
                r(-kappa),
                w * kappa - kappa + 1.0,
                -(w + kappa * delta),
                r(delta),
                z0,
            ],
            Law::RectProduct {
                aspect,
                rank,
                delta,
            } => {
                let s = aspect.sqrt();
                let s2m1 = s * s - 1.0;
                [
                    r(-rank * s * s),
                    w * (rank * s * s) + s * s2m1 * (1.0 - rank * (1.0 + delta)),
                    -w * (s * (rank * (1.0 + delta) + s * s - 2.0)) + delta * s2m1 * s2m1,
                    w * (2.0 * delta * s2m1) - w * w * s,
                    w * w * delta,
                ]
            }
        }
    }

    /// A size of the support of the base law (sets where the continuation starts).
    fn base_scale(&self) -> f64 {
        match *self {
            Law::Semicircle { variance } => 2.0 * variance.sqrt(),
            Law::MarchenkoPastur { kappa, scale } => scale * (1.0 + 1.0 / kappa.sqrt()).powi(2),
            Law::MpSemicircle { kappa, delta } => {
                (1.0 + 1.0 / kappa.sqrt()).powi(2) + 2.0 * delta.sqrt()
            }
            Law::RectProduct {
                aspect,
                rank,
                delta,
            } => {
                let s = aspect.sqrt();
                (1.0 + delta) * (s + 1.0 / s + 2.0) * (1.0 + 1.0 / rank)
            }
        }
    }

    /// Stieltjes transform of the base law at `w` (`Im w >= 0`; `Im w = 0` means `w + i0`).
    fn base_stieltjes(&self, w: c64) -> Result<c64> {
        if w.im == 0.0 {
            if let Some(g) = bulk_root(&self.coeffs(w)) {
                return Ok(g);
            }
        }
        track_stieltjes(&|v| self.coeffs(v), w, self.base_scale()).ok_or_else(|| track_failed(w))
    }

    /// `g(z)`; for real `z` (zero imaginary part) the boundary value `g(z + i0)`.
    pub fn stieltjes(&self, z: c64) -> Result<c64> {
        if !(z.re.is_finite() && z.im.is_finite()) {
            return Err(KernelError::InvalidArgument {
                name: "z",
                reason: format!("must be finite, got {z}"),
            });
        }
        if z.im < 0.0 {
            return self.stieltjes(z.conj()).map(|g| g.conj());
        }
        match self {
            Law::RectProduct { .. } => {
                // G(z) = z g_B(z^2) is smooth at 0 (odd); below |z| = 1e-9 sqrt(scale), where
                // z^2 would underflow the branch tracking, it is evaluated on that circle.
                let tiny = 1e-9 * self.base_scale().sqrt();
                let z = if z.norm() < tiny {
                    if z.norm() == 0.0 {
                        c64::new(tiny, 0.0)
                    } else {
                        z * (tiny / z.norm())
                    }
                } else {
                    z
                };
                let w = z * z;
                let upper = w.im > 0.0 || (w.im == 0.0 && z.re >= 0.0);
                let gb = if upper {
                    self.base_stieltjes(w)?
                } else {
                    self.base_stieltjes(w.conj())?.conj()
                };
                Ok(z * gb)
            }
            Law::MarchenkoPastur { kappa, .. } if *kappa < 1.0 && z.norm() == 0.0 => {
                Err(KernelError::InvalidArgument {
                    name: "z",
                    reason: "g has a pole at the atom z = 0".into(),
                })
            }
            _ => self.base_stieltjes(z),
        }
    }

    /// `g(re_k + i im_k)` for every k (in parallel), as real and imaginary parts.
    pub fn stieltjes_many(
        &self,
        pool: &ThreadPool,
        re: &[f64],
        im: &[f64],
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        ensure(re.len() == im.len(), "im", || {
            format!("has length {}, expected {}", im.len(), re.len())
        })?;
        let g: Vec<c64> = pool.install(|| {
            re.par_iter()
                .zip(im)
                .map(|(&a, &b)| self.stieltjes(c64::new(a, b)))
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(g.into_iter().map(|z| (z.re, z.im)).unzip())
    }

    /// Density of the continuous part at every `x` (in parallel).
    pub fn density_many(&self, pool: &ThreadPool, x: &[f64]) -> Result<Vec<f64>> {
        pool.install(|| x.par_iter().map(|&v| self.density(v)).collect())
    }

    /// Density of the continuous part at `x`.
    pub fn density(&self, x: f64) -> Result<f64> {
        if let Law::MarchenkoPastur { kappa, .. } = *self {
            if kappa < 1.0 && x == 0.0 {
                return Ok(0.0); // the continuous part vanishes below the lower edge
            }
        }
        Ok((-self.stieltjes(c64::new(x, 0.0))?.im / PI).max(0.0))
    }

    /// Atoms `(location, mass)`.
    pub fn atoms(&self) -> Vec<(f64, f64)> {
        match *self {
            Law::MarchenkoPastur { kappa, .. } if kappa < 1.0 => vec![(0.0, 1.0 - kappa)],
            _ => Vec::new(),
        }
    }

    /// Density of the base law at real `w` (for `RectProduct`: of `Y Y^T`).
    fn base_density(&self, w: f64) -> Result<f64> {
        Ok((-self.base_stieltjes(c64::new(w, 0.0))?.im / PI).max(0.0))
    }

    /// Intervals of the base support between consecutive candidate edges on which the density
    /// is positive, merged when they touch.
    fn intervals_from_candidates(&self, mut cand: Vec<f64>) -> Result<Vec<(f64, f64)>> {
        cand.sort_by(|a, b| a.total_cmp(b));
        cand.dedup_by(|a, b| (*a - *b).abs() <= 1e-14 * (1.0 + a.abs()));
        let width = cand.last().copied().unwrap_or(0.0) - cand.first().copied().unwrap_or(0.0);
        let thr = 1e-9 / width.max(1e-300);
        let mut out: Vec<(f64, f64)> = Vec::new();
        for pair in cand.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b - a <= 1e-15 * (1.0 + a.abs()) {
                continue;
            }
            if self.base_density(0.5 * (a + b))? > thr {
                match out.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => out.push((a, b)),
                }
            }
        }
        if out.is_empty() {
            return Err(KernelError::Numerical {
                what: "support",
                reason: format!("no support found for {self:?}"),
            });
        }
        Ok(out)
    }

    /// Support of the continuous part, as sorted disjoint intervals.
    pub fn support(&self) -> Result<Vec<(f64, f64)>> {
        self.validate()?;
        match *self {
            Law::Semicircle { variance } => {
                let r = 2.0 * variance.sqrt();
                Ok(vec![(-r, r)])
            }
            Law::MarchenkoPastur { kappa, scale } => {
                let c = 1.0 / kappa.sqrt();
                Ok(vec![(scale * (1.0 - c).powi(2), scale * (1.0 + c).powi(2))])
            }
            Law::MpSemicircle { kappa, delta } => {
                let cand = real_roots(&mp_semicircle_edge(kappa, delta), 1e-7);
                self.intervals_from_candidates(cand)
            }
            Law::RectProduct {
                aspect,
                rank,
                delta,
            } => {
                let mut cand: Vec<f64> =
                    real_roots(&rect_product_edge(delta, rank, aspect.sqrt()), 1e-7)
                        .into_iter()
                        .filter(|&w| w > 0.0)
                        .collect();
                cand.push(0.0);
                let base = self.intervals_from_candidates(cand)?;
                let mut pos: Vec<(f64, f64)> = base
                    .iter()
                    .map(|&(a, b)| (a.max(0.0).sqrt(), b.sqrt()))
                    .collect();
                let mut out: Vec<(f64, f64)> = pos.iter().rev().map(|&(a, b)| (-b, -a)).collect();
                if pos[0].0 == 0.0 {
                    // the support touches 0: one interval across the origin
                    let first = pos.remove(0);
                    let last = out.pop().map(|i| i.0).unwrap_or(-first.1);
                    out.push((last, first.1));
                }
                out.extend(pos);
                Ok(out)
            }
        }
    }

    /// Points inside the support where the density varies sharply: the real parts of the
    /// complex zeros of the edge polynomial close to the real axis (near-cusps, where the
    /// bulk of the atom-like component merges with the main bulk).
    fn breakpoints(&self) -> Vec<f64> {
        let near = |z: &c64| z.im.abs() <= 0.5 * (1.0 + z.re.abs());
        match *self {
            Law::MpSemicircle { kappa, delta } => roots(&mp_semicircle_edge(kappa, delta))
                .iter()
                .filter(|z| z.im != 0.0 && near(z))
                .map(|z| z.re)
                .collect(),
            // a cut within 1e-6 of the origin only clusters nodes where x^2 underflows the
            // branch tracking; the density is smooth there
            Law::RectProduct {
                aspect,
                rank,
                delta,
            } => roots(&rect_product_edge(delta, rank, aspect.sqrt()))
                .iter()
                .filter(|z| z.im != 0.0 && near(z) && z.re > 1e-12 * (1.0 + delta) * aspect)
                .flat_map(|z| [z.re.sqrt(), -z.re.sqrt()])
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Gauss rule with `n` nodes per panel. Support intervals are split into panels at the
    /// [`Law::breakpoints`]; each panel `[a, b]` is mapped by `x = (a + b)/2 - (b - a)/2
    /// cos(theta)`, which absorbs square-root edges and clusters nodes at the breakpoints. The
    /// densities at the nodes are computed in parallel on `pool` (each node independently, so
    /// the rule does not depend on the number of threads); for the symmetric `RectProduct`
    /// law only `x > 0` is computed and mirrored.
    pub fn quadrature(&self, pool: &ThreadPool, n: usize) -> Result<Quadrature> {
        let (t, wt) = gauss_legendre(n.max(2));
        let support = self.support()?;
        let breaks = self.breakpoints();
        let mirror = self.is_singular();
        let mut panels = Vec::new();
        for &(a0, b) in &support {
            let a = if mirror { a0.max(0.0) } else { a0 };
            if mirror && b <= 0.0 {
                continue;
            }
            let mut cuts: Vec<f64> = breaks
                .iter()
                .copied()
                .filter(|&x| x > a + 1e-9 * (b - a) && x < b - 1e-9 * (b - a))
                .collect();
            cuts.sort_by(|x, y| x.total_cmp(y));
            let mut lo = a;
            for c in cuts {
                panels.push((lo, c));
                lo = c;
            }
            panels.push((lo, b));
        }
        let mut q = Quadrature::default();
        for (a, b) in panels {
            let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
            for (ti, wi) in t.iter().zip(&wt) {
                let theta = 0.5 * PI * (ti + 1.0);
                q.x.push(c - h * theta.cos());
                q.w.push(wi * 0.5 * PI * h * theta.sin());
            }
        }
        q.rho = self.density_many(pool, &q.x)?;
        if mirror {
            let k = q.x.len();
            for i in 0..k {
                q.x.push(-q.x[i]);
                q.w.push(q.w[i]);
                q.rho.push(q.rho[i]);
            }
        }
        Ok(q)
    }

    /// `int rho^3` over the continuous part.
    pub fn cube_integral(&self, pool: &ThreadPool) -> Result<f64> {
        Ok(self.quadrature(pool, DEFAULT_NODES)?.sum(|_, r| r * r * r))
    }

    /// Denoising MMSE of the prior whose noisy observation has this law, per `(1/d) ||.||_F^2`
    /// (symmetric, spectral units) or per entry (rectangular, entry units):
    /// * `MpSemicircle`: `delta - (4 pi^2 / 3) delta^2 int rho^3`;
    /// * `RectProduct`: `delta - delta^2 / aspect^{3/2} [ (aspect - 1)^2 int mu/x^2
    ///   + (4 pi^2/3) int mu^3 ]` (integrals over the real line).
    ///
    /// Both follow from Tweedie's formula for rotationally invariant priors (the RIE is the
    /// posterior mean, the MMSE is `delta` minus `delta^2` times the Fisher information).
    pub fn denoising_mmse(&self, pool: &ThreadPool) -> Result<f64> {
        match *self {
            Law::MpSemicircle { delta, .. } => {
                Ok(delta - 4.0 * PI * PI / 3.0 * delta * delta * self.cube_integral(pool)?)
            }
            Law::RectProduct { aspect, delta, .. } => {
                let q = self.quadrature(pool, DEFAULT_NODES)?;
                let cube = q.sum(|_, r| r * r * r);
                let inv2 = if aspect > 1.0 {
                    q.sum(|x, r| r / (x * x))
                } else {
                    0.0
                };
                Ok(delta
                    - delta * delta / aspect.powf(1.5)
                        * ((aspect - 1.0).powi(2) * inv2 + 4.0 * PI * PI / 3.0 * cube))
            }
            _ => Err(KernelError::InvalidArgument {
                name: "law",
                reason:
                    "the denoising MMSE is defined for the noisy laws (mp_semicircle, rect_product)"
                        .into(),
            }),
        }
    }

    /// Rotationally invariant shrinkage of an eigenvalue (symmetric) or singular value
    /// (rectangular, `aspect` > 0 side) `x` observed at noise `delta`:
    /// symmetric `x - 2 delta Re g(x)`; rectangular `x - (2 delta / sqrt(aspect))
    /// ((aspect - 1)/(2x) + Re G(x))`.
    pub fn shrink(&self, x: f64, delta: f64, g_re: f64) -> f64 {
        match *self {
            Law::RectProduct { aspect, .. } => {
                x - 2.0 * delta / aspect.sqrt() * ((aspect - 1.0) / (2.0 * x) + g_re)
            }
            _ => x - 2.0 * delta * g_re,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threads::pool;

    fn mass(law: &Law) -> f64 {
        law.quadrature(&pool(Some(2)).unwrap(), DEFAULT_NODES)
            .unwrap()
            .sum(|_, r| r)
            + law.atoms().iter().map(|a| a.1).sum::<f64>()
    }

    #[test]
    fn every_law_has_unit_mass() {
        let laws = [
            Law::Semicircle { variance: 0.7 },
            Law::MarchenkoPastur {
                kappa: 0.3,
                scale: 1.0,
            },
            Law::MarchenkoPastur {
                kappa: 2.5,
                scale: 2.0,
            },
            Law::MpSemicircle {
                kappa: 0.5,
                delta: 0.1,
            },
            Law::MpSemicircle {
                kappa: 0.2,
                delta: 1e-4,
            },
            Law::MpSemicircle {
                kappa: 3.0,
                delta: 2.0,
            },
            Law::RectProduct {
                aspect: 2.0,
                rank: 0.5,
                delta: 0.3,
            },
            Law::RectProduct {
                aspect: 1.0,
                rank: 0.2,
                delta: 0.1,
            },
            Law::RectProduct {
                aspect: 4.0,
                rank: 1.5,
                delta: 0.01,
            },
        ];
        for law in laws {
            let m = mass(&law);
            assert!(
                (m - 1.0).abs() < 1e-6,
                "{law:?}: mass {m}, support {:?}",
                law.support()
            );
        }
    }

    #[test]
    fn mp_semicircle_has_mean_one_and_second_moment_q0_plus_delta() {
        let (kappa, delta) = (0.5, 0.3);
        let law = Law::MpSemicircle { kappa, delta };
        let q = law
            .quadrature(&pool(Some(2)).unwrap(), DEFAULT_NODES)
            .unwrap();
        assert!((q.sum(|x, r| x * r) - 1.0).abs() < 1e-7);
        assert!((q.sum(|x, r| x * x * r) - (1.0 + 1.0 / kappa + delta)).abs() < 1e-7);
    }

    #[test]
    fn bulk_shortcut_agrees_with_branch_tracking() {
        for law in [
            Law::MpSemicircle {
                kappa: 0.5,
                delta: 0.3,
            },
            Law::MpSemicircle {
                kappa: 2.0,
                delta: 0.05,
            },
            Law::Semicircle { variance: 1.5 },
        ] {
            let (a, b) = (
                law.support().unwrap()[0].0,
                law.support().unwrap().last().unwrap().1,
            );
            let mut hits = 0;
            for k in 1..200 {
                let x = a + (b - a) * k as f64 / 200.0;
                let w = c64::new(x, 0.0);
                let tracked = track_stieltjes(&|v| law.coeffs(v), w, law.base_scale()).unwrap();
                if let Some(g) = bulk_root(&law.coeffs(w)) {
                    hits += 1;
                    assert!(
                        (g - tracked).norm() <= 1e-10 * tracked.norm(),
                        "{law:?} {x}"
                    );
                }
            }
            assert!(hits > 100, "{law:?}: {hits}");
        }
    }

    #[test]
    fn stieltjes_is_consistent_off_the_axis() {
        let law = Law::MpSemicircle {
            kappa: 0.4,
            delta: 0.2,
        };
        let q = law.quadrature(&pool(Some(1)).unwrap(), 400).unwrap();
        for &z in &[c64::new(1.0, 0.3), c64::new(-0.5, 1.0), c64::new(6.0, 0.1)] {
            let direct = law.stieltjes(z).unwrap();
            let quad: c64 =
                q.x.iter()
                    .zip(&q.w)
                    .zip(&q.rho)
                    .map(|((x, w), r)| (z - x).inv() * (w * r))
                    .sum();
            assert!((direct - quad).norm() < 1e-6, "{z}: {direct} vs {quad}");
        }
    }
}
