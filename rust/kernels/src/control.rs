//! Cooperative cancellation: long loops poll an [`Interrupt`] between iterations.
//!
//! Kernels call [`Interrupt::check`] only from the thread that invoked them (never from inside a
//! rayon worker), so an implementation may talk to the host runtime (e.g. Python's signal
//! handlers, which only run on the main thread).

use crate::error::{KernelError, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Something that can ask a running kernel to stop.
pub trait Interrupt {
    /// `Err(KernelError::Interrupted)` if the kernel must stop now.
    fn check(&self) -> Result<()>;
}

/// Never interrupts (pure-Rust callers, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct Never;

impl Interrupt for Never {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// Interrupts once a flag is raised (from another thread, a signal handler, a test).
#[derive(Debug, Default)]
pub struct Flag(pub AtomicBool);

impl Flag {
    /// Raise the flag: the next [`Interrupt::check`] fails.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Interrupt for Flag {
    fn check(&self) -> Result<()> {
        if self.0.load(Ordering::Relaxed) {
            Err(KernelError::Interrupted)
        } else {
            Ok(())
        }
    }
}
