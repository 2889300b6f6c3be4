"""Configs to and from JSON, their JSON Schema, ``dotted.key=value`` overrides and the keys two configs differ in.

On disk a config is a JSON object whose ``"run"`` entry names its class (``tandem``, ``joint``, ``gan``,
``autoencoder``; see :data:`hatebm.config.schema.CONFIGS`), sections nested as objects (``{"sampler": {"steps":
20}}``). An override's text is read as the JSON value its option's schema calls for (``1e3`` for an int, ``900,1800``
or ``[900,1800]`` for a list, ``none`` for none, ``true``/``yes``/``1`` for true), then checked with the whole
config. Every bad value, key or file is one ValueError naming the key (and the file); a missing file is a
FileNotFoundError.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from hatebm.config.schema import CONFIGS, RunConfig
from hatebm.options import Options, options, schema, unwrap

C = TypeVar("C", bound=RunConfig)
RUN_KEY = "run"
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _parse(text: str, node: dict[str, Any]) -> Any:
    """The JSON value ``text`` spells for an option of JSON Schema ``node``; text that spells none is kept as it is,
    for the check to refuse with the key's message."""
    inner, nullable = unwrap(node)
    if nullable and text.lower() in ("none", "null"):
        return None
    kind = inner.get("type")
    if kind == "array":
        items = text.strip().removeprefix("[").removesuffix("]")
        return [_parse(item.strip(), inner.get("items", {})) for item in items.split(",") if item.strip()]
    if kind == "boolean":
        return BOOLEANS.get(text.lower(), text)
    for number in {"integer": (int, float), "number": (float,)}.get(kind, ()):
        try:
            return number(text)  # "1e3" is an int's float: the check takes integral floats
        except ValueError:
            pass
    return text


def _owners(key: str) -> list[str]:
    """Kinds of run whose config has the dotted ``key`` (an option or a section)."""
    return [kind for kind, cls in CONFIGS.items() if any(k == key or k.startswith(key + ".") for k in options(cls))]


def override(cfg: C, assignments: list[str]) -> C:
    """A checked copy of ``cfg`` with ``key=value`` overrides applied (dotted keys reach nested sections); ``cfg``
    itself is left as it is."""
    values = cfg.model_dump()
    for item in assignments:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. sampler.steps=20)")
        key, text = (part.strip() for part in item.split("=", 1))
        owners = _owners(key)
        if owners and cfg.KIND not in owners:
            raise ValueError(f"{key} applies to {' and '.join(owners)} runs only, not to this {cfg.KIND} run")
        *path, name = key.split(".")
        section, target = cfg, values
        for part in path:
            if part not in type(section).model_fields or not isinstance(getattr(section, part), Options):
                raise ValueError(f"unknown config section {part!r} in {key!r}")
            section, target = getattr(section, part), target[part]
        valid = list(type(section).model_fields)
        if name not in valid:
            raise ValueError(f"unknown config key {key!r} for a {type(section).__name__}; valid keys here: "
                             f"{sorted(valid)}")
        if isinstance(getattr(section, name), Options):
            raise ValueError(f"{key!r} is a section; set one of its keys, e.g. {key}.{next(iter(target[name]))}")
        target[name] = _parse(text, options(type(cfg))[key])
    return type(cfg).build(values)


def from_dict(d: dict[str, Any]) -> RunConfig:
    """A checked config from a (possibly partial) nested dict with its ``"run"`` entry, refusing unknown keys."""
    if not isinstance(d, dict):
        raise ValueError(f"a config is an object of its keys with \"{RUN_KEY}\": one of {', '.join(CONFIGS)}, "
                         f"got {d!r}")
    d = dict(d)
    kind = d.pop(RUN_KEY, None)
    if not isinstance(kind, str) or kind not in CONFIGS:
        raise ValueError(f"a config needs \"{RUN_KEY}\": one of {', '.join(CONFIGS)} (got {kind!r})")
    return CONFIGS[kind].build(d)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain JSON-able values, with its ``"run"`` entry first."""
    return {RUN_KEY: cfg.KIND, **cfg.model_dump()}


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a config file of ``kind`` (for editors): pydantic's, with the ``"run"`` entry and the
    sections' defaults."""
    cls = CONFIGS[kind]
    out, defaults = dict(schema(cls)), cls.model_construct().model_dump()
    props = {k: v if "default" in v else {**v, "default": defaults[k]} for k, v in out["properties"].items()}
    out["properties"] = {RUN_KEY: {"const": kind, "description": "the kind of run"}, **props}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out, "required": [RUN_KEY]}


def load_config(path: str | Path) -> RunConfig:
    """Read a JSON config file (as written to every run folder, ``config.json``) and check it."""
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
        return from_dict(d)
    except ValueError as err:
        raise ValueError(f"config file {path}: {err}") from None


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict of values by dotted key."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def differences(a: RunConfig, b: RunConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted keys whose values differ between two configs of one class (keys in ``ignore``, and sections named
    there, skipped)."""
    fa, fb = flat(to_dict(a)), flat(to_dict(b))
    keep = [k for k in fa.keys() | fb.keys() if k not in ignore and k.split(".")[0] not in ignore]
    return sorted(k for k in keep if fa.get(k) != fb.get(k))
