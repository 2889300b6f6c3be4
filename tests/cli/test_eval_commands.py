"""One flag, one meaning across the evaluation commands (`fid`, `proxy-fid`, `ood`, `figures`): defaults shown in
--help, help for every option, --n / --ref-n / --seed / --ref-seed / --out / --device as in `hatebm.cli.common`."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from hatebm.cli import build_parser, main

COMMANDS = [("fid", "ref"), ("fid", "calc"), ("proxy-fid", "calc"), ("proxy-fid", "train"), ("ood",),
            ("figures", "grid"), ("figures", "path"), ("figures", "hist"), ("figures", "curves")]
LOADS_A_MODEL = [("fid", "calc"), ("proxy-fid", "calc"), ("ood",), ("figures", "path")]


def subparser(*names: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in names:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[name]
    return parser


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[-1]: a for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("names", COMMANDS, ids=" ".join)
def test_help_shows_every_default_and_every_option_is_explained(names):
    parser = subparser(*names)
    text = " ".join(parser.format_help().split())  # undo line wrapping
    for flag, action in options(parser).items():
        assert action.help, f"{' '.join(names)} {flag} has no help text"
        if action.default is not None and action.default is not False:  # 0 too (0 == False)
            assert f"(default: {action.default})" in text, f"{' '.join(names)} {flag}: default not shown"
    if "--device" in options(parser):
        assert options(parser)["--device"].default == "auto"


@pytest.mark.parametrize("names", LOADS_A_MODEL, ids=" ".join)
def test_commands_that_load_a_model_take_its_own_networks(names):
    assert {"--hat", "--generator", "--trust-generator", "--device"} <= set(options(subparser(*names)))


def test_fid_ref_takes_the_reference_like_calc():
    args = build_parser().parse_args(["fid", "ref", "--ref", "fashion_mnist:test", "--ref-n", "500", "--ref-seed", "3"])
    assert (args.ref, args.ref_n, args.ref_seed, args.device) == ("fashion_mnist:test", 500, 3, "auto")
    for gone in (["--dataset", "fashion_mnist"], ["--ref", "x", "--n", "5"], ["--ref", "x", "--split", "test"],
                 ["--ref", "x", "--seed", "1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["fid", "ref", *gone])


@pytest.mark.parametrize("command", [["fid", "calc", "s.npz", "--ref", "r.npz"], ["proxy-fid", "calc", "s.npz"]])
def test_seed_is_the_sampling_seed_and_ref_seed_the_subset_seed(command):
    args = build_parser().parse_args([*command, "--n", "7", "--seed", "4", "--ref-seed", "5", "--ref-n", "9"])
    assert (args.n, args.seed, args.ref_seed, args.ref_n) == (7, 4, 5, 9)
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--sample-seed", "1"])


def test_ood_sets_have_their_own_flag_and_out_is_the_score_file():
    args = build_parser().parse_args(["ood", "run", "--in", "fashion_mnist", "--ood", "mnist", "noise", "--ood",
                                      "d=x.npz", "--subset-seed", "2", "--out", "scores.npz"])
    assert args.ood_sets == ["mnist", "noise", "d=x.npz"] and args.subset_seed == 2 and args.out == "scores.npz"
    with pytest.raises(SystemExit):  # --ood is required: OOD sets never go to --out
        build_parser().parse_args(["ood", "run", "--in", "fashion_mnist", "--out", "mnist"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ood", "run", "--in", "fashion_mnist", "--ood", "mnist", "--seed", "1"])


class Stop(ValueError):
    pass


def test_model_factories_and_device_reach_load_model(tmp_path, monkeypatch, capsys):
    import hatebm.checkpoint
    import hatebm.eval.ood
    import hatebm.model

    seen, compiles = [], []

    def fake_load_model(path, device="auto", method="hat", hat=None, generator=None, trust_generator=False,
                        compile=False):
        seen.append((device, hat, generator, trust_generator))
        compiles.append(compile)
        raise Stop("stopped here")

    monkeypatch.setattr(hatebm.model, "load_model", fake_load_model)
    monkeypatch.setattr(hatebm.eval.ood, "load_model", fake_load_model)
    monkeypatch.setattr(hatebm.checkpoint, "resolve", Path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "tensors.safetensors").touch()  # looks like a checkpoint to sample from
    factories = ["--hat", "pkg.nets:hat", "--generator", "pkg.nets:gen", "--device", "cpu"]
    commands = [["figures", "path", str(run), "--out", "p.png"], ["ood", str(run), "--in", "x.npz", "--ood", "noise"],
                ["fid", "calc", str(run), "--ref", "r.npz"], ["proxy-fid", "calc", str(run)]]
    commands.append(["sample", str(run), "--out", str(tmp_path / "s.npz")])
    for command in commands:
        assert main([*command, *factories]) == 2, command
        assert "stopped here" in capsys.readouterr().err
    expected = ("cpu", "pkg.nets:hat", "pkg.nets:gen", False)
    assert [(str(d), h, g, t) for d, h, g, t in seen] == [expected] * len(commands)
    seen.clear()
    for command in commands:  # --trust-generator reaches load_model too
        assert main([*command, *factories, "--trust-generator"]) == 2, command
    assert [t for *_, t in seen] == [True] * len(commands)
    assert main(["sample", str(run), "--out", str(tmp_path / "s.npz"), "--compile"]) == 2
    assert compiles[-1] is True and not any(compiles[:-1])  # --compile reaches load_model, and only with the flag
