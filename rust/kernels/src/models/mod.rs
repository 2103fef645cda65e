//! Data generators with a planted truth.

pub mod regression;
pub mod matrix_tensor;
pub mod spiked;
