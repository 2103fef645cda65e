//! Contaminated regression sampler and the ERM solver.

use crate::runtime::guard;
use crate::convert::{vector, MatrixArg};
use crate::fn_losses::loss;
use crate::runtime::{pool, run};
use hdcore_kernels::erm::elastic_net::{elastic_net, ElasticNetOptions, ElasticNetOutput};
use hdcore_kernels::erm::{erm, Constraint, ErmOptions, ErmOutput};
use hdcore_kernels::linalg::{Dense, Scalar};
use hdcore_kernels::models::regression::{contaminated_regression, Contamination};
use numpy::ndarray::Array2;
use numpy::{Element, IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

type Sample<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<bool>>,
);

fn sample_typed<'py, T: Scalar + Element + hdcore_kernels::alloc::Zeroable>(
    py: Python<'py>,
    n: usize,
    d: usize,
    c: Contamination,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Sample<'py>> {
    let p = pool(n_threads)?;
    let (x, t, y, o) = run(py, |_| {
        use hdcore_kernels::alloc::{count, zeroed};
        let mut x = zeroed::<T>("n", count("n", &[n, d])?)?;
        let (mut t, mut y, mut o) = (zeroed("d", d)?, zeroed("n", n)?, zeroed("n", n)?);
        contaminated_regression(&p, n, d, &c, seed, &mut x, &mut t, &mut y, &mut o)?;
        Ok((x, t, y, o))
    })?;
    let x = Array2::from_shape_vec((n, d), x)
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .into_pyarray(py)
        .into_any();
    Ok((
        x,
        y.into_pyarray(py),
        t.into_pyarray(py),
        o.into_pyarray(py),
    ))
}

/// Contaminated regression sample `(X, y, theta, outlier)` with `X` of shape `(n, d)`.
#[pyfunction]
#[pyo3(signature = (n, d, eps, delta_in, delta_out, beta, seed, *, dtype="float64", n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sample_contaminated_regression<'py>(
    py: Python<'py>,
    n: usize,
    d: usize,
    eps: f64,
    delta_in: f64,
    delta_out: f64,
    beta: f64,
    seed: u64,
    dtype: &str,
    n_threads: Option<usize>,
) -> PyResult<Sample<'py>> {
    guard(|| {
        if n == 0 || d == 0 {
            return Err(PyValueError::new_err("`n` and `d` must be at least 1"));
        }
        let c = Contamination {
            eps,
            delta_in,
            delta_out,
            beta,
        };
        match dtype {
            "float64" => sample_typed::<f64>(py, n, d, c, seed, n_threads),
            "float32" => sample_typed::<f32>(py, n, d, c, seed, n_threads),
            other => Err(PyValueError::new_err(format!(
                "`dtype` must be 'float64' or 'float32', got {other:?}"
            ))),
        }
    })
}

/// The ridge `lam` or the sphere `||w||^2 = q d` (exactly one given).
pub fn constraint(lam: Option<f64>, q: Option<f64>) -> PyResult<Constraint> {
    match (lam, q) {
        (Some(lam), None) => Ok(Constraint::Ridge { lam }),
        (None, Some(q)) => Ok(Constraint::Sphere { q }),
        _ => Err(PyValueError::new_err(
            "give exactly one of `lam` (ridge) and `q` (sphere ||w||^2 = q d)",
        )),
    }
}

fn to_dict<'py>(py: Python<'py>, o: ErmOutput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("w", o.w.into_pyarray(py))?;
    d.set_item("objective", o.objective)?;
    d.set_item("grad_norm", o.grad_norm)?;
    d.set_item("n_iter", o.n_iter)?;
    d.set_item("n_eval", o.n_eval)?;
    d.set_item("n_pass", o.n_pass)?;
    d.set_item("converged", o.converged)?;
    d.set_item("message", o.message)?;
    d.set_item("hessian_min", o.hessian_min)?;
    d.set_item("hessian_converged", o.hessian_converged)?;
    d.set_item("lam_effective", o.lam_effective)?;
    d.set_item("n_restarts", o.n_restarts)?;
    Ok(d)
}

/// ERM with a built-in loss: ridge `lam` (any sign) or sphere `||w||^2 = q d` (give one).
#[pyfunction]
#[pyo3(signature = (x, y, loss_name, w0, *, param=None, lam=None, q=None, max_iter=2000, gtol=1e-8, history=10, max_sq_norm=1e4, hessian_check=true, hessian_tol=1e-2, n_restarts=3, seed=0, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn erm_solve<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    loss_name: &str,
    w0: &Bound<'py, PyAny>,
    param: Option<f64>,
    lam: Option<f64>,
    q: Option<f64>,
    max_iter: usize,
    gtol: f64,
    history: usize,
    max_sq_norm: f64,
    hessian_check: bool,
    hessian_tol: f64,
    n_restarts: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let l = loss(loss_name, param)?;
        let constraint = constraint(lam, q)?;
        let p = pool(n_threads)?;
        let xm = MatrixArg::extract(&p, x, None, "x")?;
        let (n, d) = xm.shape();
        let y = vector::<f64>(&p, y, "y")?;
        let w0 = vector::<f64>(&p, w0, "w0")?;
        let (ys, ws) = (y.as_slice()?, w0.as_slice()?);
        if ys.len() != n {
            return Err(PyValueError::new_err(format!(
                "`y` has length {}, expected {n} (the rows of `x`)",
                ys.len()
            )));
        }
        if ws.len() != d {
            return Err(PyValueError::new_err(format!(
                "`w0` has length {}, expected {d} (the columns of `x`)",
                ws.len()
            )));
        }
        let opts = ErmOptions {
            max_iter,
            gtol,
            history,
            max_sq_norm,
            hessian_check,
            hessian_tol,
            n_restarts,
            seed,
        };
        let err = |e: hdcore_kernels::KernelError| PyValueError::new_err(e.to_string());
        let out = match &xm {
            MatrixArg::D64(a) => {
                let op = Dense::new(a.as_slice()?, n, d).map_err(err)?;
                run(py, |ctl| erm(&p, &op, ys, l, constraint, ws, opts, ctl))?
            }
            MatrixArg::D32(a) => {
                let op = Dense::new(a.as_slice()?, n, d).map_err(err)?;
                run(py, |ctl| erm(&p, &op, ys, l, constraint, ws, opts, ctl))?
            }
            _ => return Err(PyValueError::new_err("`x` must be a dense 2-D array")),
        };
        to_dict(py, out)
    })
}

fn elastic_net_dict<'py>(py: Python<'py>, o: ElasticNetOutput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("w", o.w.into_pyarray(py))?;
    d.set_item("objective", o.objective)?;
    d.set_item("kkt", o.kkt)?;
    d.set_item("lam_max", o.lam_max)?;
    d.set_item("n_sweeps", o.n_sweeps)?;
    d.set_item("n_check", o.n_check)?;
    d.set_item("n_polish", o.n_polish)?;
    d.set_item("n_nonzero", o.n_nonzero)?;
    d.set_item("converged", o.converged)?;
    d.set_item("message", o.message)?;
    Ok(d)
}

/// Lasso / elastic net `(1/2)||y - X w||^2 + lam1 ||w||_1 + (lam2/2)||w||^2` by coordinate descent.
#[pyfunction]
#[pyo3(signature = (x, y, w0, *, lam1, lam2=0.0, tol=1e-9, max_sweeps=100000, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn elastic_net_solve<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    w0: &Bound<'py, PyAny>,
    lam1: f64,
    lam2: f64,
    tol: f64,
    max_sweeps: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let xm = MatrixArg::extract(&p, x, None, "x")?;
        let (n, d) = xm.shape();
        let y = vector::<f64>(&p, y, "y")?;
        let w0 = vector::<f64>(&p, w0, "w0")?;
        let (ys, ws) = (y.as_slice()?, w0.as_slice()?);
        let opts = ElasticNetOptions { tol, max_sweeps };
        let out = match &xm {
            MatrixArg::D64(a) => {
                let xs = a.as_slice()?;
                run(py, |ctl| elastic_net(&p, xs, n, d, ys, lam1, lam2, ws, opts, ctl))?
            }
            MatrixArg::D32(a) => {
                let xs = a.as_slice()?;
                run(py, |ctl| elastic_net(&p, xs, n, d, ys, lam1, lam2, ws, opts, ctl))?
            }
            _ => return Err(PyValueError::new_err("`x` must be a dense 2-D array")),
        };
        elastic_net_dict(py, out)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(elastic_net_solve, m)?)?;
    m.add_function(wrap_pyfunction!(sample_contaminated_regression, m)?)?;
    m.add_function(wrap_pyfunction!(erm_solve, m)?)?;
    Ok(())
}
