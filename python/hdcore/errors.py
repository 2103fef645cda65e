"""Exceptions raised by hdcore.

Invalid arguments raise the built-in :class:`ValueError` / :class:`TypeError` with a message
naming the argument (a size whose product overflows is a :class:`ValueError` too). A buffer
that does not fit in the memory left raises :class:`MemoryError` naming the argument, the bytes
needed and the bytes available, before anything is allocated. Failures of the computation
itself raise subclasses of :class:`HdcoreError` (defined in the Rust extension so both layers
share them); :class:`InternalError` is a bug in the Rust core (a caught panic), never an abort.
See ``docs/reliability.md``.
"""

from hdcore._core import ConvergenceError, HdcoreError, InternalError, NumericalError

__all__ = ["HdcoreError", "ConvergenceError", "NumericalError", "InternalError"]
