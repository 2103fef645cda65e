//! Two-layer networks on streamed Gaussian data: initial weights, the giant gradient step and
//! the ridge read-out (`hdcore_kernels::nets`).

use crate::convert::{finite, vector};
use crate::errors::to_pyerr;
use crate::fn_rmt::{matrix64, to_array2};
use crate::runtime::{ensure_fits, guard, pool, run, zeros};
use hdcore_kernels::alloc::bytes;
use hdcore_kernels::nets::{
    giant_step, ridge_readout, sphere_rows, tags, Function, Teacher, BLOCK,
};
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

type Mat<'py> = Bound<'py, PyArray2<f64>>;
type Vec1<'py> = Bound<'py, PyArray1<f64>>;

fn function(name: &str, what: &'static str) -> PyResult<Function> {
    Function::parse(name, what).map_err(|e| to_pyerr(e, None))
}

/// `rows x d` weights with rows uniform on the unit sphere, and a unit teacher direction
/// (`d`), from the streams of `seed`.
#[pyfunction]
#[pyo3(signature = (p, d, seed, n_threads=None))]
fn two_layer_init<'py>(
    py: Python<'py>,
    p: usize,
    d: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<(Mat<'py>, Vec1<'py>)> {
    guard(|| {
        if p == 0 || d == 0 {
            return Err(PyValueError::new_err("`p` and `d` must be at least 1"));
        }
        ensure_fits(&[
            ("p", bytes::<f64>("p", &[p, d])),
            ("d", bytes::<f64>("d", &[d])),
        ])?;
        let pl = pool(n_threads)?;
        let (w, th) = run(py, |_| {
            let mut w = zeros("p", &[p, d])?;
            sphere_rows(&pl, seed, tags::WEIGHTS, d, &mut w);
            let mut th = zeros("d", &[d])?;
            sphere_rows(&pl, seed, tags::TEACHER, d, &mut th);
            Ok((w, th))
        })?;
        Ok((to_array2(py, w, p, d)?, th.into_pyarray(py)))
    })
}

/// The giant step `W1 = W0 + eta sqrt(p) G^T`, `eta = eta_tilde sqrt(p)`, on `n0` fresh samples;
/// returns `(W1, X^T r / n0)`.
#[pyfunction]
#[pyo3(signature = (w0, a0, theta, n0, eta_tilde, activation, target, noise, seed, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn one_step_step<'py>(
    py: Python<'py>,
    w0: &Bound<'py, PyAny>,
    a0: &Bound<'py, PyAny>,
    theta: &Bound<'py, PyAny>,
    n0: usize,
    eta_tilde: f64,
    activation: &str,
    target: &str,
    noise: f64,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<(Mat<'py>, Vec1<'py>)> {
    guard(|| {
        let act = function(activation, "activation")?;
        let tgt = function(target, "target")?;
        let noise = finite(noise, "noise", 0.0)?;
        if !eta_tilde.is_finite() {
            return Err(PyValueError::new_err(format!(
                "`eta_tilde` must be finite, got {eta_tilde}"
            )));
        }
        if n0 == 0 {
            return Err(PyValueError::new_err("`n0` must be at least 1"));
        }
        let pl = pool(n_threads)?;
        let (w0, p, d) = matrix64(&pl, w0, "w0")?;
        let a0 = vector::<f64>(&pl, a0, "a0")?;
        let theta = vector::<f64>(&pl, theta, "theta")?;
        if p == 0 || d == 0 {
            return Err(PyValueError::new_err(
                "`w0` must have at least one row and one column",
            ));
        }
        if a0.as_slice()?.len() != p {
            return Err(PyValueError::new_err(format!(
                "`a0` has length {}, expected p = {p} (the rows of `w0`)",
                a0.as_slice()?.len()
            )));
        }
        if theta.as_slice()?.len() != d {
            return Err(PyValueError::new_err(format!(
                "`theta` has length {}, expected d = {d} (the columns of `w0`)",
                theta.as_slice()?.len()
            )));
        }
        let rows = BLOCK.min(n0);
        // W1, the strip accumulators of X^T M (d x (p + 1)) and their copy, one block of X, Z, M
        ensure_fits(&[
            ("w0", bytes::<f64>("w0", &[3, p.saturating_add(1), d])),
            (
                "n0",
                bytes::<f64>("n0", &[rows, d.saturating_add(2 * p).saturating_add(4)]),
            ),
        ])?;
        let (w0s, a0s, ths) = (w0.as_slice()?, a0.as_slice()?, theta.as_slice()?);
        let out = run(py, |ctl| {
            let t = Teacher {
                theta: ths,
                target: tgt,
                noise,
            };
            giant_step(&pl, w0s, a0s, d, act, &t, n0, eta_tilde, seed, ctl)
        })?;
        Ok((to_array2(py, out.w1, p, d)?, out.spike.into_pyarray(py)))
    })
}

/// Ridge read-out on the features `sigma(W x)` of `n_train` fresh samples; a dict with `w`,
/// `train_error`, `test_error` (noiseless labels, `n_test` samples) and, with `covariance`,
/// the feature covariance `F^T F / n_train`.
#[pyfunction]
#[pyo3(signature = (w, theta, n_train, n_test, lam, activation, target, noise, seed, covariance=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn two_layer_readout<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    theta: &Bound<'py, PyAny>,
    n_train: usize,
    n_test: usize,
    lam: f64,
    activation: &str,
    target: &str,
    noise: f64,
    seed: u64,
    covariance: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let act = function(activation, "activation")?;
        let tgt = function(target, "target")?;
        let noise = finite(noise, "noise", 0.0)?;
        if !(lam.is_finite() && lam > 0.0) {
            return Err(PyValueError::new_err(format!(
                "`lam` must be finite and > 0, got {lam}"
            )));
        }
        if n_train == 0 || n_test == 0 {
            return Err(PyValueError::new_err(
                "`n_train` and `n_test` must be at least 1",
            ));
        }
        let pl = pool(n_threads)?;
        let (w, p, d) = matrix64(&pl, w, "w")?;
        let theta = vector::<f64>(&pl, theta, "theta")?;
        if p == 0 || d == 0 {
            return Err(PyValueError::new_err(
                "`w` must have at least one row and one column",
            ));
        }
        if theta.as_slice()?.len() != d {
            return Err(PyValueError::new_err(format!(
                "`theta` has length {}, expected d = {d} (the columns of `w`)",
                theta.as_slice()?.len()
            )));
        }
        let rows = BLOCK.min(n_train.max(n_test));
        // the Gram strips, its row-major copy, the Cholesky factor, the covariance; one block
        ensure_fits(&[
            ("w", bytes::<f64>("w", &[4, p, p])),
            (
                "n_train",
                bytes::<f64>("n_train", &[rows, d.saturating_add(p).saturating_add(2)]),
            ),
        ])?;
        let (ws, ths) = (w.as_slice()?, theta.as_slice()?);
        let out = run(py, |ctl| {
            let t = Teacher {
                theta: ths,
                target: tgt,
                noise,
            };
            ridge_readout(
                &pl, ws, d, act, &t, n_train, n_test, lam, seed, covariance, ctl,
            )
        })?;
        let dict = PyDict::new(py);
        dict.set_item("w", out.w.into_pyarray(py))?;
        dict.set_item("train_error", out.train_error)?;
        dict.set_item("test_error", out.test_error)?;
        if let Some(c) = out.covariance {
            dict.set_item("covariance", to_array2(py, c, p, p)?)?;
        }
        Ok(dict)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(two_layer_init, m)?)?;
    m.add_function(wrap_pyfunction!(one_step_step, m)?)?;
    m.add_function(wrap_pyfunction!(two_layer_readout, m)?)?;
    Ok(())
}
