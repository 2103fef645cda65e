//! Random-matrix toolbox: spectral laws, eigendecomposition / SVD, empirical Stieltjes
//! transforms, RIE, samplers.

use crate::runtime::guard;
use crate::convert::vector;
use crate::errors::to_pyerr;
use crate::runtime::{pool, run};
use hdcore_kernels::rmt::eig::{check_symmetric, eigh as k_eigh, reconstruct, svd as k_svd};
use hdcore_kernels::rmt::sample::sample_spectrum;
use hdcore_kernels::rmt::spectral_fn::soft_threshold_symmetric;
use hdcore_kernels::rmt::{empirical, rie_rectangular, rie_symmetric, Hilbert, Law};
use hdcore_kernels::threads::ThreadPool;
use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

type F64Array<'py> = Bound<'py, PyArray1<f64>>;

/// A C-contiguous finite 2-D float64 array.
pub fn matrix64<'py>(
    p: &ThreadPool,
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<(PyReadonlyArray2<'py, f64>, usize, usize)> {
    let arr = obj.cast::<PyArray2<f64>>().map_err(|_| {
        PyTypeError::new_err(format!("`{name}` must be a 2-D numpy array of float64"))
    })?;
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
    let (r, c) = (ro.shape()[0], ro.shape()[1]);
    let s = ro.as_slice().map_err(|_| {
        PyValueError::new_err(format!(
            "`{name}` must be C-contiguous (use numpy.ascontiguousarray)"
        ))
    })?;
    if !hdcore_kernels::linalg::all_finite(p, s) {
        return Err(PyValueError::new_err(format!(
            "`{name}` contains NaN or infinity"
        )));
    }
    Ok((ro, r, c))
}

/// Row-major data as a 2-D numpy array.
pub fn to_array2<'py>(
    py: Python<'py>,
    data: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    Ok(Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| PyValueError::new_err(e.to_string()))?
        .into_pyarray(py))
}

/// Parse a law name and its parameters.
pub fn law(kind: &str, params: &[f64]) -> PyResult<Law> {
    let need = |k: usize| -> PyResult<()> {
        if params.len() == k {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "law {kind:?} takes {k} parameters, got {}",
                params.len()
            )))
        }
    };
    let l = match kind {
        "semicircle" => {
            need(1)?;
            Law::Semicircle { variance: params[0] }
        }
        "marchenko_pastur" => {
            need(2)?;
            Law::MarchenkoPastur { kappa: params[0], scale: params[1] }
        }
        "mp_semicircle" => {
            need(2)?;
            Law::MpSemicircle { kappa: params[0], delta: params[1] }
        }
        "rect_product" => {
            need(3)?;
            Law::RectProduct { aspect: params[0], rank: params[1], delta: params[2] }
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown law {other:?}; expected 'semicircle', 'marchenko_pastur', 'mp_semicircle' or 'rect_product'"
            )))
        }
    };
    l.validate().map_err(|e| to_pyerr(e, None))?;
    Ok(l)
}

/// Stieltjes transform `g(z) = int rho(t)/(z - t) dt` at `z = re + i im` (`im = 0`: `x + i0`).
#[pyfunction]
#[pyo3(signature = (kind, params, re, im, n_threads=None))]
fn rmt_stieltjes<'py>(
    py: Python<'py>,
    kind: &str,
    params: Vec<f64>,
    re: &Bound<'py, PyAny>,
    im: &Bound<'py, PyAny>,
    n_threads: Option<usize>,
) -> PyResult<(F64Array<'py>, F64Array<'py>)> {
    guard(|| {
        let l = law(kind, &params)?;
        let p = pool(n_threads)?;
        let (re, im) = (vector::<f64>(&p, re, "re")?, vector::<f64>(&p, im, "im")?);
        let (rs, is) = (re.as_slice()?, im.as_slice()?);
        if rs.len() != is.len() {
            return Err(PyValueError::new_err(
                "`re` and `im` must have the same length",
            ));
        }
        let (gr, gi) = run(py, |_| l.stieltjes_many(&p, rs, is))?;
        Ok((gr.into_pyarray(py), gi.into_pyarray(py)))
    })
}

/// Density of the continuous part at `x`.
#[pyfunction]
#[pyo3(signature = (kind, params, x, n_threads=None))]
fn rmt_density<'py>(
    py: Python<'py>,
    kind: &str,
    params: Vec<f64>,
    x: &Bound<'py, PyAny>,
    n_threads: Option<usize>,
) -> PyResult<F64Array<'py>> {
    guard(|| {
        let l = law(kind, &params)?;
        let p = pool(n_threads)?;
        let x = vector::<f64>(&p, x, "x")?;
        let xs = x.as_slice()?;
        let out = run(py, |_| l.density_many(&p, xs))?;
        Ok(out.into_pyarray(py))
    })
}

/// Support intervals of the continuous part.
#[pyfunction]
fn rmt_support(py: Python<'_>, kind: &str, params: Vec<f64>) -> PyResult<Vec<(f64, f64)>> {
    guard(|| {
        let l = law(kind, &params)?;
        run(py, |_| l.support())
    })
}

/// Atoms `(location, mass)`.
#[pyfunction]
fn rmt_atoms(kind: &str, params: Vec<f64>) -> PyResult<Vec<(f64, f64)>> {
    guard(|| {
        Ok(law(kind, &params)?.atoms())
    })
}

/// Gauss rule `(x, w, rho)` over the continuous part (`n` nodes per panel).
#[pyfunction]
#[pyo3(signature = (kind, params, n=160, n_threads=None))]
fn rmt_quadrature<'py>(
    py: Python<'py>,
    kind: &str,
    params: Vec<f64>,
    n: usize,
    n_threads: Option<usize>,
) -> PyResult<(F64Array<'py>, F64Array<'py>, F64Array<'py>)> {
    guard(|| {
        let l = law(kind, &params)?;
        let p = pool(n_threads)?;
        if !(2..=4096).contains(&n) {
            return Err(PyValueError::new_err(format!(
                "`n` must be in 2..=4096, got {n}"
            )));
        }
        let q = run(py, |_| l.quadrature(&p, n))?;
        Ok((
            q.x.into_pyarray(py),
            q.w.into_pyarray(py),
            q.rho.into_pyarray(py),
        ))
    })
}

/// Denoising MMSE of the prior whose noisy observation has the law (`mp_semicircle`,
/// `rect_product`).
#[pyfunction]
#[pyo3(signature = (kind, params, n_threads=None))]
fn rmt_denoising_mmse(
    py: Python<'_>,
    kind: &str,
    params: Vec<f64>,
    n_threads: Option<usize>,
) -> PyResult<f64> {
    guard(|| {
        let l = law(kind, &params)?;
        let p = pool(n_threads)?;
        run(py, |_| l.denoising_mmse(&p))
    })
}

/// Spectrum of a random matrix of size `d` with the law (see `rmt::sample`).
#[pyfunction]
#[pyo3(signature = (kind, params, d, seed, n_threads=None))]
fn rmt_sample_spectrum<'py>(
    py: Python<'py>,
    kind: &str,
    params: Vec<f64>,
    d: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<F64Array<'py>> {
    guard(|| {
        let l = law(kind, &params)?;
        let p = pool(n_threads)?;
        let out = run(py, |_| sample_spectrum(&p, &l, d, seed))?;
        Ok(out.into_pyarray(py))
    })
}

/// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.
#[pyfunction]
#[pyo3(signature = (a, vectors=true, n_threads=None))]
fn eigh<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    vectors: bool,
    n_threads: Option<usize>,
) -> PyResult<(F64Array<'py>, Option<Bound<'py, PyArray2<f64>>>)> {
    guard(|| {
        let p = pool(n_threads)?;
        let (a, r, c) = matrix64(&p, a, "a")?;
        if r != c {
            return Err(PyValueError::new_err(format!(
                "`a` must be square, got shape ({r}, {c})"
            )));
        }
        let s = a.as_slice()?;
        let e = run(py, |_| {
            check_symmetric(&p, s, r, "a")?;
            k_eigh(&p, s, r, vectors)
        })?;
        let v = if vectors {
            Some(to_array2(py, e.vectors, r, r)?)
        } else {
            None
        };
        Ok((e.values.into_pyarray(py), v))
    })
}

type SvdOut<'py> = (
    Option<Bound<'py, PyArray2<f64>>>,
    F64Array<'py>,
    Option<Bound<'py, PyArray2<f64>>>,
);

/// Thin SVD `(U, s, V)` with `A = U diag(s) V^T`, `s` descending.
#[pyfunction]
#[pyo3(signature = (a, vectors=true, n_threads=None))]
fn svd<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    vectors: bool,
    n_threads: Option<usize>,
) -> PyResult<SvdOut<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        let (a, r, c) = matrix64(&p, a, "a")?;
        let s = a.as_slice()?;
        let out = run(py, |_| k_svd(&p, s, r, c, vectors))?;
        let k = r.min(c);
        let (u, v) = if vectors {
            (
                Some(to_array2(py, out.u, r, k)?),
                Some(to_array2(py, out.v, c, k)?),
            )
        } else {
            (None, None)
        };
        Ok((u, out.values.into_pyarray(py), v))
    })
}

/// `L diag(f) R^T`.
#[pyfunction]
#[pyo3(signature = (left, f, right, n_threads=None))]
fn spectral_reconstruct<'py>(
    py: Python<'py>,
    left: &Bound<'py, PyAny>,
    f: &Bound<'py, PyAny>,
    right: &Bound<'py, PyAny>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    guard(|| {
        let p = pool(n_threads)?;
        let (l, m, k1) = matrix64(&p, left, "left")?;
        let (r, n, k2) = matrix64(&p, right, "right")?;
        let f = vector::<f64>(&p, f, "f")?;
        let fs = f.as_slice()?;
        if k1 != fs.len() || k2 != fs.len() {
            return Err(PyValueError::new_err(format!(
                "`left`, `f` and `right` must share k = len(f) = {}, got {k1} and {k2} columns",
                fs.len()
            )));
        }
        let (ls, rs) = (l.as_slice()?, r.as_slice()?);
        let out = run(py, |_| reconstruct(&p, ls, fs, rs, m, n))?;
        to_array2(py, out, m, n)
    })
}

/// Eigenvalue soft threshold of a symmetric matrix at `theta` (`psd`: `(l - theta)_+`,
/// otherwise `sign(l) (|l| - theta)_+`) and the normalised divergence `D` of the map.
#[pyfunction]
#[pyo3(signature = (a, theta, psd=true, n_threads=None))]
fn spectral_soft_threshold<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    theta: f64,
    psd: bool,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, f64)> {
    guard(|| {
        let p = pool(n_threads)?;
        let (a, r, c) = matrix64(&p, a, "a")?;
        if r != c {
            return Err(PyValueError::new_err(format!(
                "`a` must be square, got shape ({r}, {c})"
            )));
        }
        let s = a.as_slice()?;
        let out = run(py, |_| {
            check_symmetric(&p, s, r, "a")?;
            soft_threshold_symmetric(&p, s, r, theta, psd)
        })?;
        Ok((to_array2(py, out.estimate, r, r)?, out.divergence))
    })
}

/// Empirical Stieltjes transform `(1/n) sum_j 1/(z - lambda_j)` (symmetrised over `+-lambda`
/// when `symmetrised`).
#[pyfunction]
#[pyo3(signature = (eigs, re, im, symmetrised=false, n_threads=None))]
fn empirical_stieltjes<'py>(
    py: Python<'py>,
    eigs: &Bound<'py, PyAny>,
    re: &Bound<'py, PyAny>,
    im: &Bound<'py, PyAny>,
    symmetrised: bool,
    n_threads: Option<usize>,
) -> PyResult<(F64Array<'py>, F64Array<'py>)> {
    guard(|| {
        let p = pool(n_threads)?;
        let e = vector::<f64>(&p, eigs, "eigs")?;
        let (re, im) = (vector::<f64>(&p, re, "re")?, vector::<f64>(&p, im, "im")?);
        let (es, rs, is) = (e.as_slice()?, re.as_slice()?, im.as_slice()?);
        if rs.len() != is.len() {
            return Err(PyValueError::new_err(
                "`re` and `im` must have the same length",
            ));
        }
        let (gr, gi) = run(py, |_| {
            Ok(empirical::stieltjes_split(&p, es, rs, is, symmetrised))
        })?;
        Ok((gr.into_pyarray(py), gi.into_pyarray(py)))
    })
}

/// Rotationally invariant estimator of `y` at noise `delta`. `law_kind`/`law_params` give the
/// theory law of the observation; without them the observed spectrum is used (smoothing
/// `eta`). `rectangular` selects the singular-value RIE (entry units).
#[pyfunction]
#[pyo3(signature = (y, delta, *, law_kind=None, law_params=None, eta=None, rectangular=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn rie<'py>(
    py: Python<'py>,
    y: &Bound<'py, PyAny>,
    delta: f64,
    law_kind: Option<&str>,
    law_params: Option<Vec<f64>>,
    eta: Option<f64>,
    rectangular: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let (ym, r, c) = matrix64(&p, y, "y")?;
        let source = match law_kind {
            Some(k) => Hilbert::Theory(law(k, &law_params.unwrap_or_default())?),
            None => Hilbert::Empirical { eta },
        };
        if !rectangular && r != c {
            return Err(PyValueError::new_err(format!(
                "`y` must be square for the symmetric RIE, got shape ({r}, {c})"
            )));
        }
        let s = ym.as_slice()?;
        let out = run(py, |_| {
            if rectangular {
                rie_rectangular(&p, s, r, c, delta, &source)
            } else {
                rie_symmetric(&p, s, r, delta, &source)
            }
        })?;
        let d = PyDict::new(py);
        d.set_item("estimate", to_array2(py, out.estimate, r, c)?)?;
        d.set_item("values", out.values.into_pyarray(py))?;
        d.set_item("shrunk", out.shrunk.into_pyarray(py))?;
        d.set_item("hilbert", out.hilbert.into_pyarray(py))?;
        Ok(d)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rmt_stieltjes, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_density, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_support, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_atoms, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_quadrature, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_denoising_mmse, m)?)?;
    m.add_function(wrap_pyfunction!(rmt_sample_spectrum, m)?)?;
    m.add_function(wrap_pyfunction!(eigh, m)?)?;
    m.add_function(wrap_pyfunction!(svd, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_reconstruct, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_soft_threshold, m)?)?;
    m.add_function(wrap_pyfunction!(empirical_stieltjes, m)?)?;
    m.add_function(wrap_pyfunction!(rie, m)?)?;
    Ok(())
}
