"""The study pattern: every paper's headline experiment is a :class:`Study` with ``theory``,
``simulate`` and ``figure``; :meth:`Study.reproduce` runs them and writes ``NAME.png`` and
``NAME.csv`` (one tidy table: theory curves and aggregated simulations). Simulations always go
through :func:`hdcore.sweep`, so any study runs locally or on Dask, and resumes."""

from __future__ import annotations

import inspect
import logging
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hdcore.sweep import sweep

__all__ = ["STUDIES", "Study", "StudyOutput", "get_study", "register"]

logger = logging.getLogger("hdcore.studies")

STUDIES: dict[str, type[Study]] = {}


def register(cls: type[Study]) -> type[Study]:
    """Class decorator adding a study to the registry under ``cls.name``."""
    if cls.name in STUDIES:
        raise ValueError(f"study {cls.name!r} registered twice")
    STUDIES[cls.name] = cls
    return cls


def get_study(name: str) -> Study:
    """Instantiate the study called ``name``."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; available: {', '.join(sorted(STUDIES))}")
    return STUDIES[name]()


@dataclass(frozen=True)
class StudyOutput:
    """What :meth:`Study.reproduce` produced: the theory, the simulation runs (one row per
    run, see :func:`hdcore.sweep`) and the table, the paths written, the seconds taken, the
    journal of the runs (``runs_path``) and how many runs failed (``failed``)."""

    theory: pd.DataFrame
    simulation: pd.DataFrame
    table: pd.DataFrame
    figure_path: Path
    csv_path: Path
    seconds: float
    runs_path: Path | None = None
    failed: int = 0


class Study(ABC):
    """One paper's experiment. Subclasses set ``name`` and ``title`` and implement the four
    methods below; ``quick=True`` must finish in well under a minute.

    A long :meth:`theory` may take an optional keyword ``progress: bool = False`` and show a bar
    of its points (``hdcore._progress.track``); :meth:`reproduce` then passes its own
    ``progress`` (the CLI: off with ``--quiet``). A ``theory(quick)`` without it still works."""

    name: str = ""
    title: str = ""

    @abstractmethod
    def theory(self, quick: bool = False) -> pd.DataFrame:
        """Theory curves as a tidy DataFrame (subclasses may add ``*, progress=False``)."""

    def _theory(self, quick: bool, progress: bool) -> pd.DataFrame:
        """:meth:`theory`, with ``progress`` if the subclass's ``theory`` takes that keyword."""
        try:
            takes = any(p.name == "progress" or p.kind is p.VAR_KEYWORD
                        for p in inspect.signature(self.theory).parameters.values())
        except (TypeError, ValueError):  # pragma: no cover (a callable without a signature)
            takes = False
        if takes:
            theory: Callable[..., pd.DataFrame] = self.theory
            return theory(quick, progress=progress)
        return self.theory(quick)

    @abstractmethod
    def grid(self, quick: bool = False) -> list[dict]:
        """Simulation points (parameter dicts passed to :meth:`simulate`)."""

    @abstractmethod
    def simulate(self, seed: int, **params) -> dict:
        """One simulation at one point with one seed -> flat dict of results."""

    @abstractmethod
    def figure(self, theory: pd.DataFrame, simulation: pd.DataFrame):
        """A matplotlib Figure of theory (lines) and simulation (points with error bars)."""

    @abstractmethod
    def table(self, theory: pd.DataFrame, simulation: pd.DataFrame) -> pd.DataFrame:
        """The CSV content: theory and aggregated simulation in one tidy table."""

    def n_seeds(self, quick: bool = False) -> int:
        """Replicates per simulation point."""
        return 2 if quick else 5

    def run_simulations(self, *, quick: bool = False, seed: int = 0, progress: bool = True,
                        backend: str = "local", scheduler=None, n_workers: int | None = None,
                        out=None, resume: bool = True) -> pd.DataFrame:
        """All simulations of the study through :func:`hdcore.sweep`: :meth:`simulate` over
        :meth:`grid` x :meth:`n_seeds` replicates, one row per run.

        ``backend``, ``scheduler``, ``n_workers``, ``out`` and ``resume`` are passed to the
        sweep; persisted runs are keyed under the task name ``study:NAME``.
        """
        return sweep(self.simulate, self.grid(quick), seeds=self.n_seeds(quick), seed=seed,
                     progress=progress, desc=self.name, name=f"study:{self.name}",
                     backend=backend, scheduler=scheduler, n_workers=n_workers, out=out,
                     resume=resume)

    def reproduce(self, out_dir="results", *, quick: bool = False, seed: int = 0,
                  progress: bool = True, backend: str = "local", scheduler=None,
                  n_workers: int | None = None, resume: bool = False) -> StudyOutput:
        """Run theory and simulations, write ``NAME.png`` and ``NAME.csv`` in ``out_dir``.

        Every simulation run is also persisted in ``out_dir/runs/NAME.jsonl`` as it finishes;
        ``resume=True`` reuses the runs already there (to finish an interrupted reproduction)
        instead of starting afresh. The other options go to :meth:`run_simulations`;
        ``progress`` also shows the bar of the theory step (if :meth:`theory` takes it).
        """
        t0 = time.perf_counter()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        runs = out / "runs" / f"{self.name}.jsonl"
        th = self._theory(quick, progress)
        logger.info("%s: theory (%d rows) in %.1f s", self.name, len(th), time.perf_counter() - t0)
        t1 = time.perf_counter()
        sim = self.run_simulations(quick=quick, seed=seed, progress=progress, backend=backend,
                                   scheduler=scheduler, n_workers=n_workers, out=runs,
                                   resume=resume)
        logger.info("%s: %d simulation runs in %.1f s", self.name, len(sim),
                    time.perf_counter() - t1)
        table = self.table(th, sim)
        csv_path = out / f"{self.name}.csv"
        table.to_csv(csv_path, index=False)
        fig = self.figure(th, sim)
        png = out / f"{self.name}.png"
        from hdcore.plotting import style

        with style():
            fig.savefig(png, bbox_inches="tight")
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None and getattr(fig.canvas, "manager", None) is not None:
            pyplot.close(fig)  # a study of the user's own that drew with pyplot
        return StudyOutput(theory=th, simulation=sim, table=table, figure_path=png,
                           csv_path=csv_path, seconds=time.perf_counter() - t0, runs_path=runs,
                           failed=int(sim["error"].notna().sum()))
