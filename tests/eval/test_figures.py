"""Figures from the CLI: sample grids, Langevin paths, energy histograms, training curves (PNG files)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from hatebm.cli import main
from hatebm.eval import figures


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_grid_from_npz(tmp_path, squares):
    np.savez(tmp_path / "s.npz", images=squares(30))
    out = tmp_path / "figs" / "grid.png"
    assert main(["figures", "grid", str(tmp_path / "s.npz"), "--n", "12", "--nrow", "4", "--out", str(out)]) == 0
    assert png_size(out) == (2 * (4 * 30 + 2), 2 * (3 * 30 + 2))  # 4×3 tiles of 28 px + 2 px padding, scale 2
    tiles = np.asarray(Image.open(out))[::2, ::2]
    np.testing.assert_array_equal(tiles[2:30, 2:30], squares(30)[0, ..., 0])  # the first image, top left


def test_path_figure_of_a_checkpoint(tiny_run, tmp_path):
    out = tmp_path / "path.png"
    assert main(["figures", "path", str(tiny_run), "--chains", "2", "--steps", "4", "--every", "2",
                 "--out", str(out)]) == 0
    assert png_size(out) == (2 * (3 * 30 + 2), 2 * (6 * 30 + 2))  # steps 0, 2, 4 × (X, G(Z), 5·Y) per chain


def test_energy_histogram_from_ood_scores(tiny_run, tmp_path, capsys):
    scores = tmp_path / "scores.npz"
    assert main(["ood", str(tiny_run), "--in", str(tiny_run.parent / "squares.npz"), "--out", "noise", "--n", "8",
                 "--scores", str(scores), "--metrics", str(tmp_path / "m.json"), "--quiet"]) == 0
    out = tmp_path / "hist.png"
    assert main(["figures", "hist", str(scores), "--bins", "10", "--out", str(out)]) == 0
    assert png_size(out) == (600, 400)
    with pytest.raises(ValueError, match="non-finite"):
        figures.save_energy_histogram({"in": np.array([0.0, np.inf])}, tmp_path / "x.png")
    assert main(["figures", "hist", str(tmp_path / "m.json"), "--out", str(tmp_path / "y.png")]) == 2
    assert "not an OOD score file" in capsys.readouterr().err


def test_training_curves_from_stats(tiny_run, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main(["figures", "curves", str(tiny_run), "--keys", "energy_diff", "gen_loss", "--out", str(out)]) == 0
    assert png_size(out) == (800, 260)  # one row of two 4 × 2.6 inch panels at 100 dpi
    records = figures.read_stats(tiny_run / "stats.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert main(["figures", "curves", str(tiny_run), "--keys", "nothing", "--out", str(out)]) == 2
    assert "no numeric values for nothing" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert main(["figures", "curves", str(tmp_path / "bad.jsonl"), "--out", str(out)]) == 2
    assert "not JSON lines" in capsys.readouterr().err
    assert main(["figures", "curves", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "no training statistics" in capsys.readouterr().err


def test_curves_default_to_every_numeric_quantity(tmp_path):
    records = [{"step": s, "a": s * 0.5, "b": -s, "note": "text", "flag": True} for s in range(1, 6)]
    (tmp_path / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    out = figures.save_training_curves(figures.read_stats(tmp_path), tmp_path / "c.png")
    assert png_size(out) == (800, 260)  # panels for a and b only
