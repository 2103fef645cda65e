"""Command line.

``hdcore list``
    The studies.
``hdcore reproduce NAME... | --all [--quick] [--out DIR] [--seed S] [--backend ...] [--resume]``
    Run studies; write ``NAME.png`` and ``NAME.csv`` per study, the raw runs in
    ``DIR/runs/NAME.jsonl`` and an index ``DIR/gallery.md`` with the figures.
``hdcore sweep STUDY [--grid NAME=SPEC ...] [--seeds N] [--backend dask --scheduler ADDR]
[--out results.parquet]``
    A study's simulation over a custom grid, persisted and resumable.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import os
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main", "parse_axis"]

_ERRORS = (ValueError, TypeError, ConnectionError, ImportError)


def _scalar(text: str):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_axis(spec: str) -> tuple[str, list]:
    """One ``--grid`` axis: ``NAME=START:STOP:NUM`` (NUM evenly spaced values, both ends
    included), ``NAME=A,B,C`` (a list) or ``NAME=VALUE``. Numbers become int or float, other
    values stay strings.

    >>> parse_axis("alpha=0.5:2:4")
    ('alpha', [0.5, 1.0, 1.5, 2.0])
    >>> parse_axis("prior=rademacher,gaussian")
    ('prior', ['rademacher', 'gaussian'])
    """
    name, sep, values = spec.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not values.strip():
        raise ValueError(f"--grid {spec!r}: expected NAME=START:STOP:NUM, NAME=A,B,C or "
                         "NAME=VALUE")
    parts = values.split(":")
    if len(parts) == 3:
        import numpy as np

        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"--grid {spec!r}: START:STOP:NUM needs two numbers and a "
                             "count") from None
        if num < 1:
            raise ValueError(f"--grid {spec!r}: NUM must be at least 1")
        return name, [float(v) for v in np.linspace(start, stop, num)]
    if len(parts) != 1:
        raise ValueError(f"--grid {spec!r}: a range is START:STOP:NUM")
    return name, [_scalar(v.strip()) for v in values.split(",")]


def study_grid(study, axes: list[tuple[str, list]], quick: bool) -> list[dict]:
    """The study's grid with the given axes replaced: the distinct combinations of its other
    parameters, each crossed with the product of ``axes`` (in command-line order)."""
    import itertools

    base = study.grid(quick)
    names = [n for n, _ in axes]
    if len(set(names)) != len(names):
        raise ValueError(f"--grid gives a parameter twice: {names}")
    known = {k for p in base for k in p}
    accepted = {n for n, p in inspect.signature(study.simulate).parameters.items()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n != "seed"}
    for n in names:
        if n not in known | accepted:
            raise ValueError(f"--grid {n}: study {study.name!r} has no parameter {n!r}; its "
                             f"parameters are {', '.join(sorted(known | accepted))}")
    others: list[dict] = []
    for p in base:
        rest = {k: v for k, v in p.items() if k not in names}
        if rest not in others:
            others.append(rest)
    combos = list(itertools.product(*(values for _, values in axes)))
    return [{**rest, **dict(zip(names, combo))} for rest in others for combo in combos]


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value}")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got 0")
    return value


def _writable_dir(path: Path) -> Path:
    """``path`` as an existing writable directory (created if missing), else ValueError."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {str(path)!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {str(path)!r}: cannot create the directory "
                         f"({exc.strerror or exc})") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ValueError(f"--out {str(path)!r}: directory is not writable "
                         f"({exc.strerror or exc})") from None
    return path


def _writable_file(path: Path) -> Path:
    """``path`` as a file that can be written (its directory created if missing)."""
    if path.is_dir():
        raise ValueError(f"--out {str(path)!r} is a directory; give a file (.csv, .parquet "
                         "or .jsonl)")
    from hdcore.sweeps.store import FORMATS

    if path.suffix not in FORMATS:
        raise ValueError(f"--out {str(path)!r}: the file must end in {', '.join(FORMATS)}")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--out {str(path)!r}: {str(parent)!r} is not a directory")
    _writable_dir(parent)
    return path


def _check_grid_types(study, grid: list[dict], axes: list[tuple[str, list]], quick: bool) -> None:
    """Reject ``--grid`` values of the wrong kind (``snr=abc`` where the study uses numbers)
    before any run starts."""
    import numbers

    def is_number(v) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    base = study.grid(quick)
    defaults = {n: p.default for n, p in inspect.signature(study.simulate).parameters.items()
                if p.default is not inspect.Parameter.empty}
    for name, values in axes:
        used = [p[name] for p in base if name in p]
        if not used and name in defaults and defaults[name] is not None:
            used = [defaults[name]]
        if not used:
            continue
        if all(is_number(v) for v in used):
            bad = [v for v in values if not is_number(v)]
            if bad:
                raise ValueError(f"--grid {name}={bad[0]}: {name} takes numbers (the study uses "
                                 f"{', '.join(f'{v:g}' for v in sorted(set(used))[:4])})")
            if all(isinstance(v, numbers.Integral) for v in used):
                frac = [v for v in values if not float(v).is_integer()]
                if frac:
                    raise ValueError(f"--grid {name}={frac[0]}: {name} takes integers")
        elif all(isinstance(v, str) for v in used):
            bad = [v for v in values if not isinstance(v, str)]
            if bad:
                raise ValueError(f"--grid {name}={bad[0]}: {name} takes names (the study uses "
                                 f"{', '.join(sorted(set(used))[:4])})")


def _cmd_list(args) -> int:
    from hdcore.studies import STUDIES

    width = max(len(n) for n in STUDIES)
    for name in sorted(STUDIES):
        print(f"{name:<{width}}  {STUDIES[name].title}")
    return 0


def _fail(command: str, exc: BaseException) -> int:
    print(f"hdcore {command}: error: {exc}", file=sys.stderr)
    return 2


def _cmd_sweep(args) -> int:
    import warnings

    from hdcore.studies import STUDIES, get_study
    from hdcore.sweeps import sweep

    if args.study not in STUDIES:
        return _fail("sweep", ValueError(f"unknown study {args.study!r}; available: "
                                         f"{', '.join(sorted(STUDIES))}"))
    study = get_study(args.study)
    backend = args.backend or ("dask" if args.scheduler else "local")
    out = args.out or f"results/{study.name}-sweep.csv"
    t0 = time.perf_counter()
    try:
        axes = [parse_axis(s) for s in args.grid]
        grid = study_grid(study, axes, args.quick)
        _check_grid_types(study, grid, axes, args.quick)
        _writable_file(Path(out))
    except _ERRORS as exc:
        return _fail("sweep", exc)
    try:
        seeds = args.seeds if args.seeds is not None else study.n_seeds(args.quick)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # failures are reported below
            df = sweep(study.simulate, grid, seeds=seeds, seed=args.seed, backend=backend,
                       scheduler=args.scheduler, out=out, n_workers=args.workers,
                       threads_per_worker=args.threads, progress=not args.quiet,
                       desc=study.name, name=f"study:{study.name}", resume=not args.fresh,
                       retry_failed=args.retry_failed)
    except _ERRORS as exc:
        return _fail("sweep", exc)
    failed = df["error"].notna()
    params = [c for c in df.columns if c in {k for p in grid for k in p}]
    results = [c for c in df.columns[df.columns.get_loc("seed") + 1:df.columns.get_loc("wall_time")]
               if df[c].dtype.kind in "biuf"]
    if results and (~failed).any():
        means = df[~failed].groupby(params, sort=False)[results].mean()
        print(means.to_string(max_rows=60))
    print(f"{study.name}: {len(df)} runs ({len(grid)} points x {len(df) // len(grid)} seeds), "
          f"{int(failed.sum())} failed; wrote {out} in {time.perf_counter() - t0:.1f} s")
    for err in df.loc[failed, "error"].drop_duplicates().head(5):
        print(f"  failed: {err}", file=sys.stderr)
    return 1 if failed.any() else 0


def _write_gallery(out_dir: Path, entries: list[dict], args, seconds: float) -> Path:
    """``gallery.md``: a table of the studies, then each figure with links to its data."""
    from hdcore import __version__

    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    mode = "quick" if args.quick else "full"
    backend = args.backend or ("dask" if args.scheduler else "local")
    lines = ["# hdcore gallery", "",
             (f"hdcore {__version__}, {mode} mode, base seed {args.seed}, backend {backend}; "
              f"generated {stamp} in {seconds:.0f} s by `hdcore reproduce`."), "",
             "| study | title | runs | failed runs | seconds |", "|---|---|---:|---:|---:|"]
    for e in entries:
        if "error" in e:
            lines.append(f"| {e['name']} | {e['title']} | | | study failed |")
        else:
            o = e["output"]
            lines.append(f"| [{e['name']}](#{e['name']}) | {e['title']} | {len(o.simulation)} "
                         f"| {o.failed} | {o.seconds:.1f} |")

    def link(p) -> str:
        rel = Path(p).relative_to(out_dir).as_posix()
        return f"[{rel}]({rel})"

    for e in entries:
        lines += ["", f"## {e['name']}", "", e["title"], ""]
        if "error" in e:
            lines.append(f"**The study failed:** `{e['error']}`")
            continue
        o = e["output"]
        lines += [f"![{e['name']}]({Path(o.figure_path).relative_to(out_dir).as_posix()})", "",
                  (f"Data: {link(o.csv_path)} (theory and aggregated simulations); raw runs: "
                   f"{link(o.runs_path)}.")]
    path = out_dir / "gallery.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cmd_reproduce(args) -> int:
    import traceback

    from hdcore.studies import STUDIES, get_study

    names = sorted(STUDIES) if args.all else args.names
    if not names:
        return _fail("reproduce", ValueError("give study names or --all (see `hdcore list`)"))
    for name in names:
        if name not in STUDIES:
            return _fail("reproduce", ValueError(f"unknown study {name!r}; available: "
                                                 f"{', '.join(sorted(STUDIES))}"))
    backend = args.backend or ("dask" if args.scheduler else "local")
    try:
        out_dir = _writable_dir(Path(args.out))
    except ValueError as exc:
        return _fail("reproduce", exc)
    t0 = time.perf_counter()
    entries, status = [], 0
    for name in names:
        study = get_study(name)
        try:
            out = study.reproduce(out_dir, quick=args.quick, seed=args.seed,
                                  progress=not args.quiet, backend=backend,
                                  scheduler=args.scheduler, n_workers=args.workers,
                                  resume=args.resume)
        except (ConnectionError, ImportError) as exc:  # the backend, the same for every study
            return _fail("reproduce", exc)
        except Exception as exc:  # noqa: BLE001 -- one broken study must not stop the gallery
            traceback.print_exc()
            print(f"{name}: FAILED ({type(exc).__name__}: {exc})", file=sys.stderr)
            entries.append({"name": name, "title": study.title,
                            "error": f"{type(exc).__name__}: {exc}"})
            status = 1
            continue
        entries.append({"name": name, "title": study.title, "output": out})
        failed = f", {out.failed} runs failed" if out.failed else ""
        print(f"{name}: wrote {out.figure_path} and {out.csv_path} in {out.seconds:.1f} s{failed}")
        status = status or int(out.failed > 0)
    gallery = _write_gallery(out_dir, entries, args, time.perf_counter() - t0)
    print(f"gallery: {gallery}")
    return status


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("local", "dask"),
                   help="where simulations run (default: local; dask if --scheduler is given)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="Dask scheduler address, e.g. tcp://host:8786 (default with --backend "
                        "dask: start a local Dask cluster)")
    p.add_argument("--workers", type=_positive, metavar="N",
                   help="worker processes (default: one per core)")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (``hdcore reproduce: error: ...``) and exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from hdcore import __version__

    p = _Parser(prog="hdcore", description="High-dimensional learning theory: "
                "reproduce the studies (theory + simulation on one figure).")
    p.add_argument("--version", action="version", version=f"hdcore {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the studies").set_defaults(func=_cmd_list)

    r = sub.add_parser("reproduce", help="run studies; write NAME.png, NAME.csv and gallery.md")
    r.add_argument("names", nargs="*", help="study names (see `hdcore list`)")
    r.add_argument("--all", action="store_true", help="run every study")
    r.add_argument("--quick", action="store_true", help="small sizes, few seeds (seconds)")
    r.add_argument("--out", default="results", help="output directory (default: results)")
    r.add_argument("--seed", type=_non_negative, default=0, help="base seed (default 0)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--resume", action="store_true",
                   help="reuse the runs already in OUT/runs/ (finish an interrupted run)")
    _add_backend_options(r)
    r.set_defaults(func=_cmd_reproduce)

    s = sub.add_parser("sweep", help="a study's simulation over a custom grid, resumable",
                       description="Run a study's simulation over a grid x seeds. Each run is "
                       "persisted as it finishes; rerunning the same command resumes.")
    s.add_argument("study", help="study name (see `hdcore list`)")
    s.add_argument("--grid", action="append", default=[], metavar="NAME=SPEC",
                   help="replace a parameter's values: NAME=START:STOP:NUM, NAME=A,B,C or "
                        "NAME=VALUE (repeatable; the other parameters keep the study's values)")
    s.add_argument("--seeds", type=_positive, help="replicates per point (default: the study's)")
    s.add_argument("--seed", type=_non_negative, default=0, help="base seed (default 0)")
    s.add_argument("--quick", action="store_true", help="start from the study's quick grid")
    s.add_argument("--out", help="results file: .csv, .parquet or .jsonl (default: "
                   "results/STUDY-sweep.csv); the journal is the same path with .jsonl")
    s.add_argument("--threads", type=_positive, metavar="N", help="Rust threads per worker "
                   "(default: cores / workers)")
    s.add_argument("--fresh", action="store_true", help="discard runs already in --out")
    s.add_argument("--retry-failed", action="store_true", help="rerun the runs that failed")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_backend_options(s)
    s.set_defaults(func=_cmd_sweep)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the ``hdcore`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments, e.g. ``["reproduce", "spiked-wigner", "--quick"]``.

    Returns
    -------
    int
        The exit status: 0 success, 1 some runs or studies failed, 2 a usage error (reported
        in one line on stderr, before any work starts).
    """
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def console_main() -> None:
    """The ``hdcore`` executable: a headless matplotlib backend (unless ``MPLBACKEND`` says
    otherwise; figures are only written to files), then :func:`main`."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
