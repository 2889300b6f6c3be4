"""benchmarks/bench_sample_memory.py at tiny size: the run trains, `hatebm sample` writes the set, and the JSON line
holds the sizes the target is judged on."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sample_memory.py"


def test_bench_sample_memory_tiny(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--n", "12", "--batch-size", "5", "--dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["n"] == 12 and r["batch_size"] == 5 and r["uint8_gb"] == 12 * 128 * 128 * 3 / 1e9
    assert 0 < r["base_rss_gb"] <= r["peak_rss_gb"] and r["seconds"] > 0
    assert r["meets"] == (r["peak_rss_gb"] <= r["target_gb"]) and "target <= the set + 1 GiB" in proc.stdout
    with np.load(tmp_path / "samples.npz") as f:
        assert f["images"].shape == (12, 128, 128, 3) and f["images"].dtype == np.uint8
