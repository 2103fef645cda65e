"""Parameter sweeps that scale from a laptop to a Dask cluster, resumable, with nothing lost.

:func:`sweep` runs ``task(seed=..., **params)`` over a grid of parameters x replicates and
returns a tidy DataFrame; with ``out=path`` every finished run is persisted as it completes and
a rerun skips what is done (:mod:`hdcore.sweeps.store`); :func:`load` reads such a path back.
``hdcore.sweep`` is :func:`sweep`; the guide is ``docs/sweeps.md``.
"""

from hdcore.sweeps.core import BACKENDS, sweep
from hdcore.sweeps.grid import expand_grid
from hdcore.sweeps.store import load

__all__ = ["BACKENDS", "expand_grid", "load", "sweep"]
