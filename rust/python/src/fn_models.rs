//! Samplers of the spiked models.

use crate::convert::{finite, prior};
use crate::errors::to_pyerr;
use crate::runtime::guard;
use crate::runtime::{pool, run};
use hdcore_kernels::alloc::{self, Zeroable};
use hdcore_kernels::linalg::Scalar;
use hdcore_kernels::models::spiked::{spiked_wigner, spiked_wishart, SymStorage};
use numpy::ndarray::Array2;
use numpy::{Element, IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn check_dtype(dtype: &str) -> PyResult<bool> {
    match dtype {
        "float64" => Ok(false),
        "float32" => Ok(true),
        other => Err(PyValueError::new_err(format!(
            "`dtype` must be 'float64' or 'float32', got {other:?}"
        ))),
    }
}

/// Storage of a spiked Wigner sample.
enum WignerDtype {
    F64,
    F32,
    Bf16,
}

fn wigner_dtype(dtype: &str) -> PyResult<WignerDtype> {
    match dtype {
        "float64" => Ok(WignerDtype::F64),
        "float32" => Ok(WignerDtype::F32),
        "bfloat16" => Ok(WignerDtype::Bf16),
        other => Err(PyValueError::new_err(format!(
            "`dtype` must be 'float64', 'float32' or 'bfloat16', got {other:?}"
        ))),
    }
}

fn to_py<'py, T: Element>(
    py: Python<'py>,
    data: Vec<T>,
    shape: Option<(usize, usize)>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match shape {
        Some(s) => Array2::from_shape_vec(s, data)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_pyarray(py)
            .into_any(),
        None => data.into_pyarray(py).into_any(),
    })
}

fn wigner_typed<'py, T: Scalar + Element + Zeroable>(
    py: Python<'py>,
    n: usize,
    snr: f64,
    pr: hdcore_kernels::priors::Prior,
    seed: u64,
    packed: bool,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f64>>)> {
    let p = pool(n_threads)?;
    let (storage, len, shape) = if packed {
        let len = alloc::count("n", &[n, n.saturating_add(1)]).map(|c| c / 2);
        (SymStorage::Packed, len, None)
    } else {
        (SymStorage::Full, alloc::count("n", &[n, n]), Some((n, n)))
    };
    let len = len.map_err(|e| to_pyerr(e, None))?;
    let (y, x) = run(py, |_| {
        let mut y = alloc::zeroed::<T>("n", len)?;
        let mut x = alloc::zeroed::<f64>("n", n)?;
        spiked_wigner(&p, n, snr, &pr, seed, storage, &mut y, &mut x)?;
        Ok((y, x))
    })?;
    Ok((to_py(py, y, shape)?, x.into_pyarray(py)))
}

/// [`wigner_typed`] for bfloat16 storage, sampled straight into it and handed to numpy as the
/// uint16 bit patterns (no float64 temporary).
fn wigner_bf16<'py>(
    py: Python<'py>,
    n: usize,
    snr: f64,
    pr: hdcore_kernels::priors::Prior,
    seed: u64,
    packed: bool,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f64>>)> {
    use half::vec::HalfFloatVecExt;
    let p = pool(n_threads)?;
    let (storage, len, shape) = if packed {
        let len = alloc::count("n", &[n, n.saturating_add(1)]).map(|c| c / 2);
        (SymStorage::Packed, len, None)
    } else {
        (SymStorage::Full, alloc::count("n", &[n, n]), Some((n, n)))
    };
    let len = len.map_err(|e| to_pyerr(e, None))?;
    let (y, x) = run(py, |_| {
        let mut y = alloc::zeroed::<half::bf16>("n", len)?;
        let mut x = alloc::zeroed::<f64>("n", n)?;
        spiked_wigner(&p, n, snr, &pr, seed, storage, &mut y, &mut x)?;
        Ok((y, x))
    })?;
    let bits: Vec<u16> = y.reinterpret_into();
    Ok((to_py(py, bits, shape)?, x.into_pyarray(py)))
}

/// Spiked Wigner sample `(Y, x)`; `Y` dense `n x n`, or packed upper triangle when `packed`;
/// `dtype="bfloat16"` returns the uint16 bit patterns of the bfloat16 entries.
#[pyfunction]
#[pyo3(signature = (n, snr, prior_name, seed, *, rho=None, dtype="float64", packed=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sample_spiked_wigner<'py>(
    py: Python<'py>,
    n: usize,
    snr: f64,
    prior_name: &str,
    seed: u64,
    rho: Option<f64>,
    dtype: &str,
    packed: bool,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<f64>>)> {
    guard(|| {
        let pr = prior(prior_name, rho)?;
        let snr = finite(snr, "snr", 0.0)?;
        if n == 0 {
            return Err(PyValueError::new_err("`n` must be at least 1"));
        }
        match wigner_dtype(dtype)? {
            WignerDtype::F64 => wigner_typed::<f64>(py, n, snr, pr, seed, packed, n_threads),
            WignerDtype::F32 => wigner_typed::<f32>(py, n, snr, pr, seed, packed, n_threads),
            WignerDtype::Bf16 => wigner_bf16(py, n, snr, pr, seed, packed, n_threads),
        }
    })
}

type WishartOut<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

fn wishart_typed<'py, T: Scalar + Element + Zeroable>(
    py: Python<'py>,
    n: usize,
    d: usize,
    beta: f64,
    pr: hdcore_kernels::priors::Prior,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<WishartOut<'py>> {
    let p = pool(n_threads)?;
    let (x, u, v) = run(py, |_| {
        let mut x = alloc::zeroed::<T>("n", alloc::count("n", &[n, d])?)?;
        let (mut u, mut v) = (alloc::zeroed("d", d)?, alloc::zeroed("n", n)?);
        spiked_wishart(&p, n, d, beta, &pr, seed, &mut x, &mut u, &mut v)?;
        Ok((x, u, v))
    })?;
    Ok((
        to_py(py, x, Some((n, d)))?,
        u.into_pyarray(py),
        v.into_pyarray(py),
    ))
}

/// Spiked covariance sample `(X, u, v)`: `X` is `n x d`, rows `z + sqrt(beta/d) v_mu u`.
#[pyfunction]
#[pyo3(signature = (n, d, beta, prior_name, seed, *, rho=None, dtype="float64", n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sample_spiked_wishart<'py>(
    py: Python<'py>,
    n: usize,
    d: usize,
    beta: f64,
    prior_name: &str,
    seed: u64,
    rho: Option<f64>,
    dtype: &str,
    n_threads: Option<usize>,
) -> PyResult<WishartOut<'py>> {
    guard(|| {
        let pr = prior(prior_name, rho)?;
        let beta = finite(beta, "beta", 0.0)?;
        if n == 0 || d == 0 {
            return Err(PyValueError::new_err("`n` and `d` must be at least 1"));
        }
        if check_dtype(dtype)? {
            wishart_typed::<f32>(py, n, d, beta, pr, seed, n_threads)
        } else {
            wishart_typed::<f64>(py, n, d, beta, pr, seed, n_threads)
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sample_spiked_wigner, m)?)?;
    m.add_function(wrap_pyfunction!(sample_spiked_wishart, m)?)?;
    Ok(())
}
