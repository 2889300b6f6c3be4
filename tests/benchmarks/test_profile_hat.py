"""benchmarks/profile_hat.py at tiny size: the operator table and a convolution share between 0 and 100 %."""
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_hat.py"


def test_profile_hat_tiny(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--width", "8", "--batch", "2", "--steps", "1"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "aten::mkldnn_convolution" in proc.stdout or "aten::convolution" in proc.stdout
    share = float(re.search(r"convolutions \(forward and input-gradient\): ([\d.]+) %", proc.stdout).group(1))
    assert 0 < share < 100
