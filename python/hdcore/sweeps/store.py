"""Durable storage of a sweep: an append-only JSON Lines journal plus a manifest.

For ``out="runs/alpha.parquet"`` (or ``.csv`` or ``.jsonl``):

``runs/alpha.jsonl``
    The journal, the source of truth: one record per finished job, appended with a single
    ``write`` and flushed to disk (``fdatasync``) before the sweep goes on. A line that does not
    end in a newline was torn by a crash; it is dropped (and cut off before the next append),
    so the journal never holds a corrupt record. The job's key (a hash of the task name, the
    parameters and the seed) identifies the record; the last record of a key wins.
``runs/alpha.manifest.json``
    The plan of the latest sweep writing to ``out``: its task, replicates and the jobs keyed by
    hash, in row order. Written atomically (temporary file + rename) before any work, so
    :func:`load` can show a running or interrupted sweep in order.
``runs/alpha.parquet`` / ``.csv``
    The tidy table of the sweep, written atomically when the sweep finishes.

An exclusive lock on the journal (``flock``, released by the OS even on SIGKILL) stops two
sweeps from appending to the same journal at once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from hdcore.errors import InternalError
from hdcore.sweeps.records import frame

try:  # POSIX; elsewhere the journal is not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "Store", "load"]

FORMAT = "hdcore.sweep/1"
#: Suffixes ``out`` may have: the journal alone, or the journal plus a CSV / Parquet table.
FORMATS = (".jsonl", ".csv", ".parquet")
_sync = getattr(os, "fdatasync", os.fsync)


def _paths(out) -> tuple[Path, Path, Path | None]:
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"`out` must be a path, got {type(out).__name__}")
    path = Path(out)
    if path.suffix not in FORMATS:
        raise ValueError(f"`out` must end in one of {FORMATS} (the table's format), got {path}")
    journal = path.with_suffix(".jsonl")
    manifest = path.with_suffix(".manifest.json")
    return journal, manifest, None if path.suffix == ".jsonl" else path


def _parse(data: bytes, path: Path) -> tuple[list[dict], int]:
    """Records of a journal's bytes and the length of its intact part (up to the last newline).
    """
    end = data.rfind(b"\n") + 1
    records = []
    for n, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or "key" not in rec:
            warnings.warn(f"{path}: line {n} is not a sweep record; skipped", RuntimeWarning,
                          stacklevel=3)
            continue
        records.append(rec)
    return records, end


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover -- e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


class Store:
    """The journal, manifest and table of one ``out`` path (see the module docstring).

    Construction checks the path and, for Parquet, that a Parquet engine is installed;
    :meth:`open` creates the directory, locks and reads the journal. Both raise before any
    work starts.
    """

    def __init__(self, out):
        self.journal, self.manifest, self.table = _paths(out)
        if self.table is not None and self.table.suffix == ".parquet" and not any(
                importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet")):
            raise ImportError("writing Parquet needs pyarrow: `pip install hdcore[parquet]`, "
                              "or give `out` a .csv or .jsonl suffix")
        self._fd: int | None = None

    def open(self) -> dict[str, dict]:
        """Create, lock and read the journal; the finished records by key (the last record
        of a key wins). A torn last line is cut off."""
        try:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            for p in (self.journal, self.manifest, self.table):
                if p is not None and p.is_dir():
                    raise IsADirectoryError(f"{p} is a directory")
            created = not self.journal.exists()
            fd = os.open(self.journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise ValueError(f"`out`: cannot write {self.journal}: {exc}") from exc
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise ValueError(f"`out`: {self.journal} is being written by another sweep "
                                 "(it is locked)") from None
        self._fd = fd
        try:
            data = self.journal.read_bytes()
            records, end = _parse(data, self.journal)
            if end < len(data):
                os.ftruncate(fd, end)
                _sync(fd)
            if created:
                _fsync_dir(self.journal.parent)
        except BaseException:
            self.close()
            raise
        return {rec["key"]: rec for rec in records}

    @property
    def fd(self) -> int:
        """The open journal's file descriptor (after `open`)."""
        if self._fd is None:
            raise InternalError("the sweep journal is not open")  # pragma: no cover
        return self._fd

    def clear(self) -> None:
        """Empty the journal (start afresh)."""
        os.ftruncate(self.fd, 0)
        _sync(self.fd)

    def append(self, lines: list[bytes]) -> None:
        """Append encoded records (each ending in a newline) and flush them to disk.

        Raises
        ------
        OSError
            If the write or the flush fails (disk full, quota, I/O error). The journal is cut
            back to its length before this call, so it holds only whole records (none of this
            batch): resuming the sweep with the same ``out`` computes the rest.
        """
        if not lines:
            return
        data = b"".join(lines)
        view = memoryview(data)
        fd = self.fd
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            while view:
                view = view[os.write(fd, view):]
            _sync(fd)
        except OSError as exc:
            try:  # best effort: drop the partial batch so no torn record stays behind
                os.ftruncate(fd, start)
            except OSError:  # pragma: no cover -- a torn tail is also cut off by `open`
                pass
            raise OSError(exc.errno, f"cannot append to the sweep journal {self.journal} "
                          f"({exc.strerror}); the finished runs before this batch are kept: "
                          "free space and run the sweep again with the same `out` to "
                          "compute the rest") from exc

    def write_manifest(self, manifest: dict) -> None:
        """Atomically replace the manifest."""
        def write(tmp):
            with open(tmp, "w") as f:
                json.dump({"format": FORMAT, "journal": self.journal.name, **manifest}, f,
                          default=repr)

        _atomic_write(self.manifest, write)

    def write_table(self, df: pd.DataFrame) -> None:
        """Atomically write the CSV or Parquet table (nothing for a ``.jsonl`` ``out``)."""
        if self.table is None:
            return
        if self.table.suffix == ".csv":
            _atomic_write(self.table, lambda tmp: df.to_csv(tmp, index=False))
        else:
            _atomic_write(self.table, lambda tmp: df.to_parquet(tmp, index=False))

    def close(self) -> None:
        """Release the lock and close the journal."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def encode(record: dict) -> bytes:
    """One journal line."""
    return (json.dumps(record, separators=(",", ":"), allow_nan=True, default=repr)
            + "\n").encode()


def load(out) -> pd.DataFrame:
    """The records persisted at ``out`` as a tidy DataFrame (same columns as :func:`sweep`).

    Works on a running, interrupted or finished sweep. Rows follow the manifest's plan (the
    latest sweep that wrote to ``out``) and only finished jobs appear; ``df.attrs["pending"]``
    counts the planned jobs not finished yet. Without a manifest, every record in the journal
    appears, in journal order.
    """
    journal, manifest_path, _ = _paths(out)
    if not journal.exists():
        raise FileNotFoundError(f"no sweep journal at {journal}")
    records, _ = _parse(journal.read_bytes(), journal)
    by_key = {rec["key"]: rec for rec in records}
    if manifest_path.exists():
        plan = json.loads(manifest_path.read_text())["jobs"]
        keys = [job["key"] for job in plan]
    else:
        keys = list(by_key)
    rows = [(by_key[k]["params"], by_key[k]["replicate"], by_key[k]["seed"], by_key[k])
            for k in keys if k in by_key]
    df = frame(rows)
    df.attrs["pending"] = len(keys) - len(rows)
    return df
