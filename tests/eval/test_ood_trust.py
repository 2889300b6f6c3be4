"""`hatebm ood` and `hatebm.eval.ood.evaluate` on a run whose state.json plants a factory generator: refused (nothing
imported) unless --trust-generator / trust_generator=True or --generator names it; the written protocol still records
the checkpoint."""
from __future__ import annotations

import json
import shutil
import sys

import pytest

from hatebm import checkpoint as ckpt
from hatebm.cli import main
from hatebm.eval.ood import evaluate


def _planted_run(tiny_run, tmp_path, monkeypatch):
    """A copy of the tiny run whose checkpoints name the factory planted_gen:make, which writes tmp_path/marker when
    imported."""
    (tmp_path / "planted_gen.py").write_text(
        "from pathlib import Path\n"
        "from hatebm.config import preset\n"
        "from hatebm.nets import build_generator\n"
        f"Path({str(tmp_path / 'marker')!r}).write_text('imported')\n"
        "def make():\n"
        "    return build_generator(preset('tiny').model)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "planted_gen", raising=False)
    run = tmp_path / "run"
    shutil.copytree(tiny_run / "checkpoints", run / "checkpoints")
    for state_file in run.rglob(ckpt.STATE):
        state = json.loads(state_file.read_text())
        state["generator"]["spec"] = {"type": "factory", "factory": "planted_gen:make"}
        state_file.write_text(json.dumps(state))
    return run


def test_ood_refuses_a_planted_factory_unless_trusted(tiny_run, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    run = _planted_run(tiny_run, tmp_path, monkeypatch)
    argv = ["ood", str(run), "--in", str(tiny_run.parent / "squares.npz"), "--ood", "noise", "--n", "4", "--quiet",
            "--device", "cpu", "--out", str(tmp_path / "s.npz"), "--metrics", str(tmp_path / "m.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "planted_gen:make" in err and "--trust-generator" in err and "--generator planted_gen:make" in err
    assert not marker.exists() and not (tmp_path / "m.json").exists()
    for allow in (["--trust-generator"], ["--generator", "planted_gen:make"]):
        assert main([*argv, *allow]) == 0
        (entry,) = json.loads((tmp_path / "m.json").read_text()).values()
        assert entry["protocol"]["model"]["checkpoint"].endswith("step_00000004")
    assert marker.exists()


def test_ood_evaluate_takes_trust_generator(tiny_run, tmp_path, monkeypatch):
    """The Python API refuses the planted factory as the command does, and runs it with trust_generator=True."""
    run = _planted_run(tiny_run, tmp_path, monkeypatch)
    squares = str(tiny_run.parent / "squares.npz")
    with pytest.raises(ValueError, match="planted_gen:make"):
        evaluate(run, squares, {"noise": "noise"}, n=4, device="cpu", progress=False)
    assert not (tmp_path / "marker").exists()
    result = evaluate(run, squares, {"noise": "noise"}, n=4, device="cpu", progress=False, trust_generator=True)
    assert set(result.metrics) == {"noise"} and (tmp_path / "marker").exists()
