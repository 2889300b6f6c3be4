"""What tandem (§3.4) and joint (§3.2) runs share: the hat network and its optimiser, negatives from the run's
sampler, the hat update of eq 8 and the optional average of the hat's weights, the divergence check, and the figures
and samples drawn from the Hat EBM."""
from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import Tensor, nn

from hatebm.checkpoint import NATIVE
from hatebm.config import HatConfig
from hatebm.devices import compiled
from hatebm.energy import HatEBM
from hatebm.generators import custom_spec
from hatebm.model import Model, hat_model
from hatebm.nets import build_hat
from hatebm.sampling import SampleResult, mean_norm
from hatebm.train.loop import TrainingRun
from hatebm.train.loss import hat_update
from hatebm.train.outputs import write_figures, write_samples
from hatebm.precision import autocast
from hatebm.train.runtime import set_lrs
from hatebm.train.stats import check_finite_gap


class HatRun(TrainingRun):
    """Base of runs that train a hat network: subclasses call :meth:`build_hat` and set ``ebm`` and ``hat_train``
    (maybe DDP-wrapped) and ``lrs`` (base learning rate per optimiser)."""

    cfg: HatConfig
    ebm: HatEBM
    hat_train: nn.Module
    opt_hat: torch.optim.Optimizer
    lrs: dict[str, float]
    hat_ema: nn.Module | None = None

    def build_hat(self, hat: nn.Module | None) -> nn.Module:
        """The hat network: the user's ``hat`` or the config's; records its spec for the checkpoint."""
        self.hat_spec = NATIVE if hat is None else custom_spec(hat)
        return (build_hat(self.cfg.model) if hat is None else hat).to(self.env.device)

    def negatives(self) -> SampleResult:
        """Set this step's learning rates, then draw X- from Z ~ N(0, I), Y0 = 0 with the run's sampler."""
        cfg = self.cfg
        set_lrs(self.opts, self.lrs, self.step, cfg.lr_milestones, cfg.lr_gamma)
        z = self.ebm.latent(self.batch, self.env.device)
        with autocast(self.env.device, cfg.amp):
            return cfg.chains(self.ebm, z, cfg.sampler)

    def update_hat(self, neg: SampleResult) -> dict[str, float | Tensor]:
        """Eq 8 with X+ = data + sigma_data * N(0, I); returns the energies and the sample norms to log."""
        x_pos = self.stream.next().to(self.env.device)
        x_pos = x_pos + self.cfg.data.noise * torch.randn_like(x_pos)
        values = hat_update(self.hat_train, self.opt_hat, x_pos, neg.x, self.cfg, self.env)
        self.update_ema()
        return {**values, "y_norm": mean_norm(neg.y), "drift_y": neg.drift_y, "lr_hat": self.opt_hat.param_groups[0]["lr"]}

    def ready(self) -> None:
        """Once subclasses have built ``nets``: with ``ema_halflife`` set, start the weight average at the current hat
        (checkpointed as ``hat_ema``); with ``compile``, compile the hat where the chains and the updates call it."""
        if self.cfg.ema_halflife:
            self.hat_ema = copy.deepcopy(self.hat).requires_grad_(False)
            self.nets["hat_ema"] = self.hat_ema
        if self.cfg.compile:
            self.ebm.hat = compiled(self.hat)
            self.hat_train = self.ebm.hat if self.hat_train is self.hat else compiled(self.hat_train)

    @torch.no_grad()
    def update_ema(self) -> None:
        """After a hat update: ``ema <- ema + (1 - beta) (hat - ema)``, beta = 0.5 ** (1 / ema_halflife), so an update's
        weight halves every ``ema_halflife`` iterations (buffers copied)."""
        if self.hat_ema is None:
            return
        rate = 1 - 0.5 ** (1 / self.cfg.ema_halflife)
        for avg, now in zip(self.hat_ema.parameters(), self.hat.parameters()):
            avg.lerp_(now, rate)
        for avg, now in zip(self.hat_ema.buffers(), self.hat.buffers()):
            avg.copy_(now)

    def sampling_ebm(self) -> HatEBM:
        """The Hat EBM the trained model samples: the training one, or on the averaged hat with ``ema_halflife``."""
        if self.hat_ema is None:
            return self.ebm
        return self.cfg.energy(self.hat_ema, self.ebm.generator, self.ebm.latent_shape)

    def check(self, values: dict[str, float]) -> None:
        check_finite_gap(self.step, values["energy_diff"], self.cfg.diverge_gap, values)

    def figures(self, folder: Path | None) -> None:
        write_figures(folder, self.step, self.sampling_ebm(), self.cfg, self.info)

    def model(self) -> Model:
        return hat_model(self.sampling_ebm(), self.cfg, self.info, self.step)

    def final(self, out: Path, progress: bool = True) -> None:
        write_samples(out, self.model(), self.cfg.eval_samples, progress)
