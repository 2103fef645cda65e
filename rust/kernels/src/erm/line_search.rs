//! Strong-Wolfe line search (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithms 3.5
//! and 3.6, cubic interpolation Eq. (3.59)). The sufficient-decrease test tolerates rounding in
//! the objective (a sum of n terms): near the optimum the decrease drops below the precision of
//! `f`, and the curvature condition on the accurately computed slope takes over (the
//! "approximate Wolfe" idea of Hager & Zhang 2005).

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_STEPS: usize = 60;

/// A trial point `(t, phi(t), phi'(t))`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub t: f64,
    pub f: f64,
    pub df: f64,
}

/// Outcome of the search.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Search {
    /// An acceptable step.
    Step(Point),
    /// `phi` still decreased at the largest allowed step.
    Unbounded,
    /// No acceptable step found (the direction is not usefully descending at this precision).
    Failed,
}

/// What to do when the step reaches `t_max` while `phi` still decreases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AtMax {
    /// Report [`Search::Unbounded`].
    Unbounded,
    /// Accept `t_max`.
    Accept,
}

/// Search a step along a direction with `phi(0) = f0`, `phi'(0) = df0 < 0`.
pub(crate) fn strong_wolfe<F: FnMut(f64) -> (f64, f64)>(
    mut phi: F,
    f0: f64,
    df0: f64,
    t_init: f64,
    t_max: f64,
    at_max: AtMax,
) -> Search {
    let slack = 1e-12 * f0.abs().max(1.0);
    let armijo = |t: f64, f: f64| f <= f0 + C1 * t * df0 + slack;
    let curvature = |df: f64| df.abs() <= -C2 * df0;
    let mut lo = Point {
        t: 0.0,
        f: f0,
        df: df0,
    };
    let mut t = t_init.min(t_max);
    for i in 0..MAX_STEPS {
        let (f, df) = phi(t);
        if !(f.is_finite() && df.is_finite()) {
            // overflow far out: come back towards the last good point
            t = lo.t + 0.5 * (t - lo.t);
            if t - lo.t <= 1e-16 * t.max(1e-300) {
                return Search::Failed;
            }
            continue;
        }
        let cur = Point { t, f, df };
        if !armijo(t, f) || (i > 0 && f >= lo.f) {
            return zoom(&mut phi, f0, df0, slack, lo, cur);
        }
        if curvature(df) {
            return Search::Step(cur);
        }
        if df >= 0.0 {
            return zoom(&mut phi, f0, df0, slack, cur, lo);
        }
        if t >= t_max {
            return match at_max {
                AtMax::Unbounded => Search::Unbounded,
                AtMax::Accept => Search::Step(cur),
            };
        }
        lo = cur;
        t = (4.0 * t).min(t_max);
    }
    Search::Failed
}

/// Minimiser of the cubic interpolating `(a.f, a.df)` and `(b.f, b.df)`, if it exists.
fn cubic(a: Point, b: Point) -> Option<f64> {
    let d1 = a.df + b.df - 3.0 * (a.f - b.f) / (a.t - b.t);
    let disc = d1 * d1 - a.df * b.df;
    if disc.is_nan() || disc < 0.0 {
        return None;
    }
    let d2 = (b.t - a.t).signum() * disc.sqrt();
    let t = b.t - (b.t - a.t) * (b.df + d2 - d1) / (b.df - a.df + 2.0 * d2);
    t.is_finite().then_some(t)
}

/// Algorithm 3.6: `lo` satisfies sufficient decrease and has the lowest value so far; the
/// interval between `lo` and `hi` contains acceptable steps.
fn zoom<F: FnMut(f64) -> (f64, f64)>(
    phi: &mut F,
    f0: f64,
    df0: f64,
    slack: f64,
    mut lo: Point,
    mut hi: Point,
) -> Search {
    for _ in 0..MAX_STEPS {
        let (a, b) = if lo.t < hi.t {
            (lo.t, hi.t)
        } else {
            (hi.t, lo.t)
        };
        let width = b - a;
        if width <= 1e-15 * b.abs().max(1e-300) {
            break;
        }
        let guard = 0.1 * width;
        let t = match cubic(lo, hi) {
            Some(t) if t > a + guard && t < b - guard => t,
            _ => 0.5 * (a + b),
        };
        let (f, df) = phi(t);
        if !(f.is_finite() && df.is_finite()) {
            hi = Point {
                t,
                f: f64::INFINITY,
                df: f64::INFINITY,
            };
            continue;
        }
        let cur = Point { t, f, df };
        if f > f0 + C1 * t * df0 + slack || f >= lo.f {
            hi = cur;
        } else {
            if df.abs() <= -C2 * df0 {
                return Search::Step(cur);
            }
            if df * (hi.t - lo.t) >= 0.0 {
                hi = lo;
            }
            lo = cur;
        }
    }
    // interval exhausted: accept the best point if it made progress
    if lo.t > 0.0 && lo.f <= f0 {
        Search::Step(lo)
    } else {
        Search::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_wolfe_step_on_a_quadratic_and_a_quartic() {
        // phi(t) = (t - 3)^2: any step with |phi'| <= 0.9 |phi'(0)| and decrease
        let r = strong_wolfe(
            |t| ((t - 3.0).powi(2), 2.0 * (t - 3.0)),
            9.0,
            -6.0,
            1.0,
            1e9,
            AtMax::Unbounded,
        );
        match r {
            Search::Step(p) => assert!(p.df.abs() <= 0.9 * 6.0 && p.f < 9.0),
            other => panic!("{other:?}"),
        }
        let r = strong_wolfe(
            |t| ((t - 0.01).powi(4), 4.0 * (t - 0.01).powi(3)),
            1e-8,
            -4e-6,
            1.0,
            1e9,
            AtMax::Unbounded,
        );
        assert!(matches!(r, Search::Step(p) if p.t > 0.0 && p.t < 0.02));
    }

    #[test]
    fn reports_unbounded_and_failed_directions() {
        let r = strong_wolfe(
            |t| (-t * t - t, -2.0 * t - 1.0),
            0.0,
            -1.0,
            1.0,
            100.0,
            AtMax::Unbounded,
        );
        assert!(matches!(r, Search::Unbounded));
        let r = strong_wolfe(|t| (-t, -1.0), 0.0, -1.0, 1.0, 100.0, AtMax::Accept);
        assert!(matches!(r, Search::Step(p) if p.t == 100.0));
        // an ascent "direction" (wrong sign of the slope): nothing acceptable
        let r = strong_wolfe(|t| (t, 1.0), 0.0, -1.0, 1.0, 100.0, AtMax::Unbounded);
        assert!(matches!(r, Search::Failed));
    }
}
