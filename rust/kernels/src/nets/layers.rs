//! Fully connected networks of two or three layers on a given batch: the forward pass and the
//! gradients of the loss with respect to every layer, on faer GEMMs (Dandi, Pesce, Zdeborova &
//! Krzakala 2025, arXiv:2502.13961, Sec. 2, the three-layer network
//! `f(x) = w3^T sigma2(W2 sigma1(W1 x + b1) + b2)`; its two-layer analogue
//! `f(x) = w2^T sigma1(W1 x + b1)`).
//!
//! With `z_1 = X W1^T + b1`, `h_l = sigma_l(z_l)`, `z_{l+1} = h_l W_{l+1}^T + b_{l+1}`,
//! `f = h_L a` (`a` the read-out) and the mean loss `L = (1/n) sum_mu l(f_mu, y_mu)`,
//! `g_mu = dl/df`:
//!
//! ```text
//! dL/da   = h_L^T g / n
//! delta_L = (g a^T) (.) sigma_L'(z_L),   delta_{l-1} = (delta_l W_l) (.) sigma_{l-1}'(z_{l-1})
//! dL/dW_l = delta_l^T h_{l-1} / n,       dL/db_l = delta_l^T 1 / n       (h_0 = X)
//! ```
//!
//! Losses: square `l = (f - y)^2/2` (`g = f - y`) and correlation `l = -f y` (`g = -y`, the
//! first stage of the paper's layer-wise protocol). Layers whose flag is off get no gradient and
//! back-propagation stops at the lowest trained layer (per-layer freeze).
//!
//! The batch is processed in blocks of [`BLOCK`] rows; within a block the products run on fixed
//! chunks of rows (one sequential faer GEMM each) and the reductions over rows accumulate in
//! [`StripSum`]s, so every result is bit-identical for any number of threads.

use super::engine::{preactivations, Function, StripSum};
use super::BLOCK;
use crate::control::Interrupt;
use crate::error::{ensure, invalid, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Rows per task of [`times`].
const ROWS: usize = 128;

/// The loss of a network output `f` against a label `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// `(f - y)^2 / 2`.
    Square,
    /// `-f y`.
    Correlation,
}

impl Loss {
    /// Parse `square` or `correlation`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "square" => Ok(Self::Square),
            "correlation" => Ok(Self::Correlation),
            other => Err(invalid(
                "loss",
                format!("unknown loss {other:?}; expected square or correlation"),
            )),
        }
    }

    #[inline]
    fn value(self, f: f64, y: f64) -> f64 {
        match self {
            Self::Square => 0.5 * (f - y) * (f - y),
            Self::Correlation => -f * y,
        }
    }

    #[inline]
    fn grad(self, f: f64, y: f64) -> f64 {
        match self {
            Self::Square => f - y,
            Self::Correlation => -y,
        }
    }
}

/// One hidden layer: `h_out = act(h_in W^T + b)` with `W` (`p_out x p_in`, row-major).
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// Weights, `p_out x p_in`, row-major.
    pub w: &'a [f64],
    /// Biases, `p_out`.
    pub b: &'a [f64],
    /// Activation.
    pub act: Function,
}

impl Layer<'_> {
    fn width(&self) -> usize {
        self.b.len()
    }
}

/// Gradients and outputs of [`network_grad`].
#[derive(Debug, Clone, Default)]
pub struct NetOutput {
    /// The mean loss over the batch.
    pub loss: f64,
    /// The network outputs `f` (`n`).
    pub f: Vec<f64>,
    /// Per hidden layer, `dL/dW_l` (`p_l x p_{l-1}`) when the layer is trained.
    pub grad_w: Vec<Option<Vec<f64>>>,
    /// Per hidden layer, `dL/db_l` (`p_l`) when the layer is trained.
    pub grad_b: Vec<Option<Vec<f64>>>,
    /// `dL/da` (`p_L`) when the read-out is trained.
    pub grad_readout: Option<Vec<f64>>,
    /// The pre-activations `z_L` of the last hidden layer (`n x p_L`), when asked for.
    pub preact: Option<Vec<f64>>,
}

/// `out = a B` for `a` (`rows x k`) and `B` (`k x m`), row-major, on fixed chunks of rows.
fn times(pool: &ThreadPool, a: &[f64], b: &[f64], k: usize, m: usize, out: &mut [f64]) {
    let bm = MatRef::from_row_major_slice(b, k, m);
    pool.install(|| {
        out.par_chunks_mut(ROWS * m)
            .zip(a.par_chunks(ROWS * k))
            .for_each(|(oc, ac)| {
                let rows = ac.len() / k;
                let am = MatRef::from_row_major_slice(ac, rows, k);
                let om = MatMut::from_row_major_slice_mut(oc, rows, m);
                matmul(om, Accum::Replace, am, bm, 1.0, Par::Seq);
            })
    });
}

/// Check the shapes of a network on inputs of dimension `d`; the widths `p_1 .. p_L`.
pub fn check_network(layers: &[Layer<'_>], readout: &[f64], d: usize) -> Result<Vec<usize>> {
    ensure(!layers.is_empty(), "layers", || {
        "the network needs at least one hidden layer".into()
    })?;
    ensure(d >= 1, "x", || "the inputs need at least one column".into())?;
    let mut widths = Vec::with_capacity(layers.len());
    let mut p_in = d;
    for l in layers {
        let p = l.width();
        ensure(p >= 1, "b", || {
            "every hidden layer needs at least one unit".into()
        })?;
        ensure(l.w.len() == p * p_in, "w", || {
            format!(
                "a weight matrix has {} entries, expected {p} x {p_in} (its biases x its inputs)",
                l.w.len()
            )
        })?;
        widths.push(p);
        p_in = p;
    }
    ensure(readout.len() == p_in, "readout", || {
        format!(
            "has length {}, expected {p_in} (the last hidden width)",
            readout.len()
        )
    })?;
    Ok(widths)
}

/// Forward pass, loss and the gradients of the trained layers on the batch `x` (`n x d`,
/// row-major), `y` (`n`) (module docs). `train` has one flag per hidden layer then one for the
/// read-out; `want_preact` also returns the last hidden pre-activations.
#[allow(clippy::too_many_arguments)]
pub fn network_grad(
    pool: &ThreadPool,
    x: &[f64],
    y: &[f64],
    d: usize,
    layers: &[Layer<'_>],
    readout: &[f64],
    loss: Loss,
    train: &[bool],
    want_preact: bool,
    ctl: &dyn Interrupt,
) -> Result<NetOutput> {
    let widths = check_network(layers, readout, d)?;
    let nl = layers.len();
    ensure(x.len() % d == 0, "x", || "has a ragged shape".into())?;
    let n = x.len() / d;
    ensure(n >= 1, "x", || "the batch needs at least one row".into())?;
    ensure(y.len() == n, "y", || {
        format!("has length {}, expected n = {n} (the rows of x)", y.len())
    })?;
    ensure(train.len() == nl + 1, "train", || {
        format!(
            "has {} flags, expected {} (one per hidden layer and the read-out)",
            train.len(),
            nl + 1
        )
    })?;
    // lowest trained hidden layer: back-propagation stops there
    let lowest = train[..nl].iter().position(|&t| t);
    let plast = widths[nl - 1];
    let bl = BLOCK.min(n);
    // per layer: pre-activations z_l and activations h_l of one block; delta buffers
    let mut z: Vec<Vec<f64>> = widths.iter().map(|&p| vec![0.0; bl * p]).collect();
    let mut h: Vec<Vec<f64>> = widths.iter().map(|&p| vec![0.0; bl * p]).collect();
    let mut delta: Vec<Vec<f64>> = widths.iter().map(|&p| vec![0.0; bl * p]).collect();
    // augmented inputs [h_{l-1}, 1] of each trained layer (bias gradient in the last column)
    let ins: Vec<usize> = std::iter::once(d)
        .chain(widths.iter().copied())
        .take(nl)
        .collect();
    let mut aug: Vec<Vec<f64>> = (0..nl)
        .map(|l| {
            if train[l] {
                vec![0.0; bl * (ins[l] + 1)]
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut sums: Vec<Option<StripSum>> = (0..nl)
        .map(|l| train[l].then(|| StripSum::new(widths[l], ins[l] + 1, false)))
        .collect();
    let mut rsum = train[nl].then(|| StripSum::new(plast, 1, false));
    let mut f = vec![0.0; n];
    let mut g = vec![0.0; bl];
    let mut preact = if want_preact {
        Some(vec![0.0; n * plast])
    } else {
        None
    };
    let mut total = 0.0;
    let mut row0 = 0;
    while row0 < n {
        ctl.check()?;
        let rows = bl.min(n - row0);
        let xb = &x[row0 * d..(row0 + rows) * d];
        // forward
        for l in 0..nl {
            let (p, pin) = (widths[l], ins[l]);
            let (lo, hi) = h.split_at_mut(l);
            let input: &[f64] = if l == 0 { xb } else { &lo[l - 1][..rows * pin] };
            let zl = &mut z[l][..rows * p];
            preactivations(pool, input, layers[l].w, pin, p, zl);
            let (b, act) = (layers[l].b, layers[l].act);
            let hl = &mut hi[0][..rows * p];
            pool.install(|| {
                zl.par_chunks_mut(p)
                    .zip(hl.par_chunks_mut(p))
                    .for_each(|(zr, hr)| {
                        for ((zv, hv), &bv) in zr.iter_mut().zip(hr.iter_mut()).zip(b) {
                            *zv += bv;
                            *hv = act.value(*zv);
                        }
                    })
            });
        }
        let hl = &h[nl - 1][..rows * plast];
        let fb = &mut f[row0..row0 + rows];
        pool.install(|| {
            fb.par_iter_mut()
                .zip(hl.par_chunks(plast))
                .for_each(|(o, hr)| *o = hr.iter().zip(readout).map(|(&a, &b)| a * b).sum())
        });
        // block loss in a fixed order (sequential): thread-independent
        for (fv, &yv) in fb.iter().zip(&y[row0..row0 + rows]) {
            total += loss.value(*fv, yv);
        }
        for ((gv, fv), &yv) in g[..rows].iter_mut().zip(fb.iter()).zip(&y[row0..]) {
            *gv = loss.grad(*fv, yv);
        }
        if let Some(pre) = preact.as_mut() {
            pre[row0 * plast..(row0 + rows) * plast].copy_from_slice(&z[nl - 1][..rows * plast]);
        }
        if let Some(rs) = rsum.as_mut() {
            rs.add(pool, hl, &g[..rows], rows);
        }
        // backward
        if let Some(low) = lowest {
            let gb = &g[..rows];
            {
                let (zl, dl, act) = (&z[nl - 1], &mut delta[nl - 1], layers[nl - 1].act);
                pool.install(|| {
                    dl[..rows * plast]
                        .par_chunks_mut(plast)
                        .zip(zl[..rows * plast].par_chunks(plast))
                        .zip(gb.par_iter())
                        .for_each(|((dr, zr), &gv)| {
                            for ((dv, &zv), &a) in dr.iter_mut().zip(zr).zip(readout) {
                                *dv = gv * a * act.deriv(zv);
                            }
                        })
                });
            }
            for l in (low..nl).rev() {
                let (p, pin) = (widths[l], ins[l]);
                if train[l] {
                    let input: &[f64] = if l == 0 { xb } else { &h[l - 1][..rows * pin] };
                    let a = &mut aug[l][..rows * (pin + 1)];
                    pool.install(|| {
                        a.par_chunks_mut(pin + 1)
                            .zip(input.par_chunks(pin))
                            .for_each(|(ar, ir)| {
                                ar[..pin].copy_from_slice(ir);
                                ar[pin] = 1.0;
                            })
                    });
                    if let Some(s) = sums[l].as_mut() {
                        s.add(pool, &delta[l][..rows * p], a, rows);
                    }
                }
                if l > low {
                    // delta_{l-1} = (delta_l W_l) (.) sigma'(z_{l-1})
                    let (lo, hi) = delta.split_at_mut(l);
                    let prev = &mut lo[l - 1][..rows * pin];
                    times(pool, &hi[0][..rows * p], layers[l].w, p, pin, prev);
                    let (zp, act) = (&z[l - 1][..rows * pin], layers[l - 1].act);
                    pool.install(|| {
                        prev.par_iter_mut()
                            .zip(zp.par_iter())
                            .for_each(|(dv, &zv)| *dv *= act.deriv(zv))
                    });
                }
            }
        }
        row0 += rows;
    }
    let inv = 1.0 / n as f64;
    let mut out = NetOutput {
        loss: total * inv,
        f,
        preact,
        ..Default::default()
    };
    for (l, s) in sums.into_iter().enumerate() {
        match s {
            Some(s) => {
                let (p, pin) = (widths[l], ins[l]);
                let mut gm = vec![0.0; p * (pin + 1)];
                s.finish(inv, &mut gm);
                let mut gw = Vec::with_capacity(p * pin);
                let mut gb = Vec::with_capacity(p);
                for r in gm.chunks(pin + 1) {
                    gw.extend_from_slice(&r[..pin]);
                    gb.push(r[pin]);
                }
                out.grad_w.push(Some(gw));
                out.grad_b.push(Some(gb));
            }
            None => {
                out.grad_w.push(None);
                out.grad_b.push(None);
            }
        }
    }
    if let Some(rs) = rsum {
        let mut gr = vec![0.0; plast];
        rs.finish(inv, &mut gr);
        out.grad_readout = Some(gr);
    }
    let finite = out.loss.is_finite()
        && out.grad_w.iter().flatten().flatten().all(|v| v.is_finite())
        && out.grad_readout.iter().flatten().all(|v| v.is_finite());
    ensure(finite, "x", || {
        "the forward / backward pass produced NaN or infinity".into()
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::threads::pool;

    fn lcg(n: usize, seed: u64, scale: f64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                scale * (((s >> 11) as f64) / ((1u64 << 53) as f64) - 0.5)
            })
            .collect()
    }

    struct Net {
        d: usize,
        w1: Vec<f64>,
        b1: Vec<f64>,
        w2: Vec<f64>,
        b2: Vec<f64>,
        a: Vec<f64>,
    }

    fn net(d: usize, p1: usize, p2: usize) -> Net {
        Net {
            d,
            w1: lcg(p1 * d, 1, 1.0),
            b1: lcg(p1, 2, 1.0),
            w2: lcg(p2 * p1, 3, 1.0),
            b2: lcg(p2, 4, 1.0),
            a: lcg(p2, 5, 1.0),
        }
    }

    fn run(
        nt: &Net,
        x: &[f64],
        y: &[f64],
        loss: Loss,
        train: &[bool],
        threads: usize,
    ) -> NetOutput {
        let pl = pool(Some(threads)).unwrap();
        let layers = [
            Layer {
                w: &nt.w1,
                b: &nt.b1,
                act: Function::Tanh,
            },
            Layer {
                w: &nt.w2,
                b: &nt.b2,
                act: Function::Tanh,
            },
        ];
        network_grad(&pl, x, y, nt.d, &layers, &nt.a, loss, train, true, &Never).unwrap()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (d, p1, p2, n) = (5, 7, 4, 600); // n > BLOCK: two blocks
        let x = lcg(n * d, 9, 3.0);
        let y = lcg(n, 10, 2.0);
        for loss in [Loss::Square, Loss::Correlation] {
            let nt = net(d, p1, p2);
            let out = run(&nt, &x, &y, loss, &[true, true, true], 1);
            let h = 1e-6;
            let fd = |mut nt2: Net, which: usize, i: usize| {
                let bump = |nt2: &mut Net, s: f64| match which {
                    0 => nt2.w1[i] += s,
                    1 => nt2.b1[i] += s,
                    2 => nt2.w2[i] += s,
                    3 => nt2.b2[i] += s,
                    _ => nt2.a[i] += s,
                };
                bump(&mut nt2, h);
                let lp = run(&nt2, &x, &y, loss, &[false, false, false], 1).loss;
                bump(&mut nt2, -2.0 * h);
                let lm = run(&nt2, &x, &y, loss, &[false, false, false], 1).loss;
                (lp - lm) / (2.0 * h)
            };
            let gw1 = out.grad_w[0].as_ref().unwrap();
            let gb1 = out.grad_b[0].as_ref().unwrap();
            let gw2 = out.grad_w[1].as_ref().unwrap();
            let gb2 = out.grad_b[1].as_ref().unwrap();
            let ga = out.grad_readout.as_ref().unwrap();
            for (which, grad) in [(0, gw1), (1, gb1), (2, gw2), (3, gb2), (4, ga)] {
                for i in [0, grad.len() / 2, grad.len() - 1] {
                    let num = fd(net(d, p1, p2), which, i);
                    assert!(
                        (num - grad[i]).abs() < 1e-6 * (1.0 + num.abs()),
                        "{loss:?} param {which} entry {i}: {num} vs {}",
                        grad[i]
                    );
                }
            }
        }
    }

    #[test]
    fn freeze_and_thread_count_do_not_change_results() {
        let (d, p1, p2, n) = (6, 130, 70, 1100);
        let x = lcg(n * d, 11, 3.0);
        let y = lcg(n, 12, 2.0);
        let nt = net(d, p1, p2);
        let all = run(&nt, &x, &y, Loss::Square, &[true, true, true], 1);
        let all3 = run(&nt, &x, &y, Loss::Square, &[true, true, true], 3);
        assert_eq!(all.grad_w, all3.grad_w);
        assert_eq!(all.grad_readout, all3.grad_readout);
        assert_eq!(all.loss.to_bits(), all3.loss.to_bits());
        assert_eq!(all.preact, all3.preact);
        let w1only = run(&nt, &x, &y, Loss::Square, &[true, false, false], 2);
        assert_eq!(w1only.grad_w[0], all.grad_w[0]);
        assert!(w1only.grad_w[1].is_none() && w1only.grad_readout.is_none());
        let w2only = run(&nt, &x, &y, Loss::Square, &[false, true, false], 2);
        assert_eq!(w2only.grad_w[1], all.grad_w[1]);
        assert!(w2only.grad_w[0].is_none());
    }

    #[test]
    fn bad_shapes_are_errors() {
        let pl = pool(Some(1)).unwrap();
        let w = vec![0.0; 6];
        let b = vec![0.0; 3];
        let layers = [Layer {
            w: &w,
            b: &b,
            act: Function::Relu,
        }];
        let x = vec![0.0; 4];
        let y = vec![0.0; 2];
        let ok = network_grad(
            &pl,
            &x,
            &y,
            2,
            &layers,
            &[0.0; 3],
            Loss::Square,
            &[true, true],
            false,
            &Never,
        );
        assert!(ok.is_ok());
        let bad = network_grad(
            &pl,
            &x,
            &y,
            2,
            &layers,
            &[0.0; 2],
            Loss::Square,
            &[true, true],
            false,
            &Never,
        );
        assert!(bad.is_err());
        let bad = network_grad(
            &pl,
            &x,
            &y[..1],
            2,
            &layers,
            &[0.0; 3],
            Loss::Square,
            &[true, true],
            false,
            &Never,
        );
        assert!(bad.is_err());
        assert!(Loss::parse("bogus").is_err());
    }
}
