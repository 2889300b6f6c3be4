"""benchmarks/toy_table1.py at tiny size: it pretrains, selects DDLS's settings, trains the three Hat EBM variants,
and ends with one JSON object {truth: {method: {metric: [mean, std]}}}."""
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "toy_table1.py"


def test_tiny_table_prints_every_method_and_metric(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--truths", "gmm8", "--gan-seeds", "1", "--hat-seeds", "1",
                          "--n", "100", "--out", str(tmp_path), "--gan", "iters=20", "--hat", "iters=5", "log_every=1"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    table = json.loads(lines[-1])
    assert list(table) == ["gmm8"] and list(table["gmm8"]) == ["base", "ddls", "hat", "hat_init", "hat_y0"]
    for method, cells in table["gmm8"].items():
        assert set(cells) == {"kl", "mmd2", "mode_tv", "in_mode", "passes", "y_rms"}
        assert all(len(v) == 2 and v[1] == 0 for v in cells.values())  # one seed: std 0
    rows = table["gmm8"]
    assert rows["base"]["passes"][0] == 1 and rows["hat"]["passes"][0] == 2 * 25 + 26  # G once; K = 25 steps of Y, Z
    assert rows["hat_y0"]["y_rms"][0] == 0 and rows["hat"]["y_rms"][0] > 0
    assert "energy gap" in out.stdout and "DDLS (K, eps) chosen" in out.stdout
    saved = json.loads((tmp_path / "gmm8_rows.json").read_text())
    base, hat = saved["rows"]["base"][0], saved["rows"]["hat"][0]
    paired = lines[lines.index("gmm8: paired differences, Hat EBM minus base on the same GAN (mean ± std over runs)") + 1]
    assert paired.split()[:2] == ["hat", f"{hat['kl'] - base['kl']:.4f}"]
