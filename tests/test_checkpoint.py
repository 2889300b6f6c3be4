"""Atomic checkpoints."""
import json

import pytest
import torch

from hatebm import checkpoint as ckpt


def test_save_load_round_trip_and_pruning(tmp_path):
    for step in (1, 2, 3):
        ckpt.save(tmp_path, step, {"a": torch.full((2,), float(step))}, {"note": step}, keep=2)
    found = ckpt.list_checkpoints(tmp_path)
    assert [p.name for p in found] == ["step_00000002", "step_00000003"]
    tensors, state = ckpt.load(tmp_path)
    assert state["step"] == 3 and state["note"] == 3 and torch.equal(tensors["a"], torch.full((2,), 3.0))


def test_interrupted_write_is_ignored(tmp_path):
    ckpt.save(tmp_path, 5, {"a": torch.zeros(1)}, {})
    broken = tmp_path / "checkpoints" / ".tmp_step_00000010_123"  # what a crash mid-write leaves
    broken.mkdir()
    (broken / "state.json").write_text("{")
    assert ckpt.resolve(tmp_path).name == "step_00000005"


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckpt.load(tmp_path)
    path = ckpt.save(tmp_path, 1, {"a": torch.zeros(1)}, {})
    (path / "tensors.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable"):
        ckpt.load(path)


def test_optimizer_state_round_trip():
    p = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.Adam([p], lr=0.1)
    p.sum().backward()
    opt.step()
    tensors, groups = ckpt.flatten_optimizer(opt)
    json.dumps(groups)
    q = torch.nn.Parameter(p.detach().clone())
    opt2 = torch.optim.Adam([q], lr=0.5)
    ckpt.restore_optimizer(opt2, tensors, groups)
    assert opt2.param_groups[0]["lr"] == 0.1
    assert torch.equal(opt2.state[q]["exp_avg"], opt.state[p]["exp_avg"])
