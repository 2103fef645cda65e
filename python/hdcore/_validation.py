"""Argument checks shared by the public API; every message names the offending argument."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = ["check_int", "check_real", "check_choice", "check_iteration", "check_instance", "as_array"]


def check_instance(value, name: str, types: type | tuple[type, ...]):
    """Return ``value`` if it is an instance of ``types``, else raise TypeError naming ``name``."""
    if not isinstance(value, types):
        kinds = types if isinstance(types, tuple) else (types,)
        raise TypeError(f"`{name}` must be a {' or '.join(t.__name__ for t in kinds)}, "
                        f"got {type(value).__name__}")
    return value


def check_int(value, name: str, *, min: int | None = None) -> int:
    """Return ``value`` as an int, raising TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer, got {type(value).__name__}")
    value = int(value)
    if min is not None and value < min:
        raise ValueError(f"`{name}` must be >= {min}, got {value}")
    return value


def check_real(
    value,
    name: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value}")
    if min is not None and (value < min or (not min_inclusive and value == min)):
        op = ">=" if min_inclusive else ">"
        raise ValueError(f"`{name}` must be {op} {min}, got {value}")
    if max is not None and (value > max or (not max_inclusive and value == max)):
        op = "<=" if max_inclusive else "<"
        raise ValueError(f"`{name}` must be {op} {max}, got {value}")
    return value


def check_iteration(n_iter, damping, tol) -> tuple[int, float, float]:
    """The settings of an iterative solver: ``n_iter >= 0``, ``damping`` in ``[0, 1)``,
    ``tol >= 0``."""
    return (check_int(n_iter, "n_iter", min=0),
            check_real(damping, "damping", min=0.0, max=1.0, max_inclusive=False),
            check_real(tol, "tol", min=0.0))


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}, got {value!r}")
    return value


def as_array(value, name: str, *, ndim: int | None = None, dtype=np.float64,
             shape: tuple | None = None, finite: bool = True) -> np.ndarray:
    """Convert to a C-contiguous array of ``dtype`` and check its shape and finiteness."""
    try:
        arr = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be array-like of {np.dtype(dtype).name}: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(arr.shape, shape)):
            if want is not None and got != want:
                raise ValueError(f"`{name}` has shape {arr.shape}, expected {shape} (axis {axis})")
    if finite and arr.size and not np.isfinite(arr).all():
        raise ValueError(f"`{name}` contains NaN or infinity")
    return arr
