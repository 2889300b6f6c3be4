"""Joint Hat EBM training on a frozen generator (paper §3.2, eqs 4-8): refinement of a pretrained GAN (§4.1) and
retrofit of a deterministic autoencoder (§4.2).

Each iteration:
1. Z0 ~ N(0, I), Y0 = 0; K alternating Langevin steps on Y (eq 6) and Z (eq 7) of
   U(Y, Z) = H(G(Z) + Y) / T [+ ||Y||^2 / (2 sigma_y^2)] [+ ||Z||^2 / 2]; X- = G(Z_K) + Y_K.
2. Hat update (eq 8): minimise mean H(X+) - mean H(X-), X+ = data + sigma_data * N(0, I).

The generator comes from any source of :func:`hatebm.generators.load_generator`, is checked against the data at
start-up, and stays frozen: eval mode, no parameter requires a gradient, its weights are saved unchanged with every
checkpoint (with the spec that rebuilds it) so that ``hatebm sample`` can rebuild the model.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hatebm.config import TrainConfig
from hatebm.energy import HatEBM
from hatebm.generators import check_generator, load_generator
from hatebm.nets import build_hat
from hatebm.sampling import mean_norm
from hatebm.train.hatrun import HatRun
from hatebm.train.loop import Dist, run_training, setup, wrap_ddp


class Joint(HatRun):
    """State of a joint run: hat network and its optimiser, the frozen generator, data stream and step."""

    kind, show, mode = "joint", ("energy_diff", "z_norm"), "joint"

    def __init__(self, cfg: TrainConfig, env: Dist) -> None:
        source = cfg.generator.source
        if source is None:
            raise ValueError("a joint run needs a frozen generator: set generator.source to a run of `hatebm pretrain "
                             "gan|ae`, a TorchScript file, or package.module:function with generator.weights=FILE")
        self.start(cfg, env)
        self.source = load_generator(source, cfg.generator.weights, cfg.generator.latent_shape)
        self.gen = self.source.module.to(env.device)
        check_generator(self.source, self.data.shape[1:], f"generator {source}")
        self.hat = build_hat(cfg.model).to(env.device)
        if cfg.channels_last and cfg.model.arch == "sngan":
            self.hat, self.gen = (m.to(memory_format=torch.channels_last) for m in (self.hat, self.gen))
        self.ebm = HatEBM(self.hat, self.gen, self.source.latent_shape, cfg.temperature, cfg.y_prior_std, cfg.z_prior)
        self.hat_train = wrap_ddp(self.hat, env)
        self.opt_hat = torch.optim.Adam(self.hat.parameters(), lr=cfg.lr_hat, betas=tuple(cfg.betas))
        self.nets, self.opts = {"hat": self.hat, "generator": self.gen}, {"hat": self.opt_hat}

    def train_step(self) -> dict[str, float]:
        """One iteration: joint sampling (eqs 6-7), then one hat update (eq 8); returns the values to log."""
        neg = self.negatives()
        values = self.update_hat(neg)
        self.step += 1
        return {**values, "z_norm": mean_norm(neg.z), "drift_z": neg.drift_z}

    def extra_state(self) -> dict[str, Any]:
        return {"generator": self.source.spec, "latent_shape": list(self.source.latent_shape),
                "sphere": self.source.sphere}


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) joint training into the run folder ``out`` (same layout as tandem runs); returns the folder."""
    env = setup(cfg.device)
    return run_training(Joint(cfg, env), cfg, out, env, resume, progress)
