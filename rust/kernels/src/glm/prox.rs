//! GAMP for empirical risk minimisation (proximal GAMP; Vilucchio et al., arXiv:2502.20003,
//! digest 06, Sec. 2), on the general engine [`super::gamp::gamp`] with `p = 1`:
//!
//! ```text
//! omega_mu = <w, x_mu>/sqrt(d) - V g_mu^{t-1}
//! g_mu = (prox_{V rho(y_mu - .)}(omega_mu) - omega_mu)/V,   dg_mu = d g_mu / d omega_mu
//! A = -(1/d) sum_mu dg_mu,   B = X^T g/sqrt(d) + A w_bar
//! ridge:  w = B/(A + lam),             V = 1/(A + lam)
//! sphere: w = sqrt(q d) B/||B||,       V = sqrt(q d)(1 - 1/d)/||B||   (average Jacobian)
//! ```
//!
//! Every fixed point is a stationary point of the empirical risk
//! `sum_mu rho(y_mu - <w, x_mu>/sqrt d) + (lam/2)||w||^2` (sphere: of the risk on the sphere, with
//! the Lagrange multiplier `||B||/sqrt(q d) - A`), whatever the values of `V` and `A`: with
//! `r_mu = y_mu - omega_mu - V g_mu` the prox residual, `g_mu = rho'(r_mu)`, and `w = B/(A + lam)`
//! gives `lam w = X^T g/sqrt(d)`, while `omega_mu = <w, x_mu>/sqrt d - V g_mu` makes `r_mu` the
//! residual of `w`. `V` and `A` only set the dynamics; with their state-evolution values the
//! iterates follow the replica-symmetric fixed point (`hdcore.theory.erm_fixed_point`).
//!
//! Validity: the output function needs a single-valued prox (`V < -1/min rho''`, Tukey 5/4,
//! Cauchy 8); [`ProxOutput`] declares larger `V` outside its domain and the loop stops there. The
//! ridge input function needs `A + lam > 0` ([`RidgeInput`]; `lam` may be negative). With
//! `fixed_variance` ([`super::gamp::GampOptions`]) `V` stays at the given value, e.g. the fixed
//! point's `V < 5/4`, so the prox never becomes multivalued on the way.

use super::gamp::{gamp, GampOptions, GampOutput};
use super::input::InputDenoiser;
use super::output::OutputChannel;
use crate::control::Interrupt;
use crate::erm::Constraint;
use crate::error::{ensure, invalid, KernelError, Result};
use crate::linalg::{Dense, LinearOperator, Scalar};
use crate::losses::{Loss, ProxChannel};
use crate::priors::project_to_sphere;
use rayon::ThreadPool;

fn domain_error(reason: String) -> KernelError {
    KernelError::Numerical { what: "gamp", reason }
}

/// The proximal output function of a residual loss with labels `y` (`p = 1`).
#[derive(Debug, Clone, Copy)]
pub struct ProxOutput<'a> {
    channel: ProxChannel,
    y: &'a [f64],
}

impl<'a> ProxOutput<'a> {
    /// The output function of `loss(y - z)` for the labels `y` (checked finite).
    pub fn new(loss: Loss, y: &'a [f64]) -> Result<Self> {
        if let Some((mu, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(invalid("y", format!("label y[{mu}] = {v} is not finite")));
        }
        Ok(Self { channel: ProxChannel::new(loss), y })
    }
}

impl OutputChannel for ProxOutput<'_> {
    type Ctx = f64;

    fn p(&self) -> usize {
        1
    }
    fn n(&self) -> usize {
        self.y.len()
    }
    fn prepare(&self, v: &[f64]) -> Result<f64> {
        match self.outside_domain(v) {
            Some(reason) => Err(domain_error(reason)),
            None => Ok(v[0]),
        }
    }
    fn g_out(&self, v: &f64, mu: usize, omega: &[f64], g: &mut [f64], dg: &mut [f64]) -> Result<()> {
        let (a, b) = self.channel.g_out(self.y[mu], omega[0], *v);
        g[0] = a;
        dg[0] = b;
        Ok(())
    }
    fn outside_domain(&self, v: &[f64]) -> Option<String> {
        let &[v] = v else {
            return Some(format!("the variance must be 1 x 1, got {} entries", v.len()));
        };
        let loss = self.channel.loss();
        if !(v.is_finite() && v > 0.0) {
            Some(format!("the variance V = {v} is not finite and positive"))
        } else if !self.channel.single_valued(v) {
            Some(format!(
                "prox multivalued: the prox of the {} loss is multivalued at V = {v} (single-valued only for V < {})",
                loss.name(),
                loss.max_prox_variance()
            ))
        } else {
            None
        }
    }
}

fn check_field(b: &[f64], a: &[f64], w: &[f64], c: &[f64]) -> Result<()> {
    ensure(!b.is_empty() && w.len() == b.len(), "b", || format!("expected a non-empty field and an output of the same length, got {} and {}", b.len(), w.len()))?;
    ensure(a.len() == 1 && c.len() == 1, "a", || "the precision and variance must be 1 x 1".into())?;
    ensure(a[0].is_finite(), "a", || format!("must be finite, got {}", a[0]))
}

/// Input function of the ridge `(lam/2)||w||^2`, `lam` of any sign: `w = B/(A + lam)`,
/// variance `1/(A + lam)`; defined for `A + lam > 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RidgeInput {
    lam: f64,
}

impl RidgeInput {
    /// The ridge of strength `lam` (finite).
    pub fn new(lam: f64) -> Result<Self> {
        ensure(lam.is_finite(), "lam", || format!("must be finite, got {lam}"))?;
        Ok(Self { lam })
    }
}

impl InputDenoiser for RidgeInput {
    fn p(&self) -> usize {
        1
    }
    fn denoise(&self, _pool: &ThreadPool, b: &[f64], a: &[f64], w: &mut [f64], c: &mut [f64]) -> Result<()> {
        check_field(b, a, w, c)?;
        if let Some(reason) = self.outside_domain(a) {
            return Err(domain_error(reason));
        }
        let s = a[0] + self.lam;
        w.iter_mut().zip(b).for_each(|(wi, bi)| *wi = bi / s);
        c[0] = 1.0 / s;
        Ok(())
    }
    fn outside_domain(&self, a: &[f64]) -> Option<String> {
        let s = a.first().map_or(f64::NAN, |a| a + self.lam);
        (s.is_nan() || s <= 0.0).then(|| {
            format!(
                "A + lam = {s} <= 0: the ridge input function B/(A + lam) is undefined (the data term's curvature no longer compensates lam = {})",
                self.lam
            )
        })
    }
}

/// Input function of the spherical constraint `||w||^2 = q d`: `w = sqrt(q d) B/||B||` (the
/// ridge `B/(A + lam)` with the Lagrange multiplier `lam = ||B||/sqrt(q d) - A`), variance the
/// average Jacobian `sqrt(q d)(1 - 1/d)/||B||`; `A` is not used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SphereInput {
    q: f64,
}

impl SphereInput {
    /// The sphere `||w||^2 = q d`, `q > 0`.
    pub fn new(q: f64) -> Result<Self> {
        ensure(q.is_finite() && q > 0.0, "q", || format!("must be finite and > 0, got {q}"))?;
        Ok(Self { q })
    }
}

impl InputDenoiser for SphereInput {
    fn p(&self) -> usize {
        1
    }
    fn denoise(&self, pool: &ThreadPool, b: &[f64], a: &[f64], w: &mut [f64], c: &mut [f64]) -> Result<()> {
        check_field(b, a, w, c)?;
        let d = b.len() as f64;
        let g = project_to_sphere(pool, b, (self.q * d).sqrt(), w)
            .ok_or_else(|| domain_error("the field B vanished: its direction on the sphere is undefined".into()))?;
        c[0] = g * (1.0 - 1.0 / d);
        Ok(())
    }
}

/// GAMP for ERM on a design `X` with `N(0, 1)` entries and pre-activations `<w, x_mu>/sqrt(d)`,
/// as in [`crate::erm`] (the loop runs on `opts.scale X/sqrt(d)`), from `w0` and the variance
/// `v0` (with `opts.fixed_variance`, the variance at every iteration). `truth` (length `d`) only
/// serves the overlaps.
#[allow(clippy::too_many_arguments)]
pub fn erm_gamp<T, I>(
    pool: &ThreadPool,
    x: &Dense<'_, T>,
    y: &[f64],
    loss: Loss,
    constraint: Constraint,
    w0: &[f64],
    v0: f64,
    truth: Option<&[f64]>,
    opts: GampOptions,
    ctl: &I,
) -> Result<GampOutput>
where
    T: Scalar,
    I: Interrupt + ?Sized,
{
    ensure(v0.is_finite() && v0 > 0.0, "v0", || format!("must be finite and > 0, got {v0}"))?;
    let out = ProxOutput::new(loss, y)?;
    let opts = GampOptions { scale: opts.scale / (x.ncols() as f64).sqrt(), ..opts };
    match constraint {
        Constraint::Ridge { lam } => gamp(pool, x, &out, &RidgeInput::new(lam)?, w0, &[v0], truth, opts, ctl),
        Constraint::Sphere { q } => gamp(pool, x, &out, &SphereInput::new(q)?, w0, &[v0], truth, opts, ctl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::erm::{erm, ErmOptions};
    use crate::models::regression::{test_sample as data, TestSample as Data};
    use crate::threads::pool;

    fn run(dt: &Data, loss: Loss, c: Constraint, v0: f64, fixed: bool, threads: usize) -> GampOutput {
        let p = pool(Some(threads)).unwrap();
        let x = Dense::new(&dt.x, dt.n, dt.d).unwrap();
        let w0 = match c {
            Constraint::Ridge { .. } => vec![0.0; dt.d],
            Constraint::Sphere { .. } => vec![1.0; dt.d],
        };
        let opts = GampOptions { fixed_variance: fixed, ..GampOptions::new(500, 0.3, 1e-24) };
        erm_gamp(&p, &x, &dt.y, loss, c, &w0, v0, Some(&dt.theta), opts, &Never).unwrap()
    }

    /// `||lam w - X^T rho'(y - X w/sqrt d)/sqrt d|| / sqrt(n)` (sphere: tangent part).
    fn stationarity(dt: &Data, loss: Loss, c: Constraint, w: &[f64]) -> f64 {
        let s = (dt.d as f64).sqrt();
        let mut grad = vec![0.0; dt.d];
        for mu in 0..dt.n {
            let row = &dt.x[mu * dt.d..(mu + 1) * dt.d];
            let z: f64 = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / s;
            let g = loss.d1(dt.y[mu] - z);
            grad.iter_mut().zip(row).for_each(|(gi, xi)| *gi -= g * xi / s);
        }
        match c {
            Constraint::Ridge { lam } => grad.iter_mut().zip(w).for_each(|(gi, wi)| *gi += lam * wi),
            Constraint::Sphere { .. } => {
                let proj = grad.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / w.iter().map(|v| v * v).sum::<f64>();
                grad.iter_mut().zip(w).for_each(|(gi, wi)| *gi -= proj * wi);
            }
        }
        grad.iter().map(|v| v * v).sum::<f64>().sqrt() / (dt.n as f64).sqrt()
    }

    #[test]
    fn fixed_points_are_stationary_points_of_the_empirical_risk() {
        let dt = data(2000, 200, 1);
        let cases = [
            (Loss::Square, Constraint::Ridge { lam: 0.5 }),
            (Loss::Huber { a: 1.0 }, Constraint::Ridge { lam: 0.5 }),
            (Loss::Huber { a: 1.0 }, Constraint::Ridge { lam: -1.0 }),
            (Loss::Tukey { tau: 2.0 }, Constraint::Ridge { lam: 0.5 }),
            (Loss::Huber { a: 1.0 }, Constraint::Sphere { q: 0.8 }),
        ];
        for (loss, c) in cases {
            for fixed in [false, true] {
                let out = run(&dt, loss, c, 0.2, fixed, 2);
                assert!(out.converged && out.stopped.is_none(), "{loss:?} {c:?} fixed {fixed}: {:?}", out.stopped);
                let g = stationarity(&dt, loss, c, &out.estimate);
                assert!(g < 1e-9, "{loss:?} {c:?} fixed {fixed}: gradient {g}");
                if let Constraint::Sphere { q } = c {
                    assert!((out.q.last().unwrap() - q).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn convex_losses_reach_the_erm_minimiser() {
        let dt = data(2000, 200, 2);
        let p = pool(Some(2)).unwrap();
        let x = Dense::new(&dt.x, dt.n, dt.d).unwrap();
        for (loss, c) in [(Loss::Huber { a: 1.0 }, Constraint::Ridge { lam: 0.3 }), (Loss::Square, Constraint::Ridge { lam: -1.0 })] {
            let g = run(&dt, loss, c, 0.5, false, 1);
            let e = erm(&p, &x, &dt.y, loss, c, &vec![0.0; dt.d], ErmOptions { gtol: 1e-12, ..ErmOptions::default() }, &Never).unwrap();
            let diff = g.estimate.iter().zip(&e.w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(diff < 1e-7, "{loss:?}: max |w_gamp - w_erm| = {diff}");
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let dt = data(3000, 300, 3);
        let c = Constraint::Ridge { lam: 0.5 };
        let a = run(&dt, Loss::Tukey { tau: 2.0 }, c, 0.2, false, 1);
        let b = run(&dt, Loss::Tukey { tau: 2.0 }, c, 0.2, false, 2);
        assert_eq!(a.estimate, b.estimate);
        assert_eq!(a.m, b.m);
    }

    #[test]
    fn a_multivalued_prox_stops_the_loop_with_its_reason() {
        // Tukey with few samples: the variance 1/(A + lam) grows past 5/4
        let dt = data(300, 200, 4);
        let out = run(&dt, Loss::Tukey { tau: 1.0 }, Constraint::Ridge { lam: 0.05 }, 0.5, false, 1);
        let reason = out.stopped.expect("the loop should stop");
        assert!(reason.contains("prox multivalued") && out.variance[0] >= 1.25, "{reason} at V = {}", out.variance[0]);
        assert!(!out.converged && out.estimate.iter().all(|v| v.is_finite()));
        // a fixed variance beyond the threshold stops before the first iteration
        let out = run(&dt, Loss::Tukey { tau: 1.0 }, Constraint::Ridge { lam: 0.05 }, 1.3, true, 1);
        assert!(out.stopped.is_some() && out.n_iter == 0);
        // just below it the prox is accepted (here A + lam then turns negative: 1 + V rho'' is
        // close to 0 and -dg = rho''/(1 + V rho'') very negative for some samples)
        let out = run(&dt, Loss::Tukey { tau: 1.0 }, Constraint::Ridge { lam: 0.05 }, 1.2, true, 1);
        assert!(!out.stopped.unwrap_or_default().contains("prox"));
    }

    #[test]
    fn a_ridge_below_the_data_curvature_stops_the_loop() {
        // square loss: A = alpha/(1 + V); lam = -20 < -A for every V > 0
        let dt = data(1000, 100, 5);
        let out = run(&dt, Loss::Square, Constraint::Ridge { lam: -20.0 }, 0.5, false, 1);
        assert!(out.stopped.unwrap().contains("A + lam"));
    }

    #[test]
    fn ingredients_check_their_arguments() {
        let pl = pool(Some(1)).unwrap();
        assert!(ProxOutput::new(Loss::Square, &[0.0, f64::NAN]).is_err());
        assert!(RidgeInput::new(f64::INFINITY).is_err());
        assert!(SphereInput::new(0.0).is_err());
        let (mut w, mut c) = (vec![0.0; 3], [0.0]);
        let r = RidgeInput::new(-1.0).unwrap();
        assert!(r.denoise(&pl, &[1.0, 2.0, 3.0], &[0.5], &mut w, &mut c).is_err());
        r.denoise(&pl, &[1.0, 2.0, 3.0], &[3.0], &mut w, &mut c).unwrap();
        assert_eq!((w[1], c[0]), (1.0, 0.5));
        let s = SphereInput::new(2.0).unwrap();
        assert!(s.denoise(&pl, &[0.0; 3], &[1.0], &mut w, &mut c).is_err());
        s.denoise(&pl, &[1.0, 2.0, 2.0], &[1.0], &mut w, &mut c).unwrap();
        assert!((w.iter().map(|v| v * v).sum::<f64>() - 6.0).abs() < 1e-12 && (c[0] - 6f64.sqrt() / 3.0 * (2.0 / 3.0)).abs() < 1e-12);
        let o = ProxOutput::new(Loss::Tukey { tau: 1.0 }, &[0.0]).unwrap();
        assert!(o.prepare(&[1.25]).is_err() && o.prepare(&[1.2]).is_ok() && o.prepare(&[0.0]).is_err());
        let x = [0.0; 3];
        let xd = Dense::new(&x, 1, 3).unwrap();
        assert!(erm_gamp(&pl, &xd, &[0.0], Loss::Square, Constraint::Ridge { lam: 1.0 }, &[0.0; 3], -1.0, None, GampOptions::new(3, 0.0, 0.0), &Never).is_err());
    }
}
