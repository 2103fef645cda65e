//! AMP loops for the spiked models.

use crate::convert::{finite, opt_slice, opt_vector, prior, vector, MatrixArg};
use crate::runtime::guard;
use crate::runtime::{pool, run};
use hdcore_kernels::amp::{
    amp_wigner as k_wigner, amp_wishart as k_wishart, AmpOptions, AmpOutput,
};
use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn opts(n_iter: usize, damping: f64, tol: f64) -> PyResult<AmpOptions> {
    if !(0.0..1.0).contains(&damping) {
        return Err(PyValueError::new_err(format!(
            "`damping` must be in [0, 1), got {damping}"
        )));
    }
    Ok(AmpOptions {
        n_iter,
        damping,
        tol: finite(tol, "tol", 0.0)?,
    })
}

fn to_dict<'py>(py: Python<'py>, o: AmpOutput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("estimate", o.estimate.into_pyarray(py))?;
    d.set_item("variance", o.variance.into_pyarray(py))?;
    d.set_item("latent", o.latent.into_pyarray(py))?;
    d.set_item("overlap", o.overlap.into_pyarray(py))?;
    d.set_item("q", o.q.into_pyarray(py))?;
    d.set_item("overlap_latent", o.overlap_latent.into_pyarray(py))?;
    d.set_item("delta", o.delta.into_pyarray(py))?;
    d.set_item("n_iter", o.n_iter)?;
    d.set_item("converged", o.converged)?;
    Ok(d)
}

/// Bayes AMP for the spiked Wigner model.
#[pyfunction]
#[pyo3(signature = (y, snr, prior_name, x0, *, rho=None, truth=None, packed_n=None, n_iter=100, damping=0.0, tol=1e-12, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn amp_wigner<'py>(
    py: Python<'py>,
    y: &Bound<'py, PyAny>,
    snr: f64,
    prior_name: &str,
    x0: &Bound<'py, PyAny>,
    rho: Option<f64>,
    truth: Option<&Bound<'py, PyAny>>,
    packed_n: Option<usize>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pr = prior(prior_name, rho)?;
        let snr = finite(snr, "snr", 0.0)?;
        let o = opts(n_iter, damping, tol)?;
        let p = pool(n_threads)?;
        let ym = MatrixArg::extract_sym(&p, y, packed_n, "y")?;
        ym.check_symmetric(&p, "y")?;
        let x0 = vector::<f64>(&p, x0, "x0")?;
        let truth = opt_vector(&p, truth, "truth")?;
        let (x0s, ts) = (x0.as_slice()?, opt_slice(&truth)?);
        let op = ym.operator()?;
        let op = &*op;
        let out = run(py, |ctl| k_wigner(&p, op, snr, &pr, x0s, ts, o, ctl))?;
        to_dict(py, out)
    })
}

/// Bayes AMP for the spiked covariance model (`x` is the `n x d` data matrix).
#[pyfunction]
#[pyo3(signature = (x, beta, prior_name, u0, *, rho=None, truth_u=None, truth_v=None, n_iter=100, damping=0.0, tol=1e-12, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn amp_wishart<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    beta: f64,
    prior_name: &str,
    u0: &Bound<'py, PyAny>,
    rho: Option<f64>,
    truth_u: Option<&Bound<'py, PyAny>>,
    truth_v: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pr = prior(prior_name, rho)?;
        let beta = finite(beta, "beta", 0.0)?;
        let o = opts(n_iter, damping, tol)?;
        let p = pool(n_threads)?;
        let xm = MatrixArg::extract(&p, x, None, "x")?;
        let u0 = vector::<f64>(&p, u0, "u0")?;
        let tu = opt_vector(&p, truth_u, "truth_u")?;
        let tv = opt_vector(&p, truth_v, "truth_v")?;
        let (u0s, tus, tvs) = (u0.as_slice()?, opt_slice(&tu)?, opt_slice(&tv)?);
        let op = xm.operator()?;
        let op = &*op;
        let out = run(py, |ctl| {
            k_wishart(&p, op, beta, &pr, u0s, tus, tvs, o, ctl)
        })?;
        to_dict(py, out)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(amp_wigner, m)?)?;
    m.add_function(wrap_pyfunction!(amp_wishart, m)?)?;
    Ok(())
}
