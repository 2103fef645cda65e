"""What every result object can do: :meth:`Result.to_dict`, :meth:`Result.to_dataframe`,
:meth:`Result.save` / :func:`load`, and a compact ``repr``.

The result classes of :mod:`hdcore.algorithms` and :mod:`hdcore.theory` (``AMPResult``,
``StateEvolution``, ...) are frozen dataclasses deriving from :class:`Result`.

File format (``.npz``, read with ``numpy.load(path, allow_pickle=False)``): the arrays under
the keys ``a0, a1, ...`` and, under ``__meta__``, a JSON document
``{"format": "hdcore.result/1", "hdcore": VERSION, "value": ...}`` in which a dataclass is
``{"__class__": "module:QualName", "fields": {...}}``, an array ``{"__array__": "a3"}``, a
tuple ``{"__tuple__": [...]}``, a complex number ``{"__complex__": [re, im]}`` and a value
hdcore cannot store (a user's callable, say) ``{"__unsaved__": "its repr"}`` (loaded as
``None``, with a warning).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import numbers
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "load"]

FORMAT = "hdcore.result/1"
_MAX_TRACE_COLUMNS = 16


def _short_array(a: np.ndarray) -> str:
    if a.size <= 6:
        return np.array2string(a, precision=4, separator=", ", threshold=6,
                               max_line_width=10**6).replace("\n", "")
    flat = a.ravel()
    if a.dtype.kind in "fc":
        ends = f"{flat[0]:.4g} .. {flat[-1]:.4g}"
    else:
        ends = f"{flat[0]} .. {flat[-1]}"
    return f"<{a.dtype} {a.shape}: {ends}>"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return _short_array(value)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, Result):
        return repr(value)
    if isinstance(value, dict) and any(isinstance(v, np.ndarray) for v in value.values()):
        text = "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
        return text if len(text) <= 300 else text[:297] + "..."
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _compact_repr(self) -> str:
    parts = [f"{f.name}={_short(getattr(self, f.name))}" for f in dataclasses.fields(self)
             if f.repr]
    return f"{type(self).__name__}({', '.join(parts)})"


class Result:
    """Base of hdcore's result dataclasses: export, persistence and a compact ``repr``.

    ``repr`` shows scalars and short arrays in full and long arrays as dtype, shape and end
    values; fields declared ``repr=False`` (estimates, large grids) are left out.

    Examples
    --------
    >>> import hdcore
    >>> model = hdcore.models.SpikedWigner(n=500, snr=2.0, prior="rademacher")
    >>> res = hdcore.algorithms.amp(model.sample(seed=0))
    >>> res.to_dataframe().columns[:3].tolist()
    ['iteration', 'overlap', 'q']
    >>> path = res.save("amp-run.npz")           # doctest: +SKIP
    >>> hdcore.load(path).final_cosine2          # doctest: +SKIP
    """

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        # Put the compact repr in the class's own namespace before @dataclass runs, so the
        # decorator keeps it instead of generating one that prints every array in full.
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _compact_repr  # type: ignore[method-assign,assignment]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (arrays are not copied; nested results become dicts).

        Returns
        -------
        dict
            ``{field name: value}`` for every dataclass field, in declaration order.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, Result) else v
        return out

    def _trace_names(self) -> tuple[int, list[str]]:
        def length(v: Any) -> int | None:
            if (isinstance(v, np.ndarray) and v.dtype.kind in "biufc" and v.size > 1
                    and (v.ndim == 1 or (v.ndim == 2 and v.shape[1] <= _MAX_TRACE_COLUMNS))):
                return int(v.shape[0])
            return None

        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        shown = Counter(n for f in fields if f.repr
                        for n in [length(getattr(self, f.name))] if n is not None)
        if not shown:
            return 0, []
        trace_len = max(shown, key=lambda n: (shown[n], n))
        return trace_len, [f.name for f in fields if length(getattr(self, f.name)) == trace_len]

    def to_dataframe(self) -> pd.DataFrame:
        """The per-iteration (or per-time, per-grid-point) traces as a tidy table.

        The traces are the array fields sharing the most common length among the displayed
        fields (e.g. ``overlap``, ``q``, ``mse``, ``cosine2`` of :class:`~hdcore.algorithms.AMPResult`,
        ``n_iter + 1`` entries); a 2-D trace ``(T, k)`` becomes the columns ``name_0 ..
        name_{k-1}``. Arrays of other lengths (the estimate, per-step increments) stay
        available through the attributes and :meth:`to_dict`.

        Returns
        -------
        pandas.DataFrame
            A column ``iteration`` (0, 1, ...), then one column per trace; a result without
            traces gives one row of its scalar fields.
        """
        trace_len, names = self._trace_names()
        if not names:
            row = {k: v for k, v in self.to_dict().items()
                   if isinstance(v, (numbers.Number, str, np.generic)) or v is None}
            return pd.DataFrame([row])
        cols: dict[str, Any] = {"iteration": np.arange(trace_len)}
        for name in names:
            v = getattr(self, name)
            if v.ndim == 1:
                cols[name] = v
            else:
                for j in range(v.shape[1]):
                    cols[f"{name}_{j}"] = v[:, j]
        return pd.DataFrame(cols)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the result to ``path`` (``.npz`` appended if missing); read it back with
        :func:`hdcore.load`.

        Parameters
        ----------
        path : str or path-like
            The file.

        Returns
        -------
        pathlib.Path
            The file written.

        Raises
        ------
        TypeError
            If ``path`` is not a path.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`path` must be a path, got {type(path).__name__}")
        from hdcore import __version__

        p = Path(path)
        if p.suffix != ".npz":
            p = p.with_name(p.name + ".npz")
        arrays: dict[str, np.ndarray] = {}
        meta = {"format": FORMAT, "hdcore": __version__, "value": _encode(self, arrays)}
        arrays["__meta__"] = np.array(json.dumps(meta))
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        return p


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufcU":
            return {"__unsaved__": _short(value)}
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        return {"__complex__": [float(value.real), float(value.imag)]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, arrays) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, arrays) for k, v in value.items()}}
    cls = type(value)
    if dataclasses.is_dataclass(value) and cls.__module__.split(".")[0] == "hdcore":
        mark = len(arrays)
        fields = {f.name: _encode(getattr(value, f.name), arrays)
                  for f in dataclasses.fields(value)}
        if any(isinstance(v, dict) and "__unsaved__" in v for v in fields.values()) \
                and not isinstance(value, Result):
            # an ingredient holding a callable of the user's: store it as a whole or not at all
            for k in [f"a{i}" for i in range(mark, len(arrays))]:
                arrays.pop(k, None)
            return {"__unsaved__": _short(value)}
        return {"__class__": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    return {"__unsaved__": _short(value)}


def _decode(value: Any, arrays, dropped: list[str], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays, dropped, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, arrays, dropped, f"{where}[{i}]")
                     for i, v in enumerate(value["__tuple__"]))
    if "__complex__" in value:
        re, im = value["__complex__"]
        return complex(re, im)
    if "__dict__" in value:
        return {k: _decode(v, arrays, dropped, f"{where}[{k!r}]")
                for k, v in value["__dict__"].items()}
    if "__unsaved__" in value:
        dropped.append(f"{where} ({value['__unsaved__']})")
        return None
    if "__class__" in value:
        cls = _resolve(value["__class__"])
        fields = {k: _decode(v, arrays, dropped, f"{where}.{k}" if where else k)
                  for k, v in value["fields"].items()}
        if not issubclass(cls, Result):
            # a model or student inside a result: rebuilt through its constructor, so what
            # its __post_init__ derives is there again
            init = {f.name: fields[f.name] for f in dataclasses.fields(cls)
                    if f.init and f.name in fields}
            try:
                return cls(**init)
            except (TypeError, ValueError):
                pass
        obj: Any = object.__new__(cls)
        # a result: the stored fields exactly as they were (no re-validation)
        for k, v in fields.items():
            object.__setattr__(obj, k, v)
        return obj
    raise ValueError(f"not an hdcore result file: unexpected entry {sorted(value)}")


def _resolve(path: str) -> Any:
    module, _, qualname = path.partition(":")
    if module.split(".")[0] != "hdcore":
        raise ValueError(f"not an hdcore result file: it names the class {path!r}")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise ValueError(f"not an hdcore result file: {path!r} is not a result class")
    return obj


def load(path: str | os.PathLike[str]) -> Any:
    """Read a result written by ``Result.save`` (e.g. ``AMPResult.save``).

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file.

    Returns
    -------
    Result
        An object of the saved class with the saved field values. Fields hdcore could not
        store (user-defined callables inside a model) come back as ``None``, with a
        :class:`UserWarning` naming them.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not an hdcore result file.

    Examples
    --------
    >>> import hdcore
    >>> pred = hdcore.theory.state_evolution(hdcore.models.SpikedWigner(n=100, snr=2.0))
    >>> hdcore.load(pred.save("se.npz")).fixed_point == pred.fixed_point   # doctest: +SKIP
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a path, got {type(path).__name__}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{os.fspath(path)!r} is not an hdcore result file ({exc})") from None
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except (KeyError, json.JSONDecodeError):
        raise ValueError(f"{os.fspath(path)!r} is not an hdcore result file") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r}: unknown format {meta.get('format')!r} "
                         f"(this hdcore reads {FORMAT})")
    dropped: list[str] = []
    out = _decode(meta["value"], arrays, dropped, "")
    if dropped:
        warnings.warn(f"{os.fspath(path)}: not stored, loaded as None: {'; '.join(dropped)}",
                      UserWarning, stacklevel=2)
    return out
