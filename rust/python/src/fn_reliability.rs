//! Reliability hooks: the memory probe used before user-sized allocations, and a deliberate
//! panic that tests use to check that every panic becomes `hdcore.InternalError`.

use crate::runtime::{guard, pool, run};
use hdcore_kernels::alloc;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

/// Bytes the process can still allocate (see `hdcore_kernels::alloc::available`), or None.
#[pyfunction]
fn memory_available() -> PyResult<Option<usize>> {
    guard(|| Ok(alloc::available()))
}

/// Panic on purpose (tests only): `where_` is `"binding"` (in the binding code, GIL held),
/// `"kernel"` (inside a kernel run without the GIL) or `"pool"` (inside a thread-pool task).
#[pyfunction]
#[pyo3(name = "_panic_for_test")]
fn panic_for_test(py: Python<'_>, where_: &str) -> PyResult<()> {
    guard(|| match where_ {
        "binding" => panic!("deliberate panic in the binding (test hook)"),
        "kernel" => run(py, |_| -> hdcore_kernels::Result<()> {
            panic!("deliberate panic in a kernel (test hook)")
        }),
        "pool" => {
            let p = pool(Some(2))?;
            run(py, |_| {
                p.install(|| {
                    (0..64).into_par_iter().for_each(|i| {
                        if i == 37 {
                            panic!("deliberate panic in a pool task (test hook)")
                        }
                    })
                });
                Ok(())
            })
        }
        other => Err(PyValueError::new_err(format!(
            "`where_` must be 'binding', 'kernel' or 'pool', got {other:?}"
        ))),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(memory_available, m)?)?;
    m.add_function(wrap_pyfunction!(panic_for_test, m)?)?;
    Ok(())
}
