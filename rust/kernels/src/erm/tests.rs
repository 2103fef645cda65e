use super::*;
use crate::control::Never;
use crate::linalg::Dense;
use crate::models::regression::{test_sample as problem, TestSample as Problem};
use crate::threads::{pool, ThreadPool};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};

fn solve(pr: &Problem, loss: Loss, c: Constraint, w0: &[f64], threads: usize) -> Result<ErmOutput> {
    let p = pool(Some(threads)).unwrap();
    let op = Dense::new(&pr.x, pr.n, pr.d).unwrap();
    erm(&p, &op, &pr.y, loss, c, w0, ErmOptions::default(), &Never)
}

/// `X^T X / d` as a dense matrix.
fn gram(pr: &Problem) -> Mat<f64> {
    let (n, d) = (pr.n, pr.d);
    Mat::from_fn(d, d, |i, j| {
        (0..n)
            .map(|m| pr.x[m * d + i] * pr.x[m * d + j])
            .sum::<f64>()
            / d as f64
    })
}

fn objective(pr: &Problem, loss: Loss, lam: f64, w: &[f64]) -> f64 {
    let s = (pr.d as f64).sqrt();
    (0..pr.n)
        .map(|m| {
            let z: f64 = (0..pr.d).map(|i| pr.x[m * pr.d + i] * w[i]).sum::<f64>() / s;
            loss.value(pr.y[m] - z)
        })
        .sum::<f64>()
        + 0.5 * lam * w.iter().map(|v| v * v).sum::<f64>()
}

#[test]
fn square_loss_ridge_matches_the_normal_equations() {
    let pr = problem(400, 50, 1);
    let lam = 0.3;
    let out = solve(
        &pr,
        Loss::Square,
        Constraint::Ridge { lam },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap();
    assert!(out.converged, "{}", out.message);
    // (X^T X/d + lam) w = X^T y/sqrt(d)
    let g = gram(&pr);
    let a = Mat::from_fn(pr.d, pr.d, |i, j| {
        g[(i, j)] + if i == j { lam } else { 0.0 }
    });
    let b = Mat::from_fn(pr.d, 1, |i, _| {
        (0..pr.n).map(|m| pr.x[m * pr.d + i] * pr.y[m]).sum::<f64>() / (pr.d as f64).sqrt()
    });
    let w = a.llt(Side::Lower).unwrap().solve(&b);
    for i in 0..pr.d {
        assert!(
            (out.w[i] - w[(i, 0)]).abs() < 1e-7,
            "{} vs {}",
            out.w[i],
            w[(i, 0)]
        );
    }
    // Hessian minimum = lambda_min(X^T X/d) + lam
    let ev = g.self_adjoint_eigenvalues(Side::Lower).unwrap();
    // the Ritz value bounds the smallest eigenvalue from above, within hessian_tol = 1e-2
    assert!(
        out.hessian_min >= ev[0] + lam - 1e-9 && out.hessian_min - (ev[0] + lam) < 1e-2 * ev[0],
        "{} vs {}",
        out.hessian_min,
        ev[0] + lam
    );
    assert!(out.hessian_converged);
}

#[test]
fn solutions_are_identical_for_one_and_two_threads() {
    let pr = problem(9000, 60, 2);
    let w0 = vec![0.0; pr.d];
    for loss in [Loss::Huber { a: 1.0 }, Loss::Tukey { tau: 2.0 }] {
        let a = solve(&pr, loss, Constraint::Ridge { lam: 0.5 }, &w0, 1).unwrap();
        let b = solve(&pr, loss, Constraint::Ridge { lam: 0.5 }, &w0, 2).unwrap();
        assert_eq!(a.w, b.w);
        assert_eq!(a.objective.to_bits(), b.objective.to_bits());
        assert_eq!(a.hessian_min.to_bits(), b.hessian_min.to_bits());
    }
}

#[test]
fn non_convex_solutions_are_stationary_local_minima() {
    let pr = problem(1000, 50, 3);
    for loss in [
        Loss::Huber { a: 0.8 },
        Loss::Tukey { tau: 1.5 },
        Loss::Cauchy { tau: 1.0 },
    ] {
        let lam = 0.2;
        let out = solve(&pr, loss, Constraint::Ridge { lam }, &vec![0.0; pr.d], 2).unwrap();
        assert!(out.converged, "{loss:?}: {}", out.message);
        assert!(out.hessian_min > 0.0, "{loss:?}");
        // no random nearby point does better
        let f = objective(&pr, loss, lam, &out.w);
        assert!((f - out.objective).abs() < 1e-9 * f.abs().max(1.0));
        for k in 0..20 {
            let w: Vec<f64> = out
                .w
                .iter()
                .enumerate()
                .map(|(i, v)| v + 1e-3 * (((i * 7 + k * 13) % 11) as f64 - 5.0))
                .collect();
            assert!(objective(&pr, loss, lam, &w) >= f);
        }
    }
}

#[test]
fn square_loss_beyond_the_spectrum_edge_is_unbounded() {
    let pr = problem(400, 50, 4);
    let ev = gram(&pr).self_adjoint_eigenvalues(Side::Lower).unwrap();
    let edge = -ev[0];
    let ok = solve(
        &pr,
        Loss::Square,
        Constraint::Ridge { lam: 0.8 * edge },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap();
    assert!(ok.converged && ok.hessian_min > 0.0);
    let err = solve(
        &pr,
        Loss::Square,
        Constraint::Ridge { lam: 1.2 * edge },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unbounded below"), "{err}");
}

#[test]
fn negative_ridge_with_a_bounded_loss_diverges_clearly() {
    let pr = problem(400, 50, 5);
    let err = solve(
        &pr,
        Loss::Tukey { tau: 1.0 },
        Constraint::Ridge { lam: -3.0 },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unbounded below"), "{err}");
}

#[test]
fn sphere_constraint_holds_and_matches_the_lagrange_ridge() {
    let pr = problem(600, 40, 6);
    let q = 0.7;
    let w0: Vec<f64> = (0..pr.d).map(|i| ((i as f64) * 0.37).cos()).collect();
    let out = solve(
        &pr,
        Loss::Huber { a: 1.0 },
        Constraint::Sphere { q },
        &w0,
        2,
    )
    .unwrap();
    assert!(out.converged, "{}", out.message);
    let norm2: f64 = out.w.iter().map(|v| v * v).sum::<f64>() / pr.d as f64;
    assert!((norm2 - q).abs() < 1e-12);
    // the ridge at the Lagrange multiplier has the same minimiser (Huber is convex)
    let ridge = solve(
        &pr,
        Loss::Huber { a: 1.0 },
        Constraint::Ridge {
            lam: out.lam_effective,
        },
        &out.w,
        2,
    )
    .unwrap();
    for (a, b) in out.w.iter().zip(&ridge.w) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn saddle_escape_reaches_the_bottom_eigenvector_on_the_sphere() {
    // y = 0: the square loss on the sphere is (1/2) w^T (X^T X/d) w, whose stationary points are
    // the eigenvectors; start exactly at the top one (a maximum: zero gradient)
    let mut pr = problem(300, 30, 7);
    pr.y.iter_mut().for_each(|v| *v = 0.0);
    let g = gram(&pr);
    let eig = g.self_adjoint_eigen(Side::Lower).unwrap();
    let top: Vec<f64> = (0..pr.d).map(|i| eig.U()[(i, pr.d - 1)]).collect();
    let out = solve(&pr, Loss::Square, Constraint::Sphere { q: 1.0 }, &top, 2).unwrap();
    assert!(out.n_restarts >= 1);
    let expected = 0.5 * pr.d as f64 * eig.S()[0];
    assert!(
        (out.objective - expected).abs() < 1e-6 * expected,
        "{} vs {expected}",
        out.objective
    );
    assert!(out.hessian_min > -1e-8);
}

#[test]
fn absolute_loss_matches_iteratively_reweighted_least_squares() {
    let pr = problem(300, 20, 8);
    let lam = 0.1;
    let out = solve(
        &pr,
        Loss::Absolute,
        Constraint::Ridge { lam },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap();
    // IRLS: w = argmin sum r^2 / (2 max(|r_old|, eta)) + lam/2 |w|^2, eta -> 0
    let (n, d) = (pr.n, pr.d);
    let s = (d as f64).sqrt();
    let mut w = vec![0.0; d];
    for it in 0..300 {
        let eta = 1e-9f64.max(10f64.powf(-(it as f64) / 30.0));
        let r: Vec<f64> = (0..n)
            .map(|m| pr.y[m] - (0..d).map(|i| pr.x[m * d + i] * w[i]).sum::<f64>() / s)
            .collect();
        let wt: Vec<f64> = r.iter().map(|v| 1.0 / v.abs().max(eta)).collect();
        let a = Mat::from_fn(d, d, |i, j| {
            (0..n)
                .map(|m| wt[m] * pr.x[m * d + i] * pr.x[m * d + j])
                .sum::<f64>()
                / (s * s)
                + if i == j { lam } else { 0.0 }
        });
        let b = Mat::from_fn(d, 1, |i, _| {
            (0..n)
                .map(|m| wt[m] * pr.x[m * d + i] * pr.y[m])
                .sum::<f64>()
                / s
        });
        let sol = a.llt(Side::Lower).unwrap().solve(&b);
        w = (0..d).map(|i| sol[(i, 0)]).collect();
    }
    let f_irls = objective(&pr, Loss::Absolute, lam, &w);
    let f_erm = objective(&pr, Loss::Absolute, lam, &out.w);
    // The smoothing huber_a/a differs from |r| by a/2 beyond a and less inside, so the smoothed
    // minimiser is suboptimal by at most a/2 per residual that is below a at either point: about
    // (number of interpolated residuals, <= d) x a.
    assert!(
        f_irls <= f_erm + 1e-8 * f_irls,
        "IRLS {f_irls} vs ERM {f_erm}"
    );
    assert!(
        f_erm - f_irls <= d as f64 * ABSOLUTE_SMOOTHING,
        "{f_erm} vs {f_irls}"
    );
    let dw = w
        .iter()
        .zip(&out.w)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        dw < 20.0 * ABSOLUTE_SMOOTHING,
        "max |w_erm - w_irls| = {dw}"
    );
}

#[test]
fn bad_arguments_are_errors() {
    let pr = problem(50, 5, 9);
    let w0 = vec![0.0; pr.d];
    assert!(solve(
        &pr,
        Loss::Square,
        Constraint::Ridge { lam: f64::NAN },
        &w0,
        1
    )
    .is_err());
    assert!(solve(&pr, Loss::Square, Constraint::Sphere { q: 1.0 }, &w0, 1).is_err());
    assert!(solve(
        &pr,
        Loss::Square,
        Constraint::Sphere { q: -1.0 },
        &[1.0; 5],
        1
    )
    .is_err());
    assert!(solve(
        &pr,
        Loss::Square,
        Constraint::Ridge { lam: 1.0 },
        &[0.0; 4],
        1
    )
    .is_err());
}

/// The default (two-pass) weighted Gram product, for comparison with the fused one.
struct TwoPass<'a>(Dense<'a, f64>);

impl crate::linalg::LinearOperator for TwoPass<'_> {
    fn nrows(&self) -> usize {
        self.0.nrows()
    }
    fn ncols(&self) -> usize {
        self.0.ncols()
    }
    fn apply(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.0.apply(pool, x, y)
    }
    fn apply_t(&self, pool: &ThreadPool, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.0.apply_t(pool, x, y)
    }
}

impl Design for TwoPass<'_> {}

#[test]
fn fused_weighted_gram_matches_two_passes_for_any_thread_count() {
    let pr = problem(1500, 70, 10);
    let op = Dense::new(&pr.x, pr.n, pr.d).unwrap();
    let c: Vec<f64> = (0..pr.n).map(|i| ((i as f64) * 0.3).sin()).collect();
    let v: Vec<f64> = (0..pr.d).map(|i| ((i as f64) * 0.7).cos()).collect();
    let mut fused1 = vec![0.0; pr.d];
    let mut fused2 = vec![0.0; pr.d];
    let mut slow = vec![0.0; pr.d];
    op.weighted_gram(&pool(Some(1)).unwrap(), &c, &v, &mut fused1)
        .unwrap();
    op.weighted_gram(&pool(Some(2)).unwrap(), &c, &v, &mut fused2)
        .unwrap();
    TwoPass(op)
        .weighted_gram(&pool(Some(2)).unwrap(), &c, &v, &mut slow)
        .unwrap();
    assert_eq!(fused1, fused2);
    for (a, b) in fused1.iter().zip(&slow) {
        assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()));
    }
    // generic operators run the solver too (two passes per Hessian product)
    let out = erm(
        &pool(Some(2)).unwrap(),
        &TwoPass(op),
        &pr.y,
        Loss::Huber { a: 1.0 },
        Constraint::Ridge { lam: 0.3 },
        &vec![0.0; pr.d],
        ErmOptions::default(),
        &Never,
    )
    .unwrap();
    let fast = solve(
        &pr,
        Loss::Huber { a: 1.0 },
        Constraint::Ridge { lam: 0.3 },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap();
    assert_eq!(out.w, fast.w);
    assert!((out.hessian_min - fast.hessian_min).abs() < 1e-9 * fast.hessian_min);
    let mut short = vec![0.0; 3];
    assert!(op
        .weighted_gram(&pool(Some(1)).unwrap(), &c, &v, &mut short)
        .is_err());
}

/// A classification problem in the residual form of the margin losses: rows `y_mu x_mu` with
/// `y = sign` of the regression label, and labels 0.
fn margin_problem(n: usize, d: usize, seed: u64) -> Problem {
    let mut pr = problem(n, d, seed);
    for m in 0..n {
        let s = if pr.y[m] >= 0.0 { 1.0 } else { -1.0 };
        pr.x[m * d..(m + 1) * d].iter_mut().for_each(|v| *v *= s);
        pr.y[m] = 0.0;
    }
    pr
}

#[test]
fn hinge_loss_matches_dual_coordinate_descent() {
    let pr = margin_problem(300, 30, 4);
    let lam = 0.2;
    let out = solve(
        &pr,
        Loss::Hinge,
        Constraint::Ridge { lam },
        &vec![0.0; pr.d],
        2,
    )
    .unwrap();
    // dual coordinate descent of the SVM (Hsieh et al., ICML 2008, Alg. 1): with
    // a_mu = x_mu/sqrt(d), w = (1/lam) sum alpha_mu a_mu, alpha in [0, 1]
    let (n, d) = (pr.n, pr.d);
    let s = (d as f64).sqrt();
    let (mut alpha, mut w) = (vec![0.0; n], vec![0.0; d]);
    for _ in 0..2000 {
        for m in 0..n {
            let a = &pr.x[m * d..(m + 1) * d];
            let g = a.iter().zip(&w).map(|(x, v)| x * v).sum::<f64>() / s - 1.0;
            let aa = a.iter().map(|x| x * x).sum::<f64>() / (s * s);
            let new = (alpha[m] - lam * g / aa).clamp(0.0, 1.0);
            let delta = (new - alpha[m]) / lam;
            alpha[m] = new;
            w.iter_mut().zip(a).for_each(|(v, x)| *v += delta * x / s);
        }
    }
    let f_dcd = objective(&pr, Loss::Hinge, lam, &w);
    let f_erm = objective(&pr, Loss::Hinge, lam, &out.w);
    // as for the absolute loss: suboptimal by at most a/2 per margin within a of the kink
    assert!(f_dcd <= f_erm + 1e-8 * f_dcd, "DCD {f_dcd} vs ERM {f_erm}");
    assert!(
        f_erm - f_dcd <= d as f64 * ABSOLUTE_SMOOTHING,
        "{f_erm} vs {f_dcd}"
    );
    let dw = w
        .iter()
        .zip(&out.w)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>();
    let ww = w.iter().map(|a| a * a).sum::<f64>();
    assert!(dw <= 1e-4 * ww, "relative distance^2 {}", dw / ww);
}

#[test]
fn smooth_margin_losses_converge_to_a_stationary_point() {
    let pr = margin_problem(400, 40, 5);
    for loss in [Loss::Logistic, Loss::SquareHinge] {
        let out = solve(
            &pr,
            loss,
            Constraint::Ridge { lam: 0.05 },
            &vec![0.0; pr.d],
            2,
        )
        .unwrap();
        assert!(out.converged, "{loss:?}: {}", out.message);
        assert!(out.hessian_min > 0.0, "{loss:?}");
        // thread-count independence
        let one = solve(
            &pr,
            loss,
            Constraint::Ridge { lam: 0.05 },
            &vec![0.0; pr.d],
            1,
        )
        .unwrap();
        assert_eq!(one.w, out.w);
    }
}
