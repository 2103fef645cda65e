//! The proximal output function of GAMP for ERM (digest 06, Sec. 2; digest 00, S6):
//!
//! `g_out(y, omega, V) = (prox_{V rho(y - .)}(omega) - omega) / V`,
//! `d g_out / d omega = -rho''(r) / (1 + V rho''(r))`,
//!
//! where `r` is the prox residual of `delta = y - omega` ([`Loss::prox`]). With
//! `prox = y - r` this is `g_out = (delta - r)/V = rho'(r)` and `dg = -(1 - dr/d delta)/V`
//! (the second form also covers the dead zone of the absolute loss). A GAMP engine calls
//! [`ProxChannel::g_out`] once per sample per iteration, from any thread, and checks
//! [`ProxChannel::single_valued`] once per iteration (outside it the output function is
//! discontinuous and GAMP's state evolution no longer applies).

use super::Loss;
use crate::error::{ensure, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Proximal ("ERM") output channel of a residual loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxChannel {
    loss: Loss,
}

impl ProxChannel {
    /// The output function of `loss(y - z)`.
    pub fn new(loss: Loss) -> Self {
        Self { loss }
    }

    /// The loss.
    pub fn loss(&self) -> &Loss {
        &self.loss
    }

    /// Whether the prox at variance `v` is single-valued (`1 + v rho'' > 0` everywhere).
    pub fn single_valued(&self, v: f64) -> bool {
        self.loss.prox_single_valued(v)
    }

    /// `(g_out, d g_out / d omega)` for one sample; `v > 0` (NaN for non-finite input).
    #[inline]
    pub fn g_out(&self, y: f64, omega: f64, v: f64) -> (f64, f64) {
        let delta = y - omega;
        let p = self.loss.prox(delta, v);
        ((delta - p.r) / v, -(1.0 - p.dr) / v)
    }

    /// `g_out` and its derivative for every sample at one variance `v > 0` (parallel in fixed
    /// chunks). Fails if `v` is not positive or the lengths differ; whether the prox is
    /// single-valued at `v` is the caller's check ([`ProxChannel::single_valued`]).
    pub fn g_out_batch(
        &self,
        pool: &ThreadPool,
        y: &[f64],
        omega: &[f64],
        v: f64,
        g: &mut [f64],
        dg: &mut [f64],
    ) -> Result<()> {
        ensure(v.is_finite() && v > 0.0, "v", || {
            format!("must be finite and > 0, got {v}")
        })?;
        let n = y.len();
        for (name, len) in [("omega", omega.len()), ("g", g.len()), ("dg", dg.len())] {
            ensure(len == n, name, || format!("has length {len}, expected {n}"))?;
        }
        const CHUNK: usize = 1 << 12;
        pool.install(|| {
            y.par_chunks(CHUNK)
                .zip(omega.par_chunks(CHUNK))
                .zip(g.par_chunks_mut(CHUNK))
                .zip(dg.par_chunks_mut(CHUNK))
                .for_each(|(((yc, oc), gc), dc)| {
                    for k in 0..yc.len() {
                        let (a, b) = self.g_out(yc[k], oc[k], v);
                        gc[k] = a;
                        dc[k] = b;
                    }
                })
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_out_is_rho_prime_of_the_prox_residual_and_dg_its_omega_derivative() {
        let h = 1e-6;
        for loss in [
            Loss::Square,
            Loss::Huber { a: 1.0 },
            Loss::Tukey { tau: 2.0 },
            Loss::Cauchy { tau: 1.0 },
        ] {
            let ch = ProxChannel::new(loss);
            for &(y, omega, v) in &[(0.3, -0.2, 0.5), (2.5, 0.1, 1.1), (-1.0, 0.7, 0.3)] {
                let (g, dg) = ch.g_out(y, omega, v);
                let r = loss.prox(y - omega, v).r;
                assert!((g - loss.d1(r)).abs() < 1e-12);
                let fd = (ch.g_out(y, omega + h, v).0 - ch.g_out(y, omega - h, v).0) / (2.0 * h);
                assert!((dg - fd).abs() < 1e-6, "{loss:?}: {dg} vs {fd}");
                let d2 = loss.d2(r);
                assert!((dg + d2 / (1.0 + v * d2)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn square_loss_output_function_is_linear() {
        let ch = ProxChannel::new(Loss::Square);
        let (g, dg) = ch.g_out(1.0, 0.25, 0.5);
        assert!((g - 0.75 / 1.5).abs() < 1e-15);
        assert!((dg + 1.0 / 1.5).abs() < 1e-15);
    }
}
