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
    grid = (2 * (3 * 30 + 2), 2 * (6 * 30 + 2))  # steps 0, 2, 4 × (X, G(Z), 5·Y) per chain
    assert png_size(out) == (grid[0] + figures.ROW_LABEL_WIDTH, grid[1] + figures.COLUMN_LABEL_HEIGHT)  # + labels


def test_energy_histogram_from_ood_scores(tiny_run, tmp_path, capsys):
    scores = tmp_path / "scores.npz"
    assert main(["ood", str(tiny_run), "--in", str(tiny_run.parent / "squares.npz"), "--ood", "noise", "--n", "8",
                 "--out", str(scores), "--metrics", str(tmp_path / "m.json"), "--quiet"]) == 0
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


def fake_path(steps: list[int], chains: int = 2, size: int = 8) -> list[dict[str, torch.Tensor]]:
    """Recorded path of `chains` chains of size×size grey images (as `SampleResult.path`): X = G(Z) + Y."""
    gen = torch.Generator().manual_seed(0)
    path = []
    for step in steps:
        gz, y = torch.rand(chains, 1, size, size, generator=gen) * 2 - 1, torch.randn(chains, 1, size, size) * 0.05
        path.append({"step": torch.tensor(step), "x": gz + y, "gz": gz, "y": y})
    return path


def test_path_figure_names_rows_and_steps(tmp_path):
    path = fake_path([0, 10, 20])
    rows, columns = figures.path_labels(path, n_chains=2, y_scale=7.5)
    assert rows == ["X", "G(Z)", "7.5·Y"] * 2 and columns == ["0", "10", "20"]
    assert figures.path_labels(path)[0][2] == "5·Y"  # the default y_scale
    plain = figures.save_path_figure(path, tmp_path / "plain.png", n_chains=2, y_scale=7.5, labels=False)
    labelled = figures.save_path_figure(path, tmp_path / "labelled.png", n_chains=2, y_scale=7.5)
    (w, h), (lw, lh) = png_size(plain), png_size(labelled)
    assert (w, h) == (2 * (3 * 10 + 2), 2 * (6 * 10 + 2))  # 3 steps × 6 rows of 8 px tiles, 2 px padding, scale 2
    assert (lw - w, lh - h) == (figures.ROW_LABEL_WIDTH, figures.COLUMN_LABEL_HEIGHT)
    img = np.asarray(Image.open(labelled).convert("L"))
    np.testing.assert_array_equal(img[figures.COLUMN_LABEL_HEIGHT:, figures.ROW_LABEL_WIDTH:],
                                  np.asarray(Image.open(plain).convert("L")))  # the grid itself is unchanged
    assert img[figures.COLUMN_LABEL_HEIGHT:, :figures.ROW_LABEL_WIDTH].min() < 128  # row labels are drawn
    assert img[:figures.COLUMN_LABEL_HEIGHT, figures.ROW_LABEL_WIDTH:].min() < 128  # and step numbers
    wide = figures.save_path_figure(path, tmp_path / "wide.png", n_chains=2, y_scale=123456.5)
    assert png_size(wide)[0] > lw  # a long label widens the margin rather than being cut


def test_training_curves_smooth_with_a_moving_average(tmp_path):
    values = [4.0, 0.0, 2.0, 6.0, 1.0, 3.0]
    by_hand = [4.0, (4 + 0) / 2, (4 + 0 + 2) / 3, (0 + 2 + 6) / 3, (2 + 6 + 1) / 3, (6 + 1 + 3) / 3]
    np.testing.assert_allclose(figures.moving_average(values, 3), by_hand)
    np.testing.assert_allclose(figures.moving_average(values, 1), values)
    records = [{"step": 10 * (i + 1), "loss": v} for i, v in enumerate(values)]
    fig = figures.plot_training_curves(records, smooth=3)
    raw, smoothed = fig.axes[0].lines
    np.testing.assert_allclose(raw.get_ydata(), values)
    np.testing.assert_allclose(smoothed.get_ydata(), by_hand)
    assert raw.get_alpha() < 1 and fig.axes[0].get_title() == "loss (mean of 3)"
    (line,) = figures.plot_training_curves(records).axes[0].lines  # smooth=1: the raw curve alone
    assert line.get_alpha() is None
    with pytest.raises(ValueError, match="at least 1"):
        figures.plot_training_curves(records, smooth=0)
    (tmp_path / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["figures", "curves", str(tmp_path), "--smooth", "3", "--out", str(tmp_path / "c.png")]) == 0
    assert png_size(tmp_path / "c.png") == (400, 260)


def test_histogram_legend_names_each_set_once():
    labels = figures.legend_labels({"in": "fashion_mnist:test", "mnist": "mnist", "noise": "noise",
                                    "blobs": "/data/blobs.npz"})
    assert labels == {"in": "in: fashion_mnist:test", "mnist": "mnist", "noise": "noise",
                      "blobs": "blobs: /data/blobs.npz"}
    scores = {name: np.random.default_rng(i).normal(i, 1, 50) for i, name in enumerate(labels)}
    legend = figures.plot_energy_histogram(scores, 10, labels).axes[0].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == list(labels.values()) and len(set(texts)) == len(texts)


def test_window_means_average_consecutive_windows_of_the_records_that_log_the_key():
    from hatebm.eval.figures import window_means

    records = [{"step": i, "energy_diff": float(i)} for i in range(10)] + [{"step": 10}]
    assert window_means(records, "energy_diff", 5) == [0.5, 2.5, 4.5, 6.5, 8.5]
    assert window_means(records, "energy_diff", 3) == [1.5, 5.0, 8.0]  # 4, 3, 3 records
    with pytest.raises(ValueError, match="2 records log 'x'; 5 windows need at least as many"):
        window_means([{"x": 1.0}, {"x": 2.0}], "x")
