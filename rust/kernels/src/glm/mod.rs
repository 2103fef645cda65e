//! Generalised linear and multi-index models: channels (output functions), product priors
//! (input functions), one general GAMP engine with `p x p` matrix variances, the matrix-free
//! spectral operators of its linearisation, and the Gaussian multi-index sampler.
//!
//! The GAMP loop ([`gamp::gamp`]) is generic over an [`output::OutputChannel`] (Bayes channels;
//! the proximal output function of ERM in [`prox`]; sequence channels plug in the same way) and an
//! [`input::InputDenoiser`] (separable product priors; the ridge and sphere input functions of
//! ERM in [`prox`]; non-separable matrix denoisers plug in the same way).

pub mod channels;
pub mod gamp;
pub mod input;
pub mod ops;
pub mod output;
pub mod prox;
pub mod sample;
pub mod small;
pub mod special;
pub mod spectral;

pub use channels::{Channel, Link, Posterior};
pub use gamp::{gamp, GampOptions, GampOutput};
pub use input::{InputDenoiser, ProductPrior};
pub use output::{BayesOutput, OutputChannel};

/// Random-stream domain tags of this module (`rng::domain::FREE + 10..19`).
pub mod domain {
    use crate::rng::domain::FREE;
    /// Rows of the design matrix.
    pub const DESIGN: u64 = FREE + 10;
    /// Teacher weights `W*`.
    pub const TEACHER: u64 = FREE + 11;
    /// Label noise.
    pub const LABEL_NOISE: u64 = FREE + 12;
    /// Random starts of GAMP.
    pub const INIT: u64 = FREE + 13;
    /// Start vectors of the spectral eigensolvers.
    pub const SPECTRAL: u64 = FREE + 14;
    /// Quasi-random points of the theory's Monte Carlo estimates.
    pub const THEORY: u64 = FREE + 15;
    /// Random starts of GAMP for ERM (`hdcore.algorithms.erm_gamp`, drawn from Python).
    pub const ERM_INIT: u64 = FREE + 16;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::linalg::Dense;
    use crate::priors::Prior;
    use crate::rng::fill_standard_normal;
    use crate::threads::pool;

    fn run(threads: usize) -> GampOutput {
        let (n, d, p) = (3000, 1000, 1);
        let pl = pool(Some(threads)).unwrap();
        let ch = Channel::from_name("sign", p, 0.0, None).unwrap();
        let mut x = vec![0.0f64; n * d];
        let (mut w, mut z, mut y) = (vec![0.0; d * p], vec![0.0; n * p], vec![0.0; n]);
        sample::multi_index(&pl, n, d, p, Some(&Prior::Rademacher), Some(&ch), 3, &mut x, &mut w, &mut z, &mut y).unwrap();
        let xd = Dense::new(&x, n, d).unwrap();
        let out = BayesOutput::new(&ch, &y).unwrap();
        let prior = ProductPrior::new(Prior::Rademacher, p).unwrap();
        let mut w0 = vec![0.0; d * p];
        fill_standard_normal(&pl, 1, domain::INIT, &mut w0);
        w0.iter_mut().for_each(|v| *v *= 1e-3);
        gamp(&pl, &xd, &out, &prior, &w0, &[1.0], Some(&w), GampOptions::new(60, 0.3, 1e-12), &Never).unwrap()
    }

    #[test]
    fn binary_perceptron_gamp_recovers_the_teacher_above_the_algorithmic_threshold() {
        // alpha = 3 is above the algorithmic threshold (about 1.49) of the binary perceptron:
        // GAMP reaches perfect recovery, M = Q = 1
        let a = run(1);
        let m = *a.m.last().unwrap();
        assert!(m > 0.99, "overlap {m}");
        let b = run(2);
        assert_eq!(a.estimate, b.estimate, "results depend on the thread count");
    }
}
