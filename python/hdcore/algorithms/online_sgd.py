"""One-pass (online) SGD on sequence single-index models and single-layer attention
(Arnaboldi, Loureiro, Stephan, Krzakala & Zdeborova, arXiv:2506.02651, Sec. 2-3).

Every step draws ``B`` fresh sequences from a keyed random stream (no dataset is stored) and
takes the step ``W <- W - eta * (1/B) sum_b grad_W loss(y_b, yhat(x_b))``, followed for
spherical SGD by ``W <- sqrt(K d) W/||W||`` (``K = L`` blocks for the untied student, else 1;
the authors' ``NormalizedSGD``). With tokens ``x_l ~ N(0, I_d/d)`` one step moves the overlaps by
``O(eta/d)``, so the time of the ODE limit is ``t = steps/d``
(:func:`hdcore.theory.sgd_ode`); the learning rate is ``eta = lr * L**lr_L_power``
(the paper sweeps ``eta = c g(L)``).

Two modes with the same law of the overlaps:

* ``mode="full"``: the ``d``-dimensional simulation in Rust, one fused pass per step
  (``O(B L d)``), bit-identical for any number of threads;
* ``mode="reduced"``: the exact Markov chain of ``(m, e, ||W||)`` (``docs/online_sgd.md``),
  ``O(B L)`` (``O(B L^2)`` for attention) per step whatever ``d``: trajectories at ``d = 10^9``
  and escape-time statistics over thousands of seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hdcore import _core
from hdcore._progress import check_progress, progress_bar
from hdcore._results import Result
from hdcore._validation import as_array, check_choice, check_int, check_real
from hdcore.models.sequence import LOSSES, SequenceSingleIndex, Student, get_student
from hdcore.random import as_seed

__all__ = ["OnlineSGDResult", "log_schedule", "online_sgd"]


def log_schedule(steps: int, n: int) -> np.ndarray:
    """About ``n`` recording steps, log-spaced in ``[1, steps]``, plus 0 and ``steps``."""
    steps = check_int(steps, "steps", min=0)
    n = check_int(n, "record", min=1)
    if steps == 0:
        return np.zeros(1, dtype=np.uint64)
    pts = np.unique(np.round(np.geomspace(1, steps, n)).astype(np.uint64))
    return np.unique(np.concatenate([[0], pts, [steps]]).astype(np.uint64))


@dataclass(frozen=True)
class OnlineSGDResult(Result):
    """Overlap trajectories of :func:`online_sgd` (``R`` runs on a common schedule).

    Attributes
    ----------
    steps : ndarray (n_rec,)
        Recorded steps; ``t = steps/d`` is the ODE time.
    m : ndarray (R, n_rec) or (R, n_rec, L)
        Semantic overlap ``w . w*/d`` (untied: per block ``W_l . w*/d``); NaN after an early stop.
    e : ndarray (R, n_rec)
        Positional overlap ``w . p/sqrt(d)`` (0 without encoding).
    q : ndarray (R, n_rec)
        ``||W||^2/(K d)`` (1 for spherical SGD).
    loss : ndarray (R, n_rec)
        Mean training loss of the fresh samples since the previous record: a Monte-Carlo
        estimate of the population loss along the run (NaN at step 0).
    final_step, final_m, final_e, stopped :
        Last state of each run (the early stop or ``steps``), whether it stopped early.
    weights : ndarray (R, d) / (R, L, d) or None
        Final weights (full mode with ``return_weights``).
    teacher, positional : ndarray (R, d) or None
        ``w*`` and the unit ``p`` of each run (full mode with ``return_weights``).
    """

    model: SequenceSingleIndex = field(repr=False)
    student: Student = field(repr=False)
    lr: float
    mode: str
    steps: np.ndarray = field(repr=False)
    m: np.ndarray = field(repr=False)
    e: np.ndarray = field(repr=False)
    q: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    final_step: np.ndarray = field(repr=False)
    final_m: np.ndarray = field(repr=False)
    final_e: np.ndarray = field(repr=False)
    stopped: np.ndarray = field(repr=False)
    weights: np.ndarray | None = field(default=None, repr=False)
    teacher: np.ndarray | None = field(default=None, repr=False)
    positional: np.ndarray | None = field(default=None, repr=False)

    @property
    def t(self) -> np.ndarray:
        """ODE time ``steps/d``."""
        return self.steps.astype(np.float64) / self.model.d

    @property
    def overlap(self) -> np.ndarray:
        """``m`` for tied students; ``sqrt(mean_l m_l^2)`` per record for the untied one."""
        if self.m.ndim == 3:
            return np.sqrt(np.mean(self.m**2, axis=-1))
        return self.m

    @property
    def escape_step(self) -> np.ndarray:
        """Step of the early stop per run (``NaN`` for runs that did not stop)."""
        return np.where(self.stopped, self.final_step.astype(np.float64), np.nan)


def online_sgd(model: SequenceSingleIndex, student, lr: float, steps: int, *, seed=0,
               n_runs: int = 1, spherical: bool = True, batch: int = 1, loss: str = "squared",
               record=100, stop_overlap: float | None = None, m0: float | None = None,
               e0: float | None = None, mode: str = "full", lr_L_power: float = 0.0,
               return_weights: bool = True, n_threads: int | None = None,
               progress: bool = False) -> OnlineSGDResult:
    """Online SGD of ``student`` on fresh samples of ``model``.

    Parameters
    ----------
    model : SequenceSingleIndex
        Teacher, sequence length, positional encoding, label noise.
    student : Student or str
        ``"ssi"`` (the teacher's function), ``"tied"``, ``"untied"``, ``"attention"`` or an
        instance of :class:`~hdcore.models.sequence.Student`.
    lr : float
        Learning rate ``eta`` (times ``L**lr_L_power``).
    steps : int
        Number of SGD steps (``t = steps/d``).
    seed : int or numpy.random.Generator
        Run ``r`` uses streams keyed by ``(seed, r)``: its teacher, positional direction, start
        and data. Same seed, same trajectories, whatever ``n_threads``.
    n_runs : int
        Independent runs (parallel over runs for small ``d``).
    spherical : bool
        Renormalise ``||W||^2 = K d`` after every step (the paper's spherical SGD).
    batch : int
        Mini-batch size ``B``.
    loss : {"squared", "mse", "frobenius"}
        Per-sample loss (see :mod:`hdcore.models.sequence`); the paper's SGD uses ``"mse"``
        for scalar outputs and ``"frobenius"`` for attention, its analytic loss ``"squared"``.
    record : int or array of int
        Number of log-spaced recording steps (:func:`log_schedule`) or the steps themselves.
    stop_overlap : float, optional
        Stop a run when ``|m|`` (untied: ``sqrt(mean_l m_l^2)``) reaches it: escape times.
    m0, e0 : float, optional
        Initial overlaps (``w0 = sqrt(d) (m0 e1 + e0 p + sqrt(1 - m0^2 - e0^2) u)``, ``u`` random);
        default a uniform start on the sphere (``m0 ~ d^{-1/2}``).
    mode : {"full", "reduced"}
        ``d``-dimensional simulation or the exact overlap chain.
    return_weights : bool
        Full mode: return the final weights, ``w*`` and ``p`` of every run (``3 d`` floats per
        run; turn off for many runs at large ``d``).
    n_threads : int, optional
        Threads of the Rust kernel.
    progress : bool
        Show a tqdm bar of the runs on stderr. The runs are then simulated in chunks of at
        least as many runs as threads (same trajectories: run ``r`` depends only on
        ``(seed, r)``); the bar advances per chunk, so a single run completes its bar when it
        returns.

    Returns
    -------
    OnlineSGDResult
    """
    if not isinstance(model, SequenceSingleIndex):
        raise TypeError(f"`model` must be a SequenceSingleIndex, got {type(model).__name__}")
    student = get_student(student, model)
    eta = check_real(lr, "lr", min=0.0) * float(model.L) ** check_real(lr_L_power, "lr_L_power")
    steps = check_int(steps, "steps", min=0)
    n_runs = check_int(n_runs, "n_runs", min=1)
    batch = check_int(batch, "batch", min=1)
    check_choice(loss, "loss", LOSSES)
    mode = check_choice(mode, "mode", ("full", "reduced"))
    progress = check_progress(progress)
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        schedule = log_schedule(steps, int(record))
    else:
        schedule = np.unique(as_array(record, "record", ndim=1, dtype=np.int64))
        if schedule.size and (schedule[0] < 0 or schedule[-1] > steps):
            raise ValueError(f"`record` steps must lie in [0, {steps}]")
        schedule = schedule.astype(np.uint64)
    if stop_overlap is not None:
        stop_overlap = check_real(stop_overlap, "stop_overlap")
    if m0 is not None:
        m0 = check_real(m0, "m0", min=-1.0, max=1.0)
    if e0 is not None:
        e0 = check_real(e0, "e0", min=-1.0, max=1.0)
        if model.positional is None:
            raise ValueError("`e0` needs a model with a positional encoding")
        if m0 is None:
            m0 = 0.0
    if m0 is not None and m0**2 + (e0 or 0.0) ** 2 > 1.0:
        raise ValueError(f"`m0`^2 + `e0`^2 must be <= 1, got m0={m0}, e0={e0}")
    if mode == "reduced" and model.d < 4:
        raise ValueError(f"`d` must be >= 4 in the reduced mode, got {model.d}")
    spec = {**model.spec(), **student.spec(model), "loss": loss}
    runs, key = list(range(n_runs)), as_seed(seed)  # one key for every chunk
    # chunks only for the bar, each at least one run per thread (parallel over runs)
    chunk = max(_core.resolve_threads(n_threads), -(-n_runs // 100)) if progress else n_runs
    raw: list[dict] = []
    with progress_bar(progress, total=n_runs, desc="online_sgd", unit="run") as bar:
        for start in range(0, n_runs, chunk):
            part = runs[start:start + chunk]
            raw += _core.sgd_simulate(spec, model.d, eta, steps, key, part,
                                      batch=batch, spherical=bool(spherical),
                                      record=[int(s) for s in schedule], stop_overlap=stop_overlap,
                                      m0=m0, e0=e0, mode=mode,
                                      return_weights=bool(return_weights) and mode == "full",
                                      n_threads=n_threads)
            bar.update(len(part))
    return _collect(model, student, eta, mode, schedule, raw)


def _collect(model, student, eta, mode, schedule, raw) -> OnlineSGDResult:
    n_rec = len(schedule)
    K = model.L if student.untied else 1
    R = len(raw)
    m = np.full((R, n_rec, K), np.nan)
    e = np.full((R, n_rec), np.nan)
    q = np.full((R, n_rec), np.nan)
    loss = np.full((R, n_rec), np.nan)
    for r, run in enumerate(raw):
        k = len(run["steps"])
        m[r, :k] = run["m"]
        e[r, :k] = run["e"]
        q[r, :k] = run["q"]
        loss[r, :k] = run["loss"]
    weights = teacher = positional = None
    if raw and "weights" in raw[0]:
        weights = np.stack([r["weights"] for r in raw])
        weights = weights[:, 0] if K == 1 else weights
        teacher = np.stack([r["teacher"] for r in raw])
        positional = np.stack([r["positional"] for r in raw])
    return OnlineSGDResult(
        model=model, student=student, lr=eta, mode=mode, steps=np.asarray(schedule, dtype=np.int64),
        m=m[..., 0] if K == 1 else m, e=e, q=q, loss=loss,
        final_step=np.array([r["final_step"] for r in raw], dtype=np.int64),
        final_m=np.array([r["final_m"] for r in raw])[:, 0] if K == 1
        else np.array([r["final_m"] for r in raw]),
        final_e=np.array([r["final_e"] for r in raw]),
        stopped=np.array([r["stopped"] for r in raw], dtype=bool),
        weights=weights, teacher=teacher, positional=positional,
    )
