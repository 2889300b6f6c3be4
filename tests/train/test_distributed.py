"""Two-rank DDP training on CPU (gloo) through torchrun, as a multi-GPU launch would run."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="torchrun missing")
def test_torchrun_two_ranks(tiny_npz, tmp_path):
    out = tmp_path / "ddp"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "hatebm.cli", "train", "tiny", "data.name=npz",
           f"data.root={tiny_npz}", "iters=2", "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert [s["step"] for s in stats] == [1, 2]  # written once, by rank 0
    assert np.load(out / "samples.npz")["images"].shape == (16, 28, 28, 1)
