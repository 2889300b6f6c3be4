"""Command-line rules shared by every subcommand: one meaning per flag, defaults in help, overrides after flags,
the data cache `make data` fills, resume messages."""
import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hatebm
from hatebm.cli import build_parser, main, parse

ROOT = Path(__file__).resolve().parents[2]


def parsers(parser: argparse.ArgumentParser, name: str = "hatebm"):
    """Every (name, parser) of the command tree."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def options(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if a.option_strings and not isinstance(a, (argparse._HelpAction,
                                                                                   argparse._VersionAction))]


def test_every_option_has_help_and_shows_its_default():
    for name, p in parsers(build_parser()):
        text = p.format_help().split("\noptions:", 1)[-1]
        for action in options(p):
            assert action.help, f"{name} {action.option_strings[0]} has no help text"
            if action.default not in (None, False) and action.default is not argparse.SUPPRESS:
                flag = action.option_strings[0]
                block = text[text.index("  " + flag):]
                assert "(default:" in block.split("\n  -")[0], f"{name} {flag}: default not shown"


def test_one_meaning_per_flag():
    for name, p in parsers(build_parser()):
        flags = {f: a for a in options(p) for f in a.option_strings}
        if "--device" in flags:
            assert flags["--device"].default == "auto", name
        assert "--no-progress" not in flags and "--sample-seed" not in flags, name
        if "--seed" in flags and not name.endswith("proxy-fid train"):
            assert "sampling seed" in flags["--seed"].help, name
        for flag in ("--dataset", "--split"):
            assert flag not in flags, f"{name} {flag}: datasets are named by --ref/--in specs"
    ood = dict(parsers(build_parser()))["hatebm ood"]
    assert {a.dest for a in options(ood) if "--ood" in a.option_strings} == {"ood_sets"}


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"hatebm {hatebm.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", hatebm.__version__)


def test_overrides_before_or_after_flags(capsys):
    assert parse(["train", "tiny", "--out", "x", "--resume", "iters=6", "sampler.steps=2"]).overrides == [
        "iters=6", "sampler.steps=2"]
    assert main(["train", "tiny", "--dry-run", "iters=9"]) == 0
    assert json.loads(capsys.readouterr().out)["iters"] == 9
    with pytest.raises(SystemExit):
        parse(["sample", "run", "--out", "x.npz", "iters=3"])  # no overrides in sample


def test_resume_names_the_keys_that_differ_and_ignores_device(tiny_npz, tmp_path, capsys):
    base = ["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "eval_samples=0", "--out", str(tmp_path / "r"),
            "--quiet"]
    assert main([*base, "iters=2"]) == 0
    assert main([*base, "--resume", "iters=3", "device=cpu"]) == 0  # device is not a config change
    assert main([*base, "--resume", "iters=4", "lr_hat=0.1", "sampler.steps=2", "seed=1"]) == 2
    err = capsys.readouterr().err
    assert "cannot change sampler.steps, seed of the run" in err and "may change only iters, device" in err
    assert main([*base, "--resume", "iters=2"]) == 2
    assert "already at step 3, past iters=2" in capsys.readouterr().err


def test_loader_settings_are_config_keys():
    cfg = hatebm.override(hatebm.preset("tiny"), ["data.size=64", "data.download=true"])
    assert cfg.data.size == 64 and cfg.data.download is True


def test_make_data_fills_the_cache_the_cli_reads(tmp_path):
    """A fresh clone's `make env data && .venv/bin/hatebm train ...` reads the folder `make data` filled."""
    env = {k: v for k, v in os.environ.items() if k not in ("HATEBM_CACHE", "HATEBM_DATA", "MAKEFLAGS", "MAKELEVEL")}
    env["HOME"] = str(tmp_path)
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "data"], capture_output=True, text=True, env=env, check=True)
    cache = subprocess.run([os.sys.executable, "-c", "from hatebm.data import cache_dir; print(cache_dir())"],
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert cache == str(tmp_path / ".cache" / "hatebm")
    assert f"mkdir -p {cache}/fashion-mnist" in dry.stdout


@pytest.mark.parametrize("debug", [False, True])
def test_warnings_are_one_line_unless_debugging(debug):
    script = ("import sys, warnings, hatebm.cli as cli, hatebm.cli.train as t; "
              "t.run = lambda args: warnings.warn('slow here'); sys.exit(cli.main(sys.argv[1:]))")
    argv = ["train", "tiny", "--quiet"] + (["--debug"] if debug else [])
    proc = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "HATEBM_DEBUG"})
    assert proc.returncode == 0, proc.stderr
    if debug:  # Python's own format: where it was raised
        assert "UserWarning: slow here" in proc.stderr and "<string>" in proc.stderr
    else:
        assert proc.stderr.splitlines()[-1] == "hatebm train: warning: slow here" and "warn(" not in proc.stderr


def test_divergence_is_one_line(tiny_npz, tmp_path, capsys):
    assert main(["train", "tiny", "data.name=npz", f"data.root={tiny_npz}", "diverge_gap=1e-9", "--out",
                 str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "diverged at step 1" in err[0]


@pytest.mark.parametrize("error,code,says", [
    (RuntimeError("boom"), 1, "unexpected RuntimeError: boom"), (KeyError("k"), 1, "unexpected KeyError"),
    (PermissionError(13, "Permission denied", "/x/y"), 1, "/x/y: Permission denied"),
    (OSError(28, "No space left on device"), 1, "No space left on device"), (ValueError("bad value"), 2, "bad value"),
    (KeyboardInterrupt(), 130, "interrupted")])
def test_every_failure_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys, error, code, says):
    def fail(args):
        raise error

    monkeypatch.setattr("hatebm.cli.train.run", fail)
    monkeypatch.delenv("HATEBM_DEBUG", raising=False)
    assert main(["train", "tiny", "--quiet"]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and "Traceback" not in err[0], err
    if code == 1 and not isinstance(error, OSError):
        assert "--debug" in err[0] and "HATEBM_DEBUG=1" in err[0]
    with pytest.raises(type(error)):
        main(["train", "tiny", "--debug"])
    monkeypatch.setenv("HATEBM_DEBUG", "1")
    with pytest.raises(type(error)):
        main(["train", "tiny"])
