"""Bad inputs, one clear error each: the `hatebm` CLI (or, for Python-only inputs, the API) answers every one of the
inputs below with exit status != 0 and exactly one non-empty stderr line that names the offending key, file or flag,
with no traceback and no "unexpected" (the mark of an exception type the CLI did not expect: a bug). Nothing is
harmed: a run folder the input targeted is byte-identical afterwards, and planted pickles and import specs never
run (their marker file is never created).

Classes: config values (overrides), config files, CLI values, checkpoints, weights and data files, outputs and
disks, planted pickles and import specs. Signals are covered in tests/train/test_stops.py.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import hatebm
from hatebm import checkpoint as ckpt
from hatebm import tensorfile
from hatebm.cli import main
from hatebm.config import TandemConfig, override, preset, to_dict
from hatebm.sampling import LangevinConfig
from squares import make_squares

# ---- material, built once per module ---------------------------------------------------------------------------

squares = make_squares


SMALL = ["eval_samples=0", "amp=false", "iters=2", "ckpt_every=2", "image_every=1000", "log_every=1"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Paths shared by the cases: `npz` (32 squares), `run` (a tandem run of tiny, one checkpoint at step 2), `gan`
    (a run of gan_tiny, one checkpoint at step 2), `empty` (a folder), `file` (a regular file)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    npz = root / "squares.npz"
    np.savez(npz, images=squares(32))
    data = ["data.name=npz", f"data.root={npz}"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        hatebm.train(override(preset("tiny"), [*data, *SMALL]), root / "run", progress=False)
        hatebm.train(override(preset("gan_tiny"), [*data, *SMALL]), root / "gan", progress=False)
    finally:
        torch.set_num_threads(threads)
    (root / "empty").mkdir()
    (root / "file").write_text("a regular file\n")
    return {"root": root, "npz": npz, "run": root / "run", "gan": root / "gan", "empty": root / "empty",
            "file": root / "file", "data": data}


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error(capsys, argv: list, *names: str) -> str:
    """Run the CLI on ``argv``; assert one clear error line naming each of ``names``; return the line."""
    argv = [str(a) for a in argv]
    with warnings.catch_warnings(record=True) as caught:  # a user would see these on stderr too
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's own errors
            code = exit_.code
    _, err = capsys.readouterr()
    shown = [f"{w.category.__name__}: {w.message}" for w in caught
             if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    lines = [line for line in err.splitlines() if line.strip()] + shown
    assert code not in (0, None), f"{argv} succeeded:\n{err}"
    assert len(lines) == 1, f"{argv}: expected one stderr line, got:\n{err}"
    line = lines[0]
    assert "Traceback" not in err and "unexpected" not in line, line
    assert line.startswith(f"hatebm {argv[0]}: error: "), line
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    return line


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def newest(run: Path) -> Path:
    return ckpt.list_checkpoints(run)[-1]


# ---- config values: overrides of `hatebm train tiny ... --dry-run` ---------------------------------------------

OVERRIDES = [
    # non-finite and out-of-range numbers
    ("lr_hat=inf", "lr_hat"), ("lr_hat=-inf", "lr_hat"), ("lr_hat=nan", "lr_hat"), ("lr_hat=0", "lr_hat"),
    ("lr_hat=-1e-4", "lr_hat"), ("lr_gen=inf", "lr_gen"), ("lr_gen=0", "lr_gen"), ("temperature=nan", "temperature"),
    ("temperature=0", "temperature"), ("temperature=-1", "temperature"), ("sampler.eps_y=-1", "sampler.eps_y"),
    ("sampler.eps_y=inf", "sampler.eps_y"), ("sampler.eps_y=0", "sampler.eps_y"),
    ("sampler.eps_z=-1", "sampler.eps_z"), ("sampler.eps_z=nan", "sampler.eps_z"),
    ("sampler.steps=0", "sampler.steps"), ("sampler.steps=-1", "sampler.steps"),
    ("sampler.max_drift_y=0", "sampler.max_drift_y"), ("iters=0", "iters"), ("iters=-5", "iters"),
    ("batch_size=0", "batch_size"), ("betas=0.9,1.0", "betas"), ("betas=-0.1,0.9", "betas"), ("betas=0.9", "betas"),
    ("betas=nan,0.9", "betas"), ("seed=-1", "seed"), ("seed=4294967296", "seed"), ("log_every=0", "log_every"),
    ("image_every=0", "image_every"), ("ckpt_every=0", "ckpt_every"), ("keep_ckpts=-1", "keep_ckpts"),
    ("eval_samples=-1", "eval_samples"), ("eval_steps=-1", "eval_steps"), ("data.workers=-1", "data.workers"),
    ("data.noise=-1", "data.noise"), ("data.noise=inf", "data.noise"), ("rollback_lr=1.5", "rollback_lr"),
    ("rollback_lr=0", "rollback_lr"), ("max_rollbacks=-1", "max_rollbacks"), ("lr_gamma=0", "lr_gamma"),
    ("lr_milestones=0", "lr_milestones"), ("diverge_gap=inf", "diverge_gap"), ("hat_grad_clip=0", "hat_grad_clip"),
    ("gen_steps=0", "gen_steps"), ("bank_size=4", "bank_size"), ("model.resolution=0", "model.resolution"),
    ("model.channels=4", "model.channels"), ("model.channels=2", "model.channels"),
    ("model.latent_shape=1,16", "model.latent_shape"),
    # wrong choices and types
    ("on_divergence=retry", "on_divergence"), ("data.resize=stretch", "data.resize"), ("iters=abc", "iters"),
    ("iters=1.5", "iters"), ("amp=maybe", "amp"), ("lr_milestones=x", "lr_milestones"), ("lr_hat=fast", "lr_hat"),
    ("data.flip=true", "data.flip"),
    # unknown keys and sections, keys of another kind of run, no '='
    ("nosuch=1", "nosuch"), ("nosuch.steps=1", "nosuch"), ("sampler.nosuch=1", "sampler.nosuch"),
    ("sampler=3", "sampler"), ("generator.source=x", "generator.source"), ("n_dis=2", "n_dis"),
    ("lr_disc=1e-3", "lr_disc"), ("iters", "iters"),
]


@pytest.mark.parametrize("assignment, key", OVERRIDES, ids=[a for a, _ in OVERRIDES])
def test_config_override(capsys, assignment, key):
    one_error(capsys, ["train", "tiny", assignment, "--dry-run"], key)


def test_pretrain_refuses_a_hat_key(capsys):
    one_error(capsys, ["pretrain", "gan", "gan_tiny", "lr_hat=1e-4", "--dry-run"], "lr_hat")


def test_unknown_preset(capsys):
    one_error(capsys, ["train", "no_such_preset", "--dry-run"], "no_such_preset")


# ---- config files ------------------------------------------------------------------------------------------------

def _write(text: str | bytes):
    def make(tmp: Path) -> Path:
        path = tmp / "cfg.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    return make


def _directory(tmp: Path) -> Path:
    (tmp / "x.json").mkdir()
    return tmp / "x.json"


def _gan_config(tmp: Path) -> Path:
    path = tmp / "gan.json"
    path.write_text(json.dumps(to_dict(preset("gan_tiny"))))
    return path


CONFIG_FILES = [
    ("broken-json", _write('{"run": "tandem", "iters": '), ["cfg.json", "not valid JSON"]),
    ("top-level-list", _write('[1, 2]'), ["cfg.json", "JSON object"]),
    ("wrong-type", _write('{"run": "tandem", "iters": "abc"}'), ["cfg.json", "iters"]),
    ("unknown-key", _write('{"run": "tandem", "nosuch": 1}'), ["cfg.json", "nosuch"]),
    ("dotted-key", _write('{"run": "tandem", "sampler.steps": 3}'), ["cfg.json", "sampler.steps"]),
    ("section-not-object", _write('{"run": "tandem", "sampler": 3}'), ["cfg.json", "sampler"]),
    ("out-of-range", _write('{"run": "tandem", "lr_hat": -1}'), ["cfg.json", "lr_hat"]),
    ("missing-run", _write('{"iters": 3}'), ["cfg.json", '"run"']),
    ("unknown-run", _write('{"run": "diffusion"}'), ["cfg.json", "diffusion"]),
    ("not-utf8", _write(b'{"run": "tandem", "data": {"name": "\xff"}}'), ["cfg.json", "UTF-8"]),
    ("missing-file", lambda tmp: tmp / "nope.json", ["nope.json"]),
    ("directory", _directory, ["x.json"]),
    ("gan-config-to-train", _gan_config, ["gan.json", "gan", "hatebm pretrain gan"]),
]


@pytest.mark.parametrize("make, names", [c[1:] for c in CONFIG_FILES], ids=[c[0] for c in CONFIG_FILES])
def test_config_file(capsys, tmp_path, make, names):
    one_error(capsys, ["train", make(tmp_path), "--dry-run"], *names)


def test_tandem_config_to_pretrain(capsys, tmp_path):
    path = tmp_path / "tandem.json"
    path.write_text(json.dumps(to_dict(preset("tiny"))))
    one_error(capsys, ["pretrain", "gan", path, "--dry-run"], "tandem.json", "hatebm train")


# ---- CLI values -------------------------------------------------------------------------------------------------

def _sample(*extra):
    return lambda b, tmp: ["sample", b["run"], "-n", "2", "--steps", "1", "--device", "cpu", "--quiet",
                           "--out", tmp / "s.npz", *extra]


def _samples_npz(tmp: Path, n: int = 3) -> Path:
    np.savez(tmp / "samples.npz", images=squares(n))
    return tmp / "samples.npz"


def _no_stats(b, tmp):
    (tmp / "run").mkdir()
    return ["figures", "curves", tmp / "run", "--out", tmp / "c.png"]


def _ood(*sets):
    return lambda b, tmp: ["ood", b["run"], "--in", b["npz"], "--ood", *sets, "--device", "cpu", "--quiet",
                           "--out", tmp / "scores.npz", "--metrics", tmp / "m.json"]


CLI_VALUES = [
    ("sample-batch-size-0", _sample("--batch-size", "0"), ["--batch-size"]),
    ("sample-n-0", lambda b, tmp: ["sample", b["run"], "-n", "0", "--device", "cpu", "--quiet", "--out",
                                   tmp / "s.npz"], ["-n"]),
    ("sample-n-negative", lambda b, tmp: ["sample", b["run"], "-n", "-3", "--device", "cpu", "--quiet", "--out",
                                          tmp / "s.npz"], ["-n"]),
    ("sample-steps-negative", lambda b, tmp: ["sample", b["run"], "-n", "2", "--steps", "-1", "--device", "cpu",
                                              "--quiet", "--out", tmp / "s.npz"], ["--steps"]),
    ("sample-eps-z-negative", _sample("--eps-z", "-1"), ["--eps-z"]),
    ("sample-eps-z-nan", _sample("--eps-z", "nan"), ["--eps-z"]),
    ("sample-device-tpu", lambda b, tmp: ["sample", b["run"], "-n", "2", "--device", "tpu", "--quiet", "--out",
                                          tmp / "s.npz"], ["tpu"]),
    ("sample-out-not-npz", lambda b, tmp: ["sample", b["run"], "-n", "2", "--device", "cpu", "--quiet", "--out",
                                           tmp / "s.png"], ["--out", "s.png"]),
    ("sample-missing-run", lambda b, tmp: ["sample", tmp / "nope", "-n", "2", "--device", "cpu", "--quiet", "--out",
                                           tmp / "s.npz"], ["nope"]),
    ("sample-ddls-on-tandem", _sample("--method", "ddls"), ["DDLS", "tandem"]),
    ("sample-hat-on-gan", lambda b, tmp: ["sample", b["gan"], "-n", "2", "--device", "cpu", "--quiet", "--out",
                                          tmp / "s.npz"], ["gan", "generator"]),
    ("fid-calc-n-1", lambda b, tmp: ["fid", "calc", _samples_npz(tmp), "-n", "1", "--ref", tmp / "ref.npz",
                                     "--device", "cpu", "--quiet"], ["n must be", "samples.npz"]),
    ("fid-calc-missing-samples", lambda b, tmp: ["fid", "calc", tmp / "nope.npz", "--ref", tmp / "ref.npz",
                                                 "--device", "cpu", "--quiet"], ["nope.npz"]),
    ("compare-non-gan", lambda b, tmp: ["compare", b["run"], b["run"], "-n", "2", "--device", "cpu", "--quiet"],
     ["tandem", "GAN"]),
    ("ood-bad-name", _ood("in=x.npz"), ["'in'"]),
    ("ood-bad-name-chars", _ood("a b=x.npz"), ["a b"]),
    ("ood-duplicate-names", _ood("a=x.npz", "a=y.npz"), ["'a'"]),
    ("ood-unknown-set", _ood("nosuchset"), ["nosuchset"]),
    ("ood-n-0", lambda b, tmp: [*_ood("noise")(b, tmp), "-n", "0"], ["n"]),
    ("data-prep-missing-source", lambda b, tmp: ["data", "prep", tmp / "nope.npz", "--out", tmp / "p", "--size",
                                                 "8", "--quiet"], ["nope.npz"]),
    ("data-prep-size-0", lambda b, tmp: ["data", "prep", b["npz"], "--out", tmp / "p", "--size", "0", "--quiet"],
     ["size"]),
    ("data-info-not-prepared", lambda b, tmp: ["data", "info", b["empty"]], ["empty", "manifest.json"]),
    ("figures-curves-no-stats", _no_stats, ["stats.jsonl"]),
    ("figures-grid-n-0", lambda b, tmp: ["figures", "grid", b["npz"], "--n", "0", "--out", tmp / "g.png"], ["--n"]),
    ("figures-path-chains-0", lambda b, tmp: ["figures", "path", b["run"], "--chains", "0", "--device", "cpu",
                                              "--out", tmp / "p.png"], ["chains"]),
    ("figures-hist-missing", lambda b, tmp: ["figures", "hist", tmp / "nope.npz", "--out", tmp / "h.png"],
     ["nope.npz"]),
]
if not torch.cuda.is_available():
    CLI_VALUES.append(("sample-device-cuda", lambda b, tmp: ["sample", b["run"], "-n", "2", "--device", "cuda",
                                                             "--quiet", "--out", tmp / "s.npz"], ["cuda"]))


@pytest.mark.parametrize("argv, names", [c[1:] for c in CLI_VALUES], ids=[c[0] for c in CLI_VALUES])
def test_cli_value(capsys, base, tmp_path, argv, names):
    before = snapshot(base["run"])
    one_error(capsys, argv(base, tmp_path), *names)
    assert snapshot(base["run"]) == before
    assert not (tmp_path / "s.npz").exists()


# ---- checkpoints: a copy of the tiny run, damaged ---------------------------------------------------------------

def _state(edit):
    """Damage: rewrite the newest state.json with ``edit(state) -> new state`` (a JSON value)."""
    def damage(folder: Path) -> None:
        path = folder / ckpt.STATE
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return damage


def _state_text(text: str):
    return lambda folder: (folder / ckpt.STATE).write_text(text)


def _drop(key):
    return _state(lambda s: {k: v for k, v in s.items() if k != key})


def _set(key, value):
    return _state(lambda s: {**s, key: value})


def _config(key, value):
    return _state(lambda s: {**s, "config": {**s["config"], key: value}})


def _tensors(edit):
    """Damage: rewrite the newest tensors file with ``edit(tensors) -> tensors``."""
    def damage(folder: Path) -> None:
        path = folder / ckpt.TENSORS
        save_file(edit(load_file(str(path))), str(path))
    return damage


def _truncate(folder: Path) -> None:
    path = folder / ckpt.TENSORS
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _random_bytes(folder: Path) -> None:
    (folder / ckpt.TENSORS).write_bytes(np.random.default_rng(0).bytes(4096))


def _reshape(name):
    return _tensors(lambda t: {**t, name: torch.zeros(3, 3)})


def _without(name):
    return _tensors(lambda t: {k: v for k, v in t.items() if k != name})


def _first_key(prefix, suffix=".weight"):
    def key(t):
        return next(k for k in t if k.startswith(prefix) and k.endswith(suffix))
    return key


def _reshape_first(prefix):
    return _tensors(lambda t: {**t, _first_key(prefix)(t): torch.zeros(3, 3)})


def _without_first(prefix, suffix=".weight"):
    return _tensors(lambda t: {k: v for k, v in t.items() if k != _first_key(prefix, suffix)(t)})


def _remove(name):
    return lambda folder: (folder / name).unlink()


def _no_checkpoints(folder: Path) -> None:
    shutil.rmtree(folder.parent)


CHECKPOINTS = [
    # (id, damage of the newest checkpoint folder, words the message must hold; "CKPT" / "RUN" stand for the paths)
    ("state-missing", _remove(ckpt.STATE), ["RUN", "CKPT", "incomplete", "state.json"]),
    ("state-empty", _state_text(""), ["CKPT", "unreadable"]),
    ("state-not-json", _state_text("{not json"), ["CKPT", "unreadable"]),
    ("state-a-list", _state(lambda s: [s]), ["CKPT", "state.json"]),
    ("state-a-string", _state(lambda s: "step 2"), ["CKPT", "state.json"]),
    ("state-lacks-config", _drop("config"), ["CKPT", "config"]),
    ("state-lacks-generator", _drop("generator"), ["CKPT", "generator"]),
    ("config-out-of-range", _config("lr_hat", -1.0), ["CKPT", "lr_hat"]),
    ("config-non-finite", _config("temperature", "NaN"), ["CKPT", "temperature"]),
    ("config-unknown-key", _config("nosuch", 1), ["CKPT", "nosuch"]),
    ("format-99", _set("format", 99), ["CKPT", "format 99"]),
    ("unknown-run-kind", _set("run", "diffusion"), ["CKPT", "diffusion"]),
    ("step-not-a-number", _set("step", "two"), ["CKPT", "step"]),
    ("data-info-garbled", _set("data_info", {"h": 1}), ["CKPT", "data_info"]),
    ("world-negative", _set("world", -1), ["CKPT", "world"]),
    ("lr-scale-garbled", _set("lr_scale", "half"), ["CKPT", "lr_scale"]),
    ("generator-spec-unknown", _state(lambda s: {**s, "generator": {**s["generator"], "spec": {"type": "magic"}}}),
     ["RUN", "magic"]),
    ("generator-spec-untyped", _state(lambda s: {**s, "generator": {**s["generator"], "spec": {"path": "x"}}}),
     ["CKPT", "spec"]),
    ("generator-spec-not-object", _state(lambda s: {**s, "generator": {**s["generator"], "spec": "hatebm"}}),
     ["CKPT", "spec"]),
    ("hat-spec-garbled", _set("hat", {"type": "magic"}), ["RUN", "hat", "magic"]),
    ("tensors-missing", _remove(ckpt.TENSORS), ["RUN", "CKPT", "tensors.safetensors"]),
    ("tensors-truncated", _truncate, ["CKPT", "unreadable"]),
    ("tensors-random-bytes", _random_bytes, ["CKPT", "unreadable"]),
    ("weight-wrong-shape-generator", _reshape_first("generator."), ["RUN", "generator", "size mismatch"]),
    ("weight-wrong-shape-hat", _reshape_first("hat."), ["hat", "size mismatch"]),
    ("weight-missing-generator", _without_first("generator.", ".weight"), ["RUN", "generator"]),
    ("weight-missing-hat", _without_first("hat.", ".weight"), ["RUN", "hat"]),
    ("no-checkpoints", _no_checkpoints, ["RUN", "no checkpoint"]),
]


def _names(names, run: Path, folder: Path) -> list[str]:
    return [str(folder) if n == "CKPT" else str(run) if n == "RUN" else n for n in names]


@pytest.mark.parametrize("damage, names", [c[1:] for c in CHECKPOINTS], ids=[c[0] for c in CHECKPOINTS])
def test_damaged_checkpoint_sample(capsys, base, tmp_path, damage, names):
    run = copy_run(base["run"], tmp_path / "run")
    folder = newest(run)
    damage(folder)
    before = snapshot(run)
    one_error(capsys, ["sample", run, "-n", "2", "--steps", "1", "--device", "cpu", "--quiet",
                       "--out", tmp_path / "s.npz"], *_names(names, run, folder))
    assert snapshot(run) == before and not (tmp_path / "s.npz").exists()


RESUMED = ["state-a-list", "state-lacks-config", "config-out-of-range", "format-99", "unknown-run-kind",
           "tensors-truncated", "weight-wrong-shape-hat", "no-checkpoints"]


def _damaged_resume(capsys, base, tmp_path, damage, names) -> Path:
    """Damage the newest checkpoint of a copy of the run: a resume fails with one line holding ``names`` and changes
    nothing. Returns the copy."""
    run = copy_run(base["run"], tmp_path / "run")
    folder = newest(run)
    config = tmp_path / "config.json"
    shutil.copy(run / "config.json", config)
    damage(folder)
    before = snapshot(run)
    one_error(capsys, ["train", config, "iters=4", "--out", run, "--resume", "--quiet"], *_names(names, run, folder))
    assert snapshot(run) == before
    return run


@pytest.mark.parametrize("damage, names", [c[1:] for c in CHECKPOINTS if c[0] in RESUMED], ids=RESUMED)
def test_damaged_checkpoint_resume(capsys, base, tmp_path, damage, names):
    _damaged_resume(capsys, base, tmp_path, damage, names)


def _rank0(edit):
    """Damage: rewrite rank 0's file of the newest checkpoint with ``edit(path)``."""
    return lambda folder: edit(folder / "rank0.safetensors")


RANK_FILES = [
    # (id, damage, words the message of a resume must hold): sampling reads no rank file, so it still works
    ("rank-file-missing", _rank0(Path.unlink), ["CKPT", "rank0.safetensors", "copy the checkpoint folder whole"]),
    ("rank-file-truncated", _rank0(lambda p: p.write_bytes(p.read_bytes()[:p.stat().st_size // 2])),
     ["CKPT", "rank0.safetensors", "unreadable"]),
    ("rank-file-random-bytes", _rank0(lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096))),
     ["CKPT", "rank0.safetensors", "unreadable"]),
    ("rank-file-lacks-rng", _rank0(lambda p: save_file({k: v for k, v in load_file(str(p)).items() if k != "rng.torch"},
                                                      str(p))), ["CKPT", "rank0.safetensors", "rng.torch"]),
    ("world-larger", _set("world", 3), ["3 rank(s)", "--nproc_per_node=3"]),
]


@pytest.mark.parametrize("damage, names", [c[1:] for c in RANK_FILES], ids=[c[0] for c in RANK_FILES])
def test_damaged_rank_file(capsys, base, tmp_path, damage, names):
    run = _damaged_resume(capsys, base, tmp_path, damage, names)
    assert main(["sample", str(run), "-n", "2", "--steps", "1", "--device", "cpu", "--quiet", "--out",
                 str(tmp_path / "s.npz")]) == 0


def test_resume_without_checkpoints(capsys, base, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine\n")
    one_error(capsys, ["train", "tiny", *base["data"], *SMALL, "--out", run, "--resume", "--quiet"], str(run),
              "no checkpoint")
    assert snapshot(run) == {"notes.txt": hashlib.sha256(b"mine\n").hexdigest()}


def test_checkpoint_folder_without_state(capsys, base, tmp_path):
    run = copy_run(base["run"], tmp_path / "run")
    folder = newest(run)
    (folder / ckpt.STATE).unlink()
    before = snapshot(run)
    one_error(capsys, ["sample", folder, "-n", "2", "--device", "cpu", "--quiet", "--out", tmp_path / "s.npz"],
              str(folder))
    assert snapshot(run) == before


def test_resume_changing_a_training_key(capsys, base, tmp_path):
    run = copy_run(base["run"], tmp_path / "run")
    before = snapshot(run)
    one_error(capsys, ["train", run / "config.json", "lr_hat=1e-3", "temperature=1e-3", "--out", run, "--resume",
                       "--quiet"], "temperature")
    assert snapshot(run) == before


# ---- weights and data files ---------------------------------------------------------------------------------------

GOODGEN = ("from hatebm.config import ModelConfig\n"
           "from hatebm.nets import build_generator\n"
           "def make():\n"
           "    return build_generator(ModelConfig(resolution=32, channels=1, gen_width=8, latent_dim=16, "
           "out_scale=1.0))\n")


@pytest.fixture
def goodgen(tmp_path, monkeypatch):
    (tmp_path / "goodgen_mod.py").write_text(GOODGEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "goodgen_mod", raising=False)
    return "goodgen_mod:make"


def _joint(b, tmp, *extra):
    return ["train", "joint_tiny", *b["data"], *SMALL, f"generator.source={b['gan']}", *extra, "--out", tmp / "new",
            "--quiet"]


def _tandem(b, tmp, *extra):
    return ["train", "tiny", *SMALL, *extra, "--out", tmp / "new", "--quiet"]


def _npz_with(tmp: Path, **arrays) -> Path:
    np.savez(tmp / "d.npz", **arrays)
    return tmp / "d.npz"


def _broken_prepared(tmp: Path) -> Path:
    folder = tmp / "prep"
    assert main(["data", "prep", str(_npz_with(tmp, images=squares(4))), "--out", str(folder), "--size", "32",
                 "--quiet"]) == 0
    (folder / "manifest.json").write_text('{"format": "hatebm-prepared", "version": 1, "count": ')
    return folder


def _garbage(tmp: Path, name: str) -> Path:
    (tmp / name).write_bytes(b"this is not a safetensors file, just some bytes" * 10)
    return tmp / name


WEIGHTS_AND_DATA = [
    ("generator-weights-not-safetensors", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={g}",
        f"generator.weights={_garbage(tmp, 'w.safetensors')}", "--out", tmp / "new", "--quiet"], ["w.safetensors"]),
    ("generator-weights-missing", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={g}",
        f"generator.weights={tmp / 'nope.safetensors'}", "--out", tmp / "new", "--quiet"], ["nope.safetensors"]),
    ("generator-weights-wrong-net", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={g}",
        f"generator.weights={_wrong_weights(tmp)}", "--out", tmp / "new", "--quiet"], ["wrong.safetensors"]),
    ("generator-factory-without-weights", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={g}", "--out", tmp / "new", "--quiet"],
     ["generator.weights"]),
    ("generator-factory-not-importable", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, "generator.source=no_such_module_x:make",
        f"generator.weights={tmp / 'w.safetensors'}", "--out", tmp / "new", "--quiet"], ["no_such_module_x"]),
    ("generator-source-missing", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={tmp / 'nope'}", "--out", tmp / "new",
        "--quiet"], ["nope"]),
    ("generator-source-without-checkpoints", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={b['empty']}", "--out", tmp / "new",
        "--quiet"], ["generator source", "empty"]),
    ("generator-source-not-torchscript", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, f"generator.source={_garbage(tmp, 'g.pt')}", "--out",
        tmp / "new", "--quiet"], ["g.pt", "TorchScript"]),
    ("generator-source-no-source", lambda b, tmp, g: [
        "train", "joint_tiny", *b["data"], *SMALL, "--out", tmp / "new", "--quiet"], ["generator.source"]),
    ("generator-weights-on-a-run", lambda b, tmp, g: _joint(b, tmp, f"generator.weights={tmp / 'w.safetensors'}"),
     ["generator.weights"]),
    ("generator-latent-shape-mismatch", lambda b, tmp, g: _joint(b, tmp, "generator.latent_shape=7"),
     ["generator.latent_shape"]),
    ("generator-wrong-channels", lambda b, tmp, g: _joint(b, tmp, "model.channels=3"), ["model.channels"]),
    ("hat-init-non-gan-run", lambda b, tmp, g: _joint(b, tmp, f"hat_init={b['run']}"), ["hat_init", "tandem"]),
    ("hat-init-missing", lambda b, tmp, g: _joint(b, tmp, f"hat_init={tmp / 'nope'}"), ["hat_init", "nope"]),
    ("data-root-missing-file", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", f"data.root={tmp / 'nope.npz'}"),
     ["nope.npz"]),
    ("data-root-not-given", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz"), ["root"]),
    ("data-name-unknown", lambda b, tmp, g: _tandem(b, tmp, "data.name=imagenet1k"), ["imagenet1k"]),
    ("mlp-on-images", lambda b, tmp, g: _tandem(b, tmp, "model.arch=mlp"), ["model.arch=mlp", "fashion_mnist"]),
    ("mlp-on-an-image-folder", lambda b, tmp, g: _tandem(b, tmp, "model.arch=mlp", "data.name=folder",
                                                         f"data.root={b['empty']}"), ["model.arch=mlp", "folder"]),
    ("toy-data-for-sngan", lambda b, tmp, g: _tandem(b, tmp, "data.name=gmm8"), ["gmm8", "model.arch=mlp"]),
    ("npz-without-images", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(_npz_with(
        tmp, x=squares(4), y=squares(4)))), ["d.npz", "images"]),
    ("npz-float-images", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(_npz_with(
        tmp, images=squares(4).astype(np.float32)))), ["d.npz", "uint8"]),
    ("npz-wrong-rank", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(_npz_with(
        tmp, images=np.zeros((4, 28), np.uint8)))), ["d.npz", "shape"]),
    ("npz-five-channels", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(_npz_with(
        tmp, images=np.zeros((4, 28, 28, 5), np.uint8)))), ["d.npz", "shape"]),
    ("npz-random-bytes", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", f"data.root={_garbage(tmp, 'r.npz')}"),
     ["r.npz"]),
    ("npz-object-array", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(_npz_with(
        tmp, images=np.array([{"a": 1}, None], dtype=object)))), ["d.npz"]),
    ("npz-fewer-images-than-a-batch", lambda b, tmp, g: _tandem(b, tmp, "data.name=npz", "data.root=" + str(
        _npz_with(tmp, images=squares(4)))), ["4 items", "batch_size"]),
    ("prepared-broken-manifest", lambda b, tmp, g: _tandem(b, tmp, "data.name=prepared",
                                                           f"data.root={_broken_prepared(tmp)}"),
     ["prep", "manifest.json"]),
    ("prepared-info-broken-manifest", lambda b, tmp, g: ["data", "info", _broken_prepared(tmp)],
     ["prep", "manifest.json"]),
    ("folder-without-images", lambda b, tmp, g: _tandem(b, tmp, "data.name=folder", f"data.root={b['empty']}"),
     ["empty"]),
]


def _wrong_weights(tmp: Path) -> Path:
    save_file({"nothing.weight": torch.zeros(2)}, str(tmp / "wrong.safetensors"))
    return tmp / "wrong.safetensors"


@pytest.mark.parametrize("argv, names", [c[1:] for c in WEIGHTS_AND_DATA], ids=[c[0] for c in WEIGHTS_AND_DATA])
def test_weights_and_data(capsys, base, tmp_path, goodgen, argv, names):
    before = snapshot(base["gan"]), snapshot(base["run"])
    one_error(capsys, argv(base, tmp_path, goodgen), *names)
    assert (snapshot(base["gan"]), snapshot(base["run"])) == before
    assert not ckpt.list_checkpoints(tmp_path / "new")


# ---- outputs and disks ----------------------------------------------------------------------------------------------

def test_train_out_is_a_file(capsys, base, tmp_path):
    (tmp_path / "out").write_text("keep me\n")
    one_error(capsys, ["train", "tiny", *base["data"], *SMALL, "--out", tmp_path / "out", "--quiet"], "--out",
              str(tmp_path / "out"))
    assert (tmp_path / "out").read_text() == "keep me\n"


def test_train_out_holds_a_run(capsys, base, tmp_path):
    run = copy_run(base["run"], tmp_path / "run")
    before = snapshot(run)
    one_error(capsys, ["train", "tiny", *base["data"], *SMALL, "--out", run, "--quiet"], str(run), "--resume")
    assert snapshot(run) == before


@pytest.mark.parametrize("command", [
    lambda b, out: ["sample", b["run"], "-n", "2", "--steps", "1", "--device", "cpu", "--quiet", "--out",
                    out / "s.npz"],
    lambda b, out: ["figures", "grid", b["npz"], "--n", "4", "--out", out / "g.png"],
    lambda b, out: ["figures", "curves", b["run"], "--out", out / "c.png"],
    lambda b, out: ["data", "prep", b["npz"], "--out", out / "p", "--size", "8", "--quiet"],
    lambda b, out: ["figures", "path", b["run"], "--device", "cpu", "--out", out / "p.png"],
    lambda b, out: ["fid", "calc", b["npz"], "--ref", out.parent / "ref.npz", "--out", out / "m.json", "--quiet"],
    lambda b, out: ["proxy-fid", "calc", b["npz"], "--out", out / "m.json"],
    lambda b, out: ["ood", b["run"], "--in", b["npz"], "--ood", "noise", "--device", "cpu", "--quiet", "--out",
                    out / "s.npz"],
    lambda b, out: ["ood", b["run"], "--in", b["npz"], "--ood", "noise", "--device", "cpu", "--quiet", "--out",
                    out.parent / "s.npz", "--metrics", out / "m.json"],
    lambda b, out: ["compare", b["gan"], b["run"], "-n", "2", "--device", "cpu", "--quiet", "--out", out / "cmp"],
    lambda b, out: ["train", "tiny", *b["data"], *SMALL, "--out", out / "run", "--quiet"],
], ids=["sample", "figures-grid", "figures-curves", "data-prep", "figures-path", "fid-calc", "proxy-fid-calc",
        "ood-out", "ood-metrics", "compare", "train"])
def test_out_under_a_file(capsys, base, tmp_path, command):
    (tmp_path / "file").write_text("keep me\n")
    before = snapshot(base["run"])
    one_error(capsys, command(base, tmp_path / "file"), str(tmp_path / "file"))
    assert (tmp_path / "file").read_text() == "keep me\n" and snapshot(base["run"]) == before


def test_sample_out_is_a_folder(capsys, base, tmp_path):
    (tmp_path / "s.npz").mkdir()
    one_error(capsys, ["sample", base["run"], "-n", "2", "--steps", "1", "--device", "cpu", "--quiet", "--out",
                       tmp_path / "s.npz"], "s.npz")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS], ids=["ENOSPC", "EROFS"])
def test_checkpoint_write_fails(capsys, base, tmp_path, monkeypatch, code):
    def full(*args, **kwargs):
        raise OSError(code, "simulated")

    monkeypatch.setattr(tensorfile, "save_file", full)  # the writer checkpoints go through
    line = one_error(capsys, _tandem(base, tmp_path, *base["data"]), "could not write checkpoint",
                     str(tmp_path / "new"), "--resume")
    assert os.strerror(code) in line
    assert list((tmp_path / "new" / "checkpoints").iterdir()) == []  # no temporary folder left behind


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS], ids=["ENOSPC", "EROFS"])
def test_checkpoint_write_fails_on_resume(capsys, base, tmp_path, monkeypatch, code):
    run = copy_run(base["run"], tmp_path / "run")
    before = {k: v for k, v in snapshot(run).items() if k.startswith("checkpoints")}

    def full(*args, **kwargs):
        raise OSError(code, "simulated")

    monkeypatch.setattr(tensorfile, "save_file", full)  # the writer checkpoints go through
    one_error(capsys, ["train", run / "config.json", "iters=4", "--out", run, "--resume", "--quiet"],
              "could not write checkpoint", str(newest(run)))
    assert {k: v for k, v in snapshot(run).items() if k.startswith("checkpoints")} == before


# ---- planted pickles and import specs --------------------------------------------------------------------------------

class Plant:
    """Pickles to a call of open(marker, "w"): unpickling it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _cifar_root(tmp: Path, marker: Path) -> Path:
    folder = tmp / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Plant(marker), b"labels": [0]}, protocol=2))
    return folder.parent


def _object_npz(tmp: Path, marker: Path) -> Path:
    np.savez(tmp / "evil.npz", images=np.array([Plant(marker), Plant(marker)], dtype=object))
    return tmp / "evil.npz"


def _object_npy(tmp: Path, marker: Path) -> Path:
    np.save(tmp / "evil.npy", np.array([Plant(marker)], dtype=object))
    return tmp / "evil.npy"


PICKLES = [
    ("cifar-train", lambda b, tmp, m: _tandem(b, tmp, "data.name=cifar10", f"data.root={_cifar_root(tmp, m)}"),
     ["data_batch_1", "refused to unpickle"]),
    ("cifar-data-prep", lambda b, tmp, m: ["data", "prep", "cifar10", "--root", _cifar_root(tmp, m), "--out",
                                           tmp / "p", "--size", "8", "--quiet"], ["data_batch_1"]),
    ("cifar-fid-ref", lambda b, tmp, m: ["fid", "ref", "--ref", "cifar10:test", "--root", _cifar_root(tmp, m),
                                         "--cache-dir", tmp / "cache", "--device", "cpu", "--quiet"], ["test_batch"]),
    ("npz-object-array-train", lambda b, tmp, m: _tandem(b, tmp, "data.name=npz",
                                                         f"data.root={_object_npz(tmp, m)}"), ["evil.npz"]),
    ("npy-object-array-train", lambda b, tmp, m: _tandem(b, tmp, "data.name=npz",
                                                         f"data.root={_object_npy(tmp, m)}"), ["evil.npy"]),
    ("npz-object-array-data-prep", lambda b, tmp, m: ["data", "prep", _object_npz(tmp, m), "--out", tmp / "p",
                                                      "--size", "8", "--quiet"], ["evil.npz"]),
    ("npz-object-array-fid", lambda b, tmp, m: ["fid", "calc", _object_npz(tmp, m), "--ref", tmp / "ref.npz",
                                                "--device", "cpu", "--quiet"], ["evil.npz"]),
    ("npz-object-array-ood", lambda b, tmp, m: _ood(f"x={_object_npz(tmp, m)}")(b, tmp), ["evil.npz"]),
    ("npz-object-array-grid", lambda b, tmp, m: ["figures", "grid", _object_npz(tmp, m), "--out", tmp / "g.png"],
     ["evil.npz"]),
]


@pytest.mark.parametrize("argv, names", [c[1:] for c in PICKLES], ids=[c[0] for c in PICKLES])
def test_planted_pickle(capsys, base, tmp_path, argv, names):
    marker = tmp_path / "marker"
    one_error(capsys, argv(base, tmp_path, marker), *names)
    assert not marker.exists()


EVILMOD = ("from pathlib import Path\n"
           "Path({marker!r}).write_text('imported')\n"
           "def make():\n"
           "    Path({marker!r}).write_text('called')\n")


@pytest.fixture
def planted_specs(base, tmp_path, monkeypatch):
    """(factory run, TorchScript run, marker): copies of the GAN run whose state.json records the generator as the
    factory evilmod:make (evilmod, on sys.path, creates the marker when imported) or as a TorchScript file (a planted
    file whose loading would also be refused: torch.jit.load is replaced by a spy that creates the marker)."""
    marker = tmp_path / "marker"
    (tmp_path / "evilmod.py").write_text(EVILMOD.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "evilmod", raising=False)
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: marker.write_text("loaded"))
    runs = []
    for name, spec in [("factory", {"type": "factory", "factory": "evilmod:make"}),
                       ("torchscript", {"type": "torchscript", "path": str(tmp_path / "planted.pt")})]:
        run = copy_run(base["gan"], tmp_path / name)
        _state(lambda s: {**s, "generator": {**s["generator"], "spec": spec}})(newest(run))
        runs.append(run)
    (tmp_path / "planted.pt").write_bytes(b"planted")
    return runs[0], runs[1], marker


SPEC_COMMANDS = [
    ("sample", lambda run, tmp: ["sample", run, "--method", "generator", "-n", "2", "--device", "cpu", "--quiet",
                                 "--out", tmp / "s.npz"]),
    ("sample-ddls", lambda run, tmp: ["sample", run, "--method", "ddls", "-n", "2", "--steps", "1", "--device",
                                      "cpu", "--quiet", "--out", tmp / "s.npz"]),
    ("fid-calc", lambda run, tmp: ["fid", "calc", run, "-n", "2", "--ref", tmp / "ref.npz", "--device", "cpu",
                                   "--quiet"]),
    ("joint-source", lambda run, tmp: ["train", "joint_tiny", f"generator.source={run}", *SMALL, "--out", tmp / "new",
                                       "--quiet"]),
]


@pytest.mark.parametrize("kind", ["factory", "torchscript"])
@pytest.mark.parametrize("command", [c[1] for c in SPEC_COMMANDS], ids=[c[0] for c in SPEC_COMMANDS])
def test_planted_import_spec(capsys, base, tmp_path, planted_specs, kind, command):
    factory, torchscript, marker = planted_specs
    run = factory if kind == "factory" else torchscript
    target = "evilmod:make" if kind == "factory" else str(tmp_path / "planted.pt")
    before = snapshot(run)
    allow = "--trust-generator" if command(run, tmp_path)[0] != "train" else "generator.trust"
    one_error(capsys, command(run, tmp_path), target, allow)
    assert not marker.exists() and snapshot(run) == before
    assert "evilmod" not in sys.modules


def test_planted_factory_python_api(base, planted_specs):
    factory, _, marker = planted_specs
    with pytest.raises(ValueError, match="evilmod:make"):
        hatebm.load_model(factory, "cpu", "generator")
    assert not marker.exists()


# ---- Python-only inputs: the API raises one error naming the value ------------------------------------------------

def _api_draw_zero(b, tmp):
    return hatebm.load_model(b["run"], "cpu").draw(0, progress=False)


API = [
    ("train-config-built-in-python", lambda b, tmp: hatebm.train(TandemConfig(lr_hat=float("inf")), tmp / "new",
                                                                 progress=False), ValueError, "lr_hat"),
    ("langevin-config-negative-steps", lambda b, tmp: LangevinConfig(steps=-1), ValueError, "steps"),
    ("load-model-unknown-method", lambda b, tmp: hatebm.load_model(b["run"], "cpu", "magic"), ValueError, "magic"),
    ("load-model-unknown-device", lambda b, tmp: hatebm.load_model(b["run"], "tpu:0"), ValueError, "tpu"),
    ("train-hat-module-on-gan", lambda b, tmp: hatebm.train(override(preset("gan_tiny"), [*b["data"], *SMALL]),
                                                            tmp / "new", progress=False, hat=torch.nn.Linear(2, 1)),
     ValueError, "hat="),
    ("train-data-of-wrong-shape", lambda b, tmp: hatebm.train(override(preset("tiny"), SMALL), tmp / "new",
                                                              progress=False, data=torch.zeros(16, 5)),
     ValueError, "data"),
    ("draw-zero-samples", _api_draw_zero, ValueError, "0"),
    ("load-config-missing", lambda b, tmp: hatebm.load_config(tmp / "nope.json"), FileNotFoundError, "nope.json"),
]


@pytest.mark.parametrize("call, error, name", [c[1:] for c in API], ids=[c[0] for c in API])
def test_python_api(base, tmp_path, call, error, name):
    before = snapshot(base["run"])
    with pytest.raises(error) as caught:
        call(base, tmp_path)
    message = str(caught.value)
    assert name in message and "\n" not in message and "unexpected" not in message, message
    assert snapshot(base["run"]) == before and not ckpt.list_checkpoints(tmp_path / "new")


def test_real_command_line(tmp_path):
    """The installed entry point itself (a fresh interpreter): one stderr line, status 2."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "hatebm.cli", "train", "tiny", "sampler.eps_y=nan", "--dry-run"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and lines == ["hatebm train: error: sampler.eps_y must be positive and finite, got nan "
                                              "(step size of Y: the tandem sampler moves only Y, so 0 would train "
                                              "on the generator's own samples)"], done.stderr
    assert done.stdout == ""
