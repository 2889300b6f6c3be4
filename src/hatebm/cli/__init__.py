"""The `hatebm` command. Each subcommand lives in its own module with `add_parser(subparsers)`;
the modules are thin and call the same functions as the Python API."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("train", "pretrain", "sample", "fid", "proxy_fid", "ood", "figures")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hatebm", description="Hat EBMs: energy-based models on any generator.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hatebm.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:  # user errors: one clear line, no traceback
        print(f"hatebm {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
