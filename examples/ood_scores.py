"""Out-of-distribution scores from Python: the hat energy H(x) of a trained Hat EBM (paper §4.4).

    python examples/ood_scores.py runs/demo --in fashion_mnist:test --ood mnist digits noise

Higher H(x) = more out-of-distribution. ``hatebm.eval.ood.evaluate`` does what ``hatebm ood`` does (sets named by
spec, adapted to the training data's shape, AUROC / AUPR / FPR95 with their protocol); the second half scores an
array of your own images directly.
"""
from __future__ import annotations

import argparse

import numpy as np

import hatebm
from hatebm.data import load_images, to_model
from hatebm.data.registry import parse_spec
from hatebm.eval.ood import detection_metrics, evaluate


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder or checkpoint of a Hat EBM (tandem or joint)")
    p.add_argument("--in", dest="in_set", default="fashion_mnist:test", help="in-distribution images")
    p.add_argument("--ood", nargs="+", default=["noise"], help="OOD sets (dataset specs, mnist, digits, noise)")
    p.add_argument("--n", type=int, default=1000, help="images per set, at most")
    args = p.parse_args(argv)

    result = evaluate(args.run, args.in_set, {spec: spec for spec in args.ood}, n=args.n, fit="resize",
                      progress=False)
    for name, m in result.metrics.items():
        print(f"{name:>12}: AUROC {m['auroc']:.4f}  AUPR {m['aupr']:.4f}  FPR95 {m['fpr95']:.4f}")

    # Your own images: uint8 N×H×W×C of the training data's shape, mapped to the model as its training data.
    model = hatebm.load_model(args.run)
    name, split, root = parse_spec(args.in_set)
    images = load_images(name, split, root)[: args.n]
    x = to_model(images, model.config.model.resolution, model.config.data.resize, model.config.model.channels)
    h_in = model.ebm.hat_energy(x.to(model.device)).detach().cpu().numpy()
    h_flipped = model.ebm.hat_energy(x.flip(-2).to(model.device)).detach().cpu().numpy()  # upside-down images
    print(f"upside-down {args.in_set}: AUROC {detection_metrics(h_in, h_flipped)['auroc']:.4f} "
          f"(mean H in {np.mean(h_in):.4g}, upside-down {np.mean(h_flipped):.4g})")


if __name__ == "__main__":
    main()
