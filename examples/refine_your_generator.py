"""Refine your own generator with a Hat EBM: a joint run (paper §3.2) on a frozen generator defined here, on your data.

    python examples/refine_your_generator.py --out runs/my_refine [--weights G.safetensors] [--data fashion_mnist]

Any ``nn.Module`` mapping latents to images in [-1, 1] will do; give it a ``latent_dim`` (or ``latent_shape``)
attribute. The hat network here is yours too. The run checkpoints like any other: ``--resume`` continues it, and
``hatebm.load_model(out, hat=MyHat(), generator=MyGenerator())`` loads it again.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

import hatebm
from hatebm.config import DataConfig, JointConfig, ModelConfig
from hatebm.data import load_images, to_uint8
from hatebm.data.registry import parse_spec
from hatebm.sampling import LangevinConfig


class MyGenerator(nn.Module):
    """A small DCGAN-style generator: 16-d latents to 32×32 grey images in [-1, 1]."""

    latent_dim = 16

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.fc = nn.Linear(self.latent_dim, width * 4 * 4)
        self.net = nn.Sequential(
            nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(width, 1, 3, padding=1), nn.Tanh())
        self.width = width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z).view(-1, self.width, 4, 4))


class MyHat(nn.Module):
    """A small convolutional energy: one scalar per 32×32 image, independent of the rest of the batch."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, 2, 1), nn.SiLU(), nn.Conv2d(width, 2 * width, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * width, 4 * width, 3, 2, 1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(4 * width, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--data", default="fashion_mnist", help="training images: NAME[:SPLIT], an .npz or a folder")
    p.add_argument("--weights", default=None, help="your generator's pretrained weights (.safetensors)")
    p.add_argument("--iters", type=int, default=400, help="hat network updates")
    p.add_argument("--steps", type=int, default=20, help="Langevin steps per training sample")
    p.add_argument("--n", type=int, default=100, help="samples written at the end")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    args = p.parse_args(argv)

    generator = MyGenerator()
    if args.weights:
        generator.load_state_dict(load_file(args.weights))
    name, split, root = parse_spec(args.data, split="train")
    images = load_images(name, split, root)  # uint8 N×H×W×C; hatebm pads or resizes them to 32×32
    # The CPU joint recipe of hatebm's fashion_mnist_refine_cpu preset: T = 1e-8 with the energy penalty, so the
    # step sizes set the drift; small steps on Y (pixel residual) and Z (latent).
    config = JointConfig(data=DataConfig(name="own data"), model=ModelConfig(resolution=32, channels=1),
                         sampler=LangevinConfig(steps=args.steps, eps_y=2.5e-4, eps_z=2e-4), eval_steps=args.steps,
                         temperature=1e-8, energy_reg=0.5, iters=args.iters, batch_size=16, log_every=10,
                         image_every=max(1, args.iters // 4), ckpt_every=max(1, args.iters // 4),
                         eval_samples=args.n, amp=False)
    model = hatebm.train(config, args.out, resume=args.resume, hat=MyHat(), generator=generator, data=images)

    with torch.random.fork_rng():
        torch.manual_seed(0)
        z = torch.randn(args.n, MyGenerator.latent_dim)
        base = to_uint8(generator(z).detach(), crop=model.info.crop_for(32))
        refined = to_uint8(model.sample(z).x, crop=model.info.crop_for(32))
    np.savez_compressed(f"{args.out}/base_vs_refined.npz", base=base, refined=refined)
    print(f"step {model.step}: refined samples in {args.out}/samples.npz; G(Z) and the refined G(Z') + Y of the "
          f"same latents in {args.out}/base_vs_refined.npz")


if __name__ == "__main__":
    main()
