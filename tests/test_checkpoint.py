"""Checkpoints: the schema, saving and loading (the files of a checkpoint folder: test_checkpoint_files.py)."""
import json

import pytest
import torch

from hatebm import checkpoint as ckpt
from hatebm.checkpoint import NATIVE


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

    ranks = {0: RankState({"epoch": 1, "pos": 8}, {"rng.torch": torch.get_rng_state()},
                          (torch.zeros(4, 1), torch.ones(4, 16))),
             1: RankState({"epoch": 1, "pos": 12, "skipped": 2}, {"rng.torch": torch.zeros(3, dtype=torch.uint8)},
                          (torch.ones(4, 1), torch.zeros(4, 16)))}
    saved = Checkpoint(3, preset("tiny"), DataInfo(28, 28, 1), GeneratorSpec({"type": "hatebm", "model": {}}, (16,)),
                       NATIVE, {"hat": {"w": torch.ones(2)}, "generator": {"b": torch.zeros(1)}},
                       {"hat": ({"0.step": torch.tensor(1.0)}, [{"lr": 0.1, "params": [0]}])}, ranks, world=2)
    folder = ckpt.save(tmp_path, saved)
    assert sorted(p.name for p in folder.iterdir()) == ["rank0.safetensors", "rank1.safetensors", "state.json",
                                                        "tensors.safetensors"]
    back = ckpt.load(folder)
    assert back.step == 3 and back.config == saved.config and back.data_info == saved.data_info
    assert back.generator == saved.generator and back.hat == NATIVE
    assert torch.equal(back.nets["hat"]["w"], torch.ones(2)) and set(back.nets) == {"hat", "generator"}
    assert back.optimizers["hat"][1] == [{"lr": 0.1, "params": [0]}]
    assert back.world == 2 and sorted(back.ranks) == [0, 1]
    for r, want in ranks.items():  # every rank's own state, from its own file
        got = back.ranks[r]
        assert got.stream == want.stream and torch.equal(got.rng["rng.torch"], want.rng["rng.torch"])
        assert all(torch.equal(a, b) for a, b in zip(got.bank, want.bank))
    one = ckpt.load(folder, rank=1)  # what rank 1 of a job resumes from: the shared files and its own
    assert list(one.ranks) == [1] and torch.equal(one.ranks[1].bank[0], torch.ones(4, 1))
    assert ckpt.load(folder, nets=("hat",)).ranks == {}  # sampling reads no rank file


def test_checkpoints_of_other_formats_are_refused(tmp_path):
    """Only the current format is read (the first three were written by unreleased versions only)."""
    ckpt.write_files(tmp_path / "new", 1, {}, {"format": 99})
    with pytest.raises(ValueError, match="checkpoint format 99, this hatebm reads format 4: upgrade"):
        ckpt.load(tmp_path / "new")
    ckpt.write_files(tmp_path / "three", 1, {}, {"format": 3})  # every rank's state in the shared file
    with pytest.raises(ValueError, match="checkpoint format 3, this hatebm reads format 4: read it with the hatebm"):
        ckpt.load(tmp_path / "three")
    ckpt.write_files(tmp_path / "old", 1, {}, {"kind": "tandem", "config": {}})
    with pytest.raises(ValueError, match="records no checkpoint format"):
        ckpt.load(tmp_path / "old")


def test_save_refuses_a_checkpoint_without_each_rank_state(tmp_path):
    from hatebm.checkpoint import Checkpoint, GeneratorSpec, RankState
    from hatebm.config import preset
    from hatebm.data import DataInfo

    one = RankState({"epoch": 0, "pos": 0}, {"rng.torch": torch.get_rng_state()})
    saved = Checkpoint(1, preset("tiny"), DataInfo(28, 28, 1), GeneratorSpec(NATIVE, (16,)), NATIVE, {}, {}, {0: one},
                       world=2)
    with pytest.raises(ValueError, match="holds the states of ranks \\[0\\], not \\[0, 1\\]"):
        ckpt.save(tmp_path, saved)
    assert not (tmp_path / "checkpoints").exists()


def test_load_model_reads_no_rank_file(tmp_path):
    """Sampling needs the shared weights alone: with its rank files deleted, a 2-rank checkpoint still loads and
    samples, while a resume (a full load) names the file it lacks."""
    from pathlib import Path

    from hatebm import load_model
    from hatebm.tf_import import import_tf

    fixtures = Path(__file__).parent / "fixtures" / "tf_reference"
    folder = import_tf("cifar10_synth", tmp_path / "run", ebm=fixtures / "hat32.ckpt", gen=fixtures / "gen32.ckpt",
                       bank=fixtures / "persistent.npy", bank_z=fixtures / "persistent_z.npy", ranks=2,
                       overrides=["batch_size=4"], load=False)
    for r in (0, 1):
        (folder / f"rank{r}.safetensors").unlink()
    assert load_model(tmp_path / "run", "cpu").sample(2, steps=1).x.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="lacks rank0.safetensors"):
        ckpt.load(tmp_path / "run")


@pytest.mark.parametrize("name", sorted(__import__("hatebm").PRESETS))
def test_every_preset_config_round_trips_through_a_checkpoint(tmp_path, name):
    """Every key of every preset comes back from state.json with its value and JSON type (ints stay ints)."""
    from hatebm.checkpoint import Checkpoint, GeneratorSpec, RankState
    from hatebm.config import preset, to_dict
    from hatebm.data import DataInfo

    cfg = preset(name)
    one = RankState({"epoch": 0, "pos": 0}, {"rng.torch": torch.get_rng_state()})
    saved = Checkpoint(1, cfg, DataInfo(32, 32, 1), GeneratorSpec({"type": "hatebm", "model": {}}, (16,)), None, {}, {},
                       {0: one}, world=1)
    back = ckpt.load(ckpt.save(tmp_path, saved)).config
    assert back == cfg and json.dumps(to_dict(back)) == json.dumps(to_dict(cfg))
