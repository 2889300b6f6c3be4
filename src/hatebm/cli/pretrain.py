"""`hatebm pretrain gan|ae PRESET [key=value ...] --out RUN`: the base generators of the joint Hat EBM experiments."""
from __future__ import annotations

import argparse
import json

from hatebm.cli.train import add_run_arguments, launch
from hatebm.config import PRETRAIN_PRESETS, PretrainConfig, load_config, override, pretrain_preset, to_dict

WHAT = {"gan": "an SN-GAN with hinge loss (the base generator for refinement, §4.1, and DDLS's discriminator)",
        "ae": "a deterministic autoencoder with image-shaped latents on the sphere (the decoder for retrofit, §4.2)"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="pretrain a base generator: an SN-GAN (gan) or an autoencoder (ae)",
                       description="Pretrain the generator a joint Hat EBM builds on; pass the run folder to "
                                   "`hatebm train ... generator.source=RUN`.")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, what in WHAT.items():
        k = kinds.add_parser(kind, help=f"train {what}")
        names = ", ".join(n for n in sorted(PRETRAIN_PRESETS) if n.startswith(kind + "_"))
        k.add_argument("preset", help=f"preset name ({names}) or a config .json file")
        add_run_arguments(k)
        k.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base = load_config(args.preset, PretrainConfig) if args.preset.endswith(".json") else pretrain_preset(args.preset)
    cfg = override(base, args.overrides)
    if cfg.kind != args.kind:
        raise ValueError(f"{args.preset} configures kind={cfg.kind}; run it with `hatebm pretrain {cfg.kind}`")
    if args.dry_run:
        print(json.dumps(to_dict(cfg), indent=1))
        return 0
    if cfg.kind == "gan":
        from hatebm.train.gan import train
    else:
        from hatebm.train.autoencoder import train
    return launch(train, cfg, args)
