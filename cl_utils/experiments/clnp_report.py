"""Chapter 03's claims table: each of Golkar et al.'s results, our number, and a status by a stated rule."""
from __future__ import annotations

import numpy as np

from ..metrics import format_mean_spread
from .core import Records
from .clnp import Params

__all__ = ["final_accuracy", "full_after", "forgetting", "claims"]


def _within(ours: float, paper: float, close: float, near: float) -> str:
    gap = abs(ours - paper)
    return "reproduced" if gap <= close else "partly" if gap <= near else "not reproduced"


def full_after(rec: dict) -> int | None:
    """The task after which some hidden layer had no free unit left (None: never)."""
    steps = rec["metrics"]["steps"]
    return next((i + 1 for i, s in enumerate(steps) if min(s["free_units"]) == 0), None)


def forgetting(rec: dict) -> float:
    """Largest fall (points) of an earlier task's accuracy, from right after its training to the end."""
    acc = rec["metrics"]["acc"]
    return max([100 * (acc[i][i] - acc[-1][i]) for i in range(len(acc) - 1)], default=0.0)


def final_accuracy(rec: dict) -> float:
    """Mean test accuracy (%) over all tasks after the last one."""
    return 100 * float(np.mean(rec["metrics"]["acc"][-1]))


def claims(records: Records, p: Params, scale: dict[str, str]) -> list[dict]:
    """The rows of the "paper vs. this book" table. ``scale``: 'wide', 'narrow', 'cifar' -> data and scale."""
    fmt = lambda v: format_mean_spread(v, spread="std")  # noqa: E731  (the paper reports mean ± std)
    wide, narrow = records.where("wide"), records.where("narrow")
    wide_avg = [final_accuracy(r) for r in wide]
    narrow_avg = [final_accuracy(r) for r in narrow]
    single = [100 * r["metrics"]["test_acc"] for r in records.where("single_task")]
    gap_single = float(np.mean(single) - np.mean(wide_avg))
    drop = max(forgetting(r) for r in wide + narrow)
    narrow_full = [full_after(r) for r in narrow]
    rows = [
        {"claim": "Permuted MNIST, wide single-head: CLNP's average accuracy over 10 tasks",
         "paper": "98.42 ± 0.04 %", "this book": fmt(wide_avg) + " %", "data and scale": scale["wide"],
         "status": _within(float(np.mean(wide_avg)), 98.42, 0.3, 1.5),
         "reason": f"{np.mean(wide_avg) - 98.42:+.2f} points from the paper's "
                   "(reproduced within 0.3, partly within 1.5)"},
        {"claim": "Permuted MNIST, wide: CLNP is just short of single-task training",
         "paper": "0.06 points short (98.48 %)", "this book": f"{gap_single:.2f} points short ({fmt(single)} %)",
         "data and scale": scale["wide"],
         "status": "reproduced" if 0 <= gap_single <= 0.2 else "partly" if 0 <= gap_single <= 1
         else "not reproduced",
         "reason": "the gap to single-task training (reproduced within 0.2, partly within 1)"},
        {"claim": "CLNP does not forget: earlier tasks keep their accuracy as tasks are added",
         "paper": "virtually no forgetting (the margin m bounds the loss at pruning)",
         "this book": f"largest fall {drop:.2f} points", "data and scale": f"{scale['wide']}; {scale['narrow']}",
         "status": "reproduced" if drop <= 0.01 else "not reproduced",
         "reason": "no earlier task's accuracy falls after its own training, in any wide or narrow run"},
        {"claim": "Permuted MNIST, narrow multi-head (m = 3 %, 2 fine-tuning rounds): average accuracy",
         "paper": "95.8 %", "this book": fmt(narrow_avg) + " %", "data and scale": scale["narrow"],
         "status": _within(float(np.mean(narrow_avg)), 95.8, 1, 3),
         "reason": f"{np.mean(narrow_avg) - 95.8:+.2f} points from the paper's (reproduced within 1, partly within 3)"},
        {"claim": "Narrow multi-head: the margin makes the network fill up exactly at task 10",
         "paper": "full after task 10", "this book": "full after task " + ", ".join(str(t) for t in narrow_full),
         "data and scale": scale["narrow"],
         "status": "reproduced" if all(t == 10 for t in narrow_full) else "partly" if 10 in narrow_full
         else "not reproduced",
         "reason": f"{narrow_full.count(10)} of {len(narrow_full)} repetitions fill up at task 10, the others earlier"},
    ]  # fmt: skip
    return rows + _cifar_claims(records, p, scale["cifar"])


def _cifar_claims(records: Records, p: Params, scale: str) -> list[dict]:
    runs = {(m, f): records.one("cifar", margin=m, finetune=f, width=1.0)
            for m, f in zip(p.cifar_margins, p.cifar_finetune)}  # fmt: skip
    first = min(runs)
    full = full_after(runs[first])
    base = 100 * np.array(runs[first]["metrics"]["acc"][-1])
    tuned = [k for k in runs if k[1]]
    ft = 100 * np.array(runs[tuned[0]]["metrics"]["acc"][-1]) if tuned else base
    task1, later = ft[0] - base[0], float(np.mean(ft[1:] - base[1:]))
    grown = np.array([s["new_units"] for s in records.one("cifar", width=p.cifar_wide_width)["metrics"]["steps"]])
    last = [max([t + 1 for t in range(len(grown)) if grown[t, layer] > 0], default=0) for layer in range(4)]
    return [
        {"claim": "Fig. 3a, split CIFAR: with m = 1 % the network runs out of capacity after task 4 of 6",
         "paper": "after task 4", "this book": f"m = {first[0]:g} %: " + (f"after task {full}" if full else "never"),
         "data and scale": scale, "status": "reproduced" if full == 4 else "partly" if full else "not reproduced",
         "reason": f"full after task {full}" if full else
         "never full: CIFAR-10's features cover its own class pairs (the stand-in for CIFAR-100)"},
        {"claim": "Fig. 3a: m = 4 % with fine-tuning keeps task 1 and lifts the later tasks",
         "paper": "task 1 as good or better; later tasks boosted",
         "this book": f"task 1 {task1:+.2f}, tasks 2-6 {later:+.2f} points (against m = {first[0]:g} %)",
         "data and scale": scale,
         "status": "reproduced" if task1 >= 0 and later > 0.5 else "partly" if task1 >= 0 or later > 0
         else "not reproduced",
         "reason": "reproduced if task 1 does not fall and tasks 2-6 gain over 0.5 points"},
        {"claim": "Fig. 3b, wider net: conv1 grows channels for tasks 1-2 only, deeper layers for longer",
         "paper": "last task with new channels: 2, 3, 5, 6 (conv1-conv4)",
         "this book": "last task with new channels: " + ", ".join(map(str, last)), "data and scale": scale,
         "status": "reproduced" if last == [2, 3, 5, len(grown)] else
         "partly" if max(last) > 1 and last == sorted(last) else "not reproduced",
         "reason": "no layer grows after task 1 here" if max(last) <= 1 else "growth stops in another pattern"},
    ]  # fmt: skip
