"""Atomic checkpoints."""
import json

import pytest
import torch

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import NATIVE


def test_save_load_round_trip_and_pruning(tmp_path):
    for step in (1, 2, 3):
        ckpt.write_files(tmp_path, step, {"a": torch.full((2,), float(step))}, {"note": step}, keep=2)
    found = ckpt.list_checkpoints(tmp_path)
    assert [p.name for p in found] == ["step_00000002", "step_00000003"]
    tensors, state = ckpt.read_files(tmp_path)
    assert state["step"] == 3 and state["note"] == 3 and torch.equal(tensors["a"], torch.full((2,), 3.0))


def test_interrupted_write_is_ignored(tmp_path):
    ckpt.write_files(tmp_path, 5, {"a": torch.zeros(1)}, {})
    broken = tmp_path / "checkpoints" / ".tmp_step_00000010_123"  # what a crash mid-write leaves
    broken.mkdir()
    (broken / "state.json").write_text("{")
    assert ckpt.resolve(tmp_path).name == "step_00000005"


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckpt.read_files(tmp_path)
    path = ckpt.write_files(tmp_path, 1, {"a": torch.zeros(1)}, {})
    (path / "tensors.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="unreadable"):
        ckpt.read_files(path)


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


def test_checkpoint_schema_round_trip(tmp_path):
    from hatebm.checkpoint import Checkpoint, GeneratorSpec, RankState
    from hatebm.config import preset
    from hatebm.data import DataInfo

    ranks = [RankState({"epoch": 1, "pos": 8}, {"rng.torch": torch.get_rng_state()}, (torch.zeros(4, 1), torch.ones(4, 16))),
             RankState({"epoch": 1, "pos": 12}, {"rng.torch": torch.zeros(3, dtype=torch.uint8)},
                       (torch.ones(4, 1), torch.zeros(4, 16)))]
    saved = Checkpoint(3, preset("tiny"), DataInfo(28, 28, 1), GeneratorSpec({"type": "hatebm", "model": {}}, (16,)),
                       NATIVE, {"hat": {"w": torch.ones(2)}, "generator": {"b": torch.zeros(1)}},
                       {"hat": ({"0.step": torch.tensor(1.0)}, [{"lr": 0.1, "params": [0]}])}, ranks)
    back = ckpt.load(ckpt.save(tmp_path, saved))
    assert back.step == 3 and back.config == saved.config and back.data_info == saved.data_info
    assert back.generator == saved.generator and back.hat == NATIVE
    assert torch.equal(back.nets["hat"]["w"], torch.ones(2)) and set(back.nets) == {"hat", "generator"}
    assert back.optimizers["hat"][1] == [{"lr": 0.1, "params": [0]}]
    assert [r.stream for r in back.ranks] == [r.stream for r in ranks]  # every rank's own state, in rank order
    for got, want in zip(back.ranks, ranks):
        assert torch.equal(got.rng["rng.torch"], want.rng["rng.torch"])
        assert all(torch.equal(a, b) for a, b in zip(got.bank, want.bank))


def test_checkpoints_of_other_formats_are_refused(tmp_path):
    """Only the current format is read (the first two were written by unreleased versions only)."""
    ckpt.write_files(tmp_path / "new", 1, {}, {"format": 99})
    with pytest.raises(ValueError, match="checkpoint format 99, this hatebm reads format 3"):
        ckpt.load(tmp_path / "new")
    ckpt.write_files(tmp_path / "old", 1, {}, {"kind": "tandem", "config": {}})
    with pytest.raises(ValueError, match="records no checkpoint format"):
        ckpt.load(tmp_path / "old")


@pytest.mark.parametrize("name", sorted(__import__("hatebm").PRESETS))
def test_every_preset_config_round_trips_through_a_checkpoint(tmp_path, name):
    """Every key of every preset comes back from state.json with its value and JSON type (ints stay ints)."""
    from hatebm.checkpoint import Checkpoint, GeneratorSpec, RankState
    from hatebm.config import preset, to_dict
    from hatebm.data import DataInfo

    cfg = preset(name)
    saved = Checkpoint(1, cfg, DataInfo(32, 32, 1), GeneratorSpec({"type": "hatebm", "model": {}}, (16,)), None, {}, {},
                       [RankState({"epoch": 0, "pos": 0}, {}, None)])
    back = ckpt.load(ckpt.save(tmp_path, saved)).config
    assert back == cfg and json.dumps(to_dict(back)) == json.dumps(to_dict(cfg))
