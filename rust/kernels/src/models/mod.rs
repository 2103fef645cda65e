//! Data generators with a planted truth.

pub mod spiked;
