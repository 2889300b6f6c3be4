"""OOD detection: metrics against brute-force counts and scikit-learn, naming the sets, scoring, the CLI (set loading
and adaptation: test_common.py)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from hatebm.cli import main
from hatebm.data import to_model
from hatebm.eval import ood
from hatebm.model import load_model

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="needs scikit-learn (pip install 'hatebm[ood]')")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


# ---- metrics: OOD is the positive class, higher score = more OOD -----------------------------------------------

def brute_counts(s_in, s_out, t):
    """(OOD images flagged, in-distribution images flagged) by the rule score ≥ t."""
    return sum(o >= t for o in s_out), sum(i >= t for i in s_in)


def brute_auroc(s_in, s_out):
    return np.mean([1.0 if o > i else 0.5 if o == i else 0.0 for o in s_out for i in s_in])


def brute_aupr(s_in, s_out):
    ap, previous_recall = 0.0, 0.0
    for t in sorted(set(s_in) | set(s_out), reverse=True):
        tp, fp = brute_counts(s_in, s_out, t)
        ap += (tp / len(s_out) - previous_recall) * tp / (tp + fp)
        previous_recall = tp / len(s_out)
    return ap


def brute_fpr95(s_in, s_out):
    rates = [brute_counts(s_in, s_out, t) for t in set(s_in) | set(s_out)]
    return min(fp / len(s_in) for tp, fp in rates if tp / len(s_out) >= 0.95)


def random_scores(seed: int, n_in: int, n_out: int, ties: bool):
    rng = np.random.default_rng(seed)
    draw = (lambda n, shift: rng.integers(0, 5, n) + shift) if ties else (lambda n, shift: rng.normal(shift, 1, n))
    return draw(n_in, 0).astype(float), draw(n_out, 1).astype(float)


CASES = [(seed, n_in, n_out, ties) for seed, (n_in, n_out) in enumerate([(1, 1), (1, 7), (9, 1), (30, 45), (57, 20)])
         for ties in (False, True)]


@pytest.mark.parametrize("seed, n_in, n_out, ties", CASES)
def test_metrics_equal_brute_force_counts(seed, n_in, n_out, ties):
    s_in, s_out = random_scores(seed, n_in, n_out, ties)
    assert ood.auroc(s_in, s_out) == pytest.approx(brute_auroc(s_in, s_out), abs=1e-12)
    assert ood.aupr(s_in, s_out) == pytest.approx(brute_aupr(s_in, s_out), abs=1e-12)
    assert ood.fpr_at_tpr(s_in, s_out) == pytest.approx(brute_fpr95(s_in, s_out), abs=1e-12)


@needs_sklearn
@pytest.mark.parametrize("seed, n_in, n_out, ties", [c for c in CASES if c[1] > 1 or c[2] > 1])
def test_metrics_equal_scikit_learn(seed, n_in, n_out, ties):
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    s_in, s_out = random_scores(seed, n_in, n_out, ties)
    labels, scores = np.r_[np.zeros(n_in), np.ones(n_out)], np.r_[s_in, s_out]  # OOD = positive = 1
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert ood.auroc(s_in, s_out) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert ood.aupr(s_in, s_out) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert ood.fpr_at_tpr(s_in, s_out) == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)


def test_metrics_at_the_extremes():
    low, high = np.arange(10.0), np.arange(10.0) + 100
    m = ood.detection_metrics(low, high)
    assert (m["auroc"], m["aupr"], m["fpr95"], m["n_in"], m["n_out"]) == (1.0, 1.0, 0.0, 10, 10)
    assert (ood.auroc(high, low), ood.fpr_at_tpr(high, low)) == (0.0, 1.0)  # OOD scored lower: every in image flagged
    same_in, same_out = np.zeros(6), np.zeros(3)
    assert ood.auroc(same_in, same_out) == 0.5 and ood.fpr_at_tpr(same_in, same_out) == 1.0
    assert ood.aupr(same_in, same_out) == pytest.approx(3 / 9)  # one threshold: precision = prevalence
    # 19 of 20 OOD above every in-distribution score: TPR 0.95 is reached without any false positive
    assert ood.fpr_at_tpr(np.zeros(5), np.r_[np.ones(19), -1.0]) == 0.0
    assert ood.fpr_at_tpr(np.zeros(5), np.r_[np.ones(18), -1.0, -1.0]) == 1.0


@pytest.mark.parametrize("bad, message", [([], "non-empty"), ([[1.0, 2.0]], "1-D"), ([1.0, np.nan], "non-finite")])
def test_bad_scores_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        ood.auroc(bad, [1.0, 2.0])
    with pytest.raises(ValueError, match="tpr must be"):
        ood.fpr_at_tpr([1.0], [2.0], tpr=0)


# ---- naming the sets --------------------------------------------------------------------------------------

def test_parse_sets():
    assert ood.parse_sets(["mnist", "n2=noise", "/data/odd/blobs.npz"]) == {
        "mnist": "mnist", "n2": "noise", "blobs": "/data/odd/blobs.npz"}
    for items, message in ((["a=x.npz", "a=y.npz"], "two OOD sets"), (["in=noise"], "not 'in'"),
                           (["a b=noise"], "bad OOD set name"), ([], "no OOD sets")):
        with pytest.raises(ValueError, match=message):
            ood.parse_sets(items)


# ---- scoring and the CLI ------------------------------------------------------------------------------------

def test_energy_scores_are_the_hat_energy_of_training_style_inputs(tiny_run, squares):
    model = load_model(tiny_run)
    images = squares(7, seed=5)
    with torch.no_grad():  # the training transform: 28 -> 32 by padding with black
        expected = model.ebm.hat(to_model(images, 32, "pad", 1)).double().numpy()
    np.testing.assert_allclose(ood.energy_scores(model, images, batch_size=3, progress=False), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="adapt them first"):
        ood.energy_scores(model, images[:, :20, :20], progress=False)


def test_cli_end_to_end(tiny_run, tmp_path, capsys, squares):
    data = tiny_run.parent / "squares.npz"
    np.savez(tmp_path / "dim.npz", images=(squares(12, seed=9) // 4))  # other brightness: a near-OOD set
    argv = ["ood", str(tiny_run), "--in", str(data), "--ood", "noise", f"dim={tmp_path / 'dim.npz'}", "--n", "20",
            "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "OOD is the positive class" in printed and "noise" in printed and "dim" in printed
    scores, protocol = ood.load_scores(tiny_run / "ood_scores.npz")
    assert set(scores) == {"in", "noise", "dim"} and len(scores["in"]) == 20 and len(scores["noise"]) == 20
    assert len(scores["dim"]) == 12 and protocol["positive"] == "OOD"
    with np.load(tiny_run / "ood_scores.npz") as npz:  # the scored images are found again by their positions
        index = npz["index/in"]
    model = load_model(tiny_run)
    expected = ood.energy_scores(model, np.load(data)["images"][index], progress=False)
    np.testing.assert_allclose(scores["in"], expected, rtol=1e-6)

    metrics = json.loads((tiny_run / "metrics.json").read_text())  # one entry per OOD set, keyed by the in set too
    tag = str(data).replace("/", "-")
    assert {f"ood/{tag}/noise", f"ood/{tag}/dim"} <= set(metrics)
    entry = metrics[f"ood/{tag}/noise"]
    assert entry["auroc"] == pytest.approx(brute_auroc(scores["in"], scores["noise"]))
    assert entry["aupr"] == pytest.approx(brute_aupr(scores["in"], scores["noise"]))
    assert entry["fpr95"] == pytest.approx(brute_fpr95(scores["in"], scores["noise"]))
    assert entry["protocol"]["positive"] == "OOD" and entry["protocol"]["out"]["spec"] == "noise"
    assert entry["protocol"]["in"]["n"] == 20 and entry["protocol"]["model"]["step"] == 4


def test_cli_bad_inputs_give_clear_errors(tiny_run, tmp_path, capsys, squares):
    data = str(tiny_run.parent / "squares.npz")
    base = ["ood", str(tiny_run), "--in", data, "--n", "4", "--quiet", "--out", str(tmp_path / "s.npz"),
            "--metrics", str(tmp_path / "m.json")]
    np.savez(tmp_path / "float.npz", images=np.zeros((3, 28, 28, 1), np.float32))
    np.savez(tmp_path / "empty.npz", images=np.zeros((0, 28, 28, 1), np.uint8))
    np.savez(tmp_path / "small.npz", images=squares(3)[:, ::2, ::2])
    cases = [
        (["ood", str(tmp_path / "nowhere"), "--in", data, "--ood", "noise"], "no checkpoint at"),
        (base + ["--ood", str(tmp_path / "float.npz")], "uint8"),
        (base + ["--ood", str(tmp_path / "empty.npz")], "holds no images"),
        (base + ["--ood", str(tmp_path / "small.npz")], "14×14 images, but the model was trained on 28×28 images"),
        (base + ["--ood", str(tmp_path / "missing.npz")], "no file"),
        (base + ["--ood", "in=noise"], "bad OOD set name"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not (tmp_path / "s.npz").exists()
    assert main(base + ["--ood", str(tmp_path / "small.npz"), "--fit", "resize"]) == 0  # adapted when asked
    assert json.loads((tmp_path / "m.json").read_text())
