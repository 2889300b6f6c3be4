"""Property tests of the override parser and validation against the declared ranges (hatebm.options)."""
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatebm.config import from_dict, load_config, override, preset, to_dict
from hatebm.options import Range, options

BASES = ["tiny", "joint_tiny", "gan_tiny", "ae_tiny", "toy_gmm8_cpu", "fashion_mnist_refine_cpu"]
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _keys(cfg):
    """Every dotted key of a config (sections' keys included)."""
    return list(options(type(cfg)))


def key_rules(cls):
    """Every numeric dotted key of the config class ``cls`` with the ranges a value must meet (its declared one)."""
    return {key: [Range.of(node)] for key, node in options(cls).items() if Range.of(node)}


def _contains(rule: Range, value) -> bool:
    """Whether ``value`` is inside ``rule``: finite (ints always are), within the bounds, or none where allowed."""
    if value is None:
        return rule.none
    if not isinstance(value, int) and not math.isfinite(value):
        return False
    if rule.lo is not None and (value <= rule.lo if rule.lo_open else value < rule.lo):
        return False
    return rule.hi is None or (value < rule.hi if rule.hi_open else value <= rule.hi)


def _get(cfg, key):
    *path, name = key.split(".")
    node = cfg
    for part in path:
        node = getattr(node, part)
    return node, name


def _set(cfg, key, value):
    """Set a numeric key; list keys get one item changed (betas, latent shapes keep their length)."""
    node, name = _get(cfg, key)
    current = getattr(node, name)
    if key == "betas":
        value = [value, current[1]]
    elif key.endswith("latent_shape"):
        value = [value, 8, 8] if key.startswith("model") else [value]
    elif isinstance(current, list) or key == "lr_milestones":
        value = [value]
    setattr(node, name, value)
    return value


def _numeric_type(cfg, key):
    return int if Range.of(options(type(cfg))[key]).integer else float


def _constraints_hold(cfg):
    """The documented constraints between values (schema.py's model_validator methods)."""
    m, s = cfg.model, getattr(cfg, "sampler", None)
    if m.arch == "sngan" and m.channels == 2:
        return False
    if m.latent_shape:
        h = m.latent_shape[1]
        k = m.resolution // h
        if len(m.latent_shape) != 3 or h != m.latent_shape[2] or k * h != m.resolution or k & (k - 1):
            return False
    if cfg.KIND == "tandem" and cfg.bank_size < cfg.batch_size * cfg.gen_steps:
        return False
    if cfg.KIND == "joint" and s.eps_y == 0 and s.eps_z == 0:
        return False
    return cfg.KIND != "autoencoder" or bool(m.latent_shape)


def _inside(rule: Range, integer: bool):
    """Values inside ``rule``."""
    if integer:
        lo = int(rule.lo) + rule.lo_open if rule.lo is not None else -10**6
        hi = int(rule.hi) - rule.hi_open if rule.hi is not None else lo + 10**6
        values = st.integers(lo, hi)
    else:
        values = st.floats(rule.lo, rule.hi, exclude_min=rule.lo_open and rule.lo is not None,
                           exclude_max=rule.hi_open and rule.hi is not None, allow_nan=False, allow_infinity=False)
    return st.one_of(st.none(), values) if rule.none else values


NUMERIC = [(name, key) for name in BASES for key in key_rules(type(preset(name)))]


@FAST
@given(st.data())
def test_any_text_for_any_key_is_a_config_or_a_value_error_naming_the_key(data):
    name = data.draw(st.sampled_from(BASES))
    cfg = preset(name)
    key = data.draw(st.sampled_from(_keys(cfg) + ["sampler", "model", "foo", "lr_disc", "generator.source",
                                                   "sampler.nope", "data.name.x", "__class__.iters"]))
    value = data.draw(st.one_of(
        st.text(max_size=12),
        st.sampled_from(["0", "-1", "1", "1e3", "1.5e0", "1e400", "inf", "-inf", "nan", "none", "true", "[1]",
                         "1,2", "[0.5, 0.9]", "1,8,8", "2,16,16", "random", "mlp", "prepared", "zy", " 7 ", ""]),
        st.integers(-10, 10**5).map(str), st.floats().map(repr)))
    try:
        result = override(cfg, [f"{key}={value}"])
    except ValueError as err:
        assert key in str(err), (key, value, str(err))
    else:
        assert result.validate() is result


@FAST
@given(st.data())
def test_valid_configs_round_trip_through_dicts_and_json(data):
    cfg = preset(data.draw(st.sampled_from(BASES)))
    for key in data.draw(st.lists(st.sampled_from(list(key_rules(type(cfg)))), max_size=4)):
        rules = key_rules(type(cfg))[key]
        _set(cfg, key, data.draw(_inside(rules[-1], _numeric_type(cfg, key) is int)))
    try:
        cfg.validate()
    except ValueError:
        return  # another rule on the key, or a constraint between values: not a valid config
    assert from_dict(to_dict(cfg)) == cfg
    text = json.dumps(to_dict(cfg))
    assert json.dumps(to_dict(from_dict(json.loads(text)))) == text  # ints stay ints, floats floats


@pytest.mark.parametrize("name", BASES)
def test_non_finite_values_are_refused_naming_the_key(name, tmp_path):
    for key in key_rules(type(preset(name))):
        for text, value in (("inf", math.inf), ("-inf", -math.inf), ("nan", math.nan)):
            cfg = preset(name)
            _set(cfg, key, value)
            with pytest.raises(ValueError, match=key.replace(".", r"\.")):
                cfg.validate()
            with pytest.raises(ValueError, match=key.replace(".", r"\.")):
                override(preset(name), [f"{key}={text}"])
        d = to_dict(preset(name))
        node, leaf = d, key.split(".")
        for part in leaf[:-1]:
            node = node[part]
        node[leaf[-1]] = [math.nan] * max(1, len(node[leaf[-1]])) if isinstance(node[leaf[-1]], list) else math.nan
        path = tmp_path / "cfg.json"
        path.write_text(json.dumps(d))  # NaN
        with pytest.raises(ValueError, match=f"{path}: {key}"):
            load_config(path)


@FAST
@given(st.data())
def test_validate_accepts_exactly_the_values_inside_the_rule_table(data):
    name, key = data.draw(st.sampled_from(NUMERIC))
    cfg = preset(name)
    rules = key_rules(type(cfg))[key]
    integer = _numeric_type(cfg, key) is int
    anything = st.integers(-10**7, 10**7) if integer else st.floats(allow_nan=False, allow_infinity=False)
    edges = st.sampled_from([-1, 0, 1, 2, 2**32 - 1, 2**32] if integer else [-1.0, -0.0, 0.0, 5e-324, 1.0, 1e308])
    value = data.draw(st.one_of(anything, edges, *[_inside(r, integer) for r in rules]))
    _set(cfg, key, value)
    inside = all(_contains(r, value) for r in rules)
    try:
        cfg.validate()
        accepted = True
    except ValueError as err:
        accepted = False
        assert key in str(err), (key, value, str(err))
    assert accepted == (inside and _constraints_hold(cfg)), (name, key, value)
