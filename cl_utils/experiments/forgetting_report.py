"""Chapter 00's figures, tables and claims, drawn from the records alone.

The claims are the literature's claims about forgetting, judged by the shared rules of :mod:`cl_utils.verdicts`
(direction claims, differences paired by seed, against their standard error). The prologue reproduces no single
paper, so it states only claims the literature makes, as directions (forgetting happens; one head per task forgets
less; joint training is the upper bound), each with its source; the levels it measures (about 20 % after
single-head fine-tuning, about 98 % for joint training) are reported beside them, not judged against numbers no
source gives.

Every label, caption and scale line of the figures and tables is read from the records (their configs and data
sources), never from the parameters the notebook was run with, so a caption cannot describe other runs than the
ones it shows.
"""
from __future__ import annotations

from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import plots
from ..data import DATASETS
from ..metrics import average_accuracy, backward_transfer, format_mean_spread
from ..verdicts import compound_status, direction_status, paired_direction, seed_se
from .core import Records
from .forgetting import METHODS, SCENARIOS, Params

__all__ = ["claims", "finals", "scale", "final_frame", "fig_accuracy_matrices", "fig_final_accuracy",
           "table_summary"]


def _final(r: dict) -> dict[str, float]:
    """One run's average final accuracy (%), and for fine-tuning its BWT (points) and the earlier tasks' and the
    last task's final accuracy (%)."""
    acc = r["metrics"]["acc"]
    if r["config"]["method"] != "fine-tune":
        return {"avg": 100 * float(np.mean(acc))}
    last = np.asarray(acc, dtype=float)[-1]
    return {"avg": 100 * average_accuracy(acc), "bwt": 100 * backward_transfer(acc),
            "earlier": 100 * float(last[:-1].mean()), "last": 100 * float(last[-1])}  # fmt: skip


def finals(records: Records, scenario: str, method: str) -> dict[int, dict[str, float]]:
    """Per seed: average final accuracy (%), BWT (points; fine-tuning only) and the earlier tasks' mean
    final accuracy (%)."""
    return {r["config"]["seed"]: _final(r) for r in records.where("train", scenario=scenario, method=method)}


def _paired(a: dict, b: dict, key: str = "avg") -> tuple[list[float], list[float]]:
    seeds = sorted(set(a) & set(b))
    return [a[s][key] for s in seeds], [b[s][key] for s in seeds]


def _mean(d: dict, key: str) -> float:
    return float(np.mean([v[key] for v in d.values()]))


def claims(records: Records, p: Params, scale: str) -> list[dict]:
    """The rows of the "claims vs. this book" table (see the module docstring)."""
    sh_ft, mh_ft = finals(records, "single-head", "fine-tune"), finals(records, "multi-head", "fine-tune")
    sh_joint, mh_joint = finals(records, "single-head", "joint"), finals(records, "multi-head", "joint")
    chance = 100 / len(p.class_groups[0])
    bwt = [v["bwt"] for v in sh_ft.values()]
    forgets = direction_status(float(np.mean(bwt)), seed_se(bwt), expected_sign=-1, what="BWT")
    less = paired_direction(*_paired(mh_ft, sh_ft, "bwt"), what="multi-head minus single-head BWT")
    above_chance = direction_status(_mean(mh_ft, "avg") - chance, seed_se([v["avg"] for v in mh_ft.values()]),
                                    what="multi-head fine-tuning minus chance")  # fmt: skip
    below_joint = paired_direction(*_paired(mh_joint, mh_ft), what="joint minus fine-tuning (multi-head)")
    between = compound_status([above_chance, below_joint])
    bound = paired_direction(*_paired(sh_joint, sh_ft), what="joint minus fine-tuning (single-head)")
    n, tasks = len(sh_ft), len(p.class_groups)
    return [
        {"claim": "Fine-tuning one shared head on task after task forgets the earlier tasks (catastrophic "
                  "forgetting)",
         "paper": "earlier tasks lost (McCloskey & Cohen 1989): BWT < 0",
         "this book": f"BWT {np.mean(bwt):+.2f} points; tasks 1-{tasks - 1} end at {_mean(sh_ft, 'earlier'):.2f} "
                      f"%, the last at {_mean(sh_ft, 'last'):.2f} %, so the average ({_mean(sh_ft, 'avg'):.2f} %) is "
                      f"about 1/{tasks} of the last task's",
         "data and scale": scale, "status": forgets[0], "reason": f"{forgets[1]} ({n} seeds)"},
        {"claim": "One head per task forgets far less than one shared head (task- against class-incremental)",
         "paper": "multi-head BWT above single-head BWT (van de Ven & Tolias 2019)",
         "this book": f"BWT {_mean(mh_ft, 'bwt'):+.2f} against {np.mean(bwt):+.2f} points",
         "data and scale": scale, "status": less[0], "reason": f"{less[1]} (paired by seed, {n} seeds)"},
        {"claim": "Multi-head fine-tuning still forgets: above chance, below joint training",
         "paper": f"between {chance:.0f} % (chance) and joint training (Zenke et al. 2017)",
         "this book": f"{_mean(mh_ft, 'avg'):.2f} % against joint {_mean(mh_joint, 'avg'):.2f} %",
         "data and scale": scale, "status": between[0],
         "reason": f"{between[1]}: {above_chance[1]}; {below_joint[1]} ({n} seeds)"},
        {"claim": "Joint training on all tasks at once is the upper bound: the network can hold every task, so "
                  "the loss comes from the order of training",
         "paper": "joint above fine-tuning (the usual upper bound, e.g. van de Ven & Tolias 2019)",
         "this book": f"single-head joint {_mean(sh_joint, 'avg'):.2f} % against fine-tuning "
                      f"{_mean(sh_ft, 'avg'):.2f} %",
         "data and scale": scale, "status": bound[0], "reason": f"{bound[1]} (paired by seed, {n} seeds)"},
    ]  # fmt: skip
