//! Scalar losses: values and derivatives, prox residuals, the proximal output function of
//! GAMP, and their constants (vectorised over the residuals).

use crate::runtime::guard;
use crate::runtime::zeros;
use crate::convert::vector;
use crate::errors::to_pyerr;
use crate::runtime::{pool, run};
use hdcore_kernels::losses::{Loss, ProxChannel};
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Parse a built-in loss name and its parameter (ValueError naming the problem).
pub fn loss(name: &str, param: Option<f64>) -> PyResult<Loss> {
    Loss::from_name(name, param).map_err(|e| to_pyerr(e, None))
}

fn positive(v: f64, name: &str) -> PyResult<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(PyValueError::new_err(format!(
            "`{name}` must be finite and > 0, got {v}"
        )))
    }
}

/// Arrays shorter than this are processed on the calling thread, without the thread pool: the
/// theory calls these functions with a few thousand quadrature nodes, where dispatching to the
/// pool costs far more than the arithmetic.
const SERIAL_BELOW: usize = 1 << 14;

/// A 1-D float64 array checked finite; small arrays are checked serially.
fn small_or_vector<'py>(
    n_threads: Option<usize>,
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArray1<'py, f64>> {
    if let Ok(arr) = obj.cast::<PyArray1<f64>>() {
        if let Ok(ro) = arr.try_readonly() {
            if let Ok(s) = ro.as_slice() {
                if s.len() < SERIAL_BELOW {
                    return if s.iter().all(|v| v.is_finite()) {
                        Ok(ro)
                    } else {
                        Err(PyValueError::new_err(format!(
                            "`{name}` contains NaN or infinity"
                        )))
                    };
                }
            }
        }
    }
    let p = pool(n_threads)?;
    vector::<f64>(&p, obj, name)
}

type Arrays2<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);
type Arrays3<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

/// `(rho(r), rho'(r), rho''(r))` elementwise.
#[pyfunction]
#[pyo3(signature = (name, r, *, param=None, n_threads=None))]
fn loss_eval<'py>(
    py: Python<'py>,
    name: &str,
    r: &Bound<'py, PyAny>,
    param: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<Arrays3<'py>> {
    guard(|| {
        let l = loss(name, param)?;
        let r = small_or_vector(n_threads, r, "r")?;
        let rs = r.as_slice()?;
        if rs.len() < SERIAL_BELOW {
            let (mut a, mut b, mut c) = (Vec::with_capacity(rs.len()), Vec::new(), Vec::new());
            b.reserve(rs.len());
            c.reserve(rs.len());
            for &x in rs {
                let (u, v, w) = l.eval(x);
                a.push(u);
                b.push(v);
                c.push(w);
            }
            return Ok((a.into_pyarray(py), b.into_pyarray(py), c.into_pyarray(py)));
        }
        let p = pool(n_threads)?;
        let (a, b, c) = run(py, |_| {
            let n = rs.len();
            let (mut a, mut b, mut c) = (zeros("n", &[n])?, zeros("n", &[n])?, zeros("n", &[n])?);
            l.eval_batch(&p, rs, &mut a, &mut b, &mut c)?;
            Ok((a, b, c))
        })?;
        Ok((a.into_pyarray(py), b.into_pyarray(py), c.into_pyarray(py)))
    })
}

/// Prox residuals `r = argmin rho(r) + (delta - r)^2/(2v)` and `dr/d delta`, elementwise.
#[pyfunction]
#[pyo3(signature = (name, delta, v, *, param=None, n_threads=None))]
fn loss_prox<'py>(
    py: Python<'py>,
    name: &str,
    delta: &Bound<'py, PyAny>,
    v: f64,
    param: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<Arrays2<'py>> {
    guard(|| {
        let l = loss(name, param)?;
        let v = crate::convert::finite(v, "v", 0.0)?;
        let delta = small_or_vector(n_threads, delta, "delta")?;
        let ds = delta.as_slice()?;
        if ds.len() < SERIAL_BELOW {
            let (r, dr): (Vec<f64>, Vec<f64>) = ds
                .iter()
                .map(|&x| {
                    let p = l.prox(x, v);
                    (p.r, p.dr)
                })
                .unzip();
            return Ok((r.into_pyarray(py), dr.into_pyarray(py)));
        }
        let p = pool(n_threads)?;
        let (r, dr) = run(py, |_| {
            let (mut r, mut dr) = (zeros("delta", &[ds.len()])?, zeros("delta", &[ds.len()])?);
            l.prox_batch(&p, ds, v, &mut r, &mut dr)?;
            Ok((r, dr))
        })?;
        Ok((r.into_pyarray(py), dr.into_pyarray(py)))
    })
}

/// The proximal output function `g_out = (prox - omega)/v` and `d g_out/d omega`, elementwise.
#[pyfunction]
#[pyo3(signature = (name, y, omega, v, *, param=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn prox_g_out<'py>(
    py: Python<'py>,
    name: &str,
    y: &Bound<'py, PyAny>,
    omega: &Bound<'py, PyAny>,
    v: f64,
    param: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<Arrays2<'py>> {
    guard(|| {
        let ch = ProxChannel::new(loss(name, param)?);
        let v = positive(v, "v")?;
        let p = pool(n_threads)?;
        let y = vector::<f64>(&p, y, "y")?;
        let omega = vector::<f64>(&p, omega, "omega")?;
        let (ys, os) = (y.as_slice()?, omega.as_slice()?);
        if ys.len() != os.len() {
            return Err(PyValueError::new_err(format!(
                "`omega` has length {}, expected {} (the length of `y`)",
                os.len(),
                ys.len()
            )));
        }
        let (g, dg) = run(py, |_| {
            let (mut g, mut dg) = (zeros("y", &[ys.len()])?, zeros("y", &[ys.len()])?);
            ch.g_out_batch(&p, ys, os, v, &mut g, &mut dg)?;
            Ok((g, dg))
        })?;
        Ok((g.into_pyarray(py), dg.into_pyarray(py)))
    })
}

/// Constants of a loss: `min_d2`, `max_abs_d1`, `max_prox_variance`, `breakpoints`, `convex`.
#[pyfunction]
#[pyo3(signature = (name, *, param=None))]
fn loss_info<'py>(py: Python<'py>, name: &str, param: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let l = loss(name, param)?;
        let d = PyDict::new(py);
        d.set_item("min_d2", l.min_d2())?;
        d.set_item("max_abs_d1", l.max_abs_d1())?;
        d.set_item("max_prox_variance", l.max_prox_variance())?;
        d.set_item("breakpoints", l.breakpoints())?;
        d.set_item("convex", l.is_convex())?;
        Ok(d)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(loss_eval, m)?)?;
    m.add_function(wrap_pyfunction!(loss_prox, m)?)?;
    m.add_function(wrap_pyfunction!(prox_g_out, m)?)?;
    m.add_function(wrap_pyfunction!(loss_info, m)?)?;
    Ok(())
}
