//! Inner loops of the dense kernels: a dot product, an axpy and the fused dot+axpy of packed
//! symmetric storage, for float64, float32 and bfloat16 storage (always accumulated in float64).
//!
//! Each loop is written once, generically, with independent accumulators so that LLVM
//! vectorises it; it is compiled twice, for baseline x86-64 and for AVX2+FMA, and the right
//! version is picked at run time (the choice depends only on the CPU, so results stay
//! identical for any number of threads).

/// Storage element type of a matrix: `f64`, `f32` or [`half::bf16`].
pub trait Scalar: Copy + Send + Sync + 'static {
    /// Whether products want the vector in float32 too (see [`Scalar::dot4_rows`]).
    const WANTS_F32_X: bool = false;
    /// Widen to f64.
    fn to_f64(self) -> f64;
    /// Round from f64.
    fn from_f64(x: f64) -> Self;
    /// Dot products of four rows with `x` (`x32` is `x` rounded to float32 when
    /// [`Scalar::WANTS_F32_X`], else empty). float64 storage accumulates in float64; float32
    /// storage multiplies in float32 (the precision of its storage) over blocks of 128
    /// elements whose partial sums are accumulated in float64.
    fn dot4_rows(rows: [&[Self]; 4], x: &[f64], x32: &[f32]) -> [f64; 4]
    where
        Self: Sized;
}

impl Scalar for f64 {
    #[inline(always)]
    fn dot4_rows(rows: [&[f64]; 4], x: &[f64], _x32: &[f32]) -> [f64; 4] {
        dot4(rows, x)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

impl Scalar for f32 {
    const WANTS_F32_X: bool = true;
    #[inline(always)]
    fn dot4_rows(rows: [&[f32]; 4], _x: &[f64], x32: &[f32]) -> [f64; 4] {
        dot4_f32(rows, x32)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

/// bfloat16 storage: 8 significand bits (relative rounding error at most `2^-8` per entry),
/// float32's exponent range. Widened exactly (a 16-bit shift into a float32) and multiplied
/// and accumulated in float64 like float64 storage, so the only error is the storage rounding.
impl Scalar for half::bf16 {
    #[inline(always)]
    fn dot4_rows(rows: [&[half::bf16]; 4], x: &[f64], _x32: &[f32]) -> [f64; 4] {
        dot4(rows, x)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f32::from_bits((self.to_bits() as u32) << 16) as f64
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        half::bf16::from_f64(x)
    }
}

pub(crate) const LANES: usize = 16;

macro_rules! kernels {
    ($fma:expr) => {
        #[inline(always)]
        fn madd(a: f64, b: f64, c: f64) -> f64 {
            if $fma {
                a.mul_add(b, c)
            } else {
                a * b + c
            }
        }

        #[inline(always)]
        pub fn dot<T: crate::linalg::simd::Scalar>(a: &[T], x: &[f64]) -> f64 {
            let n = a.len().min(x.len());
            let (a, x) = (&a[..n], &x[..n]);
            let mut acc = [0.0f64; crate::linalg::simd::LANES];
            let ac = a.chunks_exact(crate::linalg::simd::LANES);
            let xc = x.chunks_exact(crate::linalg::simd::LANES);
            let (ra, rx) = (ac.remainder(), xc.remainder());
            for (ca, cx) in ac.zip(xc) {
                for k in 0..crate::linalg::simd::LANES {
                    acc[k] = madd(ca[k].to_f64(), cx[k], acc[k]);
                }
            }
            let mut tail = 0.0;
            for (u, v) in ra.iter().zip(rx) {
                tail = madd(u.to_f64(), *v, tail);
            }
            let mut half = crate::linalg::simd::LANES;
            while half > 1 {
                half /= 2;
                for k in 0..half {
                    acc[k] += acc[k + half];
                }
            }
            acc[0] + tail
        }

        /// Four dot products with the same `x`, reading each `x` element once for four rows.
        #[inline(always)]
        pub fn dot4<T: crate::linalg::simd::Scalar>(rows: [&[T]; 4], x: &[f64]) -> [f64; 4] {
            const W: usize = 8;
            let n = x.len();
            let [r0, r1, r2, r3] = rows;
            let (r0, r1, r2, r3) = (&r0[..n], &r1[..n], &r2[..n], &r3[..n]);
            let mut acc = [[0.0f64; W]; 4];
            let it = r0
                .chunks_exact(W)
                .zip(r1.chunks_exact(W))
                .zip(r2.chunks_exact(W).zip(r3.chunks_exact(W)))
                .zip(x.chunks_exact(W));
            for (((c0, c1), (c2, c3)), cx) in it {
                for k in 0..W {
                    acc[0][k] = madd(c0[k].to_f64(), cx[k], acc[0][k]);
                    acc[1][k] = madd(c1[k].to_f64(), cx[k], acc[1][k]);
                    acc[2][k] = madd(c2[k].to_f64(), cx[k], acc[2][k]);
                    acc[3][k] = madd(c3[k].to_f64(), cx[k], acc[3][k]);
                }
            }
            let start = n - n % W;
            let mut out = [0.0f64; 4];
            for (r, row) in [r0, r1, r2, r3].iter().enumerate() {
                let a = &acc[r];
                let mut t = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
                for k in start..n {
                    t = madd(row[k].to_f64(), x[k], t);
                }
                out[r] = t;
            }
            out
        }

        #[inline(always)]
        fn madd32(a: f32, b: f32, c: f32) -> f32 {
            if $fma {
                a.mul_add(b, c)
            } else {
                a * b + c
            }
        }

        /// [`dot4`] for float32 rows and a float32 `x`: float32 products accumulated lane-wise
        /// over blocks of `BLOCK` elements, the lane sums then added (still lane-wise, with
        /// vector conversions) into float64 accumulators; one horizontal sum per row at the end.
        #[inline(always)]
        pub fn dot4_f32(rows: [&[f32]; 4], x: &[f32]) -> [f64; 4] {
            const W: usize = 16;
            const BLOCK: usize = 512;
            let n = x.len();
            let [r0, r1, r2, r3] = rows;
            let (r0, r1, r2, r3) = (&r0[..n], &r1[..n], &r2[..n], &r3[..n]);
            let mut acc64 = [[0.0f64; W]; 4];
            let full = n - n % W;
            let mut start = 0;
            while start < full {
                let end = (start + BLOCK).min(full);
                let mut acc = [[0.0f32; W]; 4];
                let it = r0[start..end]
                    .chunks_exact(W)
                    .zip(r1[start..end].chunks_exact(W))
                    .zip(
                        r2[start..end]
                            .chunks_exact(W)
                            .zip(r3[start..end].chunks_exact(W)),
                    )
                    .zip(x[start..end].chunks_exact(W));
                for (((c0, c1), (c2, c3)), cx) in it {
                    for k in 0..W {
                        acc[0][k] = madd32(c0[k], cx[k], acc[0][k]);
                        acc[1][k] = madd32(c1[k], cx[k], acc[1][k]);
                        acc[2][k] = madd32(c2[k], cx[k], acc[2][k]);
                        acc[3][k] = madd32(c3[k], cx[k], acc[3][k]);
                    }
                }
                for r in 0..4 {
                    for k in 0..W {
                        acc64[r][k] += acc[r][k] as f64;
                    }
                }
                start = end;
            }
            let mut out = [0.0f64; 4];
            for (r, row) in [r0, r1, r2, r3].iter().enumerate() {
                let a = &acc64[r];
                let mut t = 0.0;
                for h in 0..W / 4 {
                    t += (a[4 * h] + a[4 * h + 1]) + (a[4 * h + 2] + a[4 * h + 3]);
                }
                for k in full..n {
                    t += (row[k] as f64) * (x[k] as f64);
                }
                out[r] = t;
            }
            out
        }

        #[inline(always)]
        pub fn axpy<T: crate::linalg::simd::Scalar>(alpha: f64, a: &[T], y: &mut [f64]) {
            for (yi, ai) in y.iter_mut().zip(a) {
                *yi = madd(alpha, ai.to_f64(), *yi);
            }
        }

        /// Four rows at once: returns `rows[r] . x` and performs `y += sum_r alpha[r] rows[r]`,
        /// reading each `x` and `y` element once for the four rows.
        #[inline(always)]
        pub fn dot_axpy4<T: crate::linalg::simd::Scalar>(
            rows: [&[T]; 4],
            x: &[f64],
            alpha: [f64; 4],
            y: &mut [f64],
        ) -> [f64; 4] {
            const W: usize = 8;
            let n = x.len().min(y.len());
            let [r0, r1, r2, r3] = rows;
            let (r0, r1, r2, r3) = (&r0[..n], &r1[..n], &r2[..n], &r3[..n]);
            let (x, y) = (&x[..n], &mut y[..n]);
            let mut acc = [[0.0f64; W]; 4];
            let mut yc = y.chunks_exact_mut(W);
            let it = r0
                .chunks_exact(W)
                .zip(r1.chunks_exact(W))
                .zip(r2.chunks_exact(W).zip(r3.chunks_exact(W)))
                .zip(x.chunks_exact(W));
            for ((((c0, c1), (c2, c3)), cx), cy) in it.zip(&mut yc) {
                for k in 0..W {
                    let (a0, a1, a2, a3) = (
                        c0[k].to_f64(),
                        c1[k].to_f64(),
                        c2[k].to_f64(),
                        c3[k].to_f64(),
                    );
                    acc[0][k] = madd(a0, cx[k], acc[0][k]);
                    acc[1][k] = madd(a1, cx[k], acc[1][k]);
                    acc[2][k] = madd(a2, cx[k], acc[2][k]);
                    acc[3][k] = madd(a3, cx[k], acc[3][k]);
                    cy[k] = madd(
                        alpha[3],
                        a3,
                        madd(alpha[2], a2, madd(alpha[1], a1, madd(alpha[0], a0, cy[k]))),
                    );
                }
            }
            let start = n - n % W;
            let mut out = [0.0f64; 4];
            for r in 0..4 {
                let a = &acc[r];
                out[r] = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            }
            for k in start..n {
                let (a0, a1, a2, a3) = (
                    r0[k].to_f64(),
                    r1[k].to_f64(),
                    r2[k].to_f64(),
                    r3[k].to_f64(),
                );
                out[0] = madd(a0, x[k], out[0]);
                out[1] = madd(a1, x[k], out[1]);
                out[2] = madd(a2, x[k], out[2]);
                out[3] = madd(a3, x[k], out[3]);
                y[k] = madd(
                    alpha[3],
                    a3,
                    madd(alpha[2], a2, madd(alpha[1], a1, madd(alpha[0], a0, y[k]))),
                );
            }
            out
        }

        /// Returns `a . x` and performs `y += alpha * a` in the same pass over `a`.
        #[inline(always)]
        pub fn dot_axpy<T: crate::linalg::simd::Scalar>(
            a: &[T],
            x: &[f64],
            alpha: f64,
            y: &mut [f64],
        ) -> f64 {
            let n = a.len().min(x.len()).min(y.len());
            let (a, x, y) = (&a[..n], &x[..n], &mut y[..n]);
            let mut acc = [0.0f64; 8];
            let mut ac = a.chunks_exact(8);
            let mut xc = x.chunks_exact(8);
            let mut yc = y.chunks_exact_mut(8);
            for ((ca, cx), cy) in (&mut ac).zip(&mut xc).zip(&mut yc) {
                for k in 0..8 {
                    let v = ca[k].to_f64();
                    acc[k] = madd(v, cx[k], acc[k]);
                    cy[k] = madd(alpha, v, cy[k]);
                }
            }
            let mut tail = 0.0;
            for ((u, v), w) in ac
                .remainder()
                .iter()
                .zip(xc.remainder())
                .zip(yc.into_remainder())
            {
                let u = u.to_f64();
                tail = madd(u, *v, tail);
                *w = madd(alpha, u, *w);
            }
            ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
        }
    };
}

mod portable {
    kernels!(false);
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    mod inner {
        kernels!(true);
    }
    use crate::linalg::simd::Scalar;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot<T: Scalar>(a: &[T], x: &[f64]) -> f64 {
        inner::dot(a, x)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot4<T: Scalar>(rows: [&[T]; 4], x: &[f64]) -> [f64; 4] {
        inner::dot4(rows, x)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot4_f32(rows: [&[f32]; 4], x: &[f32]) -> [f64; 4] {
        inner::dot4_f32(rows, x)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_axpy4<T: Scalar>(
        rows: [&[T]; 4],
        x: &[f64],
        alpha: [f64; 4],
        y: &mut [f64],
    ) -> [f64; 4] {
        inner::dot_axpy4(rows, x, alpha, y)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy<T: Scalar>(alpha: f64, a: &[T], y: &mut [f64]) {
        inner::axpy(alpha, a, y)
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_axpy<T: Scalar>(a: &[T], x: &[f64], alpha: f64, y: &mut [f64]) -> f64 {
        inner::dot_axpy(a, x, alpha, y)
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// `sum_k a[k] * x[k]` over the common length.
#[inline]
pub fn dot<T: Scalar>(a: &[T], x: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::dot(a, x) };
    }
    portable::dot(a, x)
}

/// Dot products of four rows (each at least `x.len()` long) with `x`, reading `x` once.
#[inline]
pub fn dot4<T: Scalar>(rows: [&[T]; 4], x: &[f64]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::dot4(rows, x) };
    }
    portable::dot4(rows, x)
}

/// [`dot4`] for float32 rows with a float32 vector (see [`Scalar::dot4_rows`]).
#[inline]
pub fn dot4_f32(rows: [&[f32]; 4], x: &[f32]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::dot4_f32(rows, x) };
    }
    portable::dot4_f32(rows, x)
}

/// `y[k] += alpha * a[k]` over the common length.
#[inline]
pub fn axpy<T: Scalar>(alpha: f64, a: &[T], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::axpy(alpha, a, y) };
    }
    portable::axpy(alpha, a, y)
}

/// Four [`dot_axpy`] at once, reading `x` and `y` once for the four rows.
#[inline]
pub fn dot_axpy4<T: Scalar>(
    rows: [&[T]; 4],
    x: &[f64],
    alpha: [f64; 4],
    y: &mut [f64],
) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::dot_axpy4(rows, x, alpha, y) };
    }
    portable::dot_axpy4(rows, x, alpha, y)
}

/// `a . x`, and `y += alpha * a`, reading `a` once.
#[inline]
pub fn dot_axpy<T: Scalar>(a: &[T], x: &[f64], alpha: f64, y: &mut [f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { avx2::dot_axpy(a, x, alpha, y) };
    }
    portable::dot_axpy(a, x, alpha, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_loops() {
        for n in [0usize, 1, 7, 8, 15, 16, 17, 100, 1001] {
            let a: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64 - 6.0).collect();
            let x: Vec<f64> = (0..n).map(|i| ((i * 31) % 11) as f64 * 0.5).collect();
            let naive: f64 = a.iter().zip(&x).map(|(u, v)| u * v).sum();
            assert!((dot(&a, &x) - naive).abs() < 1e-9);
            let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
            assert!((dot(&a32, &x) - naive).abs() < 1e-9);
            let mut y = vec![1.0; n];
            let d = dot_axpy(&a, &x, 2.0, &mut y);
            assert!((d - naive).abs() < 1e-9);
            for k in 0..n {
                assert!((y[k] - (1.0 + 2.0 * a[k])).abs() < 1e-12);
            }
            for v in dot4([&a, &a, &a, &a], &x)
                .into_iter()
                .chain(dot4([&a32, &a32, &a32, &a32], &x))
            {
                assert!((v - naive).abs() < 1e-9);
            }
            // float32 products: exact here (small integers and halves)
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            for v in dot4_f32([&a32, &a32, &a32, &a32], &x32) {
                assert!((v - naive).abs() < 1e-9);
            }
            let mut z = vec![1.0; n];
            axpy(-1.0, &a32, &mut z);
            for k in 0..n {
                assert!((z[k] - (1.0 - a[k])).abs() < 1e-12);
            }
        }
    }
}
