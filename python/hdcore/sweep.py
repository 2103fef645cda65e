"""``from hdcore.sweep import sweep`` keeps working: the implementation is :mod:`hdcore.sweeps`.

(``hdcore.sweep`` itself is the function :func:`hdcore.sweeps.sweep`.)
"""

from hdcore.sweeps import expand_grid, load, sweep

__all__ = ["expand_grid", "load", "sweep"]
