//! Error type of the kernels crate. The binding layer maps each variant to a Python exception.

/// Everything that can go wrong inside a kernel.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum KernelError {
    /// An argument is outside its domain (shape mismatch, negative size, ...).
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// The caller asked to stop (Ctrl-C); the binding re-raises the pending Python exception.
    #[error("interrupted")]
    Interrupted,
    /// An iterative method did not reach its tolerance.
    #[error("{what} did not converge after {iterations} iterations (residual {residual:.3e})")]
    NotConverged {
        what: &'static str,
        iterations: usize,
        residual: f64,
    },
    /// A numerical breakdown (NaN produced, singular system, ...).
    #[error("numerical failure in {what}: {reason}")]
    Numerical { what: &'static str, reason: String },
    /// A buffer sized by argument `name` does not fit in the memory left (see [`crate::alloc`]).
    #[error("`{name}` asks for {} but only {} are available", human_bytes(*needed), human_bytes(*available))]
    OutOfMemory {
        name: &'static str,
        needed: usize,
        available: usize,
    },
}

/// `1234567` -> `"1234567 bytes (1.23 MB)"`.
pub fn human_bytes(b: usize) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut unit = "";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    if unit.is_empty() {
        format!("{b} bytes")
    } else {
        format!("{b} bytes ({v:.3} {unit})")
    }
}

/// Result alias of the kernels crate.
pub type Result<T> = std::result::Result<T, KernelError>;

/// Shorthand for [`KernelError::InvalidArgument`].
pub fn invalid(name: &'static str, reason: impl Into<String>) -> KernelError {
    KernelError::InvalidArgument {
        name,
        reason: reason.into(),
    }
}

/// Fail with [`KernelError::InvalidArgument`] unless `cond` holds.
pub fn ensure(cond: bool, name: &'static str, reason: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(invalid(name, reason()))
    }
}

/// Fail unless a slice argument has the expected length.
pub fn ensure_len(len: usize, expected: usize, name: &'static str) -> Result<()> {
    ensure(len == expected, name, || {
        format!("has length {len}, expected {expected}")
    })
}
