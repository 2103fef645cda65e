//! Threads and random streams.

use crate::runtime::guard;
use crate::runtime::{pool, run};
use hdcore_kernels::rng::fill_standard_normal;
use hdcore_kernels::threads;
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

/// Number of threads used for `n_threads` (explicit, else HDCORE_NUM_THREADS, else all cores).
#[pyfunction]
#[pyo3(signature = (n_threads=None))]
fn resolve_threads(n_threads: Option<usize>) -> PyResult<usize> {
    guard(|| {
        threads::resolve(n_threads).map_err(|e| crate::errors::to_pyerr(e, None))
    })
}

/// `n` i.i.d. N(0,1) draws from the streams `(seed, domain, chunk)`.
#[pyfunction]
#[pyo3(signature = (n, seed, domain=0, n_threads=None))]
fn standard_normal<'py>(
    py: Python<'py>,
    n: usize,
    seed: u64,
    domain: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let p = pool(n_threads)?;
        let out = run(py, |_| {
            let mut v = hdcore_kernels::alloc::zeroed::<f64>("n", n)?;
            fill_standard_normal(&p, seed, domain, &mut v);
            Ok(v)
        })?;
        Ok(out.into_pyarray(py))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(resolve_threads, m)?)?;
    m.add_function(wrap_pyfunction!(standard_normal, m)?)?;
    Ok(())
}
