"""Paper-style figures: theory curves as lines, simulations as points with error bars."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are written to files; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["plt", "style", "theory_line", "simulation_points", "aggregate"]

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
    """Apply hdcore's plotting style (returns the rc context manager)."""
    return plt.rc_context(_RC)


def aggregate(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, standard error and count of ``value`` grouped by ``by``."""
    g = df.groupby(by, sort=True)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = out["std"].fillna(0.0) / out["count"].clip(lower=1) ** 0.5
    return out


def theory_line(ax, x, y, label=None, **kw):
    """A theory curve."""
    return ax.plot(x, y, label=label, **kw)


def simulation_points(ax, agg: pd.DataFrame, x: str, label=None, **kw):
    """Simulation means with standard-error bars from :func:`aggregate`."""
    kw.setdefault("fmt", "o")
    kw.setdefault("ms", 4)
    kw.setdefault("capsize", 2)
    return ax.errorbar(agg[x], agg["mean"], yerr=agg["sem"], label=label, **kw)
