"""The scripts under examples/ run end to end at tiny sizes."""
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import hatebm
from hatebm.config import override, preset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str, *argv: str, monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [script, *argv])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")


@pytest.fixture
def tiny_run(tiny_npz, tmp_path):
    out = tmp_path / "run"
    hatebm.train(override(preset("tiny"), ["data.name=npz", f"data.root={tiny_npz}", "eval_samples=0"]), out,
                 progress=False)
    return out


def test_refine_your_generator(tiny_npz, tmp_path, monkeypatch, capsys):
    out = tmp_path / "refine"
    run("refine_your_generator.py", "--out", str(out), "--data", str(tiny_npz), "--iters", "2", "--steps", "2",
        "--n", "4", monkeypatch=monkeypatch)
    pair = np.load(out / "base_vs_refined.npz")
    assert pair["base"].shape == pair["refined"].shape == (4, 28, 28, 1)
    assert np.load(out / "samples.npz")["images"].shape == (4, 28, 28, 1)
    run("refine_your_generator.py", "--out", str(out), "--data", str(tiny_npz), "--iters", "3", "--steps", "2",
        "--n", "4", "--resume", monkeypatch=monkeypatch)
    assert "step 3" in capsys.readouterr().out


def test_ood_scores(tiny_run, tiny_npz, monkeypatch, capsys):
    run("ood_scores.py", str(tiny_run), "--in", str(tiny_npz), "--ood", "noise", "--n", "20", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "noise: AUROC" in out and "upside-down" in out


def test_sample_checkpoint(tiny_run, tmp_path, monkeypatch):
    out = tmp_path / "s.npz"
    run("sample_checkpoint.py", str(tiny_run), "--n", "6", "--steps", "2", "--out", str(out), monkeypatch=monkeypatch)
    assert np.load(out)["images"].shape == (6, 28, 28, 1)
    assert out.with_suffix(".png").is_file() and (tmp_path / "s_path.png").is_file()
