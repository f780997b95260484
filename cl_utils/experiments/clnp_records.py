"""Chapter 03's records: which runs belong to which experiment, what they measured, and how to describe them.

The selection helpers (the wide runs at the chapter's settled point, the narrow runs of each procedure) and the
scale lines every figure, table and claim row carries. The scale lines read the records' configs, never the
parameters the notebook was run with, so a caption cannot describe other runs than the ones it shows; the
parameters only say which records belong where.
"""
from __future__ import annotations

import numpy as np

from ..metrics import format_mean_spread
from .clnp_runs import Params, repetition_seeds
from .runs import Records
from .describe import synthetic
from .stacking import any_stacked, member_views

__all__ = ["MNIST_TEST", "CIFAR10_TEST", "PAIR_TEST", "BLOCK_TEST", "final_accuracy", "full_after", "largest_change",
           "wide_runs", "repetition_views", "single_task_records", "single_task_averages", "narrow_by_margin", "saturating_margin", "lasts_until", "scales",
           "scale_wide", "scale_narrow", "scale_cifar"]

#: test images per task: permuted MNIST (each task is MNIST's test set), CIFAR-10, a CIFAR-10 class pair, a
#: block of 10 CIFAR-100 classes
MNIST_TEST, CIFAR10_TEST, PAIR_TEST, BLOCK_TEST = 10_000, 10_000, 2_000, 1_000


def _fmt(values: list[float]) -> str:
    """Mean ± standard deviation, as the paper reports its repetitions."""
    return format_mean_spread(values, spread="std")


def full_after(rec: dict) -> int | None:
    """The task after which some hidden layer had no free unit left (None: never)."""
    steps = rec["metrics"]["steps"]
    return next((i + 1 for i, s in enumerate(steps) if min(s["free_units"]) == 0), None)


def largest_change(rec: dict) -> float:
    """Largest change, up or down (points), of any task's accuracy after its own training."""
    acc = rec["metrics"]["acc"]
    return max([100 * abs(row[j] - acc[j][j]) for j in range(len(acc)) for row in acc[j:]], default=0.0)


def final_accuracy(rec: dict) -> float:
    """Mean test accuracy (%) over all tasks after the last one."""
    return 100 * float(np.mean(rec["metrics"]["acc"][-1]))


def repetition_views(records: list[dict]) -> list[dict]:
    """The wide or narrow records as one per repetition: a stacked run's record (``reps``, several repetitions as
    one network) becomes one view per repetition (:func:`.stacking.member_views`: its config with that ``rep`` and
    ``stacked_with``, its metrics that repetition's), with the repetition's own seed and data seed (the first's plus
    the offset, :func:`.clnp_runs.repetition_seeds`). Records of one repetition pass as they are."""
    views = member_views(records, members="reps", member="rep", results="per_rep")
    for v in views:
        if "stacked_with" in v["config"]:
            c = v["config"]
            v["config"] = c | repetition_seeds(c | {"rep": c["stacked_with"][0]}, c["rep"])
    return views


def wide_runs(records: Records, p: Params) -> tuple[list[dict], list[dict]]:
    """The wide runs at the chapter's grid (the paper's settled point by default), and the grid-check runs: one
    per repetition (:func:`repetition_views`)."""
    views = repetition_views(records.where("wide"))
    at = lambda lrs, scales: [r for r in views if r["config"]["grid_lrs"] == lrs  # noqa: E731
                              and r["config"]["grid_alpha_scales"] == scales]
    main, check = at(p.grid_lrs, p.grid_alpha_scales), at(p.check_grid_lrs, p.check_grid_alpha_scales)
    return main, [r for r in check if r not in main]


def single_task_records(records: Records) -> list[dict]:
    """The single-task records as one per task: a stacked run's record (``tasks``, every task of a repetition as one
    network) becomes one view per task, its config with that ``task``, its ``test_acc`` that task's; the views keep
    the stack's ``key``. Records of one task pass as they are."""
    views = []
    for r in records.where("single_task"):
        tasks = r["config"].get("tasks")
        if not tasks:
            views.append(r)
            continue
        config = {k: v for k, v in r["config"].items() if k != "tasks"}
        views += [{**r, "config": config | {"task": t}, "metrics": {"test_acc": a}}
                  for t, a in zip(tasks, r["metrics"]["test_acc"])]  # fmt: skip
    return views


def single_task_averages(records: Records) -> list[float]:
    """Per repetition, the mean test accuracy (%) of the single-task networks over all its tasks."""
    by_rep: dict[int, list[float]] = {}
    for r in single_task_records(records):
        by_rep.setdefault(r["config"]["rep"], []).append(100 * r["metrics"]["test_acc"])
    return [float(np.mean(a)) for _, a in sorted(by_rep.items())]


def narrow_by_margin(records: Records, rescaled: bool = True, layer_alphas: bool = False) -> dict[float, list[dict]]:
    """The narrow runs grouped by margin (accuracy points), margins in increasing order: with the unit rescaling
    after each task (:meth:`cl_utils.clnp.CLNP.normalise_units`, the chapter's procedure) or without it, and with
    the uniform task-1 grid (the chapter's procedure) or the one that adds per-layer alphas; one per repetition
    (:func:`repetition_views`)."""
    out: dict[float, list[dict]] = {}
    for r in repetition_views(records.where("narrow")):
        c = r["config"]
        if bool(c.get("normalise_units")) == rescaled and bool(c.get("layer_alphas")) == layer_alphas:
            out.setdefault(r["config"]["margin"], []).append(r)
    return dict(sorted(out.items()))


def saturating_margin(by_margin: dict[float, list[dict]], num_tasks: int) -> float:
    """The paper's choice of m: the smallest scanned margin whose network is not full before the last task
    (in every repetition). If every one fills up earlier, the nearest to it: the margin whose network lasts
    longest (its earliest repetition to fill, the latest; the smaller margin on a tie). How full a network
    gets need not grow monotonically with m over single repetitions, so the largest margin is not that."""
    lasts = {m: lasts_until(runs, num_tasks) for m, runs in by_margin.items()}
    lasting = [m for m, task in lasts.items() if task >= num_tasks]
    return min(lasting) if lasting else min(lasts, key=lambda m: (-lasts[m], m))


def lasts_until(runs: list[dict], num_tasks: int) -> int:
    """The task after which the first of ``runs`` to fill up is full (``num_tasks`` when none fills before the end):
    a margin's network lasts to the last task when this is ``num_tasks``."""
    return min(full_after(r) or num_tasks for r in runs)


def _mnist_label(runs: list[dict]) -> str:
    return "SYNTHETIC stand-in (tests only)" if synthetic(runs) else "real MNIST"


def _mlp(c: dict) -> str:
    return "MLP 784-" + "-".join(map(str, c["hidden"]))


def _rescaled(c: dict) -> str:
    return "; units rescaled after each task" if c.get("normalise_units") else "; units not rescaled"


def _repetitions(n: int) -> str:
    return "one repetition" if n == 1 else f"{n} repetitions"


def _stacked(views: list[dict]) -> str:
    """What a scale line says of runs whose repetitions trained as one stacked network (nothing otherwise)."""
    return "; repetitions stacked as one network" if any_stacked(views) else ""


def scale_wide(records: Records, p: Params) -> str:
    """Data and scale of the wide runs and of the single-task baseline, read from their records."""
    main, _ = wide_runs(records, p)
    if not main:
        return "no wide run"
    c = main[0]["config"]
    single = single_task_averages(records)
    tasks = len(single_task_records(records)) // max(len(single), 1)
    grid = f"lr {', '.join(f'{x:g}' for x in c['grid_lrs'])}, alpha x{', '.join(f'{x:g}' for x in c['grid_alpha_scales'])}"
    return (f"{_mnist_label(main)}; {_mlp(c)}, single head; {c['epochs_per_task']} epochs/task, batch "
            f"{c['batch_size']}; m = {c['margin']:g} %{_rescaled(c)}; {_repetitions(len(main))} at {grid}"
            f"{_stacked(main)}; single-task baseline: {_repetitions(len(single))} x {tasks} tasks")  # fmt: skip


def scale_narrow(records: Records, p: Params) -> str:
    """Data and scale of the narrow runs, read from their records."""
    margins = narrow_by_margin(records, p.normalise_units)
    if not margins:
        return "no narrow run"
    c = next(iter(margins.values()))[0]["config"]
    per = ", ".join(f"m = {m:g} %: {len(runs)}" for m, runs in margins.items())
    return (f"{_mnist_label([r for runs in margins.values() for r in runs])}; {_mlp(c)}, multi-head; "
            f"{c['epochs_per_task']} epochs/task, batch {c['batch_size']}; {c['finetune_iterations']} fine-tuning "
            f"round(s) of {c['finetune_epochs']} epochs" + (" ending the task" if c.get("end_on_finetune") else "")
            + (" with L1" if c.get("finetune_l1", True) else " without L1")
            + f"; task-1 grid {len(c['grid_lrs'])}x{len(c['grid_alpha_scales'])}; "
            + ("one theta per layer" if c["per_layer_theta"] else "one theta") + _rescaled(c)
            + f"; repetitions per margin: {per}" + _stacked([r for runs in margins.values() for r in runs]))  # fmt: skip


def scale_cifar(records: Records, p: Params) -> str:
    """Data and scale of the split-CIFAR runs, read from their records."""
    runs = records.where("cifar")
    if not runs:
        return "no split-CIFAR run"
    c = runs[0]["config"]
    label = ("SYNTHETIC stand-in (tests only)" if synthetic(runs) else
             "STAND-IN for CIFAR-100: CIFAR-10 then its class pairs" if c["stream"] == "cifar10_pairs" else
             "CIFAR-10 + CIFAR-100")  # fmt: skip
    per_class = c["train_per_class"] or "all"
    return (f"{label}; Zenke et al. conv net, multi-head; {c['epochs']} epochs/task; {per_class} training "
            f"images/class, {c['val_fraction']:.0%} of them held out to choose theta{_rescaled(c)}; one run per "
            f"setting")  # fmt: skip


def scales(records: Records, p: Params) -> dict[str, str]:
    """The three scale lines the claims table needs ('wide', 'narrow', 'cifar')."""
    return {"wide": scale_wide(records, p), "narrow": scale_narrow(records, p), "cifar": scale_cifar(records, p)}
