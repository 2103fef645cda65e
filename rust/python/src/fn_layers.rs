//! Two- and three-layer networks on a given batch: forward pass and per-layer gradients
//! (`hdcore_kernels::nets::layers`).

use crate::convert::vector;
use crate::errors::to_pyerr;
use crate::fn_rmt::{matrix64, to_array2};
use crate::runtime::{ensure_fits, guard, pool, run};
use hdcore_kernels::alloc::bytes;
use hdcore_kernels::nets::{network_grad, Function, Layer, Loss, BLOCK};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn function(name: &str, what: &'static str) -> PyResult<Function> {
    Function::parse(name, what).map_err(|e| to_pyerr(e, None))
}

/// Forward pass, mean loss and the gradients of the trained layers of
/// `f(x) = readout^T sigma2(W2 sigma1(W1 x + b1) + b2)` (or `readout^T sigma1(W1 x + b1)` when
/// `w2` is None) on the batch `(x, y)`. Returns a dict with `loss`, `f`, `grad_w1`, `grad_b1`,
/// `grad_w2`, `grad_b2`, `grad_readout` (None for frozen layers) and, with `preact`, the last
/// hidden pre-activations.
#[pyfunction]
#[pyo3(signature = (x, y, w1, b1, readout, w2=None, b2=None, activation1="relu", activation2="relu", loss="square", train_w1=true, train_w2=true, train_readout=true, preact=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn network_gradients<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    w1: &Bound<'py, PyAny>,
    b1: &Bound<'py, PyAny>,
    readout: &Bound<'py, PyAny>,
    w2: Option<&Bound<'py, PyAny>>,
    b2: Option<&Bound<'py, PyAny>>,
    activation1: &str,
    activation2: &str,
    loss: &str,
    train_w1: bool,
    train_w2: bool,
    train_readout: bool,
    preact: bool,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let act1 = function(activation1, "activation1")?;
        let act2 = function(activation2, "activation2")?;
        let loss = Loss::parse(loss).map_err(|e| to_pyerr(e, None))?;
        let pl = pool(n_threads)?;
        let (x, n, d) = matrix64(&pl, x, "x")?;
        let y: PyReadonlyArray1<f64> = vector(&pl, y, "y")?;
        let (w1, p1, d1) = matrix64(&pl, w1, "w1")?;
        let b1: PyReadonlyArray1<f64> = vector(&pl, b1, "b1")?;
        let readout: PyReadonlyArray1<f64> = vector(&pl, readout, "readout")?;
        if n == 0 || d == 0 {
            return Err(PyValueError::new_err(
                "`x` must have at least one row and one column",
            ));
        }
        if y.as_slice()?.len() != n {
            return Err(PyValueError::new_err(format!(
                "`y` has length {}, expected n = {n} (the rows of `x`)",
                y.as_slice()?.len()
            )));
        }
        if d1 != d || p1 == 0 {
            return Err(PyValueError::new_err(format!(
                "`w1` has shape ({p1}, {d1}), expected (p1 >= 1, {d}) (d = the columns of `x`)"
            )));
        }
        if b1.as_slice()?.len() != p1 {
            return Err(PyValueError::new_err(format!(
                "`b1` has length {}, expected p1 = {p1} (the rows of `w1`)",
                b1.as_slice()?.len()
            )));
        }
        let second: Option<(PyReadonlyArray2<f64>, PyReadonlyArray1<f64>, usize)> = match (w2, b2) {
            (None, None) => None,
            (Some(w2), Some(b2)) => {
                let (w2, p2, q) = matrix64(&pl, w2, "w2")?;
                let b2: PyReadonlyArray1<f64> = vector(&pl, b2, "b2")?;
                if q != p1 || p2 == 0 {
                    return Err(PyValueError::new_err(format!(
                        "`w2` has shape ({p2}, {q}), expected (p2 >= 1, {p1}) (p1 = the rows of `w1`)"
                    )));
                }
                if b2.as_slice()?.len() != p2 {
                    return Err(PyValueError::new_err(format!(
                        "`b2` has length {}, expected p2 = {p2} (the rows of `w2`)",
                        b2.as_slice()?.len()
                    )));
                }
                Some((w2, b2, p2))
            }
            _ => {
                return Err(PyValueError::new_err(
                    "`w2` and `b2` must be given together (three layers) or both be None",
                ))
            }
        };
        let plast = second.as_ref().map_or(p1, |s| s.2);
        if readout.as_slice()?.len() != plast {
            return Err(PyValueError::new_err(format!(
                "`readout` has length {}, expected {plast} (the last hidden width)",
                readout.as_slice()?.len()
            )));
        }
        let p2 = second.as_ref().map_or(0, |s| s.2);
        let rows = BLOCK.min(n);
        // per block: z, h, delta and the augmented inputs of every layer; the gradients;
        // the outputs and (optionally) the pre-activations
        ensure_fits(&[
            (
                "x",
                bytes::<f64>(
                    "x",
                    &[
                        rows,
                        4usize
                            .saturating_mul(p1.saturating_add(p2))
                            .saturating_add(d + 2),
                    ],
                ),
            ),
            (
                "w1",
                bytes::<f64>("w1", &[2, p1, d.saturating_add(p2).saturating_add(2)]),
            ),
            (
                "preact",
                bytes::<f64>(
                    "preact",
                    &[if preact { n } else { 1 }, plast.saturating_add(1)],
                ),
            ),
        ])?;
        let mut train = vec![train_w1];
        if second.is_some() {
            train.push(train_w2);
        }
        train.push(train_readout);
        let (xs, ys, w1s, b1s, rs) = (
            x.as_slice()?,
            y.as_slice()?,
            w1.as_slice()?,
            b1.as_slice()?,
            readout.as_slice()?,
        );
        let mut layers = vec![Layer {
            w: w1s,
            b: b1s,
            act: act1,
        }];
        if let Some((w2, b2, _)) = second.as_ref() {
            layers.push(Layer {
                w: w2.as_slice()?,
                b: b2.as_slice()?,
                act: act2,
            });
        }
        let out = run(py, |ctl| {
            network_grad(&pl, xs, ys, d, &layers, rs, loss, &train, preact, ctl)
        })?;
        let dict = PyDict::new(py);
        dict.set_item("loss", out.loss)?;
        dict.set_item("f", out.f.into_pyarray(py))?;
        let widths = [(p1, d), (p2, p1)];
        let names = [("grad_w1", "grad_b1"), ("grad_w2", "grad_b2")];
        for (l, (gw, gb)) in out.grad_w.into_iter().zip(out.grad_b).enumerate() {
            let (r, c) = widths[l];
            match gw {
                Some(g) => dict.set_item(names[l].0, to_array2(py, g, r, c)?)?,
                None => dict.set_item(names[l].0, py.None())?,
            }
            match gb {
                Some(g) => dict.set_item(names[l].1, g.into_pyarray(py))?,
                None => dict.set_item(names[l].1, py.None())?,
            }
        }
        if second.is_none() {
            dict.set_item("grad_w2", py.None())?;
            dict.set_item("grad_b2", py.None())?;
        }
        match out.grad_readout {
            Some(g) => dict.set_item("grad_readout", g.into_pyarray(py))?,
            None => dict.set_item("grad_readout", py.None())?,
        }
        match out.preact {
            Some(z) => dict.set_item("preact", to_array2(py, z, n, plast)?)?,
            None => dict.set_item("preact", py.None())?,
        }
        Ok(dict)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(network_gradients, m)?)?;
    Ok(())
}
