"""`hatebm proxy-fid calc SAMPLES` (proxy FID on classifier features, NOT FID) and `hatebm proxy-fid train`
(train the small Fashion-MNIST classifier behind it, see `hatebm.eval.proxy`)."""
from __future__ import annotations

import argparse
import json

from hatebm.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxy-fid", help="proxy FID (classifier features): a fast CPU stand-in, NOT FID",
                       **common.parser_kwargs())
    actions = p.add_subparsers(dest="proxy_command", required=True, metavar="ACTION")

    calc = actions.add_parser("calc", help="proxy FID (classifier features) of samples against a dataset split",
                              **common.parser_kwargs())
    common.add_samples(calc)
    calc.add_argument("--ref", default="fashion_mnist:test",
                      help="reference images: dataset spec NAME[:SPLIT], .npz or folder")
    calc.add_argument("--ref-n", type=int, default=None,
                      help="number of reference images, a random subset (default: all)")
    calc.add_argument("--ref-seed", type=common.seed, default=0,
                      help="seed of the random reference subset")
    calc.add_argument("--fit", choices=("resize", "pad", "crop"), default=None,
                      help="bring images of another size to 28×28 this way (default: refuse)")
    calc.add_argument("--convert-channels", action="store_true", help="convert RGB images to grey (default: refuse)")
    calc.add_argument("--weights", default=None, help="classifier weights (default: the ones shipped with hatebm)")
    calc.add_argument("--out", default=None, help="metrics.json to merge the result into (key proxy_fid/...)")
    common.add_device(calc)
    common.add_quiet(calc)
    calc.set_defaults(func=run_calc)

    train = actions.add_parser("train", help="train the proxy classifier on Fashion-MNIST (about a minute on 1 core)",
                               **common.parser_kwargs())
    train.add_argument("--out", default=None,
                       help="weights file to write (default: proxy/proxy_fashion_mnist.safetensors in the hatebm "
                            "cache, $HATEBM_CACHE or ~/.cache/hatebm; use it with `proxy-fid calc --weights`)")
    train.add_argument("--overwrite-package", action="store_true",
                       help="allow --out to name a file inside the installed hatebm package (e.g. the shipped "
                            "weights); default: refuse")
    train.add_argument("--root", default=None, help="Fashion-MNIST folder (default: the usual places)")
    train.add_argument("--epochs", type=int, default=2, help="passes over the training split")
    train.add_argument("--batch-size", type=int, default=128, help="images per Adam step")
    train.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    train.add_argument("--seed", type=common.seed, default=0,
                       help="seed of the initialisation and the batch order")
    common.add_quiet(train)
    train.set_defaults(func=run_train)


def run_calc(args: argparse.Namespace) -> int:
    from hatebm.eval.proxy import LABEL, proxy_fid, write_proxy_metrics

    if args.out:
        common.check_out(args.out)
    common.check_count(args.ref_n, "--ref-n", 2)
    samples, source = common.samples_from_args(args)
    if samples is None:  # another rank of a torchrun job: it drew its share, rank 0 computes and writes
        return 0
    metrics = proxy_fid(samples, args.ref, n_ref=args.ref_n, seed=args.ref_seed, fit=args.fit,
                        convert_channels=args.convert_channels, weights=args.weights, source=source)
    print(f"{LABEL}: {metrics['proxy_fid']:.4f}  (not comparable with Inception FID)")
    print("protocol:", json.dumps(metrics["protocol"], indent=2, sort_keys=True))
    if args.out:
        print(f"wrote {write_proxy_metrics(args.out, metrics)}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    import time

    import torch

    from hatebm.data import load_labeled
    from hatebm.eval.proxy import inside_package, save_classifier, train_classifier, trained_weights_path

    out = common.check_out(args.out) if args.out else trained_weights_path()
    if inside_package(out) and not args.overwrite_package:  # before a minute of training, not after
        raise ValueError(f"--out {out} lies inside the installed hatebm package: write elsewhere (default: the hatebm "
                         "cache) or pass --overwrite-package to replace it")
    images, labels = load_labeled("fashion_mnist", "train", args.root)
    test_images, test_labels = load_labeled("fashion_mnist", "test", args.root)
    start = time.perf_counter()
    net, acc = train_classifier(images, labels, test_images, test_labels, epochs=args.epochs,
                                batch_size=args.batch_size, lr=args.lr, seed=args.seed, progress=not args.quiet)
    seconds = time.perf_counter() - start
    meta = {"test_accuracy": f"{acc:.4f}", "train_data": f"fashion_mnist train ({len(images)})",
            "test_data": f"fashion_mnist test ({len(test_images)})", "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "threads": torch.get_num_threads(),
            "seconds": f"{seconds:.1f}", "torch": torch.__version__}
    path = save_classifier(net, out, meta, overwrite_package=args.overwrite_package)
    print(f"proxy classifier: test accuracy {acc:.4f} after {args.epochs} epochs in {seconds:.1f} s "
          f"({torch.get_num_threads()} threads); wrote {path} (use it: hatebm proxy-fid calc ... --weights {path})")
    return 0
