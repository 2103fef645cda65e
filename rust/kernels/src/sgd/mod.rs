//! One-pass (online) SGD on sequence single-index models and single-layer tied attention
//! (Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651).
//!
//! Every step draws a fresh sample from a keyed stream; no dataset is ever stored. Two modes
//! give the same law of the overlaps:
//!
//! * [`full`]: the `d`-dimensional simulation, one fused pass over the coordinates per step
//!   (apply the previous update, draw the new tokens, project them), `O(B L d)` per step, in
//!   fixed-size coordinate chunks (each with its own stream), parallel over chunks for large `d`
//!   and over independent runs for small `d`;
//! * [`reduced`]: the exact Markov chain of the overlaps `(m, e, q)`: the components of a fresh
//!   sample outside `span(w*, p, w)` enter only through `||sum_j g_j r_j||^2`, which given the
//!   projections is `(|g|^2/d) chi^2_{d - 3}`; `O(B L)` (scalar students) or `O(B L^2)`
//!   (attention) work per step, independent of `d`. The proof is in `docs/online_sgd.md`.
//!
//! Both record the same quantities on a schedule of steps and stop early on a target overlap.

pub mod full;
pub mod functions;
pub mod reduced;

pub use functions::{Activation, Function, Loss, Problem, Readout, Student, Teacher, Work};

use crate::error::{ensure, Result};
use crate::rng::domain;

/// Stream tags of this module (`FREE + 30..39`).
pub mod tags {
    use super::domain::FREE;
    /// Teacher direction `w*`.
    pub const TEACHER: u64 = FREE + 30;
    /// Positional direction `p`.
    pub const POSITIONAL: u64 = FREE + 31;
    /// Initial student.
    pub const INIT: u64 = FREE + 32;
    /// Tokens of the full simulation, keyed `(run, step, chunk)`.
    pub const DATA: u64 = FREE + 33;
    /// Label noise of the full simulation, keyed `(run, step)`.
    pub const NOISE: u64 = FREE + 34;
    /// Everything random in the reduced simulation, keyed `(run, block of steps)`.
    pub const REDUCED: u64 = FREE + 35;
}

/// Settings shared by both modes.
#[derive(Debug, Clone)]
pub struct SgdOptions {
    /// Dimension `d`.
    pub d: u64,
    /// Learning rate `eta` of `w <- w - eta grad_w loss` (time `t = steps/d`).
    pub lr: f64,
    /// Number of SGD steps.
    pub steps: u64,
    /// Mini-batch size `B` (the gradient is the batch average).
    pub batch: usize,
    /// Renormalise the weights to `||W||^2 = K d` after every step.
    pub spherical: bool,
    /// Steps at which to record (sorted, unique, `<= steps`).
    pub record: Vec<u64>,
    /// Stop at the first step whose overlap `|m|` (untied: `sqrt(mean_l m_l^2)`) reaches this.
    pub stop_overlap: Option<f64>,
    /// Initial semantic overlap (`None`: uniform on the sphere).
    pub m0: Option<f64>,
    /// Initial positional overlap (needs `m0`; default 0).
    pub e0: Option<f64>,
}

impl SgdOptions {
    /// Check the settings against `problem`.
    pub fn validate(&self, problem: &Problem) -> Result<()> {
        problem.validate()?;
        ensure(self.d >= 1, "d", || format!("must be >= 1, got {}", self.d))?;
        ensure(self.lr.is_finite() && self.lr >= 0.0, "lr", || {
            format!("must be finite and >= 0, got {}", self.lr)
        })?;
        ensure(self.batch >= 1, "batch", || "must be >= 1".into())?;
        ensure(
            self.record.windows(2).all(|w| w[0] < w[1]),
            "record",
            || "must be strictly increasing".into(),
        )?;
        ensure(
            self.record.last().map_or(true, |&r| r <= self.steps),
            "record",
            || "steps beyond `steps`".into(),
        )?;
        if let Some(s) = self.stop_overlap {
            ensure(s.is_finite(), "stop_overlap", || "must be finite".into())?;
        }
        let m0 = self.m0.unwrap_or(0.0);
        let e0 = self.e0.unwrap_or(0.0);
        ensure(
            m0.is_finite() && e0.is_finite() && m0 * m0 + e0 * e0 <= 1.0,
            "m0",
            || format!("need m0^2 + e0^2 <= 1, got m0={m0}, e0={e0}"),
        )?;
        ensure(
            self.e0.is_none() || problem.positional.is_some(),
            "e0",
            || "needs a positional encoding".into(),
        )?;
        ensure(self.e0.is_none() || self.m0.is_some(), "e0", || {
            "give m0 together with e0".into()
        })?;
        Ok(())
    }
}

/// Trajectory of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    /// Recorded steps (a prefix of the schedule, cut at an early stop).
    pub steps: Vec<u64>,
    /// `m_k = w_k . w*/d` per record, `K` values each (row-major `n_records x K`).
    pub m: Vec<f64>,
    /// Positional overlap `e = w . p/sqrt(d)` per record (0 without encoding).
    pub e: Vec<f64>,
    /// `q = ||W||^2/(K d)` per record (1 for spherical SGD).
    pub q: Vec<f64>,
    /// Mean per-sample training loss over the steps since the previous record (an unbiased
    /// Monte-Carlo estimate of the population loss along the way: every sample is fresh).
    pub loss: Vec<f64>,
    /// Step of the last state (the early stop, or `steps`).
    pub final_step: u64,
    /// Overlaps `m_k` of the last state.
    pub final_m: Vec<f64>,
    /// Positional overlap of the last state.
    pub final_e: f64,
    /// Whether the run stopped on `stop_overlap`.
    pub stopped: bool,
    /// Final weights `K x d` (full mode).
    pub weights: Vec<f64>,
    /// Teacher direction (full mode).
    pub teacher: Vec<f64>,
    /// Unit positional direction (full mode with encoding).
    pub positional: Vec<f64>,
}

/// The overlap that the early stop watches.
pub(crate) fn stop_measure(m: &[f64]) -> f64 {
    if m.len() == 1 {
        m[0].abs()
    } else {
        (m.iter().map(|v| v * v).sum::<f64>() / m.len() as f64).sqrt()
    }
}
