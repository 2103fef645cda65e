//! Small-polynomial numerics: Horner evaluation, Newton tracking of one root along a path,
//! all roots (Aberth-Ehrlich) of a real polynomial, and Gauss-Legendre rules.

use faer::c64;

/// Coefficients of a polynomial in `g` of degree at most 4, ascending powers.
pub type Coeffs = [c64; 5];

/// `p(g)` and `p'(g)` for ascending coefficients.
#[inline]
pub fn eval_with_derivative(c: &Coeffs, g: c64) -> (c64, c64) {
    let mut p = c[4];
    let mut dp = c64::new(0.0, 0.0);
    for k in (0..4).rev() {
        dp = dp * g + p;
        p = p * g + c[k];
    }
    (p, dp)
}

/// Newton's method on `p` from `g0` until the step is below `rtol |g|` (or stops decreasing at
/// rounding level); `None` if it does not converge in `max_iter` steps.
pub fn newton(c: &Coeffs, g0: c64, max_iter: usize, rtol: f64) -> Option<c64> {
    let mut g = g0;
    let mut last = f64::INFINITY;
    for _ in 0..max_iter {
        let (p, dp) = eval_with_derivative(c, g);
        if dp.norm() == 0.0 || !dp.re.is_finite() || !dp.im.is_finite() {
            return if p.norm() == 0.0 { Some(g) } else { None };
        }
        let step = p / dp;
        g -= step;
        if !(g.re.is_finite() && g.im.is_finite()) {
            return None;
        }
        let size = step.norm();
        let scale = g.norm().max(1e-300);
        // converged, or the step no longer shrinks at rounding level (quadratic convergence
        // has stalled on the evaluation error of p)
        if size <= rtol * scale || (size <= 1e-12 * scale && size >= 0.5 * last) {
            return Some(g);
        }
        last = size;
    }
    // Near a double root (a spectral edge) Newton converges only linearly: accept a residual
    // that is small relative to the size of the terms.
    let (p, _) = eval_with_derivative(c, g);
    let size: f64 = (0..5).map(|k| c[k].norm() * g.norm().powi(k as i32)).sum();
    if p.norm() <= 1e-10 * size.max(1e-300) {
        Some(g)
    } else {
        None
    }
}

/// The root of `coef(w)` that is the Stieltjes transform `g(w) = int rho(t)/(w - t) dt` of a
/// probability law, for `w` in the closed upper half plane (`Im w = 0` means `w + i0`).
///
/// The branch is selected by continuation: start at `Re w + i T` with `T` far above the support
/// (`T = 100 (scale + |Re w|)`), where `g ~ 1/w`, and follow the root down the vertical line to
/// `w` with Newton steps on a geometric ladder of imaginary parts (secant predictor, step
/// halving on failure). The physical branch is analytic in the open upper half plane, so the
/// path never crosses another root. Returns `None` on failure.
pub fn track_stieltjes<F>(coef: &F, w: c64, scale: f64) -> Option<c64>
where
    F: Fn(c64) -> Coeffs,
{
    let (x, y) = (w.re, w.im.max(0.0));
    let top = 30.0 * (scale + x.abs()) + 1.0;
    if y >= top {
        return newton(&coef(w), w.inv(), 100, 1e-14);
    }
    // stop the ladder well below the scale of the point itself (x may be tiny near a hard edge)
    let floor = 1e-11 * x.abs().max(1e-12 * scale);
    let mut eta = top;
    let start = c64::new(x, eta);
    let mut g = newton(&coef(start), start.inv(), 100, 1e-10)?;
    let mut prev: Option<(f64, c64)> = None;
    let mut ratio = 0.2;
    while eta > y {
        let mut next = eta * ratio;
        if next < floor || next <= y {
            next = y;
        }
        let guess = match prev {
            Some((eta_p, g_p)) if eta_p != eta => g + (g - g_p) * ((next - eta) / (eta - eta_p)),
            _ => g,
        };
        // intermediate rungs only need to stay on the branch; the last one is polished
        let rtol = if next == y { 1e-14 } else { 1e-9 };
        let cand = newton(&coef(c64::new(x, next)), guess, 60, rtol);
        let ok = match cand {
            // Im g <= 0 in the upper half plane; a jump much larger than the prediction means
            // Newton fell into another root's basin.
            Some(gn) => {
                gn.im <= 1e-12 * gn.norm().max(1.0)
                    && (gn - guess).norm() <= 0.25 * (g.norm() + gn.norm()) + 1e-300
            }
            None => false,
        };
        if ok {
            prev = Some((eta, g));
            g = cand?;
            eta = next;
            ratio = (ratio * ratio).max(0.2);
        } else {
            ratio = ratio.sqrt();
            if ratio > 0.999_999 {
                return None;
            }
        }
    }
    Some(g)
}

/// All complex roots of the real polynomial with ascending coefficients `c` (trailing zeros in
/// the highest powers are dropped), by the Aberth-Ehrlich iteration.
pub fn roots(c: &[f64]) -> Vec<c64> {
    let mut deg = c.len();
    while deg > 0 && c[deg - 1] == 0.0 {
        deg -= 1;
    }
    if deg <= 1 {
        return Vec::new();
    }
    let n = deg - 1;
    let lead = c[n];
    let a: Vec<f64> = c[..=n].iter().map(|v| v / lead).collect();
    // Cauchy bound for the initial circle.
    let radius = 1.0 + a[..n].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut z: Vec<c64> = (0..n)
        .map(|k| {
            c64::from_polar(
                radius * 0.7,
                2.0 * std::f64::consts::PI * (k as f64 + 0.25) / n as f64,
            )
        })
        .collect();
    let eval = |x: c64| {
        let mut p = c64::new(a[n], 0.0);
        let mut dp = c64::new(0.0, 0.0);
        for k in (0..n).rev() {
            dp = dp * x + p;
            p = p * x + a[k];
        }
        (p, dp)
    };
    for _ in 0..500 {
        let mut moved = 0.0f64;
        for i in 0..n {
            let (p, dp) = eval(z[i]);
            if p.norm() == 0.0 {
                continue;
            }
            let ratio = p / dp;
            let mut s = c64::new(0.0, 0.0);
            for j in 0..n {
                if j != i {
                    s += (z[i] - z[j]).inv();
                }
            }
            let step = ratio / (c64::new(1.0, 0.0) - ratio * s);
            if step.re.is_finite() && step.im.is_finite() {
                z[i] -= step;
                moved = moved.max(step.norm() / z[i].norm().max(1e-300));
            }
        }
        if moved < 1e-15 {
            break;
        }
    }
    z
}

/// Real roots (|Im| small relative to the modulus) of a real polynomial, polished by Newton
/// on the real line and sorted.
pub fn real_roots(c: &[f64], tol: f64) -> Vec<f64> {
    let mut out: Vec<f64> = roots(c)
        .into_iter()
        .filter(|z| z.im.abs() <= tol * z.norm().max(1.0))
        .map(|z| {
            let mut x = z.re;
            for _ in 0..20 {
                let (mut p, mut dp) = (0.0, 0.0);
                for k in (0..c.len()).rev() {
                    dp = dp * x + p;
                    p = p * x + c[k];
                }
                if dp == 0.0 || !(p / dp).is_finite() {
                    break;
                }
                let s = p / dp;
                // Newton diverges away from a double root; keep the Aberth value then.
                if s.abs() > 1e-3 * (1.0 + x.abs()) {
                    break;
                }
                x -= s;
                if s.abs() <= 4.0 * f64::EPSILON * x.abs().max(1e-300) {
                    break;
                }
            }
            x
        })
        .collect();
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

/// Gauss-Legendre nodes and weights on [-1, 1] (Newton on the Legendre recurrence).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut t = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, t);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * t * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            let p = if n == 0 { 1.0 } else { p1 };
            dp = n as f64 * (t * p - p0) / (t * t - 1.0);
            let step = p / dp;
            t -= step;
            if step.abs() < 1e-16 {
                break;
            }
        }
        x[i] = -t;
        x[n - 1 - i] = t;
        let wi = 2.0 / ((1.0 - t * t) * dp * dp);
        w[i] = wi;
        w[n - 1 - i] = wi;
    }
    (x, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aberth_finds_the_roots_of_a_quintic() {
        // (x - 1)(x + 2)(x - 3)(x^2 + 1) = x^5 - 2x^4 - 4x^3 + 4x^2 - 5x + 6
        let c = [6.0, -5.0, 4.0, -4.0, -2.0, 1.0];
        let r = real_roots(&c, 1e-8);
        assert_eq!(r.len(), 3);
        for (a, b) in r.iter().zip([-2.0, 1.0, 3.0]) {
            assert!((a - b).abs() < 1e-12, "{r:?}");
        }
    }

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        let (x, w) = gauss_legendre(7);
        let int: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(12)).sum();
        assert!((int - 2.0 / 13.0).abs() < 1e-14);
        assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-14);
    }

    #[test]
    fn tracking_selects_the_semicircle_branch() {
        // g^2 - z g + 1 = 0 (semicircle of variance 1): g = (z - sqrt(z^2 - 4))/2.
        let coef = |z: c64| {
            [
                c64::new(1.0, 0.0),
                -z,
                c64::new(1.0, 0.0),
                c64::new(0.0, 0.0),
                c64::new(0.0, 0.0),
            ]
        };
        for &(x, y) in &[
            (0.5, 0.0),
            (-1.9, 0.0),
            (3.0, 0.0),
            (-3.0, 0.0),
            (1.0, 0.5),
            (0.0, 1e-9),
        ] {
            let z = c64::new(x, y);
            let g = track_stieltjes(&coef, z, 2.0).unwrap();
            let want = if x.abs() < 2.0 && y == 0.0 {
                c64::new(x / 2.0, -(4.0 - x * x).sqrt() / 2.0)
            } else {
                let s = ((z - 2.0) * (z + 2.0)).sqrt();
                let s = if (s * z.conj()).re < 0.0 { -s } else { s };
                (z - s) / 2.0
            };
            assert!((g - want).norm() < 1e-9, "z = {z}: {g} vs {want}");
        }
    }
}
