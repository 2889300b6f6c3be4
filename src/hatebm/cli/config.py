"""`hatebm config schema KIND` (the JSON Schema of a config file of that kind of run, for editors) and `hatebm config
table [KIND ...]` (the Markdown tables of every option, key by key: type, range, default and meaning; with `--write
FILE`, into the marked region of FILE, as docs/options.md is made). Both are read from the options' declarations."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hatebm.cli import common

BEGIN = "<!-- options: begin (written by `hatebm config table --write docs/options.md`; edit the declarations) -->"
END = "<!-- options: end -->"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from hatebm.config import CONFIGS

    p = sub.add_parser("config", help="the options of each kind of run: JSON Schema, Markdown tables",
                       **common.parser_kwargs())
    actions = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    schema = actions.add_parser("schema", help="print the JSON Schema of a config file of KIND",
                                **common.parser_kwargs())
    schema.add_argument("kind", choices=list(CONFIGS), help="the kind of run")
    schema.set_defaults(func=run_schema)
    table = actions.add_parser("table", help="print every option of each KIND as a Markdown table",
                               **common.parser_kwargs())
    table.add_argument("kinds", nargs="*", metavar="KIND", help=f"kinds of run: {', '.join(CONFIGS)} (default: all)")
    table.add_argument("--write", default=None, metavar="FILE",
                       help=f"replace the region of FILE between the lines {BEGIN} and {END} instead of printing")
    table.set_defaults(func=run_table)


def run_schema(args: argparse.Namespace) -> int:
    from hatebm.config import json_schema

    print(json.dumps(json_schema(args.kind), indent=1))
    return 0


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(kind: str) -> str:
    """The Markdown table of every option of ``kind``: dotted key, type, range, default and meaning."""
    from hatebm.config import CONFIGS
    from hatebm.config.parse import flat
    from hatebm.options import Range, expected, options

    cls = CONFIGS[kind]
    defaults = flat(cls.model_construct().model_dump())
    rows = [f"### `{kind}` runs (`{cls.__name__}`)", "", "| key | type | range | default | meaning |",
            "|---|---|---|---|---|"]
    for key, node in options(cls).items():
        rows.append(f"| `{key}` | {_cell(expected(node))} | {Range.of(node) or ''} | `{json.dumps(defaults[key])}` | "
                    f"{_cell(node['description'])} |")
    return "\n".join(rows)


def tables(kinds: list[str]) -> str:
    """The tables of ``kinds``, one after the other."""
    return "\n\n".join(table(kind) for kind in kinds)


def write_region(path: str | Path, text: str) -> None:
    """Replace what stands between the BEGIN and END lines of the file ``path`` with ``text``."""
    path = Path(path)
    doc = path.read_text(encoding="utf-8")
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        raise ValueError(f"{path} needs one line {BEGIN} and, after it, one line {END} around the tables")
    head, rest = doc.split(BEGIN)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def run_table(args: argparse.Namespace) -> Any:
    from hatebm.config import CONFIGS

    unknown = [kind for kind in args.kinds if kind not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown kinds of run {unknown}; choose from {', '.join(CONFIGS)}")
    text = tables(args.kinds or list(CONFIGS))
    if args.write:
        write_region(args.write, text)
        print(f"wrote the option tables of {', '.join(args.kinds or CONFIGS)} into {args.write}")
    else:
        print(text)
    return 0
