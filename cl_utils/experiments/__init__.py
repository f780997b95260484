"""Every chapter's runs, defined in the package: typed parameters, a plan of runs, run functions.

One module of runs per chapter, all in the same shape (see :mod:`.runs`), beside the chapter's report
modules (``<name>_report``, ``<name>_figures``); the method each chapter studies lives one layer down, in
``cl_utils.<method>``:

=======================  =========================================================
``forgetting_runs``      00: fine-tuning vs. joint training on Split MNIST
``packnet_runs``         01: PackNet and its baselines (Mallya & Lazebnik 2018)
``efficiency_runs``      02: PackNet against Memory and Multinet, pruning on a budget (Ball et al. 2020)
``clnp_runs``            03: Continual Learning via Neural Pruning (Golkar et al. 2019)
``progressive_runs``     04: progressive networks, pruned (Nicholls & Dasgupta)
``filter_runs``          05: iterative filter pruning (Salcedo & Sharma)
``comparison_runs``      06: the methods of 00-04 on the same three streams
=======================  =========================================================

:func:`load` finds a chapter's module by its number, name or notebook path, and
:func:`preset` reads ``book/params/<chapter>/<name>.yaml``. The notebooks and
``python -m cl_utils.reproduce`` both go through :func:`.runs.execute`, so a run made
by one is reused by the other.

Adding a chapter: write ``experiments/<name>_runs.py`` with ``CHAPTER``, ``CODE_VERSION``,
``Params``, one typed config per run kind (:mod:`.run_config`), ``plan`` and ``RUNNERS`` (the
modules its runs execute are found from its imports);
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
from .runs import Outcome, Records, Run, RunContext, requests
from .drawing import execute
from .params import ParameterError, Params, param

__all__ = ["CHAPTERS", "load", "preset", "preset_path", "from_notebook", "execute", "requests", "Run", "RunContext",
           "Records", "Outcome", "Params", "ParameterError", "param"]  # fmt: skip

#: chapter folder name -> experiment module name (derived from the one registry, :mod:`cl_utils.chapters`)
CHAPTERS = {c.folder: c.module for c in REGISTRY}


def load(chapter: str) -> ModuleType:
    """The experiment module of ``chapter``: '00', '00_forgetting', 'forgetting', 'forgetting_runs' or
    'book/00_forgetting.ipynb'."""
    stem = Path(chapter).stem
    for name, module in CHAPTERS.items():
        if stem in (name, name[:2], module, module.removesuffix("_runs")):
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
