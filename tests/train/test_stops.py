"""No lost work: SIGTERM and SIGINT on a real training process checkpoint the step they arrive in, a resume after
them is exact, killed writes leave no temporary folders behind, a failed checkpoint write keeps the earlier ones, a
divergence rolls back when asked to, and resume refuses changes (naming them) without touching the run's files."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from hatebm import checkpoint as ckpt
from hatebm import tensorfile
from hatebm.cli import main
from hatebm.config import override, preset
from hatebm.train import DivergenceError, train
from hatebm.train.hatrun import HatRun


def tiny(npz, *extra):
    return override(preset("tiny"), ["data.name=npz", f"data.root={npz}", "eval_samples=0", *extra])


def tensors(run, step):
    return load_file(str(run / "checkpoints" / f"step_{step:08d}" / "tensors.safetensors"))


def same_tensors(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_checkpoints_the_current_step_and_resume_is_exact(tiny_npz, tmp_path, signum, code):
    out = tmp_path / "run"
    args = ["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "iters=100000",
            "log_every=1", "image_every=100000", "ckpt_every=100000", "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hatebm.cli", *args], stderr=subprocess.PIPE, text=True, env=env)
    stats = out / "stats.jsonl"
    deadline = time.time() + 120
    while not (stats.is_file() and len(stats.read_text().splitlines()) >= 3):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    *warned, line = err.strip().splitlines()  # warnings (amp=true on a CPU without bf16) come first, one line each
    assert f"stopped by {signal.Signals(signum).name} after step" in line, err
    assert all(w.startswith("hatebm train: warning: ") for w in warned), err
    step = int(line.split("after step ")[1].split(";")[0])
    assert [p.name for p in ckpt.list_checkpoints(out)] == [f"step_{step:08d}"]
    assert json.loads(stats.read_text().splitlines()[-1])["step"] == step

    torch.set_num_threads(1)  # as the killed process: float sums depend on the thread count
    train(tiny(tiny_npz, f"iters={step + 2}"), out, resume=True, progress=False)
    full = tmp_path / "full"
    train(tiny(tiny_npz, f"iters={step + 2}"), full, progress=False)
    assert same_tensors(tensors(out, step + 2), tensors(full, step + 2))


def test_kill_9_loses_only_the_steps_since_the_last_checkpoint_and_resume_is_exact(tiny_npz, tmp_path):
    out = tmp_path / "run"
    args = ["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "iters=100000",
            "log_every=1", "image_every=100000", "ckpt_every=2", "--out", str(out), "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "hatebm.cli", *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while len(ckpt.list_checkpoints(out)) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() is not None else ""
        time.sleep(0.01)
    proc.kill()
    proc.communicate(timeout=60)
    step = ckpt.load(out).step  # the newest complete checkpoint; a folder being written when killed is ignored
    torch.set_num_threads(1)
    train(tiny(tiny_npz, f"iters={step + 2}"), out, resume=True, progress=False)
    full = tmp_path / "full"
    train(tiny(tiny_npz, f"iters={step + 2}", "ckpt_every=2"), full, progress=False)
    assert same_tensors(tensors(out, step + 2), tensors(full, step + 2))
    assert not list((out / "checkpoints").glob(".tmp_*"))
    strip = lambda p: [{k: v for k, v in json.loads(line).items() if k != "it_per_s"}  # noqa: E731
                       for line in (p / "stats.jsonl").read_text().splitlines()]
    assert strip(out) == strip(full)


def test_stale_temporary_folders_of_killed_writes_are_removed_at_the_next_start(tiny_npz, tmp_path):
    out = tmp_path / "run"
    train(tiny(tiny_npz, "iters=2"), out, progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / "checkpoints" / f".tmp_step_00000004_{dead.pid}"
    stale.mkdir()
    (stale / "tensors.safetensors").write_bytes(b"half")
    train(tiny(tiny_npz), out, resume=True, progress=False)
    assert not stale.exists() and [p.name for p in ckpt.list_checkpoints(out)] == ["step_00000002", "step_00000004"]


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_failed_checkpoint_write_keeps_the_earlier_ones_and_is_one_error(tiny_npz, tmp_path, monkeypatch, capsys,
                                                                         code):
    out = tmp_path / "run"
    train(tiny(tiny_npz, "iters=2"), out, progress=False)
    before = tensors(out, 2)

    def full_disk(tensors, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(tensorfile, "save_file", full_disk)  # the writer checkpoints go through
    assert main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "--out", str(out),
                 "--resume", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write checkpoint" in err[0] and os.strerror(code) in err[0], err
    assert "step_00000002" in err[0] and "--resume" in err[0]
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step_00000002"]  # no temporary folder left
    assert same_tensors(tensors(out, 2), before)


def test_divergence_rolls_back_with_lower_learning_rates_when_asked(tiny_npz, tmp_path, monkeypatch):
    check, failed = HatRun.check, []

    def fail_once_at_step_3(self, values):
        if self.step == 3 and not failed:
            failed.append(self.step)
            raise DivergenceError("training diverged at step 3: planted")
        check(self, values)

    monkeypatch.setattr(HatRun, "check", fail_once_at_step_3)
    out = tmp_path / "run"
    model = train(tiny(tiny_npz, "on_divergence=rollback", "rollback_lr=0.25", "ckpt_every=2"), out, progress=False)
    assert model.step == 4 and failed == [3]
    records = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 2, 3, 4]
    event = records[2]["rollback"]
    assert event["diverged_at"] == 3 and event["to_step"] == 2 and event["lr_scale"] == 0.25
    saved = ckpt.load(out)
    assert saved.lr_scale == 0.25
    assert saved.optimizers["hat"][1][0]["lr"] == pytest.approx(0.25 * saved.config.lr_hat)


def test_rollbacks_stop_after_max_rollbacks_and_without_a_checkpoint(tiny_npz, tmp_path):
    with pytest.raises(DivergenceError, match="no checkpoint to roll back to yet; lower ckpt_every"):
        train(tiny(tiny_npz, "diverge_gap=1e-9", "on_divergence=rollback"), tmp_path / "a", progress=False)
    cfg = tiny(tiny_npz, "on_divergence=rollback", "max_rollbacks=2", "ckpt_every=1")
    train(override(cfg, ["iters=1"]), tmp_path / "b", progress=False)
    with pytest.raises(DivergenceError, match="diverged at step 2"):
        train(override(cfg, ["diverge_gap=1e-9"]), tmp_path / "b", resume=True, progress=False)
    rollbacks = [r for r in map(json.loads, (tmp_path / "b" / "stats.jsonl").read_text().splitlines()) if "rollback" in r]
    assert [r["rollback"]["lr_scale"] for r in rollbacks] == [0.5, 0.25]


def test_divergence_remedy_works_as_the_message_says(tiny_npz, tmp_path, capsys):
    base = ["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "ckpt_every=1", "--out",
            str(tmp_path / "r"), "--quiet"]
    assert main([*base, "iters=1"]) == 0
    assert main([*base, "--resume", "diverge_gap=1e-9"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "lr_hat=" in err and "on_divergence=rollback" in err
    assert main([*base, "--resume", "lr_hat=5e-5"]) == 0
    assert ckpt.load(tmp_path / "r").config.lr_hat == 5e-5


def test_resume_refuses_changes_and_a_lower_target_without_touching_the_run(tiny_npz, tmp_path, capsys):
    out = tmp_path / "r"
    base = ["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "--out", str(out), "--quiet"]
    assert main([*base, "iters=3"]) == 0
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main([*base, "--resume", "iters=2"]) == 2
    assert "already at step 3, past iters=2" in capsys.readouterr().err
    assert main([*base, "--resume", "iters=4", "sampler.steps=2", "seed=3", "lr_hat=1e-5"]) == 2
    err = capsys.readouterr().err
    assert "cannot change sampler.steps, seed " in err and "lr_*" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    assert main([*base, "--resume", "iters=4", "lr_hat=1e-5", "log_every=2", "ckpt_every=1", "device=cpu"]) == 0


def test_out_that_is_a_file_is_one_error(tiny_npz, tmp_path, capsys):
    (tmp_path / "f").write_text("not a folder")
    for out in (tmp_path / "f", tmp_path / "f" / "run"):
        assert main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(tmp_path / "f") in err[0] and "Traceback" not in err[0], err
    assert (tmp_path / "f").read_text() == "not a folder"
