"""Exceptions raised by hdcore.

Invalid arguments raise the built-in :class:`ValueError` / :class:`TypeError` with a message
naming the argument. Failures of the computation itself raise subclasses of
:class:`HdcoreError` (defined in the Rust extension so both layers share them).
"""

from hdcore._core import ConvergenceError, HdcoreError, NumericalError

__all__ = ["HdcoreError", "ConvergenceError", "NumericalError"]
