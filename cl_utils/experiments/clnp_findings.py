"""Chapter 03's reading, generated from the records: one markdown bullet per experiment, and the paired
comparisons of our two additions (the unit rescaling, per-layer alphas in the narrow task-1 grid)."""
from __future__ import annotations

import numpy as np

from .. import verdicts as v
from .clnp_runs import Params
from .clnp_records import MNIST_TEST, final_accuracy, full_after, narrow_by_margin, single_task_averages, wide_runs
from .clnp_report import PAPER_SINGLE, PAPER_WIDE
from .runs import Records

__all__ = ["findings", "rescaling_effect", "layer_alpha_effect"]

#: a paired difference of ours, read by the shared direction rule (:func:`cl_utils.verdicts.direction_status`)
READING = {"reproduced": "a gain beyond 2 standard errors", "inconclusive": "within 2 standard errors of no change",
           "not reproduced": "a loss beyond 2 standard errors"}


def _paired_gain(better: list[dict], base: list[dict], title: str) -> str | None:
    """``better`` minus ``base`` on the average over all tasks and on the later half, paired by repetition, judged
    against the spread of the paired differences (one pair: the test sets' binomial errors)."""
    pairs = [(a, b) for a in better for b in base if a["config"]["rep"] == b["config"]["rep"]]
    if not pairs:
        return None
    diffs = [final_accuracy(a) - final_accuracy(b) for a, b in pairs]
    half = len(pairs[0][0]["metrics"]["acc"]) // 2  # the later half of the tasks, where capacity runs short
    later = [100 * (np.mean(a["metrics"]["acc"][-1][half:]) - np.mean(b["metrics"]["acc"][-1][half:])) for a, b in pairs]
    se = v.seed_se(diffs) if len(diffs) > 1 else v.combined_se(
        *(v.binomial_se(final_accuracy(x), MNIST_TEST * len(x["metrics"]["acc"])) for x in pairs[0]))
    status, _ = v.direction_status(float(np.mean(diffs)), se, what="difference")
    return (f"**{title}**, paired by repetition ({', '.join(str(a['config']['rep']) for a, _ in pairs)}): "
            f"{', '.join(f'{d:+.2f}' for d in diffs)} points on the average over all tasks, "
            f"{', '.join(f'{d:+.2f}' for d in later)} on tasks {half + 1} and later; mean {np.mean(diffs):+.2f} ± "
            f"{se:.2f} (standard error{' over repetitions' if len(diffs) > 1 else ' of the test sets, one repetition'}):"
            f" {READING[status]}.")


def rescaling_effect(records: Records, p: Params) -> str | None:
    """The narrow network at the paper's margin with the unit rescaling minus without it (ours, not the paper's)."""
    return _paired_gain(narrow_by_margin(records, True).get(p.narrow_margin, []),
                        narrow_by_margin(records, False).get(p.narrow_margin, []),
                        f"Unit rescaling, narrow network at m = {p.narrow_margin:g} %, with it minus without it")


def layer_alpha_effect(records: Records, p: Params) -> str | None:
    """The narrow network at the paper's margin with per-layer alphas in the task-1 grid minus the uniform grid."""
    return _paired_gain(narrow_by_margin(records, p.normalise_units, layer_alphas=True).get(p.narrow_margin, []),
                        narrow_by_margin(records, p.normalise_units).get(p.narrow_margin, []),
                        f"Per-layer alphas in the task-1 grid, narrow network at m = {p.narrow_margin:g} %, minus the "
                        f"uniform grid")


def _range(values) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def _span(values) -> str:
    values = [int(x) for x in values]
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _wide_repetition(r: dict) -> str:
    """One wide repetition: what task 1 keeps, what the later tasks grow, whether a layer fills, its average."""
    steps, final = r["metrics"]["steps"], 100 * np.array(r["metrics"]["acc"][-1])
    first, full = steps[0], full_after(r)
    return (f"repetition {r['config']['rep']}: task 1 keeps {first['new_units'][0]:,} first-layer and "
            f"{first['new_units'][1]:,} second-layer neurons (θ = {first['rounds'][-1]['theta']:.3f}; validation "
            f"accuracy {100 * first['val_acc']:.2f} % pruned, {100 * first['unpruned_val_acc']:.2f} % unpruned), tasks "
            f"2-{len(steps)} grow {_span(s['new_units'][0] for s in steps[1:])} and "
            f"{_span(s['new_units'][1] for s in steps[1:])} each, "
            + (f"a layer is full after task {full}" if full else "no layer runs out")
            + f"; average {final_accuracy(r):.2f} %, lowest task {final.min():.2f} %")


def findings(records: Records, p: Params) -> list[str]:
    """The chapter's reading, one markdown bullet per experiment, every number taken from the records."""
    out: list[str] = []
    wide, check = wide_runs(records, p)
    single = single_task_averages(records)
    if wide:
        avg = [final_accuracy(x) for x in wide]
        tasks = len(wide[0]["metrics"]["steps"])
        out.append(
            f"**Wide single-head network** ({len(wide)} repetition(s) at the paper's point, of "
            f"{p.wide_hidden[0]:,} and {p.wide_hidden[1]:,} neurons per layer): "
            + "; ".join(_wide_repetition(r) for r in sorted(wide, key=lambda x: x["config"]["rep"]))
            + f". The average over {tasks} tasks is {np.mean(avg):.2f} % (paper {PAPER_WIDE}). Single-task training "
            f"of every task reaches {np.mean(single):.2f} % (over {len(single)} repetitions; paper {PAPER_SINGLE}): a "
            f"gap of {np.mean(single) - np.mean(avg):.2f} points where the paper has {PAPER_SINGLE - PAPER_WIDE:.2f}.")
    for r in sorted(check, key=lambda x: x["config"]["rep"]):
        first = r["metrics"]["steps"][0]
        grid, chosen = first["grid"], first["chosen"]
        full = full_after(r)
        final = 100 * np.array(r["metrics"]["acc"][-1])
        best = max(g["val_acc"] for g in grid)
        eligible = sum(g["val_acc"] >= best - p.wide_margin / 100 for g in grid)
        out.append(
            f"**Grid check, repetition {r['config']['rep']}**: the best unpruned validation accuracy is "
            f"{100 * best:.2f} %, and {eligible} of {len(grid)} grid points lie within m = {p.wide_margin:g} "
            f"points of it, so §3.2's rule keeps lr {grid[chosen]['lr']:g} with α "
            f"x{grid[chosen]['alphas'][0] / p.wide_alphas[0]:g}. Task 1 then keeps {first['new_units'][0]:,} and "
            f"{first['new_units'][1]:,} neurons; "
            + (f"a layer is full after task {full}, and the {len(final) - full} tasks trained after that end at "
               f"{_range(final[full:])} % (chance: 10 %), "
               if full else "no layer runs out, ")
            + f"for an average of {final_accuracy(r):.2f} %.")
    for m, runs in narrow_by_margin(records, p.normalise_units).items():
        parts = []
        for r in sorted(runs, key=lambda x: x["config"]["rep"]):
            final, full = 100 * np.array(r["metrics"]["acc"][-1]), full_after(r)
            later = f"task {len(final)}" if full and full + 1 == len(final) else f"tasks {(full or 0) + 1}-{len(final)}"
            split = (f" (tasks 1-{full} average {final[:full].mean():.2f} %, {later} "
                     f"{final[full:].mean():.2f} %)" if full and full < len(final) else "")  # fmt: skip
            parts.append(f"repetition {r['config']['rep']}: {final_accuracy(r):.2f} %, task 1 keeps "
                         f"{r['metrics']['steps'][0]['new_units']} units per layer, "
                         + (f"full after task {full}{split}" if full else "never full"))
        averages = [final_accuracy(x) for x in runs]
        se = f", standard error {v.seed_se(averages):.2f}" if len(runs) > 1 else ""  # over the repetitions
        out.append(f"**Narrow network, m = {m:g} %**: average {np.mean(averages):.2f} % over {len(runs)} "
                   f"repetition(s){se}; " + "; ".join(parts) + ".")
    for per_layer in narrow_by_margin(records, p.normalise_units, layer_alphas=True).get(p.narrow_margin, []):
        first = per_layer["metrics"]["steps"][0]
        kept = first["grid"][first["chosen"]]
        out.append(f"**Narrow network, m = {p.narrow_margin:g} %, task-1 grid with per-layer alphas**, repetition "
                   f"{per_layer['config']['rep']}: the grid keeps lr {kept['lr']:g}, alpha "
                   f"{', '.join(f'{a:g}' for a in kept['alphas'])}; task 1 keeps {first['new_units']} units per layer; "
                   f"full after task {full_after(per_layer) or 'never'}; average {final_accuracy(per_layer):.2f} %.")
    out += [x for x in (rescaling_effect(records, p), layer_alpha_effect(records, p)) if x]
    cifar = sorted(records.where("cifar", width=1.0), key=lambda x: (x["config"]["finetune"], x["config"]["margin"]))
    if cifar:
        parts = []
        for x in cifar:
            first = x["metrics"]["steps"][0]
            label = f"m = {x['config']['margin']:g} %" + (" + fine-tuning" if x["config"]["finetune"] else "")
            parts.append(f"{label}: average {final_accuracy(x):.2f} %, task 1 {100 * x['metrics']['acc'][-1][0]:.2f} % "
                         f"(validation {100 * first['rounds'][0]['val_acc']:.2f} % after pruning, "
                         f"{100 * first['val_acc']:.2f} % at the end), task 1 keeps {first['new_units']} units, "
                         + (f"full after task {full_after(x)}" if full_after(x) else "never full"))
        out.append("**Split CIFAR (stand-in)**: " + "; ".join(parts) + ".")
    wider = records.where("cifar", width=p.cifar_wide_width)
    if wider:
        steps = wider[0]["metrics"]["steps"]
        out.append(f"**Fig. 3b (stand-in), width x{p.cifar_wide_width:g}**: new units per layer and task: "
                   + "; ".join(f"task {i + 1}: {s['new_units']}" for i, s in enumerate(steps))
                   + f"; test accuracy after all tasks {', '.join(f'{100 * a:.1f}' for a in wider[0]['metrics']['acc'][-1])} %.")
    return out
