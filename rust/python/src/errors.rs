//! Python exceptions of hdcore and the mapping of kernel errors onto them.

use hdcore_kernels::KernelError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::PyErr;

create_exception!(
    _core,
    HdcoreError,
    PyException,
    "Base class of hdcore's errors."
);
create_exception!(
    _core,
    ConvergenceError,
    HdcoreError,
    "An iterative method did not converge."
);
create_exception!(
    _core,
    NumericalError,
    HdcoreError,
    "A numerical breakdown (NaN, singular system, ...)."
);
create_exception!(
    _core,
    InternalError,
    HdcoreError,
    "A bug in hdcore's Rust core (a caught panic); please report it with the message."
);

/// Convert a kernel error; `pending` is the Python exception raised during an interrupt check.
pub fn to_pyerr(err: KernelError, pending: Option<PyErr>) -> PyErr {
    match err {
        KernelError::InvalidArgument { .. } => PyValueError::new_err(err.to_string()),
        KernelError::Interrupted => {
            pending.unwrap_or_else(|| PyKeyboardInterrupt::new_err("interrupted"))
        }
        KernelError::NotConverged { .. } => ConvergenceError::new_err(err.to_string()),
        KernelError::Numerical { .. } => NumericalError::new_err(err.to_string()),
        KernelError::OutOfMemory { .. } => PyMemoryError::new_err(err.to_string()),
    }
}
