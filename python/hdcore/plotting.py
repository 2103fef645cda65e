"""Paper-style figures: theory curves as lines, simulations as points with error bars.

Figures are :class:`matplotlib.figure.Figure` objects made without :mod:`matplotlib.pyplot`:
importing this module or drawing a study's figure never changes the matplotlib backend or
pyplot's list of open figures (a notebook keeps its inline backend; a figure returned by a
study displays as the cell's value and is saved with ``fig.savefig``). Only the ``hdcore``
command chooses a headless backend.
"""

from __future__ import annotations

from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["subplots", "style", "theory_line", "simulation_points", "aggregate"]

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.labelsize": 11,
    "axes.titlesize": 11,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
}


def style():
    """hdcore's plotting style as a context manager (:func:`matplotlib.rc_context`).

    Returns
    -------
    contextlib.AbstractContextManager
        Inside it, figures are drawn with hdcore's rc parameters; the global rc parameters
        are restored on exit.
    """
    return matplotlib.rc_context(_RC)


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None,
             constrained_layout: bool = False, **kw: Any) -> tuple[Figure, Any]:
    """A figure and its axes, like :func:`matplotlib.pyplot.subplots` but without pyplot.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes.
    figsize : (float, float), optional
        Width and height in inches.
    constrained_layout : bool
        Use matplotlib's constrained layout.
    **kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``squeeze``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
        Not registered with pyplot: it is freed with its last reference, needs no
        ``plt.close`` and is saved with ``fig.savefig``.
    axes : matplotlib.axes.Axes or numpy.ndarray of them
    """
    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    return fig, fig.subplots(nrows, ncols, **kw)


def aggregate(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, standard error and count of ``value`` grouped by ``by``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run.
    by : list of str
        Grouping columns.
    value : str
        The column aggregated.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, then ``mean``, ``std``, ``count`` and ``sem`` (standard error of
        the mean; 0 for a single run).
    """
    g = df.groupby(by, sort=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / out["count"].clip(lower=1) ** 0.5
    return out


def theory_line(ax, x, y, label=None, **kw):
    """A theory curve on ``ax`` (a line; ``kw`` go to :meth:`~matplotlib.axes.Axes.plot`)."""
    return ax.plot(x, y, label=label, **kw)


def simulation_points(ax, agg: pd.DataFrame, x: str, label=None, **kw):
    """Simulation means with standard-error bars from :func:`aggregate` on ``ax``
    (``kw`` go to :meth:`~matplotlib.axes.Axes.errorbar`)."""
    kw.setdefault("fmt", "o")
    kw.setdefault("ms", 4)
    kw.setdefault("capsize", 2)
    return ax.errorbar(agg[x], agg["mean"], yerr=agg["sem"], label=label, **kw)


def __getattr__(name: str):
    # ``hdcore.plotting.plt`` (pyplot) for older code; imported only when asked for, and
    # importing pyplot does not select a backend by itself.
    if name == "plt":
        import matplotlib.pyplot as plt

        return plt
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
