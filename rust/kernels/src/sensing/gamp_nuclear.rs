//! GAMP for nuclear-norm (trace-norm) ERM of symmetric matrix sensing,
//! ```text
//! min_S  (1/2) sum_mu (y_mu - <A_mu, S>)^2 + lam Tr S     over PSD S        (psd)
//! min_S  (1/2) sum_mu (y_mu - <A_mu, S>)^2 + lam ||S||_*  over symmetric S
//! ```
//! (Erba, Troiani, Zdeborova, Krzakala 2025, arXiv:2505.17958; GAMP for convex ERM: Rangan
//! 2011, arXiv:1010.5141; Donoho, Maleki & Montanari 2009 for the soft-threshold AMP).
//!
//! It is [`super::gamp::gamp_matrix`] with the square-loss output (`g = (y - omega)/(1 + V)`,
//! `a = 1/(1 + V)`) and the eigenvalue soft threshold as input denoiser: the quadratic model
//! of the loss around `S^t` has curvature `field_gain a`, so the proximal step is the soft
//! threshold of `R` at `theta = lam / (field_gain a) = lam (noise_gain / field_gain) delta`,
//! and its variance is `delta D` with `D` the normalised divergence of
//! [`crate::rmt::spectral_fn`]. At a fixed point `g = y - A(S)` and `S = prox(S + A^T(y -
//! A(S))/(field_gain a))`: the minimiser (the proximal-gradient fixed point). The variance
//! then solves `V = D / (2 alpha - D)` and `theta = (lam/d) / (2 alpha - D)`, `alpha = n/d^2`.

use super::gamp::{gamp_matrix, GampOptions, GampOutput, OutputChannel};
use super::operators::SensingOperator;
use crate::control::Interrupt;
use crate::error::{ensure, Result};
use crate::rmt::SoftThreshold;
use rayon::ThreadPool;

/// Run nuclear-norm GAMP on the labels `y` of the symmetric operator `op` with penalty `lam`
/// (raw units of the objective above). `init` is the start, `init_var` its assumed variance
/// per unit (`V^0 = 2 init_var`).
#[allow(clippy::too_many_arguments)]
pub fn nuclear_norm_gamp<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    lam: f64,
    psd: bool,
    init: &[f64],
    init_var: f64,
    truth: Option<&[f64]>,
    opts: GampOptions,
    ctl: &I,
) -> Result<GampOutput>
where
    I: Interrupt + ?Sized,
{
    ensure(lam.is_finite() && lam >= 0.0, "lam", || {
        format!("must be finite and >= 0, got {lam}")
    })?;
    ensure(op.symmetric(), "kind", || {
        "nuclear-norm GAMP needs a symmetric sensing operator".into()
    })?;
    let geo = op.geometry();
    let denoiser = SoftThreshold {
        lam_scale: lam * geo.noise_gain / geo.field_gain,
        psd,
    };
    gamp_matrix(
        pool,
        op,
        y,
        OutputChannel::SquareLoss,
        &denoiser,
        init,
        init_var,
        truth,
        opts,
        ctl,
        "nuclear_norm_gamp",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::rmt::spectral_fn::soft_threshold_symmetric;
    use crate::sensing::models::{labels, wishart_teacher};
    use crate::sensing::{GaussianRect, GaussianSymmetric};
    use crate::threads::pool;

    const OPTS: GampOptions = GampOptions {
        n_iter: 400,
        damping: 0.0,
        tol: 1e-24,
    };

    fn problem(d: usize, alpha: f64) -> (GaussianSymmetric, Vec<f64>, Vec<f64>) {
        let p = pool(Some(2)).unwrap();
        let n = (alpha * (d * d) as f64).round() as usize;
        let op = GaussianSymmetric::new(7, n, d).unwrap();
        let (_, s) = wishart_teacher(&p, d, d / 2, 3).unwrap();
        let y = labels(&p, &op, &s, 0.1, 5).unwrap();
        (op, y, s)
    }

    #[test]
    fn fixed_point_is_the_proximal_gradient_fixed_point() {
        let p = pool(Some(2)).unwrap();
        let d = 16;
        let (op, y, s) = problem(d, 0.6);
        let lam = 0.5 * d as f64;
        let init = vec![0.0; d * d];
        let out =
            nuclear_norm_gamp(&p, &op, &y, lam, true, &init, 1.0, Some(&s), OPTS, &Never).unwrap();
        assert!(out.converged, "{:?}", &out.diff[out.diff.len() - 3..]);
        // S = prox_{step lam Tr}(S - step A^T (A S - y)) at any step; use 1 / field_gain
        let n = op.n_samples();
        let geo = op.geometry();
        let mut h = vec![0.0; n];
        op.forward(&p, &out.estimate, &mut h).unwrap();
        let r: Vec<f64> = y.iter().zip(&h).map(|(y, h)| y - h).collect();
        let mut grad = vec![0.0; d * d];
        op.adjoint(&p, &r, &mut grad).unwrap();
        let step = 1.0 / geo.field_gain;
        let z: Vec<f64> = out
            .estimate
            .iter()
            .zip(&grad)
            .map(|(s, g)| s + step * g)
            .collect();
        let prox = soft_threshold_symmetric(&p, &z, d, step * lam, true).unwrap();
        let err = prox
            .estimate
            .iter()
            .zip(&out.estimate)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-9, "{err}");
        // V = D / (2 alpha - D) at the fixed point, D = var / delta
        let (v, var, delta) = (
            *out.variance.last().unwrap(),
            *out.mmse.last().unwrap(),
            *out.delta_eff.last().unwrap(),
        );
        let (dd, alpha) = (var / delta, n as f64 / (d * d) as f64);
        assert!((v - dd / (2.0 * alpha - dd)).abs() < 1e-9 * v, "{v} {dd}");
    }

    #[test]
    fn gamp_is_thread_independent() {
        let d = 12;
        let (op, y, _) = problem(d, 0.8);
        let init = vec![0.0; d * d];
        let opts = GampOptions { n_iter: 30, ..OPTS };
        let run = |t| {
            let p = pool(Some(t)).unwrap();
            nuclear_norm_gamp(&p, &op, &y, 3.0, false, &init, 1.0, None, opts, &Never).unwrap()
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a.estimate, b.estimate);
        assert_eq!(a.variance, b.variance);
    }

    #[test]
    fn bad_input_names_the_argument() {
        let p = pool(Some(1)).unwrap();
        let d = 4;
        let (op, y, _) = problem(d, 1.0);
        let init = vec![0.0; d * d];
        let name = |r: Result<GampOutput>| match r {
            Err(crate::KernelError::InvalidArgument { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let call = |lam, init: &[f64], var, damping| {
            let opts = GampOptions { damping, ..OPTS };
            nuclear_norm_gamp(&p, &op, &y, lam, true, init, var, None, opts, &Never)
        };
        assert_eq!(name(call(-1.0, &init, 1.0, 0.0)), "lam");
        assert_eq!(name(call(f64::NAN, &init, 1.0, 0.0)), "lam");
        assert_eq!(name(call(1.0, &init[1..], 1.0, 0.0)), "init");
        assert_eq!(name(call(1.0, &init, 0.0, 0.0)), "init_mmse");
        assert_eq!(name(call(1.0, &init, 1.0, 1.0)), "damping");
        let rect = GaussianRect::new(1, 8, 2, 3).unwrap();
        let r = nuclear_norm_gamp(
            &p,
            &rect,
            &y[..8],
            1.0,
            true,
            &[0.0; 6],
            1.0,
            None,
            OPTS,
            &Never,
        );
        assert_eq!(name(r), "kind");
    }
}
