import os

import pytest
import torch

from hatebm.devices import cpu_threads, resolve_device


def cores() -> int:
    return len(os.sched_getaffinity(0))


def test_cpu_threads_follows_omp_then_affinity_then_cgroup_quota(tmp_path):
    quota = tmp_path / "cpu.max"
    assert cpu_threads({"OMP_NUM_THREADS": "3"}, quota) == 3
    assert cpu_threads({"OMP_NUM_THREADS": "x"}, quota) == cores()  # no quota file: the affinity mask
    quota.write_text("max 100000\n")
    assert cpu_threads({}, quota) == cores()
    quota.write_text("50000 100000\n")  # docker --cpus=0.5: one thread
    assert cpu_threads({}, quota) == 1
    quota.write_text(f"{100000 * cores() * 4} 100000\n")  # a quota above the mask does not add threads
    assert cpu_threads({}, quota) == cores()
    quota.write_text("garbage")
    assert cpu_threads({}, quota) == cores()


def test_cpu_threads_shares_cores_among_local_ranks(tmp_path):
    quota = tmp_path / "cpu.max"
    quota.write_text("800000 100000\n")
    assert cpu_threads({"LOCAL_WORLD_SIZE": "2"}, quota) == max(1, min(cores(), 8) // 2)
    assert cpu_threads({"LOCAL_WORLD_SIZE": str(64 * cores())}, quota) == 1


def test_resolve_device_names_bad_devices():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_the_cli_sets_the_thread_count_at_start_up(monkeypatch, capsys):
    from hatebm.cli import main

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(2)
    assert main(["train", "tiny", "--dry-run"]) == 0
    assert torch.get_num_threads() == 1
