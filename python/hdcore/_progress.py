"""Progress bars of long single calls (``progress=True``): a tqdm bar on stderr, nothing
otherwise.

A call that runs entirely inside one Rust function (the fast paths of ``amp``, ``gamp``,
``erm``) cannot report from inside it: its bar advances once, when the call returns, and shows
the elapsed time meanwhile. Python loops (open paths, sweeps over theory points, chunks of
SGD runs) advance the bar at every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["advance", "check_progress", "progress_bar", "track"]


def check_progress(progress) -> bool:
    """``progress`` as a bool (True or False only: a typo such as ``progress="no"`` is an error)."""
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be True or False, got {type(progress).__name__}")
    return progress


def progress_bar(progress, *, total: int | None, desc: str, unit: str = "it") -> Any:
    """A tqdm bar (a context manager with ``update(n)`` and ``set_postfix_str(s)``) that draws
    nothing when ``progress`` is False."""
    from tqdm.auto import tqdm  # imported here: `import hdcore` stays light

    return tqdm(total=total, desc=desc, unit=unit, leave=False,
                disable=not check_progress(progress))


def track(items: Iterable[T], progress, *, desc: str, total: int | None = None,
          unit: str = "point") -> Iterator[T]:
    """Iterate over ``items``, advancing a bar per item when ``progress`` is True."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress_bar(progress, total=total, desc=desc, unit=unit) as bar:
        for item in items:
            yield item
            bar.update(1)


def advance(items: Iterable[T], bar: Any) -> Iterator[T]:
    """Iterate over ``items``, advancing ``bar`` (from :func:`progress_bar`) per item: one bar
    over several loops (e.g. a study's theory, sweep after sweep)."""
    for item in items:
        yield item
        bar.update(1)
