"""`hatebm sample RUN_OR_CHECKPOINT --n N --steps K [--method hat|ddls|generator] --out FILE.npz`: uint8 samples
and a PNG grid. ``hat`` samples a Hat EBM with the sampler its run used (conditional for tandem, joint for joint runs),
``ddls`` runs DDLS on a `hatebm pretrain gan` run, ``generator`` decodes Z ~ N(0, I) (sphere latents for autoencoders).

Image i of the set comes from its own seed (--seed S: S·1,000,003 + i, mod 2³², keying the counter-based noise of
:mod:`hatebm.noise`), so the set does not depend on --batch-size; under `torchrun --nproc_per_node=N -m hatebm.cli
sample ...` each rank draws its share on its own GPU and writes it beside --out, and rank 0 assembles the set from
those files (no images travel through a collective). The .npz is written as the images come (rank 0 reads the
shares back in slices), so host memory is one batch, not the set."""
from __future__ import annotations

import argparse

from hatebm.cli.common import (add_device, add_model_modules, add_quiet, add_seed, check_count, check_out,
                               parser_kwargs)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained model into a .npz and a PNG grid", **parser_kwargs())
    p.add_argument("model", help="run folder (newest checkpoint) or checkpoint folder")
    p.add_argument("-n", "--n", type=int, default=1000, help="number of samples")
    p.add_argument("--method", choices=("hat", "ddls", "generator"), default="hat",
                   help="hat: the Hat EBM; ddls: DDLS on a GAN run's discriminator (Che et al. 2020); "
                        "generator: G(Z) alone")
    p.add_argument("--steps", type=int, default=None,
                   help="Langevin steps (default: the model's eval_steps; 1000 for ddls)")
    p.add_argument("--eps-z", type=float, default=None,
                   help="latent step size of the joint and DDLS samplers (default: the run's; 0.1 for ddls)")
    p.add_argument("--batch-size", type=int, default=250, help="chains sampled at once")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the hat (or DDLS's discriminator) for the chains, after a compilation of a "
                        "minute or so: meant for GPUs (not yet measured there; no gain on a 2-core CPU, see "
                        "docs/results.md); a graph that fails to compile runs eagerly; no effect with --method "
                        "generator")
    add_seed(p)
    add_device(p)
    add_model_modules(p)
    add_quiet(p)
    p.add_argument("--out", required=True, help="output .npz (array `images`, N×H×W×C uint8); a .png grid is written "
                                                "beside it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hatebm.distributed import setup
    from hatebm.eval.figures import save_samples_figure
    from hatebm.eval.samples import write_set
    from hatebm.model import load_model
    from hatebm.sampling import LangevinConfig

    out = check_out(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz, got {out}")
    check_count(args.n, "-n/--n")
    check_count(args.batch_size, "--batch-size")
    check_count(args.steps, "--steps", 0)
    if args.eps_z is not None:  # the rule of sampler.eps_z
        try:
            LangevinConfig(eps_z=args.eps_z)
        except ValueError as err:
            raise ValueError(f"--eps-z{str(err).removeprefix('eps_z')}") from None
    env = setup(args.device)
    model = load_model(args.model, env.device, args.method, hat=args.hat, generator=args.generator,
                       trust_generator=args.trust_generator, compile=args.compile)
    overrides = {} if args.eps_z is None else {"eps_z": args.eps_z}
    head = write_set(model, args.n, out, seed=args.seed, steps=args.steps, batch_size=args.batch_size,
                     progress=env.main and not args.quiet, head=args.n if model.config.model.arch == "mlp" else 100,
                     **overrides)
    if head is None:  # another rank of a torchrun job: rank 0 writes
        return 0
    png = save_samples_figure(head, out.with_suffix(".png"))
    print(f"wrote {args.n} samples from step {model.step} to {out} and {png}")
    return 0
