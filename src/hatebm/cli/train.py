"""`hatebm train PRESET [key=value ...] --out RUN` (tandem §3.4, joint §3.2) and `hatebm pretrain gan|ae PRESET`
(the base generators of the joint runs): both build a config from a preset or a JSON file plus overrides and call
:func:`hatebm.train`. Overrides may stand before or after the flags."""
from __future__ import annotations

import argparse
import json

from hatebm.cli.common import add_quiet, check_out, parser_kwargs
from hatebm.config import (AutoencoderConfig, GanConfig, HatConfig, RunConfig, load_config, override, preset,
                           preset_names, to_dict)

PRETRAIN = {"gan": (GanConfig, "an SN-GAN with hinge loss (the base generator for refinement, §4.1, and DDLS's "
                               "discriminator)"),
            "ae": (AutoencoderConfig, "a deterministic autoencoder with image-shaped latents on the sphere (the "
                                      "decoder for retrofit, §4.2)")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a Hat EBM (tandem synthesis §3.4, or joint on a frozen generator §3.2)",
                       **parser_kwargs(description="Train from a preset or a config file. Override any value with "
                                       "key=value (dotted keys for sections, e.g. sampler.steps=20 data.root=/data), "
                                       "before or after the flags. Joint presets (*_refine, *_retrofit) need "
                                       "generator.source=RUN_OR_FILE."))
    p.add_argument("preset", help=f"preset name ({', '.join(preset_names(HatConfig))}) or a config .json file")
    add_run_arguments(p)
    p.set_defaults(func=run, kind=HatConfig, command_line="hatebm train")

    pre = sub.add_parser("pretrain", help="pretrain a base generator: an SN-GAN (gan) or an autoencoder (ae)",
                         **parser_kwargs(description="Pretrain the generator a joint Hat EBM builds on; pass the run "
                                         "folder to `hatebm train ... generator.source=RUN`."))
    kinds = pre.add_subparsers(dest="kind_name", required=True, metavar="KIND")
    for name, (cls, what) in PRETRAIN.items():
        k = kinds.add_parser(name, help=f"train {what}", **parser_kwargs())
        k.add_argument("preset", help=f"preset name ({', '.join(preset_names(cls))}) or a config .json file")
        add_run_arguments(k)
        k.set_defaults(func=run, kind=cls, command_line=f"hatebm pretrain {name}")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options every training command shares: overrides, --out, --resume, --dry-run, --quiet."""
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (dotted keys)")
    p.add_argument("--out", help="run folder (default: runs/<preset>)")
    p.add_argument("--resume", action="store_true", help="continue the newest checkpoint in --out")
    p.add_argument("--dry-run", action="store_true", help="print the resolved configuration and exit")
    add_quiet(p)


def command_for(cfg: RunConfig) -> str:
    """The subcommand that trains ``cfg``."""
    name = next((n for n, (cls, _) in PRETRAIN.items() if isinstance(cfg, cls)), None)
    return "hatebm train" if name is None else f"hatebm pretrain {name}"


def run(args: argparse.Namespace) -> int:
    import hatebm

    base = load_config(args.preset) if args.preset.endswith(".json") else preset(args.preset)
    if not isinstance(base, args.kind):
        raise ValueError(f"{args.preset} configures a run of kind '{base.KIND}': run it with `{command_for(base)}`")
    cfg = override(base, args.overrides)
    if args.dry_run:
        print(json.dumps(to_dict(cfg), indent=1))
        return 0
    name = args.preset.rsplit("/", 1)[-1].removesuffix(".json")
    check_out(args.out or f"runs/{name}", folder=True)
    model = hatebm.train(cfg, args.out or f"runs/{name}", resume=args.resume, progress=not args.quiet)
    print(f"run folder: {args.out or f'runs/{name}'} (step {model.step})")
    return 0
