"""The (X, Z) bank of §3.4."""
import pytest
import torch

from hatebm import Bank


def test_init_from_generator_pairs_x_with_g_of_z():
    gen = torch.nn.Linear(3, 5)
    bank = Bank.from_generator(gen, 10, (3,), batch_size=4)
    assert len(bank) == 10
    assert torch.allclose(bank.x, gen(bank.z).detach())


def test_draw_without_replacement_and_write_back_to_same_slots():
    bank = Bank(torch.arange(20.0).view(20, 1), torch.arange(20.0).view(20, 1) + 100)
    idx, x, z = bank.draw(20)
    assert sorted(idx.tolist()) == list(range(20))  # all distinct
    assert torch.equal(x[:, 0], idx.float()) and torch.equal(z[:, 0], idx.float() + 100)
    idx, x, z = bank.draw(5)
    bank.write(idx, -torch.ones(5, 1), -2 * torch.ones(5, 1))
    changed = (bank.x[:, 0] < 0).nonzero().flatten()
    assert sorted(changed.tolist()) == sorted(idx.tolist())
    assert torch.all(bank.z[idx] == -2)
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(bank.x[untouched, 0], untouched.nonzero().flatten().float())


def test_draw_too_many():
    bank = Bank(torch.zeros(4, 1), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="without replacement"):
        bank.draw(5)
