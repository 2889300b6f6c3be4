"""benchmarks/fid_noise.py on 1-d "features", where FID's finite-n bias is known: for disjoint sets of n and m points
drawn from a population of variance v and kurtosis k, FID = (mean_S - mean_R)^2 + (std_S - std_R)^2 has expectation
about v (1 + (k - 1) / 4) (1/n + 1/m): the means' term v (1/n + 1/m), the standard deviations' (k - 1) / 4 of it
(1.5 (1/n + 1/m) for a unit Gaussian). Far from the reference (mean offset d), the difference of two sets' FIDs
against one reference is dominated by the cross term (mean_S1 - mean_S2)(mean_S1 + mean_S2 - 2 mean_R), whose std
is about 2 d sqrt(2 v / n)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hatebm.eval.reference import ReferenceStats

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fid_noise.py"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--quiet"], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"})


FEATURES = np.random.default_rng(0).standard_normal((200, 1))


@pytest.fixture
def gaussian_stats(tmp_path) -> Path:
    return ReferenceStats.from_features(FEATURES, {"resize": "tf", "weights_sha256": "test"}).save(
        tmp_path / "gauss.npz").path


def test_fid_bias_and_noise_on_gaussians(gaussian_stats, tmp_path):
    out = tmp_path / "noise.json"
    proc = run(str(gaussian_stats), "--ref-n", "100", "--sizes", "25", "50", "--reps", "1000", "--json", str(out),
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {r["n"]: r for r in report["rows"]}
    centred = FEATURES[:, 0] - FEATURES.mean()
    variance, kurtosis = FEATURES.var(ddof=1), (centred**4).mean() / (centred**2).mean() ** 2
    for n in (25, 50):
        expected = variance * (1 + (kurtosis - 1) / 4) * (1 / n + 1 / 100)
        assert abs(rows[n]["fid_mean"] - expected) < 0.1 * expected, (n, rows[n], expected)
        assert rows[n]["diff_std"] > 0
    assert rows[50]["diff_std"] < rows[25]["diff_std"] and report["diff_std_exponent"] > 0
    assert report["resolve"]["n_at_2_sigma"] > 0 and "2 std at n" in proc.stdout


def test_the_noise_of_a_difference_far_from_the_reference_is_the_cross_term(gaussian_stats, tmp_path):
    shifted = np.random.default_rng(1).standard_normal((200, 1)) + 3
    samples = ReferenceStats.from_features(shifted, {"resize": "tf", "weights_sha256": "test"}).save(
        tmp_path / "shifted.npz").path
    out = tmp_path / "noise.json"
    proc = run(str(gaussian_stats), "--samples", str(samples), "--ref-n", "200", "--sizes", "50", "--reps", "1000",
               "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["rows"]
    offset = shifted.mean() - FEATURES.mean()  # the whole reference set is drawn every round
    expected = 2 * offset * np.sqrt(2 * shifted.var(ddof=1) / 50)
    assert abs(row["diff_std"] - expected) < 0.1 * expected, (row, expected)
    assert row["fid_mean"] > offset**2


def test_sizes_the_features_cannot_give_are_one_error(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    from fid_noise import measure

    with pytest.raises(ValueError, match="200 images cannot give a reference of 100 and two disjoint sets of 60"):
        measure(FEATURES, 100, [60], 2, 0, progress=False)
