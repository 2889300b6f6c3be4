"""`hatebm compare GAN_RUN HAT_RUN [-n N] [--steps K ...] [--out DIR]`: the base generator of a `hatebm pretrain gan`
run, DDLS on its discriminator and a joint Hat EBM on that generator, paired (the same latents Z0 and per-image noise
seeds for every method), with FID, KID, sampling cost and chain diagnostics (`hatebm.eval.compare`)."""
from __future__ import annotations

import argparse
from typing import Any

from hatebm.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired comparison of a GAN's generator, DDLS and a joint Hat EBM on it "
                                       "(FID, KID, cost)", **common.parser_kwargs())
    p.add_argument("gan", metavar="GAN_RUN", help="run (or checkpoint) folder of `hatebm pretrain gan`: the base "
                                                  "generator and the discriminator of DDLS")
    p.add_argument("hat", metavar="HAT_RUN", help="run (or checkpoint) folder of a joint Hat EBM trained on GAN_RUN's "
                                                  "generator (generator.source=GAN_RUN)")
    p.add_argument("-n", "--n", type=int, default=2000, help="number of samples per method")
    common.add_seed(p)
    p.add_argument("--steps", type=int, nargs="+", default=None, metavar="K",
                   help="also sample the Hat EBM with each K Langevin steps (an eval-K sweep; K = 0 gives the base "
                        "images); the hat row always uses the run's eval_steps")
    p.add_argument("--ddls-steps", type=int, default=100, help="Langevin steps of DDLS")
    p.add_argument("--ddls-eps", type=float, default=0.1, help="latent step size of DDLS")
    p.add_argument("--ref", default="fashion_mnist:test",
                   help="reference statistics .npz (from `hatebm fid ref`) or reference images: a dataset spec "
                        "NAME[:SPLIT], an .npz of uint8 images or a folder of images, at the samples' size")
    p.add_argument("--ref-n", type=int, default=None, help="number of reference images (default: the whole split)")
    common.add_kid_options(p)
    common.add_inception_weights(p)
    p.add_argument("--out", default=None, help="folder to write METHOD.npz (uint8 `images`) and metrics.json into")
    p.add_argument("--batch-size", type=int, default=250, help="chains sampled at once")
    common.add_trust_generator(p)
    common.add_device(p)
    common.add_quiet(p)
    p.set_defaults(func=run)


def _number(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(results: dict[str, Any]) -> str:
    """The comparison as a text table, one row per method."""
    head = (f"{'method':<10} {'steps':>5} {'FID':>10} {'KID':>10} {'seconds':>9} {'hat/img':>8} {'G/img':>7} "
            f"{'‖Z_K−Z0‖':>9} {'Y RMS':>8}")
    rows = [head, "-" * len(head)]
    for name, e in results.items():
        if name == "protocol":
            continue
        rows.append(f"{name:<10} {e['steps']:>5} {e['fid']:>10.4f} {_number(e['kid'], '.6f'):>10} "
                    f"{e['seconds']:>9.2f} {_number(e['passes']['hat'], '.1f'):>8} "
                    f"{_number(e['passes']['generator'], '.1f'):>7} {e['z_move']:>9.4f} {e['y_rms']:>8.5f}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from hatebm.eval.compare import paired_comparison

    if args.out:
        common.check_out(args.out, folder=True)
    results = paired_comparison(
        args.gan, args.hat, n=args.n, seed=args.seed, steps=args.steps, ddls_steps=args.ddls_steps,
        ddls_eps=args.ddls_eps, ref=args.ref, ref_n=args.ref_n, out=args.out, batch_size=args.batch_size,
        device=args.device, progress=not args.quiet, weights=args.weights, kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size, trust_generator=args.trust_generator, ref_n_name="--ref-n",
    )
    protocol = results["protocol"]
    print(f"{protocol['n']} paired samples per method (seed {protocol['seed']}), reference {protocol['ref']}; "
          f"GAN step {protocol['checkpoint_steps']['gan']}, Hat EBM step {protocol['checkpoint_steps']['hat']}")
    print(table(results))
    if "skipped" in protocol["ddls"]:
        print(f"ddls: skipped, {protocol['ddls']['skipped']}")
    if args.out:
        files = [e["file"] for name, e in results.items() if name != "protocol"]
        print(f"wrote {protocol['metrics']} and {', '.join(files)}")
    else:
        print("nothing written (pass --out DIR for the images and metrics.json)")
    return 0
