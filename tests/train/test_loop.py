"""The hat update of eq 8 and its optional penalties, checked against hand-derived gradients."""
from pathlib import Path

import pytest
import torch
from torch import nn

from hatebm.config import TandemConfig
from hatebm.train.loss import hat_update
from hatebm.distributed import Dist


class Linear(nn.Module):
    """H(x) = w . x, whose input gradient is w everywhere: ||grad_x H||^2 = ||w||^2."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("energy_reg,grad_penalty", [(0.0, 0.0), (0.5, 0.0), (0.5, 3.0)])
def test_hat_update_gradient(energy_reg, grad_penalty):
    torch.manual_seed(0)
    hat, x_pos, x_neg = Linear(6), torch.randn(4, 1, 2, 3), torch.randn(5, 1, 2, 3)
    w0 = hat.w.detach().clone()
    cfg = TandemConfig(temperature=0.5, energy_reg=energy_reg, grad_penalty=grad_penalty, amp=False)
    opt = torch.optim.SGD(hat.parameters(), lr=0.1)
    values = hat_update(hat, opt, x_pos, x_neg, cfg, Dist())
    p, n = x_pos.flatten(1), x_neg.flatten(1)
    gap_grad = p.mean(0) - n.mean(0)
    if energy_reg == 0:
        expected = gap_grad / cfg.temperature
    else:
        e = torch.cat([p, n]) @ w0
        expected = gap_grad + energy_reg * 2 * (e[:, None] * torch.cat([p, n])).mean(0)
    expected = expected + grad_penalty * 2 * w0  # d/dw ||w||^2
    assert torch.allclose(hat.w.detach(), w0 - 0.1 * expected, atol=1e-5)
    assert values["energy_diff"] == pytest.approx(((p.mean(0) - n.mean(0)) @ w0).item(), abs=1e-5)
    assert ("grad_pos" in values) == (grad_penalty > 0)


def test_negative_penalties_are_refused():
    with pytest.raises(ValueError, match="grad_penalty must be >= 0"):
        TandemConfig(grad_penalty=-1.0).validate()


def test_a_step_reads_the_device_twice(tiny_npz, tmp_path, monkeypatch):
    """A training step reads device values on the host twice: its chain's drift norms, and all the values it logs
    together (the loop's divergence check needs them every step); the updates read nothing themselves. Counted as
    the difference between runs of 2 and 6 steps, so that set-up and the final checkpoint cancel; reads by torch
    itself (Adam's step counters, kept on the host) do not count."""
    import sys

    import hatebm
    from hatebm.config import override, preset

    reads = []

    package = str(Path(hatebm.__file__).parent)

    def counting(original):
        def read(self):
            if sys._getframe(1).f_code.co_filename.startswith(package):
                reads.append(1)
            return original(self)
        return read

    for name in ("item", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, counting(getattr(torch.Tensor, name)))
    counts = []
    for iters in (2, 6):
        reads.clear()
        cfg = override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", f"iters={iters}", "eval_samples=0",
                                        "image_every=100", "ckpt_every=100", "log_every=1"])
        hatebm.train(cfg, tmp_path / f"run{iters}", progress=False)
        counts.append(len(reads))
    assert (counts[1] - counts[0]) / 4 <= 2, counts
