//! The output side of GAMP: an [`OutputChannel`] turns `(omega_mu, V)` into `g_out` and its
//! Jacobian for sample `mu`. [`BayesOutput`] is the Bayes-optimal one of a [`Channel`];
//! other estimators (proximal/ERM output functions, sequence channels) implement the same trait.

use super::channels::{Channel, Posterior, Prepared};
use super::small::{Spd, MAXP};
use crate::error::{ensure, Result};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Output function of GAMP for `n` samples with `p`-dimensional pre-activations.
///
/// `prepare` is called once per iteration with the current variance `V` (`p x p` row-major);
/// `g_out` is then called for every sample (in parallel, from several threads), and must write
/// `g` (length `p`) and `dg = d g / d omega` (`p x p` row-major).
pub trait OutputChannel: Sync {
    /// Per-iteration state derived from `V` (e.g. its Cholesky factor).
    type Ctx: Sync;
    /// Number of directions.
    fn p(&self) -> usize;
    /// Number of samples.
    fn n(&self) -> usize;
    /// Precompute what every sample needs at variance `v`.
    fn prepare(&self, v: &[f64]) -> Result<Self::Ctx>;
    /// `g_out` and its Jacobian for sample `mu` at `omega`.
    fn g_out(&self, ctx: &Self::Ctx, mu: usize, omega: &[f64], g: &mut [f64], dg: &mut [f64]) -> Result<()>;
    /// Why `g_out` is not defined at variance `v`, if it is not (the GAMP loop then stops and
    /// reports it); every variance is accepted by default.
    fn outside_domain(&self, _v: &[f64]) -> Option<String> {
        None
    }
}

/// Bayes-optimal output function of a channel with labels `y`:
/// `g_out = V^{-1}(E[z | y, omega, V] - omega)`,
/// `d g_out / d omega = V^{-1} Cov[z | y, omega, V] V^{-1} - V^{-1}`.
#[derive(Debug, Clone, Copy)]
pub struct BayesOutput<'a> {
    channel: &'a Channel,
    y: &'a [f64],
}

impl<'a> BayesOutput<'a> {
    /// The Bayes output function of `channel` for labels `y` (checked against the channel).
    pub fn new(channel: &'a Channel, y: &'a [f64]) -> Result<Self> {
        channel.check_output_function()?;
        if let Some((mu, v)) = y.iter().enumerate().find(|(_, &v)| !channel.label_ok(v)) {
            ensure(false, "y", || format!("label y[{mu}] = {v} is impossible for link {:?} with noise {}", channel.link().name(), channel.noise()))?;
        }
        Ok(Self { channel, y })
    }
}

/// Evaluate `g_out` and its Jacobian from a posterior (shared by the GAMP loop and the bindings).
pub fn bayes_g_out(channel: &Channel, prep: &Prepared, y: f64, omega: &[f64], g: &mut [f64], dg: &mut [f64]) -> Result<()> {
    let v = &prep.v;
    let p = v.p;
    let mut post = Posterior::default();
    channel.posterior_prepared(y, omega, prep, &mut post)?;
    let pi = &v.inv;
    let mut diff = [0.0; MAXP];
    for i in 0..p {
        diff[i] = post.mean[i] - omega[i];
    }
    for i in 0..p {
        g[i] = (0..p).map(|k| pi[i * p + k] * diff[k]).sum();
    }
    // dg = P C P - P
    let mut cp = [0.0; MAXP * MAXP];
    for i in 0..p {
        for j in 0..p {
            cp[i * p + j] = (0..p).map(|k| post.cov[i * p + k] * pi[k * p + j]).sum();
        }
    }
    for i in 0..p {
        for j in 0..p {
            dg[i * p + j] = (0..p).map(|k| pi[i * p + k] * cp[k * p + j]).sum::<f64>() - pi[i * p + j];
        }
    }
    Ok(())
}

/// `g_out` (`n x p`) and its Jacobian (`n x p x p`) for every sample (parallel over samples).
pub fn g_out_batch(pool: &ThreadPool, ch: &Channel, y: &[f64], omega: &[f64], v: &Spd, g: &mut [f64], dg: &mut [f64]) -> Result<()> {
    let (n, p) = (y.len(), ch.p());
    ensure(omega.len() == n * p && g.len() == n * p && dg.len() == n * p * p, "omega", || format!("expected {n} x {p} fields"))?;
    ensure(v.p == p, "v", || format!("must be {p} x {p}"))?;
    let prep = ch.prepare(v.clone());
    pool.install(|| {
        g.par_chunks_mut(p)
            .zip(dg.par_chunks_mut(p * p))
            .enumerate()
            .try_for_each(|(i, (gi, dgi))| bayes_g_out(ch, &prep, y[i], &omega[i * p..(i + 1) * p], gi, dgi))
    })
}

impl OutputChannel for BayesOutput<'_> {
    type Ctx = Prepared;

    fn p(&self) -> usize {
        self.channel.p()
    }
    fn n(&self) -> usize {
        self.y.len()
    }
    fn prepare(&self, v: &[f64]) -> Result<Prepared> {
        Ok(self.channel.prepare(Spd::new(self.channel.p(), v)?))
    }
    fn g_out(&self, ctx: &Prepared, mu: usize, omega: &[f64], g: &mut [f64], dg: &mut [f64]) -> Result<()> {
        bayes_g_out(self.channel, ctx, self.y[mu], omega, g, dg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobian_is_the_derivative_of_g_out() {
        let cases = [("sign", 1, vec![0.7]), ("relu", 1, vec![0.7]), ("prod", 2, vec![0.8, 0.3, 0.3, 0.6]), ("ratio", 2, vec![0.8, 0.3, 0.3, 0.6]), ("sign_prod", 2, vec![0.8, 0.3, 0.3, 0.6]), ("norm", 2, vec![0.8, 0.3, 0.3, 0.6])];
        for (name, p, v) in cases {
            let ch = Channel::from_name(name, p, 0.0, None).unwrap();
            let y = match name {
                "sign" | "sign_prod" => -1.0,
                "relu" => 0.6,
                _ => 0.45,
            };
            let spd = ch.prepare(Spd::new(p, &v).unwrap());
            let omega = [0.3, -0.4];
            let (mut g, mut dg) = ([0.0; 2], [0.0; 4]);
            bayes_g_out(&ch, &spd, y, &omega[..p], &mut g, &mut dg).unwrap();
            let h = 1e-5;
            for j in 0..p {
                let (mut op, mut om) = (omega, omega);
                op[j] += h;
                om[j] -= h;
                let (mut gp, mut gm, mut tmp) = ([0.0; 2], [0.0; 2], [0.0; 4]);
                bayes_g_out(&ch, &spd, y, &op[..p], &mut gp, &mut tmp).unwrap();
                bayes_g_out(&ch, &spd, y, &om[..p], &mut gm, &mut tmp).unwrap();
                for i in 0..p {
                    let num = (gp[i] - gm[i]) / (2.0 * h);
                    assert!((num - dg[i * p + j]).abs() < 1e-5, "{name}: dg[{i},{j}] {} vs {num}", dg[i * p + j]);
                }
            }
        }
    }

    #[test]
    fn impossible_labels_are_rejected() {
        let ch = Channel::from_name("abs", 1, 0.0, None).unwrap();
        assert!(BayesOutput::new(&ch, &[0.3, -0.1]).is_err());
        assert!(BayesOutput::new(&ch, &[0.3, f64::NAN]).is_err());
        assert!(BayesOutput::new(&ch, &[0.3, 0.1]).is_ok());
    }
}
