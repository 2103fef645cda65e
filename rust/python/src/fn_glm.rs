//! GLMs and multi-index models: sampler, channel posteriors and output functions, product-prior
//! denoisers, the GAMP loop (Bayes and ERM), products with the design, the spectral operators `L` and `T` and
//! their eigensolvers (Arnoldi / Lanczos), and Arnoldi on Python callables.

use crate::runtime::guard;
use crate::runtime::zeros;
use crate::convert::{finite, prior, MatrixArg};
use crate::errors::to_pyerr;
use crate::fn_linalg::lanczos_options;
use crate::fn_erm::constraint;
use crate::fn_losses::loss;
use crate::runtime::{pool, run, with_callable};
use hdcore_kernels::glm::channels::{posterior_batch, Channel};
use hdcore_kernels::glm::gamp::{gamp, GampOptions, GampOutput};
use hdcore_kernels::glm::input::{InputDenoiser, ProductPrior};
use hdcore_kernels::glm::ops::{x_times, xt_times};
use hdcore_kernels::glm::output::{g_out_batch, BayesOutput};
use hdcore_kernels::glm::prox::erm_gamp;
use hdcore_kernels::glm::sample::multi_index;
use hdcore_kernels::glm::small::{Spd, MAXP};
use hdcore_kernels::glm::spectral::{asymmetric_top, l_matvec, symmetric_top, t_matvec};
use hdcore_kernels::linalg::{top_eigenpairs_nonsymmetric, ArnoldiOptions, ComplexEigenpairs, Dense, Eigenpairs, Scalar};
use hdcore_kernels::priors::Prior;
use hdcore_kernels::threads::ThreadPool;
use hdcore_kernels::KernelError;
use numpy::ndarray::{Array1, Array2, Array3};
use numpy::{Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn kerr(e: KernelError) -> PyErr {
    to_pyerr(e, None)
}

/// A C-contiguous float64 array with `shape` (`None` entries are free), checked finite.
fn array<'py>(obj: &Bound<'py, PyAny>, name: &str, shape: &[Option<usize>]) -> PyResult<PyReadonlyArrayDyn<'py, f64>> {
    let arr = obj.cast::<PyArrayDyn<f64>>().map_err(|_| PyTypeError::new_err(format!("`{name}` must be a numpy array of float64")))?;
    let ro = arr.try_readonly().map_err(|e| PyValueError::new_err(format!("`{name}`: {e}")))?;
    let got = ro.shape().to_vec();
    let ok = got.len() == shape.len() && got.iter().zip(shape).all(|(g, s)| s.map_or(true, |v| v == *g));
    if !ok {
        let want: Vec<String> = shape.iter().map(|s| s.map_or("*".into(), |v| v.to_string())).collect();
        return Err(PyValueError::new_err(format!("`{name}` has shape {got:?}, expected ({})", want.join(", "))));
    }
    let s = ro.as_slice().map_err(|_| PyValueError::new_err(format!("`{name}` must be C-contiguous (use numpy.ascontiguousarray)")))?;
    if s.iter().any(|v| !v.is_finite()) {
        return Err(PyValueError::new_err(format!("`{name}` contains NaN or infinity")));
    }
    Ok(ro)
}

fn check_p(p: usize) -> PyResult<()> {
    if (1..=MAXP).contains(&p) {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!("`p` must be in 1..={MAXP}, got {p}")))
    }
}

fn channel(link: &str, p: usize, noise: f64, n_nodes: Option<usize>) -> PyResult<Channel> {
    check_p(p)?;
    let noise = finite(noise, "noise", 0.0)?;
    Channel::from_name(link, p, noise, n_nodes).map_err(kerr)
}

fn to_py2<'py>(py: Python<'py>, v: Vec<f64>, r: usize, c: usize) -> PyResult<Bound<'py, PyAny>> {
    Ok(Array2::from_shape_vec((r, c), v).map_err(|e| PyValueError::new_err(e.to_string()))?.into_pyarray(py).into_any())
}

fn to_py3<'py>(py: Python<'py>, v: Vec<f64>, a: usize, b: usize, c: usize) -> PyResult<Bound<'py, PyAny>> {
    Ok(Array3::from_shape_vec((a, b, c), v).map_err(|e| PyValueError::new_err(e.to_string()))?.into_pyarray(py).into_any())
}

fn col_major(w: &[f64], d: usize, p: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * p];
    for i in 0..d {
        for k in 0..p {
            out[k * d + i] = w[i * p + k];
        }
    }
    out
}

fn row_major(w: &[f64], d: usize, p: usize) -> Vec<f64> {
    let mut out = vec![0.0; d * p];
    for i in 0..d {
        for k in 0..p {
            out[i * p + k] = w[k * d + i];
        }
    }
    out
}

/// Run `$body` with `$x` bound to the `Dense` view of a float64 or float32 design.
macro_rules! with_design {
    ($xm:expr, |$x:ident| $body:expr) => {
        match $xm {
            MatrixArg::D64(a) => {
                let $x = Dense::new(a.as_slice()?, a.shape()[0], a.shape()[1]).map_err(kerr)?;
                $body
            }
            MatrixArg::D32(a) => {
                let $x = Dense::new(a.as_slice()?, a.shape()[0], a.shape()[1]).map_err(kerr)?;
                $body
            }
            _ => return Err(PyTypeError::new_err("`x` must be a dense 2-D array")),
        }
    };
}

type SampleOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

#[allow(clippy::too_many_arguments)]
fn sample_typed<'py, T: Scalar + Element + hdcore_kernels::alloc::Zeroable>(
    py: Python<'py>,
    pl: &ThreadPool,
    n: usize,
    d: usize,
    p: usize,
    pr: Option<Prior>,
    ch: Option<Channel>,
    seed: u64,
    w_in: Option<Vec<f64>>,
) -> PyResult<SampleOut<'py>> {
    let (x, w, z, y) = run(py, |_| {
        use hdcore_kernels::alloc::{count, zeroed};
        let mut x = zeroed::<T>("n", count("n", &[n, d])?)?;
        let mut w = match w_in {
            Some(w) => w,
            None => zeroed("d", count("d", &[d, p])?)?,
        };
        let mut z = zeroed("n", count("n", &[n, p])?)?;
        let mut y = zeroed("n", if ch.is_some() { n } else { 0 })?;
        multi_index(pl, n, d, p, pr.as_ref(), ch.as_ref(), seed, &mut x, &mut w, &mut z, &mut y)?;
        Ok((x, w, z, y))
    })?;
    let xa = Array2::from_shape_vec((n, d), x).map_err(|e| PyValueError::new_err(e.to_string()))?.into_pyarray(py).into_any();
    let y = if ch.is_some() { Some(Array1::from_vec(y).into_pyarray(py).into_any()) } else { None };
    Ok((xa, to_py2(py, w, d, p)?, to_py2(py, z, n, p)?, y))
}

/// Multi-index sample `(x, w, z, y)`: `x` (`n x d`, N(0, 1/d)), teacher `w` (`d x p`, drawn
/// from `prior_name`, or the given `w`), `z = x w` and labels `y` (None without a link).
#[pyfunction]
#[pyo3(signature = (n, d, p, seed, *, link=None, prior_name=None, rho=None, noise=0.0, n_nodes=None, w=None, dtype="float64", n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn multi_index_sample<'py>(
    py: Python<'py>,
    n: usize,
    d: usize,
    p: usize,
    seed: u64,
    link: Option<&str>,
    prior_name: Option<&str>,
    rho: Option<f64>,
    noise: f64,
    n_nodes: Option<usize>,
    w: Option<&Bound<'py, PyAny>>,
    dtype: &str,
    n_threads: Option<usize>,
) -> PyResult<SampleOut<'py>> {
    guard(|| {
        check_p(p)?;
        if n == 0 || d == 0 {
            return Err(PyValueError::new_err("`n` and `d` must be at least 1"));
        }
        let ch = link.map(|l| channel(l, p, noise, n_nodes)).transpose()?;
        let pr = prior_name.map(|name| prior(name, rho)).transpose()?;
        let w_in = match (w, &pr) {
            (Some(obj), None) => Some(array(obj, "w", &[Some(d), Some(p)])?.as_slice()?.to_vec()),
            (None, Some(_)) => None,
            _ => return Err(PyValueError::new_err("give exactly one of `prior_name` and `w`")),
        };
        let pl = pool(n_threads)?;
        match dtype {
            "float64" => sample_typed::<f64>(py, &pl, n, d, p, pr, ch, seed, w_in),
            "float32" => sample_typed::<f32>(py, &pl, n, d, p, pr, ch, seed, w_in),
            other => Err(PyValueError::new_err(format!("`dtype` must be 'float64' or 'float32', got {other:?}"))),
        }
    })
}

/// Noiseless link values `f(z)` for `z` of shape `(N, p)`.
#[pyfunction]
#[pyo3(signature = (link, p, z))]
fn glm_link<'py>(py: Python<'py>, link: &str, p: usize, z: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let ch = channel(link, p, 0.0, None)?;
        let z = array(z, "z", &[None, Some(p)])?;
        let zs = z.as_slice()?;
        let y: Vec<f64> = zs.chunks(p).map(|r| ch.link_value(r)).collect();
        Ok(Array1::from_vec(y).into_pyarray(py).into_any())
    })
}

/// Raise ValueError naming `y` if some label is impossible for the channel.
#[pyfunction]
#[pyo3(signature = (link, p, y, *, noise=0.0))]
fn glm_check_labels(link: &str, p: usize, y: &Bound<'_, PyAny>, noise: f64) -> PyResult<()> {
    guard(|| {
        let ch = channel(link, p, noise, None)?;
        let arr = y.cast::<PyArrayDyn<f64>>().map_err(|_| PyTypeError::new_err("`y` must be a numpy array of float64"))?;
        let ro = arr.try_readonly().map_err(|e| PyValueError::new_err(format!("`y`: {e}")))?;
        let s = ro.as_slice().map_err(|_| PyValueError::new_err("`y` must be C-contiguous"))?;
        if let Some((i, v)) = s.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(PyValueError::new_err(format!("`y` contains a non-finite label: y[{i}] = {v}")));
        }
        if let Some((i, v)) = s.iter().enumerate().find(|(_, &v)| !ch.label_ok(v)) {
            let range = match ch.link().name() {
                "sign" | "sign_prod" | "committee" => "labels must be -1 or +1",
                _ => "labels must be >= 0",
            };
            return Err(PyValueError::new_err(format!(
                "`y` is outside the range of link {:?} (noise {}): y[{i}] = {v}; {range}",
                ch.link().name(),
                ch.noise()
            )));
        }
        Ok(())
    })
}

type Triple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// Channel posterior at `(y, omega, v)`: `(log_z (N,), mean (N, p), cov (N, p, p))`.
#[pyfunction]
#[pyo3(signature = (link, p, y, omega, v, *, noise=0.0, n_nodes=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn glm_channel_posterior<'py>(
    py: Python<'py>,
    link: &str,
    p: usize,
    y: &Bound<'py, PyAny>,
    omega: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    noise: f64,
    n_nodes: Option<usize>,
    n_threads: Option<usize>,
) -> PyResult<Triple<'py>> {
    guard(|| {
        let ch = channel(link, p, noise, n_nodes)?;
        ch.check_output_function().map_err(kerr)?;
        let y = array(y, "y", &[None])?;
        let n = y.shape()[0];
        let om = array(omega, "omega", &[Some(n), Some(p)])?;
        let v = array(v, "v", &[Some(p), Some(p)])?;
        let (ys, oms, vs) = (y.as_slice()?, om.as_slice()?, v.as_slice()?);
        let spd = Spd::new(p, vs).map_err(kerr)?;
        let pl = pool(n_threads)?;
        let (lz, mean, cov) = run(py, |_| {
            let mut lz = zeros("n", &[n])?;
            let mut mean = zeros("n", &[n, p])?;
            let mut cov = zeros("n", &[n, p, p])?;
            posterior_batch(&pl, &ch, ys, oms, &spd, &mut lz, &mut mean, &mut cov)?;
            Ok((lz, mean, cov))
        })?;
        Ok((Array1::from_vec(lz).into_pyarray(py).into_any(), to_py2(py, mean, n, p)?, to_py3(py, cov, n, p, p)?))
    })
}

/// Bayes output function `(g (N, p), dg (N, p, p))` at `(y, omega, v)`.
#[pyfunction]
#[pyo3(signature = (link, p, y, omega, v, *, noise=0.0, n_nodes=None, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn glm_g_out<'py>(
    py: Python<'py>,
    link: &str,
    p: usize,
    y: &Bound<'py, PyAny>,
    omega: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    noise: f64,
    n_nodes: Option<usize>,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    guard(|| {
        let ch = channel(link, p, noise, n_nodes)?;
        let y = array(y, "y", &[None])?;
        let n = y.shape()[0];
        let om = array(omega, "omega", &[Some(n), Some(p)])?;
        let v = array(v, "v", &[Some(p), Some(p)])?;
        let (ys, oms, vs) = (y.as_slice()?, om.as_slice()?, v.as_slice()?);
        BayesOutput::new(&ch, ys).map_err(kerr)?;
        let spd = Spd::new(p, vs).map_err(kerr)?;
        let pl = pool(n_threads)?;
        let (g, dg) = run(py, |_| {
            let mut g = zeros("n", &[n, p])?;
            let mut dg = zeros("n", &[n, p, p])?;
            g_out_batch(&pl, &ch, ys, oms, &spd, &mut g, &mut dg)?;
            Ok((g, dg))
        })?;
        Ok((to_py2(py, g, n, p)?, to_py3(py, dg, n, p, p)?))
    })
}

fn product_prior(name: &str, rho: Option<f64>, p: usize) -> PyResult<ProductPrior> {
    check_p(p)?;
    ProductPrior::new(prior(name, rho)?, p).map_err(kerr)
}

/// Posterior of each row of `b` (`N x p`) under the product prior at precision `a`:
/// `(mean (N, p), cov (N, p, p), log_z (N,))`.
#[pyfunction]
#[pyo3(signature = (prior_name, p, b, a, *, rho=None, n_threads=None))]
fn glm_prior_posterior<'py>(
    py: Python<'py>,
    prior_name: &str,
    p: usize,
    b: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    rho: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<Triple<'py>> {
    guard(|| {
        let pp = product_prior(prior_name, rho, p)?;
        let b = array(b, "b", &[None, Some(p)])?;
        let a = array(a, "a", &[Some(p), Some(p)])?;
        let n = b.shape()[0];
        let (bs, as_) = (b.as_slice()?, a.as_slice()?);
        let pl = pool(n_threads)?;
        let (m, c, l) = run(py, |_| {
            let (mut m, mut c, mut l) = (zeros("n", &[n, p])?, zeros("n", &[n, p, p])?, zeros("n", &[n])?);
            pp.posterior(&pl, bs, as_, &mut m, &mut c, &mut l)?;
            Ok((m, c, l))
        })?;
        Ok((to_py2(py, m, n, p)?, to_py3(py, c, n, p, p)?, Array1::from_vec(l).into_pyarray(py).into_any()))
    })
}

/// GAMP input function of the product prior: `(w (d, p), c (p, p))` = `f_in(b, a)` and the
/// average Jacobian.
#[pyfunction]
#[pyo3(signature = (prior_name, p, b, a, *, rho=None, n_threads=None))]
fn glm_prior_denoise<'py>(
    py: Python<'py>,
    prior_name: &str,
    p: usize,
    b: &Bound<'py, PyAny>,
    a: &Bound<'py, PyAny>,
    rho: Option<f64>,
    n_threads: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    guard(|| {
        let pp = product_prior(prior_name, rho, p)?;
        let b = array(b, "b", &[None, Some(p)])?;
        let a = array(a, "a", &[Some(p), Some(p)])?;
        let d = b.shape()[0];
        let (bs, as_) = (b.as_slice()?, a.as_slice()?);
        let pl = pool(n_threads)?;
        let (w, c) = run(py, |_| {
            let (mut w, mut c) = (zeros("d", &[d, p])?, zeros("p", &[p, p])?);
            pp.denoise(&pl, bs, as_, &mut w, &mut c)?;
            Ok((w, c))
        })?;
        Ok((to_py2(py, w, d, p)?, to_py2(py, c, p, p)?))
    })
}

fn gamp_dict<'py>(py: Python<'py>, o: GampOutput, d: usize, p: usize) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let t = o.q.len() / (p * p);
    let tm = o.m.len() / (p * p);
    dict.set_item("estimate", to_py2(py, o.estimate, d, p)?)?;
    dict.set_item("variance", to_py2(py, o.variance, p, p)?)?;
    dict.set_item("m", to_py3(py, o.m, tm, p, p)?)?;
    dict.set_item("q", to_py3(py, o.q, t, p, p)?)?;
    dict.set_item("v", to_py3(py, o.v, t, p, p)?)?;
    dict.set_item("a", to_py2(py, o.a, p, p)?)?;
    dict.set_item("delta", o.delta.into_pyarray(py))?;
    dict.set_item("n_iter", o.n_iter)?;
    dict.set_item("converged", o.converged)?;
    Ok(dict)
}

fn gamp_options(n_iter: usize, damping: f64, tol: f64) -> PyResult<GampOptions> {
    if !(0.0..1.0).contains(&damping) {
        return Err(PyValueError::new_err(format!("`damping` must be in [0, 1), got {damping}")));
    }
    Ok(GampOptions::new(n_iter, damping, finite(tol, "tol", 0.0)?))
}

/// Bayes-optimal GAMP (fast path: the whole loop in Rust) for a built-in channel and prior.
#[pyfunction]
#[pyo3(signature = (x, y, link, p, prior_name, w0, v0, *, rho=None, noise=0.0, n_nodes=None, truth=None, n_iter=100, damping=0.0, tol=1e-10, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gamp_glm<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    link: &str,
    p: usize,
    prior_name: &str,
    w0: &Bound<'py, PyAny>,
    v0: &Bound<'py, PyAny>,
    rho: Option<f64>,
    noise: f64,
    n_nodes: Option<usize>,
    truth: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let ch = channel(link, p, noise, n_nodes)?;
        let pp = product_prior(prior_name, rho, p)?;
        let opts = gamp_options(n_iter, damping, tol)?;
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let y = array(y, "y", &[Some(n)])?;
        let w0 = array(w0, "w0", &[Some(d), Some(p)])?;
        let v0 = array(v0, "v0", &[Some(p), Some(p)])?;
        let truth = truth.filter(|t| !t.is_none()).map(|t| array(t, "truth", &[Some(d), Some(p)])).transpose()?;
        let (ys, w0s, v0s) = (y.as_slice()?, w0.as_slice()?, v0.as_slice()?);
        let ts = truth.as_ref().map(|t| t.as_slice()).transpose()?;
        let out_fn = BayesOutput::new(&ch, ys).map_err(kerr)?;
        let out = with_design!(&xm, |xd| run(py, |ctl| gamp(&pl, &xd, &out_fn, &pp, w0s, v0s, ts, opts, ctl))?);
        gamp_dict(py, out, d, p)
    })
}

/// GAMP for ERM with a built-in loss on a design with `N(0, 1)` entries (pre-activations
/// `<w, x>/sqrt(d)`): ridge `lam` (any sign) or sphere `||w||^2 = q d` (give one), from `w0`
/// (`(d,)`) and the variance `v0` (kept at every iteration with `fixed_variance`). The dict of
/// `gamp_glm` (`p = 1`) plus `stopped`: why the loop stopped early, or None.
#[pyfunction]
#[pyo3(signature = (x, y, loss_name, w0, v0, *, param=None, lam=None, q=None, fixed_variance=false, truth=None, n_iter=300, damping=0.3, tol=1e-12, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn gamp_erm<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    loss_name: &str,
    w0: &Bound<'py, PyAny>,
    v0: f64,
    param: Option<f64>,
    lam: Option<f64>,
    q: Option<f64>,
    fixed_variance: bool,
    truth: Option<&Bound<'py, PyAny>>,
    n_iter: usize,
    damping: f64,
    tol: f64,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let l = loss(loss_name, param)?;
        let c = constraint(lam, q)?;
        let v0 = finite(v0, "v0", 0.0)?;
        let opts = GampOptions { fixed_variance, ..gamp_options(n_iter, damping, tol)? };
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let y = array(y, "y", &[Some(n)])?;
        let w0 = array(w0, "w0", &[Some(d)])?;
        let truth = truth.filter(|t| !t.is_none()).map(|t| array(t, "truth", &[Some(d)])).transpose()?;
        let (ys, w0s) = (y.as_slice()?, w0.as_slice()?);
        let ts = truth.as_ref().map(|t| t.as_slice()).transpose()?;
        let out = with_design!(&xm, |xd| run(py, |ctl| erm_gamp(&pl, &xd, ys, l, c, w0s, v0, ts, opts, ctl))?);
        let stopped = out.stopped.clone();
        let dict = gamp_dict(py, out, d, 1)?;
        dict.set_item("stopped", stopped)?;
        Ok(dict)
    })
}

/// `x @ w` for `w` of shape `(d, p)`.
#[pyfunction]
#[pyo3(signature = (x, w, *, n_threads=None))]
fn glm_x_times<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, w: &Bound<'py, PyAny>, n_threads: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let w = array(w, "w", &[Some(d), None])?;
        let p = w.shape()[1];
        let wc = col_major(w.as_slice()?, d, p);
        let out = with_design!(&xm, |xd| run(py, |_| {
            let mut out = zeros("n", &[n, p])?;
            x_times(&pl, &xd, &wc, p, &mut out)?;
            Ok(out)
        })?);
        to_py2(py, out, n, p)
    })
}

/// `x.T @ g` for `g` of shape `(n, p)` (the blocking of the fused GAMP pass).
#[pyfunction]
#[pyo3(signature = (x, g, *, n_threads=None))]
fn glm_xt_times<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, g: &Bound<'py, PyAny>, n_threads: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let g = array(g, "g", &[Some(n), None])?;
        let p = g.shape()[1];
        let gs = g.as_slice()?;
        let out = with_design!(&xm, |xd| run(py, |_| {
            let mut out = zeros("d", &[d, p])?;
            xt_times(&pl, &xd, gs, p, &mut out)?;
            Ok(out)
        })?);
        to_py2(py, row_major(&out, d, p), d, p)
    })
}

/// `L omega` for `omega` of shape `(n, p)` and blocks `g` of shape `(n, p, p)`.
#[pyfunction]
#[pyo3(signature = (x, g, omega, *, n_threads=None))]
fn spectral_l_matvec<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, g: &Bound<'py, PyAny>, omega: &Bound<'py, PyAny>, n_threads: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let g = array(g, "g", &[Some(n), None, None])?;
        let p = g.shape()[1];
        let om = array(omega, "omega", &[Some(n), Some(p)])?;
        let (gs, oms) = (g.as_slice()?, om.as_slice()?);
        let out = with_design!(&xm, |xd| run(py, |_| {
            let (mut out, mut u, mut v) = (zeros("n", &[n, p])?, zeros("n", &[n, p])?, zeros("d", &[d, p])?);
            l_matvec(&pl, &xd, gs, p, oms, &mut out, &mut u, &mut v)?;
            Ok(out)
        })?);
        to_py2(py, out, n, p)
    })
}

/// `T w` for `w` of shape `(d, p)` and blocks `t` of shape `(n, p, p)`.
#[pyfunction]
#[pyo3(signature = (x, t, w, *, n_threads=None))]
fn spectral_t_matvec<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, t: &Bound<'py, PyAny>, w: &Bound<'py, PyAny>, n_threads: Option<usize>) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let t = array(t, "t", &[Some(n), None, None])?;
        let p = t.shape()[1];
        let w = array(w, "w", &[Some(d), Some(p)])?;
        let ts = t.as_slice()?;
        let wc = col_major(w.as_slice()?, d, p);
        let out = with_design!(&xm, |xd| run(py, |_| {
            let mut out = zeros("d", &[d, p])?;
            t_matvec(&pl, &xd, ts, p, &wc, &mut out)?;
            Ok(out)
        })?);
        to_py2(py, row_major(&out, d, p), d, p)
    })
}

fn arnoldi_options(n: usize, k: usize, tol: f64, ncv: Option<usize>, max_restarts: usize) -> PyResult<ArnoldiOptions> {
    if k == 0 || k > n {
        return Err(PyValueError::new_err(format!("`k` must be in 1..={n}, got {k}")));
    }
    if !(tol > 0.0 && tol.is_finite()) {
        return Err(PyValueError::new_err(format!("`tol` must be positive, got {tol}")));
    }
    let mut o = ArnoldiOptions::new(n, k);
    o.tol = tol;
    o.max_restarts = max_restarts;
    if let Some(m) = ncv {
        if m < k + 2 {
            return Err(PyValueError::new_err(format!("`ncv` must be at least k + 2 = {}, got {m}", k + 2)));
        }
        o.ncv = m.min(n);
    }
    Ok(o)
}

fn complex_dict<'py>(py: Python<'py>, e: ComplexEigenpairs, n: usize) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let k = e.values_re.len();
    let re: Vec<f64> = e.vectors_re.into_iter().flatten().collect();
    let im: Vec<f64> = e.vectors_im.into_iter().flatten().collect();
    d.set_item("values_re", e.values_re.into_pyarray(py))?;
    d.set_item("values_im", e.values_im.into_pyarray(py))?;
    d.set_item("vectors_re", to_py2(py, re, k, n)?)?;
    d.set_item("vectors_im", to_py2(py, im, k, n)?)?;
    d.set_item("residuals", e.residuals.into_pyarray(py))?;
    d.set_item("n_matvec", e.n_matvec)?;
    d.set_item("n_restarts", e.n_restarts)?;
    d.set_item("converged", e.converged)?;
    Ok(d)
}

fn real_dict<'py>(py: Python<'py>, e: Eigenpairs, n: usize) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let k = e.values.len();
    let v: Vec<f64> = e.vectors.into_iter().flatten().collect();
    d.set_item("values", e.values.into_pyarray(py))?;
    d.set_item("vectors", to_py2(py, v, k, n)?)?;
    d.set_item("residuals", e.residuals.into_pyarray(py))?;
    d.set_item("n_matvec", e.n_matvec)?;
    d.set_item("n_restarts", e.n_restarts)?;
    d.set_item("converged", e.converged)?;
    Ok(d)
}

/// Eigenpairs of `L` with the largest real parts (Arnoldi in Rust). Vectors are rows of length
/// `n p` (row-major `n x p`).
#[pyfunction]
#[pyo3(signature = (x, g, k, v0, *, tol=1e-8, ncv=None, max_restarts=1000, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn spectral_asymmetric<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    g: &Bound<'py, PyAny>,
    k: usize,
    v0: &Bound<'py, PyAny>,
    tol: f64,
    ncv: Option<usize>,
    max_restarts: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, _) = xm.shape();
        let g = array(g, "g", &[Some(n), None, None])?;
        let p = g.shape()[1];
        check_p(p)?;
        let v0 = array(v0, "v0", &[Some(n * p)])?;
        let opts = arnoldi_options(n * p, k, tol, ncv, max_restarts)?;
        let (gs, v0s) = (g.as_slice()?, v0.as_slice()?);
        let e = with_design!(&xm, |xd| run(py, |ctl| asymmetric_top(&pl, &xd, gs, p, v0s, opts, ctl))?);
        complex_dict(py, e, n * p)
    })
}

/// Top eigenpairs of `T` (Lanczos in Rust). Vectors are rows of length `d p` (column-major
/// `d x p`, i.e. `p` blocks of length `d`).
#[pyfunction]
#[pyo3(signature = (x, t, k, v0, *, tol=1e-8, ncv=None, max_restarts=500, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn spectral_symmetric<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    t: &Bound<'py, PyAny>,
    k: usize,
    v0: &Bound<'py, PyAny>,
    tol: f64,
    ncv: Option<usize>,
    max_restarts: usize,
    n_threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let pl = pool(n_threads)?;
        let xm = MatrixArg::extract(&pl, x, None, "x")?;
        let (n, d) = xm.shape();
        let t = array(t, "t", &[Some(n), None, None])?;
        let p = t.shape()[1];
        check_p(p)?;
        let v0 = array(v0, "v0", &[Some(d * p)])?;
        let dim = d * p;
        let opts = lanczos_options(dim, k, tol, ncv, max_restarts)?;
        let (ts, v0s) = (t.as_slice()?, v0.as_slice()?);
        let e = with_design!(&xm, |xd| run(py, |ctl| symmetric_top(&pl, &xd, ts, p, v0s, opts, ctl))?);
        real_dict(py, e, dim)
    })
}

/// Eigenpairs of largest real part of a non-symmetric operator given as a Python callable
/// `op(x) -> A x` (Arnoldi in Rust; the products call back into Python).
#[pyfunction]
#[pyo3(signature = (op, n, k, v0, *, tol=1e-8, ncv=None, max_restarts=1000, n_threads=None))]
#[allow(clippy::too_many_arguments)]
fn eigs_top_callable<'py>(
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
        let pl = pool(n_threads)?;
        let v0 = array(v0, "v0", &[Some(n)])?;
        let v0s = v0.as_slice()?;
        let opts = arnoldi_options(n, k, tol, ncv, max_restarts)?;
        let convert = |out: &Bound<'py, PyAny>, y: &mut [f64]| -> PyResult<()> {
            y.copy_from_slice(array(out, "op(x)", &[Some(n)])?.as_slice()?);
            Ok(())
        };
        let e = with_callable(py, &op, convert, |f| {
            top_eigenpairs_nonsymmetric(&pl, n, f, v0s, opts, &hdcore_kernels::control::Never)
        })?;
        complex_dict(py, e, n)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(multi_index_sample, m)?)?;
    m.add_function(wrap_pyfunction!(glm_link, m)?)?;
    m.add_function(wrap_pyfunction!(glm_check_labels, m)?)?;
    m.add_function(wrap_pyfunction!(glm_channel_posterior, m)?)?;
    m.add_function(wrap_pyfunction!(glm_g_out, m)?)?;
    m.add_function(wrap_pyfunction!(glm_prior_posterior, m)?)?;
    m.add_function(wrap_pyfunction!(glm_prior_denoise, m)?)?;
    m.add_function(wrap_pyfunction!(gamp_glm, m)?)?;
    m.add_function(wrap_pyfunction!(gamp_erm, m)?)?;
    m.add_function(wrap_pyfunction!(glm_x_times, m)?)?;
    m.add_function(wrap_pyfunction!(glm_xt_times, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_l_matvec, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_t_matvec, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_asymmetric, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_symmetric, m)?)?;
    m.add_function(wrap_pyfunction!(eigs_top_callable, m)?)?;
    Ok(())
}
