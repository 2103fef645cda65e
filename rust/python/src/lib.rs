//! `hdcore._core`: the validated entry points of the Rust kernels. This crate converts and
//! checks arguments, releases the GIL around every kernel, and maps errors; it computes nothing.

mod convert;
mod errors;
mod fn_amp;
mod fn_erm;
mod fn_glm;
mod fn_layers;
mod fn_linalg;
mod fn_losses;
mod fn_models;
mod fn_nets;
mod fn_priors;
mod fn_random;
mod fn_reliability;
mod fn_rmt;
mod fn_sensing;
mod fn_sgd;
mod fn_tensor;
mod runtime;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HdcoreError", py.get_type::<errors::HdcoreError>())?;
    m.add(
        "ConvergenceError",
        py.get_type::<errors::ConvergenceError>(),
    )?;
    m.add("NumericalError", py.get_type::<errors::NumericalError>())?;
    m.add("InternalError", py.get_type::<errors::InternalError>())?;
    fn_random::register(m)?;
    fn_linalg::register(m)?;
    fn_priors::register(m)?;
    fn_models::register(m)?;
    fn_amp::register(m)?;
    fn_glm::register(m)?;
    fn_rmt::register(m)?;
    fn_sensing::register(m)?;
    fn_losses::register(m)?;
    fn_erm::register(m)?;
    fn_sgd::register(m)?;
    fn_tensor::register(m)?;
    fn_reliability::register(m)?;
    fn_nets::register(m)?;
    fn_layers::register(m)?;
    Ok(())
}
