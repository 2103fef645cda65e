//! The `d`-dimensional online-SGD simulation.
//!
//! The weights are kept as `W = c v` with a scalar `c` so that the spherical renormalisation
//! costs nothing extra: step `k` is **one pass** over the coordinates, chunk by chunk
//! ([`CHUNK`] coordinates, each chunk with its own stream keyed `(seed, DATA, run, k, chunk)`):
//!
//! 1. apply the update of step `k-1` with the tokens kept from the previous pass:
//!    `v <- c_{k-1} v - sum_j beta_j x_j - gamma p` (this is `W_{k-1} - eta u_{k-1}`);
//! 2. accumulate `||v||^2`, `v . w*` and `v . p` (the new overlaps);
//! 3. draw the fresh tokens `x_j` of step `k` into the (float32) token buffer and accumulate their
//!    projections `x_j . v` and `x_j . w*`.
//!
//! Per-chunk partial sums are reduced in chunk order, so the result is bit-identical for any
//! number of threads and for "parallel over chunks" vs "parallel over runs". The work per
//! coordinate and token is one Gaussian draw and three fused multiply-adds; the Gaussian draw
//! dominates (see `benches/bench_online_sgd.py`).
//!
//! **Drawing ahead.** The tokens do not depend on the weights, so a single run whose steps are
//! too small to split over threads (fewer than about `2 threads` chunks per step) draws the
//! tokens of the next [`AHEAD_FLOATS`]`/ (B L d)` steps in one parallel pass over
//! `(step, chunk)` streams, then runs those steps with step 3's sampling loop replaced by a copy
//! from that buffer. The draws are the same numbers from the same streams, and every other
//! operation is unchanged, so the results are bit-identical to drawing inside the pass.

use super::functions::{Problem, Work};
use super::{stop_measure, tags, RunOutput, SgdOptions};
use crate::control::Interrupt;
use crate::error::{ensure, KernelError, Result};
use crate::linalg::simd::{axpy, dot};
use crate::rng::{stream, Xoshiro256PlusPlus};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use rayon::ThreadPool;

/// Coordinates per chunk (one stream per chunk and step).
pub const CHUNK: usize = 2048;

/// Below this many token-coordinates per step, independent runs go to different threads
/// instead of splitting each step over threads.
const PER_RUN_THRESHOLD: usize = 1 << 17;

/// Size (float32 entries, 1 MB: it stays in the cache) of the draw-ahead buffer of a single
/// run (module docs).
const AHEAD_FLOATS: usize = 1 << 18;

fn fill_normal(pool: &ThreadPool, seed: u64, key: [u64; 3], out: &mut [f64]) {
    pool.install(|| {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, ch)| {
            let mut rng = stream(seed, &[key[0], key[1], key[2], c as u64]);
            ch.iter_mut()
                .for_each(|v| *v = StandardNormal.sample(&mut rng));
        })
    });
}

/// `a . b` with fixed chunking and an ordered reduction (thread-count independent).
fn pdot(pool: &ThreadPool, a: &[f64], b: &[f64]) -> f64 {
    let parts: Vec<f64> = pool.install(|| {
        a.par_chunks(CHUNK)
            .zip(b.par_chunks(CHUNK))
            .map(|(x, y)| dot(x, y))
            .collect()
    });
    parts.iter().sum()
}

/// Remove from `h` its components along the orthonormal-up-to-scale directions `dirs`.
fn orthogonalise(pool: &ThreadPool, h: &mut [f64], dirs: &[&[f64]]) {
    for u in dirs {
        let c = pdot(pool, h, u) / pdot(pool, u, u);
        h.iter_mut().zip(u.iter()).for_each(|(x, y)| *x -= c * y);
    }
}

/// Teacher `w*` (uniform on the sphere of radius `sqrt(d)`) and unit positional direction `p`
/// orthogonal to it (empty without encoding) of run `run`.
pub fn teacher_directions(
    pool: &ThreadPool,
    seed: u64,
    run: u64,
    d: usize,
    positional: bool,
) -> (Vec<f64>, Vec<f64>) {
    let mut ws = vec![0.0; d];
    fill_normal(pool, seed, [tags::TEACHER, run, 0], &mut ws);
    let s = (d as f64 / pdot(pool, &ws, &ws)).sqrt();
    ws.iter_mut().for_each(|v| *v *= s);
    let mut p = Vec::new();
    if positional {
        p = vec![0.0; d];
        fill_normal(pool, seed, [tags::POSITIONAL, run, 0], &mut p);
        orthogonalise(pool, &mut p, &[&ws]);
        let s = 1.0 / pdot(pool, &p, &p).sqrt();
        p.iter_mut().for_each(|v| *v *= s);
    }
    (ws, p)
}

fn n_chunks(d: usize) -> usize {
    d.div_ceil(CHUNK)
}

/// Scalars of one pass, shared by the chunk tasks.
struct PassCtx<'a> {
    seed: u64,
    run: u64,
    step: u64,
    blocks: usize,
    len: usize,
    ntok: usize,
    update: bool,
    draw: bool,
    alpha: f64,
    beta: &'a [f64],
    gamma: f64,
}

impl PassCtx<'_> {
    #[inline]
    fn block_of(&self, j: usize) -> usize {
        if self.blocks == 1 {
            0
        } else {
            j % self.len
        }
    }

    /// Steps 1-3 of the module docs on chunk `c`. With at most [`FUSE_MAX`] tokens per weight
    /// block, steps 1-2 are one vectorised loop over the (cache-resident) chunk; step 3 is a
    /// pure sampling loop followed by two vectorised dot products per token.
    fn chunk(
        &self,
        c: usize,
        v: &mut [f64],
        buf: &mut [f32],
        ws: &[f64],
        p: &[f64],
        part: &mut [f64],
        drawn: Option<&[f32]>,
    ) {
        let n = ws.len();
        let k = self.blocks;
        let per_block = self.ntok / k;
        let fused = self.update && per_block <= FUSE_MAX;
        if self.update && !fused {
            if self.alpha != 1.0 {
                v.iter_mut().for_each(|x| *x *= self.alpha);
            }
            for j in 0..self.ntok {
                let b = self.block_of(j);
                axpy(
                    -self.beta[j],
                    &buf[j * n..(j + 1) * n],
                    &mut v[b * n..(b + 1) * n],
                );
            }
            if !p.is_empty() {
                axpy(-self.gamma, p, &mut v[..n]);
            }
        }
        let mut norm = 0.0;
        let mut toks = [(0usize, 0.0f64); FUSE_MAX];
        for b in 0..k {
            let vb = &mut v[b * n..(b + 1) * n];
            let pb = if b == 0 { p } else { &p[..0] };
            let (nn, mm, pp) = if fused {
                let mut t = 0;
                for j in (0..self.ntok).filter(|&j| self.block_of(j) == b) {
                    toks[t] = (j * n, self.beta[j]);
                    t += 1;
                }
                update_stats(vb, self.alpha, &toks[..t], buf, pb, self.gamma, ws)
            } else {
                update_stats(vb, 1.0, &[], buf, pb, 0.0, ws)
            };
            norm += nn;
            part[1 + b] = mm;
            if b == 0 {
                part[1 + k] = pp;
            }
        }
        part[0] = norm;
        if self.draw {
            match drawn {
                Some(src) => buf[..self.ntok * n].copy_from_slice(&src[..self.ntok * n]),
                None => draw_tokens(self.seed, self.run, self.step, c, &mut buf[..self.ntok * n]),
            }
            for j in 0..self.ntok {
                let b = self.block_of(j);
                let vb = &v[b * n..(b + 1) * n];
                let xb = &buf[j * n..(j + 1) * n];
                part[2 + k + j] = dot(xb, vb);
                part[2 + k + self.ntok + j] = dot(xb, ws);
            }
        }
    }
}

/// Step 3's draws of chunk `c` at `step`: the chunk's token slices one after another, from the
/// stream `(seed, DATA, run, step, c)`. A pure sampling loop (fusing the projections into it
/// measured 40% slower).
fn draw_tokens(seed: u64, run: u64, step: u64, c: usize, out: &mut [f32]) {
    let mut rng: Xoshiro256PlusPlus = stream(seed, &[tags::DATA, run, step, c as u64]);
    out.iter_mut().for_each(|x| {
        let g: f64 = StandardNormal.sample(&mut rng);
        *x = g as f32;
    });
}

/// Largest number of tokens per weight block for which the update is fused into one loop.
const FUSE_MAX: usize = 8;

/// `v <- alpha v - sum_t beta_t buf[off_t..] - gamma p` (in one pass) and
/// `(||v||^2, v . ws, v . p)` of the result, in 8 lanes (vectorised, fixed order). Compiled
/// for AVX2 when the CPU has it (the choice depends only on the CPU, as in `linalg::simd`).
fn update_stats(
    v: &mut [f64],
    alpha: f64,
    toks: &[(usize, f64)],
    buf: &[f32],
    p: &[f64],
    gamma: f64,
    ws: &[f64],
) -> (f64, f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if *AVX2.get_or_init(|| is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2.
            return unsafe { update_stats_avx2(v, alpha, toks, buf, p, gamma, ws) };
        }
    }
    update_stats_impl(v, alpha, toks, buf, p, gamma, ws)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_stats_avx2(
    v: &mut [f64],
    alpha: f64,
    toks: &[(usize, f64)],
    buf: &[f32],
    p: &[f64],
    gamma: f64,
    ws: &[f64],
) -> (f64, f64, f64) {
    update_stats_impl(v, alpha, toks, buf, p, gamma, ws)
}

#[inline(always)]
fn update_stats_impl(
    v: &mut [f64],
    alpha: f64,
    toks: &[(usize, f64)],
    buf: &[f32],
    p: &[f64],
    gamma: f64,
    ws: &[f64],
) -> (f64, f64, f64) {
    const W: usize = 8;
    let n = v.len();
    let ws = &ws[..n];
    let has_p = !p.is_empty();
    let (mut an, mut am, mut ap) = ([0.0f64; W], [0.0f64; W], [0.0f64; W]);
    let mut i = 0;
    while i + W <= n {
        let mut x = [0.0f64; W];
        let vc = &mut v[i..i + W];
        for k in 0..W {
            x[k] = alpha * vc[k];
        }
        for &(off, b) in toks {
            let src = &buf[off + i..off + i + W];
            for k in 0..W {
                x[k] -= b * src[k] as f64;
            }
        }
        if has_p {
            let pc = &p[i..i + W];
            for k in 0..W {
                x[k] -= gamma * pc[k];
                ap[k] += x[k] * pc[k];
            }
        }
        let wc = &ws[i..i + W];
        vc.copy_from_slice(&x);
        for k in 0..W {
            an[k] += x[k] * x[k];
            am[k] += x[k] * wc[k];
        }
        i += W;
    }
    for i in i..n {
        let mut x = alpha * v[i];
        for &(off, b) in toks {
            x -= b * buf[off + i] as f64;
        }
        if has_p {
            x -= gamma * p[i];
            ap[0] += x * p[i];
        }
        v[i] = x;
        an[0] += x * x;
        am[0] += x * ws[i];
    }
    let sum = |a: [f64; W]| ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    (sum(an), sum(am), sum(ap))
}

/// State of one run.
struct RunState<'a> {
    pb: &'a Problem,
    o: &'a SgdOptions,
    seed: u64,
    run: u64,
    d: usize,
    blocks: usize,
    ntok: usize,
    /// Weights up to the scale `c`, chunk-major: chunk `c` holds its `K` blocks one after another.
    v: Vec<f64>,
    /// Tokens of the current step, chunk-major: chunk `c` holds its `B L` token slices. Stored
    /// in float32 (the Gaussian draws rounded to single precision, used as such by both the
    /// projections and the update: the sample is exactly a rounded Gaussian), which halves the
    /// memory traffic of the buffer at large `d`.
    buf: Vec<f32>,
    /// Tokens drawn ahead for steps `ahead_first .. ahead_first + ahead_n` (each step laid out
    /// as `buf`); empty unless drawing ahead (module docs).
    ahead: Vec<f32>,
    ahead_first: u64,
    ahead_n: u64,
    ws: Vec<f64>,
    p: Vec<f64>,
    parts: Vec<f64>,
    tot: Vec<f64>,
    step: u64,
    update: bool,
    alpha: f64,
    beta: Vec<f64>,
    gamma: f64,
    rec: usize,
    loss_sum: f64,
    loss_n: u64,
    done: bool,
    work: Work,
    y: Vec<f64>,
    g: Vec<f64>,
    zs: Vec<f64>,
    z: Vec<f64>,
    m: Vec<f64>,
    e: f64,
    scale: f64,
    out: RunOutput,
}

fn chunk_len(d: usize, c: usize) -> usize {
    CHUNK.min(d - c * CHUNK)
}

/// Natural `K x d` layout <-> chunk-major layout.
fn to_chunk_major(w: &[f64], d: usize, k: usize) -> Vec<f64> {
    let mut v = vec![0.0; w.len()];
    for c in 0..n_chunks(d) {
        let n = chunk_len(d, c);
        for b in 0..k {
            v[c * k * CHUNK + b * n..c * k * CHUNK + (b + 1) * n]
                .copy_from_slice(&w[b * d + c * CHUNK..b * d + c * CHUNK + n]);
        }
    }
    v
}

fn from_chunk_major(v: &[f64], d: usize, k: usize, scale: f64) -> Vec<f64> {
    let mut w = vec![0.0; v.len()];
    for c in 0..n_chunks(d) {
        let n = chunk_len(d, c);
        for b in 0..k {
            for i in 0..n {
                w[b * d + c * CHUNK + i] = scale * v[c * k * CHUNK + b * n + i];
            }
        }
    }
    w
}

impl<'a> RunState<'a> {
    fn new(
        pool: &ThreadPool,
        pb: &'a Problem,
        o: &'a SgdOptions,
        seed: u64,
        run: u64,
    ) -> Result<Self> {
        let d = o.d as usize;
        let (k, l) = (pb.blocks(), pb.len);
        let ntok = o.batch * l;
        let (ws, p) = teacher_directions(pool, seed, run, d, pb.positional.is_some());
        let sd = (d as f64).sqrt();
        let mut w = vec![0.0; k * d];
        for b in 0..k {
            let wb = &mut w[b * d..(b + 1) * d];
            fill_normal(pool, seed, [tags::INIT, run, b as u64], wb);
            match o.m0 {
                None => {
                    let s = sd / pdot(pool, wb, wb).sqrt();
                    wb.iter_mut().for_each(|x| *x *= s);
                }
                Some(m0) => {
                    let e0 = o.e0.unwrap_or(0.0);
                    if p.is_empty() {
                        orthogonalise(pool, wb, &[&ws]);
                    } else {
                        orthogonalise(pool, wb, &[&ws, &p]);
                    }
                    let rho = (1.0 - m0 * m0 - e0 * e0).max(0.0).sqrt();
                    let s = rho * sd / pdot(pool, wb, wb).sqrt();
                    for i in 0..d {
                        wb[i] = s * wb[i]
                            + m0 * ws[i]
                            + if p.is_empty() { 0.0 } else { e0 * sd * p[i] };
                    }
                }
            }
        }
        let nst = 2 + k + 2 * ntok;
        let buf_len = ntok
            .checked_mul(d)
            .ok_or_else(|| crate::error::invalid("d", "too large"))?;
        Ok(Self {
            pb,
            o,
            seed,
            run,
            d,
            blocks: k,
            ntok,
            v: to_chunk_major(&w, d, k),
            buf: vec![0.0f32; buf_len],
            ahead: Vec::new(),
            ahead_first: 0,
            ahead_n: 0,
            ws,
            p,
            parts: vec![0.0; n_chunks(d) * nst],
            tot: vec![0.0; nst],
            step: 0,
            update: false,
            alpha: 1.0,
            beta: vec![0.0; ntok],
            gamma: 0.0,
            rec: 0,
            loss_sum: 0.0,
            loss_n: 0,
            done: false,
            work: pb.work(),
            y: vec![0.0; pb.teacher_outputs()],
            g: vec![0.0; l],
            zs: vec![0.0; l],
            z: vec![0.0; l],
            m: vec![0.0; k],
            e: 0.0,
            scale: 1.0,
            out: RunOutput::default(),
        })
    }

    fn nst(&self) -> usize {
        2 + self.blocks + 2 * self.ntok
    }

    fn pass(&mut self, pool: Option<&ThreadPool>) {
        let ctx = PassCtx {
            seed: self.seed,
            run: self.run,
            step: self.step,
            blocks: self.blocks,
            len: self.pb.len,
            ntok: self.ntok,
            update: self.update,
            draw: self.step < self.o.steps,
            alpha: self.alpha,
            beta: &self.beta,
            gamma: self.gamma,
        };
        let (k, nt, nst, d) = (self.blocks, self.ntok, self.nst(), self.d);
        let (ws, p) = (&self.ws, &self.p);
        let slot = (ctx.draw && self.ahead_n > 0)
            .then(|| {
                let i = self.step.checked_sub(self.ahead_first)?;
                (i < self.ahead_n).then(|| {
                    let len = self.buf.len();
                    &self.ahead[i as usize * len..(i as usize + 1) * len]
                })
            })
            .flatten();
        let drawn =
            |c: usize| slot.map(|s| &s[c * nt * CHUNK..c * nt * CHUNK + nt * chunk_len(d, c)]);
        let pslice = |c: usize| {
            if p.is_empty() {
                &p[..0]
            } else {
                &p[c * CHUNK..c * CHUNK + chunk_len(d, c)]
            }
        };
        type Item<'s> = (usize, ((&'s mut [f64], &'s mut [f32]), &'s mut [f64]));
        let task = |(c, ((vc, bc), pc)): Item<'_>| {
            ctx.chunk(
                c,
                vc,
                bc,
                &ws[c * CHUNK..c * CHUNK + chunk_len(d, c)],
                pslice(c),
                pc,
                drawn(c),
            );
        };
        match pool {
            Some(pool) => pool.install(|| {
                self.v
                    .par_chunks_mut(k * CHUNK)
                    .zip(self.buf.par_chunks_mut(nt * CHUNK))
                    .zip(self.parts.par_chunks_mut(nst))
                    .enumerate()
                    .for_each(task)
            }),
            None => self
                .v
                .chunks_mut(k * CHUNK)
                .zip(self.buf.chunks_mut(nt * CHUNK))
                .zip(self.parts.chunks_mut(nst))
                .enumerate()
                .for_each(task),
        }
    }

    fn record(&mut self) {
        self.out.steps.push(self.step);
        self.out.m.extend_from_slice(&self.m);
        self.out.e.push(self.e);
        let q = self.scale * self.scale * self.parts_norm() / (self.blocks as f64 * self.d as f64);
        self.out.q.push(q);
        self.out.loss.push(if self.loss_n > 0 {
            self.loss_sum / self.loss_n as f64
        } else {
            f64::NAN
        });
        self.loss_sum = 0.0;
        self.loss_n = 0;
    }

    fn parts_norm(&self) -> f64 {
        self.parts.chunks(self.nst()).map(|p| p[0]).sum()
    }

    /// Reduce the pass, record, stop or compute the gradient of the freshly drawn samples.
    fn after(&mut self, return_weights: bool) -> Result<()> {
        let nst = self.nst();
        let mut tot = std::mem::take(&mut self.tot);
        tot.iter_mut().for_each(|t| *t = 0.0);
        for p in self.parts.chunks(nst) {
            tot.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        }
        let result = self.finish_step(&tot, return_weights);
        self.tot = tot;
        result
    }

    /// The scalar part of a step: overlaps, record, stop, gradient of the fresh samples.
    fn finish_step(&mut self, tot: &[f64], return_weights: bool) -> Result<()> {
        let (k, nt) = (self.blocks, self.ntok);
        let (df, sd) = (self.d as f64, (self.d as f64).sqrt());
        let norm = tot[0];
        if !(norm.is_finite() && norm > 0.0) {
            return Err(KernelError::Numerical {
                what: "online_sgd",
                reason: format!(
                    "the weights became {norm} at step {} (learning rate too large?)",
                    self.step
                ),
            });
        }
        self.scale = if self.o.spherical {
            (k as f64 * df / norm).sqrt()
        } else {
            1.0
        };
        let c = self.scale;
        for b in 0..k {
            self.m[b] = c * tot[1 + b] / df;
        }
        self.e = c * tot[1 + k] / sd;
        if self.o.record.get(self.rec) == Some(&self.step) {
            self.record();
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
            if return_weights {
                self.out.weights = from_chunk_major(&self.v, self.d, k, c);
                self.out.teacher = std::mem::take(&mut self.ws);
                self.out.positional = std::mem::take(&mut self.p);
            }
            return Ok(());
        }
        let l = self.pb.len;
        let mut noise =
            (self.pb.noise > 0.0).then(|| stream(self.seed, &[tags::NOISE, self.run, self.step]));
        let mut loss = 0.0;
        let mut gsum_s = 0.0;
        for b in 0..self.o.batch {
            for i in 0..l {
                let j = b * l + i;
                self.zs[i] = tot[2 + k + nt + j] / sd;
                self.z[i] = c * tot[2 + k + j] / sd;
                if let Some(s) = &self.pb.positional {
                    self.z[i] += s[i] * self.e;
                }
            }
            self.pb
                .teacher_output(&self.zs, &mut self.y, &mut self.work);
            if let Some(rng) = noise.as_mut() {
                for yv in self.y.iter_mut() {
                    let xi: f64 = StandardNormal.sample(rng);
                    *yv += self.pb.noise * xi;
                }
            }
            loss += self
                .pb
                .loss_grad(&self.y, &self.z, &mut self.g, &mut self.work);
            let coef = self.o.lr / (self.o.batch as f64 * sd);
            for i in 0..l {
                self.beta[b * l + i] = coef * self.g[i];
                if let Some(s) = &self.pb.positional {
                    gsum_s += coef * self.g[i] * s[i];
                }
            }
        }
        self.loss_sum += loss / self.o.batch as f64;
        self.loss_n += 1;
        self.alpha = c;
        self.gamma = gsum_s;
        self.update = true;
        self.step += 1;
        Ok(())
    }

    /// Draw the tokens of the next steps in one parallel pass over `(step, chunk)` streams.
    fn draw_ahead(&mut self, pool: &ThreadPool) {
        let len = self.buf.len();
        let per = (AHEAD_FLOATS / len.max(1)).max(1) as u64;
        let count = per.min(self.o.steps - self.step);
        if self.ahead.len() < count as usize * len {
            self.ahead = vec![0.0f32; count as usize * len];
        }
        let (first, seed, run, nt, d) = (self.step, self.seed, self.run, self.ntok, self.d);
        pool.install(|| {
            self.ahead[..count as usize * len]
                .par_chunks_mut(len)
                .enumerate()
                .flat_map(|(s, stepbuf)| {
                    stepbuf
                        .par_chunks_mut(nt * CHUNK)
                        .enumerate()
                        .map(move |(c, out)| (s, c, out))
                })
                .for_each(|(s, c, out)| {
                    draw_tokens(
                        seed,
                        run,
                        first + s as u64,
                        c,
                        &mut out[..nt * chunk_len(d, c)],
                    )
                })
        });
        self.ahead_first = first;
        self.ahead_n = count;
    }

    /// Like [`Self::advance`], drawing the tokens ahead on `pool` and running the passes on
    /// the calling thread (module docs).
    fn advance_drawing_ahead(
        &mut self,
        n: u64,
        pool: &ThreadPool,
        return_weights: bool,
    ) -> Result<()> {
        for _ in 0..n {
            if self.done {
                break;
            }
            if self.step < self.o.steps && self.step >= self.ahead_first + self.ahead_n {
                self.draw_ahead(pool);
            }
            self.pass(None);
            self.after(return_weights)?;
        }
        Ok(())
    }

    fn advance(&mut self, n: u64, pool: Option<&ThreadPool>, return_weights: bool) -> Result<()> {
        for _ in 0..n {
            if self.done {
                break;
            }
            self.pass(pool);
            self.after(return_weights)?;
        }
        Ok(())
    }
}

/// Throughput (standard normals per second) of the sampler of the hot loop: every task fills a
/// [`CHUNK`]-sized buffer from its own stream, as one token of one chunk in [`simulate`] does,
/// without the projections and updates. The bound of the full simulation is `B L d` normals per
/// step at this rate.
pub fn rng_throughput(pool: &ThreadPool, n: usize) -> f64 {
    let chunks = n.div_ceil(CHUNK).max(1);
    let t = std::time::Instant::now();
    let total: f64 = pool.install(|| {
        (0..chunks)
            .into_par_iter()
            .map(|c| {
                let mut rng: Xoshiro256PlusPlus = stream(0, &[tags::DATA, u64::MAX, 0, c as u64]);
                let mut buf = [0.0f64; CHUNK];
                buf.iter_mut()
                    .for_each(|x| *x = StandardNormal.sample(&mut rng));
                std::hint::black_box(&buf);
                buf[c % CHUNK]
            })
            .sum()
    });
    std::hint::black_box(total);
    (chunks * CHUNK) as f64 / t.elapsed().as_secs_f64()
}

/// Simulate the runs `runs` (each an index keying its own teacher, start and data streams).
#[allow(clippy::too_many_arguments)]
pub fn simulate<I: Interrupt + ?Sized>(
    pool: &ThreadPool,
    problem: &Problem,
    opts: &SgdOptions,
    seed: u64,
    runs: &[u64],
    return_weights: bool,
    ctl: &I,
) -> Result<Vec<RunOutput>> {
    opts.validate(problem)?;
    ensure(opts.d <= (1u64 << 40), "d", || {
        format!(
            "is too large for the full simulation ({}); use mode='reduced'",
            opts.d
        )
    })?;
    let d = opts.d as usize;
    let per_step = d * opts.batch * problem.len;
    // Refuse (rather than abort on) allocations the machine cannot hold: weights (twice while
    // set up), teacher, positional direction and token buffer of every run.
    let floats = (3 * problem.blocks() + 2 + opts.batch * problem.len)
        .checked_mul(d)
        .and_then(|f| f.checked_mul(runs.len()))
        .ok_or_else(|| crate::error::invalid("d", "is too large for the full simulation"))?;
    let mut probe: Vec<f64> = Vec::new();
    probe.try_reserve_exact(floats).map_err(|_| {
        crate::error::invalid(
            "d",
            format!(
                "needs {:.1} GB for the full simulation; use mode='reduced'",
                floats as f64 * 8e-9
            ),
        )
    })?;
    drop(probe);
    let mut states = runs
        .iter()
        .map(|&r| RunState::new(pool, problem, opts, seed, r))
        .collect::<Result<Vec<_>>>()?;
    let threads = pool.current_num_threads();
    if states.len() > 1 && (per_step < PER_RUN_THRESHOLD || n_chunks(d) < 2 * threads) {
        let block = ((1usize << 22) / per_step.max(1)).max(1) as u64;
        while states.iter().any(|s| !s.done) {
            ctl.check()?;
            pool.install(|| {
                states
                    .par_iter_mut()
                    .try_for_each(|s| s.advance(block, None, return_weights))
            })?;
        }
    } else {
        // Split a step over the pool when it has enough chunks for every thread; otherwise
        // (one run, small steps) draw ahead, as long as a step is small against the buffer.
        let split = n_chunks(d) > 1 && per_step >= PER_RUN_THRESHOLD / 4;
        let ahead =
            threads > 1 && per_step <= AHEAD_FLOATS / 8 && !(split && n_chunks(d) >= 2 * threads);
        let block = ((1usize << 20) / per_step.max(1)).max(1) as u64;
        for s in states.iter_mut() {
            while !s.done {
                ctl.check()?;
                if ahead {
                    s.advance_drawing_ahead(block, pool, return_weights)?;
                } else {
                    s.advance(1, split.then_some(pool), return_weights)?;
                }
            }
        }
    }
    Ok(states.into_iter().map(|s| s.out).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Never;
    use crate::sgd::functions::{Activation, Function, Loss, Readout, Student, Teacher};
    use crate::threads::pool;

    fn opts(d: u64, steps: u64) -> SgdOptions {
        SgdOptions {
            d,
            lr: 0.5,
            steps,
            batch: 1,
            spherical: true,
            record: vec![0, steps / 2, steps],
            stop_overlap: None,
            m0: Some(0.3),
            e0: None,
        }
    }

    fn attention() -> Problem {
        Problem {
            len: 2,
            teacher: Teacher::Attention {
                omega: 0.3,
                a: vec![0.8, 0.2, 0.2, 0.8],
            },
            student: Student::Attention(Readout::Matrix),
            loss: Loss::Squared,
            noise: 0.0,
            positional: Some(vec![1.0, -1.0]),
        }
    }

    #[test]
    fn identical_for_any_thread_count_and_schedule() {
        let pb = Problem {
            len: 3,
            teacher: Teacher::Scalar {
                f: Function::Staircase2,
                scale: 1.0,
            },
            student: Student::Tied(Activation::Tanh),
            loss: Loss::Squared,
            noise: 0.1,
            positional: None,
        };
        let o = opts(3 * CHUNK as u64 + 5, 40);
        let a = simulate(&pool(Some(1)).unwrap(), &pb, &o, 7, &[0, 1], true, &Never).unwrap();
        let b = simulate(&pool(Some(2)).unwrap(), &pb, &o, 7, &[0, 1], true, &Never).unwrap();
        let c = simulate(&pool(Some(2)).unwrap(), &pb, &o, 7, &[1], true, &Never).unwrap();
        assert_eq!(a[0].m, b[0].m);
        assert_eq!(a[1].weights, b[1].weights);
        assert_eq!(a[1].weights, c[0].weights);
        let pa = attention();
        let mut oa = opts(5000, 30);
        oa.e0 = Some(0.2);
        let a = simulate(&pool(Some(1)).unwrap(), &pa, &oa, 3, &[0], true, &Never).unwrap();
        let b = simulate(&pool(Some(2)).unwrap(), &pa, &oa, 3, &[0], true, &Never).unwrap();
        assert_eq!(a[0].weights, b[0].weights);
        assert_eq!(a[0].e, b[0].e);
    }

    /// The fused pass must equal a plain loop that stores every sample.
    #[test]
    fn drawing_ahead_equals_drawing_in_the_pass() {
        // one run, small steps: 1 thread draws inside the pass, 2 and 3 threads draw ahead;
        // 2000 steps of 5000 coordinates refill the draw-ahead buffer twice
        let pb = attention();
        let o = opts(5000, 2000);
        let per = (AHEAD_FLOATS / (o.d as usize * o.batch * pb.len)) as u64;
        assert!(per < o.steps / 2, "the test must refill the buffer");
        let runs: Vec<_> = [1, 2, 3]
            .iter()
            .map(|&t| simulate(&pool(Some(t)).unwrap(), &pb, &o, 11, &[4], true, &Never).unwrap())
            .collect();
        for r in &runs[1..] {
            assert_eq!(runs[0][0].weights, r[0].weights);
            assert_eq!(runs[0][0].m, r[0].m);
            assert_eq!(runs[0][0].e, r[0].e);
        }
    }

    #[test]
    fn fused_pass_equals_naive_spherical_sgd() {
        for pb in [
            attention(),
            Problem {
                len: 2,
                teacher: Teacher::Scalar {
                    f: Function::Pair,
                    scale: 1.0,
                },
                student: Student::Untied(Activation::Identity),
                loss: Loss::Mse,
                noise: 0.0,
                positional: None,
            },
            // 10 tokens per block: the unfused (one axpy per token) update
            Problem {
                len: 5,
                teacher: Teacher::Scalar {
                    f: Function::Sum,
                    scale: 1.0,
                },
                student: Student::Tied(Activation::Tanh),
                loss: Loss::Squared,
                noise: 0.0,
                positional: Some(vec![1.0, -1.0, 0.5, 0.0, 2.0]),
            },
        ] {
            let d = CHUNK + 100;
            let mut o = opts(d as u64, 6);
            o.batch = 2;
            o.record = (0..=6).collect();
            let p1 = pool(Some(2)).unwrap();
            let out = &simulate(&p1, &pb, &o, 11, &[4], true, &Never).unwrap()[0];
            // naive replay with the same streams
            let st = RunState::new(&p1, &pb, &o, 11, 4).unwrap();
            let k = pb.blocks();
            let mut w = from_chunk_major(&st.v, d, k, 1.0);
            let (ws, p) = (&st.ws, &st.p);
            let l = pb.len;
            let sd = (d as f64).sqrt();
            let mut work = pb.work();
            for step in 0..6u64 {
                let mut x = vec![0.0; o.batch * l * d];
                for c in 0..n_chunks(d) {
                    let n = chunk_len(d, c);
                    let mut rng: Xoshiro256PlusPlus = stream(11, &[tags::DATA, 4, step, c as u64]);
                    for j in 0..o.batch * l {
                        for i in 0..n {
                            let g: f64 = StandardNormal.sample(&mut rng);
                            x[j * d + c * CHUNK + i] = (g as f32) as f64 / sd;
                        }
                    }
                }
                let m_naive = w[..d].iter().zip(ws).map(|(a, b)| a * b).sum::<f64>() / d as f64;
                assert!(
                    (m_naive - out.m[step as usize * k]).abs() < 1e-10,
                    "step {step}: {m_naive} vs {}",
                    out.m[step as usize * k]
                );
                let mut grad = vec![0.0; k * d];
                for b in 0..o.batch {
                    let mut zs = vec![0.0; l];
                    let mut z = vec![0.0; l];
                    for i in 0..l {
                        let xi = &x[(b * l + i) * d..(b * l + i + 1) * d];
                        let blk = if k == 1 { 0 } else { i };
                        zs[i] = xi.iter().zip(ws).map(|(a, c)| a * c).sum();
                        z[i] = xi
                            .iter()
                            .zip(&w[blk * d..(blk + 1) * d])
                            .map(|(a, c)| a * c)
                            .sum();
                        if let Some(s) = &pb.positional {
                            z[i] +=
                                s[i] * w[..d].iter().zip(p).map(|(a, c)| a * c).sum::<f64>() / sd;
                        }
                    }
                    let mut g = vec![0.0; l];
                    pb.eval(&zs, &z, &mut g, &mut work);
                    for i in 0..l {
                        let blk = if k == 1 { 0 } else { i };
                        for t in 0..d {
                            let mut xt = x[(b * l + i) * d + t];
                            if let Some(s) = &pb.positional {
                                xt += s[i] * p[t] / sd;
                            }
                            grad[blk * d + t] += g[i] * xt / o.batch as f64;
                        }
                    }
                }
                w.iter_mut().zip(&grad).for_each(|(a, g)| *a -= o.lr * g);
                let s = ((k * d) as f64 / w.iter().map(|v| v * v).sum::<f64>()).sqrt();
                w.iter_mut().for_each(|v| *v *= s);
            }
            let err = w
                .iter()
                .zip(&out.weights)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(err < 1e-10, "max weight difference {err}");
        }
    }

    #[test]
    fn early_stop_and_initial_overlap() {
        let pb = Problem {
            len: 2,
            teacher: Teacher::Scalar {
                f: Function::Sum,
                scale: 1.0,
            },
            student: Student::Ssi {
                f: Function::Sum,
                scale: 1.0,
            },
            loss: Loss::Squared,
            noise: 0.0,
            positional: None,
        };
        let mut o = opts(4000, 100_000);
        o.stop_overlap = Some(0.9);
        let out = &simulate(&pool(Some(2)).unwrap(), &pb, &o, 1, &[0], false, &Never).unwrap()[0];
        assert!((out.m[0] - 0.3).abs() < 1e-12);
        assert!(out.stopped && out.final_m[0] >= 0.9 && out.final_step < 100_000);
        assert_eq!(out.steps, vec![0]);
    }
}
