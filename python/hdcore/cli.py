"""Command line: ``hdcore list`` and ``hdcore reproduce NAME [--quick] [--out DIR] [--seed S]``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _cmd_list(args) -> int:
    from hdcore.studies import STUDIES

    width = max(len(n) for n in STUDIES)
    for name in sorted(STUDIES):
        print(f"{name:<{width}}  {STUDIES[name].title}")
    return 0


def _cmd_reproduce(args) -> int:
    from hdcore.studies import STUDIES, get_study

    names = sorted(STUDIES) if args.all else args.names
    if not names:
        print("hdcore reproduce: give study names or --all (see `hdcore list`)", file=sys.stderr)
        return 2
    for name in names:
        if name not in STUDIES:
            print(f"hdcore reproduce: unknown study {name!r}; available: {', '.join(sorted(STUDIES))}",
                  file=sys.stderr)
            return 2
    for name in names:
        out = get_study(name).reproduce(args.out, quick=args.quick, seed=args.seed,
                                        progress=not args.quiet)
        print(f"{name}: wrote {out.figure_path} and {out.csv_path} in {out.seconds:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hdcore", description="High-dimensional learning theory: "
                                "reproduce the studies (theory + simulation on one figure).")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the studies").set_defaults(func=_cmd_list)
    r = sub.add_parser("reproduce", help="run studies and write NAME.png and NAME.csv")
    r.add_argument("names", nargs="*", help="study names (see `hdcore list`)")
    r.add_argument("--all", action="store_true", help="run every study")
    r.add_argument("--quick", action="store_true", help="small sizes, few seeds (seconds)")
    r.add_argument("--out", default="results", help="output directory (default: results)")
    r.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``hdcore`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
