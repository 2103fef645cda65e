"""Derivation of the polynomial equations used by `laws.rs` (run with sympy; prints Rust code).

Not part of the build: kept next to the code it generates so that every coefficient can be
re-derived. Conventions: g(w) = int nu(t) / (w - t) dt (so g ~ 1/w at infinity).

1. MP (+) semicircle. S = (1/m) sum_k w_k w_k^T (d x d, kappa = m/d) has
   z g^2 - (kappa z - kappa + 1) g + kappa = 0.  Adding sqrt(Delta) GOE (semicircle of variance
   Delta) is the subordination g_Y(z) = g_S(z - Delta g_Y(z)), which gives the cubic
   Delta g^3 - (z + kappa Delta) g^2 + (kappa z - kappa + 1) g - kappa = 0.
2. Rectangular product + noise. Y = (V U / sqrt(r) + sqrt(Delta) Z) / (N M)^(1/4), V: N x r,
   U: r x M, Z: N x M i.i.d. N(0, 1), N <= M, s = sqrt(M/N), R2 = r/N. B = Y Y^T (N x N).
   * H = law of (N M)^(-1/2) A A^T, A = V U / sqrt(r): the S-transform of the r x r product
     (U U^T / M)(V^T V / N) is 1 / ((1 + (r/M) u)(1 + (r/N) u)); adding N - r zeros and scaling
     gives S_H(u) = (R2 / s) / ((R2 + u)(1 + u / s^2)), i.e. with u = w g_H(w) - 1:
     w u R2 = s (1 + u)(R2 + u)(1 + u / s^2).
   * Information plus noise (Dozier & Silverstein 2007, Thm 1.1) with c = N/M = 1/s^2 and
     sigma^2 = s Delta:  m_B = -a g_H(a^2 w - a sigma^2 (1 - c)),  a = 1 + sigma^2 c m_B,
     m_B = -g_B.  Eliminating g_H leaves a quintic in g_B = one spurious linear factor (a = 0)
     times the quartic below (checked against sampled spectra).
3. Edges: real zeros of the discriminant in g (a quartic in w for 1., a quintic in w for 2.
   after removing the factor w^4); spurious real zeros are discarded by testing the density.
"""
import sympy as sp

g, w, k, D, R2 = sp.symbols("g w kappa delta rank")
s = sp.symbols("s", positive=True)

cubic = D * g**3 - (w + k * D) * g**2 + (k * w - k + 1) * g - k

m = -g
c = 1 / s**2
sig2 = s * D
a = 1 + sig2 * c * m
W = a**2 * w - a * sig2 * (1 - c)
gH = -m / a
u = W * gH - 1
num = sp.numer(sp.together(W * u * R2 - s * (1 + u) * (R2 + u) * (1 + u / s**2)))
quartic = [f for f, _ in sp.factor_list(num)[1] if sp.degree(f, g) == 4][0]
if sp.Poly(quartic, g).LC().subs({w: 1, D: 1}) < 0:
    quartic = -quartic


def rust_coeffs(expr, var, name, params):
    """Rust expressions of the coefficients of `expr` in `var` (ascending), as sums of
    monomials in `params` with float literals (written out term by term)."""
    p = sp.Poly(sp.expand(expr), var)
    out = []
    for i, cf in enumerate(reversed(p.all_coeffs())):
        terms = []
        for powers, c in sp.Poly(cf, *params).terms():
            factors = [f"{float(c)!r}"]
            for sym, e in zip(params, powers):
                if e == 1:
                    factors.append(str(sym))
                elif e > 1:
                    factors.append(f"{sym}.powi({e})")
            terms.append(" * ".join(factors))
        out.append(f"        // {name}: coefficient of {var}^{i}\n        " + "\n            + ".join(terms) + ",")
    return "\n".join(out)


if __name__ == "__main__":
    print("// cubic in g (MP + semicircle), ascending powers")
    print(rust_coeffs(cubic, g, "cubic", (k, D, w)))
    print("// quartic in g (rectangular), ascending powers")
    print(rust_coeffs(quartic, g, "quartic", (D, R2, s, w)))
    dc = sp.factor_list(sp.discriminant(cubic, g))[1]
    dc = [f for f, _ in dc if sp.degree(f, w) == 4][0]
    print("// edge quartic in w (MP + semicircle)")
    print(rust_coeffs(dc, w, "edge", (k, D)))
    dq = sp.factor_list(sp.discriminant(quartic, g))[1]
    dq = [f for f, _ in dq if sp.degree(f, w) == 5][0]
    print("// edge quintic in w = x^2 (rectangular)")
    print(rust_coeffs(dq, w, "edge", (D, R2, s)))
