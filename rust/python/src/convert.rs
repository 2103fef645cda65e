//! Conversion and validation of Python arguments. Every check names the argument.

use half::bf16;
use half::slice::HalfBitsSliceExt;
use hdcore_kernels::linalg::{all_finite, is_symmetric, Dense, LinearOperator, Scalar, SymPacked};
use hdcore_kernels::priors::{Mixture, Prior};
use hdcore_kernels::threads::ThreadPool;
use numpy::{
    Element, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

fn describe(obj: &Bound<'_, PyAny>) -> String {
    if let (Ok(dt), Ok(nd)) = (obj.getattr("dtype"), obj.getattr("ndim")) {
        format!("a {nd}-D array of dtype {dt}")
    } else {
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "an object".into())
    }
}

fn contiguous_error(name: &str) -> PyErr {
    PyValueError::new_err(format!(
        "`{name}` must be C-contiguous (use numpy.ascontiguousarray)"
    ))
}

fn nonfinite_error(name: &str) -> PyErr {
    PyValueError::new_err(format!("`{name}` contains NaN or infinity"))
}

/// A 1-D contiguous array of `T`, checked finite.
pub fn vector<'py, T: Element + Scalar>(
    pool: &ThreadPool,
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let arr = obj.cast::<PyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "`{name}` must be a 1-D numpy array of {}, got {}",
            std::any::type_name::<T>(),
            describe(obj)
        ))
    })?;
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
    let s = ro.as_slice().map_err(|_| contiguous_error(name))?;
    if !all_finite(pool, s) {
        return Err(nonfinite_error(name));
    }
    Ok(ro)
}

/// An optional 1-D float64 vector (`None` passes through).
pub fn opt_vector<'py>(
    pool: &ThreadPool,
    obj: Option<&Bound<'py, PyAny>>,
    name: &str,
) -> PyResult<Option<PyReadonlyArray1<'py, f64>>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(vector::<f64>(pool, o, name)?)),
        _ => Ok(None),
    }
}

/// The slice of an optional vector.
pub fn opt_slice<'a>(v: &'a Option<PyReadonlyArray1<'_, f64>>) -> PyResult<Option<&'a [f64]>> {
    Ok(match v {
        Some(a) => Some(a.as_slice()?),
        None => None,
    })
}

/// A matrix argument: dense 2-D or packed-symmetric 1-D, float64 or float32 storage, or
/// (symmetric matrices only, [`MatrixArg::extract_sym`]) bfloat16 storage held as the uint16 bit
/// patterns of its entries (numpy has no bfloat16 type).
pub enum MatrixArg<'py> {
    /// Dense float64.
    D64(PyReadonlyArray2<'py, f64>),
    /// Dense float32.
    D32(PyReadonlyArray2<'py, f32>),
    /// Packed upper triangle, float64, with its dimension.
    P64(PyReadonlyArray1<'py, f64>, usize),
    /// Packed upper triangle, float32, with its dimension.
    P32(PyReadonlyArray1<'py, f32>, usize),
    /// Dense bfloat16 (uint16 bit patterns).
    DB16(PyReadonlyArray2<'py, u16>),
    /// Packed upper triangle, bfloat16 (uint16 bit patterns), with its dimension.
    PB16(PyReadonlyArray1<'py, u16>, usize),
}

/// The bfloat16 values whose bit patterns `bits` holds (a reinterpretation, no copy).
pub fn as_bf16(bits: &[u16]) -> &[bf16] {
    bits.reinterpret_cast::<bf16>()
}

fn readonly1<'py, T: Element>(
    arr: &Bound<'py, PyArray1<T>>,
    name: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    arr.try_readonly()
        .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))
}

/// Check that bfloat16 bit patterns are finite (exponent bits not all set).
fn bf16_finite(pool: &ThreadPool, bits: &[u16], name: &str) -> PyResult<()> {
    if all_finite(pool, as_bf16(bits)) {
        Ok(())
    } else {
        Err(nonfinite_error(name))
    }
}

fn dense<'py, T: Element + Scalar>(
    pool: &ThreadPool,
    arr: &Bound<'py, PyArray2<T>>,
    name: &str,
    check_finite: bool,
) -> PyResult<PyReadonlyArray2<'py, T>> {
    let ro = arr
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
    let s = ro.as_slice().map_err(|_| contiguous_error(name))?;
    if check_finite && !all_finite(pool, s) {
        return Err(nonfinite_error(name));
    }
    Ok(ro)
}

impl<'py> MatrixArg<'py> {
    /// Like [`MatrixArg::extract`] for a dense matrix but without its finiteness scan (one
    /// extra pass over the matrix). Only for a single product whose output is checked instead:
    /// a NaN or infinite entry makes the product of its row (or column) non-finite.
    pub fn extract_lazy(pool: &ThreadPool, obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        if let Ok(a) = obj.cast::<PyArray2<f64>>() {
            Ok(Self::D64(dense(pool, a, name, false)?))
        } else if let Ok(a) = obj.cast::<PyArray2<f32>>() {
            Ok(Self::D32(dense(pool, a, name, false)?))
        } else if let Ok(a) = obj.cast::<PyArray2<u16>>() {
            let ro = a
                .try_readonly()
                .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
            ro.as_slice().map_err(|_| contiguous_error(name))?;
            Ok(Self::DB16(ro))
        } else {
            Self::extract_sym(pool, obj, None, name)
        }
    }

    /// Extract `obj` (a 2-D array, or a 1-D packed array when `packed_n` is given).
    pub fn extract(
        pool: &ThreadPool,
        obj: &Bound<'py, PyAny>,
        packed_n: Option<usize>,
        name: &str,
    ) -> PyResult<Self> {
        match packed_n {
            None => {
                if let Ok(a) = obj.cast::<PyArray2<f64>>() {
                    Ok(Self::D64(dense(pool, a, name, true)?))
                } else if let Ok(a) = obj.cast::<PyArray2<f32>>() {
                    Ok(Self::D32(dense(pool, a, name, true)?))
                } else {
                    Err(PyTypeError::new_err(format!(
                        "`{name}` must be a 2-D numpy array of float64 or float32, got {}",
                        describe(obj)
                    )))
                }
            }
            Some(n) => {
                let expected = n * (n + 1) / 2;
                let m = if obj.cast::<PyArray1<f64>>().is_ok() {
                    Self::P64(vector::<f64>(pool, obj, name)?, n)
                } else if obj.cast::<PyArray1<f32>>().is_ok() {
                    Self::P32(vector::<f32>(pool, obj, name)?, n)
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "packed `{name}` must be a 1-D numpy array of float64 or float32, got {}",
                        describe(obj)
                    )));
                };
                if m.len() != expected {
                    return Err(PyValueError::new_err(format!(
                        "packed `{name}` of a {n} x {n} matrix must have {expected} entries, got {}",
                        m.len()
                    )));
                }
                Ok(m)
            }
        }
    }

    /// [`MatrixArg::extract`] that also takes bfloat16 storage, as a uint16 array of bit
    /// patterns (dense 2-D, or packed 1-D when `packed_n` is given): for the symmetric-matrix
    /// entry points (AMP, mat-vecs, Lanczos), whose callers know the array came from a
    /// bfloat16 sampler.
    pub fn extract_sym(
        pool: &ThreadPool,
        obj: &Bound<'py, PyAny>,
        packed_n: Option<usize>,
        name: &str,
    ) -> PyResult<Self> {
        match packed_n {
            None => {
                if let Ok(a) = obj.cast::<PyArray2<u16>>() {
                    let ro = a
                        .try_readonly()
                        .map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
                    bf16_finite(
                        pool,
                        ro.as_slice().map_err(|_| contiguous_error(name))?,
                        name,
                    )?;
                    return Ok(Self::DB16(ro));
                }
            }
            Some(n) => {
                if let Ok(a) = obj.cast::<PyArray1<u16>>() {
                    let ro = readonly1(a, name)?;
                    let expected = n * (n + 1) / 2;
                    if ro.len() != expected {
                        return Err(PyValueError::new_err(format!(
                            "packed `{name}` of a {n} x {n} matrix must have {expected} entries, got {}",
                            ro.len()
                        )));
                    }
                    bf16_finite(
                        pool,
                        ro.as_slice().map_err(|_| contiguous_error(name))?,
                        name,
                    )?;
                    return Ok(Self::PB16(ro, n));
                }
            }
        }
        Self::extract(pool, obj, packed_n, name).map_err(|e| {
            if e.is_instance_of::<PyTypeError>(obj.py()) {
                PyTypeError::new_err(format!(
                    "`{name}` must be a numpy array of float64, float32 or bfloat16 bit patterns \
                     (uint16), dense 2-D or packed 1-D with `packed_n`, got {}",
                    describe(obj)
                ))
            } else {
                e
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Self::D64(a) => a.len(),
            Self::D32(a) => a.len(),
            Self::P64(a, _) => a.len(),
            Self::P32(a, _) => a.len(),
            Self::DB16(a) => a.len(),
            Self::PB16(a, _) => a.len(),
        }
    }

    /// (rows, columns).
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Self::D64(a) => (a.shape()[0], a.shape()[1]),
            Self::D32(a) => (a.shape()[0], a.shape()[1]),
            Self::DB16(a) => (a.shape()[0], a.shape()[1]),
            Self::P64(_, n) | Self::P32(_, n) | Self::PB16(_, n) => (*n, *n),
        }
    }

    /// The kernel operator viewing this array (no copy).
    pub fn operator(&self) -> PyResult<Box<dyn LinearOperator + '_>> {
        let err = |e: hdcore_kernels::KernelError| PyValueError::new_err(e.to_string());
        Ok(match self {
            Self::D64(a) => {
                Box::new(Dense::new(a.as_slice()?, a.shape()[0], a.shape()[1]).map_err(err)?)
            }
            Self::D32(a) => {
                Box::new(Dense::new(a.as_slice()?, a.shape()[0], a.shape()[1]).map_err(err)?)
            }
            Self::P64(a, n) => Box::new(SymPacked::new(a.as_slice()?, *n).map_err(err)?),
            Self::P32(a, n) => Box::new(SymPacked::new(a.as_slice()?, *n).map_err(err)?),
            Self::DB16(a) => Box::new(
                Dense::new(as_bf16(a.as_slice()?), a.shape()[0], a.shape()[1]).map_err(err)?,
            ),
            Self::PB16(a, n) => Box::new(SymPacked::new(as_bf16(a.as_slice()?), *n).map_err(err)?),
        })
    }

    /// Check that a dense matrix is square and symmetric (packed storage is symmetric by
    /// construction). The check is exact: AMP's Onsager term assumes symmetry.
    pub fn check_symmetric(&self, pool: &ThreadPool, name: &str) -> PyResult<()> {
        let (r, c) = self.shape();
        if r != c {
            return Err(PyValueError::new_err(format!(
                "`{name}` must be square, got shape ({r}, {c})"
            )));
        }
        let ok = match self {
            Self::D64(a) => is_symmetric(pool, a.as_slice()?, r),
            Self::D32(a) => is_symmetric(pool, a.as_slice()?, r),
            Self::DB16(a) => is_symmetric(pool, as_bf16(a.as_slice()?), r),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!("`{name}` must be symmetric")))
        }
    }
}

/// Parse a built-in prior name and its parameter.
pub fn prior(name: &str, rho: Option<f64>) -> PyResult<Prior> {
    let p = match name {
        "gaussian" => Prior::Gaussian,
        "rademacher" => Prior::Rademacher,
        "spherical" => Prior::Spherical,
        "sparse_rademacher" => {
            let rho = rho.ok_or_else(|| PyValueError::new_err("`rho` is required for the sparse_rademacher prior"))?;
            Prior::sparse_rademacher(rho).map_err(|e| PyValueError::new_err(e.to_string()))?
        }
        "gauss_bernoulli" | "binary" => {
            let rho = rho.ok_or_else(|| PyValueError::new_err(format!("`rho` is required for the {name} prior")))?;
            let made = if name == "binary" { Prior::binary(rho) } else { Prior::gauss_bernoulli(rho) };
            made.map_err(|e| PyValueError::new_err(e.to_string()))?
        }
        "exponential" => Prior::Exponential,
        "positive" => Prior::Positive,
        "laplace" => Prior::Laplace,
        other if other.starts_with("gauss_mixture(") => mixture(other)?,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown prior {other:?}; expected one of 'gaussian', 'rademacher', 'sparse_rademacher', 'spherical', \
                 'gauss_bernoulli', 'binary', 'exponential', 'positive', 'laplace', 'gauss_mixture(w..;m..;v..)'"
            )))
        }
    };
    Ok(p)
}

/// Parse the canonical name `gauss_mixture(w1,..,wK;m1,..,mK;v1,..,vK)` of a Gaussian mixture
/// (what `hdcore.ingredients.GaussMixture.name` gives).
fn mixture(name: &str) -> PyResult<Prior> {
    let bad = || {
        PyValueError::new_err(format!(
        "cannot read the Gaussian mixture {name:?}; expected 'gauss_mixture(w1,..,wK;m1,..,mK;v1,..,vK)'"
    ))
    };
    let inner = name
        .strip_prefix("gauss_mixture(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(bad)?;
    let parts: Vec<Vec<f64>> = inner
        .split(';')
        .map(|part| {
            part.split(',')
                .map(|t| t.trim().parse::<f64>())
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    if parts.len() != 3 {
        return Err(bad());
    }
    let mix = Mixture::new(&parts[0], &parts[1], &parts[2])
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Prior::GaussMixture(mix))
}

/// Check a finite scalar in a range.
pub fn finite(value: f64, name: &str, min: f64) -> PyResult<f64> {
    if value.is_finite() && value >= min {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!(
            "`{name}` must be finite and >= {min}, got {value}"
        )))
    }
}
