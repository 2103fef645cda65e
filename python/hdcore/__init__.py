"""hdcore: high-dimensional learning theory with a multithreaded Rust core.

Models generate data with a planted truth, algorithms (AMP, spectral methods, ...) report
overlaps with it, and the theory predicts the same overlaps, so both land on one plot::

    import hdcore
    model = hdcore.models.SpikedWigner(n=4000, snr=1.5, prior="rademacher")
    sample = model.sample(seed=0)
    result = hdcore.algorithms.amp(sample)
    pred = hdcore.theory.state_evolution(model)
"""

import logging as _logging

# Diagnostics go to the "hdcore" logger; hdcore never configures logging (NullHandler only):
# logging.basicConfig(level="INFO") in a script shows them.
_logging.getLogger("hdcore").addHandler(_logging.NullHandler())

from hdcore import _core, algorithms, errors, ingredients, linalg, models, rmt, theory
from hdcore._results import Result, load
from hdcore.errors import ConvergenceError, HdcoreError, InternalError, NumericalError


def _package_version() -> str:
    # The installed distribution's version (pyproject.toml); the extension's Cargo version
    # when hdcore runs from a source tree that is not installed.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hdcore")
    except PackageNotFoundError:
        return str(_core.__version__)


__version__: str = _package_version()

# Importing the submodule ``hdcore.sweep`` here, then binding the name, makes ``hdcore.sweep``
# the function; ``from hdcore.sweep import sweep`` keeps working (the code is hdcore.sweeps).
from hdcore.sweep import sweep

__all__ = [
    "algorithms",
    "errors",
    "ingredients",
    "linalg",
    "models",
    "rmt",
    "theory",
    "sweep",
    "load",
    "Result",
    "get_num_threads",
    "HdcoreError",
    "ConvergenceError",
    "NumericalError",
    "InternalError",
    "__version__",
]


def get_num_threads(n_threads: int | None = None) -> int:
    """Threads a kernel uses: ``n_threads`` if given, else ``HDCORE_NUM_THREADS``, else all cores."""
    return _core.resolve_threads(n_threads)
