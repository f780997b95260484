"""Typed chapter parameters: one dataclass per chapter is the single source of truth.

Each field is declared with :func:`param` (default, one-line help, and its range
or choices). From that declaration come

* validation (:meth:`Params.from_values`): every value is checked against its
  type hint and range, and an unknown or misspelt name is an error that names
  the closest known parameter, before any data is loaded;
* the help text (:meth:`Params.help`) printed by ``python -m cl_utils.reproduce
  CHAPTER --help-params``;
* presets: ``book/params/<chapter>/<name>.yaml`` hold a subset of the fields.

Values may also arrive as strings, the way ``papermill -p`` and the command line
pass them (``-p seeds '[0, 1]'``); lists and numbers are parsed as YAML.

Why one module (over 300 lines): declaration, validation, presets and help all derive from the same field
metadata.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import os
import re
import types
import typing
from typing import Any, ClassVar, Mapping, Sequence

import yaml

from ..data import DATA_SOURCES
from ..train import ACCELERATIONS
from ..validate import ParameterError, check_bool, check_choice, check_device, check_float, check_int
from ..validate import parameter_error as _fail

__all__ = ["param", "Params", "ParameterError"]



def param(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: Sequence[str] | None = None,
    min_length: int = 0,
    unique: bool = False,
) -> Any:
    """A parameter field: its default, help line and allowed values (bounds apply to list items too)."""
    factory = (lambda d=default: [list(v) if isinstance(v, list) else v for v in d]) if isinstance(default, list) else None
    meta = dict(help=help, min=min, max=max, choices=tuple(choices) if choices else None, min_length=min_length,
                unique=unique)  # fmt: skip
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _describe(kind: Any) -> str:
    """``list[list[int]]``: a field's type, as its annotation spells it."""
    if typing.get_origin(kind) is list:
        return f"list[{_describe(typing.get_args(kind)[0])}]"
    return kind.__name__


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _parse_string(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _check(name: str, kind: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` converted to ``kind`` and checked against ``meta``; raises ParameterError."""
    lo, hi, choices = meta["min"], meta["max"], meta["choices"]
    if typing.get_origin(kind) is list:
        inner = typing.get_args(kind)[0]
        expected = f"a list of {_describe(inner)}" + (f" with at least {meta['min_length']} entries" if meta["min_length"] else "")
        if choices:  # a list of names: say which names (a switch once, now a list, is the likely mistake)
            none = "" if meta["min_length"] else ", or [] for none"
            expected += f" from {list(choices)} (for example {list(choices[:1])}{none})"
        if isinstance(value, str):
            value = _parse_string(value)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or len(value) < meta["min_length"]:
            raise _fail(name, expected, value)
        inner_meta = {**meta, "min_length": 0, "unique": False}
        out = [_check(f"{name}[{i}]", inner, v, inner_meta) for i, v in enumerate(value)]
        if meta["unique"] and len({repr(v) for v in out}) != len(out):
            raise _fail(name, expected + " without repeats", value)
        return out
    if kind is str:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]  # the parameters cell shows 'mnist'; passed back as a -p string it keeps its quotes
        if choices:
            return check_choice(name, value, choices)
        if not isinstance(value, str):
            raise _fail(name, "a string", value)
        return value
    if isinstance(value, str):
        value = _parse_string(value)
    if kind is float and isinstance(value, str):  # YAML reads '1e-07' (no decimal point) as a string
        try:
            value = float(value.strip())
        except ValueError:
            pass
    if kind is bool:
        return check_bool(name, value)
    if kind is int:
        return check_int(name, value, min_value=lo, max_value=hi)
    if kind is float:
        return check_float(name, value, min_value=lo, max_value=hi)
    raise TypeError(f"parameter {name!r}: unsupported type {kind!r}")


def _literal(node: ast.AST | None) -> Any:
    """The value of a literal expression (None for anything else)."""
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


@dataclasses.dataclass
class Params:
    """Fields every chapter has: where the data comes from and where runs go (none changes a result)."""

    data_source: str = param("auto", "'auto' | 'cache' | 'torchvision' | 'synthetic' (tests only)",
                            choices=DATA_SOURCES)  # fmt: skip
    device: str = param("auto", "'auto' | 'cpu' | 'cuda' | 'cuda:N'")
    results_dir: str = param("", "folder of the run records; '' = _build/runs/results, seeded with the book's "
                            "records (the committed data/results is written only when named here)")  # fmt: skip
    show_progress: bool = param(True, "progress bars while training")
    train: bool = param(False, "train the runs that are not stored; off: draw the stored runs only, and stop naming "
                       "what is missing and what training it would cost")  # fmt: skip
    preset: str = param("", "a file of book/params/<chapter>/ (e.g. 'committed') for values left at default")
    acceleration: list[str] = param([], "opt-in: 'compile', 'bf16', 'tf32' (change the arithmetic; records keyed "
                                   "apart)", choices=ACCELERATIONS, unique=True)  # fmt: skip

    #: names that never change a result, so they stay out of the run keys
    RUNNING: ClassVar[tuple[str, ...]] = ("data_source", "device", "results_dir", "show_progress", "train", "preset")
    #: fields every chapter has that do change a result (they enter a run's key when not at their default)
    SHARED: ClassVar[tuple[str, ...]] = ("acceleration",)
    #: what the defaults are, for the parameters cell's first line (a chapter that reproduces no paper says whose)
    DEFAULTS_ARE: ClassVar[str] = "the paper's scale"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            setattr(self, f.name, _check(f.name, hints[f.name], getattr(self, f.name), f.metadata))
        check_device("device", self.device)
        if self.device.startswith("cuda"):
            import torch

            index = int(self.device.partition(":")[2] or 0)
            if not torch.cuda.is_available() or index >= torch.cuda.device_count():
                raise ParameterError(f"parameter 'device' is {self.device!r} but this machine has "
                                     f"{torch.cuda.device_count()} CUDA device(s); use device 'auto' (a GPU when there "
                                     f"is one) or 'cpu'")  # fmt: skip
        self.check()

    def check(self) -> None:
        """Checks across fields; a chapter overrides it (raise :class:`ParameterError`)."""

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def _fields(cls) -> list[dataclasses.Field]:
        """The chapter's own fields first, then the running ones every chapter has."""
        fields = dataclasses.fields(cls)
        base = (*cls.SHARED, *cls.RUNNING)
        return ([f for f in fields if f.name not in base] + [f for f in fields if f.name in cls.SHARED]
                + [f for f in fields if f.name in cls.RUNNING])  # fmt: skip

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in cls._fields()]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return dataclasses.asdict(cls())

    @classmethod
    def from_values(cls, values: Mapping[str, Any], preset_values: Mapping[str, Any] | None = None) -> "Params":
        """Validated parameters from ``values``; ``preset_values`` fill the names ``values`` leaves out.

        An unknown name in either is an error naming the closest known parameter.
        """
        for source in (values, preset_values or {}):
            unknown = [k for k in source if k not in cls.names()]
            if unknown:
                hints = {k: difflib.get_close_matches(k, cls.names(), n=1) for k in unknown}
                said = ", ".join(f"'{k}'" + (f" (did you mean '{hints[k][0]}'?)" if hints[k] else "") for k in unknown)
                raise ParameterError(
                    f"unknown parameter {said} for {cls.__module__.rsplit('.', 1)[-1]}; known: {', '.join(cls.names())}"
                )
        return cls(**{**dict(preset_values or {}), **dict(values)})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any], load_preset=None) -> "Params":
        """Parameters from a notebook's globals right after its parameters cell.

        Every plain value defined there (not a module, class, function, CONSTANT or IPython name) is taken as a
        parameter, so a misspelt ``papermill -p`` name is reported instead of silently ignored. With
        ``preset`` set (or ``$CL_PRESET``), ``load_preset(name)`` supplies every value still at its default.
        """
        skip = {"In", "Out", "get_ipython", "exit", "quit", "open"}
        values = {
            k: v for k, v in namespace.items()
            if not k.startswith("_") and k not in skip and not k.isupper()
            and not isinstance(v, types.ModuleType) and not callable(v)
        }  # fmt: skip
        preset = values.get("preset") or os.environ.get("CL_PRESET", "")
        if not preset:
            return cls.from_values(values)
        if load_preset is None:
            raise ParameterError("parameter 'preset' is set but this chapter has no presets")
        set_by_user = cls._set_in_cells(namespace.get("In"))
        if set_by_user is None:  # no cell history (a plain Python namespace): what differs from the defaults
            defaults = cls.defaults()
            explicit = {k: v for k, v in values.items() if k not in defaults or v != defaults[k]}
        else:
            explicit = {k: v for k, v in values.items() if k not in cls.names() or k in set_by_user}
        return cls.from_values({**explicit, "preset": preset}, load_preset(preset))

    @classmethod
    def _set_in_cells(cls, history: Any) -> set[str] | None:
        """The parameters a user set, read from the kernel's executed cells (IPython's ``In``).

        A parameter counts as set when its latest assignment is not the parameters cell's own default: papermill's
        injected cell (``-p name value``) or any later cell, even with the default value, so a preset never
        overrides an explicit choice; in the parameters cell itself (recognised by its first line, also when older
        or reformatted), a changed value. Top-level ``name = value`` / ``name: type = value`` lines only. None
        without a cell history.
        """
        if not isinstance(history, list) or not history:
            return None
        generated = {line.strip() for line in cls.parameters_cell().splitlines()}
        marker = cls.parameters_cell().splitlines()[0]  # an older or reformatted parameters cell keeps it
        defaults = cls.defaults()
        latest: dict[str, bool] = {}
        for source in history:
            if not isinstance(source, str):
                continue
            try:
                tree = ast.parse(source)
            except SyntaxError:  # IPython magics and the like: no parameter assignments to read
                continue
            lines = source.splitlines()
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                    if isinstance(node, ast.AnnAssign) else []  # fmt: skip
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in cls.names():
                        text = "\n".join(lines[node.lineno - 1: node.end_lineno]).strip()
                        latest[target.id] = text not in generated and not (
                            marker in source and _literal(node.value) == defaults[target.id])
        return {name for name, user in latest.items() if user}

    # -- views -------------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def changed(self) -> dict[str, Any]:
        """The values that differ from the defaults (the paper's scale)."""
        defaults = self.defaults()
        return {k: v for k, v in self.as_dict().items() if v != defaults[k]}

    @classmethod
    def parameters_cell(cls) -> str:
        """The source of the notebook's ``parameters`` cell, generated from the fields (test-checked).

        One annotated line per parameter, ``name: type = default  # help``, as papermill's
        ``--help-notebook`` reads them, with the class's section comments in between.
        """
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        module = cls.__module__.rsplit(".", 1)[-1]
        lines = [f"# Defaults: {cls.DEFAULTS_ARE}. Types, ranges, help: cl_utils.experiments.{module}.Params"]
        for line in (line.strip() for line in inspect.getsource(cls).splitlines()[1:]):
            if line.startswith("#") and not line.startswith("#:"):
                lines += ["", line]
            name = re.match(r"(\w+):", line)
            if name and name.group(1) in fields and name.group(1) not in (*cls.RUNNING, *cls.SHARED):
                lines.append(cls._cell_line(fields[name.group(1)], hints))
        lines += ["", "# Speed: opt-in accelerations (they change the arithmetic, so their records are their own)"]
        lines += [cls._cell_line(fields[n], hints) for n in cls.SHARED]
        lines += ["", "# Running: where data comes from and where runs go (none of these changes a result)"]
        lines += [cls._cell_line(fields[n], hints) for n in cls.RUNNING]
        return "\n".join(lines)

    @staticmethod
    def _cell_line(f: dataclasses.Field, hints: dict) -> str:
        help_text = f.metadata["help"].replace(" = ", " means ").replace("=", ":")  # papermill skips a second '='
        return f"{f.name}: {_describe(hints[f.name])} = {_default(f)!r}  # {help_text}"

    @classmethod
    def help(cls) -> str:
        """One line per parameter: name, type, default, allowed values, help."""
        hints = typing.get_type_hints(cls)
        lines = []
        for f in cls._fields():
            allowed = []
            if f.metadata["choices"]:
                allowed.append("one of " + "/".join(f.metadata["choices"]))
            if f.metadata["min"] is not None:
                allowed.append(f">= {f.metadata['min']:g}")
            if f.metadata["max"] is not None:
                allowed.append(f"<= {f.metadata['max']:g}")
            extra = f" [{', '.join(allowed)}]" if allowed else ""
            lines.append(f"  {f.name}: {_describe(hints[f.name])} = {_default(f)!r}{extra}\n      {f.metadata['help']}")
        return "\n".join(lines)
