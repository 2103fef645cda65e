//! Prior samplers, denoisers and log-partition functions (vectorised over the field `b`).

use crate::convert::{finite, prior, vector};
use crate::runtime::{pool, run};
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
    let pr = prior(name, rho)?;
    let p = pool(n_threads)?;
    let v = run(py, |_| {
        let mut v = vec![0.0; n];
        pr.sample(&p, seed, domain, &mut v);
        Ok(v)
    })?;
    Ok(v.into_pyarray(py))
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
    let pr = prior(name, rho)?;
    let a = finite(a, "a", 0.0)?;
    let p = pool(n_threads)?;
    let b = vector::<f64>(&p, b, "b")?;
    let bs = b.as_slice()?;
    let (m, v) = run(py, |_| {
        let (mut m, mut v) = (vec![0.0; bs.len()], vec![0.0; bs.len()]);
        pr.denoise(&p, bs, a, &mut m, &mut v)?;
        Ok((m, v))
    })?;
    Ok((m.into_pyarray(py), v.into_pyarray(py)))
}

/// Elementwise `log E_P exp(b x - a x^2/2)`.
#[pyfunction]
#[pyo3(signature = (name, b, a, *, rho=None))]
fn prior_log_partition<'py>(
    py: Python<'py>,
    name: &str,
    b: &Bound<'py, PyAny>,
    a: f64,
    rho: Option<f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let pr = prior(name, rho)?;
    let a = finite(a, "a", 0.0)?;
    let p = pool(None)?;
    let b = vector::<f64>(&p, b, "b")?;
    let bs = b.as_slice()?;
    let out = run(py, |_| {
        Ok(bs
            .iter()
            .map(|&x| pr.log_partition(x, a))
            .collect::<Vec<f64>>())
    })?;
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prior_sample, m)?)?;
    m.add_function(wrap_pyfunction!(prior_denoise, m)?)?;
    m.add_function(wrap_pyfunction!(prior_log_partition, m)?)?;
    Ok(())
}
