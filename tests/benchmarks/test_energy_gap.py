"""benchmarks/energy_gap.py: windowed energy-gap trajectories of runs, grouped by label."""
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "energy_gap.py"


def test_windows_and_group_means(tmp_path):
    runs = []
    for i, offset in enumerate((0.0, 2.0)):
        run = tmp_path / f"r{i}"
        run.mkdir()
        (run / "stats.jsonl").write_text("".join(json.dumps({"step": s, "energy_diff": s + offset}) + "\n"
                                                 for s in range(1, 11)))
        runs.append(f"y={run}")
    out = subprocess.run([sys.executable, str(SCRIPT), *runs], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "last step     10  max |gap|         10" in lines[0] and lines[0].endswith("1.5         3.5         5.5"
                                                                                     "         7.5         9.5")
    assert lines[2] == "y        mean ± std over 2 runs: 2.5 ± 1  4.5 ± 1  6.5 ± 1  8.5 ± 1  10.5 ± 1"
