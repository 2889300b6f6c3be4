"""`hatebm import-tf EXPERIMENT --out RUN --ebm PREFIX --gen PREFIX [--inf PREFIX] [--optim NPZ] [--bank NPY --bank-z
NPY] [key=value ...]`: the authors' released TensorFlow networks as a hatebm run folder (no TensorFlow needed)."""
from __future__ import annotations

import argparse

from hatebm.cli.common import check_out, parser_kwargs
from hatebm.tf_import.experiments import EXPERIMENTS, PROTOCOLS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-tf", help="import the authors' TensorFlow checkpoints (point0bar1/hat-ebm) as a run",
                       **parser_kwargs(description="Writes a run folder that `hatebm sample / fid / ood / compare / "
                                       "figures`, --resume and generator.source=RUN accept. Checkpoints are given by "
                                       "their prefix (e.g. checkpoints/ebm_25000.ckpt, beside which .index and "
                                       ".data-00000-of-00001 lie). --gen alone imports a generator-only run (a "
                                       "released SN-GAN or decoder) for a joint run to refine. Network widths are "
                                       "read from the checkpoints; the config is the experiment's preset with the "
                                       "authors' settings (docs/authors_models.md)."))
    p.add_argument("experiment", choices=tuple(EXPERIMENTS), metavar="EXPERIMENT",
                   help=f"the authors' config name: {', '.join(EXPERIMENTS)}")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (dotted keys)")
    p.add_argument("--out", required=True, help="new run folder")
    p.add_argument("--ebm", help="the hat network's checkpoint prefix (their ebm_N.ckpt)")
    p.add_argument("--gen", help="the generator's checkpoint prefix (their gen_N.ckpt, or the released gen.ckpt)")
    p.add_argument("--inf", help="cifar10_ae: the encoder's checkpoint prefix (their inf_N.ckpt)")
    p.add_argument("--optim", help="the hat's optimiser file (their ebm_optim_N.npz): Adam's moments and the moving "
                                   "average of the weights, which becomes the run's hat_ema")
    p.add_argument("--bank", help="synthesis runs: the bank's images (their persistent_N.npy, NHWC)")
    p.add_argument("--bank-z", help="synthesis runs: the bank's latents (their persistent_z_N.npy)")
    p.add_argument("--protocol", choices=PROTOCOLS, default="train",
                   help="train: their training settings, which --resume continues; fid: the sampling settings of "
                        "their FID scripts (no Y drift clip, their Y0, temperature and Y prior), for `hatebm sample` "
                        "and `hatebm fid` as they evaluated")
    p.add_argument("--ranks", type=int, default=1,
                   help="the number of ranks (GPUs) of the torchrun job that will --resume it: each gets its own RNG, "
                        "data position and share of the bank")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hatebm.tf_import import import_tf

    out = check_out(args.out, folder=True)
    folder = import_tf(args.experiment, out, ebm=args.ebm, gen=args.gen, inf=args.inf, optim=args.optim,
                       bank=args.bank, bank_z=args.bank_z, overrides=args.overrides, protocol=args.protocol,
                       ranks=args.ranks, load=False)
    print(f"imported {args.experiment} into {out} (checkpoint {folder.name})")
    return 0
