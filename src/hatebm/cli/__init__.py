"""The `hatebm` command. Each subcommand lives in its own module with `add_parser(subparsers)`; the modules are thin
and call the same functions as the Python API. Flags mean one thing everywhere (:mod:`hatebm.cli.common`)."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from hatebm.cli.common import Parser, parser_kwargs

COMMANDS = ("train", "sample", "fid", "proxy_fid", "ood", "figures", "data", "compare", "import_tf", "config")


def build_parser() -> argparse.ArgumentParser:
    from hatebm import __version__

    parser = Parser(prog="hatebm", description="Hat EBMs: energy-based models on any generator.", **parser_kwargs())
    parser.add_argument("--version", action="version", version=f"hatebm {__version__}")
    parser.add_argument("--debug", action="store_true", help=f"show tracebacks of errors (anywhere on the line; or "
                                                             f"{DEBUG}=1)")
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


DEBUG = "HATEBM_DEBUG"  # environment variable: set to 1 for tracebacks, like --debug
BAD_INPUT = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError)  # and DivergenceError


def describe(err: Exception) -> tuple[str, int]:
    """One line for an error and the exit status: 2 for bad input (the message says what to change) and a diverged
    run, 1 for other OS errors (the file and the reason) and for anything else, a bug, whose type and message are
    shown with where to find the traceback."""
    from hatebm.train.stats import DivergenceError

    code = 2 if isinstance(err, (*BAD_INPUT, DivergenceError)) else 1
    if isinstance(err, OSError) and err.strerror:
        return (f"{err.filename}: {err.strerror}" if err.filename is not None else err.strerror), code
    if code == 2 or isinstance(err, OSError):
        return str(err), code
    return (f"unexpected {type(err).__name__}: {err} (a bug in hatebm or in a network it was given: rerun with "
            f"--debug or {DEBUG}=1 for the traceback, and report it)"), 1


def main(argv: list[str] | None = None) -> int:
    """Run the `hatebm` command. On failure: one line on stderr and the exit status of :func:`describe`, or 130 /
    143 when SIGINT / SIGTERM stopped a training run (after writing its checkpoint; 130 for Ctrl-C elsewhere).
    Warnings are one line each too (``hatebm COMMAND: warning: ...``). ``--debug`` (anywhere on the line) or
    ``HATEBM_DEBUG=1`` shows tracebacks, and where each warning was raised, instead. CPU work uses
    :func:`hatebm.devices.cpu_threads` threads."""
    import torch

    from hatebm.devices import cpu_threads
    from hatebm.distributed import close
    from hatebm.train.signals import Stopped

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG, "") not in ("", "0")
    args = parse([a for a in argv if a != "--debug"])
    torch.set_num_threads(cpu_threads())  # at start-up; Python callers keep the count they set
    format_warning = warnings.formatwarning
    if not debug:
        warnings.formatwarning = lambda message, *_, **__: f"hatebm {args.command}: warning: {message}\n"
    try:
        return int(args.func(args) or 0)
    except Stopped as stop:
        print(f"hatebm {args.command}: {stop}", file=sys.stderr)
        return stop.code
    except (KeyboardInterrupt, Exception) as err:
        if debug:
            raise
        message, code = ("interrupted", 130) if isinstance(err, KeyboardInterrupt) else describe(err)
        print(f"hatebm {args.command}: {'error: ' if code != 130 else ''}{message}", file=sys.stderr)
        return code
    finally:
        close()
        warnings.formatwarning = format_warning


if __name__ == "__main__":
    sys.exit(main())
