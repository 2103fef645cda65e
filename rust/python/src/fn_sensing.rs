//! Matrix sensing: samplers, implicit sensing operators, GAMP-RIE, nuclear-norm GAMP,
//! factorised gradient descent.
//!
//! A sensing operator is named by `kind` -- `"quadratic"` (needs the inputs `x`, `n x d`),
//! `"gaussian_symmetric"` (`seed`, `n`, `d1 = d2 = d`) or `"gaussian_rect"` (`seed`, `n`, `d1`,
//! `d2`); the Gaussian ones regenerate their matrices from `seed`.

use crate::convert::{finite, vector};
use crate::errors::to_pyerr;
use crate::fn_rmt::{matrix64, to_array2};
use crate::runtime::guard;
use crate::runtime::zeros;
use crate::runtime::{ensure_fits, pool, run};
use hdcore_kernels::alloc::bytes;
use hdcore_kernels::rmt::SpectralPrior;
use hdcore_kernels::sensing::models::{
    gaussian_inputs, labels, network_labels, product_teacher, wishart_teacher,
};
use hdcore_kernels::sensing::{
    gamp_rie as k_gamp, gd as k_gd, gd_averaged, nuclear_norm_fista as k_fista,
    nuclear_norm_gamp as k_nuclear_gamp, operator_norm2, Factors, FistaOptions, FistaState,
    GampOptions, GampOutput, GaussianRect, GaussianSymmetric, GdOptions, Quadratic,
    SensingOperator,
};
use hdcore_kernels::threads::ThreadPool;
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

type F64Array<'py> = Bound<'py, PyArray1<f64>>;
type Mat<'py> = Bound<'py, PyArray2<f64>>;

/// The arrays an operator borrows (kept alive while it is used).
struct OpData<'py> {
    x: Option<(PyReadonlyArray2<'py, f64>, usize, usize)>,
}

fn op_data<'py>(
    p: &ThreadPool,
    kind: &str,
    x: Option<&Bound<'py, PyAny>>,
) -> PyResult<OpData<'py>> {
    match kind {
        "quadratic" => {
            let x = x.ok_or_else(|| PyValueError::new_err("`x` (the n x d inputs) is required for quadratic sensing"))?;
            Ok(OpData { x: Some(matrix64(p, x, "x")?) })
        }
        "gaussian_symmetric" | "gaussian_rect" => Ok(OpData { x: None }),
        other => Err(PyValueError::new_err(format!(
            "unknown sensing kind {other:?}; expected 'quadratic', 'gaussian_symmetric' or 'gaussian_rect'"
        ))),
    }
}

fn operator<'a>(
    kind: &str,
    data: &'a OpData<'_>,
    seed: u64,
    n: usize,
    d1: usize,
    d2: usize,
) -> PyResult<Box<dyn SensingOperator + 'a>> {
    let err = |e| to_pyerr(e, None);
    Ok(match kind {
        "quadratic" => {
            let (x, rows, cols) = data
                .x
                .as_ref()
                .ok_or_else(|| PyValueError::new_err("`x` is required"))?;
            Box::new(Quadratic::new(x.as_slice()?, *rows, *cols).map_err(err)?)
        }
        "gaussian_symmetric" => {
            if d1 != d2 {
                return Err(PyValueError::new_err(format!(
                    "symmetric sensing needs d1 == d2, got {d1} and {d2}"
                )));
            }
            Box::new(GaussianSymmetric::new(seed, n, d1).map_err(err)?)
        }
        _ => Box::new(GaussianRect::new(seed, n, d1, d2).map_err(err)?),
    })
}

fn prior(kind: &str, params: &[f64]) -> PyResult<SpectralPrior> {
    let p = match (kind, params.len()) {
        ("wishart", 1) => SpectralPrior::Wishart { kappa: params[0] },
        ("product", 2) => SpectralPrior::Product {
            aspect: params[0],
            rank: params[1],
        },
        ("wishart", k) | ("product", k) => {
            return Err(PyValueError::new_err(format!(
                "prior {kind:?} got {k} parameters (wishart: [kappa]; product: [aspect, rank])"
            )))
        }
        (other, _) => {
            return Err(PyValueError::new_err(format!(
                "unknown prior {other:?}; expected 'wishart' or 'product'"
            )))
        }
    };
    p.validate().map_err(|e| to_pyerr(e, None))?;
    Ok(p)
}

fn check_len(v: &[f64], n: usize, name: &str) -> PyResult<()> {
    if v.len() == n {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "`{name}` has {} entries, expected {n}",
            v.len()
        )))
    }
}

/// `(<A_mu, S>)_mu`.
#[pyfunction]
#[pyo3(signature = (kind, s, *, x=None, seed=0, n=0, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sensing_forward<'py>(
    py: Python<'py>,
    kind: &str,
    s: &Bound<'py, PyAny>,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    n: usize,
    n_threads: Option<usize>,
) -> PyResult<F64Array<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        let data = op_data(&p, kind, x)?;
        let (sm, r, c) = matrix64(&p, s, "s")?;
        let op = operator(kind, &data, seed, n, r, c)?;
        if op.rows() != r || op.cols() != c {
            return Err(PyValueError::new_err(format!(
                "`s` has shape ({r}, {c}), expected ({}, {})",
                op.rows(),
                op.cols()
            )));
        }
        let ss = sm.as_slice()?;
        let op = &*op;
        // the output and one design matrix per thread
        ensure_fits(&[
            ("n", bytes::<f64>("n", &[op.n_samples()])),
            ("s", bytes::<f64>("s", &[p.current_num_threads(), r, c])),
        ])?;
        let out = run(py, |_| {
            let mut h = zeros("n", &[op.n_samples()])?;
            op.forward(&p, ss, &mut h)?;
            Ok(h)
        })?;
        Ok(out.into_pyarray(py))
    })
}

/// `sum_mu g_mu A_mu` as a `d1 x d2` matrix.
#[pyfunction]
#[pyo3(signature = (kind, g, *, x=None, seed=0, d1=0, d2=0, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sensing_adjoint<'py>(
    py: Python<'py>,
    kind: &str,
    g: &Bound<'py, PyAny>,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    d1: usize,
    d2: usize,
    n_threads: Option<usize>,
) -> PyResult<Mat<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        let data = op_data(&p, kind, x)?;
        let g = vector::<f64>(&p, g, "g")?;
        let gs = g.as_slice()?;
        let op = operator(kind, &data, seed, gs.len(), d1, d2)?;
        let (r, c) = (op.rows(), op.cols());
        let op = &*op;
        // the output and one design matrix and partial sum per thread
        ensure_fits(&[(
            "d1",
            bytes::<f64>("d1", &[2 * p.current_num_threads() + 1, r, c]),
        )])?;
        let out = run(py, |_| {
            let mut m = zeros("d1", &[r, c])?;
            op.adjoint(&p, gs, &mut m)?;
            Ok(m)
        })?;
        to_array2(py, out, r, c)
    })
}

/// The normalised Gaussian sensing matrices `A_mu`, `mu` in `start..stop` (small sizes only).
#[pyfunction]
#[pyo3(signature = (kind, seed, start, stop, d1, d2))]
fn sensing_design<'py>(
    py: Python<'py>,
    kind: &str,
    seed: u64,
    start: usize,
    stop: usize,
    d1: usize,
    d2: usize,
) -> PyResult<Bound<'py, PyArray3<f64>>> {
    guard(|| {
        if stop < start {
            return Err(PyValueError::new_err("`stop` must be >= `start`"));
        }
        let count = stop - start;
        if count.max(1).saturating_mul(d1).saturating_mul(d2) > 1 << 28 {
            return Err(PyValueError::new_err(
                "the requested design has more than 2^28 entries; use the implicit operators",
            ));
        }
        let data = match kind {
            "gaussian_symmetric" => {
                let op =
                    GaussianSymmetric::new(seed, stop.max(1), d1).map_err(|e| to_pyerr(e, None))?;
                if d1 != d2 {
                    return Err(PyValueError::new_err("symmetric sensing needs d1 == d2"));
                }
                let d = d1;
                let scale = 1.0 / (d as f64).sqrt();
                let mut out = zeros("count", &[count, d, d]).map_err(|e| to_pyerr(e, None))?;
                let mut buf = vec![0.0; d * (d + 1) / 2];
                for (k, mu) in (start..stop).enumerate() {
                    op.upper(mu, &mut buf);
                    let mut t = 0;
                    for i in 0..d {
                        for j in i..d {
                            out[k * d * d + i * d + j] = buf[t] * scale;
                            out[k * d * d + j * d + i] = buf[t] * scale;
                            t += 1;
                        }
                    }
                }
                out
            }
            "gaussian_rect" => {
                let op =
                    GaussianRect::new(seed, stop.max(1), d1, d2).map_err(|e| to_pyerr(e, None))?;
                let scale = 1.0 / ((d1 * d2) as f64).sqrt();
                let mut out = zeros("count", &[count, d1, d2]).map_err(|e| to_pyerr(e, None))?;
                for (k, mu) in (start..stop).enumerate() {
                    let chunk = &mut out[k * d1 * d2..(k + 1) * d1 * d2];
                    op.matrix(mu, chunk);
                    chunk.iter_mut().for_each(|v| *v *= scale);
                }
                out
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "`kind` must be 'gaussian_symmetric' or 'gaussian_rect', got {other:?}"
                )))
            }
        };
        Ok(Array3::from_shape_vec((count, d1, d2), data)
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_pyarray(py))
    })
}

/// Wishart teacher `(W, S = W^T W / m)`.
#[pyfunction]
#[pyo3(signature = (d, m, seed, n_threads=None))]
fn sample_wishart_teacher<'py>(
    py: Python<'py>,
    d: usize,
    m: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<(Mat<'py>, Mat<'py>)> {
    guard(|| {
        let p = pool(n_threads)?;
        let (w, s) = run(py, |_| wishart_teacher(&p, d, m, seed))?;
        Ok((to_array2(py, w, m, d)?, to_array2(py, s, d, d)?))
    })
}

/// Product teacher `(V, U, S = V U / sqrt(r))`.
#[pyfunction]
#[pyo3(signature = (rows, cols, r, seed, n_threads=None))]
fn sample_product_teacher<'py>(
    py: Python<'py>,
    rows: usize,
    cols: usize,
    r: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<(Mat<'py>, Mat<'py>, Mat<'py>)> {
    guard(|| {
        let p = pool(n_threads)?;
        let (v, u, s) = run(py, |_| product_teacher(&p, rows, cols, r, seed))?;
        Ok((
            to_array2(py, v, rows, r)?,
            to_array2(py, u, r, cols)?,
            to_array2(py, s, rows, cols)?,
        ))
    })
}

/// `n x d` i.i.d. N(0, 1) inputs.
#[pyfunction]
#[pyo3(signature = (n, d, seed, n_threads=None))]
fn sample_inputs<'py>(
    py: Python<'py>,
    n: usize,
    d: usize,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<Mat<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        ensure_fits(&[("n", bytes::<f64>("n", &[n, d]))])?;
        let x = run(py, |_| Ok(gaussian_inputs(&p, n, d, seed)))?;
        to_array2(py, x, n, d)
    })
}

/// Labels `<A_mu, S> + sqrt(noise) xi_mu`.
#[pyfunction]
#[pyo3(signature = (kind, s, noise, seed, *, x=None, design_seed=0, n=0, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sensing_labels<'py>(
    py: Python<'py>,
    kind: &str,
    s: &Bound<'py, PyAny>,
    noise: f64,
    seed: u64,
    x: Option<&Bound<'py, PyAny>>,
    design_seed: u64,
    n: usize,
    n_threads: Option<usize>,
) -> PyResult<F64Array<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        let noise = finite(noise, "noise", 0.0)?;
        let data = op_data(&p, kind, x)?;
        let (sm, r, c) = matrix64(&p, s, "s")?;
        let op = operator(kind, &data, design_seed, n, r, c)?;
        let ss = sm.as_slice()?;
        let op = &*op;
        ensure_fits(&[
            ("n", bytes::<f64>("n", &[2, op.n_samples()])),
            ("s", bytes::<f64>("s", &[p.current_num_threads(), r, c])),
        ])?;
        let y = run(py, |_| labels(&p, op, ss, noise, seed))?;
        Ok(y.into_pyarray(py))
    })
}

/// Labels of the quadratic network in sensing units (pre-activation noise `sigma`).
#[pyfunction]
#[pyo3(signature = (x, w, sigma, seed, n_threads=None))]
fn quadratic_network_labels<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    sigma: f64,
    seed: u64,
    n_threads: Option<usize>,
) -> PyResult<F64Array<'py>> {
    guard(|| {
        let p = pool(n_threads)?;
        let (xm, n, d) = matrix64(&p, x, "x")?;
        let (wm, m, d2) = matrix64(&p, w, "w")?;
        if d2 != d {
            return Err(PyValueError::new_err(format!(
                "`w` has {d2} columns, expected d = {d}"
            )));
        }
        let (xs, ws) = (xm.as_slice()?, wm.as_slice()?);
        let y = run(py, |_| network_labels(&p, xs, ws, n, d, m, sigma, seed))?;
        Ok(y.into_pyarray(py))
    })
}

/// The validated inputs of a GAMP call on a sensing operator.
struct GampInputs<'py> {
    y: numpy::PyReadonlyArray1<'py, f64>,
    init: PyReadonlyArray2<'py, f64>,
    truth: Option<PyReadonlyArray2<'py, f64>>,
    opts: GampOptions,
}

#[allow(clippy::too_many_arguments)]
fn gamp_inputs<'py>(
    p: &ThreadPool,
    op: &dyn SensingOperator,
    y: numpy::PyReadonlyArray1<'py, f64>,
    init: &Bound<'py, PyAny>,
    truth: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
) -> PyResult<GampInputs<'py>> {
    if !(0.0..1.0).contains(&damping) {
        return Err(PyValueError::new_err(format!(
            "`damping` must be in [0, 1), got {damping}"
        )));
    }
    let tol = finite(tol, "tol", 0.0)?;
    let (r, c) = (op.rows(), op.cols());
    // fields and estimates (several d1 x d2), per-thread design matrices, per-sample state
    ensure_fits(&[
        (
            "d1",
            bytes::<f64>("d1", &[8 + 2 * p.current_num_threads(), r, c]),
        ),
        ("y", bytes::<f64>("y", &[6, op.n_samples()])),
    ])?;
    let (im, ir, ic) = matrix64(p, init, "init")?;
    if (ir, ic) != (r, c) {
        return Err(PyValueError::new_err(format!(
            "`init` has shape ({ir}, {ic}), expected ({r}, {c})"
        )));
    }
    check_len(im.as_slice()?, r * c, "init")?;
    let truth = opt_truth(p, truth, r, c)?;
    Ok(GampInputs {
        y,
        init: im,
        truth,
        opts: GampOptions {
            n_iter,
            damping,
            tol,
        },
    })
}

fn gamp_dict<'py>(
    py: Python<'py>,
    out: GampOutput,
    r: usize,
    c: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("estimate", to_array2(py, out.estimate, r, c)?)?;
    d.set_item("mse", out.mse.into_pyarray(py))?;
    d.set_item("delta_eff", out.delta_eff.into_pyarray(py))?;
    d.set_item("mmse", out.mmse.into_pyarray(py))?;
    d.set_item("variance", out.variance.into_pyarray(py))?;
    d.set_item("diff", out.diff.into_pyarray(py))?;
    d.set_item("n_iter", out.n_iter)?;
    d.set_item("converged", out.converged)?;
    Ok(d)
}

/// GAMP-RIE (see `hdcore_kernels::sensing::gamp_rie`).
#[pyfunction]
#[pyo3(signature = (kind, y, noise, prior_kind, prior_params, init, init_mmse, *, x=None, seed=0, d1=0, d2=0, truth=None, n_iter=100, damping=0.0, tol=1e-8, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gamp_rie<'py>(
    py: Python<'py>,
    kind: &str,
    y: &Bound<'py, PyAny>,
    noise: f64,
    prior_kind: &str,
    prior_params: Vec<f64>,
    init: &Bound<'py, PyAny>,
    init_mmse: f64,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    d1: usize,
    d2: usize,
    truth: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let pr = prior(prior_kind, &prior_params)?;
        let noise = finite(noise, "noise", 0.0)?;
        let data = op_data(&p, kind, x)?;
        let y = vector::<f64>(&p, y, "y")?;
        let op = operator(kind, &data, seed, y.as_slice()?.len(), d1, d2)?;
        let op = &*op;
        let inp = gamp_inputs(&p, op, y, init, truth, n_iter, damping, tol)?;
        let (ys, is) = (inp.y.as_slice()?, inp.init.as_slice()?);
        let ts = match &inp.truth {
            Some(t) => Some(t.as_slice()?),
            None => None,
        };
        let opts = inp.opts;
        let out = run(py, |ctl| {
            k_gamp(&p, op, ys, noise, &pr, is, init_mmse, ts, opts, ctl)
        })?;
        gamp_dict(py, out, op.rows(), op.cols())
    })
}

/// Nuclear-norm GAMP (see `hdcore_kernels::sensing::gamp_nuclear`).
#[pyfunction]
#[pyo3(signature = (kind, y, lam, psd, init, init_variance, *, x=None, seed=0, d1=0, d2=0, truth=None, n_iter=500, damping=0.0, tol=1e-12, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn nuclear_norm_gamp<'py>(
    py: Python<'py>,
    kind: &str,
    y: &Bound<'py, PyAny>,
    lam: f64,
    psd: bool,
    init: &Bound<'py, PyAny>,
    init_variance: f64,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    d1: usize,
    d2: usize,
    truth: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let lam = finite(lam, "lam", 0.0)?;
        let init_variance = finite(init_variance, "init_variance", 0.0)?;
        if init_variance == 0.0 {
            return Err(PyValueError::new_err("`init_variance` must be > 0, got 0"));
        }
        if kind == "gaussian_rect" {
            return Err(PyValueError::new_err(
                "`kind` must be a symmetric operator ('quadratic' or 'gaussian_symmetric')",
            ));
        }
        let data = op_data(&p, kind, x)?;
        let y = vector::<f64>(&p, y, "y")?;
        let op = operator(kind, &data, seed, y.as_slice()?.len(), d1, d2)?;
        let op = &*op;
        let inp = gamp_inputs(&p, op, y, init, truth, n_iter, damping, tol)?;
        let (ys, is) = (inp.y.as_slice()?, inp.init.as_slice()?);
        let ts = match &inp.truth {
            Some(t) => Some(t.as_slice()?),
            None => None,
        };
        let opts = inp.opts;
        let out = run(py, |ctl| {
            k_nuclear_gamp(&p, op, ys, lam, psd, is, init_variance, ts, opts, ctl)
        })?;
        gamp_dict(py, out, op.rows(), op.cols())
    })
}

/// FISTA for nuclear-norm penalised least squares (see `hdcore_kernels::sensing::fista`):
/// `n_iter` iterations from `(init, z, t, lam)`, or until the relative change is below `tol`.
/// `step=None` computes `1 / (1.05 ||A^T A||)` by 30 power iterations; `lam_floor=None` keeps
/// `lam` fixed (`decay` must then be 1).
#[pyfunction]
#[pyo3(signature = (kind, y, lam, init, *, x=None, seed=0, d1=0, d2=0, z=None, t=1.0, step=None, lam_floor=None, decay=1.0, psd=false, n_iter=1000, tol=1e-10, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn nuclear_norm_fista<'py>(
    py: Python<'py>,
    kind: &str,
    y: &Bound<'py, PyAny>,
    lam: f64,
    init: &Bound<'py, PyAny>,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    d1: usize,
    d2: usize,
    z: Option<&Bound<'py, PyAny>>,
    t: f64,
    step: Option<f64>,
    lam_floor: Option<f64>,
    decay: f64,
    psd: bool,
    n_iter: usize,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let lam = finite(lam, "lam", 0.0)?;
        let t = finite(t, "t", 1.0)?;
        let tol = finite(tol, "tol", 0.0)?;
        let decay = finite(decay, "decay", 0.0)?;
        if !(decay > 0.0 && decay <= 1.0) {
            return Err(PyValueError::new_err(format!(
                "`decay` must be in (0, 1], got {decay}"
            )));
        }
        let lam_floor = match lam_floor {
            Some(f) => finite(f, "lam_floor", 0.0)?,
            None if decay == 1.0 => lam,
            None => {
                return Err(PyValueError::new_err(
                    "`lam_floor` is required when `decay` < 1",
                ))
            }
        };
        let step = match step {
            Some(s) => {
                let s = finite(s, "step", 0.0)?;
                if s == 0.0 {
                    return Err(PyValueError::new_err("`step` must be > 0, got 0"));
                }
                Some(s)
            }
            None => None,
        };
        let data = op_data(&p, kind, x)?;
        let y = vector::<f64>(&p, y, "y")?;
        let op = operator(kind, &data, seed, y.as_slice()?.len(), d1, d2)?;
        let op = &*op;
        let (r, c) = (op.rows(), op.cols());
        if psd && !op.symmetric() {
            return Err(PyValueError::new_err(
                "`psd` needs a symmetric operator ('quadratic' or 'gaussian_symmetric')",
            ));
        }
        // x, z, gradient, eigenvectors and faer's scratch (several d1 x d2), residuals
        ensure_fits(&[
            ("d1", bytes::<f64>("d1", &[12, r, c])),
            ("y", bytes::<f64>("y", &[2, op.n_samples()])),
        ])?;
        let shaped = |a: &Bound<'py, PyAny>, name: &'static str| -> PyResult<Vec<f64>> {
            let (m, mr, mc) = matrix64(&p, a, name)?;
            if (mr, mc) != (r, c) {
                return Err(PyValueError::new_err(format!(
                    "`{name}` has shape ({mr}, {mc}), expected ({r}, {c})"
                )));
            }
            Ok(m.as_slice()?.to_vec())
        };
        let xs = shaped(init, "init")?;
        let zs = match z {
            Some(z) => shaped(z, "z")?,
            None => xs.clone(),
        };
        let state = FistaState {
            x: xs,
            z: zs,
            t,
            lam,
        };
        let ys = y.as_slice()?;
        let (out, step) = run(py, |ctl| {
            let step = match step {
                Some(s) => s,
                None => 1.0 / operator_norm2(&p, op, 30, seed, ctl)?,
            };
            let opts = FistaOptions {
                step,
                n_iter,
                tol,
                decay,
                lam_floor,
                psd,
            };
            Ok((k_fista(&p, op, ys, state, opts, ctl)?, step))
        })?;
        let d = PyDict::new(py);
        d.set_item("estimate", to_array2(py, out.state.x, r, c)?)?;
        d.set_item("z", to_array2(py, out.state.z, r, c)?)?;
        d.set_item("t", out.state.t)?;
        d.set_item("lam", out.state.lam)?;
        d.set_item("step", step)?;
        d.set_item("change", out.change.into_pyarray(py))?;
        d.set_item("n_iter", out.n_iter)?;
        d.set_item("converged", out.converged)?;
        Ok(d)
    })
}

fn gd_options(
    lr: f64,
    n_steps: usize,
    tol: f64,
    weight_decay: f64,
    record_every: usize,
) -> PyResult<GdOptions> {
    Ok(GdOptions {
        lr: finite(lr, "lr", 0.0)?,
        n_steps,
        tol: finite(tol, "tol", 0.0)?,
        weight_decay: finite(weight_decay, "weight_decay", 0.0)?,
        record_every: record_every.max(1),
    })
}

/// Gradient descent on the factorised model from Gaussian factors of width `width` (entries
/// `N(0, init_scale^2)`), `n_inits` runs averaged; traces of the first run.
#[pyfunction]
#[pyo3(signature = (kind, y, width, *, x=None, seed=0, d1=0, d2=0, init_seed=0, n_inits=1, init_scale=1.0, truth=None, lr=0.1, n_steps=1000, tol=0.0, weight_decay=0.0, record_every=10, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn factorised_gd<'py>(
    py: Python<'py>,
    kind: &str,
    y: &Bound<'py, PyAny>,
    width: usize,
    x: Option<&Bound<'py, PyAny>>,
    seed: u64,
    d1: usize,
    d2: usize,
    init_seed: u64,
    n_inits: usize,
    init_scale: f64,
    truth: Option<&Bound<'py, PyAny>>,
    lr: f64,
    n_steps: usize,
    tol: f64,
    weight_decay: f64,
    record_every: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let p = pool(n_threads)?;
        let opts = gd_options(lr, n_steps, tol, weight_decay, record_every)?;
        let init_scale = finite(init_scale, "init_scale", 0.0)?;
        if width == 0 || n_inits == 0 {
            return Err(PyValueError::new_err(
                "`width` and `n_inits` must be at least 1",
            ));
        }
        let data = op_data(&p, kind, x)?;
        let y = vector::<f64>(&p, y, "y")?;
        let ys = y.as_slice()?;
        let op = operator(kind, &data, seed, ys.len(), d1, d2)?;
        let (r, c) = (op.rows(), op.cols());
        // factors and their gradients (width x (d1 + d2), a few copies), the estimate, its
        // gradient and averages (d1 x d2), per-thread design matrices, per-sample residuals
        ensure_fits(&[
            (
                "width",
                bytes::<f64>("width", &[6, width, r.saturating_add(c)]),
            ),
            (
                "d1",
                bytes::<f64>("d1", &[6 + 2 * p.current_num_threads(), r, c]),
            ),
            ("y", bytes::<f64>("y", &[4, ys.len()])),
        ])?;
        let truth = opt_truth(&p, truth, r, c)?;
        let ts = match &truth {
            Some(t) => Some(t.as_slice()?),
            None => None,
        };
        let op = &*op;
        let (first, avg) = run(py, |ctl| {
            let mut f =
                Factors::gaussian(&p, op.symmetric(), r, c, width, init_scale, init_seed, 0);
            let first = k_gd(&p, op, ys, &mut f, ts, opts, ctl)?;
            let avg = if n_inits > 1 {
                Some(gd_averaged(
                    &p, op, ys, width, n_inits, init_scale, init_seed, ts, opts, ctl,
                )?)
            } else {
                None
            };
            Ok((first, avg))
        })?;
        let d = PyDict::new(py);
        d.set_item(
            "steps",
            first
                .steps
                .iter()
                .map(|&s| s as f64)
                .collect::<Vec<_>>()
                .into_pyarray(py),
        )?;
        d.set_item("loss", first.loss.into_pyarray(py))?;
        d.set_item("mse", first.mse.into_pyarray(py))?;
        d.set_item("n_steps", first.n_steps)?;
        d.set_item("converged", first.converged)?;
        d.set_item("final_lr", first.final_lr)?;
        match avg {
            Some(a) => {
                d.set_item("estimate", to_array2(py, a.estimate, r, c)?)?;
                d.set_item("single_estimate", to_array2(py, first.estimate, r, c)?)?;
                d.set_item("run_mse", a.run_mse.into_pyarray(py))?;
                d.set_item("run_loss", a.run_loss.into_pyarray(py))?;
                d.set_item("averaged_mse", a.averaged_mse.into_pyarray(py))?;
            }
            None => {
                let est = to_array2(py, first.estimate, r, c)?;
                d.set_item("single_estimate", est.clone())?;
                d.set_item("estimate", est)?;
            }
        }
        Ok(d)
    })
}

fn opt_truth<'py>(
    p: &ThreadPool,
    truth: Option<&Bound<'py, PyAny>>,
    r: usize,
    c: usize,
) -> PyResult<Option<PyReadonlyArray2<'py, f64>>> {
    match truth {
        Some(t) if !t.is_none() => {
            let (t, tr, tc) = matrix64(p, t, "truth")?;
            if (tr, tc) != (r, c) {
                return Err(PyValueError::new_err(format!(
                    "`truth` has shape ({tr}, {tc}), expected ({r}, {c})"
                )));
            }
            Ok(Some(t))
        }
        _ => Ok(None),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sensing_forward, m)?)?;
    m.add_function(wrap_pyfunction!(sensing_adjoint, m)?)?;
    m.add_function(wrap_pyfunction!(sensing_design, m)?)?;
    m.add_function(wrap_pyfunction!(sample_wishart_teacher, m)?)?;
    m.add_function(wrap_pyfunction!(sample_product_teacher, m)?)?;
    m.add_function(wrap_pyfunction!(sample_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(sensing_labels, m)?)?;
    m.add_function(wrap_pyfunction!(quadratic_network_labels, m)?)?;
    m.add_function(wrap_pyfunction!(gamp_rie, m)?)?;
    m.add_function(wrap_pyfunction!(nuclear_norm_gamp, m)?)?;
    m.add_function(wrap_pyfunction!(nuclear_norm_fista, m)?)?;
    m.add_function(wrap_pyfunction!(factorised_gd, m)?)?;
    Ok(())
}
