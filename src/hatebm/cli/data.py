"""`hatebm data prep SRC --out DIR --size N` (write a prepared folder, read lazily in training with data.name=prepared)
and `hatebm data info DIR [--verify]` (its manifest; with --verify, the checksum of its images)."""
from __future__ import annotations

import argparse
import json
import sys

from hatebm.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="prepare large image sets on disk, inspect prepared folders",
                       **common.parser_kwargs())
    actions = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    prep = actions.add_parser("prep", help="convert images into a prepared folder (uint8 pixels, streamed)",
                              **common.parser_kwargs())
    prep.add_argument("src", help="a folder of images (any sizes), an .npz/.npy of uint8 images, or cifar10, "
                                  "cifar100, fashion_mnist with an optional :SPLIT (train by default)")
    prep.add_argument("--out", required=True, help="the prepared folder to write")
    prep.add_argument("--size", type=int, required=True,
                      help="square side (layout square) or shorter side (layout short_side) in pixels")
    prep.add_argument("--channels", type=int, choices=(1, 3), default=None,
                      help="1 grey or 3 RGB (default: the source's; 3 for folders)")
    prep.add_argument("--layout", choices=("square", "short_side"), default="square",
                      help="square: centre crop resized to SIZE×SIZE; short_side: shorter side resized to SIZE, "
                           "aspect kept, for random crops in training (data.crop=random)")
    prep.add_argument("--root", default=None, help="folder holding a named dataset (default: its usual places)")
    prep.add_argument("--workers", type=int, default=0,
                      help="processes decoding a folder's images (0: decode in this one)")
    prep.add_argument("--overwrite", action="store_true", help="replace --out if it is a prepared folder already")
    common.add_quiet(prep)
    prep.set_defaults(func=run_prep)

    info = actions.add_parser("info", help="show the manifest of a prepared folder", **common.parser_kwargs())
    info.add_argument("folder", help="a folder written by `hatebm data prep`")
    info.add_argument("--verify", action="store_true", help="recompute the SHA-256 of its images and compare")
    info.set_defaults(func=run_info)


def run_prep(args: argparse.Namespace) -> int:
    from hatebm.data import prepare, read_manifest

    out = prepare(args.src, args.out, args.size, channels=args.channels, layout=args.layout, root=args.root,
                  workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)
    m = read_manifest(out)
    print(f"prepared {m['count']} images in {out}: {m['layout']} size {m['size']}, {m['channels']} channel(s), "
          f"{m['bytes']} bytes")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from hatebm.data.prepared import read_manifest, verify

    manifest = verify(args.folder) if args.verify else read_manifest(args.folder)
    print(json.dumps(manifest, indent=2))
    if args.verify:
        print(f"{args.folder}: images.u8 matches images_sha256", file=sys.stderr)
    return 0
