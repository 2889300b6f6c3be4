"""The losses of the paper, one function each: the hat network's (eq 8) and the tandem generator's (eq 12)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from hatebm.config import HatConfig
from hatebm.distributed import Dist
from hatebm.precision import autocast


def hat_update(hat: nn.Module, opt: torch.optim.Optimizer, x_pos: Tensor, x_neg: Tensor, cfg: HatConfig,
               env: Dist) -> dict[str, Tensor]:
    """One Adam step on eq 8: minimise mean H(X+) - mean H(X-) (divided by T, or plus ``energy_reg`` times the mean
    squared energy), plus ``grad_penalty`` times the mean squared input-gradient norm of H at X+ when set; gradients
    clipped to ``hat_grad_clip`` over all parameters or per tensor (``hat_grad_clip_scope``).
    One pass over [X+; X-]: H is batch-independent. Returns the logged energies as 0-d tensors on the device (read
    on the host once per step, with the step's other values)."""
    x_pos = x_pos.detach().requires_grad_(cfg.grad_penalty > 0)
    with autocast(env.device, cfg.amp):
        energies = hat(torch.cat([x_pos, x_neg])).float().reshape(-1)
    e_pos, e_neg = energies[: len(x_pos)], energies[len(x_pos):]
    gap = e_pos.mean() - e_neg.mean()
    loss = gap / cfg.temperature if cfg.energy_reg == 0 else gap + cfg.energy_reg * (energies**2).mean()
    values = {}
    if cfg.grad_penalty > 0:
        (grad,) = torch.autograd.grad(e_pos.sum(), x_pos, create_graph=True)
        r1 = grad.flatten(1).pow(2).sum(1).mean()
        loss = loss + cfg.grad_penalty * r1
        values["grad_pos"] = r1.detach().sqrt()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.hat_grad_clip is not None:
        groups = [[p] for p in hat.parameters()] if cfg.hat_grad_clip_scope == "tensor" else [hat.parameters()]
        for params in groups:
            nn.utils.clip_grad_norm_(params, cfg.hat_grad_clip)
    opt.step()
    return {"energy_diff": gap.detach(), "energy_pos": e_pos.detach().mean(), "energy_neg": e_neg.detach().mean(),
            **values}


def generator_update(gen: nn.Module, opt: torch.optim.Optimizer, x_bank: Tensor, z_bank: Tensor, weight: float,
                     env: Dist, amp: bool) -> Tensor:
    """One Adam step on ``weight * mean((G(Z') - X')^2)`` over bank pairs (eq 12 against past hat networks); returns
    the loss, a 0-d tensor on the device."""
    with autocast(env.device, amp):
        loss = weight * (gen(z_bank).float() - x_bank).pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()
