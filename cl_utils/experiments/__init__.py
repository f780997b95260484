"""Every chapter's runs, defined in the package: typed parameters, a plan of runs, run functions.

One module per chapter, all in the same shape (see :mod:`.core`):

=====================  =========================================================
``forgetting``         00: fine-tuning vs. joint training on Split MNIST
``packnet``            01: PackNet and its baselines (Mallya & Lazebnik 2018)
``efficiency``         02: PackNet against Memory and Multinet, pruning on a budget (Ball et al. 2020)
``clnp``               03: Continual Learning via Neural Pruning (Golkar et al. 2019)
``progressive``        04: progressive networks, pruned (Nicholls & Dasgupta)
``filter_pruning``     05: iterative filter pruning (Salcedo & Sharma)
``comparison``         06: the methods of 00-04 on the same three streams
=====================  =========================================================

:func:`load` finds a chapter's module by its number, name or notebook path, and
:func:`preset` reads ``book/params/<chapter>/<name>.yaml``. The notebooks and
``python -m cl_utils.reproduce`` both go through :func:`.core.execute`, so a run made
by one is reused by the other.

Adding a chapter: write ``experiments/<name>.py`` with ``CHAPTER``, ``CODE_VERSION``,
``Params``, ``plan`` and ``RUNNERS`` (the modules its runs execute are found from its imports);
register it in :data:`cl_utils.chapters.REGISTRY`; add
``book/params/<chapter>/smoke.yaml`` (and ``committed.yaml`` once outputs are committed).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from ..chapters import REGISTRY
from ..paths import project_root
from .core import Outcome, Records, Run, RunContext, requests
from .drawing import execute
from .params import ParameterError, Params, knob

__all__ = ["CHAPTERS", "load", "preset", "preset_path", "from_notebook", "execute", "requests", "Run", "RunContext",
           "Records", "Outcome", "Params", "ParameterError", "knob"]  # fmt: skip

#: chapter folder name -> experiment module name (derived from the one registry, :mod:`cl_utils.chapters`)
CHAPTERS = {c.folder: c.module for c in REGISTRY}


def load(chapter: str) -> ModuleType:
    """The experiment module of ``chapter``: '00', '00_forgetting', 'forgetting' or 'book/00_forgetting.ipynb'."""
    stem = Path(chapter).stem
    for name, module in CHAPTERS.items():
        if stem in (name, name[:2], module):
            return importlib.import_module(f"{__name__}.{module}")
    raise ParameterError(f"unknown chapter {chapter!r}; choose one of {', '.join(CHAPTERS)} (or its number)")


def preset_path(chapter: str, name: str) -> Path:
    return project_root() / "book" / "params" / load(chapter).CHAPTER / f"{name}.yaml"


def preset(chapter: str, name: str) -> dict[str, Any]:
    """The values of preset ``name`` of ``chapter`` (a YAML mapping of parameter names)."""
    path = preset_path(chapter, name)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ParameterError(f"parameter 'preset': no preset {name!r} for {load(chapter).CHAPTER} ({path} is missing); "
                             f"known: {known or 'none'}")  # fmt: skip
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ParameterError(f"preset file {path} must be a mapping of parameter names to values")
    return values


def from_notebook(chapter: str, namespace: dict[str, Any]) -> tuple[ModuleType, Params]:
    """A notebook's experiment module and validated parameters, from its globals after the parameters cell."""
    experiment = load(chapter)
    return experiment, experiment.Params.from_namespace(namespace, lambda name: preset(chapter, name))
