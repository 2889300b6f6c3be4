"""The `hatebm` command. Each subcommand lives in its own module with `add_parser(subparsers)`; the modules are thin
and call the same functions as the Python API. Flags mean one thing everywhere (:mod:`hatebm.cli.common`)."""
from __future__ import annotations

import argparse
import importlib
import sys

from hatebm.cli.common import parser_kwargs

COMMANDS = ("train", "sample", "fid", "proxy_fid", "ood", "figures", "data", "compare")


def build_parser() -> argparse.ArgumentParser:
    from hatebm import __version__

    parser = argparse.ArgumentParser(prog="hatebm", description="Hat EBMs: energy-based models on any generator.",
                                     **parser_kwargs())
    parser.add_argument("--version", action="version", version=f"hatebm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hatebm.cli.{name}").add_parser(sub)
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides of training commands may also follow the flags."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    overrides = [a for a in extra if "=" in a and not a.startswith("-")]
    if hasattr(args, "overrides") and len(overrides) == len(extra):
        args.overrides += overrides
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from hatebm.distributed import close
    from hatebm.train.stats import DivergenceError

    args = parse(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, DivergenceError) as err:  # user errors: one clear line, no traceback
        print(f"hatebm {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        close()


if __name__ == "__main__":
    sys.exit(main())
