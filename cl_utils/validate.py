"""Checks for a chapter's papermill parameters, run right after the ``parameters`` cell.

Each function returns the value in its canonical type and raises
:class:`ParameterError` with a message that names the parameter, says what was
expected and what was given, so a bad ``papermill -p`` stops the run before
any data is loaded or any model trained. The scalar checks live here; lists (and the string form
papermill's ``-p`` gives them) are checked by :mod:`cl_utils.experiments.params`, which knows each
parameter's element type and bounds.
"""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

__all__ = [
    "ParameterError",
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_device",
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


def check_device(name: str, value: Any) -> str:
    """``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise _fail(name, "'auto', 'cpu', 'cuda' or 'cuda:N'", value)
    return value
