//! Mat-vecs, Lanczos, bandwidth probe.

use crate::convert::{vector, MatrixArg};
use crate::runtime::guard;
use crate::runtime::zeros;
use crate::runtime::{ensure_fits, pool, run, with_callable};
use hdcore_kernels::linalg::{read_bandwidth, top_eigenpairs, Eigenpairs, LanczosOptions};
use hdcore_kernels::KernelError;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `A x` (or `A^T x`) for a dense or packed-symmetric matrix.
#[pyfunction]
#[pyo3(signature = (a, x, transpose=false, packed_n=None, n_threads=None))]
fn matvec<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    transpose: bool,
    packed_n: Option<usize>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    guard(|| {
        let p = pool(n_threads)?;
        let a = match packed_n {
            None => MatrixArg::extract_lazy(&p, a, "a")?,
            Some(_) => MatrixArg::extract_sym(&p, a, packed_n, "a")?,
        };
        let x = vector::<f64>(&p, x, "x")?;
        let (r, c) = a.shape();
        let (nin, nout) = if transpose { (r, c) } else { (c, r) };
        let xs = x.as_slice()?;
        if xs.len() != nin {
            return Err(PyValueError::new_err(format!(
                "`x` has length {}, expected {nin} for `a` of shape ({r}, {c})",
                xs.len()
            )));
        }
        let op = a.operator()?;
        let op = &*op;
        let y = run(py, |_| {
            let mut y = zeros("x", &[nout])?;
            if transpose {
                op.apply_t(&p, xs, &mut y)?;
            } else {
                op.apply(&p, xs, &mut y)?;
            }
            Ok(y)
        })?;
        // x is finite, so a non-finite product means a non-finite entry of `a` (or an overflow).
        if !y.iter().all(|v| v.is_finite()) {
            return Err(PyValueError::new_err(
                "`a` contains NaN or infinity (or the product overflowed)",
            ));
        }
        Ok(y.into_pyarray(py))
    })
}

fn eig_dict<'py>(py: Python<'py>, e: Eigenpairs, n: usize) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let k = e.values.len();
    let flat: Vec<f64> = e.vectors.into_iter().flatten().collect();
    let vecs = Array2::from_shape_vec((k, n), flat)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    d.set_item("values", e.values.into_pyarray(py))?;
    d.set_item(
        "vectors",
        vecs.reversed_axes()
            .as_standard_layout()
            .to_owned()
            .into_pyarray(py),
    )?;
    d.set_item("residuals", e.residuals.into_pyarray(py))?;
    d.set_item("n_matvec", e.n_matvec)?;
    d.set_item("n_restarts", e.n_restarts)?;
    d.set_item("converged", e.converged)?;
    Ok(d)
}

/// Lanczos settings from the Python arguments (checked).
pub(crate) fn lanczos_options(
    n: usize,
    k: usize,
    tol: f64,
    ncv: Option<usize>,
    max_restarts: usize,
) -> PyResult<LanczosOptions> {
    if k == 0 || k > n {
        return Err(PyValueError::new_err(format!(
            "`k` must be in 1..={n}, got {k}"
        )));
    }
    if !(tol > 0.0 && tol.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "`tol` must be positive, got {tol}"
        )));
    }
    let mut o = LanczosOptions::new(n, k);
    o.tol = tol;
    o.max_restarts = max_restarts;
    if let Some(m) = ncv {
        if m <= k {
            return Err(PyValueError::new_err(format!(
                "`ncv` must exceed k = {k}, got {m}"
            )));
        }
        o.ncv = m.min(n);
    }
    Ok(o)
}

/// Top-`k` eigenpairs of `scale * A` (symmetric `A`), or of `scale * A^T A` when `gram`.
#[pyfunction]
#[pyo3(signature = (a, k, v0, *, gram=false, scale=1.0, packed_n=None, tol=1e-10, ncv=None, max_restarts=500, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn eigsh_top<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    k: usize,
    v0: &Bound<'py, PyAny>,
    gram: bool,
    scale: f64,
    packed_n: Option<usize>,
    tol: f64,
    ncv: Option<usize>,
    max_restarts: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let a = if gram {
            MatrixArg::extract(&p, a, packed_n, "a")?
        } else {
            MatrixArg::extract_sym(&p, a, packed_n, "a")?
        };
        let (r, c) = a.shape();
        if !gram {
            a.check_symmetric(&p, "a")?;
        }
        let n = c;
        let v0 = vector::<f64>(&p, v0, "v0")?;
        let v0s = v0.as_slice()?;
        if v0s.len() != n {
            return Err(PyValueError::new_err(format!(
                "`v0` has length {}, expected {n}",
                v0s.len()
            )));
        }
        let opts = lanczos_options(n, k, tol, ncv, max_restarts)?;
        let op = a.operator()?;
        let op = &*op;
        let e = run(py, |ctl| {
            let mut tmp = zeros("a", &[r])?;
            let f = |x: &[f64], y: &mut [f64]| -> Result<(), KernelError> {
                if gram {
                    op.apply(&p, x, &mut tmp)?;
                    op.apply_t(&p, &tmp, y)?;
                } else {
                    op.apply(&p, x, y)?;
                }
                y.iter_mut().for_each(|v| *v *= scale);
                Ok(())
            };
            top_eigenpairs(&p, n, f, v0s, opts, ctl)
        })?;
        eig_dict(py, e, n)
    })
}

/// Top-`k` eigenpairs of a symmetric operator given as a Python callable `op(x) -> A x`.
#[pyfunction]
#[pyo3(signature = (op, n, k, v0, *, tol=1e-10, ncv=None, max_restarts=500, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn eigsh_top_callable<'py>(
    py: Python<'py>,
    op: Bound<'py, PyAny>,
    n: usize,
    k: usize,
    v0: &Bound<'py, PyAny>,
    tol: f64,
    ncv: Option<usize>,
    max_restarts: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let v0 = vector::<f64>(&p, v0, "v0")?;
        let v0s = v0.as_slice()?;
        if v0s.len() != n {
            return Err(PyValueError::new_err(format!(
                "`v0` has length {}, expected {n}",
                v0s.len()
            )));
        }
        let opts = lanczos_options(n, k, tol, ncv, max_restarts)?;
        // The callable needs the GIL for every product; the orthogonalisation still runs in Rust.
        let convert = |out: &Bound<'py, PyAny>, y: &mut [f64]| -> PyResult<()> {
            let arr = vector::<f64>(&p, out, "op(x)")?;
            let s = arr.as_slice()?;
            if s.len() != n {
                return Err(PyValueError::new_err(format!(
                    "`op(x)` returned length {}, expected {n}",
                    s.len()
                )));
            }
            y.copy_from_slice(s);
            Ok(())
        };
        let e = with_callable(py, &op, convert, |f| {
            top_eigenpairs(&p, n, f, v0s, opts, &hdcore_kernels::control::Never)
        })?;
        eig_dict(py, e, n)
    })
}

/// Read bandwidth of the machine (bytes/s), best of `repeats` parallel passes over `n` float64.
#[pyfunction]
#[pyo3(signature = (n=1 << 27, repeats=5, n_threads=None))]
fn read_bandwidth_probe(
    py: Python<'_>,
    n: usize,
    repeats: usize,
    n_threads: Option<usize>,
) -> PyResult<f64> {
    guard(|| {
        let p = pool(n_threads)?;
        if repeats > 1000 {
            return Err(PyValueError::new_err(format!(
                "`repeats` must be at most 1000, got {repeats}"
            )));
        }
        ensure_fits(&[("n", hdcore_kernels::alloc::bytes::<f64>("n", &[n]))])?;
        let (bw, check) = run(py, |_| Ok(read_bandwidth(&p, n, repeats)))?;
        if !check.is_finite() {
            return Err(PyValueError::new_err("bandwidth probe failed"));
        }
        Ok(bw)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(matvec, m)?)?;
    m.add_function(wrap_pyfunction!(eigsh_top, m)?)?;
    m.add_function(wrap_pyfunction!(eigsh_top_callable, m)?)?;
    m.add_function(wrap_pyfunction!(read_bandwidth_probe, m)?)?;
    Ok(())
}
