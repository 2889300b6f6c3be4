"""Paired comparison of base generator, DDLS and the Hat EBM (`hatebm.eval.compare`, `hatebm compare`): the same Z0
for every method, K = 0 is the base, forward-pass counts, files, mismatched runs, the CLI."""
from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from hatebm.cli import main
from hatebm.eval import inception
from hatebm.eval.compare import paired_comparison
from hatebm.model import load_model

pytestmark = pytest.mark.usefixtures("needs_inception", "one_thread_env")
PROJECTION = np.random.default_rng(0).standard_normal((28 * 28, 2048)).astype(np.float32) / 28


def features(images: np.ndarray, *args, **kwargs) -> np.ndarray:
    """Stands in for Inception: a fixed random projection of the pixels (distinct images, distinct features)."""
    return (images.reshape(len(images), -1).astype(np.float32) / 255) @ PROJECTION


@pytest.fixture(scope="module")
def runs(tmp_path_factory, squares):
    """(GAN run, joint run on its generator, the squares .npz both were trained on), trained for one step each."""
    from hatebm.config import override, preset
    from hatebm.train import train

    folder = tmp_path_factory.mktemp("compare")
    npz = folder / "squares.npz"
    np.savez(npz, images=squares(64))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["pretrain", "gan", "gan_tiny", "data.name=npz", f"data.root={npz}", "iters=1", "eval_samples=0",
                     "--out", str(folder / "gan"), "--quiet"]) == 0
        train(override(preset("joint_tiny"), ["data.name=npz", f"data.root={npz}", f"generator.source={folder / 'gan'}",
                                              "iters=1", "ckpt_every=1", "eval_samples=0"]), folder / "hat",
              progress=False)
    finally:
        torch.set_num_threads(threads)
    return folder / "gan", folder / "hat", npz


@pytest.fixture
def reference(monkeypatch, make_reference, squares):
    monkeypatch.setattr(inception, "inception_features", features)
    return make_reference(features(squares(6, seed=1)))


def compare(runs, reference, **kw):
    gan, hat, _ = runs
    settings = {"n": 5, "seed": 3, "batch_size": 2, "ddls_steps": 2, "ref": str(reference.path), "device": "cpu",
                "progress": False, **kw}
    return paired_comparison(gan, hat, **settings)


def test_every_method_starts_from_the_same_latents(runs):
    gan, hat, _ = runs
    models = [load_model(gan, "cpu", "generator"), load_model(gan, "cpu", "ddls"), load_model(hat, "cpu")]
    z0 = [torch.cat([r.z0 for r in m.results(5, 2, batch_size=2, progress=False, seed=3)]) for m in models]
    assert z0[0].shape == (5, 16) and all(torch.equal(z, z0[0]) for z in z0[1:])
    other = torch.cat([r.z0 for r in models[2].results(5, 2, batch_size=3, progress=False, seed=4)])
    assert not torch.equal(other, z0[0])  # another seed, other latents


def test_k0_is_the_base_and_the_chains_move(runs, reference, tmp_path):
    res = compare(runs, reference, steps=[0, 2, 3], out=tmp_path / "cmp")
    assert set(res) == {"base", "ddls", "hat", "hat_K0", "hat_K2", "hat_K3", "protocol"}
    base, k0 = res["base"], res["hat_K0"]
    assert base["images"].shape == (5, 28, 28, 1) and base["images"].dtype == np.uint8
    assert np.array_equal(k0["images"], base["images"])
    for e in (base, k0):
        assert e["z_move"] == e["y_rms"] == e["x_move"] == 0.0 and e["fid"] == pytest.approx(base["fid"])
    assert res["ddls"]["z_move"] > 0 and res["ddls"]["y_rms"] == 0 and res["ddls"]["x_move"] > 0
    assert res["hat"]["z_move"] > 0 and res["hat"]["y_rms"] > 0 and res["hat"]["x_move"] > 0
    assert np.array_equal(res["hat_K3"]["images"], res["hat"]["images"])  # K = eval steps: the hat set itself
    assert not np.array_equal(res["hat_K2"]["images"], base["images"])


def test_forward_passes_per_image_and_cost(runs, reference):
    res = compare(runs, reference, steps=[0, 1])  # 5 images in batches of 2, 2, 1
    assert res["base"]["passes"] == {"hat": None, "generator": 1.0}
    assert res["hat_K0"]["passes"] == {"hat": 0.0, "generator": 1.0}
    # the joint sampler: G(Z0) once, then per step one hat pass for Y (eq 6), one for Z and one G pass (eq 7)
    for name, k in (("hat_K1", 1), ("hat", 3)):
        assert res[name]["steps"] == k and res[name]["passes"] == {"hat": 2.0 * k, "generator": k + 1.0}, name
    # DDLS holds Y at 0 (eps_y = 0): no Y update, so one critic pass and one G pass per step
    assert res["ddls"]["steps"] == 2 and res["ddls"]["passes"] == {"hat": 2.0, "generator": 3.0}
    assert all(res[m]["seconds"] > 0 for m in ("base", "ddls", "hat"))


def test_files_and_metrics_json(runs, reference, tmp_path):
    out = tmp_path / "cmp"
    res = compare(runs, reference, steps=[1], out=out, kid_subsets=2, kid_subset_size=3)
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved) == {"base", "ddls", "hat", "hat_K1", "protocol"}
    for name in ("base", "ddls", "hat", "hat_K1"):
        assert np.array_equal(np.load(out / f"{name}.npz")["images"], res[name]["images"])
        entry = {k: v for k, v in res[name].items() if k != "images"}
        assert saved[name] == json.loads(json.dumps(entry)) and entry["file"] == str(out / f"{name}.npz")
        assert {"fid", "kid", "kid_std", "seconds", "passes", "z_move", "y_rms", "x_move", "steps"} <= set(entry)
    p = saved["protocol"]
    gan, hat, _ = runs
    assert p["gan"].endswith("step_00000001") and p["gan"].startswith(str(gan)) and p["hat"].startswith(str(hat))
    assert p["checkpoint_steps"] == {"gan": 1, "hat": 1} and (p["n"], p["seed"], p["ref_n"]) == (5, 3, None)
    assert p["ddls"]["steps"] == 2 and p["ddls"]["eps_z"] == 0.1 and p["hat_sampler"]["eval_steps"] == 3
    assert "same latent" in p["paired"] and p["fid"]["kid"]["subset_size"] == 3 and p["ref"] == str(reference.path)
    with pytest.raises(ValueError, match="ref_n picks reference images"):
        compare(runs, reference, ref_n=3)


def test_runs_that_do_not_pair_are_refused(runs, reference, tmp_path, tiny_run):
    gan, hat, _ = runs
    other = tmp_path / "other"
    shutil.copytree(hat, other)
    (ckpt,) = (other / "checkpoints").iterdir()
    tensors = load_file(str(ckpt / "tensors.safetensors"))
    key = next(k for k in tensors if k.startswith("generator.") and tensors[k].is_floating_point())
    tensors[key] = tensors[key] + 1
    save_file(tensors, str(ckpt / "tensors.safetensors"))
    with pytest.raises(ValueError, match="is not the one of .* differ"):
        paired_comparison(gan, other, n=2, ref=str(reference.path), device="cpu", progress=False)
    with pytest.raises(ValueError, match="is a tandem run"):
        paired_comparison(gan, tiny_run, n=2, ref=str(reference.path), device="cpu", progress=False)
    with pytest.raises(ValueError, match="DDLS needs a GAN"):
        paired_comparison(hat, hat, n=2, ref=str(reference.path), device="cpu", progress=False)


def test_ref_n_with_statistics_is_refused_before_any_run_is_read(reference, tmp_path):
    missing = tmp_path / "no_run"  # never opened: the reference is checked before the runs are loaded and sampled
    with pytest.raises(ValueError, match="ref_n picks reference images, but .* holds statistics already: drop ref_n"):
        paired_comparison(missing, missing, n=2, ref=str(reference.path), ref_n=10, device="cpu", progress=False)


def test_cli_prints_the_table_and_writes(runs, tmp_path, monkeypatch, capsys, squares):
    gan, hat, _ = runs
    monkeypatch.setattr(inception, "inception_features", features)
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    ref = tmp_path / "ref_images.npz"
    np.savez(ref, images=squares(8, seed=2))
    out = tmp_path / "cli"
    assert main(["compare", str(gan), str(hat), "-n", "4", "--seed", "1", "--steps", "0", "2", "--ddls-steps", "1",
                 "--ref", str(ref), "--ref-n", "6", "--kid-subsets", "2", "--batch-size", "3", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "metrics.json").read_text())
    assert {"base", "ddls", "hat", "hat_K0", "hat_K2"} <= set(saved) and saved["protocol"]["ref_n"] == 6
    assert saved["protocol"]["fid"]["reference"]["n"] == 6  # --ref-n as in `hatebm fid calc`
    assert len(list((tmp_path / "cache" / "fid").glob("*.npz"))) == 1  # the reference, computed once
    assert "‖Z_K−Z0‖" in printed and str(out / "metrics.json") in printed and str(out / "hat_K2.npz") in printed
    row = next(line for line in printed.splitlines() if line.startswith("hat_K2 "))
    assert row.split()[1:3] == ["2", f"{saved['hat_K2']['fid']:.4f}"] and row.split()[5:7] == ["4.0", "3.0"]
    assert main(["compare", str(gan), str(hat), "-n", "1", "--quiet"]) == 2
    assert "at least 2 samples" in capsys.readouterr().err


def benchmark(name: str, monkeypatch):
    """The script benchmarks/NAME.py as a module (benchmarks/ on sys.path, as when it is run)."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "refine_select", raising=False)  # refine_bootstrap imports it: a fresh copy
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_refine_select_chooses_on_one_half_and_reports_on_the_other(runs, reference, tmp_path, monkeypatch, capsys):
    """benchmarks/refine_select.py: each method's K is the lowest selection FID (the Hat EBM's mean over its training
    seeds), the report uses other sampling seeds and the other half of the reference, and a rerun, or one with other
    hat runs, scores only the sets it has not scored."""
    script = benchmark("refine_select", monkeypatch)
    gan, hat, _ = runs
    out = tmp_path / "select"
    argv = ["refine_select.py", str(gan), str(hat), str(hat), "--hat-steps", "0", "2", "--ddls-steps", "0", "3",
            "--select-n", "4", "-n", "5", "--ref", str(reference.path), "--device", "cpu", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    chosen = json.loads((out / "report.json").read_text())["protocol"]["chosen"]
    done = json.loads((out / "report.json").read_text())["select"]
    assert chosen["ddls"] == min((0, 3), key=lambda k: done[f"ddls_K{k}"]["fid"])
    assert chosen["hat"] == min((0, 2), key=lambda k: done[f"hat_s0_K{k}"]["fid"] + done[f"hat_s1_K{k}"]["fid"])
    assert done["hat_s0_K0"]["fid"] == done["ddls_K0"]["fid"]  # K = 0 is the base for both methods
    base = np.load(out / "base.npz")["images"]
    assert np.array_equal(base, load_model(gan, "cpu", method="generator").draw(5, seed=0, progress=False))
    report = json.loads((out / "report.json").read_text())
    assert report["hat_s0"]["fid"] == report["hat_s1"]["fid"]  # the same run twice: the same paired set
    calls = []
    monkeypatch.setattr(script, "paired_samples", lambda *a, **k: calls.append(a) or (base, {}))
    monkeypatch.setattr(script, "score", lambda images, stats, ref, k: {"steps": k, "fid": 0.0, "kid": 0.0,
                                                                       "kid_std": 0.0, "seconds": 0.0, "z_move": 0.0})
    script.main()
    assert calls == []  # every set was read back from scores.json
    monkeypatch.setattr(sys, "argv", [*argv[:3], *argv[4:]])  # one hat run: its sets and base's and DDLS's are known
    script.main()
    assert calls == []
    (out / "hat_s1.npz").unlink()
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    assert len(calls) == 1  # a report set whose file is gone is drawn again
    monkeypatch.setattr(sys, "argv", [*argv, "--seed", "1"])
    with pytest.raises(SystemExit, match="must differ"):
        script.main()


def test_refine_bootstrap_recomputes_the_report_and_resamples_pairs(runs, tmp_path, monkeypatch, squares):
    """benchmarks/refine_bootstrap.py: the kept features give the report's FIDs (against the report's half of a
    --ref-n subset); one index draw serves every method (a hat run given twice differs by exactly 0 in every
    replicate); features are computed once per set; a second report on the same draw joins as another recipe."""
    gan, hat, _ = runs
    monkeypatch.setattr(inception, "inception_features", features)
    monkeypatch.setenv("HATEBM_CACHE", str(tmp_path / "cache"))
    ref = tmp_path / "ref_images.npz"
    np.savez(ref, images=squares(12, seed=2))
    out, other = tmp_path / "select", tmp_path / "other"
    argv = ["refine_select.py", str(gan), str(hat), str(hat), "--hat-steps", "2", "--ddls-steps", "3", "--select-n",
            "4", "-n", "5", "--ref", str(ref), "--ref-n", "10", "--device", "cpu"]
    for folder in (out, other):
        monkeypatch.setattr(sys, "argv", [*argv, "--out", str(folder), "--scores", str(out / "scores.json")])
        benchmark("refine_select", monkeypatch).main()
    script = benchmark("refine_bootstrap", monkeypatch)
    monkeypatch.setattr(sys, "argv", ["refine_bootstrap.py", str(out), "--reps", "20", "--device", "cpu"])
    script.main()
    result = json.loads((out / "bootstrap.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert result["protocol"]["reference_n"] == 5  # the second half of the 10 --ref-n images
    for name in ("base", "ddls", "hat_s0", "hat_s1"):
        entry = result["fid"][name]
        assert entry["full"] == pytest.approx(report[name]["fid"], rel=1e-6)
        assert entry["std"] > 0 and entry["lo95"] <= entry["full"] <= entry["hi95"]  # centred on the full sets
    same = result["differences"]["hat_s0 - hat_s1"]
    assert same["full"] == same["std"] == same["lo95"] == same["hi95"] == 0
    diff = result["differences"]["hat_s0 - ddls"]
    assert diff["full"] == pytest.approx(report["hat_s0"]["fid"] - report["ddls"]["fid"], rel=1e-6)
    assert diff["lo95"] <= diff["full"] <= diff["hi95"] and diff["std"] > 0
    assert np.std(np.array(diff["replicates"]) + diff["full"] - diff["replicate_mean"], ddof=1) == pytest.approx(
        diff["std"])
    monkeypatch.setattr(inception, "inception_features", lambda *a, **k: pytest.fail("features recomputed"))
    script.main()
    assert json.loads((out / "bootstrap.json").read_text()) == result  # same seed, same replicates
    monkeypatch.setattr(inception, "inception_features", features)
    monkeypatch.setattr(sys, "argv", ["refine_bootstrap.py", str(out), str(other), "--reps", "20", "--device", "cpu"])
    script.main()
    both = json.loads((out / "bootstrap.json").read_text())
    assert both["fid"]["other:hat_s1"]["full"] == result["fid"]["hat_s1"]["full"]
    assert both["differences"]["other:hat_s0 - ddls"]["replicates"] == diff["replicates"]  # the same draws
    recipe = both["differences"]["mean other - mean select"]  # the same hat run in both: exactly 0
    assert recipe["full"] == recipe["std"] == 0
    report["ddls"]["fid"] += 1  # a report that is not these sets' is refused
    (out / "report.json").write_text(json.dumps(report))
    with pytest.raises(SystemExit, match="ddls"):
        script.main()
    shutil.copy(out / "hat_s0.npz", other / "base.npz")  # another draw's base: not one paired set
    monkeypatch.setattr(sys, "argv", ["refine_bootstrap.py", str(other), str(out), "--device", "cpu"])
    with pytest.raises(SystemExit, match="base.npz is not"):
        script.main()
