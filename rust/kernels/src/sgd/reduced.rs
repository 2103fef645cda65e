//! The exact reduced simulation: the Markov chain of the overlaps.
//!
//! Tied students (one weight vector `w`, `q = ||w||^2/d`): write
//! `w = sqrt(d) (m e1 + e e2 + rho e3)` with `e1 = w*/sqrt(d)`, `e2 = p`, `e3` a unit vector
//! orthogonal to both, `rho^2 = q - m^2 - e^2`. The tokens `x_j` (`j` over the `B L` tokens of a
//! mini-batch) of a fresh sample have i.i.d. N(0, 1) coordinates `a_j, b_j, c_j` along
//! `sqrt(d) e1, sqrt(d) e2, sqrt(d) e3` and a remainder `r_j` in the `(d - 3)`-dimensional
//! complement, independent of them. The student and teacher projections are
//! `z*_j = a_j`, `z_j = m a_j + e b_j + rho c_j + s_j e`, so the loss gradients `g_j` are
//! functions of `(a, b, c)` only; the update `w' = w - (eta/B) sum_j g_j x~_j` gives
//!
//! ```text
//! m' = m - eta/(B d) sum_j g_j a_j
//! e' = e - eta/(B d) sum_j g_j (b_j + s_j)
//! q' = q - 2 eta/(B d) sum_j g_j z_j
//!        + eta^2/(B^2 d^2) [ (sum g a)^2 + (sum g (b + s))^2 + (sum g c)^2 + d ||sum_j g_j r_j||^2 ]
//! ```
//!
//! and, given `g`, `d ||sum_j g_j r_j||^2 ~ |g|^2 chi^2_{d-3}` (the Gram matrix of the `r_j` is
//! Wishart, and its quadratic form in a vector independent of it is a scaled chi-square). A fresh
//! sample's coordinates along the new `span(w*, p, w')` are again i.i.d. N(0, 1), so
//! `(m, e, q)` is a Markov chain with exactly this transition, whatever `d`. Without positional
//! encoding `b` drops out and the complement has `d - 2` dimensions. Untied students: each block
//! `W_l` meets only token `l`, giving the same chain per block (`d - 2` complement), coupled by
//! the shared output and the global normalisation `sum_l q_l = L`.

use super::functions::{Problem, Work};
use super::{stop_measure, tags, RunOutput, SgdOptions};
use crate::control::Interrupt;
use crate::error::{ensure, Result};
use crate::rng::{stream, Xoshiro256PlusPlus};
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Steps drawn from one stream `(seed, REDUCED, run, step / BLOCK)`.
pub const BLOCK: u64 = 1 << 12;

struct Chain<'a> {
    pb: &'a Problem,
    o: &'a SgdOptions,
    seed: u64,
    run: u64,
    tied: bool,
    m: Vec<f64>,
    e: f64,
    q: Vec<f64>,
    step: u64,
    rng: Xoshiro256PlusPlus,
    chi: ChiSquared<f64>,
    rec: usize,
    loss_sum: f64,
    loss_n: u64,
    done: bool,
    work: Work,
    y: Vec<f64>,
    g: Vec<f64>,
    zs: Vec<f64>,
    z: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
    c: Vec<f64>,
    rho: Vec<f64>,
    acc: Vec<[f64; 5]>,
    out: RunOutput,
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

impl<'a> Chain<'a> {
    fn new(pb: &'a Problem, o: &'a SgdOptions, seed: u64, run: u64) -> Result<Self> {
        let k = pb.blocks();
        let tied = k == 1;
        let pe = pb.positional.is_some();
        let df = o.d as f64;
        let perp = if tied && pe { df - 3.0 } else { df - 2.0 };
        let chi = ChiSquared::new(perp).map_err(|e| crate::error::invalid("d", format!("{e}")))?;
        let (mut m, mut e) = (vec![0.0; k], 0.0);
        match o.m0 {
            Some(m0) => {
                m.iter_mut().for_each(|v| *v = m0);
                e = o.e0.unwrap_or(0.0);
            }
            None => {
                // a uniform point of the sphere: its first coordinates over the norm
                let mut rng = stream(seed, &[tags::INIT, run, u64::MAX]);
                let rest = ChiSquared::new(if tied && pe { df - 2.0 } else { df - 1.0 })
                    .map_err(|e| crate::error::invalid("d", format!("{e}")))?;
                for mv in m.iter_mut() {
                    let g1 = normal(&mut rng);
                    let g2 = if tied && pe { normal(&mut rng) } else { 0.0 };
                    let nrm = (g1 * g1 + g2 * g2 + rest.sample(&mut rng)).sqrt();
                    *mv = g1 / nrm;
                    if tied && pe {
                        e = g2 / nrm;
                    }
                }
            }
        }
        let n = o.batch * pb.len;
        Ok(Self {
            pb,
            o,
            seed,
            run,
            tied,
            m,
            e,
            q: vec![1.0; k],
            step: 0,
            rng: stream(seed, &[tags::REDUCED, run, 0]),
            chi,
            rec: 0,
            loss_sum: 0.0,
            loss_n: 0,
            done: false,
            work: pb.work(),
            y: vec![0.0; pb.teacher_outputs()],
            g: vec![0.0; pb.len],
            zs: vec![0.0; pb.len],
            z: vec![0.0; pb.len],
            a: vec![0.0; n],
            b: vec![0.0; n],
            c: vec![0.0; n],
            rho: vec![0.0; k],
            acc: vec![[0.0; 5]; k],
            out: RunOutput::default(),
        })
    }

    fn observe(&mut self) -> bool {
        if self.o.record.get(self.rec) == Some(&self.step) {
            self.out.steps.push(self.step);
            self.out.m.extend_from_slice(&self.m);
            self.out.e.push(self.e);
            self.out
                .q
                .push(self.q.iter().sum::<f64>() / self.q.len() as f64);
            self.out.loss.push(if self.loss_n > 0 {
                self.loss_sum / self.loss_n as f64
            } else {
                f64::NAN
            });
            self.loss_sum = 0.0;
            self.loss_n = 0;
            self.rec += 1;
        }
        let stop = self
            .o
            .stop_overlap
            .is_some_and(|s| stop_measure(&self.m) >= s);
        if stop || self.step >= self.o.steps {
            self.done = true;
            self.out.stopped = stop;
            self.out.final_step = self.step;
            self.out.final_m = self.m.clone();
            self.out.final_e = self.e;
        }
        self.done
    }

    fn one_step(&mut self) -> Result<()> {
        if self.step > 0 && self.step % BLOCK == 0 {
            self.rng = stream(self.seed, &[tags::REDUCED, self.run, self.step / BLOCK]);
        }
        let (l, bsz) = (self.pb.len, self.o.batch);
        let df = self.o.d as f64;
        let k = self.m.len();
        if self.tied {
            self.rho[0] = (self.q[0] - self.m[0] * self.m[0] - self.e * self.e)
                .max(0.0)
                .sqrt();
        } else {
            for ((r, m), q) in self.rho.iter_mut().zip(&self.m).zip(&self.q) {
                *r = (q - m * m).max(0.0).sqrt();
            }
        }
        let rho = std::mem::take(&mut self.rho);
        let mut acc = std::mem::take(&mut self.acc);
        acc.iter_mut().for_each(|a| *a = [0.0; 5]);
        let pe = self.pb.positional.as_deref();
        let mut loss = 0.0;
        // per block (acc): sum g a, sum g (b + s), sum g c, sum g z, sum g^2
        for bi in 0..bsz {
            for i in 0..l {
                let j = bi * l + i;
                self.a[j] = normal(&mut self.rng);
                self.b[j] = if self.tied && pe.is_some() {
                    normal(&mut self.rng)
                } else {
                    0.0
                };
                self.c[j] = normal(&mut self.rng);
                self.zs[i] = self.a[j];
                self.z[i] = if self.tied {
                    self.m[0] * self.a[j]
                        + self.e * self.b[j]
                        + rho[0] * self.c[j]
                        + pe.map_or(0.0, |s| s[i] * self.e)
                } else {
                    self.m[i] * self.a[j] + rho[i] * self.c[j]
                };
            }
            self.pb
                .teacher_output(&self.zs, &mut self.y, &mut self.work);
            if self.pb.noise > 0.0 {
                for yv in self.y.iter_mut() {
                    *yv += self.pb.noise * normal(&mut self.rng);
                }
            }
            loss += self
                .pb
                .loss_grad(&self.y, &self.z, &mut self.g, &mut self.work);
            for i in 0..l {
                let j = bi * l + i;
                let blk = if self.tied { 0 } else { i };
                let g = self.g[i];
                let s = pe.map_or(0.0, |s| s[i]);
                let ac = &mut acc[blk];
                ac[0] += g * self.a[j];
                ac[1] += g * (self.b[j] + s);
                ac[2] += g * self.c[j];
                ac[3] += g * self.z[i];
                ac[4] += g * g;
            }
        }
        self.loss_sum += loss / bsz as f64;
        self.loss_n += 1;
        let h = self.o.lr / (bsz as f64 * df);
        for (blk, ac) in acc.iter().enumerate() {
            let chi = self.chi.sample(&mut self.rng);
            self.m[blk] -= h * ac[0];
            if self.tied {
                self.e -= h * ac[1];
            }
            let sq = ac[0] * ac[0] + ac[1] * ac[1] + ac[2] * ac[2] + ac[4] * chi;
            self.q[blk] += -2.0 * h * ac[3] + h * h * sq;
        }
        self.rho = rho;
        self.acc = acc;
        let total: f64 = self.q.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(crate::KernelError::Numerical {
                what: "online_sgd",
                reason: format!(
                    "the weights became non-finite at step {} (learning rate too large?)",
                    self.step
                ),
            });
        }
        if self.o.spherical {
            let r = k as f64 / total;
            let sr = r.sqrt();
            self.m.iter_mut().for_each(|v| *v *= sr);
            self.e *= sr;
            self.q.iter_mut().for_each(|v| *v *= r);
        }
        self.step += 1;
        Ok(())
    }

    fn advance(&mut self, n: u64) -> Result<()> {
        for _ in 0..n {
            if self.done || self.observe() {
                break;
            }
            self.one_step()?;
        }
        Ok(())
    }
}

/// Simulate the overlap chain of the runs `runs`, in parallel over runs.
pub fn simulate<I: Interrupt + ?Sized>(
    pool: &ThreadPool,
    problem: &Problem,
    opts: &SgdOptions,
    seed: u64,
    runs: &[u64],
    ctl: &I,
) -> Result<Vec<RunOutput>> {
    opts.validate(problem)?;
    ensure(opts.d >= 4, "d", || {
        format!("must be >= 4 in the reduced mode, got {}", opts.d)
    })?;
    let mut chains = runs
        .iter()
        .map(|&r| Chain::new(problem, opts, seed, r))
        .collect::<Result<Vec<_>>>()?;
    let block = (1u64 << 18) / (opts.batch * problem.len) as u64;
    while chains.iter().any(|c| !c.done) {
        ctl.check()?;
        pool.install(|| {
            chains
                .par_iter_mut()
                .try_for_each(|c| c.advance(block.max(1)))
        })?;
    }
    Ok(chains.into_iter().map(|c| c.out).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::sgd::functions::{Activation, Function, Loss, Student, Teacher};
    use crate::threads::pool;

    #[test]
    fn identical_for_any_thread_count() {
        let pb = Problem {
            len: 2,
            teacher: Teacher::Scalar {
                f: Function::Pair,
                scale: 1.0,
            },
            student: Student::Untied(Activation::Identity),
            loss: Loss::Squared,
            noise: 0.2,
            positional: None,
        };
        let o = SgdOptions {
            d: 1000,
            lr: 0.3,
            steps: 20_000,
            batch: 2,
            spherical: true,
            record: vec![0, 10_000, 20_000],
            stop_overlap: None,
            m0: None,
            e0: None,
        };
        let a = simulate(&pool(Some(1)).unwrap(), &pb, &o, 5, &[0, 1, 2], &Never).unwrap();
        let b = simulate(&pool(Some(2)).unwrap(), &pb, &o, 5, &[0, 1, 2], &Never).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.m, y.m);
            assert_eq!(x.q, y.q);
        }
    }

    /// Mean drift of one step from a fixed state against the ODE drift for a linear model where
    /// it is known in closed form: `R = 1 - m` (squared loss, `f = f* = z1`, L = 1), so
    /// `dm/dt = eta (1 - m^2) - eta^2 m E g^2 / 2` with `E g^2 = 2 (1 - m)`.
    #[test]
    fn drift_matches_closed_form() {
        let pb = Problem {
            len: 1,
            teacher: Teacher::Scalar {
                f: Function::First,
                scale: 1.0,
            },
            student: Student::Ssi {
                f: Function::First,
                scale: 1.0,
            },
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        };
        let (d, eta, m0) = (1000u64, 0.5, 0.4);
        let n = 4000;
        let o = SgdOptions {
            d,
            lr: eta,
            steps: 1,
            batch: 1,
            spherical: true,
            record: vec![1],
            stop_overlap: None,
            m0: Some(m0),
            e0: None,
        };
        let runs: Vec<u64> = (0..n).collect();
        let out = simulate(&pool(Some(2)).unwrap(), &pb, &o, 9, &runs, &Never).unwrap();
        let mean: f64 = out.iter().map(|r| r.m[0] - m0).sum::<f64>() / n as f64 * d as f64;
        let pred = eta * (1.0 - m0 * m0) - 0.5 * eta * eta * m0 * 2.0 * (1.0 - m0);
        // per-step std of d*(m' - m) is about eta * sqrt(E g^2 z*^2) ~ 0.8; 4000 runs: se 0.013
        assert!((mean - pred).abs() < 0.06, "drift {mean} vs {pred}");
    }
}
