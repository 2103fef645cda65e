"""Replica-symmetric theory of ERM in the contaminated regression model, with the replicon check.

Estimator: ``w = argmin sum_mu rho(y_mu - <w, x_mu>/sqrt(d)) + (lam/2)||w||^2`` (``lam`` of any
sign), or the same loss on the sphere ``||w||^2 = q d``. Vilucchio, Dandi, Pirio Rossignol,
Gerbelot & Krzakala, *Asymptotics of non-convex generalized linear models in high-dimensions:
a proof of the replica formula*, arXiv:2502.20003 (2025) prove that the replica-symmetric
formula below is exact whenever the replicon (RS stability) condition holds, convex or not. The
equations follow digest 06, Sec. 3 (re-derived from the model; tagged [DERIVED/CODE] there: the
paper's own equation numbers were not available -- check them against the PDF).

Order parameters ``m = <w, theta*>/d``, ``q = ||w||^2/d``, ``V`` (prox variance) and conjugates.
For a label component ``k`` (weight ``pi_k``, slope ``beta_k``, noise ``sigma_k^2``) the residual
``delta = y - omega`` of the student's field ``omega ~ N(0, q)`` is ``N(0, S_k)`` with
``S_k = sigma_k^2 + q + beta_k^2 rho - 2 beta_k m`` (``rho = ||theta*||^2/d``, 1 by default), and
with the channel integrals ``I_q, I_V, I_E2`` of the loss (:mod:`hdcore.ingredients.losses`)::

    q_hat = alpha sum_k pi_k I_q(V, S_k)
    V_hat = alpha sum_k pi_k I_V(V, S_k)
    m_hat = alpha sum_k pi_k beta_k I_V(V, S_k)

    ridge:  m = rho m_hat/(V_hat + lam),  q = (rho m_hat^2 + q_hat)/(V_hat + lam)^2,  V = 1/(V_hat + lam)
    sphere: V = sqrt(q/(q_hat + rho m_hat^2)),  m = rho m_hat V,  lam_eff = 1/V - V_hat

Replicon (de Almeida-Thouless) value ``alpha E1 E2`` with ``E1 = (lam + V_hat)^{-2} = V^2`` and
``E2 = sum_k pi_k I_E2(V, S_k)`` (= ``E[(rho''/(1 + V rho''))^2]``); the RS solution describes the
estimator when it is below 1 (digest 06, Sec. 3.3). Square loss: ``alpha V^2/(1 + V)^2``, which
reaches 1 exactly at ``lam = -(sqrt(alpha) - 1)^2`` (the bottom edge of the Marchenko-Pastur
spectrum, where the objective stops being bounded below).

A solution is **valid** when the iteration converged, ``V_hat + lam > 0``, the prox is
single-valued at ``V`` (Tukey ``V < 5/4``, Cauchy ``V < 8``) and the replicon is below 1 (for a
convex loss with ``lam >= 0`` the problem is convex and the replicon is at most 1; it equals 1 for
the absolute loss at ``lam = 0``, which is accepted).
Invalid solutions are returned flagged: their overlaps and errors are NaN (the last iterate is
kept in ``last_iterate`` for diagnosis), never silently reported as numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from hdcore._results import Result
from hdcore._validation import check_choice, check_instance, check_int, check_real
from hdcore.ingredients.losses import Loss, get_loss
from hdcore.models.regression import ContaminatedRegression
from hdcore.theory.fixed_point import OutOfDomain, solve

__all__ = ["ERMFixedPoint", "TuneResult", "erm_fixed_point", "tune", "ridge_closed_form"]

_OBJECTIVES = ("excess_error", "estimation_error", "generalisation_error")


@dataclass(frozen=True)
class ERMFixedPoint(Result):
    """A replica-symmetric fixed point (see the module docs).

    Attributes
    ----------
    m, q, V, m_hat, q_hat, V_hat : float
        Order parameters and conjugates (NaN when ``valid`` is False).
    estimation_error, generalisation_error, excess_error : float
        Errors as defined in :mod:`hdcore.models.regression` (NaN when not valid).
    replicon : float
        ``alpha E1 E2`` at the last iterate (diagnostic: it may explain the invalidity; NaN if it
        could not be computed).
    prox_single_valued : bool
        Whether the prox was single-valued at every iterate and at the solution.
    valid : bool
        Converged, ``V_hat + lam > 0``, single-valued prox and replicon < 1.
    converged : bool
        The fixed-point iteration reached its tolerance.
    reason : str
        Why the solution is not valid ("" when it is).
    lam : float
        The ridge (for the sphere: the Lagrange multiplier ``1/V - V_hat``; NaN if not valid).
    n_iter : int
        Iterations of the accepted start.
    start : str
        Which start gave this solution.
    last_iterate : dict
        Raw values of the last iterate (also when not valid).
    """

    m: float
    q: float
    V: float
    m_hat: float
    q_hat: float
    V_hat: float
    estimation_error: float
    generalisation_error: float
    excess_error: float
    replicon: float
    prox_single_valued: bool
    valid: bool
    converged: bool
    reason: str
    lam: float
    n_iter: int
    start: str
    last_iterate: dict = field(repr=False, default_factory=dict)

    @property
    def state(self) -> tuple[float, float, float]:
        """``(m, q, V)``, e.g. to warm-start a neighbouring fixed point."""
        return (self.m, self.q, self.V)


class _Problem:
    """The fixed-point map of one (model, loss, regulariser)."""

    def __init__(self, model: ContaminatedRegression, loss: Loss, lam: float | None, q: float | None,
                 rho: float, method: str):
        self.alpha = model.alpha
        comps = np.array(model.components)
        self.pi, self.b, self.s2 = comps[:, 0], comps[:, 1], comps[:, 2]
        self.loss, self.lam, self.qfix, self.rho, self.method = loss, lam, q, rho, method
        self.vmax = loss.max_prox_variance

    def hats(self, m: float, q: float, V: float):
        if not (V > 0 and math.isfinite(V)):
            raise OutOfDomain(f"V = {V} is not positive")
        if not V < self.vmax:
            raise OutOfDomain(f"the prox of the {self.loss.name} loss is multivalued at V = {V:.6g} "
                           f">= {self.vmax:.6g}")
        S = self.s2 + q + self.b**2 * self.rho - 2 * self.b * m
        S = np.maximum(S, 1e-300)
        iq, iv, ie2 = self.loss.channel_integrals(V, S, method=self.method)
        a = self.alpha
        return (a * float(np.dot(self.pi * self.b, iv)), a * float(np.dot(self.pi, iq)),
                a * float(np.dot(self.pi, iv)), float(np.dot(self.pi, ie2)))

    def prior(self, m_hat: float, q_hat: float, V_hat: float) -> tuple[float, float, float, float]:
        rho, lam, qfix = self.rho, self.lam, self.qfix
        if qfix is None:
            assert lam is not None  # erm_fixed_point gives exactly one of lam and q
            den = V_hat + lam
            if not den > 0:
                raise OutOfDomain(f"V_hat + lam = {den:.6g} <= 0: no minimum at lam = {lam} "
                               "(the objective is unbounded below along the softest directions)")
            return rho * m_hat / den, (rho * m_hat**2 + q_hat) / den**2, 1.0 / den, lam
        V = math.sqrt(qfix / (q_hat + rho * m_hat**2))
        return rho * m_hat * V, qfix, V, 1.0 / V - V_hat

    def step(self, x: np.ndarray) -> np.ndarray:
        m_hat, q_hat, V_hat, _ = self.hats(*x)
        return np.array(self.prior(m_hat, q_hat, V_hat)[:3])


def _solve(pb: _Problem, x0, damping: float, anderson: int, tol: float, max_iter: int):
    """The (m, q, V) fixed point by :func:`hdcore.theory.fixed_point.solve` (relative residual;
    ``q > 0`` and a bounded ``V`` delimit the domain); returns ``(x, converged, n_iter, reason)``."""
    res = solve(pb.step, np.array(x0, dtype=float), damping=damping, anderson=anderson, tol=tol,
                max_iter=max_iter, domain=_domain, scale=_relative, raise_on_failure=False)
    return res.x, res.converged, res.n_iter, res.reason


def _domain(x: np.ndarray) -> str | None:
    if not x[1] > 0:
        return "non-positive q"
    if x[2] > 1e8:
        return (f"V diverges (V = {x[2]:.3g}): no isolated minimiser, e.g. alpha <= 1 at lam = 0 "
                "(interpolation)")
    return None


def _relative(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(x), 1e-8)


def _starts(pb: _Problem, init) -> list[tuple[str, tuple[float, float, float]]]:
    rho = pb.rho
    vmax = pb.vmax
    lam = pb.lam if pb.lam is not None else 0.0
    v0 = 1.0 / max(pb.alpha + lam, 1e-3) if pb.alpha + lam > 0 else 1.0
    v0 = min(v0, 0.5 * vmax) if math.isfinite(vmax) else v0
    qf = pb.qfix
    informed = (0.9 * rho, qf if qf is not None else rho, v0)
    uninformed = (0.01 * rho, qf if qf is not None else 0.01 * rho, v0)
    if isinstance(init, str):
        init = check_choice(init, "init", ("auto", "informed", "uninformed"))
        if init == "informed":
            return [("informed", informed)]
        if init == "uninformed":
            return [("uninformed", uninformed)]
        return [("informed", informed), ("uninformed", uninformed)]
    vals = tuple(float(v) for v in init)
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise ValueError("`init` must be 'auto', 'informed', 'uninformed' or a finite (m, q, V), "
                         f"got {init!r}")
    return [("given", vals), ("informed", informed), ("uninformed", uninformed)]


def erm_fixed_point(model: ContaminatedRegression, loss, lam: float | None = None, *, q: float | None = None,
                    teacher_norm: float = 1.0, init="auto", damping: float = 0.3, anderson: int = 5,
                    tol: float = 1e-11, max_iter: int = 2000, method: str = "auto") -> ERMFixedPoint:
    """Replica-symmetric fixed point of ERM (module docs) with its validity flags.

    Parameters
    ----------
    model : ContaminatedRegression
        The data model (its dimension is irrelevant: this is the ``d -> infinity`` limit).
    loss : Loss or str
        E.g. ``"huber(1.0)"``, ``hdcore.ingredients.Tukey(2.0)``.
    lam : float, optional
        Ridge strength, any sign. Give exactly one of ``lam`` and ``q``.
    q : float, optional
        Spherical constraint ``||w||^2 = q d``.
    teacher_norm : float
        ``||theta*||^2/d`` (1 in the model; pass a sample's value for its conditional prediction).
    init : {"auto", "informed", "uninformed"} or (m, q, V)
        Starts tried in order until one gives a valid solution ("auto": informed then
        uninformed; a given triple is tried first, e.g. a neighbour's ``state`` in a sweep).
    damping : float in [0, 1)
        Mixing ``x + (1 - damping)(F(x) - x)`` of the Anderson iteration.
    anderson : int
        Anderson memory (0: plain damped iteration).
    tol : float
        Relative tolerance on ``|F(x) - x|``.
    method : {"auto", "quadrature"}
        Channel integrals: closed forms where available, or quadrature everywhere.

    Returns
    -------
    ERMFixedPoint
    """
    if not isinstance(model, ContaminatedRegression):
        raise TypeError(f"`model` must be a ContaminatedRegression, got {type(model).__name__}")
    loss = get_loss(loss)
    if (lam is None) == (q is None):
        raise ValueError("give exactly one of `lam` (ridge) and `q` (sphere ||w||^2 = q d)")
    lam = None if lam is None else check_real(lam, "lam")
    q = None if q is None else check_real(q, "q", min=0.0, min_inclusive=False)
    rho = check_real(teacher_norm, "teacher_norm", min=0.0, min_inclusive=False)
    damping = check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False)
    anderson = check_int(anderson, "anderson", min=0)
    tol = check_real(tol, "tol", min=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1)
    method = check_choice(method, "method", ("auto", "quadrature"))
    pb = _Problem(model, loss, lam, q, rho, method)
    failures = []
    first = None
    for name, x0 in _starts(pb, init):
        res = _finish(pb, model, *_solve(pb, x0, damping, anderson, tol, max_iter), start=name)
        if res.valid:
            return res
        failures.append(f"{name} start: {res.reason}")
        first = first or res
    reason = "; ".join(failures)
    return ERMFixedPoint(**{**first.__dict__, "reason": reason})


def _finish(pb: _Problem, model, x, converged, n_iter, reason, *, start: str) -> ERMFixedPoint:
    m, q, V = (float(v) for v in x)
    raw = {"m": m, "q": q, "V": V}
    nan = math.nan
    single = bool(0 < V < pb.vmax)
    replicon, hats, lam_eff = nan, (nan, nan, nan), nan
    try:
        m_hat, q_hat, V_hat, e2 = pb.hats(m, q, V)
        hats = (m_hat, q_hat, V_hat)
        replicon = pb.alpha * V * V * e2
        lam_eff = pb.prior(m_hat, q_hat, V_hat)[3]
        raw.update(m_hat=m_hat, q_hat=q_hat, V_hat=V_hat, replicon=replicon, lam=lam_eff)
    except OutOfDomain as e:
        reason = reason or str(e)
        single = single and "multivalued" not in str(e)
    if "multivalued" in reason:
        single = False
    problems = []
    if not converged:
        problems.append(reason or "not converged")
    elif reason:
        problems.append(reason)
    if converged and not single:
        problems.append(f"prox multivalued (V = {V:.6g} >= {pb.vmax:.6g})")
    # a convex problem (convex loss, lam >= 0) is replica-symmetric: its replicon is <= 1, and
    # equals 1 for the absolute loss at lam = 0 (interpolated residuals); flag only numerical excess
    convex = pb.loss.convex and pb.qfix is None and pb.lam is not None and pb.lam >= 0
    if converged and not (replicon < 1 or (convex and replicon <= 1 + 1e-8)):
        problems.append(f"replicon = {replicon:.6g} >= 1: the RS solution is unstable")
    valid = not problems
    if not valid:
        return ERMFixedPoint(m=nan, q=nan, V=nan, m_hat=nan, q_hat=nan, V_hat=nan, estimation_error=nan,
                             generalisation_error=nan, excess_error=nan, replicon=replicon,
                             prox_single_valued=single, valid=False, converged=converged,
                             reason="; ".join(dict.fromkeys(problems)), lam=nan, n_iter=n_iter, start=start,
                             last_iterate=raw)
    err = model.errors(m, q, pb.rho)
    return ERMFixedPoint(m=m, q=q, V=V, m_hat=hats[0], q_hat=hats[1], V_hat=hats[2],
                         estimation_error=err.estimation_error,
                         generalisation_error=err.generalisation_error, excess_error=err.excess_error,
                         replicon=replicon, prox_single_valued=True, valid=True, converged=True, reason="",
                         lam=lam_eff, n_iter=n_iter, start=start, last_iterate=raw)


def ridge_closed_form(model: ContaminatedRegression, lam: float, teacher_norm: float = 1.0) -> dict:
    """Square loss + ridge in closed form (independent of the fixed-point solver).

    ``V`` is the Stieltjes transform of the Marchenko-Pastur law at ``-lam``, the root of
    ``lam V^2 + (lam + alpha - 1) V - 1 = 0`` on the branch continuous from ``lam -> +infinity``;
    with ``bbar = sum pi_k beta_k``, ``kappa = alpha V^2/(1 + V)^2`` (the replicon) and
    ``Delta = sum pi_k (sigma_k^2 + beta_k^2 rho)``::

        m = rho bbar alpha V/(1 + V) = rho bbar (1 - lam V)
        q = m^2/rho + kappa (Delta + q - 2 bbar m)

    i.e. ``q = (m^2/rho + kappa (Delta - 2 bbar m))/(1 - kappa)`` (derived from the hat equations
    with ``I_q = S/(1+V)^2``, ``I_V = 1/(1+V)``; at ``lam = 0`` it gives the least-squares error
    ``Delta_eff/(alpha - 1)``). Valid for ``kappa < 1``
    (``lam > -(sqrt(alpha) - 1)^2`` when ``alpha > 1``). Returns ``m, q, V, replicon``.

    Parameters
    ----------
    model : ContaminatedRegression
        The model (``alpha`` and the mixture ``components`` matter).
    lam : float
        Ridge penalty (any sign; ``0``: least squares, finite for ``alpha > 1``).
    teacher_norm : float
        ``rho = ||theta*||^2/d``.

    Returns
    -------
    dict
        ``m``, ``q``, ``V`` and ``replicon`` (``kappa``); all NaN where the branch does not
        exist (complex root, ``V <= 0`` or infinite).

    Raises
    ------
    TypeError
        ``model`` is not a ``ContaminatedRegression``.

    Examples
    --------
    >>> from hdcore.models import ContaminatedRegression
    >>> model = ContaminatedRegression(d=100, alpha=2.0, eps=0.0, delta_in=0.0, delta_out=1.0)
    >>> ridge_closed_form(model, 0.0)  # least squares: V = 1/(alpha - 1)
    {'m': 1.0, 'q': 1.0, 'V': 1.0, 'replicon': 0.5}

    References
    ----------
    Vilucchio, Dandi, Pirio Rossignol, Gerbelot & Krzakala, "Asymptotics of non-convex
    generalized linear models in high-dimensions: a proof of the replica formula",
    arXiv:2502.20003 (2025).
    """
    check_instance(model, "model", ContaminatedRegression)
    a, rho = model.alpha, teacher_norm
    comps = np.array(model.components)
    pi, b, s2 = comps[:, 0], comps[:, 1], comps[:, 2]
    bbar = float(np.dot(pi, b))
    delta = float(np.dot(pi, s2 + b * b * rho))
    if lam == 0:
        V = 1.0 / (a - 1) if a > 1 else math.inf
    else:
        B = lam + a - 1
        disc = B * B + 4 * lam
        if disc < 0:
            return {"m": math.nan, "q": math.nan, "V": math.nan, "replicon": math.nan}
        V = (-B + math.sqrt(disc)) / (2 * lam)
    if not (V > 0 and math.isfinite(V)):
        return {"m": math.nan, "q": math.nan, "V": math.nan, "replicon": math.nan}
    kappa = a * V * V / (1 + V) ** 2
    m = rho * bbar * a * V / (1 + V)
    q = (m * m / rho + kappa * (delta - 2 * bbar * m)) / (1 - kappa)
    return {"m": m, "q": q, "V": V, "replicon": kappa}


# ---- tuning ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TuneResult(Result):
    """Optimal regularisation and loss parameter (:func:`tune`).

    Attributes
    ----------
    lam : float
        Optimal ridge (may be negative).
    param : float or None
        Optimal loss parameter (``None`` for losses without one, or when held fixed).
    value : float
        The minimised error.
    objective : str
        Which error was minimised.
    fixed_point : ERMFixedPoint
        The (valid) fixed point at the optimum.
    n_evaluations : int
        Fixed points solved.
    success : bool
        A valid optimum was found.
    """

    lam: float
    param: float | None
    value: float
    objective: str
    fixed_point: ERMFixedPoint = field(repr=False)
    n_evaluations: int
    success: bool


def tune(model: ContaminatedRegression, loss, *, objective: str = "excess_error", init=None,
         tune_param: bool = True, lam_grid=None, xatol: float = 1e-4, fatol: float = 1e-10,
         max_evaluations: int = 400) -> TuneResult:
    """Optimal ``(lam, loss parameter)`` minimising an error of the RS fixed point, searching
    negative ``lam`` too, subject to validity (converged, ``V_hat + lam > 0``, single-valued prox,
    replicon < 1): invalid points count as infinitely bad.

    Nelder-Mead on ``(lam, log param)`` from ``init`` (e.g. the optimum at a neighbouring
    ``alpha``) or from the best point of a coarse grid; every fixed point is warm-started from the
    last valid one.

    Parameters
    ----------
    model : ContaminatedRegression
    loss : Loss or str
        Its parameter is the starting value (and the fixed value if ``tune_param`` is False).
    objective : {"excess_error", "estimation_error", "generalisation_error"}
    init : (lam, param) or (lam,), optional
        Starting point.
    tune_param : bool
        Optimise the loss parameter too (ignored for losses without one).
    lam_grid : sequence of float, optional
        Coarse grid of ``lam`` for the start (default: -0.5 ... 5).
    xatol, fatol : float
        Nelder-Mead tolerances (in ``lam`` and ``log param``, and in the objective).

    Returns
    -------
    TuneResult
    """
    loss = get_loss(loss)
    objective = check_choice(objective, "objective", _OBJECTIVES)
    has_param = loss.param_name is not None and tune_param
    max_evaluations = check_int(max_evaluations, "max_evaluations", min=1)
    warm: str | tuple[float, float, float] = "auto"
    n_evaluations = 0
    best_value = math.inf
    best_fp: ERMFixedPoint | None = None
    best_at: tuple[float, float | None] = (math.nan, None)

    def evaluate(lam: float, param: float | None) -> float:
        nonlocal warm, n_evaluations, best_value, best_fp, best_at
        n_evaluations += 1
        ls = loss.with_param(param) if has_param and param is not None else loss
        fp = erm_fixed_point(model, ls, lam=lam, init=warm)
        if not fp.valid:
            return math.inf
        warm = fp.state
        val = float(getattr(fp, objective))
        if val < best_value:
            best_value, best_fp, best_at = val, fp, (lam, param)
        return val

    def f(z: np.ndarray) -> float:
        lam = float(z[0])
        param = float(math.exp(z[1])) if has_param else None
        return evaluate(lam, param)

    p0: float = float(loss.param) if has_param else math.nan
    start: list[float] | None = None
    if init is not None:
        given = [float(v) for v in np.atleast_1d(init)]
        start = [given[0]] + ([math.log(given[1] if len(given) > 1 else p0)] if has_param else [])
        if not math.isfinite(f(np.array(start))):
            start = None
    if start is None:
        grid = np.array([-0.5, -0.2, -0.05, 0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 5.0] if lam_grid is None
                        else lam_grid, dtype=float)
        pgrid: list[float | None] = ([float(v) for v in p0 * np.array([0.3, 1.0, 3.0])]
                                     if has_param else [None])
        best_grid_value = math.inf
        for lam in grid:
            for p in pgrid:
                v = evaluate(float(lam), p)
                if v < best_grid_value:
                    best_grid_value = v
                    start = [float(lam)] + ([math.log(p)] if p is not None else [])
        if start is None:
            fp = erm_fixed_point(model, loss, lam=float(grid[-1]))
            return TuneResult(lam=math.nan, param=None, value=math.nan, objective=objective,
                              fixed_point=fp, n_evaluations=n_evaluations, success=False)
    z0 = np.array(start, dtype=float)
    simplex = [z0]
    for i in range(z0.size):
        z = z0.copy()
        z[i] += 0.1 * max(abs(z0[i]), 1.0) if i == 0 else 0.3
        simplex.append(z)
    minimize(f, z0, method="Nelder-Mead",
             options={"initial_simplex": np.array(simplex), "xatol": xatol, "fatol": fatol,
                      "maxfev": max_evaluations})
    assert best_fp is not None  # the start above evaluated to a finite value
    lam, param = best_at
    return TuneResult(lam=lam, param=param, value=best_value, objective=objective,
                      fixed_point=best_fp, n_evaluations=n_evaluations, success=True)
