"""The allowed range of every numeric option, one table (documented in docs, checked by ``validate()``).

``TABLE`` maps a config class name to its rules: a field name is checked wherever that class appears (``sampler``
fields in every run with a sampler); a dotted key (``sampler.steps`` under ``HatConfig``) tightens a section's rule
for one kind of run. Subclasses inherit their bases' rules. Every int or float field of every config class has a
rule (a test checks it). Ranges are finite unless a rule says ``none`` (None allowed).
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import fields, is_dataclass
from typing import Any

from hatebm.config.checks import COUNT, COUNT0, NONNEG, POSITIVE, SEED, UNIT, Rule, check_value, coerce, hints, scalar


def _note(rule: Rule, note: str, **changes: Any) -> Rule:
    return dataclasses.replace(rule, note=note, **changes)


TABLE: dict[str, dict[str, Rule]] = {
    "ModelConfig": {
        "resolution": _note(COUNT, "the model's image side in px; SN-GAN networks exist for 32, 64 and 128"),
        "channels": Rule(1, hi=3, note="1 or 3 for images, 2 for 2-D toy data"),
        "hat_width": COUNT, "gen_width": COUNT, "latent_dim": COUNT,
        "latent_shape": _note(COUNT, "an image-shaped latent c,h,w"),
        "out_scale": _note(POSITIVE, "the generator's output is tanh * out_scale"),
        "mlp_hidden": COUNT, "mlp_depth": _note(COUNT0, "hidden layers; 0 is one linear map"),
    },
    "DataConfig": {
        "size": _note(COUNT, "none: the model resolution", none=True),
        "workers": _note(COUNT0, "0 reads in the training process"),
        "noise": _note(NONNEG, "sigma_data; 0 adds no noise"),
        "toy_size": COUNT,
    },
    "GeneratorConfig": {"latent_shape": _note(COUNT, "empty: read from the generator or probed")},
    "LangevinConfig": {
        "steps": _note(COUNT0, "0 returns the generator's samples"),
        "eps_y": _note(NONNEG, "0 holds Y fixed"), "eps_z": _note(NONNEG, "0 holds Z fixed"),
        "max_drift_y": _note(POSITIVE, "none disables the clip", none=True),
        "y0_scale": _note(NONNEG, "0 starts from Y0 = 0"),
        "record_every": _note(COUNT0, "0 records no path"),
    },
    "RunConfig": {
        "iters": COUNT, "batch_size": COUNT,
        "lr_milestones": _note(COUNT, "steps at which the learning rates fall by lr_gamma"),
        "lr_gamma": POSITIVE, "betas": _note(UNIT, "Adam's betas"),
        "seed": SEED,
        "log_every": COUNT, "image_every": COUNT, "ckpt_every": COUNT,
        "keep_ckpts": _note(COUNT0, "0 keeps every checkpoint"),
        "eval_samples": _note(COUNT0, "0 writes no samples"),
        "rollback_lr": Rule(0.0, lo_open=True, hi=1.0, hi_open=True, note="the factor on the learning rates at each "
                            "rollback (on_divergence=rollback)"),
        "max_rollbacks": _note(COUNT0, "0: a divergence stops the run even with on_divergence=rollback"),
    },
    "HatConfig": {
        "eval_steps": _note(COUNT0, "0 samples the generator alone, G(Z) + Y0"),
        "temperature": POSITIVE, "lr_hat": POSITIVE,
        "energy_reg": _note(NONNEG, "0 is the paper's loss"),
        "hat_grad_clip": _note(POSITIVE, "none: no clipping", none=True),
        "grad_penalty": _note(NONNEG, "0 is the paper's loss"),
        "diverge_gap": POSITIVE, "ema_halflife": _note(NONNEG, "0 samples from the current weights"),
        "sampler.steps": _note(COUNT, "a training run needs Langevin steps; eval_steps=0 may still sample the "
                                      "generator alone"),
    },
    "TandemConfig": {
        "lr_gen": POSITIVE, "bank_size": COUNT, "gen_loss_weight": POSITIVE, "gen_steps": COUNT,
        "sampler.eps_y": _note(POSITIVE, "the tandem sampler moves only Y: 0 would train on the generator's own "
                                         "samples"),
    },
    "JointConfig": {"y_prior_std": _note(POSITIVE, "none: no Y prior", none=True)},
    "PretrainConfig": {"lr_gen": POSITIVE},
    "GanConfig": {"lr_disc": POSITIVE, "n_dis": COUNT},
    "AutoencoderConfig": {"lr_enc": POSITIVE, "loss_weight": POSITIVE, "latent_noise": _note(NONNEG, "0 adds none")},
}


@functools.lru_cache(maxsize=None)
def rules(cls: type) -> dict[str, Rule]:
    """The rules of config class ``cls``, its bases' included (a subclass's rule replaces its base's)."""
    merged: dict[str, Rule] = {}
    for base in reversed(cls.__mro__):
        merged.update(TABLE.get(base.__name__, {}))
    return merged


def key_rules(cls: type, prefix: str = "") -> dict[str, list[Rule]]:
    """Every dotted numeric key of the config class ``cls`` with the rules a value must meet (a section's own rule,
    then any the run class adds)."""
    out: dict[str, list[Rule]] = {}
    own = rules(cls)
    for f in fields(cls):
        tp = hints(cls)[f.name]
        if is_dataclass(tp):
            out.update(key_rules(tp, f"{prefix}{f.name}."))
        elif scalar(tp) is not None:
            out[prefix + f.name] = [own[f.name]] if f.name in own else []
    for key, rule in own.items():
        if "." in key:
            out[prefix + key].append(rule)
    return out


def ranges(cls: type) -> dict[str, str]:
    """Every dotted numeric key of the run config class ``cls`` with its allowed range in words (the documented
    table), e.g. ``{"sampler.steps": ">= 0 & positive (>= 1)", ...}``."""
    out = {}
    for key, key_rule_list in key_rules(cls).items():
        node = cls
        for part in key.split(".")[:-1]:
            node = hints(node)[part]
        integer = scalar(hints(node)[key.split(".")[-1]]) is int
        out[key] = " & ".join(rule.describe(integer) for rule in key_rule_list)
    return out


def _get(node: Any, key: str) -> Any:
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _check_field(key: str, value: Any, tp: Any, rule: Rule | None) -> None:
    value = coerce(key, value, tp, json=False)
    integer = scalar(tp) is int
    if rule is None or scalar(tp) is None:
        return
    for i, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
        check_value(key if i is None else f"{key}[{i}]", item, rule, integer)


def check_section(node: Any, prefix: str = "") -> None:
    """Types and ranges of every field of the config dataclass ``node`` and of its sections, then the dotted-key
    rules of its class; the first failure is a ValueError naming the dotted key."""
    cls, own = type(node), rules(type(node))
    for f in fields(node):
        key, tp, value = prefix + f.name, hints(cls)[f.name], getattr(node, f.name)
        if is_dataclass(tp):
            if not isinstance(value, tp):
                raise ValueError(f"{key} must be a {tp.__name__} section, got {value!r}")
            check_section(value, key + ".")
        else:
            _check_field(key, value, tp, own.get(f.name))
    for key, rule in own.items():
        if "." in key:
            *path, name = key.split(".")
            section = _get(node, ".".join(path))
            _check_field(prefix + key, getattr(section, name), hints(type(section))[name], rule)
