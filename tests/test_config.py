"""Presets, overrides and validation."""
import json

import pytest

from hatebm.cli import main
from hatebm.config import PRESETS, from_dict, load_config, override, preset, to_dict


def test_every_preset_is_valid_and_round_trips(tmp_path):
    for name in PRESETS:
        cfg = preset(name)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(to_dict(cfg)))
        assert load_config(path) == cfg


def test_paper_preset_values():
    c = preset("cifar10_synth")
    assert (c.batch_size, c.iters, c.temperature, c.sampler.steps, c.eval_steps) == (128, 50_000, 1e-8, 50, 125)
    assert (c.sampler.eps_y, c.sampler.max_drift_y, c.bank_size, c.gen_loss_weight) == (5e-4, 2.5, 10_000, 1000.0)
    assert (c.model.hat_width, c.model.out_scale, c.data.noise) == (256, 2.0, 1e-3)
    i = preset("imagenet128_synth_scaled")
    assert (i.model.hat_width, i.lr_gen, i.lr_milestones) == (2048, 5e-5, [230_000, 260_000])


def test_overrides_parse_types():
    cfg = override(preset("tiny"), ["iters=1e3", "sampler.steps=7", "sampler.noise=false", "hat_grad_clip=none",
                                    "lr_milestones=10,20", "data.root=/x", "sampler.max_drift_y=none"])
    assert cfg.iters == 1000 and cfg.sampler.steps == 7 and cfg.sampler.noise is False
    assert cfg.hat_grad_clip is None and cfg.lr_milestones == [10, 20] and cfg.data.root == "/x"
    assert cfg.sampler.max_drift_y is None
    assert override(preset("tiny"), ["lr_milestones=[30, 40]", "betas=[0.5,0.9]"]).lr_milestones == [30, 40]


@pytest.mark.parametrize("bad,msg", [
    ("foo=1", "unknown config key 'foo'"), ("iters=ten", "iters expects int"), ("sampler=3", "is a section"),
    ("nosuch.key=1", "unknown config section"), ("iters", "key=value"), ("sampler.order=xy", "must be one of"),
    ("batch_size=0", "batch_size must be positive"), ("bank_size=4", "bank_size"), ("amp=maybe", "true or false"),
    ("sampler.steps=-1", r"steps must be positive \(>= 1\)")])
def test_bad_overrides_are_clear_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        override(preset("tiny"), [bad])


def test_unknown_preset_and_keys_in_files():
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")
    with pytest.raises(ValueError, match="unknown config keys"):
        from_dict({"run": "tandem", "iters": 3, "colour": "red"})


def test_cli_dry_run_prints_resolved_config(capsys):
    assert main(["train", "tiny", "iters=9", "sampler.steps=2", "--dry-run"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["iters"] == 9 and cfg["sampler"]["steps"] == 2


def test_cli_reports_bad_override_in_one_line(capsys):
    assert main(["train", "tiny", "iters=x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "iters expects int" in err[0]
