//! Random-matrix toolbox: limiting spectral laws with algebraic Stieltjes transforms
//! ([`laws`]), dense eigendecomposition / SVD ([`eig`]), empirical Stieltjes transforms
//! ([`empirical`]), rotationally invariant estimators and denoising MMSEs ([`rie`]), spectral
//! functions with their divergence ([`spectral_fn`]), the input denoisers of matrix message
//! passing ([`denoiser`]), and samplers of the random matrices whose spectra follow the laws
//! ([`sample`]).
//!
//! The Python package `hdcore.rmt` wraps these routines; the generic free convolution by
//! subordination (for user-given laws) lives in Python.

pub mod denoiser;
pub mod edges;
pub mod eig;
pub mod empirical;
pub mod laws;
pub mod poly;
pub mod rie;
pub mod sample;
pub mod spectral_fn;

pub use denoiser::{MatrixDenoiser, SoftThreshold};
pub use laws::{Law, Quadrature};
pub use rie::{rie_rectangular, rie_symmetric, Hilbert, RieOutput, SpectralPrior};
