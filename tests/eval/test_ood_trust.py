"""`hatebm ood` on a run whose state.json plants a factory generator: refused (nothing imported) unless
--trust-generator or --generator names it; the written protocol still records the checkpoint."""
from __future__ import annotations

import json
import shutil
import sys

from hatebm import checkpoint as ckpt
from hatebm.cli import main


def test_ood_refuses_a_planted_factory_unless_trusted(tiny_run, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "marker"
    (tmp_path / "planted_gen.py").write_text(
        "from pathlib import Path\n"
        "from hatebm.config import preset\n"
        "from hatebm.nets import build_generator\n"
        f"Path({str(marker)!r}).write_text('imported')\n"
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
