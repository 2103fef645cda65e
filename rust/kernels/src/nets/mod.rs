//! Two-layer networks `f(x) = a^T sigma(W x)/sqrt(p)` on streamed Gaussian data: the start of a
//! reusable network engine.
//!
//! * [`engine`]: batched forward / backward passes of one row block on faer GEMMs, and
//!   [`engine::StripSum`], a deterministic accumulator of `A^T B` over row blocks (the output
//!   columns are split into fixed strips, each owned by one task, and the blocks are added in
//!   order), so a result is bit-identical for any number of threads.
//! * [`one_step`]: one giant gradient step on the first layer with a fresh batch streamed in
//!   row blocks (Cui et al. 2024, arXiv:2402.04980; Dandi et al. 2024, arXiv:2410.18938).
//! * [`layers`]: forward pass and per-layer gradients of two- and three-layer networks on a
//!   given batch (Dandi, Pesce, Zdeborova & Krzakala 2025, arXiv:2502.13961).
//! * [`ridge`]: a ridge read-out on the features `sigma(W x)` of fresh streamed data, its
//!   train / test errors and the feature covariance.
//!
//! Data: `x ~ N(0, I_d)`, row `mu` of the batch tagged `tag` drawn from the stream
//! `(seed, tag, mu)` (independent of the block size and of the thread count); labels
//! `y = target(<theta, x>) + sqrt(noise) xi` with `xi` from `(seed, tag + 1, mu)`.

pub mod engine;
pub mod layers;
pub mod one_step;
pub mod ridge;

pub use engine::{sphere_rows, Function, StripSum, Teacher};
pub use layers::{network_grad, Layer, Loss, NetOutput};
pub use one_step::{giant_step, StepOutput};
pub use ridge::{ridge_readout, ReadoutOutput};

/// Domain tags of the random streams of this module (`rng::domain::FREE + 80..89`).
pub mod tags {
    use crate::rng::domain::FREE;
    /// Inputs of the giant-step batch (its label noise uses `STEP_X + 1`).
    pub const STEP_X: u64 = FREE + 80;
    /// Training inputs of the ridge read-out (label noise `READOUT_X + 1`).
    pub const READOUT_X: u64 = FREE + 82;
    /// Test inputs of the ridge read-out (label noise unused: test labels are noiseless).
    pub const TEST_X: u64 = FREE + 84;
    /// First-layer weights at initialisation.
    pub const WEIGHTS: u64 = FREE + 86;
    /// Teacher directions.
    pub const TEACHER: u64 = FREE + 87;
}

/// Rows of the input per streamed block (fixed: the blocking never depends on the threads).
pub const BLOCK: usize = 512;
