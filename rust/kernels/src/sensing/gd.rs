//! Full-batch gradient descent on a factorised model of the matrix, `S = W^T W / m`
//! (symmetric, spectral units) or `S = V U / sqrt(r)` (rectangular, entry units), on the loss
//! `L = (1/2n) sum_mu (y_mu - <A_mu, S>)^2` (plus an L2 penalty whose gradient step is the
//! decay `factors <- (1 - lr weight_decay) factors`).
//!
//! A step that increases the objective is undone and retried with half the learning rate
//! (backtracking); otherwise this is plain full-batch GD. Step sizes are dimensionless: the gradient is multiplied by `m n / (2 field_gain)`
//! (symmetric) or `n / field_gain` (rectangular), so that one step moves `S` by `O(lr)` times
//! the residual `S* - S` whatever `d` and `alpha` (e.g. symmetric: `W <- W + lr W (S* - S)` in
//! the population limit). Averaged GD runs several initialisations on the same data and
//! averages the estimates `S` (Maillard et al. 2024; Erba et al. 2024): in the noiseless case
//! it approaches the Bayes-optimal error.

use super::gemm;
use super::operators::SensingOperator;
use super::tags;
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::rmt::sample::gaussian_matrix_keyed;
use rayon::ThreadPool;

/// The factors of a model and their shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Factors {
    /// `W` (`m x d`), `S = W^T W / m`.
    Symmetric { w: Vec<f64>, m: usize, d: usize },
    /// `V` (`rows x r`), `U` (`r x cols`), `S = V U / sqrt(r)`.
    Product {
        v: Vec<f64>,
        u: Vec<f64>,
        rows: usize,
        r: usize,
        cols: usize,
    },
}

impl Factors {
    /// Gaussian factors with entries `N(0, scale^2)` from the streams `(seed, GD_INIT, run, factor, row)`.
    #[allow(clippy::too_many_arguments)]
    pub fn gaussian(
        pool: &ThreadPool,
        symmetric: bool,
        rows: usize,
        cols: usize,
        width: usize,
        scale: f64,
        seed: u64,
        run: u64,
    ) -> Self {
        let mut a = gaussian_matrix_keyed(
            pool,
            width,
            if symmetric { cols } else { rows },
            seed,
            &[tags::GD_INIT, run, 0],
        );
        a.iter_mut().for_each(|x| *x *= scale);
        if symmetric {
            Factors::Symmetric {
                w: a,
                m: width,
                d: cols,
            }
        } else {
            // a is width x rows: store V = a^T (rows x width)
            let v = (0..rows * width)
                .map(|k| a[(k % width) * rows + k / width])
                .collect();
            let mut u = gaussian_matrix_keyed(pool, width, cols, seed, &[tags::GD_INIT, run, 1]);
            u.iter_mut().for_each(|x| *x *= scale);
            Factors::Product {
                v,
                u,
                rows,
                r: width,
                cols,
            }
        }
    }

    /// The matrix `S` of the factors.
    pub fn matrix(&self, pool: &ThreadPool) -> Vec<f64> {
        match self {
            Factors::Symmetric { w, m, d } => {
                let mut s = gemm::at_diag_a(pool, w, &vec![1.0; *m], *m, *d);
                let inv = 1.0 / *m as f64;
                s.iter_mut().for_each(|x| *x *= inv);
                s
            }
            Factors::Product {
                v,
                u,
                rows,
                r,
                cols,
            } => {
                let mut s = gemm::a_b(pool, v, u, *rows, *r, *cols);
                let inv = 1.0 / (*r as f64).sqrt();
                s.iter_mut().for_each(|x| *x *= inv);
                s
            }
        }
    }

    fn norm2(&self) -> f64 {
        match self {
            Factors::Symmetric { w, .. } => w.iter().map(|x| x * x).sum(),
            Factors::Product { v, u, .. } => v.iter().chain(u.iter()).map(|x| x * x).sum(),
        }
    }
}

/// Settings of [`gd`].
#[derive(Debug, Clone, Copy)]
pub struct GdOptions {
    /// Dimensionless learning rate.
    pub lr: f64,
    /// Maximal number of steps.
    pub n_steps: usize,
    /// Stop when the training loss falls below `tol`.
    pub tol: f64,
    /// Weight decay: each step multiplies the factors by `1 - lr weight_decay`.
    pub weight_decay: f64,
    /// Record loss and error every this many steps.
    pub record_every: usize,
}

/// One GD run.
#[derive(Debug, Clone, Default)]
pub struct GdOutput {
    /// Final `S`.
    pub estimate: Vec<f64>,
    /// Steps at which the traces were recorded.
    pub steps: Vec<usize>,
    /// Training loss `(1/2n) sum r^2` at the recorded steps.
    pub loss: Vec<f64>,
    /// `||S - S*||^2 / units` at the recorded steps (needs the truth).
    pub mse: Vec<f64>,
    /// Steps performed.
    pub n_steps: usize,
    /// Whether the loss fell below `tol`.
    pub converged: bool,
    /// Learning rate after backtracking.
    pub final_lr: f64,
}

fn units(op: &dyn SensingOperator) -> f64 {
    if op.symmetric() {
        op.rows() as f64
    } else {
        (op.rows() * op.cols()) as f64
    }
}

/// Gradient descent from `factors` (updated in place).
pub fn gd<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    factors: &mut Factors,
    truth: Option<&[f64]>,
    opts: GdOptions,
    ctl: &I,
) -> Result<GdOutput>
where
    I: Interrupt + ?Sized,
{
    let (n, rows, cols) = (op.n_samples(), op.rows(), op.cols());
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected {n}", y.len())
    })?;
    ensure(opts.lr.is_finite() && opts.lr > 0.0, "lr", || {
        format!("must be finite and > 0, got {}", opts.lr)
    })?;
    ensure(
        opts.weight_decay.is_finite() && opts.weight_decay >= 0.0,
        "weight_decay",
        || format!("must be finite and >= 0, got {}", opts.weight_decay),
    )?;
    match factors {
        Factors::Symmetric { d, .. } => ensure(op.symmetric() && *d == rows, "factors", || {
            "symmetric factors need a symmetric operator of the same size".into()
        })?,
        Factors::Product {
            rows: r0, cols: c0, ..
        } => ensure(
            !op.symmetric() && *r0 == rows && *c0 == cols,
            "factors",
            || "product factors need a rectangular operator of the same shape".into(),
        )?,
    }
    if let Some(t) = truth {
        ensure(t.len() == rows * cols, "truth", || {
            format!("has {} entries, expected {rows} x {cols}", t.len())
        })?;
    }
    let geo = op.geometry();
    let u_norm = units(op);
    let mut out = GdOutput::default();
    let mut h = crate::alloc::zeroed::<f64>("n", n)?;
    let mut grad_s = crate::alloc::zeroed::<f64>("d", crate::alloc::count("d", &[rows, cols])?)?;
    let every = opts.record_every.max(1);
    let mut lr = opts.lr;
    // dimensionless learning rate -> step on the factors (see the module docs)
    let step_scale = match factors {
        Factors::Symmetric { m, .. } => *m as f64 * n as f64 / (2.0 * geo.field_gain),
        Factors::Product { .. } => n as f64 / geo.field_gain,
    };
    let mut previous: Option<(Factors, f64)> = None;
    let mut step = 0;
    while step <= opts.n_steps {
        ctl.check()?;
        let s = factors.matrix(pool);
        op.forward(pool, &s, &mut h)?;
        let mut loss = 0.0;
        for mu in 0..n {
            h[mu] = y[mu] - h[mu]; // residual r
            loss += h[mu] * h[mu];
        }
        loss /= 2.0 * n as f64;
        // the penalty whose gradient step is the decay W <- (1 - lr weight_decay) W
        let objective = loss + 0.5 * opts.weight_decay * factors.norm2() / step_scale;
        // Backtracking: a step that increases the objective is undone and retried with half
        // the learning rate (plain GD otherwise).
        if let Some((prev, prev_obj)) = &previous {
            // "not <=" so that a NaN objective also counts as an increase
            let increased = !matches!(
                objective.partial_cmp(&(*prev_obj * (1.0 + 1e-12))),
                Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
            );
            if increased {
                *factors = prev.clone();
                lr *= 0.5;
                previous = None;
                if lr < opts.lr * 1e-12 {
                    return Err(KernelError::Numerical {
                        what: "gd",
                        reason: format!("no descent step found at step {step}"),
                    });
                }
                continue;
            }
        }
        if !loss.is_finite() {
            return Err(KernelError::Numerical {
                what: "gd",
                reason: format!("the loss is not finite at step {step}"),
            });
        }
        let done = loss < opts.tol || step == opts.n_steps;
        if step % every == 0 || done {
            out.steps.push(step);
            out.loss.push(objective);
            if let Some(t) = truth {
                out.mse
                    .push(s.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / u_norm);
            }
        }
        if done {
            out.converged = loss < opts.tol;
            out.estimate = s;
            out.n_steps = step;
            out.final_lr = lr;
            break;
        }
        previous = Some((factors.clone(), objective));
        step += 1;
        // dL/dS = -(1/n) sum r A  (times the dimensionless scale below)
        op.adjoint(pool, &h, &mut grad_s)?;
        match factors {
            Factors::Symmetric { w, m, d } => {
                // dL/dW = (2/m) W dL/dS; scale m n / (2 field_gain)
                let scale = lr * step_scale * (2.0 / *m as f64) / n as f64;
                let wg = gemm::a_b(pool, w, &grad_s, *m, *d, *d);
                let decay = 1.0 - lr * opts.weight_decay;
                for (wi, gi) in w.iter_mut().zip(&wg) {
                    *wi = decay * *wi + scale * gi;
                }
            }
            Factors::Product {
                v,
                u,
                rows,
                r,
                cols,
            } => {
                // dL/dV = dL/dS U^T / sqrt(r), dL/dU = V^T dL/dS / sqrt(r); scale n / field_gain
                let scale = lr * step_scale / n as f64 / (*r as f64).sqrt();
                let ut: Vec<f64> = (0..*cols * *r)
                    .map(|k| u[(k % *r) * *cols + k / *r])
                    .collect();
                let gv = gemm::a_b(pool, &grad_s, &ut, *rows, *cols, *r);
                let gu = gemm::at_b(pool, v, &grad_s, *rows, *r, *cols);
                let decay = 1.0 - lr * opts.weight_decay;
                for (vi, gi) in v.iter_mut().zip(&gv) {
                    *vi = decay * *vi + scale * gi;
                }
                for (ui, gi) in u.iter_mut().zip(&gu) {
                    *ui = decay * *ui + scale * gi;
                }
            }
        }
    }
    Ok(out)
}

/// Output of [`gd_averaged`].
#[derive(Debug, Clone, Default)]
pub struct AveragedOutput {
    /// Mean of the final estimates.
    pub estimate: Vec<f64>,
    /// Final `||S_k - S*||^2 / units` of each run (needs the truth).
    pub run_mse: Vec<f64>,
    /// Final training loss of each run.
    pub run_loss: Vec<f64>,
    /// Steps of each run.
    pub run_steps: Vec<usize>,
    /// `||mean - S*||^2 / units` after averaging the first k + 1 runs (needs the truth).
    pub averaged_mse: Vec<f64>,
}

/// `n_inits` GD runs from Gaussian factors of width `width` (entries `N(0, init_scale^2)`,
/// run `k` from the streams `(seed, GD_INIT, k, .)`), averaged.
#[allow(clippy::too_many_arguments)]
pub fn gd_averaged<I>(
    pool: &ThreadPool,
    op: &dyn SensingOperator,
    y: &[f64],
    width: usize,
    n_inits: usize,
    init_scale: f64,
    seed: u64,
    truth: Option<&[f64]>,
    opts: GdOptions,
    ctl: &I,
) -> Result<AveragedOutput>
where
    I: Interrupt + ?Sized,
{
    ensure(width > 0, "width", || "must be at least 1".into())?;
    ensure(n_inits > 0, "n_inits", || "must be at least 1".into())?;
    ensure(
        init_scale.is_finite() && init_scale > 0.0,
        "init_scale",
        || format!("must be finite and > 0, got {init_scale}"),
    )?;
    let (rows, cols) = (op.rows(), op.cols());
    crate::alloc::reserve::<f64>("d", &[2, rows, cols])?;
    let u_norm = units(op);
    let mut out = AveragedOutput {
        estimate: vec![0.0; rows * cols],
        ..Default::default()
    };
    let mut sum = vec![0.0; rows * cols];
    for run in 0..n_inits {
        let mut f = Factors::gaussian(
            pool,
            op.symmetric(),
            rows,
            cols,
            width,
            init_scale,
            seed,
            run as u64,
        );
        let r = gd(
            pool,
            op,
            y,
            &mut f,
            truth,
            GdOptions {
                record_every: opts.n_steps.max(1),
                ..opts
            },
            ctl,
        )?;
        for (a, b) in sum.iter_mut().zip(&r.estimate) {
            *a += b;
        }
        out.run_loss.push(*r.loss.last().unwrap_or(&f64::NAN));
        out.run_steps.push(r.n_steps);
        if let Some(t) = truth {
            out.run_mse.push(*r.mse.last().unwrap_or(&f64::NAN));
            let k = (run + 1) as f64;
            out.averaged_mse.push(
                sum.iter()
                    .zip(t)
                    .map(|(a, b)| (a / k - b) * (a / k - b))
                    .sum::<f64>()
                    / u_norm,
            );
        }
    }
    let k = n_inits as f64;
    out.estimate = sum.into_iter().map(|a| a / k).collect();
    Ok(out)
}
