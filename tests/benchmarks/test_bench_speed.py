"""benchmarks/bench_speed.py at tiny size on CPU: every setting and precision is in the JSON, the FLOP counts are
positive, one B-joint Langevin step costs fewer FLOPs than one of B (one hat pass fewer), and the shares are
percentages."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_speed.py"
EPS = 1e-6


def share(x: float) -> bool:
    return math.isfinite(x) and -EPS <= x <= 100 + EPS


def test_bench_speed_tiny(tmp_path):
    out = tmp_path / "speed.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--precisions", "fp32,bf16", "--json", str(out)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    settings = report["settings"]
    assert set(settings) == {"A", "B", "B-joint", "C"}
    assert [settings[n]["order"] for n in ("A", "B", "B-joint", "C")] == ["conditional", "zy", "joint", "conditional"]
    for prec in ("fp32", "bf16"):
        assert report["gemm_peak"][f"{prec}_gflops"] > 0
    for name, s in settings.items():
        fl = s["flops"]
        assert all(fl[k] > 0 for k in ("per_step", "chain", "iteration", "hat_pass")), (name, fl)
        assert fl["chain"] < fl["iteration"]
        assert s["conv_peak"]["shapes"] and s["conv_peak"]["fp32_gflops"] > 0 and s["conv_peak"]["bf16_gflops"] > 0
        assert set(s["rows"]) == {"fp32", "bf16"}
        for prec, r in s["rows"].items():
            assert r["s_per_iter"] > 0 and 0 < r["langevin_s"] <= r["s_per_iter"]
            assert share(r["langevin_share_pct"])
            assert r["langevin_gflops"] > 0 and r["iter_gflops"] > 0
            assert r["pct_of_conv_peak"] > 0 and r["pct_of_gemm_peak"] > 0
            sp = r["split"]
            assert share(sp["langevin_share_pct"])
            for part in ("langevin_pct", "outside_pct"):  # of the chain / of the iteration
                assert all(share(v) for v in sp[part].values()), (name, prec, part, sp[part])
            assert math.isclose(sum(sp["langevin_pct"].values()), 100, abs_tol=1e-6)
            assert math.isclose(sum(sp["outside_pct"].values()) + sp["langevin_share_pct"], 100, abs_tol=1e-6)
            assert sp["langevin"]["hat_fwd"] > 0 and sp["langevin"]["hat_bwd"] > 0
            assert (sp["langevin"]["gen_bwd"] > 0) == (s["kind"] == "joint")  # Z's gradient goes through G
            assert (sp["outside"]["gen_update"] > 0) == (s["kind"] == "tandem")
    # order=joint: one hat forward + input gradient per step fewer than zy (same G work)
    step_b, step_j = settings["B"]["flops"]["per_step"], settings["B-joint"]["flops"]["per_step"]
    assert step_j < step_b
    assert math.isclose(step_b - step_j, settings["B"]["flops"]["hat_pass"], rel_tol=1e-6)
    for prec in ("fp32", "bf16"):
        ratio = settings["B-joint"]["rows"][prec]["vs_joint"]
        assert ratio["of"] == "B" and ratio["flops_per_step"] > 1 and ratio["s_per_iter"] > 0
    assert "B/B-joint" in proc.stdout and "projected total" in proc.stdout


def test_bench_speed_times_the_precisions_asked_for(tmp_path):
    out = tmp_path / "speed.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--settings", "A", "--precisions", "fp32", "--json",
                           str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["precisions"] == ["fp32"] and set(report["settings"]["A"]["rows"]) == {"fp32"}
    bad = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--precisions", "fp16"], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and "--precisions takes a comma-separated subset of fp32,bf16" in bad.stderr
