"""benchmarks/bench_data.py --small: both parts run and the JSON holds finite, positive figures."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_data.py"


def positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_data_small(tmp_path):
    out = tmp_path / "out.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--small", "--json", str(out)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["rss"]["rows"]
    assert [r["n"] for r in rows] == [200, 2000]
    for r in rows:
        assert positive(r["self_mib"]) and positive(r["workers_mib"])
    assert all(math.isfinite(d) for d in report["rss"]["relative_diff"].values())
    tp = report["throughput"]
    for layout in ("square", "short_side"):
        assert sorted(r["workers"] for r in tp if r["layout"] == layout) == [0, 1, 2]
    assert all(positive(r["images_per_s"]) and r["batches"] > 0 for r in tp)
    assert "target" in proc.stdout and "images/s" in proc.stdout
