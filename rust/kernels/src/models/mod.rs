//! Data generators with a planted truth.

pub mod regression;
pub mod spiked;
