//! What a sample is mapped to: the teacher's target, the student's output, the loss, and the
//! gradient of the loss with respect to the student's token projections.
//!
//! Conventions (Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651, Sec. 2):
//! a sample is `L` tokens `x_l ~ N(0, I_d/d)`; the teacher sees `z*_l = x_l . w*` (`||w*||^2 = d`,
//! so `z*_l ~ N(0, 1)`); the student sees `z_l = x~_l . w_l` with `x~_l = x_l + s_l p/sqrt(d)`
//! (positional encoding, tied students only) and `w_l = w` (tied) or the `l`-th block of `W`
//! (untied). Everything here is a function of `(z*, z)` only: `O(L)` (scalar models) or
//! `O(L^2)` (attention) work per sample, independent of `d`.

use crate::error::{ensure, invalid, Result};

/// Pointwise activation of the tied / untied networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1/(1 + exp(-x))`.
    Sigmoid,
    /// `x^2`.
    Square,
    /// `He_2(x)/sqrt(2) = (x^2 - 1)/sqrt(2)`.
    He2,
}

impl Activation {
    /// Parse a name (`identity`, `relu`, `tanh`, `sigmoid`, `square`, `he2`).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "identity" | "linear" => Self::Identity,
            "relu" => Self::Relu,
            "tanh" => Self::Tanh,
            "sigmoid" => Self::Sigmoid,
            "square" => Self::Square,
            "he2" => Self::He2,
            other => {
                return Err(invalid(
                    "activation",
                    format!("unknown activation {other:?}; expected one of identity, relu, tanh, sigmoid, square, he2"),
                ))
            }
        })
    }

    /// `sigma(x)`.
    #[inline]
    pub fn value(self, x: f64) -> f64 {
        match self {
            Self::Identity => x,
            Self::Relu => x.max(0.0),
            Self::Tanh => x.tanh(),
            Self::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Self::Square => x * x,
            Self::He2 => (x * x - 1.0) * std::f64::consts::FRAC_1_SQRT_2,
        }
    }

    /// `sigma'(x)` (`relu'(0) = 0`).
    #[inline]
    pub fn deriv(self, x: f64) -> f64 {
        match self {
            Self::Identity => 1.0,
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Tanh => {
                let t = x.tanh();
                1.0 - t * t
            }
            Self::Sigmoid => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            }
            Self::Square => 2.0 * x,
            Self::He2 => std::f64::consts::SQRT_2 * x,
        }
    }
}

/// Scalar link functions `f: R^L -> R` of the sequence single-index model (the targets of the
/// authors' `simulation_conf.py`, up to the global `scale` kept in [`Teacher::Scalar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `sum_l z_l` (SIE 1).
    Sum,
    /// `sum_l z_l / L` (SIE 1).
    Mean,
    /// `z_1` (SIE 1).
    First,
    /// `z_1 z_2` (SIE 2).
    Pair,
    /// `sum_l (z_l^2 - 1)/sqrt(2)` (SIE 2).
    He2Sum,
    /// `z_1 z_2 z_3` (SIE 3).
    Triple,
    /// `z_1 + z_1 z_2` (staircase, SIE 1).
    Staircase2,
    /// `z_1 + z_1 z_2 + z_1 z_2 z_3` (staircase, SIE 1).
    Staircase3,
    /// `z_1 - z_2` ("null divergence", SIE 1).
    Difference,
    /// `(z_1^2 - z_2^2)/sqrt(2)` ("null divergence", SIE 2).
    He2Difference,
}

impl Function {
    /// Parse a name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "sum" => Self::Sum,
            "mean" => Self::Mean,
            "z1" => Self::First,
            "z1z2" => Self::Pair,
            "he2sum" => Self::He2Sum,
            "z1z2z3" => Self::Triple,
            "staircase2" => Self::Staircase2,
            "staircase3" => Self::Staircase3,
            "difference" => Self::Difference,
            "he2difference" => Self::He2Difference,
            other => {
                return Err(invalid(
                    "target",
                    format!(
                        "unknown target {other:?}; expected one of sum, mean, z1, z1z2, he2sum, z1z2z3, \
                         staircase2, staircase3, difference, he2difference, attention"
                    ),
                ))
            }
        })
    }

    /// Smallest sequence length the function is defined for.
    pub fn min_len(self) -> usize {
        match self {
            Self::Sum | Self::Mean | Self::First | Self::He2Sum => 1,
            Self::Pair | Self::Staircase2 | Self::Difference | Self::He2Difference => 2,
            Self::Triple | Self::Staircase3 => 3,
        }
    }

    /// `f(z)`.
    pub fn value(self, z: &[f64]) -> f64 {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        match self {
            Self::Sum => z.iter().sum(),
            Self::Mean => z.iter().sum::<f64>() / z.len() as f64,
            Self::First => z[0],
            Self::Pair => z[0] * z[1],
            Self::He2Sum => z.iter().map(|v| (v * v - 1.0) * s).sum(),
            Self::Triple => z[0] * z[1] * z[2],
            Self::Staircase2 => z[0] + z[0] * z[1],
            Self::Staircase3 => z[0] + z[0] * z[1] + z[0] * z[1] * z[2],
            Self::Difference => z[0] - z[1],
            Self::He2Difference => (z[0] * z[0] - z[1] * z[1]) * s,
        }
    }

    /// `grad f(z)` into `g` (length `L`).
    pub fn grad(self, z: &[f64], g: &mut [f64]) {
        g.iter_mut().for_each(|v| *v = 0.0);
        let s2 = std::f64::consts::SQRT_2;
        match self {
            Self::Sum => g.iter_mut().for_each(|v| *v = 1.0),
            Self::Mean => {
                let inv = 1.0 / g.len() as f64;
                g.iter_mut().for_each(|v| *v = inv)
            }
            Self::First => g[0] = 1.0,
            Self::Pair => {
                g[0] = z[1];
                g[1] = z[0];
            }
            Self::He2Sum => g.iter_mut().zip(z).for_each(|(v, &x)| *v = s2 * x),
            Self::Triple => {
                g[0] = z[1] * z[2];
                g[1] = z[0] * z[2];
                g[2] = z[0] * z[1];
            }
            Self::Staircase2 => {
                g[0] = 1.0 + z[1];
                g[1] = z[0];
            }
            Self::Staircase3 => {
                g[0] = 1.0 + z[1] + z[1] * z[2];
                g[1] = z[0] + z[0] * z[2];
                g[2] = z[0] * z[1];
            }
            Self::Difference => {
                g[0] = 1.0;
                g[1] = -1.0;
            }
            Self::He2Difference => {
                g[0] = s2 * z[0];
                g[1] = -s2 * z[1];
            }
        }
    }
}

/// The teacher: `y = f*(z*)` (scalar) or the positional-semantic attention matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Teacher {
    /// `y = scale * f(z*)`.
    Scalar {
        /// Link function.
        f: Function,
        /// Global prefactor (e.g. `1/sqrt(L)`).
        scale: f64,
    },
    /// `T = (1 - omega) softmax_row(z* z*^T) + omega A` (arXiv:2506.02651, Sec. 4), `L x L`.
    Attention {
        /// Weight of the positional part, in `[0, 1]`.
        omega: f64,
        /// Row-stochastic positional matrix, row-major `L x L`.
        a: Vec<f64>,
    },
}

/// The student's output as a function of its projections `z`.
#[derive(Debug, Clone, PartialEq)]
pub enum Student {
    /// Sequence single-index student `scale * f(z)` with a scalar link function.
    Ssi {
        /// Link function.
        f: Function,
        /// Global prefactor.
        scale: f64,
    },
    /// Tied network `sigma(sum_l x~_l . w / sqrt(L))`: one weight vector shared by the tokens.
    Tied(Activation),
    /// Untied network `sigma(<W, vec(x)>/sqrt(L))`: token `l` meets its own block `W_l`.
    Untied(Activation),
    /// Single-layer tied attention `softmax_row(z z^T)` (`L x L`), optionally read out.
    Attention(Readout),
}

/// Read-out of the attention matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Readout {
    /// The `L x L` matrix itself.
    Matrix,
    /// `Tr(S)/sqrt(L)`.
    Trace,
    /// `a^T S b`.
    Bilinear {
        /// Left vector (length `L`).
        a: Vec<f64>,
        /// Right vector (length `L`).
        b: Vec<f64>,
    },
}

/// Per-sample loss `l(y, yhat)` over the output entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// `||y - yhat||^2 / 2` (the analytic population loss of the paper).
    Squared,
    /// `||y - yhat||^2 / n_out` (PyTorch's `MSELoss`, the authors' SGD for scalar outputs).
    Mse,
    /// `||y - yhat||` unsquared (the authors' SGD for attention outputs).
    Frobenius,
}

impl Loss {
    /// Parse a name (`squared`, `mse`, `frobenius`).
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "squared" => Self::Squared,
            "mse" => Self::Mse,
            "frobenius" => Self::Frobenius,
            other => {
                return Err(invalid(
                    "loss",
                    format!("unknown loss {other:?}; expected squared, mse or frobenius"),
                ))
            }
        })
    }
}

/// A complete learning problem: sequence length, teacher, student, loss, label noise and the
/// positional coefficients `s` (`p_l = s_l p`, `p` a unit vector orthogonal to `w*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Sequence length `L`.
    pub len: usize,
    /// Teacher.
    pub teacher: Teacher,
    /// Student.
    pub student: Student,
    /// Loss.
    pub loss: Loss,
    /// Standard deviation of Gaussian label noise added to every output entry.
    pub noise: f64,
    /// Positional coefficients `s_l` (tied students only).
    pub positional: Option<Vec<f64>>,
}

fn softmax_rows(z: &[f64], s: &mut [f64]) {
    let l = z.len();
    for i in 0..l {
        let row = &mut s[i * l..(i + 1) * l];
        let mut mx = f64::NEG_INFINITY;
        for j in 0..l {
            row[j] = z[i] * z[j];
            mx = mx.max(row[j]);
        }
        let mut tot = 0.0;
        for v in row.iter_mut() {
            *v = (*v - mx).exp();
            tot += *v;
        }
        for v in row.iter_mut() {
            *v /= tot;
        }
    }
}

/// Scratch space for [`Problem::teacher_output`] and [`Problem::loss_grad`].
#[derive(Debug, Clone)]
pub struct Work {
    s: Vec<f64>,
    gs: Vec<f64>,
    yhat: Vec<f64>,
    r: Vec<f64>,
    grad: Vec<f64>,
}

impl Problem {
    /// Check the combination; `Err` names the argument at fault.
    pub fn validate(&self) -> Result<()> {
        let l = self.len;
        ensure(l >= 1, "L", || format!("must be >= 1, got {l}"))?;
        ensure(self.noise >= 0.0 && self.noise.is_finite(), "noise", || {
            format!("must be finite and >= 0, got {}", self.noise)
        })?;
        match &self.teacher {
            Teacher::Scalar { f, scale } => {
                ensure(l >= f.min_len(), "L", || {
                    format!("target {f:?} needs L >= {}, got {l}", f.min_len())
                })?;
                ensure(scale.is_finite(), "target_scale", || {
                    "must be finite".into()
                })?;
            }
            Teacher::Attention { omega, a } => {
                ensure((0.0..=1.0).contains(omega), "omega", || {
                    format!("must be in [0, 1], got {omega}")
                })?;
                ensure(a.len() == l * l, "a_matrix", || {
                    format!("must be {l} x {l}, got {} entries", a.len())
                })?;
                ensure(a.iter().all(|v| v.is_finite()), "a_matrix", || {
                    "must be finite".into()
                })?;
            }
        }
        match &self.student {
            Student::Ssi { f, scale } => {
                ensure(l >= f.min_len(), "L", || {
                    format!("student function {f:?} needs L >= {}, got {l}", f.min_len())
                })?;
                ensure(scale.is_finite(), "student_scale", || {
                    "must be finite".into()
                })?;
            }
            Student::Untied(_) => {
                ensure(self.positional.is_none(), "positional", || {
                    "the untied student takes no positional encoding".into()
                })?;
            }
            Student::Attention(Readout::Bilinear { a, b }) => {
                ensure(a.len() == l && b.len() == l, "readout", || {
                    format!("bilinear read-out vectors must have length L = {l}")
                })?;
            }
            _ => {}
        }
        if let Some(s) = &self.positional {
            ensure(s.len() == l, "positional", || {
                format!("must have L = {l} coefficients, got {}", s.len())
            })?;
            ensure(s.iter().all(|v| v.is_finite()), "positional", || {
                "must be finite".into()
            })?;
        }
        let (nt, ns) = (self.teacher_outputs(), self.student_outputs());
        ensure(nt == ns, "student", || {
            format!("outputs {ns} values per sample but the teacher outputs {nt}")
        })?;
        Ok(())
    }

    /// Number of weight vectors of the student (`L` for the untied network, else 1).
    pub fn blocks(&self) -> usize {
        match self.student {
            Student::Untied(_) => self.len,
            _ => 1,
        }
    }

    /// Output entries of the teacher.
    pub fn teacher_outputs(&self) -> usize {
        match self.teacher {
            Teacher::Scalar { .. } => 1,
            Teacher::Attention { .. } => self.len * self.len,
        }
    }

    /// Output entries of the student.
    pub fn student_outputs(&self) -> usize {
        match self.student {
            Student::Attention(Readout::Matrix) => self.len * self.len,
            _ => 1,
        }
    }

    /// Scratch buffers sized for this problem.
    pub fn work(&self) -> Work {
        let l2 = self.len * self.len;
        Work {
            s: vec![0.0; l2],
            gs: vec![0.0; l2],
            yhat: vec![0.0; l2.max(1)],
            r: vec![0.0; l2.max(1)],
            grad: vec![0.0; self.len],
        }
    }

    /// Noiseless teacher output for projections `zs` into `y` (`teacher_outputs()` entries).
    pub fn teacher_output(&self, zs: &[f64], y: &mut [f64], work: &mut Work) {
        match &self.teacher {
            Teacher::Scalar { f, scale } => y[0] = scale * f.value(zs),
            Teacher::Attention { omega, a } => {
                softmax_rows(zs, &mut work.s);
                for ((yv, sv), av) in y.iter_mut().zip(&work.s).zip(a) {
                    *yv = (1.0 - omega) * sv + omega * av;
                }
            }
        }
    }

    /// Student output for projections `z` into `yhat` (`student_outputs()` entries).
    pub fn student_output(&self, z: &[f64], yhat: &mut [f64], work: &mut Work) {
        let l = self.len;
        match &self.student {
            Student::Ssi { f, scale } => yhat[0] = scale * f.value(z),
            Student::Tied(act) | Student::Untied(act) => {
                yhat[0] = act.value(z.iter().sum::<f64>() / (l as f64).sqrt());
            }
            Student::Attention(readout) => {
                softmax_rows(z, &mut work.s);
                match readout {
                    Readout::Matrix => yhat[..l * l].copy_from_slice(&work.s),
                    Readout::Trace => {
                        yhat[0] = (0..l).map(|i| work.s[i * l + i]).sum::<f64>() / (l as f64).sqrt()
                    }
                    Readout::Bilinear { a, b } => {
                        yhat[0] = work
                            .s
                            .chunks(l)
                            .zip(a)
                            .map(|(row, ai)| {
                                ai * row.iter().zip(b).map(|(s, bj)| s * bj).sum::<f64>()
                            })
                            .sum();
                    }
                }
            }
        }
    }

    /// Loss of the student's projections `z` against the target `y`; writes
    /// `g_l = d loss / d z_l` into `g` (length `L`) and returns the loss.
    pub fn loss_grad(&self, y: &[f64], z: &[f64], g: &mut [f64], work: &mut Work) -> f64 {
        let l = self.len;
        let n = self.student_outputs();
        let mut yhat = std::mem::take(&mut work.yhat);
        let mut r = std::mem::take(&mut work.r);
        self.student_output(z, &mut yhat, work);
        let mut sq = 0.0;
        for k in 0..n {
            r[k] = yhat[k] - y[k];
            sq += r[k] * r[k];
        }
        let loss = match self.loss {
            Loss::Squared => 0.5 * sq,
            Loss::Mse => {
                let c = 2.0 / n as f64;
                r[..n].iter_mut().for_each(|v| *v *= c);
                sq / n as f64
            }
            Loss::Frobenius => {
                let nrm = sq.sqrt();
                let c = if nrm > 0.0 { 1.0 / nrm } else { 0.0 };
                r[..n].iter_mut().for_each(|v| *v *= c);
                nrm
            }
        };
        match &self.student {
            Student::Ssi { f, scale } => {
                f.grad(z, g);
                g.iter_mut().for_each(|v| *v *= scale * r[0]);
            }
            Student::Tied(act) | Student::Untied(act) => {
                let sl = (l as f64).sqrt();
                let c = r[0] * act.deriv(z.iter().sum::<f64>() / sl) / sl;
                g.iter_mut().for_each(|v| *v = c);
            }
            Student::Attention(readout) => {
                // dloss/dS (work.s holds S from student_output)
                let gs = &mut work.gs;
                match readout {
                    Readout::Matrix => gs.copy_from_slice(&r[..l * l]),
                    Readout::Trace => {
                        gs.iter_mut().for_each(|v| *v = 0.0);
                        let c = r[0] / (l as f64).sqrt();
                        (0..l).for_each(|i| gs[i * l + i] = c);
                    }
                    Readout::Bilinear { a, b } => {
                        for i in 0..l {
                            for j in 0..l {
                                gs[i * l + j] = r[0] * a[i] * b[j];
                            }
                        }
                    }
                }
                // dloss/dlogit_ik = S_ik (G_ik - sum_j G_ij S_ij); logit_ik = z_i z_k
                g.iter_mut().for_each(|v| *v = 0.0);
                for i in 0..l {
                    let row = &work.s[i * l..(i + 1) * l];
                    let grow = &gs[i * l..(i + 1) * l];
                    let c: f64 = row.iter().zip(grow).map(|(s, gg)| s * gg).sum();
                    for k in 0..l {
                        let dlog = row[k] * (grow[k] - c);
                        g[i] += dlog * z[k];
                        g[k] += dlog * z[i];
                    }
                }
            }
        }
        work.yhat = yhat;
        work.r = r;
        loss
    }

    /// Loss and gradient for the given teacher projections `zs` (no label noise); convenience
    /// for tests and Monte-Carlo estimates.
    pub fn eval(&self, zs: &[f64], z: &[f64], g: &mut [f64], work: &mut Work) -> f64 {
        let mut y = vec![0.0; self.teacher_outputs()];
        self.teacher_output(zs, &mut y, work);
        let mut gbuf = std::mem::take(&mut work.grad);
        let loss = self.loss_grad(&y, z, &mut gbuf, work);
        g.copy_from_slice(&gbuf);
        work.grad = gbuf;
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems() -> Vec<Problem> {
        let a = vec![0.7, 0.3, 0.2, 0.8];
        let mut out = Vec::new();
        for f in [
            Function::Sum,
            Function::Pair,
            Function::He2Sum,
            Function::Staircase2,
            Function::He2Difference,
        ] {
            out.push(Problem {
                len: 3,
                teacher: Teacher::Scalar { f, scale: 1.0 },
                student: Student::Ssi { f, scale: 0.7 },
                loss: Loss::Squared,
                noise: 0.0,
                positional: None,
            });
        }
        for act in [Activation::Tanh, Activation::He2, Activation::Sigmoid] {
            out.push(Problem {
                len: 3,
                teacher: Teacher::Scalar {
                    f: Function::Triple,
                    scale: 1.0,
                },
                student: Student::Tied(act),
                loss: Loss::Mse,
                noise: 0.0,
                positional: None,
            });
        }
        for (readout, loss) in [
            (Readout::Matrix, Loss::Squared),
            (Readout::Matrix, Loss::Frobenius),
        ] {
            out.push(Problem {
                len: 2,
                teacher: Teacher::Attention {
                    omega: 0.3,
                    a: a.clone(),
                },
                student: Student::Attention(readout),
                loss,
                noise: 0.0,
                positional: Some(vec![1.0, -1.0]),
            });
        }
        out.push(Problem {
            len: 2,
            teacher: Teacher::Scalar {
                f: Function::Sum,
                scale: 0.5,
            },
            student: Student::Attention(Readout::Bilinear {
                a: vec![0.6, 0.8],
                b: vec![1.0, 0.0],
            }),
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        });
        out.push(Problem {
            len: 2,
            teacher: Teacher::Scalar {
                f: Function::Sum,
                scale: 0.5,
            },
            student: Student::Attention(Readout::Trace),
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        });
        out
    }

    #[test]
    fn gradients_match_finite_differences() {
        for p in problems() {
            p.validate().unwrap();
            let l = p.len;
            let zs: Vec<f64> = (0..l).map(|i| 0.3 + 0.4 * i as f64).collect();
            let z: Vec<f64> = (0..l).map(|i| -0.5 + 0.45 * i as f64).collect();
            let mut w = p.work();
            let mut g = vec![0.0; l];
            p.eval(&zs, &z, &mut g, &mut w);
            for k in 0..l {
                let h = 1e-6;
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[k] += h;
                zm[k] -= h;
                let mut tmp = vec![0.0; l];
                let fd = (p.eval(&zs, &zp, &mut tmp, &mut w) - p.eval(&zs, &zm, &mut tmp, &mut w))
                    / (2.0 * h);
                assert!(
                    (fd - g[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{p:?}: component {k}: fd {fd} vs {}",
                    g[k]
                );
            }
        }
    }

    #[test]
    fn perfect_student_has_zero_loss() {
        let p = Problem {
            len: 2,
            teacher: Teacher::Attention {
                omega: 0.0,
                a: vec![0.5; 4],
            },
            student: Student::Attention(Readout::Matrix),
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        };
        let mut w = p.work();
        let mut g = vec![0.0; 2];
        let z = [0.4, -1.3];
        assert!(p.eval(&z, &z, &mut g, &mut w).abs() < 1e-15);
        assert!(g.iter().all(|v| v.abs() < 1e-15));
    }

    #[test]
    fn mismatched_outputs_are_rejected() {
        let p = Problem {
            len: 2,
            teacher: Teacher::Attention {
                omega: 0.0,
                a: vec![0.5; 4],
            },
            student: Student::Tied(Activation::Identity),
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        };
        assert!(matches!(
            p.validate(),
            Err(crate::KernelError::InvalidArgument {
                name: "student",
                ..
            })
        ));
        let q = Problem {
            len: 1,
            teacher: Teacher::Scalar {
                f: Function::Pair,
                scale: 1.0,
            },
            student: Student::Tied(Activation::Identity),
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        };
        assert!(q.validate().is_err());
    }
}
