"""One fixed-point engine for every theory solver: state evolutions, replica saddle points.

``solve(F, x0)`` iterates ``x <- x + (1 - damping)(F(x) - x)``, optionally accelerated by Anderson
mixing (type II, Walker & Ni, *Anderson acceleration for fixed-point iterations*, SIAM J. Numer.
Anal. 49, 1715 (2011), Eq. (2.2)), on any map of a float, an array or a *pytree* (dict / tuple /
list nesting of floats and arrays; square matrix leaves that are symmetric at the start stay
exactly symmetric). With ``anderson=0`` the iterates are those of the plain damped iteration, so a
state evolution solved here is, iterate by iterate, the prediction of the algorithm run with the
same damping.

Domain: a step whose candidate leaves the domain of the map (``domain(x)`` returns a reason, or
``F`` raises :class:`OutOfDomain`, or a value is not finite) is backed off -- the Anderson step is
dropped for the damped one, then halved up to ``max_backoff`` times -- and a solver pushed against
the edge for ``patience`` consecutive iterations stops with that reason. It never returns NaN as a
solution.

``branches(F, starts)`` runs every named start and groups the limits (two groups = coexisting
fixed points: a hard phase, hysteresis); ``continuation(F, grid, x0)`` follows a fixed point along a
one-parameter grid with warm starts, forwards, backwards or both.

Anderson mixing finds fixed points fast but, like Newton's method, it can converge to an
*unstable* fixed point (e.g. ``m = 0`` above a weak-recovery threshold). Use ``anderson=0``
(plain damped iteration, which only converges to attractors) where the attractor reached from a
start is the quantity of interest, as in state evolution.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hdcore._progress import check_progress, progress_bar
from hdcore._validation import check_choice, check_int, check_real
from hdcore.errors import ConvergenceError

__all__ = ["OutOfDomain", "FixedPointResult", "Branches", "Continuation", "solve", "branches",
           "continuation", "transition", "solve_many", "BatchResult"]


class OutOfDomain(Exception):
    """Raised by a map that cannot be evaluated at an iterate (the message says why); the engine
    backs the step off instead of failing."""


@dataclass(frozen=True, repr=False)
class FixedPointResult:
    """The outcome of :func:`solve`.

    Attributes
    ----------
    x : float, ndarray or pytree
        The last accepted iterate (the fixed point when ``converged``), shaped like ``x0``.
    converged : bool
        ``max |F(x) - x| / scale < tol`` at ``x``.
    n_iter : int
        Steps taken (0: the start was already a fixed point).
    n_eval : int
        Evaluations of the map (steps, back-offs, stability checks, discarded Anderson runs).
    residual : float
        ``max |F(x) - x| / scale`` at ``x`` (``inf`` if ``F`` could not be evaluated there).
    reason : str
        Why the solver stopped without converging (``""`` when converged).
    trace : tuple or None
        The iterates ``x_0 .. x_n`` when ``trace=True``.
    aux : Any
        With ``has_aux=True``: the auxiliary output of ``F`` at ``x``.
    aux_trace : tuple or None
        With ``has_aux=True`` and ``trace=True``: the auxiliary outputs at ``x_0 .. x_n``.
    """

    x: Any
    converged: bool
    n_iter: int
    residual: float
    reason: str
    n_eval: int = 0
    trace: tuple | None = None
    aux: Any = None
    aux_trace: tuple | None = None

    def __repr__(self) -> str:
        x = self.x if np.ndim(self.x) == 0 and not isinstance(self.x, (dict, tuple, list)) else "..."
        return (f"FixedPointResult(x={x}, converged={self.converged}, n_iter={self.n_iter}, "
                f"residual={self.residual:.3g}, reason={self.reason!r})")


# ---- pytrees ---------------------------------------------------------------------------------

class _Tree:
    """Flattens a pytree like ``x0`` to a float vector and back; ``sym`` is the permutation that
    transposes the symmetric matrix leaves (the identity elsewhere)."""

    def __init__(self, x0):
        self.leaves: list[tuple[int, ...]] = []
        perm: list[np.ndarray] = []
        self.spec = self._spec(x0, perm)
        self.size = sum(int(np.prod(s)) for s in self.leaves)
        self.perm = np.concatenate(perm) if perm else np.zeros(0, dtype=np.intp)
        self.has_sym = bool(np.any(self.perm != np.arange(self.size)))
        kind, meta, _ = self.spec
        self.single = kind in ("scalar", "array")
        self.n_of = {shape: int(np.prod(shape)) for shape in self.leaves}

    def finite(self, v) -> bool:
        return bool(np.isfinite(v).all())

    def resid(self, g, s) -> float:
        return float(np.max(np.abs(g) / s)) if g.size else 0.0

    def _spec(self, x, perm):
        if isinstance(x, Mapping):
            return ("dict", tuple(x.keys()), tuple(self._spec(v, perm) for v in x.values()))
        if isinstance(x, (tuple, list)):
            return (type(x).__name__, None, tuple(self._spec(v, perm) for v in x))
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.number, np.ndarray)):
            raise TypeError(f"`x0`: fixed-point iterates must be floats, arrays or dicts/tuples/lists of them, "
                            f"got {type(x).__name__}")
        a = np.asarray(x, dtype=np.float64)
        offset = sum(int(np.prod(s)) for s in self.leaves)
        idx = np.arange(a.size).reshape(a.shape)
        sym = (a.ndim >= 2 and a.shape[-1] == a.shape[-2]
               and np.allclose(a, np.swapaxes(a, -1, -2), rtol=0, atol=1e-12 * max(np.abs(a).max(), 1.0)))
        perm.append(offset + (np.swapaxes(idx, -1, -2) if sym else idx).ravel())
        self.leaves.append(a.shape)
        return ("scalar" if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else "array", a.shape, None)

    def flatten(self, x, what: str = "F(x)") -> np.ndarray:
        if self.single:
            a = np.asarray(x, dtype=np.float64)
            if a.shape != self.spec[1]:
                raise TypeError(f"{what} has shape {a.shape} where x0 has {self.spec[1]}")
            return a.ravel()
        out: list[np.ndarray] = []
        self._flat(x, self.spec, out, what)
        return np.concatenate(out) if out else np.zeros(0)

    def _flat(self, x, spec, out, what):
        kind, meta, children = spec
        if kind == "dict":
            if not isinstance(x, Mapping) or tuple(x.keys()) != meta:
                raise TypeError(f"{what} must be a dict with keys {meta}, like x0")
            for v, s in zip(x.values(), children):
                self._flat(v, s, out, what)
        elif kind in ("tuple", "list"):
            if not isinstance(x, (tuple, list)) or len(x) != len(children):
                raise TypeError(f"{what} must be a {kind} of length {len(children)}, like x0")
            for v, s in zip(x, children):
                self._flat(v, s, out, what)
        else:
            a = np.asarray(x, dtype=np.float64)
            if a.shape != meta:
                raise TypeError(f"{what} has a leaf of shape {a.shape} where x0 has {meta}")
            out.append(a.ravel())

    def unflatten(self, v: np.ndarray):
        if self.single:
            return float(v[0]) if self.spec[0] == "scalar" else v.reshape(self.spec[1]).copy()
        return self._unflat(v, self.spec, [0])

    def _unflat(self, v, spec, pos):
        kind, meta, children = spec
        if kind == "dict":
            return {k: self._unflat(v, s, pos) for k, s in zip(meta, children)}
        if kind in ("tuple", "list"):
            vals = [self._unflat(v, s, pos) for s in children]
            return tuple(vals) if kind == "tuple" else vals
        n = self.n_of[meta]
        a = v[pos[0]:pos[0] + n]
        pos[0] += n
        return float(a[0]) if kind == "scalar" else a.reshape(meta).copy()

    def symmetrise(self, v: np.ndarray) -> np.ndarray:
        return 0.5 * (v + v[self.perm]) if self.has_sym else v


class _Scalar:
    """A float iterate kept as a Python float (the plain iteration of a scalar map: no array
    overhead per step)."""

    has_sym = False
    single = True

    def flatten(self, x, what: str = "F(x)") -> float:
        if type(x) is float:
            return x
        if np.ndim(x) != 0 or isinstance(x, (dict, tuple, list)):
            raise TypeError(f"{what} has shape {np.shape(x)} where x0 is a float")
        return float(x)

    def unflatten(self, v: float) -> float:
        return v

    def symmetrise(self, v: float) -> float:
        return v

    def finite(self, v: float) -> bool:
        return math.isfinite(v)

    def resid(self, g: float, s) -> float:
        return abs(g) / s


# ---- solve -----------------------------------------------------------------------------------

class _Outside(Exception):
    pass


#: iterations without a new smallest residual after which Anderson mixing counts as stagnating
_STAGNATION = 50


def _scale_vector(tree, scale, x) -> np.ndarray | float:
    if scale is None:
        return 1.0
    s = scale(x) if callable(scale) else scale
    if np.ndim(s) == 0 and not isinstance(s, (dict, tuple, list)):
        return float(s)
    return tree.flatten(s, "scale")


def solve(F: Callable, x0, *, damping: float = 0.0, anderson: int = 0, tol: float = 1e-10,
          max_iter: int = 1000, domain: Callable | None = None, scale=None,
          raise_on_failure: bool = True, trace: bool = False, has_aux: bool = False,
          max_backoff: int = 40, patience: int = 25, stable: bool = False) -> FixedPointResult:
    """Fixed point of ``x = F(x)`` by damped, optionally Anderson-accelerated iteration.

    Parameters
    ----------
    F : callable
        The map; takes and returns a pytree shaped like ``x0`` (with ``has_aux``: returns
        ``(F(x), aux)``). It may raise :class:`OutOfDomain` where it cannot be evaluated.
    x0 : float, ndarray, or dict / tuple / list of them
        The start.
    damping : float in [0, 1)
        ``x <- x + (1 - damping)(F(x) - x)``.
    anderson : int
        Anderson memory (0: plain damped iteration, whose iterates are the algorithm's).
    tol : float
        Stop when ``max |F(x) - x| / scale < tol``.
    max_iter : int
        Largest number of steps.
    domain : callable, optional
        ``domain(x) -> str | None``: a reason when ``x`` is outside the domain of ``F``.
    scale : float, pytree, or callable, optional
        Residual scale (``None``: absolute residual); a callable receives ``x`` (e.g.
        ``lambda x: np.maximum(np.abs(x), 1e-8)`` for a relative residual).
    raise_on_failure : bool
        Raise :class:`hdcore.ConvergenceError` when not converged (else report it in the result).
    trace : bool
        Keep every iterate (and auxiliary output) in the result.
    has_aux : bool
        ``F`` returns ``(F(x), aux)``; the result keeps ``aux`` at the returned ``x``.
    max_backoff : int
        Halvings of a step that leaves the domain before giving up.
    patience : int
        Consecutive backed-off iterations after which the solver stops.
    stable : bool
        With Anderson mixing: check that the fixed point found attracts the damped iteration
        (spectral radius of its Jacobian below 1, by power iteration on finite-difference
        Jacobian-vector products) and, if it repels or Anderson mixing stagnates, solve again from
        ``x0`` without Anderson mixing, which converges only to attractors (stagnation: no new
        smallest residual in 50 iterations). Use it where the attractor is the answer (state
        evolution) and Anderson is wanted for speed.

    Returns
    -------
    FixedPointResult

    Raises
    ------
    hdcore.ConvergenceError
        When not converged and ``raise_on_failure``; it carries ``residual``, ``reason`` and
        ``result`` attributes.
    TypeError
        When ``F`` returns something not shaped like ``x0``.

    Examples
    --------
    >>> from hdcore.theory.fixed_point import solve
    >>> round(solve(np.cos, 1.0, anderson=3).x, 10)
    0.7390851332

    References
    ----------
    H. F. Walker & P. Ni, SIAM J. Numer. Anal. 49, 1715 (2011), Eq. (2.2) (Anderson type II).
    """
    damping = check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False)
    anderson = check_int(anderson, "anderson", min=0)
    tol = check_real(tol, "tol", min=0.0)
    max_iter = check_int(max_iter, "max_iter", min=0)
    max_backoff = check_int(max_backoff, "max_backoff", min=0)
    patience = check_int(patience, "patience", min=1)
    if not callable(F):
        raise TypeError(f"`F` must be callable, got {type(F).__name__}")
    if domain is not None and not callable(domain):
        raise TypeError(f"`domain` must be callable or None, got {type(domain).__name__}")
    tree: Any  # _Tree or _Scalar: the same duck-typed interface
    scalar_start = isinstance(x0, (int, float, np.number)) and not isinstance(x0, (bool, np.bool_))
    tree = _Scalar() if scalar_start and anderson == 0 else _Tree(x0)
    v = tree.symmetrise(tree.flatten(x0, "x0"))
    if not tree.finite(v):
        raise ValueError("`x0` must be finite")

    n_eval = [0]

    def evaluate(v):
        n_eval[0] += 1
        if not tree.finite(v):
            raise _Outside("the iterate is not finite")
        x = tree.unflatten(v)
        if domain is not None:
            why = domain(x)
            if why:
                raise _Outside(why)
        try:
            out = F(x)
        except OutOfDomain as e:
            raise _Outside(str(e) or "outside the domain of the map") from None
        fx, aux = out if has_aux else (out, None)
        g = tree.symmetrise(tree.flatten(fx)) - v
        if not tree.finite(g):
            raise _Outside("the map returned non-finite values")
        return x, g, aux

    xs: list = []
    auxs: list = []

    def finish(x, converged, n_iter, residual, reason, aux):
        res = FixedPointResult(x=x, converged=converged, n_iter=n_iter, residual=float(residual),
                               reason=reason, n_eval=n_eval[0], trace=tuple(xs) if trace else None, aux=aux,
                               aux_trace=tuple(auxs) if trace and has_aux else None)
        if not converged and raise_on_failure:
            err = ConvergenceError(f"fixed point not found: {reason} (residual {residual:.3g} after "
                                   f"{n_iter} iterations)")
            err.residual, err.reason, err.result = float(residual), reason, res
            raise err
        return res

    try:
        x, g, aux = evaluate(v)
    except _Outside as e:
        xs.append(tree.unflatten(v))
        return finish(tree.unflatten(v), False, 0, math.inf, f"the start is outside the domain: {e}", None)
    def plain():
        try:
            res = solve(F, x0, anderson=0, damping=damping, tol=tol, max_iter=max_iter, domain=domain,
                        scale=scale, raise_on_failure=raise_on_failure, trace=trace, has_aux=has_aux,
                        max_backoff=max_backoff, patience=patience)
        except ConvergenceError as err:
            err.result = replace(err.result, n_eval=err.result.n_eval + n_eval[0])
            raise
        return replace(res, n_eval=res.n_eval + n_eval[0])

    mix = 1.0 - damping
    dvs: deque = deque(maxlen=max(anderson, 1))
    dgs: deque = deque(maxlen=max(anderson, 1))
    stuck = 0
    best, it_best = math.inf, 0
    it = 0
    while True:
        if trace:
            xs.append(x)
            auxs.append(aux)
        residual = tree.resid(g, _scale_vector(tree, scale, x))
        if residual < tol:
            if stable and anderson and it > 0 and _spectral_radius(evaluate, v, g, mix) >= 1.0:
                return plain()
            return finish(x, True, it, residual, "", aux)
        if residual < best:
            best, it_best = residual, it
        if it == max_iter or (stable and anderson and it - it_best > _STAGNATION):
            if stable and anderson:
                return plain()
            return finish(x, False, it, residual, f"no convergence in {max_iter} iterations", aux)
        damped = mix * g
        # the Anderson step, else the damped one, else the damped one shortened until the
        # candidate lies in the domain of the map
        steps = _candidates(damped, g, dvs, dgs, mix, max_backoff) if anderson and dvs else \
            (damped * 0.5**k for k in range(max_backoff + 1))
        accepted = None
        reason = ""
        for j, step in enumerate(steps):
            cand = tree.symmetrise(v + step)
            try:
                accepted = (cand, *evaluate(cand))
                break
            except _Outside as e:
                if j > 0 or not dvs:
                    reason = str(e)
                dvs.clear()
                dgs.clear()
        if accepted is None:
            return finish(x, False, it, residual, f"the iteration is pushed out of the domain: {reason}", aux)
        stuck = stuck + 1 if reason else 0
        cand, x_new, g_new, aux_new = accepted
        if anderson:
            dvs.append(cand - v)
            dgs.append(g_new - g)
        v, x, g, aux = cand, x_new, g_new, aux_new
        if stuck >= patience:
            if trace:
                xs.append(x)
                auxs.append(aux)
            residual = tree.resid(g, _scale_vector(tree, scale, x))
            return finish(x, False, it + 1, residual, f"the iteration is pushed out of the domain: {reason}", aux)
        it += 1


def _candidates(damped, g, dvs, dgs, mix, max_backoff):
    """The Anderson step (type II: least-squares combination of the last differences), then the
    damped step halved ``0 .. max_backoff`` times."""
    dV, dG = np.array(dvs).T, np.array(dgs).T
    gamma, *_ = np.linalg.lstsq(dG, g, rcond=None)
    yield damped - (dV + mix * dG) @ gamma
    for k in range(max_backoff + 1):
        yield damped * 0.5**k


def _spectral_radius(evaluate, v, g, mix, n_power: int = 8) -> float:
    """Spectral radius of the Jacobian of the damped map ``v -> v + mix g(v)`` at ``v`` (power
    iteration on finite-difference products; ``inf`` where the map cannot be evaluated)."""
    u = np.random.default_rng(0).standard_normal(v.size)
    u /= np.linalg.norm(u)
    eps = 1e-7 * max(1.0, float(np.linalg.norm(v)))
    rho = 0.0
    for _ in range(min(v.size, n_power)):
        try:
            g_u = evaluate(v + eps * u)[1]
        except _Outside:
            return math.inf
        ju = u + mix * (g_u - g) / eps
        rho = float(np.linalg.norm(ju))
        if rho == 0.0:
            return 0.0
        u = ju / rho
    return rho


# ---- branches --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Branches:
    """The limits of :func:`branches`.

    Attributes
    ----------
    results : dict
        ``name -> FixedPointResult`` for every start.
    groups : tuple of tuple of str
        Names of the converged starts grouped by common limit, in order of first appearance.
    coexist : bool
        More than one distinct converged limit (coexisting fixed points: hard phase, hysteresis).
    """

    results: dict
    groups: tuple
    coexist: bool

    def limit(self, name: str):
        """The fixed point reached from start ``name``."""
        return self.results[name].x

    @property
    def distinct(self) -> list:
        """One representative fixed point per group."""
        return [self.results[g[0]].x for g in self.groups]


def branches(F: Callable, starts, *, atol: float | None = None, **solve_kw) -> Branches:
    """Every distinct limit of :func:`solve` from several starts.

    Parameters
    ----------
    F : callable
        The map (as in :func:`solve`).
    starts : dict or sequence
        ``{name: x0}`` (e.g. ``{"uninformative": 1e-6, "informed": 1.0}``) or a sequence of starts
        (named ``"start0"``, ``"start1"``, ...).
    atol : float, optional
        Two limits are the same when ``max |x - y| / scale <= atol`` (default
        ``max(1e3 tol, 1e-7)``).
    **solve_kw
        Passed to :func:`solve` (``raise_on_failure`` defaults to False here; unconverged starts
        are left out of ``groups``).

    Returns
    -------
    Branches

    Examples
    --------
    >>> b = branches(lambda m: np.tanh(2 * m), {"minus": -1.0, "plus": 1.0, "zero": 0.0})
    >>> b.coexist, b.groups
    (True, (('minus',), ('plus',), ('zero',)))
    """
    if isinstance(starts, Mapping):
        named = dict(starts)
    elif isinstance(starts, Sequence) and not isinstance(starts, str):
        named = {f"start{i}": s for i, s in enumerate(starts)}
    else:
        raise TypeError("`starts` must be a dict {name: x0} or a sequence of starts")
    if not named:
        raise ValueError("`starts` must not be empty")
    solve_kw.setdefault("raise_on_failure", False)
    tol = solve_kw.get("tol", 1e-10)
    atol = max(1e3 * tol, 1e-7) if atol is None else check_real(atol, "atol", min=0.0)
    results = {name: solve(F, x0, **solve_kw) for name, x0 in named.items()}
    tree = None
    groups: list[list[str]] = []
    reps: list[np.ndarray] = []
    for name, res in results.items():
        if not res.converged:
            continue
        tree = tree or _Tree(res.x)
        vec = tree.flatten(res.x, "a limit")
        s = _scale_vector(tree, solve_kw.get("scale"), res.x)
        for grp, rep in zip(groups, reps):
            if np.max(np.abs(vec - rep) / s, initial=0.0) <= atol:
                grp.append(name)
                break
        else:
            groups.append([name])
            reps.append(vec)
    return Branches(results=results, groups=tuple(tuple(g) for g in groups), coexist=len(groups) > 1)


# ---- continuation ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Continuation:
    """Fixed points along a parameter grid (:func:`continuation`).

    Attributes
    ----------
    grid : ndarray
        The parameter values.
    forward, backward : tuple of FixedPointResult or None
        Results in grid order, from the sweep in increasing (resp. decreasing) grid index.
    """

    grid: np.ndarray
    forward: tuple | None
    backward: tuple | None

    @property
    def hysteresis(self) -> np.ndarray:
        """Where the two sweeps end on different fixed points (both directions only)."""
        if self.forward is None or self.backward is None:
            raise ValueError("hysteresis needs direction='both'")
        out = np.zeros(len(self.grid), dtype=bool)
        for i, (a, b) in enumerate(zip(self.forward, self.backward)):
            if a.converged and b.converged:
                va = _Tree(a.x).flatten(a.x, "a limit")
                vb = _Tree(b.x).flatten(b.x, "a limit")
                out[i] = bool(np.max(np.abs(va - vb), initial=0.0) > 1e-6 * max(1.0, np.abs(va).max(initial=0)))
        return out


def continuation(F: Callable, grid, x0, *, direction: str = "forward", x0_backward=None,
                 warm: Callable | None = None, progress: bool = False, **solve_kw) -> Continuation:
    """Follow the fixed point of ``x = F(x, p)`` along ``p`` in ``grid`` with warm starts.

    Parameters
    ----------
    F : callable
        ``F(x, p)``: the map at parameter ``p``.
    grid : array_like
        1-d parameter values (swept in the given order, or reversed for the backward sweep).
    x0 : pytree
        Start at the first point of the sweep.
    direction : {"forward", "backward", "both"}
        ``"both"``: forwards from ``x0``, then backwards from the forward sweep's last limit (or
        ``x0_backward``): the two sweeps differ where fixed points coexist (hysteresis).
    x0_backward : pytree, optional
        Start of the backward sweep.
    warm : callable, optional
        ``warm(x_previous) -> x0`` for the next point (default: the previous limit itself; e.g.
        ``lambda m: max(m, 1e-6)`` keeps an uninformative branch from sticking at an unstable 0).
    progress : bool
        Show a tqdm bar of the grid points (of both sweeps) on stderr.
    **solve_kw
        Passed to :func:`solve` (``raise_on_failure`` defaults to False; a failed point restarts
        the next one from the last good start).

    Returns
    -------
    Continuation

    Examples
    --------
    >>> path = continuation(lambda m, b: np.tanh(b * m), [0.5, 1.5, 2.0], 0.5, tol=1e-12,
    ...                     warm=lambda m: max(m, 0.1))  # 0 is unstable above b = 1
    >>> [round(r.x, 6) for r in path.forward]
    [0.0, 0.85856, 0.957504]
    """
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError("`grid` must be a non-empty finite 1-d array")
    direction = check_choice(direction, "direction", ("forward", "backward", "both"))
    progress = check_progress(progress)
    solve_kw.setdefault("raise_on_failure", False)

    def sweep(order, start, bar):
        out: list[FixedPointResult | None] = [None] * grid.size
        for i in order:
            p = float(grid[i])
            res = solve(lambda x, p=p: F(x, p), start, **solve_kw)
            out[i] = res
            bar.update(1)
            if res.converged:
                start = warm(res.x) if warm is not None else res.x
        return tuple(out)

    fwd: tuple | None = None
    bwd: tuple | None = None
    total = grid.size * (2 if direction == "both" else 1)
    with progress_bar(progress, total=total, desc="continuation", unit="point") as bar:
        if direction in ("forward", "both"):
            fwd = sweep(range(grid.size), x0, bar)
        if direction in ("backward", "both"):
            if x0_backward is not None:
                start = x0_backward
            elif fwd is not None and fwd[-1].converged:
                start = fwd[-1].x
            else:
                start = x0
            bwd = sweep(range(grid.size - 1, -1, -1), start, bar)
    return Continuation(grid=grid, forward=fwd, backward=bwd)


# ---- transitions -----------------------------------------------------------------------------

def transition(pred: Callable[[float], bool], lo: float, hi: float, *, xtol: float) -> float:
    """Where a property of the fixed points switches on along a parameter: bisection for the
    point in ``[lo, hi]`` at which ``pred`` (False at ``lo``, True at ``hi``, monotone in between)
    becomes True, to ``xtol``. Used for thresholds (algorithmic: the branches merge;
    information-theoretic: the informed branch has the larger free entropy).

    Parameters
    ----------
    pred : callable
        ``pred(p) -> bool``.
    lo, hi : float
        Bracket with ``pred(lo)`` False and ``pred(hi)`` True (checked: ValueError otherwise).
    xtol : float
        Width of the final bracket.

    Returns
    -------
    float
        The midpoint of the final bracket.

    Examples
    --------
    >>> round(transition(lambda p: p * p > 2, 0.0, 2.0, xtol=1e-9), 6)
    1.414214
    """
    lo, hi = float(lo), float(hi)
    xtol = check_real(xtol, "xtol", min=0.0, min_inclusive=False)
    if pred(lo) or not pred(hi):
        raise ValueError(f"no transition in [{lo}, {hi}]: the property must be False at the lower end "
                         "and True at the upper one")
    while hi - lo > xtol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return 0.5 * (lo + hi)


# ---- many independent scalar problems ------------------------------------------------------

@dataclass(frozen=True)
class BatchResult:
    """The outcome of :func:`solve_many`: per-entry ``x``, ``converged`` and ``n_iter`` arrays
    (``stopped``: entries finalised by the ``stop`` criterion)."""

    x: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray
    stopped: np.ndarray


def solve_many(F: Callable, x0, *, damping: float = 0.0, tol: float = 1e-10, max_iter: int = 1000,
               scale: Callable | None = None, stop: Callable | None = None) -> BatchResult:
    """Plain damped iteration of many independent scalar fixed points at once (a curve or a grid
    of parameters, evaluated in one vectorised call per step); an entry leaves the batch when it
    has converged, so the map is evaluated only where work remains.

    Parameters
    ----------
    F : callable
        ``F(x, idx)``: the map at the entries ``idx`` (integer array into ``x0``) for their current
        values ``x`` (same length); returns the new values.
    x0 : array_like
        Starts (any shape; iterated flat).
    damping, tol, max_iter
        As in :func:`solve` (``tol`` on ``|F(x) - x| / scale`` per entry).
    scale : callable, optional
        ``scale(x)`` per entry (``None``: absolute residual).
    stop : callable, optional
        ``stop(x) -> bool array``: entries to finalise unconverged (e.g. a divergence cap).
        Entries where ``F`` returns a non-finite value also leave the batch unconverged.

    Returns
    -------
    BatchResult

    Examples
    --------
    >>> b = np.array([0.5, 2.0, 3.0])
    >>> r = solve_many(lambda m, i: np.tanh(b[i] * m), np.ones(3), tol=1e-12, max_iter=5000)
    >>> np.round(r.x, 6), bool(r.converged.all())
    (array([0.      , 0.957504, 0.994902]), True)
    """
    damping = check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False)
    tol = check_real(tol, "tol", min=0.0)
    max_iter = check_int(max_iter, "max_iter", min=0)
    x = np.array(x0, dtype=np.float64)
    shape = x.shape
    x = x.ravel()
    if not np.isfinite(x).all():
        raise ValueError("`x0` must be finite")
    mix = 1.0 - damping
    n_iter = np.zeros(x.size, dtype=np.int64)
    converged = np.zeros(x.size, dtype=bool)
    stopped = np.zeros(x.size, dtype=bool)
    idx = np.arange(x.size)
    for it in range(max_iter + 1):
        if idx.size == 0:
            break
        xa = x[idx]
        g = np.asarray(F(xa, idx), dtype=np.float64).reshape(xa.shape) - xa
        s = 1.0 if scale is None else scale(xa)
        ok = np.abs(g) / s < tol
        converged[idx[ok]] = True
        n_iter[idx] = it
        bad = ~np.isfinite(g)
        keep = ~ok & ~bad
        if it == max_iter:
            break
        idx, g = idx[keep], g[keep]
        x[idx] += mix * g
        if stop is not None and idx.size:
            hit = np.asarray(stop(x[idx]), dtype=bool)
            stopped[idx[hit]] = True
            n_iter[idx[hit]] = it + 1
            idx = idx[~hit]
    return BatchResult(x=x.reshape(shape), converged=converged.reshape(shape), n_iter=n_iter.reshape(shape),
                       stopped=stopped.reshape(shape))
