"""`hatebm train PRESET [key=value ...] --out RUN`: train from a preset or a JSON config, with overrides.
The config's ``variant`` picks the trainer: tandem (§3.4) or joint on a frozen generator (§3.2)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from hatebm.config import PRESETS, load_config, override, preset, to_dict


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a Hat EBM (tandem synthesis §3.4, or joint on a frozen generator §3.2)",
                       description="Train from a preset or a config file. Override any value with key=value "
                                   "(dotted keys for sections, e.g. sampler.steps=20 data.root=/data). Joint presets "
                                   "(*_refine, *_retrofit) need generator.source=RUN_OR_FILE.")
    p.add_argument("preset", help=f"preset name ({', '.join(sorted(PRESETS))}) or a config .json file")
    add_run_arguments(p)
    p.set_defaults(func=run)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options every training command shares: overrides, --out, --resume, --dry-run, --no-progress."""
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (dotted keys)")
    p.add_argument("--out", help="run folder (default: runs/<preset>)")
    p.add_argument("--resume", action="store_true", help="continue the newest checkpoint in --out")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    base = load_config(args.preset) if args.preset.endswith(".json") else preset(args.preset)
    cfg = override(base, args.overrides)
    if args.dry_run:
        print(json.dumps(to_dict(cfg), indent=1))
        return 0
    if cfg.variant == "joint":
        from hatebm.train.joint import train
    else:
        from hatebm.train.tandem import train
    return launch(train, cfg, args)


def launch(train: Callable[..., Path], cfg: Any, args: argparse.Namespace) -> int:
    """Run a trainer into --out (default runs/<preset name>) and say where the results are."""
    name = args.preset.rsplit("/", 1)[-1].removesuffix(".json")
    out = train(cfg, args.out or f"runs/{name}", resume=args.resume, progress=not args.no_progress)
    print(f"run folder: {out}")
    return 0
