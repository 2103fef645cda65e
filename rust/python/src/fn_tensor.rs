//! Spiked matrix-tensor samples and 3-tensor contractions.

use crate::convert::{prior, vector};
use crate::errors::to_pyerr;
use crate::runtime::{ensure_fits, guard, pool, run};
use hdcore_kernels::alloc::{self, Zeroable};
use hdcore_kernels::linalg::tensor3::{contract_all, mode_contract};
use hdcore_kernels::linalg::Scalar;
use hdcore_kernels::models::matrix_tensor::{sample_matrix_tensor, MatrixTensorSpec};
use hdcore_kernels::priors::Prior;
use numpy::ndarray::{Array2, Array3};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray3, PyArrayMethods, PyReadonlyArray3,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

type SampleOut<'py> = (
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
    [Bound<'py, PyArray1<f64>>; 4],
);

fn sample_typed<'py, T: Scalar + Element + Zeroable>(
    py: Python<'py>,
    spec: MatrixTensorSpec,
    priors: [Prior; 4],
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<SampleOut<'py>> {
    let p = pool(n_threads)?;
    let [n1, n2, n3, n4] = spec.dims;
    let want_m = spec.delta_m.is_finite();
    let want_t = spec.delta_t.is_finite();
    let m_len = if want_m { alloc::count("n1", &[n1, n2]) } else { Ok(0) };
    let t_len = if want_t { alloc::count("n1", &[n1, n3, n4]) } else { Ok(0) };
    let (m_len, t_len) = (m_len.map_err(|e| to_pyerr(e, None))?, t_len.map_err(|e| to_pyerr(e, None))?);
    ensure_fits(&[
        ("n1", alloc::bytes::<T>("n1", &[t_len])),
        ("n1", alloc::bytes::<T>("n1", &[m_len])),
    ])?;
    let (ym, yt, f) = run(py, |_| {
        let mut ym = alloc::zeroed::<T>("n1", m_len)?;
        let mut yt = alloc::zeroed::<T>("n1", t_len)?;
        let mut f = Vec::with_capacity(4);
        for n in spec.dims {
            f.push(alloc::zeroed::<f64>("n1", n)?);
        }
        let [a, b, c, d] = &mut f[..] else { unreachable!() };
        sample_matrix_tensor(
            &p,
            &spec,
            &priors,
            seed,
            want_m.then_some(&mut ym[..]),
            want_t.then_some(&mut yt[..]),
            [a, b, c, d],
        )?;
        Ok((ym, yt, f))
    })?;
    let err = |e: numpy::ndarray::ShapeError| PyValueError::new_err(e.to_string());
    let ym = if want_m {
        Some(Array2::from_shape_vec((n1, n2), ym).map_err(err)?.into_pyarray(py).into_any())
    } else {
        None
    };
    let yt = if want_t {
        Some(Array3::from_shape_vec((n1, n3, n4), yt).map_err(err)?.into_pyarray(py).into_any())
    } else {
        None
    };
    let mut it = f.into_iter().map(|v| v.into_pyarray(py));
    let f = [(); 4].map(|_| it.next().expect("four factors"));
    Ok((ym, yt, f))
}

/// Spiked matrix-tensor sample `(Y_m or None, Y_t or None, [u, v, x, y])`.
#[pyfunction]
#[pyo3(signature = (dims, delta_m, delta_t, priors, seed, *, rhos=None, dtype="float64", n_threads=None))]
#[allow(clippy::too_many_arguments)]
#[pyo3(name = "sample_matrix_tensor")]
fn sample_matrix_tensor_py<'py>(
    py: Python<'py>,
    dims: [usize; 4],
    delta_m: f64,
    delta_t: f64,
    priors: [String; 4],
    seed: u64,
    rhos: Option<[Option<f64>; 4]>,
    dtype: &str,
    n_threads: Option<usize>,
) -> PyResult<SampleOut<'py>> {
    guard(|| {
        let rhos = rhos.unwrap_or([None; 4]);
        let mut pr = [Prior::Gaussian; 4];
        for k in 0..4 {
            pr[k] = prior(&priors[k], rhos[k])?;
            if matches!(pr[k], Prior::Spherical) {
                return Err(PyValueError::new_err(
                    "the spherical prior is not separable: use 'gaussian' for the matrix-tensor model",
                ));
            }
        }
        for (name, d) in [("delta_m", delta_m), ("delta_t", delta_t)] {
            if !(d > 0.0) {
                return Err(PyValueError::new_err(format!(
                    "`{name}` must be > 0 (infinity drops the modality), got {d}"
                )));
            }
        }
        if dims.contains(&0) {
            return Err(PyValueError::new_err(format!("every dimension must be >= 1, got {dims:?}")));
        }
        let spec = MatrixTensorSpec { dims, delta_m, delta_t };
        match dtype {
            "float64" => sample_typed::<f64>(py, spec, pr, seed, n_threads),
            "float32" => sample_typed::<f32>(py, spec, pr, seed, n_threads),
            other => Err(PyValueError::new_err(format!(
                "`dtype` must be 'float64' or 'float32', got {other:?}"
            ))),
        }
    })
}

/// A C-contiguous 3-D float64 or float32 array.
enum Tensor<'py> {
    F64(PyReadonlyArray3<'py, f64>),
    F32(PyReadonlyArray3<'py, f32>),
}

impl<'py> Tensor<'py> {
    fn extract(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        fn ro<'py, T: Element>(a: &Bound<'py, PyArray3<T>>, name: &str) -> PyResult<PyReadonlyArray3<'py, T>> {
            let r = a.try_readonly().map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
            if !r.is_c_contiguous() {
                return Err(PyValueError::new_err(format!(
                    "`{name}` must be C-contiguous (use numpy.ascontiguousarray)"
                )));
            }
            Ok(r)
        }
        if let Ok(a) = obj.cast::<PyArray3<f64>>() {
            Ok(Self::F64(ro(a, name)?))
        } else if let Ok(a) = obj.cast::<PyArray3<f32>>() {
            Ok(Self::F32(ro(a, name)?))
        } else {
            Err(PyTypeError::new_err(format!(
                "`{name}` must be a 3-D numpy array of float64 or float32"
            )))
        }
    }

    fn dims(&self) -> [usize; 3] {
        let s = match self {
            Self::F64(a) => a.shape().to_vec(),
            Self::F32(a) => a.shape().to_vec(),
        };
        [s[0], s[1], s[2]]
    }
}

fn nonfinite(out: &[f64]) -> PyResult<()> {
    if out.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        // the vectors are finite, so a non-finite result means a non-finite entry (or overflow)
        Err(PyValueError::new_err("`t` contains NaN or infinity (or the contraction overflowed)"))
    }
}

/// `(T(., x, y), T(u, ., y), T(u, x, .))` of a 3-D array in one pass.
#[pyfunction]
#[pyo3(signature = (t, u, x, y, *, n_threads=None))]
fn tensor3_contract<'py>(
    py: Python<'py>,
    t: &Bound<'py, PyAny>,
    u: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    guard(|| {
        let p = pool(n_threads)?;
        let t = Tensor::extract(t, "t")?;
        let (u, x, y) = (vector::<f64>(&p, u, "u")?, vector::<f64>(&p, x, "x")?, vector::<f64>(&p, y, "y")?);
        let (us, xs, ys) = (u.as_slice()?, x.as_slice()?, y.as_slice()?);
        let dims = t.dims();
        let out = match &t {
            Tensor::F64(a) => {
                let s = a.as_slice()?;
                run(py, |_| contract_all(&p, s, dims, us, xs, ys))?
            }
            Tensor::F32(a) => {
                let s = a.as_slice()?;
                run(py, |_| contract_all(&p, s, dims, us, xs, ys))?
            }
        };
        nonfinite(&out.a)?;
        nonfinite(&out.b)?;
        nonfinite(&out.c)?;
        Ok((out.a.into_pyarray(py), out.b.into_pyarray(py), out.c.into_pyarray(py)))
    })
}

/// `sum_i e_i T[i]` of a 3-D array (an `n3 x n4` matrix).
#[pyfunction]
#[pyo3(signature = (t, e, *, n_threads=None))]
fn tensor3_mode_contract<'py>(
    py: Python<'py>,
    t: &Bound<'py, PyAny>,
    e: &Bound<'py, PyAny>,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let p = pool(n_threads)?;
        let t = Tensor::extract(t, "t")?;
        let e = vector::<f64>(&p, e, "e")?;
        let es = e.as_slice()?;
        let dims = t.dims();
        let m = match &t {
            Tensor::F64(a) => {
                let s = a.as_slice()?;
                run(py, |_| mode_contract(&p, s, dims, es))?
            }
            Tensor::F32(a) => {
                let s = a.as_slice()?;
                run(py, |_| mode_contract(&p, s, dims, es))?
            }
        };
        nonfinite(&m)?;
        let arr = Array2::from_shape_vec((dims[1], dims[2]), m)
            .map_err(|err| PyValueError::new_err(err.to_string()))?;
        Ok(arr.into_pyarray(py).into_any())
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sample_matrix_tensor_py, m)?)?;
    m.add_function(wrap_pyfunction!(tensor3_contract, m)?)?;
    m.add_function(wrap_pyfunction!(tensor3_mode_contract, m)?)?;
    Ok(())
}
