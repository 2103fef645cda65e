//! Small dense `p x p` linear algebra (row-major, `p <= MAXP`): the GAMP variances, their
//! Cholesky factors and inverses. Kept allocation-free so that per-sample code stays cheap.

use crate::error::{ensure, KernelError, Result};

/// Largest number of directions `p` supported by the GAMP kernels.
pub const MAXP: usize = 8;

/// A `p x p` matrix in a fixed-size row-major buffer.
pub type Small = [f64; MAXP * MAXP];

/// Zero matrix.
pub const ZERO: Small = [0.0; MAXP * MAXP];

/// Identity of size `p`.
pub fn eye(p: usize) -> Small {
    let mut m = ZERO;
    for i in 0..p {
        m[i * p + i] = 1.0;
    }
    m
}

/// Copy a row-major `p x p` slice into a [`Small`].
pub fn from_slice(p: usize, a: &[f64]) -> Small {
    let mut m = ZERO;
    m[..p * p].copy_from_slice(&a[..p * p]);
    m
}

/// `(a + a^T) / 2`.
pub fn symmetrize(p: usize, a: &mut [f64]) {
    for i in 0..p {
        for j in 0..i {
            let s = 0.5 * (a[i * p + j] + a[j * p + i]);
            a[i * p + j] = s;
            a[j * p + i] = s;
        }
    }
}

/// `c = a b`.
pub fn matmul(p: usize, a: &[f64], b: &[f64], c: &mut [f64]) {
    for i in 0..p {
        for j in 0..p {
            c[i * p + j] = (0..p).map(|k| a[i * p + k] * b[k * p + j]).sum();
        }
    }
}

/// `y = a x`.
#[inline]
pub fn matvec(p: usize, a: &[f64], x: &[f64], y: &mut [f64]) {
    for i in 0..p {
        y[i] = (0..p).map(|k| a[i * p + k] * x[k]).sum();
    }
}

/// Lower Cholesky factor of a symmetric positive-definite matrix; `None` if a pivot is not
/// positive.
pub fn cholesky(p: usize, a: &[f64]) -> Option<Small> {
    let mut l = ZERO;
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= l[j * p + k] * l[j * p + k];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= l[i * p + k] * l[j * p + k];
            }
            l[i * p + j] = s / d;
        }
    }
    Some(l)
}

/// A symmetric positive-definite variance `V` with its Cholesky factor, inverse and
/// log-determinant. A tiny multiple of the identity is added when `V` is numerically singular
/// (e.g. a posterior that has collapsed onto the truth), so `V` is always invertible.
#[derive(Debug, Clone)]
pub struct Spd {
    /// Dimension.
    pub p: usize,
    /// The (possibly regularised) matrix.
    pub v: Small,
    /// Lower Cholesky factor, `v = l l^T`.
    pub l: Small,
    /// `v^{-1}`.
    pub inv: Small,
    /// `log det v`.
    pub logdet: f64,
}

/// Relative size of the ridge added to a numerically singular variance.
pub const JITTER: f64 = 1e-12;

impl Spd {
    /// Factor `v` (row-major `p x p`, symmetrised first).
    pub fn new(p: usize, v: &[f64]) -> Result<Self> {
        ensure((1..=MAXP).contains(&p), "p", || format!("must be in 1..={MAXP}, got {p}"))?;
        ensure(v.len() >= p * p, "v", || format!("has {} entries, expected {}", v.len(), p * p))?;
        let mut m = from_slice(p, v);
        if m[..p * p].iter().any(|x| !x.is_finite()) {
            return Err(KernelError::Numerical { what: "gamp", reason: "the variance V is not finite (try damping)".into() });
        }
        symmetrize(p, &mut m);
        let scale = (0..p).map(|i| m[i * p + i].abs()).fold(0.0f64, f64::max).max(1e-300);
        let min_diag = (0..p).map(|i| m[i * p + i]).fold(f64::INFINITY, f64::min);
        let mut ridge = if min_diag < JITTER * scale.max(1.0) { JITTER * scale.max(1.0) } else { 0.0 };
        for _ in 0..40 {
            let mut a = m;
            for i in 0..p {
                a[i * p + i] += ridge;
            }
            if let Some(l) = cholesky(p, &a) {
                let logdet = 2.0 * (0..p).map(|i| l[i * p + i].ln()).sum::<f64>();
                let inv = chol_inverse(p, &l);
                return Ok(Self { p, v: a, l, inv, logdet });
            }
            ridge = if ridge == 0.0 { JITTER * scale.max(1.0) } else { ridge * 10.0 };
            if ridge > 1e-4 * scale.max(1.0) {
                break;
            }
        }
        Err(KernelError::Numerical {
            what: "gamp",
            reason: format!("the variance V is not positive definite: {:?}", &m[..p * p]),
        })
    }

    /// `(z - w)^T v^{-1} (z - w)`.
    #[inline]
    pub fn quad(&self, z: &[f64], w: &[f64]) -> f64 {
        let p = self.p;
        let mut s = 0.0;
        for i in 0..p {
            let di = z[i] - w[i];
            for j in 0..p {
                s += di * self.inv[i * p + j] * (z[j] - w[j]);
            }
        }
        s
    }

    /// `log N(z; w, v)`.
    #[inline]
    pub fn log_density(&self, z: &[f64], w: &[f64]) -> f64 {
        -0.5 * self.quad(z, w) - 0.5 * self.logdet - self.p as f64 * super::special::HALF_LN_2PI
    }
}

/// `(l l^T)^{-1}` from the Cholesky factor.
pub fn chol_inverse(p: usize, l: &[f64]) -> Small {
    // inverse of L (lower triangular), then L^{-T} L^{-1}
    let mut li = ZERO;
    for j in 0..p {
        li[j * p + j] = 1.0 / l[j * p + j];
        for i in j + 1..p {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * p + k] * li[k * p + j];
            }
            li[i * p + j] = s / l[i * p + i];
        }
    }
    let mut inv = ZERO;
    for i in 0..p {
        for j in 0..=i {
            let s: f64 = (i.max(j)..p).map(|k| li[k * p + i] * li[k * p + j]).sum();
            inv[i * p + j] = s;
            inv[j * p + i] = s;
        }
    }
    inv
}

/// Inverse of a symmetric positive-definite matrix (with the [`Spd`] regularisation).
pub fn spd_inverse(p: usize, a: &[f64]) -> Result<Small> {
    Ok(Spd::new(p, a)?.inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_inverse_and_logdet() {
        let p = 3;
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let s = Spd::new(p, &a).unwrap();
        let mut prod = [0.0; 9];
        matmul(p, &a, &s.inv, &mut prod);
        for i in 0..p {
            for j in 0..p {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((prod[i * p + j] - e).abs() < 1e-13);
            }
        }
        // det = 4(6 - 0.04) - 1(2 - 0.1) + 0.5(0.2 - 1.5) = 23.84 - 1.9 - 0.65 = 21.29
        assert!((s.logdet - 21.29f64.ln()).abs() < 1e-13);
    }

    #[test]
    fn singular_variances_get_a_ridge_and_bad_ones_fail() {
        let s = Spd::new(2, &[1.0, 1.0, 1.0, 1.0]).unwrap();
        assert!(s.logdet.is_finite());
        assert!(Spd::new(2, &[1.0, 0.0, 0.0, -1.0]).is_err());
        assert!(Spd::new(1, &[f64::NAN]).is_err());
        assert!(Spd::new(1, &[0.0]).is_ok());
    }
}
