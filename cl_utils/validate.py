"""Checks for a chapter's papermill parameters, run right after the ``parameters`` cell.

Each function returns the value in its canonical type and raises
:class:`ParameterError` with a message that names the parameter, says what was
expected and what was given, so a bad ``papermill -p`` stops the run before
any data is loaded or any model trained. List parameters also accept the
string form papermill's ``-p`` produces (``-p seeds '[0, 1, 2]'``).
"""
from __future__ import annotations

import ast
import math
import re
from typing import Any, Sequence

__all__ = [
    "ParameterError",
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_choice_list",
    "check_int_list",
    "check_float_list",
    "check_int_lists",
    "check_device",
    "check_class_groups",
]


class ParameterError(ValueError):
    """A chapter parameter has the wrong type or value."""


def parameter_error(name: str, expected: str, value: Any) -> ParameterError:
    """The error for a bad value: names the parameter (``seeds[1]`` for a list item), what was expected and given."""
    base = name.split("[")[0]
    return ParameterError(
        f"parameter '{name}' must be {expected}; got {value!r} ({type(value).__name__}). "
        f"Fix it in the parameters cell, with papermill -p {base} <value>, or with reproduce -p {base} <value>."
    )


_fail = parameter_error


def _bounds(lo: float | None, hi: float | None) -> str:
    parts = [f">= {lo}" if lo is not None else "", f"<= {hi}" if hi is not None else ""]
    return " and ".join(p for p in parts if p)


def _in_range(v: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _is_int(v: Any, lo: int | None = None, hi: int | None = None) -> bool:
    """An integer (not a bool) within the bounds."""
    return isinstance(v, int) and not isinstance(v, bool) and _in_range(v, lo, hi)


def check_int(name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """An integer (not a bool, not a float) within the bounds."""
    expected = " ".join(filter(None, ["an integer", _bounds(min_value, max_value)]))
    if not _is_int(value, min_value, max_value):
        raise _fail(name, expected, value)
    return int(value)


def check_float(name: str, value: Any, *, min_value: float | None = None, max_value: float | None = None) -> float:
    """A finite real number (ints accepted) within the bounds."""
    expected = " ".join(filter(None, ["a finite number", _bounds(min_value, max_value)]))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, expected, value)
    if not math.isfinite(value) or not _in_range(value, min_value, max_value):
        raise _fail(name, expected, value)
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """True or False (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)
    return value


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise _fail(name, f"one of {list(choices)}", value)
    return value


def check_choice_list(name: str, value: Any, choices: Sequence[str], *, min_length: int = 1) -> list[str]:
    """A list of at least ``min_length`` distinct entries of ``choices``."""
    expected = f"a list of at least {min_length} distinct entries of {list(choices)}"
    items = _as_list(name, value, expected)
    if len(items) < min_length or len(set(map(str, items))) != len(items) or not all(isinstance(v, str) and v in choices for v in items):
        raise _fail(name, expected, value)
    return list(items)


def _as_list(name: str, value: Any, expected: str) -> list:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise _fail(name, expected, value) from None
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise _fail(name, expected, value)
    return value


def check_int_list(
    name: str,
    value: Any,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    min_length: int = 1,
    unique: bool = False,
) -> list[int]:
    """A non-empty list of integers within the bounds (``unique``: no repeats)."""
    expected = f"a list of at least {min_length} integer(s)" + (f" {_bounds(min_value, max_value)}" if _bounds(min_value, max_value) else "")
    items = _as_list(name, value, expected)
    ok = len(items) >= min_length and all(
        _is_int(v, min_value, max_value) for v in items
    )
    if not ok or (unique and len(set(items)) != len(items)):
        raise _fail(name, expected + (" without repeats" if unique else ""), value)
    return [int(v) for v in items]


def check_float_list(
    name: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_length: int = 1,
) -> list[float]:
    """A non-empty list of finite numbers within the bounds."""
    expected = f"a list of at least {min_length} number(s)" + (f" {_bounds(min_value, max_value)}" if _bounds(min_value, max_value) else "")
    items = _as_list(name, value, expected)
    ok = len(items) >= min_length and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and _in_range(v, min_value, max_value)
        for v in items
    )
    if not ok:
        raise _fail(name, expected, value)
    return [float(v) for v in items]


def check_int_lists(
    name: str, value: Any, *, min_value: int | None = None, length: int | None = None, same_length: bool = True
) -> list[list[int]]:
    """A list of non-empty integer lists (e.g. hidden widths per column); ``length`` outer entries if given.

    With ``same_length`` every inner list has the same length (e.g. columns of equal depth).
    """
    count = "a list" if length is None else f"a list of {length}"
    expected = f"{count} non-empty lists of integers" + (f" {_bounds(min_value, None)}" if min_value is not None else "")
    expected += " of equal length" if same_length else ""
    outer = _as_list(name, value, expected)
    if not outer or (length is not None and len(outer) != length):
        raise _fail(name, expected, value)
    out = []
    for inner in outer:
        if not isinstance(inner, (list, tuple)) or not inner:
            raise _fail(name, expected, value)
        if not all(_is_int(v, min_value) for v in inner):
            raise _fail(name, expected, value)
        out.append([int(v) for v in inner])
    if same_length and len({len(inner) for inner in out}) != 1:
        raise _fail(name, expected, value)
    return out


def check_device(name: str, value: Any) -> str:
    """``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise _fail(name, "'auto', 'cpu', 'cuda' or 'cuda:N'", value)
    return value


def check_class_groups(name: str, value: Any, num_classes: int) -> list[list[int]]:
    """A list of disjoint, non-empty lists of class labels in ``[0, num_classes)``."""
    expected = f"a list of disjoint non-empty lists of class labels in [0, {num_classes - 1}]"
    groups = _as_list(name, value, expected)
    if not groups:
        raise _fail(name, expected, value)
    out: list[list[int]] = []
    for group in groups:
        if not isinstance(group, (list, tuple)) or not group:
            raise _fail(name, expected, value)
        if not all(_is_int(c, 0, num_classes - 1) for c in group):
            raise _fail(name, expected, value)
        out.append([int(c) for c in group])
    flat = [c for g in out for c in g]
    if len(set(flat)) != len(flat):
        raise _fail(name, expected + " (a class appears twice)", value)
    return out
