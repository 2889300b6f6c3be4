"""Configs to and from JSON and ``dotted.key=value`` overrides.

A config is a tree of dataclasses. Overrides (``sampler.steps=20``) are parsed to the field's type; unknown keys and
wrong types are errors naming the key. On disk a config is a JSON object whose ``"run"`` entry names its class
(``tandem``, ``joint``, ``gan``, ``autoencoder``; see :data:`hatebm.config.schema.CONFIGS`), sections nested as
objects (``{"sampler": {"steps": 20}}``). Every bad value, key or file is one ValueError naming the key (and the
file); a missing file is a FileNotFoundError.
"""
from __future__ import annotations

import copy
import json
import types
import typing
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from hatebm.config.checks import coerce, hints
from hatebm.config.schema import CONFIGS, RunConfig

C = TypeVar("C", bound=RunConfig)
RUN_KEY = "run"


def _parse(value: str, tp: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value.lower() in ("none", "null") and type(None) in args:
            return None
        return _parse(value, next(a for a in args if a is not type(None)), key)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{key} must be one of {list(args)}, got {value!r}")
        return value
    if origin is list:
        items = value.strip().removeprefix("[").removesuffix("]")  # "900,1800" or "[900,1800]"
        return [_parse(v.strip(), args[0], key) for v in items.split(",") if v.strip()]
    if tp is bool:
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{key} expects true or false, got {value!r}")
        return value.lower() in ("true", "1", "yes")
    try:
        if tp is int and "e" in value.lower():  # 1e3
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        return tp(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{key} expects {tp.__name__}, got {value!r}") from None


def _owners(key: str) -> list[str]:
    """Kinds of run whose config has the dotted ``key``."""
    def has(node: Any, parts: list[str]) -> bool:
        if parts[0] not in {f.name for f in fields(node)}:
            return False
        if len(parts) == 1:
            return True
        child = hints(node)[parts[0]]
        return is_dataclass(child) and has(child, parts[1:])

    return [kind for kind, cls in CONFIGS.items() if has(cls, key.split("."))]


def override(cfg: C, assignments: list[str]) -> C:
    """A validated copy of ``cfg`` with ``key=value`` overrides applied (dotted keys reach nested sections); ``cfg``
    itself is left as it was, even when an override is refused."""
    cfg = copy.deepcopy(cfg)
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. sampler.steps=20)")
        key, value = item.split("=", 1)
        key = key.strip()
        *path, name = key.split(".")
        owners = _owners(key)
        if owners and cfg.KIND not in owners:
            raise ValueError(f"{key} applies to {' and '.join(owners)} runs only, not to this {cfg.KIND} run")
        node = cfg
        for part in path:
            if part not in {f.name for f in fields(node)} or not is_dataclass(getattr(node, part)):
                raise ValueError(f"unknown config section {part!r} in {key!r}")
            node = getattr(node, part)
        valid = [f.name for f in fields(node)]
        if name not in valid:
            raise ValueError(f"unknown config key {key!r} for a {type(node).__name__}; valid keys here: "
                             f"{sorted(valid)}")
        if is_dataclass(getattr(node, name)):
            raise ValueError(f"{key!r} is a section; set one of its keys, e.g. {key}.{fields(getattr(node, name))[0].name}")
        setattr(node, name, _parse(value.strip(), hints(type(node))[name], key))
    return cfg.validate()


def build(cls: type, d: dict[str, Any], prefix: str = "") -> Any:
    """An instance of the config dataclass ``cls`` (a run config or a section, whose keys get ``prefix`` in
    messages) from a nested dict of JSON values, refusing unknown keys and wrong types."""
    if not isinstance(d, dict):
        where = f"{prefix.rstrip('.')} is a section: it" if prefix else f"a {cls.__name__}"
        raise ValueError(f"{where} must be an object of its keys (e.g. {{\"{fields(cls)[0].name}\": ...}}), "
                         f"got {d!r}")
    valid = [f.name for f in fields(cls)]
    unknown = sorted(prefix + str(k) for k in d if k not in valid)
    if unknown:
        nest = " (nest sections: {\"sampler\": {\"steps\": 20}})" if any("." in k for k in map(str, d)) else ""
        raise ValueError(f"unknown config keys {unknown} in {cls.__name__}{nest}; valid keys here: {sorted(valid)}")
    kwargs = {}
    for k, v in d.items():
        tp = hints(cls)[k]
        kwargs[k] = build(tp, v, f"{prefix}{k}.") if is_dataclass(tp) else coerce(prefix + k, v, tp, json=True)
    try:
        return cls(**kwargs)
    except ValueError as err:  # a section's own checks (LangevinConfig's) name its field
        raise ValueError(f"{prefix}{err}") from None


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Build a config from a (possibly partial) nested dict with its ``"run"`` entry, refusing unknown keys."""
    if not isinstance(d, dict):
        raise ValueError(f"a config is an object of its keys with \"{RUN_KEY}\": one of {', '.join(CONFIGS)}, "
                         f"got {d!r}")
    d = dict(d)
    kind = d.pop(RUN_KEY, None)
    if not isinstance(kind, str) or kind not in CONFIGS:
        raise ValueError(f"a config needs \"{RUN_KEY}\": one of {', '.join(CONFIGS)} (got {kind!r})")
    return build(CONFIGS[kind], d)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain JSON-able values, with its ``"run"`` entry first."""
    return {RUN_KEY: cfg.KIND, **asdict(cfg)}


def load_config(path: str | Path) -> RunConfig:
    """Read a JSON config file (as written to every run folder, ``config.json``) and validate it."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except OSError as err:
        raise FileNotFoundError(f"cannot read config file {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"config file {path} is not UTF-8 JSON text: {err.reason} at byte {err.start}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
                         ) from None
    except RecursionError:
        raise ValueError(f"config file {path} is nested too deeply to be a config") from None
    if not isinstance(d, dict):
        raise ValueError(f"config file {path} must hold a JSON object ({{\"{RUN_KEY}\": ..., ...}}), not "
                         f"{json.dumps(d)[:40]}")
    try:
        return from_dict(d).validate()
    except ValueError as err:
        raise ValueError(f"config file {path}: {err}") from None


def differences(a: RunConfig, b: RunConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two configs of one class (keys in ``ignore``, and sections named there, skipped)."""
    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    fa, fb = flat(to_dict(a)), flat(to_dict(b))
    keep = [k for k in fa.keys() | fb.keys() if k not in ignore and k.split(".")[0] not in ignore]
    return sorted(k for k in keep if fa.get(k) != fb.get(k))
