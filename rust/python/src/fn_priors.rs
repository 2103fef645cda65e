//! Prior samplers, denoisers and log-partition functions (vectorised over the field `b`).

use crate::runtime::guard;
use crate::runtime::zeros;
use crate::convert::{finite, prior, vector};
use crate::runtime::{pool, run};
use hdcore_kernels::priors::{log_partition_many, mean_var_many};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;

/// `n` draws from a built-in prior (streams `(seed, domain, chunk)`).
#[pyfunction]
#[pyo3(signature = (name, n, seed, *, rho=None, domain=1, n_threads=None))]
fn prior_sample<'py>(
    py: Python<'py>,
    name: &str,
    n: usize,
    seed: u64,
    rho: Option<f64>,
    domain: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let pr = prior(name, rho)?;
        let p = pool(n_threads)?;
        let v = run(py, |_| {
            let mut v = hdcore_kernels::alloc::zeroed::<f64>("n", n)?;
            pr.sample(&p, seed, domain, &mut v);
            Ok(v)
        })?;
        Ok(v.into_pyarray(py))
    })
}

type ArrayPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);

/// Posterior means and variances (denoiser derivatives) at field `b` and precision `a`.
#[pyfunction]
#[pyo3(signature = (name, b, a, *, rho=None, n_threads=None))]
fn prior_denoise<'py>(
    py: Python<'py>,
    name: &str,
    b: &Bound<'py, PyAny>,
    a: f64,
    rho: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<ArrayPair<'py>> {
    guard(|| {
        let pr = prior(name, rho)?;
        let a = finite(a, "a", 0.0)?;
        let p = pool(n_threads)?;
        let b = vector::<f64>(&p, b, "b")?;
        let bs = b.as_slice()?;
        let (m, v) = run(py, |_| {
            let (mut m, mut v) = (zeros("b", &[bs.len()])?, zeros("b", &[bs.len()])?);
            pr.denoise(&p, bs, a, &mut m, &mut v)?;
            Ok((m, v))
        })?;
        Ok((m.into_pyarray(py), v.into_pyarray(py)))
    })
}

fn same_len(b: &[f64], a: &[f64]) -> PyResult<()> {
    if b.len() != a.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "`a` has length {}, expected {} (one precision per field entry)",
            a.len(),
            b.len()
        )));
    }
    if let Some(v) = a.iter().find(|v| **v < 0.0) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "`a` must be >= 0, got {v}"
        )));
    }
    Ok(())
}

/// Elementwise posterior means and variances at fields `b[i]` and precisions `a[i]`
/// (separable priors; the spherical prior uses its Gaussian asymptote). Used by the theory to
/// integrate the denoiser over many channels at once.
#[pyfunction]
#[pyo3(signature = (name, b, a, *, rho=None, n_threads=None))]
fn prior_mean_var<'py>(
    py: Python<'py>,
    name: &str,
    b: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    rho: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<ArrayPair<'py>> {
    guard(|| {
        let pr = prior(name, rho)?;
        let p = pool(n_threads)?;
        let b = vector::<f64>(&p, b, "b")?;
        let a = vector::<f64>(&p, a, "a")?;
        let (bs, as_) = (b.as_slice()?, a.as_slice()?);
        same_len(bs, as_)?;
        let (m, v) = run(py, |_| Ok(mean_var_many(&p, &pr, bs, as_)))?;
        Ok((m.into_pyarray(py), v.into_pyarray(py)))
    })
}

/// Elementwise `log E_P exp(b[i] x - a[i] x^2/2)`.
#[pyfunction]
#[pyo3(signature = (name, b, a, *, rho=None))]
fn prior_log_partition<'py>(
    py: Python<'py>,
    name: &str,
    b: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    rho: Option<f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let pr = prior(name, rho)?;
        let p = pool(None)?;
        let b = vector::<f64>(&p, b, "b")?;
        let a = vector::<f64>(&p, a, "a")?;
        let (bs, as_) = (b.as_slice()?, a.as_slice()?);
        same_len(bs, as_)?;
        let out = run(py, |_| Ok(log_partition_many(&p, &pr, bs, as_)))?;
        Ok(out.into_pyarray(py))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prior_mean_var, m)?)?;
    m.add_function(wrap_pyfunction!(prior_sample, m)?)?;
    m.add_function(wrap_pyfunction!(prior_denoise, m)?)?;
    m.add_function(wrap_pyfunction!(prior_log_partition, m)?)?;
    Ok(())
}
