//! Online SGD on sequence single-index models and single-layer attention.

use crate::runtime::guard;
use crate::runtime::zeros;
use crate::runtime::{ensure_fits, pool, run};
use hdcore_kernels::sgd::{
    self, full, reduced, Activation, Function, Loss, Problem, Readout, SgdOptions, Student, Teacher,
};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

fn verr(e: hdcore_kernels::KernelError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn get<'py, T: FromPyObjectOwned<'py>>(
    spec: &Bound<'py, PyDict>,
    key: &str,
) -> PyResult<Option<T>> {
    match spec.get_item(key)? {
        Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|_| {
            PyTypeError::new_err(format!(
                "`{key}` has the wrong type: {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        }),
        _ => Ok(None),
    }
}

fn req<'py, T: FromPyObjectOwned<'py>>(spec: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    get(spec, key)?.ok_or_else(|| PyValueError::new_err(format!("`{key}` is required")))
}

fn finite(v: f64, name: &str) -> PyResult<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(PyValueError::new_err(format!(
            "`{name}` must be finite, got {v}"
        )))
    }
}

/// Build the kernel's problem from the dict made by `hdcore.models.sequence`.
fn problem(spec: &Bound<'_, PyDict>) -> PyResult<Problem> {
    let len: i64 = req(spec, "L")?;
    if len < 1 {
        return Err(PyValueError::new_err(format!(
            "`L` must be >= 1, got {len}"
        )));
    }
    let len = len as usize;
    let target: String = req(spec, "target")?;
    let teacher = if target == "attention" {
        Teacher::Attention {
            omega: finite(req(spec, "omega")?, "omega")?,
            a: req(spec, "a_matrix")?,
        }
    } else {
        Teacher::Scalar {
            f: Function::parse(&target).map_err(verr)?,
            scale: finite(get(spec, "target_scale")?.unwrap_or(1.0), "target_scale")?,
        }
    };
    let kind: String = req(spec, "student")?;
    let student = match kind.as_str() {
        "ssi" => Student::Ssi {
            f: Function::parse(&req::<String>(spec, "student_function")?).map_err(verr)?,
            scale: finite(get(spec, "student_scale")?.unwrap_or(1.0), "student_scale")?,
        },
        "tied" => {
            Student::Tied(Activation::parse(&req::<String>(spec, "activation")?).map_err(verr)?)
        }
        "untied" => {
            Student::Untied(Activation::parse(&req::<String>(spec, "activation")?).map_err(verr)?)
        }
        "attention" => Student::Attention(
            match get::<String>(spec, "readout")?
                .as_deref()
                .unwrap_or("matrix")
            {
                "matrix" => Readout::Matrix,
                "trace" => Readout::Trace,
                "bilinear" => Readout::Bilinear {
                    a: req(spec, "readout_a")?,
                    b: req(spec, "readout_b")?,
                },
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown `readout` {other:?}; expected matrix, trace or bilinear"
                    )))
                }
            },
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown `student` {other:?}; expected ssi, tied, untied or attention"
            )))
        }
    };
    let loss = Loss::parse(&get::<String>(spec, "loss")?.unwrap_or_else(|| "squared".into()))
        .map_err(verr)?;
    let noise: f64 = get(spec, "noise")?.unwrap_or(0.0);
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "`noise` must be finite and >= 0, got {noise}"
        )));
    }
    let pb = Problem {
        len,
        teacher,
        student,
        loss,
        noise,
        positional: get(spec, "positional")?,
    };
    pb.validate().map_err(verr)?;
    Ok(pb)
}

fn run_dict<'py>(py: Python<'py>, o: sgd::RunOutput, k: usize) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let n = o.steps.len();
    d.set_item("steps", o.steps.into_pyarray(py))?;
    d.set_item("m", o.m.into_pyarray(py).reshape([n, k])?)?;
    d.set_item("e", o.e.into_pyarray(py))?;
    d.set_item("q", o.q.into_pyarray(py))?;
    d.set_item("loss", o.loss.into_pyarray(py))?;
    d.set_item("final_step", o.final_step)?;
    d.set_item("final_m", o.final_m.into_pyarray(py))?;
    d.set_item("final_e", o.final_e)?;
    d.set_item("stopped", o.stopped)?;
    if !o.weights.is_empty() {
        let dim = o.weights.len() / k;
        d.set_item("weights", o.weights.into_pyarray(py).reshape([k, dim])?)?;
        d.set_item("teacher", o.teacher.into_pyarray(py))?;
        d.set_item("positional", o.positional.into_pyarray(py))?;
    }
    Ok(d)
}

/// Online SGD runs `runs` (indices keying their teacher, start and data) of the problem `spec`.
#[pyfunction]
#[pyo3(signature = (spec, d, lr, steps, seed, runs, *, batch=1, spherical=true, record=Vec::new(), stop_overlap=None, m0=None, e0=None, mode="full", return_weights=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn sgd_simulate<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyDict>,
    d: u64,
    lr: f64,
    steps: u64,
    seed: u64,
    runs: Vec<u64>,
    batch: usize,
    spherical: bool,
    record: Vec<u64>,
    stop_overlap: Option<f64>,
    m0: Option<f64>,
    e0: Option<f64>,
    mode: &str,
    return_weights: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyList>> {
    guard(|| {
        let pb = problem(spec)?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(PyValueError::new_err(format!(
                "`lr` must be finite and >= 0, got {lr}"
            )));
        }
        let o = SgdOptions {
            d,
            lr,
            steps,
            batch,
            spherical,
            record,
            stop_overlap,
            m0,
            e0,
        };
        o.validate(&pb).map_err(verr)?;
        let p = pool(n_threads)?;
        let k = pb.blocks();
        {
            // Every run holds its student (k blocks of d), teacher and positional directions,
            // and its gradient work (about k + 2 more vectors of d); records are small.
            use hdcore_kernels::alloc::bytes;
            let dd = usize::try_from(d).unwrap_or(usize::MAX);
            // The reduced mode iterates the overlap chain only: no vector of length d.
            let alive = if mode == "reduced" {
                0
            } else if return_weights {
                runs.len()
            } else {
                runs.len().min(p.current_num_threads())
            };
            ensure_fits(&[
                ("d", bytes::<f64>("d", &[alive, dd, 2 * k + 4])),
                ("record", bytes::<f64>("record", &[runs.len(), o.record.len(), k + 4])),
            ])?;
        }
        let outs = match mode {
            "full" => run(py, |ctl| {
                full::simulate(&p, &pb, &o, seed, &runs, return_weights, ctl)
            })?,
            "reduced" => run(py, |ctl| reduced::simulate(&p, &pb, &o, seed, &runs, ctl))?,
            other => {
                return Err(PyValueError::new_err(format!(
                    "`mode` must be 'full' or 'reduced', got {other:?}"
                )))
            }
        };
        let list = PyList::empty(py);
        for out in outs {
            list.append(run_dict(py, out, k)?)?;
        }
        Ok(list)
    })
}

/// Loss, gradient in the student's projections, teacher and student outputs, per row of
/// `zs` (teacher projections) and `z` (student projections), both `n x L`.
#[pyfunction]
fn sgd_eval<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyDict>,
    zs: PyReadonlyArray2<'py, f64>,
    z: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pb = problem(spec)?;
        let l = pb.len;
        if zs.shape() != z.shape() || zs.shape()[1] != l {
            return Err(PyValueError::new_err(format!(
                "`zs` and `z` must both have shape (n, {l})"
            )));
        }
        let n = zs.shape()[0];
        let (zs, z) = (zs.as_slice()?, z.as_slice()?);
        let (nt, ns) = (pb.teacher_outputs(), pb.student_outputs());
        let (loss, grad, y, yhat) = run(py, |_| {
            let mut w = pb.work();
            let (mut loss, mut grad, mut y, mut yhat) = (
                zeros("n", &[n])?,
                zeros("n", &[n, l])?,
                zeros("n", &[n, nt])?,
                zeros("n", &[n, ns])?,
            );
            for i in 0..n {
                let (a, b) = (&zs[i * l..(i + 1) * l], &z[i * l..(i + 1) * l]);
                loss[i] = pb.eval(a, b, &mut grad[i * l..(i + 1) * l], &mut w);
                pb.teacher_output(a, &mut y[i * nt..(i + 1) * nt], &mut w);
                pb.student_output(b, &mut yhat[i * ns..(i + 1) * ns], &mut w);
            }
            Ok((loss, grad, y, yhat))
        })?;
        let d = PyDict::new(py);
        d.set_item("loss", loss.into_pyarray(py))?;
        let g: Bound<'py, PyArray2<f64>> = grad.into_pyarray(py).reshape([n, l])?;
        d.set_item("grad", g)?;
        d.set_item("y", y.into_pyarray(py).reshape([n, nt])?)?;
        d.set_item("yhat", yhat.into_pyarray(py).reshape([n, ns])?)?;
        Ok(d)
    })
}

type Vector<'py> = Bound<'py, numpy::PyArray1<f64>>;

/// Teacher direction `w*` (`||w*||^2 = d`) and unit positional direction `p` (orthogonal to
/// `w*`; empty unless `positional`) of run `run`, as used by the full simulation.
#[pyfunction]
#[pyo3(signature = (d, seed, run_index, positional=false, n_threads=None))]
fn sgd_teacher<'py>(
    py: Python<'py>,
    d: usize,
    seed: u64,
    run_index: u64,
    positional: bool,
    n_threads: Option<usize>,
) -> PyResult<(Vector<'py>, Vector<'py>)> {
    guard(|| {
        if d < 1 {
            return Err(PyValueError::new_err("`d` must be >= 1"));
        }
        let p = pool(n_threads)?;
        ensure_fits(&[("d", hdcore_kernels::alloc::bytes::<f64>("d", &[2, d]))])?;
        let (ws, pv) = run(py, |_| {
            Ok(full::teacher_directions(&p, seed, run_index, d, positional))
        })?;
        Ok((ws.into_pyarray(py), pv.into_pyarray(py)))
    })
}

/// Standard normals per second of the hot loop's sampler (the RNG bound of the full mode).
#[pyfunction]
#[pyo3(signature = (n=1 << 26, n_threads=None))]
fn sgd_rng_throughput(py: Python<'_>, n: usize, n_threads: Option<usize>) -> PyResult<f64> {
    guard(|| {
        if n > 1 << 36 {
            return Err(PyValueError::new_err(format!("`n` must be at most 2^36, got {n}")));
        }
        let p = pool(n_threads)?;
        run(py, |_| Ok(full::rng_throughput(&p, n)))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd_rng_throughput, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_eval, m)?)?;
    m.add_function(wrap_pyfunction!(sgd_teacher, m)?)?;
    Ok(())
}
