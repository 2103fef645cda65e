//! Matrix sensing: implicit sensing operators ([`operators`]), samplers of the models
//! ([`models`]), matrix GAMP ([`gamp`]) with the RIE denoiser ([`gamp_rie`]) or for
//! nuclear-norm ERM ([`gamp_nuclear`]), and gradient descent on factorised models ([`gd`]).
//! Deterministic parallel matrix products live in [`gemm`].

pub mod fista;
pub mod gamp;
pub mod gamp_nuclear;
pub mod gamp_rie;
pub mod gd;
pub mod gemm;
pub mod models;
pub mod operators;

pub use fista::{nuclear_norm_fista, operator_norm2, FistaOptions, FistaOutput, FistaState};
pub use gamp::{gamp_matrix, GampOptions, GampOutput, OutputChannel};
pub use gamp_nuclear::nuclear_norm_gamp;
pub use gamp_rie::gamp_rie;
pub use gd::{gd, gd_averaged, AveragedOutput, Factors, GdOptions, GdOutput};
pub use operators::{GaussianRect, GaussianSymmetric, Geometry, Quadratic, SensingOperator};

/// Domain tags of the random streams of this module (`rng::domain::FREE + 20..29`; 27-29
/// are used by `rmt::sample`).
pub mod tags {
    use crate::rng::domain::FREE;
    /// Teacher factor `W` or `V`.
    pub const TEACHER: u64 = FREE + 20;
    /// Second teacher factor `U`.
    pub const TEACHER_B: u64 = FREE + 21;
    /// Inputs `x_mu` and regenerated Gaussian sensing matrices.
    pub const DESIGN: u64 = FREE + 22;
    /// Label noise.
    pub const NOISE: u64 = FREE + 23;
    /// Pre-activation noise of the quadratic network.
    pub const PREACTIVATION: u64 = FREE + 24;
    /// Start vector of the power iteration of [`super::fista::operator_norm2`].
    pub const POWER: u64 = FREE + 25;
    /// Random initialisations of gradient descent.
    pub const GD_INIT: u64 = FREE + 26;
}
