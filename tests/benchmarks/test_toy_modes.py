"""benchmarks/toy_modes.py: per-mode weights, G's reach and energies against closed forms (identity generator, points
at the centres), and the script end to end on a tiny toy_table1.py run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hatebm.data import toy_distribution

FOLDER = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def script(monkeypatch):
    monkeypatch.syspath_prepend(str(FOLDER))
    import toy_modes
    return toy_modes


def test_mode_weights_count_points_near_each_centre(script):
    truth = toy_distribution("gmm25")
    points = np.concatenate([truth.means.numpy()[:5].repeat(3, 0), np.full((5, 2), 10.0)])  # 5 far from every mode
    weights = script.mode_weights(truth, points)
    assert weights.sum() == pytest.approx(15 / 20) and np.allclose(weights[:5], 3 / 20) and not weights[5:].any()


def test_reach_of_the_identity_is_the_modes_inside_the_radius(script):
    truth = toy_distribution("gmm25")  # centres on the grid {-2..2}²: radii 0 to 2.83
    d, z_star = script.reach(torch.nn.Identity(), truth.means, radius=2.0)
    radius = truth.means.norm(dim=1).numpy()
    inside = radius <= 2.0
    assert np.all(d[inside] < 0.01) and np.allclose(z_star[inside], radius[inside], atol=0.01)
    assert np.allclose(d[~inside], radius[~inside] - 2.0, atol=0.01)  # the nearest point is on the circle


def test_energies_are_the_hat_over_the_temperature(script):
    from types import SimpleNamespace

    from hatebm.energy import HatEBM

    hat = lambda x: x.square().sum(1)  # noqa: E731
    ebm = HatEBM(hat, torch.nn.Identity(), (2,), temperature=0.5)
    means = toy_distribution("gmm8").means
    assert np.allclose(script.energies(SimpleNamespace(ebm=ebm), means), 2 * means.square().sum(1).numpy())


def test_script_on_a_tiny_table(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(FOLDER / "toy_table1.py"), "--truths", "gmm25", "--gan-seeds", "1",
                          "--hat-seeds", "1", "--n", "100", "--out", str(tmp_path), "--gan", "iters=20", "--hat",
                          "iters=5", "log_every=1"], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    out = subprocess.run([sys.executable, str(FOLDER / "toy_modes.py"), str(tmp_path), "--truth", "gmm25", "--n",
                          "100", "--long", "5"], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    cells = json.loads(out.stdout.strip().splitlines()[-1])["gmm25"]
    assert cells["missed"][0] >= 1  # 20 GAN steps miss modes of 25
    assert cells["truth_w"][0] == pytest.approx(cells["missed"][0] / 25)
    assert cells["base_w"][0] < 0.25 * cells["truth_w"][0]  # missed: below a quarter of the truth's weight each
    assert cells["covered_reach3"][0] == 1  # a mode the base covers is in G's range
    assert 0 <= cells["reach3"][0] <= cells["reach8"][0] <= 1  # a wider latent ball reaches more


def test_a_folder_without_the_table_is_one_error_line(tmp_path):
    out = subprocess.run([sys.executable, str(FOLDER / "toy_modes.py"), str(tmp_path), "--truth", "gmm25"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [f"toy_modes.py: {tmp_path / 'gmm25_rows.json'} is missing: run "
                                               f"benchmarks/toy_table1.py --truths gmm25 --out {tmp_path} first"]
