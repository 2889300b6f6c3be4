"""Type and range checks of config values: every failure is one ValueError naming the dotted key, the value and what
is allowed. The ranges themselves are the table in :mod:`hatebm.config.rules`.

:func:`coerce` serves both JSON files (``json=True``: integral floats such as ``1e3`` become ints, ints become
floats, only JSON's own types are accepted) and ``validate()`` of configs built in Python (``json=False``: numbers of
any numeric type, tuples for lists, path objects for strings).
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Rule:
    """The allowed range of a numeric option: finite, ``lo <= value`` (``<`` if ``lo_open``), ``value <= hi`` (``<``
    if ``hi_open``), or None where ``none``; ``note`` says what the value means or what to do. A rule on a list
    option applies to each of its items."""

    lo: float | None = None
    lo_open: bool = False
    hi: float | None = None
    hi_open: bool = False
    none: bool = False
    note: str = ""

    def contains(self, value: Any) -> bool:
        if value is None:
            return self.none
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):  # ints are finite, however large
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self, integer: bool = False) -> str:
        """The range in words, e.g. ``positive and finite``, ``>= 0``, ``in [0, 1)``."""
        num = (lambda x: str(int(x))) if integer else (lambda x: f"{x:g}")
        fin = "" if integer else " and finite"
        if self.hi is not None:
            lo = "-inf" if self.lo is None else num(self.lo)
            left, right = "(" if self.lo_open or self.lo is None else "[", ")" if self.hi_open else "]"
            text = f"in {left}{lo}, {num(self.hi)}{right}"
        elif self.lo == 0 and self.lo_open:
            text = f"positive{fin}"
        elif integer and self.lo == 1 and not self.lo_open:
            text = "positive (>= 1)"
        elif self.lo is not None:
            text = f"{'>' if self.lo_open else '>='} {num(self.lo)}{fin}"
        else:
            text = "finite"
        return text + (" or none" if self.none else "")


POSITIVE = Rule(0.0, lo_open=True)  # learning rates, temperatures, scales, weights
NONNEG = Rule(0.0)  # step sizes, noise levels and penalties where 0 means "off"
COUNT = Rule(1)  # numbers of things and periods
COUNT0 = Rule(0)  # counts where 0 has a documented meaning
UNIT = Rule(0.0, hi=1.0, hi_open=True)  # Adam's betas
SEED = Rule(0, hi=2**32 - 1)  # every seed, in configs, flags and the Python API: what a CPU torch.Generator keeps


def check_seed(value: Any, name: str = "seed") -> int:
    """``value`` as a seed (an int in [0, 2**32 - 1]), or the ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int in [0, {2**32 - 1}], got {value!r}")
    check_value(name, value, SEED, integer=True)
    return int(value)


def check_value(key: str, value: Any, rule: Rule, integer: bool = False) -> None:
    """Raise the ValueError naming ``key`` if the (type-checked) ``value`` is outside ``rule``."""
    if not rule.contains(value):
        note = f" ({rule.note})" if rule.note else ""
        raise ValueError(f"{key} must be {rule.describe(integer)}, got {value!r}{note}")


def unwrap(tp: Any) -> tuple[Any, bool]:
    """``(type, None allowed)`` of a field type such as ``float | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), len(rest) < len(args)
    return tp, False


def scalar(tp: Any) -> Any:
    """The numeric type (int or float) of a field or of its list items, else None."""
    inner = unwrap(tp)[0]
    if typing.get_origin(inner) is list:
        inner = typing.get_args(inner)[0]
    return inner if inner in (int, float) else None


def expected(tp: Any) -> str:
    """What a value of type ``tp`` looks like, for messages."""
    inner, optional = unwrap(tp)
    origin = typing.get_origin(inner)
    if origin is Literal:
        text = f"one of {list(typing.get_args(inner))}"
    elif origin is list:
        text = f"a list of {expected(typing.get_args(inner)[0])}"
    else:
        text = {bool: "true or false", int: "int", float: "float", str: "a string"}.get(inner, str(inner))
    return text + (" or none" if optional else "")


def coerce(key: str, value: Any, tp: Any, json: bool) -> Any:
    """``value`` as a value of the field type ``tp``, or the ValueError naming ``key``."""
    inner, optional = unwrap(tp)
    if value is None:
        if optional:
            return None
        raise ValueError(f"{key} expects {expected(inner)}, got none")
    origin = typing.get_origin(inner)
    if origin is Literal:
        if isinstance(value, str) and value in typing.get_args(inner):
            return value
        raise ValueError(f"{key} must be one of {list(typing.get_args(inner))}, got {value!r}")
    if origin is list:
        if not isinstance(value, list if json else (list, tuple)):
            raise ValueError(f"{key} expects {expected(inner)}, got {value!r}")
        item = typing.get_args(inner)[0]
        return [coerce(f"{key}[{i}]", v, item, json) for i, v in enumerate(value)]
    if inner is bool:
        if isinstance(value, bool):
            return value
    elif inner is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if json and isinstance(value, float) and value.is_integer():
            return int(value)
    elif inner is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                as_float = float(value)
            except OverflowError:
                raise ValueError(f"{key} must be finite, got {value!r}") from None
            return as_float if json else value
    elif inner is str:
        if isinstance(value, str) or (not json and isinstance(value, os.PathLike)):
            return value
    else:
        return value
    raise ValueError(f"{key} expects {expected(tp)}, got {value!r}")


@functools.lru_cache(maxsize=None)
def hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a config dataclass."""
    return typing.get_type_hints(cls)
