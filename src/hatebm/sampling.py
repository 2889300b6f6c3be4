"""Langevin samplers of the Hat EBM.

One Langevin step on a state ``s`` with step size ``eps`` (eq 3):

    s <- s - (eps**2 / 2) * grad_s U(s) + eps * xi,    xi ~ N(0, I)

Y and Z have their own step sizes. The Y drift ``(eps_y**2 / 2) grad_Y U`` is clipped per sample to an L2 norm
of at most ``max_drift_y``. Only the states are differentiated (``torch.autograd.grad``); the networks are frozen
for the duration of sampling, so no parameter gradient is ever computed here.

The joint sampler runs the steps in one of three orders (``LangevinConfig.order``):

* ``"yz"`` (the paper, eqs 6-7): a Y step with G(Z) fixed, then a Z step at the new Y; two hat passes per step.
* ``"zy"`` (the authors' code): the same two updates, Z first.
* ``"joint"`` (beyond the paper): one hat pass per step gives grad_Y U and grad_Z U at the same (Y, Z), and both move
  at once, ``Y <- Y - clip((eps_y**2 / 2) grad_Y U) + eps_y xi_Y`` and ``Z <- Z - (eps_z**2 / 2) grad_Z U + eps_z xi_Z``
  (Y's noise drawn before Z's). This is Langevin on the joint state (Y, Z) with the constant diagonal preconditioner
  diag(eps_y**2, eps_z**2), so it targets the same density exp(-U) while saving a hat forward and backward per step.

The drift norms are summed on the device (float64) and read once per chain, so a step makes no host sync.

Noise comes from torch's global generator, or per image from :class:`hatebm.noise.ImageNoise` (a counter-based
generator keyed by the image's seed), so that a sample depends only on its seed: not on the batch it was drawn in, nor
on the rank.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

import torch
from pydantic import Field
from torch import Tensor, nn

from hatebm.options import Count0, NonNeg, Options, Positive
from hatebm.precision import full_precision

if TYPE_CHECKING:
    from hatebm.energy import HatEBM


class LangevinConfig(Options):
    """Settings of one sampling run (DESIGN §2)."""

    steps: Count0 = Field(50, description="Langevin steps per chain; 0 returns the generator's samples")
    eps_y: NonNeg = Field(5e-4, description="step size of Y in eq 3; 0 holds Y fixed")
    eps_z: NonNeg = Field(5e-3, description="step size of Z in eq 3; 0 holds Z fixed")
    max_drift_y: Positive | None = Field(2.5, description="per-sample L2 bound on the Y drift; none disables the clip")
    noise: bool = Field(True, description="add the Langevin noise eps * xi; false descends U's gradient")
    y0_scale: NonNeg = Field(0.0, description="Y0 = y0_scale * N(0, I); 0 starts from Y0 = 0, as the paper")
    order: Literal["yz", "zy", "joint"] = Field("yz", description=(
        "the joint sampler's order: yz, Y then Z as the paper's eqs 6-7; zy, Z then Y as the authors' code; joint, "
        "both from one hat pass, beyond the paper"))
    record_every: Count0 = Field(0, description="keep X, G(Z) and Y every k steps for path figures as Fig 3; 0 "
                                                "records no path")


def settings(base: LangevinConfig | None = None, **changes: Any) -> LangevinConfig:
    """``base`` (default settings if None) with ``changes``, as a plain :class:`LangevinConfig`: checked by its own
    ranges, not by the tighter ones of a training run's sampler that ``base`` may be."""
    return LangevinConfig(**{**dict(base or LangevinConfig()), **changes})


@dataclass
class SampleResult:
    """Final states of a chain batch, its initial latents ``z0``, mean per-step drift norms, and the optional
    recorded path."""

    x: Tensor
    y: Tensor
    z: Tensor
    z0: Tensor | None = None
    drift_y: float = 0.0
    drift_z: float = 0.0
    path: list[dict[str, Tensor]] = field(default_factory=list)


def randn_dense(x: Tensor) -> Tensor:
    """N(0, I) of ``x``'s shape, dtype and memory layout, drawn in memory order. For a contiguous ``x`` these are
    ``torch.randn_like``'s draws; for a channels_last ``x`` it avoids torch's strided normal_ path, which is several
    times slower on the CPU (docs/results.md), and draws other, equally distributed, numbers."""
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return torch.randn_like(x)
    return torch.randn(x.numel(), dtype=x.dtype, device=x.device).as_strided(x.shape, x.stride())


# randn_dense, or hatebm.noise.ImageNoise.randn_like; it must return a fresh tensor, which the sampler scales in place
Noise = Callable[[Tensor], Tensor]


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Switch off ``requires_grad`` on every parameter for the duration of the block, then restore it."""
    params = [p for m in modules for p in m.parameters()]
    saved = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


def clip_per_sample(v: Tensor, max_norm: float | None) -> Tensor:
    """Scale each sample of ``v`` so that its L2 norm is at most ``max_norm``."""
    return v if max_norm is None else v * _clip_scale(v, max_norm)


def _clip_scale(v: Tensor, max_norm: float) -> Tensor:
    """Per-sample factors (shaped to broadcast over ``v``) that bring each sample's L2 norm to at most ``max_norm``."""
    norms = v.flatten(1).norm(dim=1).clamp_min(1e-12)
    return (max_norm / norms).clamp(max=1.0).view(-1, *([1] * (v.dim() - 1)))


def mean_norm(v: Tensor) -> Tensor:
    """Mean over the batch of each sample's L2 norm, a 0-d tensor of ``v``'s dtype on its device (no host sync)."""
    return v.detach().flatten(1).norm(dim=1).mean()


class _Chain:
    """State of a batch of chains; ``gz`` is G(z), kept attached to ``z`` only while Z is being sampled.

    ``drift_y_sum`` / ``drift_z_sum`` add up each step's mean drift norm on the device in float64 (the same double sum
    as adding the float32 means on the host), read once in :meth:`result`."""

    def __init__(self, ebm: HatEBM, z: Tensor, cfg: LangevinConfig, track_z: bool, noise: Noise | None) -> None:
        self.ebm, self.cfg, self.randn_like = ebm, cfg, noise or randn_dense
        self.z0 = z.detach()
        self.z = z.detach().requires_grad_(track_z)
        with full_precision(z.device):  # G(Z) and the states stay fp32 under bf16 autocast (hatebm.precision)
            gz = ebm.generator(self.z).float()
        self.gz = gz if track_z else gz.detach()
        self.y = cfg.y0_scale * self.randn_like(self.gz)
        self.drift_y_sum = torch.zeros((), dtype=torch.float64, device=gz.device)
        self.drift_z_sum = torch.zeros((), dtype=torch.float64, device=gz.device)
        self.path: list[dict[str, Tensor]] = []

    def _langevin(self, state: Tensor, drift: Tensor, eps: float) -> Tensor:
        """``state - drift + eps * xi`` as a new tensor, xi drawn only when noise is on (scaled and added in place)."""
        new = state.detach() - drift
        if self.cfg.noise:
            new += self.randn_like(new).mul_(eps)
        return new

    def _move_y(self, y: Tensor, grad: Tensor) -> None:
        cfg = self.cfg
        drift = 0.5 * cfg.eps_y**2 * grad
        if cfg.max_drift_y is not None:  # clipped in place: drift is this step's own tensor
            drift.mul_(_clip_scale(drift, cfg.max_drift_y))
        self.drift_y_sum += mean_norm(drift).double()
        self.y = self._langevin(y, drift, cfg.eps_y)

    def _move_z(self, grad: Tensor) -> None:
        """The Z update from ``grad_Z U``, then G at the new Z (attached to it, for the next step's gradient)."""
        cfg = self.cfg
        drift = 0.5 * cfg.eps_z**2 * grad
        self.drift_z_sum += mean_norm(drift).double()
        self.z = self._langevin(self.z, drift, cfg.eps_z).requires_grad_(True)
        with full_precision(self.z.device):
            self.gz = self.ebm.generator(self.z).float()

    def step_y(self) -> None:
        """Eq 6: Langevin on Y with G(Z) held fixed; eps_y = 0 holds Y where it is (no hat pass, no noise drawn)."""
        if self.cfg.eps_y == 0:
            return
        y = self.y.requires_grad_(True)
        energy = self.ebm.energy_at(y, self.gz.detach(), None).sum()
        (grad,) = torch.autograd.grad(energy, y)
        self._move_y(y, grad)

    def step_z(self) -> None:
        """Eq 7: Langevin on Z with Y held fixed; gradients flow through the frozen generator."""
        energy = self.ebm.energy_at(self.y.detach(), self.gz, self.z).sum()
        (grad,) = torch.autograd.grad(energy, self.z)
        self._move_z(grad)

    def step_joint(self) -> None:
        """``order="joint"`` (beyond the paper): one hat forward and backward give grad_Y U and grad_Z U at the current
        (Y, Z); Y then Z move with their own step sizes (the Y drift clipped as in eq 6), Y's noise drawn before Z's,
        and G(Z) is recomputed once. eps_y = 0 holds Y where it is (no Y gradient, no Y noise): the step is then
        exactly :meth:`step_z`."""
        move_y = self.cfg.eps_y != 0
        y = self.y.requires_grad_(True) if move_y else self.y.detach()
        energy = self.ebm.energy_at(y, self.gz, self.z).sum()
        grads = torch.autograd.grad(energy, (y, self.z) if move_y else (self.z,))
        if move_y:
            self._move_y(y, grads[0])
        self._move_z(grads[-1])

    def record(self, step: int) -> None:
        every = self.cfg.record_every
        if every and (step % every == 0 or step == self.cfg.steps):
            gz = self.gz.detach()
            self.path.append({"step": torch.tensor(step), "x": (gz + self.y).detach().cpu(),
                              "gz": gz.cpu(), "y": self.y.detach().cpu()})

    def result(self) -> SampleResult:
        steps = max(self.cfg.steps, 1)
        gz = self.gz.detach()
        drift_y, drift_z = torch.stack((self.drift_y_sum, self.drift_z_sum)).tolist()  # the chain's one host sync
        return SampleResult(x=gz + self.y.detach(), y=self.y.detach(), z=self.z.detach(), z0=self.z0,
                            drift_y=drift_y / steps, drift_z=drift_z / steps, path=self.path)


def sample_conditional(ebm: HatEBM, z: Tensor, cfg: LangevinConfig, noise: Noise | None = None) -> SampleResult:
    """Conditional Hat EBM sampler (§3.3): Z fixed, G(Z) computed once, K Langevin steps of eq 6 on Y from Y0.
    ``noise`` draws the Langevin noise (default :func:`randn_dense`)."""
    with frozen(ebm):
        chain = _Chain(ebm, z, cfg, False, noise)
        chain.record(0)
        for k in range(1, cfg.steps + 1):
            chain.step_y()
            chain.record(k)
        return chain.result()


def sample_joint(ebm: HatEBM, z: Tensor, cfg: LangevinConfig, noise: Noise | None = None) -> SampleResult:
    """Joint Hat EBM sampler (§3.2), one G pass per step. ``cfg.order`` "yz" (paper) or "zy" alternates Langevin
    updates of Y (eq 6) and Z (eq 7), two hat passes per step; "joint" (beyond the paper) moves Y and Z together from
    one hat pass (:meth:`_Chain.step_joint`). ``noise`` draws the Langevin noise (default :func:`randn_dense`)."""
    with frozen(ebm):
        chain = _Chain(ebm, z, cfg, True, noise)
        chain.record(0)
        updates = {"yz": [chain.step_y, chain.step_z], "zy": [chain.step_z, chain.step_y],
                   "joint": [chain.step_joint]}[cfg.order]
        for k in range(1, cfg.steps + 1):
            for update in updates:
                update()
            chain.record(k)
        return chain.result()
