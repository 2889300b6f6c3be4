"""The batch stream: its (seed, epoch) order, rank shards, exact resume, and disk streaming equal to memory."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import hatebm
from hatebm.config import DataConfig, ModelConfig, override, preset
from hatebm.data import prepare
from hatebm.distributed import Dist
from hatebm.train.stream import BatchOrder, epoch_order, open_stream
from hatebm.train.tandem import Tandem

MODEL = ModelConfig(resolution=32, channels=1)


def test_rank_shards_partition_each_epoch_and_resume_exactly():
    shares = [epoch_order(10, seed=3, epoch=1, rank=r, world=2) for r in (0, 1)]
    assert sorted(torch.cat(shares).tolist()) == list(range(10))
    assert not torch.equal(epoch_order(10, 3, 1), epoch_order(10, 3, 2))  # a new order every epoch
    order = BatchOrder(10, 2, seed=3, rank=1, world=2)
    batches = [order.next() for _ in range(5)]  # 5 per rank and epoch: 2 batches of 2, then the next epoch
    assert [e for e, _ in batches] == [0, 0, 1, 1, 2]
    resumed = BatchOrder(10, 2, seed=3, rank=1, world=2)
    resumed.load_state({"epoch": 1, "pos": 2})
    assert all(torch.equal(resumed.next()[1], b) for _, b in batches[3:])
    with pytest.raises(ValueError, match="fewer than one batch"):
        BatchOrder(5, 3, seed=0, world=2)


@pytest.mark.parametrize("workers", [0, 1])
def test_prepared_stream_equals_the_in_memory_stream(tiny_npz, tmp_path, workers):
    root = prepare(str(tiny_npz), tmp_path / "prepared", 28, progress=False)
    cpu = torch.device("cpu")
    memory, info = open_stream(DataConfig(name="npz", root=str(tiny_npz)), MODEL, 8, 1, 0, 1, cpu)
    disk, disk_info = open_stream(DataConfig(name="prepared", root=str(root), size=28, workers=workers), MODEL, 8, 1,
                                  0, 1, cpu)  # 28-px images padded to the 32-px model, as in memory
    assert info == disk_info and disk.shape == (1, 32, 32)
    for _ in range(10):  # 8 batches per epoch: crosses into the second
        assert torch.equal(memory.next(), disk.next())
    state = disk.state()
    after = [disk.next() for _ in range(3)]
    disk.load_state(state)
    assert all(torch.equal(disk.next(), b) for b in after)


def test_random_crops_and_flips_resume_exactly(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (40, 24, 36, 3), dtype=np.uint8)
    np.savez(tmp_path / "wide.npz", images=images)
    root = prepare(str(tmp_path / "wide.npz"), tmp_path / "prepared", 16, layout="short_side", progress=False)
    data = DataConfig(name="prepared", root=str(root), crop="random", flip=True, workers=1)
    model = ModelConfig(resolution=16, channels=3)
    stream, _ = open_stream(data, model, 4, 0, 0, 1, torch.device("cpu"))
    first = stream.next()
    state = stream.state()
    after = [stream.next() for _ in range(4)]
    again, _ = open_stream(data, model, 4, 0, 0, 1, torch.device("cpu"))
    again.load_state(state)
    assert all(torch.equal(again.next(), b) for b in after)
    centre, _ = open_stream(DataConfig(name="prepared", root=str(root)), model, 4, 0, 0, 1, torch.device("cpu"))
    assert not torch.equal(centre.next(), first)  # random windows, not the centre


def test_training_from_prepared_data_equals_training_in_memory(tiny_npz, tmp_path):
    root = prepare(str(tiny_npz), tmp_path / "prepared", 28, progress=False)
    runs = {}
    for name, data in (("memory", ["data.name=npz", f"data.root={tiny_npz}"]),
                       ("disk", ["data.name=prepared", f"data.root={root}", "data.size=28", "data.workers=1"])):
        cfg = override(preset("tiny"), [*data, "eval_samples=0"])
        hatebm.train(cfg, tmp_path / name, progress=False)
        runs[name] = load_file(str(tmp_path / name / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert runs["memory"].keys() == runs["disk"].keys()
    assert all(torch.equal(runs["memory"][k], runs["disk"][k]) for k in runs["memory"])


def test_bad_data_settings_are_refused(tiny_npz):
    with pytest.raises(ValueError, match="needs data.root"):
        open_stream(DataConfig(name="prepared"), MODEL, 8, 0, 0, 1, torch.device("cpu"))
    with pytest.raises(ValueError, match="data.crop and data.flip apply to data read from disk"):
        override(preset("tiny"), ["data.flip=true"]).validate()
    cfg = override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}"])  # batch_size 8
    with pytest.raises(ValueError, match="batch_size=8 is global .* multiple of 3"):
        Tandem(cfg, Dist(0, 3))
