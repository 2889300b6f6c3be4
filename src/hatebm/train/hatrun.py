"""What tandem (§3.4) and joint (§3.2) runs share: the positive batch, the hat update of eq 8, the divergence check,
and the figures and samples written from the Hat EBM."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from hatebm.config import TrainConfig
from hatebm.energy import HatEBM
from hatebm.sampling import SampleResult, mean_norm
from hatebm.train.loop import TrainingRun, autocast, check_finite_gap, hat_update, set_lr, step_lr
from hatebm.train.outputs import write_figures, write_samples


class HatRun(TrainingRun):
    """Base of runs that train a hat network; subclasses set ``ebm``, ``hat_train`` (maybe DDP-wrapped) and
    ``opt_hat`` and say which sampler they use in ``mode``."""

    cfg: TrainConfig
    ebm: HatEBM
    hat_train: nn.Module
    opt_hat: torch.optim.Optimizer
    mode: str

    def negatives(self) -> SampleResult:
        """Set this step's learning rates, then draw X- from Z ~ N(0, I), Y0 = 0 with the run's sampler."""
        cfg = self.cfg
        for name, opt in self.opts.items():
            set_lr(opt, step_lr(cfg.lr_hat if name == "hat" else cfg.lr_gen, self.step, cfg.lr_milestones,
                                cfg.lr_gamma))
        z = self.ebm.latent(cfg.batch_size, self.env.device)
        with autocast(self.env, cfg.amp):
            return self.ebm.sample(z, self.mode, cfg.sampler)

    def update_hat(self, neg: SampleResult) -> dict[str, float]:
        """Eq 8 with X+ = data + sigma_data * N(0, I); returns the energies and the sample norms to log."""
        x_pos = self.stream.next().to(self.env.device)
        x_pos = x_pos + self.cfg.data.noise * torch.randn_like(x_pos)
        values = hat_update(self.hat_train, self.opt_hat, x_pos, neg.x, self.cfg, self.env)
        return {**values, "y_norm": mean_norm(neg.y), "drift_y": neg.drift_y, "lr_hat": self.opt_hat.param_groups[0]["lr"]}

    def check(self, values: dict[str, float]) -> None:
        check_finite_gap(self.step, values["energy_diff"], self.cfg.diverge_gap, values)

    def figures(self, folder: Path) -> None:
        write_figures(folder, self.step, self.ebm, self.cfg, self.info)

    def final(self, out: Path) -> None:
        write_samples(out, self.ebm, self.cfg, self.info, self.cfg.eval_samples)

