"""The files of a checkpoint folder: atomic writes from one process and from every rank of a job, pruning, reads."""
import errno
import json
import os
from pathlib import Path

import pytest
import torch

from hatebm import checkpoint as ckpt
from hatebm.tensorfile import Lazy


def full_disk():
    raise OSError(errno.ENOSPC, "No space left on device")


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


def test_rank_files_are_written_beside_the_shared_ones_and_pruned_with_them(tmp_path):
    for step in (1, 2, 3):
        ranks = {r: {"x": torch.full((2,), 10.0 * step + r)} for r in (0, 1)}
        ckpt.write_files(tmp_path, step, {"a": torch.zeros(1)}, {"note": step}, ranks, keep=2)
    root = tmp_path / "checkpoints"
    assert sorted(p.name for p in root.iterdir()) == ["step_00000002", "step_00000003"]  # step 1 gone whole
    newest = root / "step_00000003"
    assert sorted(p.name for p in newest.iterdir()) == ["rank0.safetensors", "rank1.safetensors", "state.json",
                                                        "tensors.safetensors"]
    assert torch.equal(ckpt.read_rank(newest, 1)["x"], torch.full((2,), 31.0))


def test_a_failed_rank_file_write_leaves_nothing(tmp_path):
    first = ckpt.write_files(tmp_path, 1, {"a": torch.zeros(1)}, {}, {0: {"x": torch.zeros(2)}})
    with pytest.raises(OSError, match="No space left on device.*newest intact one is .*step_00000001"):
        ckpt.write_files(tmp_path, 2, {"a": torch.zeros(1)}, {}, {0: {"x": Lazy(torch.float32, (2,), full_disk)}})
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [first.name]  # no temporary folder left


def test_an_interrupted_write_of_rank_files_is_removed(tmp_path):
    broken = tmp_path / "checkpoints" / ".tmp_step_00000004_999999999"  # killed after its rank files, before the rest
    broken.mkdir(parents=True)
    (broken / "rank0.safetensors").write_bytes(b"partial")
    assert ckpt.list_checkpoints(tmp_path) == [] and ckpt.remove_stale(tmp_path) == [broken]
    assert not broken.exists()


def _job_writes(rank: int, world: int, store: str, run: str) -> None:
    """Rank ``rank`` of a gloo job: writes step 1, then step 2 with rank 1's file failing (a full disk)."""
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    results = {}
    for step in (1, 2):
        x = Lazy(torch.float32, (2,), full_disk) if (step, rank) == (2, 1) else torch.full((2,), float(rank))
        try:
            results[step] = str(ckpt.write_files(run, step, {"a": torch.zeros(1)}, {"by": rank}, {rank: {"x": x}}))
        except OSError as err:
            results[step] = str(err)
    Path(f"{run}/result{rank}.json").write_text(json.dumps(results))
    torch.distributed.destroy_process_group()
    os._exit(0)  # results saved: skip the teardown where a gloo thread may abort the interpreter (test_distributed.py)


def test_each_rank_of_a_job_writes_its_own_file_and_a_failure_stops_every_rank(tmp_path):
    import torch.multiprocessing as mp

    run = tmp_path / "run"
    run.mkdir()
    mp.spawn(_job_writes, args=(2, str(tmp_path / "store"), str(run)), nprocs=2)
    results = [json.loads((run / f"result{r}.json").read_text()) for r in (0, 1)]
    first = run / "checkpoints" / "step_00000001"
    assert results[0]["1"] == results[1]["1"] == str(first)
    assert json.loads((first / "state.json").read_text())["by"] == 0  # the shared files are rank 0's
    assert [ckpt.read_rank(first, r)["x"][0].item() for r in (0, 1)] == [0.0, 1.0]
    assert "No space left on device" in results[1]["2"] and "another rank failed" in results[0]["2"]
    assert all("newest intact one is" in r["2"] for r in results)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000001"]  # no temporary folder left
