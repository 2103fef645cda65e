//! Running a kernel from Python: release the GIL, poll for Ctrl-C, catch panics, map errors.

use crate::errors::{to_pyerr, InternalError};
use hdcore_kernels::control::Interrupt;
use hdcore_kernels::threads;
use hdcore_kernels::threads::ThreadPool;
use hdcore_kernels::{KernelError, Result as KResult};
use pyo3::prelude::*;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polls Python's signal handlers at most every 50 ms (re-acquiring the GIL briefly).
pub struct PyInterrupt {
    last: Cell<Instant>,
    pending: RefCell<Option<PyErr>>,
}

impl PyInterrupt {
    fn new() -> Self {
        Self {
            last: Cell::new(Instant::now()),
            pending: RefCell::new(None),
        }
    }
}

impl Interrupt for PyInterrupt {
    fn check(&self) -> KResult<()> {
        if self.last.get().elapsed() < Duration::from_millis(50) {
            return Ok(());
        }
        self.last.set(Instant::now());
        Python::attach(|py| py.check_signals()).map_err(|e| {
            *self.pending.borrow_mut() = Some(e);
            KernelError::Interrupted
        })
    }
}

/// The thread pool for a user's `n_threads` argument.
pub fn pool(n_threads: Option<usize>) -> PyResult<Arc<ThreadPool>> {
    threads::pool(n_threads).map_err(|e| to_pyerr(e, None))
}

/// Run `f` without the GIL; Ctrl-C, kernel errors and panics come back as Python exceptions.
pub fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&PyInterrupt) -> KResult<T> + Send,
{
    let (res, pending) = py.detach(|| {
        let ctl = PyInterrupt::new();
        let r = catch_unwind(AssertUnwindSafe(|| f(&ctl)));
        (r, ctl.pending.into_inner())
    });
    match res {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_pyerr(e, pending)),
        Err(panic) => Err(panic_error(panic)),
    }
}

/// The `hdcore.InternalError` of a caught panic (its message, if it has one).
fn panic_error(panic: Box<dyn std::any::Any + Send>) -> PyErr {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    InternalError::new_err(format!(
        "internal error in the Rust core (please report): {msg}"
    ))
}

/// The body of every `#[pyfunction]`: a panic anywhere in it (conversion, validation, a kernel
/// run with or without [`run`]) becomes `hdcore.InternalError` instead of PyO3's
/// `PanicException` (a `BaseException` that `except Exception` would not catch).
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p)))
}

/// Fail with `MemoryError` (or `ValueError` on overflow) unless the buffers of one request,
/// `(argument, bytes)` with bytes from [`hdcore_kernels::alloc::bytes`], fit in memory. The
/// total is named after the first argument.
pub fn ensure_fits(parts: &[(&'static str, KResult<usize>)]) -> PyResult<()> {
    use hdcore_kernels::alloc;
    let mut sizes = Vec::with_capacity(parts.len());
    for (_, b) in parts {
        sizes.push(b.clone().map_err(|e| to_pyerr(e, None))?);
    }
    let name = parts.first().map_or("size", |p| p.0);
    let total = alloc::total(name, &sizes).map_err(|e| to_pyerr(e, None))?;
    alloc::ensure_fits(name, total).map_err(|e| to_pyerr(e, None))
}

/// Run `body` with a product `y = op(x)` that calls the Python callable `op` (the GIL stays
/// held: every product calls back into Python). The output of `op` is converted by
/// `convert(out) -> y`; an exception raised by `op` or by the conversion, or Ctrl-C, aborts
/// the kernel and is re-raised as it was.
pub fn with_callable<'py, T>(
    py: Python<'py>,
    op: &Bound<'py, PyAny>,
    convert: impl Fn(&Bound<'py, PyAny>, &mut [f64]) -> PyResult<()>,
    body: impl FnOnce(&mut dyn FnMut(&[f64], &mut [f64]) -> KResult<()>) -> KResult<T>,
) -> PyResult<T> {
    use numpy::IntoPyArray;
    let mut err: Option<PyErr> = None;
    let mut f = |x: &[f64], y: &mut [f64]| -> KResult<()> {
        let res = (|| -> PyResult<()> {
            let out = op.call1((x.to_vec().into_pyarray(py),))?;
            convert(&out, y)?;
            py.check_signals()
        })();
        res.map_err(|e| {
            err = Some(e);
            KernelError::Interrupted
        })
    };
    match body(&mut f) {
        Ok(v) => Ok(v),
        Err(KernelError::Interrupted) => Err(err.unwrap_or_else(|| {
            pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")
        })),
        Err(e) => Err(to_pyerr(e, None)),
    }
}

/// A zero-filled float64 buffer of the checked size `dims` for the argument `name` (inside
/// [`run`]: `ValueError` on overflow, `MemoryError` if it does not fit, never an abort).
pub fn zeros(name: &'static str, dims: &[usize]) -> KResult<Vec<f64>> {
    use hdcore_kernels::alloc;
    alloc::zeroed(name, alloc::count(name, dims)?)
}
