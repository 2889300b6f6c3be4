"""Declared options: a pydantic model per section of settings whose every field states its type, default, allowed
range and one-line meaning together (the run configs of :mod:`hatebm.config`, :class:`hatebm.sampling.LangevinConfig`).

pydantic checks the values strictly (no text for numbers, no 1 for true, no inf or nan), with three conveniences:
an int may come as an integral float (JSON's ``1e3``), a list as a tuple and a path as a path object. A failure is one
ValueError naming the dotted key, the value, what is allowed and the option's meaning, e.g. ``sampler.eps_y must be
>= 0 and finite, got -1.0 (step size of Y in eq 3; 0 holds Y fixed)``. What is allowed is read from the models' JSON
Schema, the same one that documents the options (``hatebm config schema|table``).
"""
from __future__ import annotations

import functools
import numbers
import os
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

O = TypeVar("O", bound="Options")


def _int(value: Any) -> Any:
    """An int given as another integral type or an integral float (JSON's 1e3) as an int; anything else as it is."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return int(value) if isinstance(value, float) and value.is_integer() else value


AS_INT = BeforeValidator(_int)  # the last item of every int option's Annotated type
_AS_LIST = BeforeValidator(lambda value: list(value) if isinstance(value, tuple) else value)

SEED_MAX = 2**32 - 1  # what a CPU torch.Generator keeps of a seed
Count = Annotated[int, Field(ge=1), AS_INT]  # numbers of things and periods
Count0 = Annotated[int, Field(ge=0), AS_INT]  # counts where 0 has a meaning
Seed = Annotated[int, Field(ge=0, le=SEED_MAX), AS_INT]  # every seed: configs, flags and the Python API
Positive = Annotated[float, Field(gt=0)]  # learning rates, temperatures, scales, weights
NonNeg = Annotated[float, Field(ge=0)]  # step sizes, noise levels and penalties where 0 means "off"
Unit = Annotated[float, Field(ge=0, lt=1)]  # Adam's betas
Counts = Annotated[list[Count], _AS_LIST]
Units = Annotated[list[Unit], _AS_LIST]
PathText = Annotated[str, BeforeValidator(lambda value: os.fspath(value) if isinstance(value, os.PathLike) else value)]


def check_seed(value: Any, name: str = "seed") -> int:
    """``value`` as a seed (an int in [0, 2**32 - 1]), or the ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int in [0, {SEED_MAX}], got {value!r}")
    if not 0 <= value <= SEED_MAX:
        raise ValueError(f"{name} must be in [0, {SEED_MAX}], got {value!r}")
    return int(value)


class OptionsError(ValueError):
    """A failed check of the options model ``cls`` (pydantic's ``err``), in one line."""

    def __init__(self, cls: type[Options], err: ValidationError) -> None:
        self.cls, self.err = cls, err
        super().__init__(message(cls, err))


class Options(BaseModel):
    """A section of options. Construction checks every value (a section may be given as a dict of its keys);
    assignment does not (configs are edited in place), and :meth:`validate` checks the current values again. Failures
    are one-line ValueErrors (see the module)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid", revalidate_instances="always")

    def __init__(self, **values: Any) -> None:
        # pydantic calls this for sections built from dicts too: their OptionsError reaches the enclosing model as a
        # value_error, which :func:`message` names under the section's key
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise OptionsError(type(self), err) from None

    @classmethod
    def build(cls: type[O], values: Any) -> O:
        """An instance from a nested dict of values (JSON's or Python's), or an instance checked again."""
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise OptionsError(cls, err) from None

    def validate(self: O) -> O:  # type: ignore[override]  # pydantic's deprecated classmethod of that name
        """Check the current values (types, ranges, constraints between them); returns the options."""
        type(self).build(self)
        return self

    def replace(self: O, **changes: Any) -> O:
        """A checked copy with ``changes``."""
        return type(self)(**{**dict(self), **changes})


def default(model: type[Options], name: str, value: Any = None, factory: Any = None) -> Any:
    """The declaration of ``model``'s option ``name`` with another default (a subclass's), its meaning kept."""
    description = model.model_fields[name].description
    return Field(default_factory=factory, description=description) if factory else Field(value, description=description)


@functools.cache
def schema(cls: type[Options]) -> dict[str, Any]:
    """The JSON Schema of an options model (pydantic's)."""
    return cls.model_json_schema()


def resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The schema that ``node`` of the JSON Schema ``root`` refers to (``$ref``, which older pydantic versions wrap in
    ``allOf`` beside a description), else ``node``."""
    while "$ref" in node or len(node.get("allOf", ())) == 1:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else node["allOf"][0]
    return node


def unwrap(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the schema of the value, whether none is allowed too) of an option's schema ``node``."""
    members = node.get("anyOf", [])
    rest = [m for m in members if m.get("type") != "null"]
    return (rest[0], True) if len(rest) == 1 and len(members) == 2 else (node, False)


def options(cls: type[Options]) -> dict[str, dict[str, Any]]:
    """Every dotted key of the options model ``cls`` (sections' keys, not sections) with its JSON Schema."""
    root, out = schema(cls), {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, prop in resolve(root, node)["properties"].items():
            if "properties" in resolve(root, prop):
                walk(prop, f"{prefix}{name}.")
            else:
                out[prefix + name] = prop

    walk(root, "")
    return out


@dataclass(frozen=True)
class Range:
    """The allowed range of a numeric option (of each item of a list option): ``lo <= value`` (``<`` if
    ``lo_open``), ``value <= hi`` (``<`` if ``hi_open``), finite, or none where ``none``."""

    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None
    hi_open: bool = False
    none: bool = False
    integer: bool = False

    @classmethod
    def of(cls, node: dict[str, Any]) -> Range | None:
        """The range an option's schema ``node`` declares; None for options that are not numbers."""
        inner, none = unwrap(node)
        inner = inner.get("items", inner)
        if inner.get("type") not in ("integer", "number"):
            return None
        lo_open, hi_open = "exclusiveMinimum" in inner, "exclusiveMaximum" in inner
        lo = inner.get("exclusiveMinimum" if lo_open else "minimum")
        hi = inner.get("exclusiveMaximum" if hi_open else "maximum")
        return cls(lo, lo_open, hi, hi_open, none, inner["type"] == "integer")

    def __str__(self) -> str:
        """The range in words, e.g. ``positive and finite``, ``>= 0``, ``in [0, 1)``, ``positive (>= 1) or none``."""
        num = (lambda x: str(int(x))) if self.integer else (lambda x: f"{x:g}")
        fin = "" if self.integer else " and finite"
        if self.hi is not None:
            lo = "-inf" if self.lo is None else num(self.lo)
            left, right = "(" if self.lo_open or self.lo is None else "[", ")" if self.hi_open else "]"
            text = f"in {left}{lo}, {num(self.hi)}{right}"
        elif self.lo == 0 and self.lo_open:
            text = f"positive{fin}"
        elif self.integer and self.lo == 1 and not self.lo_open:
            text = "positive (>= 1)"
        elif self.lo is not None:
            text = f"{'>' if self.lo_open else '>='} {num(self.lo)}{fin}"
        else:
            text = "any int" if self.integer else "finite"
        return text + (" or none" if self.none else "")


def expected(node: dict[str, Any]) -> str:
    """What a value of the option of schema ``node`` looks like, e.g. ``a list of int``, ``one of ['yz', 'zy']``."""
    inner, none = unwrap(node)
    if "enum" in inner:
        text = f"one of {inner['enum']}"
    elif inner.get("type") == "array":
        text = f"a list of {expected(inner.get('items', {}))}"
    else:
        text = {"boolean": "true or false", "integer": "int", "number": "float", "string": "a string"}.get(
            inner.get("type", ""), "a section")
    return text + (" or none" if none else "")


def dotted(loc: tuple[str | int, ...], prefix: str = "") -> str:
    """``("model", "latent_shape", 2)`` as ``model.latent_shape[2]``."""
    key = prefix
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else f"{'.' if key and not key.endswith('.') else ''}{part}"
    return key


def _at(cls: type[Options], loc: tuple[str | int, ...]) -> tuple[dict[str, Any], str | None]:
    """(the schema at ``loc`` in ``cls``, the meaning of the option there, a list item's that of its list)."""
    root = schema(cls)
    node, meaning = root, None
    for part in loc:
        node = resolve(root, unwrap(node)[0])
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
        meaning = node.get("description", meaning if isinstance(part, int) else None)
    return node, meaning


RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number")


def message(cls: type[Options], err: ValidationError, prefix: str = "") -> str:
    """pydantic's ``err`` in validating ``cls`` as one line naming the dotted key (after ``prefix``): unknown keys
    with the valid ones, a value with what is allowed and the option's meaning, a constraint's own message."""
    errors = err.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        where = unknown[0]["loc"][:-1]
        keys = sorted(dotted(e["loc"], prefix) for e in unknown if e["loc"][:-1] == where)
        section = resolve(schema(cls), unwrap(_at(cls, where)[0])[0])
        dots = any("." in str(e["loc"][-1]) for e in unknown)
        nest = " (nest sections: {\"sampler\": {\"steps\": 20}})" if dots else ""
        return (f"unknown config keys {keys} in {section['title']}{nest}; valid keys here: "
                f"{sorted(section['properties'])}")
    e = errors[0]
    key, value = dotted(e["loc"], prefix), e.get("input")
    if e["type"] == "value_error":
        inner = e["ctx"]["error"]
        if isinstance(inner, OptionsError):  # a section built from a dict: its own failure, under its key
            return message(inner.cls, inner.err, key)
        return f"{key + ': ' if key else ''}{inner}"  # a constraint between values, which names its keys
    node, meaning = _at(cls, e["loc"])
    target = resolve(schema(cls), unwrap(node)[0])
    if "properties" in target:
        first = next(iter(target["properties"]))
        return f"{key} is a section: it must be an object of its keys (e.g. {{\"{first}\": ...}}), got {value!r}"
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if e["type"] in RANGE_ERRORS or (e["type"] == "float_type" and numeric):  # an int too large for a float
        text = f"{key} must be {Range.of(node)}, got {value!r}"
    elif e["type"] == "literal_error":
        text = f"{key} must be {expected(node)}, got {value!r}"
    elif e["type"].endswith(("_type", "_parsing", "_from_float")):
        text = f"{key} expects {expected(node)}, got {value!r}"
    else:
        return f"{key}: {e['msg']}"
    return f"{text} ({meaning})" if meaning else text
