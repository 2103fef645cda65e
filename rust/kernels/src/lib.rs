//! # hdcore-kernels
//!
//! The numerical core of hdcore, with no Python in it: seeded thread-count-independent random
//! streams ([`rng`]), thread pools ([`threads`]), parallel dense mat-vecs and Lanczos
//! ([`linalg`]), priors and their denoisers ([`priors`]), data generators ([`models`]) and
//! message-passing loops ([`amp`]). Every long loop polls a [`control::Interrupt`].

pub mod alloc;
pub mod amp;
pub mod control;
pub mod erm;
pub mod error;
pub mod glm;
pub mod linalg;
pub mod losses;
pub mod models;
pub mod nets;
pub mod priors;
pub mod rmt;
pub mod rng;
pub mod sensing;
pub mod sgd;
pub mod threads;

pub use error::{KernelError, Result};
