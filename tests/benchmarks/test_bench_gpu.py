"""benchmarks/bench_gpu.py at tiny size on CPU: every part runs and the JSON holds finite figures."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


def test_bench_gpu_tiny(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--iters", "2", "--json",
                           str(out)], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["timing"]
    assert len(rows) == 8
    timed = [r for r in rows if r["status"] == "ok"]
    assert {(r["amp"], r["channels_last"]) for r in timed} == {(a, c) for a in (True, False) for c in (True, False)}
    for r in timed:
        assert not r["compile"]
        assert math.isfinite(r["s_per_iter"]) and r["s_per_iter"] > 0
        assert 0 < r["langevin_share"] and r["images_per_s"] > 0
    assert all(r["status"].startswith("skipped") for r in rows if r["compile"])
    stab = report["stability"]
    assert stab["finite"] and stab["iters"] > 0 and math.isfinite(stab["energy_diff_last"])
    assert report["nccl"]["status"].startswith("skipped")
    assert [(r["preset"], r["status"]) for r in report["sampling"]] == [("imagenet128_synth", "ok"),
                                                                         ("cifar10_refine", "ok")]
    for r in report["sampling"]:
        assert r["s_per_step"] > 0 and r["images_per_s"] > 0 and 0 < r["noise_share"] < 10
        assert r["fid50k_sampling_s"] > 0 and r["fid50k_inception_s"] > 0 and r["peak_host_gib"] > 0
    assert "target" in proc.stdout and "all checks passed" in proc.stdout
