"""Every option declares its meaning and every number its range, presets meet them, and bad values, keys and files
are one clear ValueError naming the key (and the file)."""
import json

import pytest

from hatebm.config import (CONFIGS, AutoencoderConfig, GanConfig, JointConfig, TandemConfig, from_dict, load_config,
                           override, preset, preset_names, to_dict)
from hatebm.options import Range, options
from hatebm.sampling import LangevinConfig


def ranges(cls):
    """Every numeric dotted key of ``cls`` with its range in words."""
    return {key: str(Range.of(node)) for key, node in options(cls).items() if Range.of(node)}


@pytest.mark.parametrize("cls", [*CONFIGS.values(), LangevinConfig])
def test_every_option_declares_a_one_line_meaning_and_every_number_a_bound(cls):
    for key, node in options(cls).items():
        meaning = node.get("description", "")
        assert meaning and "\n" not in meaning and len(meaning) <= 200, key
        rng = Range.of(node)
        assert rng is None or rng.lo is not None, f"{key} has no lower bound"


@pytest.mark.parametrize("cls", [TandemConfig, JointConfig, GanConfig, AutoencoderConfig])
def test_every_preset_of_each_class_validates(cls):
    names = preset_names(cls)
    assert names
    for name in names:
        assert isinstance(preset(name).validate(), cls)


@pytest.mark.parametrize("bad,msg", [
    ("lr_gen=inf", r"lr_gen must be positive and finite, got inf"),
    ("lr_hat=-inf", r"lr_hat must be positive and finite, got -inf"),
    ("sampler.eps_y=nan", r"sampler.eps_y must be positive and finite, got nan"),  # a tandem run's range
    ("sampler.steps=0", r"sampler.steps must be positive \(>= 1\), got 0 \(a training run"),
    ("sampler.eps_y=0", r"sampler.eps_y must be positive .* moves only Y"),
    ("sampler.max_drift_y=0", "sampler.max_drift_y must be positive and finite or none"),
    ("sampler.record_every=-1", "sampler.record_every must be >= 0"),
    ("data.workers=-1", r"data.workers must be >= 0, got -1"),
    ("data.noise=nan", "data.noise must be >= 0 and finite"),
    ("data.size=0", r"data.size must be positive \(>= 1\) or none"),
    ("model.out_scale=0", "model.out_scale must be positive"),
    ("model.channels=4", r"model.channels must be in \[1, 3\]"),
    ("model.channels=2", "model.channels must be 1 or 3 with model.arch=sngan"),
    ("model.latent_shape=1,8,0", r"model.latent_shape\[2\] must be positive"),
    ("model.latent_shape=1,3,3", "size 3 of model.latent_shape"),
    ("model.mlp_depth=-1", "model.mlp_depth must be >= 0"),
    ("betas=0.9,1", r"betas\[1\] must be in \[0, 1\)"),
    ("betas=0.9", "betas needs two values"),
    ("lr_milestones=0", r"lr_milestones\[0\] must be positive"),
    ("lr_gamma=0", "lr_gamma must be positive"),
    ("seed=-1", r"seed must be in \[0, 4294967295\]"),
    ("keep_ckpts=-1", "keep_ckpts must be >= 0"),
    ("eval_steps=-1", "eval_steps must be >= 0"),
    ("temperature=0", "temperature must be positive"),
    ("hat_grad_clip=inf", "hat_grad_clip must be positive and finite or none"),
    ("diverge_gap=inf", "diverge_gap must be positive and finite"),
    ("gen_loss_weight=0", "gen_loss_weight must be positive"),
    ("gen_steps=0", "gen_steps must be positive"),
    ("iters=abc", "iters expects int, got 'abc'"), ("iters=1.5e0", "iters expects int"),
    ("iters=1e400", "iters expects int"), ("iters=nan", "iters expects int"),
    ("lr_hat=[1]", r"lr_hat expects float, got '\[1\]'"),
    ("sampler={}", "'sampler' is a section"),
    ("__class__.iters=3", "unknown config section '__class__'"),
    ("lr_disc=1", "lr_disc applies to gan runs only"),
])
def test_bad_values_are_one_error_naming_the_key(bad, msg):
    with pytest.raises(ValueError, match=msg):
        override(preset("tiny"), [bad])


def test_legitimate_zeros_and_nones_stay_valid():
    tiny = override(preset("tiny"), ["eval_steps=0", "data.workers=0", "data.noise=0", "energy_reg=0", "keep_ckpts=0",
                                     "eval_samples=0", "sampler.max_drift_y=none", "hat_grad_clip=none", "seed=0",
                                     "betas=0,0", "model.mlp_depth=0", "iters=1e3"])
    assert tiny.eval_steps == 0 and tiny.iters == 1000
    joint = override(preset("joint_tiny"), ["sampler.eps_y=0", "y_prior_std=none"])
    assert joint.sampler.eps_y == 0
    assert override(preset("joint_tiny"), ["sampler.eps_z=0"]).sampler.eps_z == 0
    with pytest.raises(ValueError, match="sampler.eps_y and sampler.eps_z are both 0"):
        override(preset("joint_tiny"), ["sampler.eps_y=0", "sampler.eps_z=0"])
    assert override(preset("ae_tiny"), ["latent_noise=0"]).latent_noise == 0
    LangevinConfig(steps=0, eps_y=0.0, eps_z=0.0)  # sampling (not training) may take 0 steps


def test_python_built_configs_are_checked_too():
    with pytest.raises(ValueError, match="iters expects int, got 'ten'"):
        TandemConfig(iters="ten").validate()
    with pytest.raises(ValueError, match="lr_hat expects float"):
        TandemConfig(lr_hat=True).validate()
    with pytest.raises(ValueError, match=r"lr_gen must be positive and finite, got 1000"):
        TandemConfig(lr_gen=10**400).validate()
    with pytest.raises(ValueError, match="model.hat_act must be one of"):
        cfg = TandemConfig()
        cfg.model.hat_act = "gelu"  # assignment is not checked; validate() is
        cfg.validate()
    with pytest.raises(ValueError, match="sampler is a section: it must be an object"):
        TandemConfig(sampler=3)
    assert TandemConfig(sampler={"steps": 3}).sampler.steps == 3  # a section may be given as a dict of its keys
    assert TandemConfig(sampler=LangevinConfig(steps=3)).sampler == TandemConfig().sampler.replace(steps=3)
    for field, value in (("eps_y", float("nan")), ("eps_z", float("inf")), ("steps", 2.5), ("y0_scale", -1.0),
                         ("max_drift_y", float("nan")), ("record_every", -1)):
        with pytest.raises(ValueError, match=f"^{field} "):
            LangevinConfig(**{field: value})
    assert TandemConfig(temperature=1, betas=(0.5, 0.9)).validate().temperature == 1


def _write(tmp_path, text):
    path = tmp_path / "cfg.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,msg", [
    ('{"run": "tandem", "iters": }', r"is not valid JSON: Expecting value at line 1 column 28"),
    ("[1, 2]", "must hold a JSON object"),
    ('"tandem"', "must hold a JSON object"),
    ('{"iters": 3}', 'a config needs "run"'),
    ('{"run": ["tandem"]}', 'a config needs "run"'),
    ('{"run": "tandem", "iters": "ten"}', "iters expects int, got 'ten'"),
    ('{"run": "tandem", "iters": 10.5}', "iters expects int, got 10.5"),
    ('{"run": "tandem", "lr_hat": [1]}', r"lr_hat expects float, got \[1\]"),
    ('{"run": "tandem", "lr_hat": Infinity}', "lr_hat must be positive and finite, got inf"),
    ('{"run": "joint", "sampler": {"eps_y": NaN}}', "sampler.eps_y must be >= 0 and finite, got nan"),
    ('{"run": "tandem", "sampler": {"steps": -1}}', r"sampler.steps must be positive \(>= 1\), got -1"),
    ('{"run": "tandem", "sampler": 3}', "sampler is a section: it must be an object"),
    ('{"run": "tandem", "iters": {"n": 3}}', "iters expects int"),
    ('{"run": "tandem", "sampler.steps": 3}', r"unknown config keys \['sampler.steps'\].*nest sections"),
    ('{"run": "tandem", "sampler": {"colour": 1}}', r"unknown config keys \['sampler.colour'\] in TandemSampler"),
    ('{"run": "tandem", "amp": 1}', "amp expects true or false, got 1"),
    ('{"run": "tandem", "data": {"root": 3}}', "data.root expects a string or none, got 3"),
    ('{"run": "tandem", "model": {"arch": "cnn"}}', r"model.arch must be one of \['sngan', 'mlp'\]"),
    ('{"run": "tandem", "betas": 0.9}', "betas expects a list of float"),
    ('{"run": "tandem", "model": {"latent_shape": [1, "8", 8]}}', r"model.latent_shape\[1\] expects int"),
    ('{"run": "gan", "sampler": {}}', r"unknown config keys \['sampler'\] in GanConfig"),
])
def test_bad_config_files_are_one_error_naming_file_and_key(tmp_path, text, msg):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=msg) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_config_files_read_json_numbers_as_the_fields_types(tmp_path):
    cfg = load_config(_write(tmp_path, '{"run": "tandem", "iters": 1e3, "lr_hat": 1, "sampler": {"steps": 7}}'))
    assert cfg.iters == 1000 and type(cfg.iters) is int and cfg.lr_hat == 1.0 and type(cfg.lr_hat) is float
    assert cfg.sampler.steps == 7


def test_unreadable_config_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file .*nope.json does not exist"):
        load_config(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="cannot read config file"):
        load_config(tmp_path)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="b.json is not UTF-8"):
        load_config(binary)


def test_from_dict_refuses_non_objects_and_round_trips_every_preset():
    with pytest.raises(ValueError, match='"run"'):
        from_dict([1, 2])
    for name in preset_names():
        cfg = preset(name)
        assert from_dict(json.loads(json.dumps(to_dict(cfg)))) == cfg


def test_ranges_list_every_numeric_key_with_a_training_run_s_tighter_sampler():
    keys = ranges(JointConfig)
    assert ranges(LangevinConfig)["steps"] == ">= 0" and keys["sampler.steps"] == "positive (>= 1)"
    assert ranges(TandemConfig)["sampler.eps_y"] == "positive and finite" and keys["sampler.eps_y"] == ">= 0 and finite"
    assert "generator.latent_shape" in keys and "lr_gen" not in keys
    assert options(JointConfig)["betas"]["type"] == "array"


COMMON = {
    "data.size": "positive (>= 1) or none", "data.workers": ">= 0", "data.noise": ">= 0 and finite",
    "data.toy_size": "positive (>= 1)", "model.resolution": "positive (>= 1)", "model.channels": "in [1, 3]",
    "model.hat_width": "positive (>= 1)", "model.gen_width": "positive (>= 1)", "model.latent_dim": "positive (>= 1)",
    "model.latent_shape": "positive (>= 1)", "model.out_scale": "positive and finite",
    "model.mlp_hidden": "positive (>= 1)", "model.mlp_depth": ">= 0", "iters": "positive (>= 1)",
    "batch_size": "positive (>= 1)", "lr_milestones": "positive (>= 1)", "lr_gamma": "positive and finite",
    "betas": "in [0, 1)", "seed": "in [0, 4294967295]", "log_every": "positive (>= 1)",
    "image_every": "positive (>= 1)", "ckpt_every": "positive (>= 1)", "keep_ckpts": ">= 0", "eval_samples": ">= 0",
    "rollback_lr": "in (0, 1)", "max_rollbacks": ">= 0",
}
HAT = {
    "sampler.steps": "positive (>= 1)", "sampler.eps_y": ">= 0 and finite", "sampler.eps_z": ">= 0 and finite",
    "sampler.max_drift_y": "positive and finite or none", "sampler.y0_scale": ">= 0 and finite",
    "sampler.record_every": ">= 0", "eval_steps": ">= 0", "temperature": "positive and finite",
    "lr_hat": "positive and finite", "energy_reg": ">= 0 and finite", "hat_grad_clip": "positive and finite or none",
    "grad_penalty": ">= 0 and finite", "diverge_gap": "positive and finite", "ema_halflife": ">= 0 and finite",
}
DOCUMENTED = {
    TandemConfig: {**COMMON, **HAT, "sampler.eps_y": "positive and finite",
                   "lr_gen": "positive and finite", "bank_size": "positive (>= 1)",
                   "gen_loss_weight": "positive and finite", "gen_steps": "positive (>= 1)"},
    JointConfig: {**COMMON, **HAT, "generator.latent_shape": "positive (>= 1)",
                  "y_prior_std": "positive and finite or none"},
    GanConfig: {**COMMON, "lr_gen": "positive and finite", "lr_disc": "positive and finite",
                "n_dis": "positive (>= 1)"},
    AutoencoderConfig: {**COMMON, "lr_gen": "positive and finite", "lr_enc": "positive and finite",
                        "loss_weight": "positive and finite", "latent_noise": ">= 0 and finite"},
}


@pytest.mark.parametrize("cls", list(DOCUMENTED))
def test_the_declared_ranges_are_the_documented_ones(cls):
    assert ranges(cls) == DOCUMENTED[cls]
