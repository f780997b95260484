"""Typed run configs: one small frozen dataclass per run kind, whose fields are the run's config.

A chapter's plan builds them (``TrainRun(seed=0, ...)``), :class:`~.runs.Run` stores their JSON form, and a run
function receives one back (``c.seed``, never ``c["seed"]``): a misspelt or missing field fails where the config is
built or read, before any training, instead of surfacing as a ``KeyError`` minutes into a run.

The JSON form (:meth:`RunConfig.as_config`) is exactly the string-keyed dict the records were keyed by before the
configs were typed: field names are the keys, and a field declared :func:`optional` is left out while it holds
``None`` (keys that only some runs of a kind carry, such as 02's ``steps`` on Memory's twins). So no record's key
changed with the types.

Which type a run function takes is read from the annotation of its first parameter
(``def train(c: TrainRun, ctx: RunContext)``): :func:`config_type`.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from typing import Any, Callable, Mapping, TypeVar

__all__ = ["RunConfig", "optional", "config_type", "typed"]

T = TypeVar("T", bound="RunConfig")


def optional() -> Any:
    """A field that the JSON config carries only while it is not ``None``: a key that only some runs of a kind have
    (keyword-only, so it may stand before required fields and keep the JSON's key order)."""
    return dataclasses.field(default=None, kw_only=True, metadata={"omit_none": True})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Base of every run kind's config: fields are JSON values (numbers, strings, bools, lists, dicts)."""

    def as_config(self) -> dict[str, Any]:
        """The run's JSON config (what its record's key hashes), fields in declaration order."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = value
        return out

    @classmethod
    def variant(cls, config: Mapping[str, Any]) -> type["RunConfig"]:
        """The class a JSON config of this kind becomes: ``cls``, or the subclass a field of ``config`` names (a kind
        whose configs differ by method overrides this)."""
        return cls

    @classmethod
    def from_config(cls: type[T], config: Mapping[str, Any]) -> T:
        """The typed config of a JSON one; an unknown or missing key, or a config of another kind, is an error that
        names it."""
        target = cls.variant(config)
        if not issubclass(target, cls):
            raise TypeError(f"{_name(cls)} cannot hold a config of {_name(target)} ({dict(config)!r})")
        cls = target
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise TypeError(f"{_name(cls)} has no field {', '.join(map(repr, unknown))}; its fields are "
                            f"{', '.join(sorted(names))}")  # fmt: skip
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}  # fmt: skip
        missing = sorted(required - set(config))
        if missing:
            raise TypeError(f"{_name(cls)} needs {', '.join(map(repr, missing))}")
        return cls(**config)

    @classmethod
    def fields_from(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """This class's fields, with their values in ``values`` (a chapter's parameters, or a config of another kind
        that shares them): the part of a config another kind, or a stage's checkpoint key, is built from. A field
        ``values`` lacks is left out (an unset optional field; a missing required one fails where the config is
        built)."""
        return {f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values}

    def replace(self: T, **changes: Any) -> T:
        """A copy with ``changes`` (a field that does not exist is an error)."""
        return dataclasses.replace(self, **changes)

    def pick(self, names: typing.Iterable[str]) -> dict[str, Any]:
        """The JSON values of the fields ``names`` (to build another kind's config, e.g. a stage's checkpoint key); an
        optional field that is ``None`` is left out, as in :meth:`as_config`; a name that is no field is an error."""
        names = list(names)
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = [n for n in names if n not in fields]
        if unknown:
            raise TypeError(f"{_name(type(self))} has no field {', '.join(map(repr, unknown))}")
        config = self.as_config()
        return {n: config[n] for n in names if n in config}


def _name(cls: type) -> str:
    """A config class's name with its module (two chapters may both have a ``PackNetRun``)."""
    return f"{cls.__module__.rsplit('.', 1)[-1]}.{cls.__qualname__}"


@functools.cache  # requests() and every trained run ask it of the same few run functions
def config_type(fn: Callable[..., Any]) -> type[RunConfig]:
    """The :class:`RunConfig` subclass a run function takes: the annotation of its first parameter."""
    parameters = list(inspect.signature(fn).parameters)
    try:
        first = typing.get_type_hints(fn).get(parameters[0]) if parameters else None
    except (NameError, TypeError):  # an annotation that does not resolve (a class defined inside a function)
        first = None
    if not (isinstance(first, type) and issubclass(first, RunConfig)):
        raise TypeError(f"run function {getattr(fn, '__qualname__', fn)!r} must annotate its first parameter with "
                        f"its RunConfig subclass (got {first!r})")  # fmt: skip
    return first


def typed(fn: Callable[..., Any], config: Mapping[str, Any] | RunConfig) -> RunConfig:
    """``config`` as the type run function ``fn`` takes; a typed config must be exactly the class its JSON form
    becomes (not a subclass with more fields, which would key another record)."""
    kind = config_type(fn)
    if isinstance(config, RunConfig):
        expected = kind.variant(config.as_config())
        if type(config) is not expected or not issubclass(expected, kind):
            raise TypeError(f"{getattr(fn, '__qualname__', fn)} takes {_name(expected)}, got {_name(type(config))}")
        return config
    return kind.from_config(config)
