"""Tandem training end to end on a tiny dataset: CLI, outputs, resume, divergence."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from hatebm.cli import main
from hatebm.config import override, preset
from hatebm.train import DivergenceError, train
from hatebm import precision
from hatebm.distributed import setup
from hatebm.train.tandem import Tandem


def tiny(npz, *extra):
    return override(preset("tiny"), ["data.name=npz", f"data.root={npz}", "eval_samples=10", *extra])


def test_cli_trains_a_few_iterations_and_samples(tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "--out", str(out), "--quiet"]) == 0
    for name in ("config.json", "stats.jsonl", "samples.npz", "samples.png"):
        assert (out / name).is_file(), name
    assert (out / "images" / "step_00000004_path.png").is_file()
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2, 3, 4]
    assert {"energy_diff", "gen_loss", "y_norm", "drift_y", "it_per_s"} <= set(stats[-1])
    images = np.load(out / "samples.npz")["images"]
    assert images.dtype == np.uint8 and images.shape == (16, 28, 28, 1)  # cropped back to the data's size
    npz = tmp_path / "s.npz"
    assert main(["sample", str(out), "--n", "5", "--steps", "2", "--out", str(npz)]) == 0
    assert np.load(npz)["images"].shape == (5, 28, 28, 1) and npz.with_suffix(".png").is_file()


@pytest.mark.parametrize("extra", [[], ["ema_halflife=1.5"]], ids=["plain", "ema"])
def test_resume_equals_uninterrupted_run(tiny_npz, tmp_path, extra):
    full, part = tmp_path / "full", tmp_path / "part"
    train(tiny(tiny_npz, *extra), full, progress=False)
    train(tiny(tiny_npz, "iters=2", *extra), part, progress=False)
    train(tiny(tiny_npz, *extra), part, resume=True, progress=False)
    a = load_file(str(full / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    b = load_file(str(part / "checkpoints" / "step_00000004" / "tensors.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("hat_ema.") for k in a) == bool(extra)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "it_per_s"}  # noqa: E731
                       for l in (p / "stats.jsonl").read_text().splitlines()]
    assert strip(full) == strip(part)
    assert np.array_equal(np.load(full / "samples.npz")["images"], np.load(part / "samples.npz")["images"])


def test_refuses_to_overwrite_or_resume_with_other_config(tiny_npz, tmp_path):
    out = tmp_path / "r"
    train(tiny(tiny_npz, "iters=2", "eval_samples=0"), out, progress=False)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train(tiny(tiny_npz, "iters=2"), out, progress=False)
    with pytest.raises(ValueError, match="cannot change sampler.steps of the run"):
        train(tiny(tiny_npz, "iters=3", "sampler.steps=2"), out, resume=True, progress=False)


def test_divergence_is_detected(tiny_npz, tmp_path):
    cfg = tiny(tiny_npz, "diverge_gap=1e-9")
    with pytest.raises(DivergenceError, match="diverged at step 1"):
        train(cfg, tmp_path / "d", progress=False)
    assert not (tmp_path / "d" / "checkpoints").exists()


def test_amp_without_native_bf16_warns_and_trains_in_float32(tiny_npz, tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    with pytest.warns(UserWarning, match="no native bf16"):
        train(tiny(tiny_npz, "amp=true", "iters=1", "eval_samples=0"), out := tmp_path / "a", progress=False)
    assert json.loads((out / "stats.jsonl").read_text())["step"] == 1


def test_gen_steps_take_extra_generator_steps_on_fresh_bank_pairs(tiny_npz):
    run = Tandem(tiny(tiny_npz, "gen_steps=3", "amp=false"), setup("cpu"))
    before = run.bank.x.clone()
    run.train_step()
    assert run.opt_gen.state[next(iter(run.gen.parameters()))]["step"] == 3
    changed = (run.bank.x != before).flatten(1).any(1)
    assert changed.sum() == run.cfg.batch_size  # only this step's B new pairs are written back
    with pytest.raises(ValueError, match=r"batch_size x gen_steps \(8 x 5\)"):
        tiny(tiny_npz, "gen_steps=5")
