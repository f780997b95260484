"""Chapter 03's figures and tables, drawn from the records alone.

Every label and every scale line is read from the records' configs (never from the parameters the notebook
was run with), so a caption cannot describe other runs than the ones it shows. The parameters only say
which records belong where (the chapter's settled grid point, its margin). :mod:`.clnp_records` holds the
selection helpers and the scale lines, :mod:`.clnp_report` the claims.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import plots
from .. import verdicts as v
from .clnp_runs import Params
from .clnp_records import (_fmt, _rescaled, final_accuracy, full_after, narrow_by_margin, scale_cifar, scale_narrow,
                           scale_wide, single_task_averages, wide_runs)
from .runs import Records
from .describe import suptitle

__all__ = ["wide_headline", "table_wide_steps", "fig_wide", "grid_check_note", "table_grid_check", "table_narrow",
           "fig_narrow", "fig_cifar", "table_cifar", "table_capacity"]

CIFAR_LAYERS = ["conv1", "conv2", "conv3", "conv4", "fc"]
#: the narrow network's procedures: (units rescaled, per-layer alphas in the task-1 grid); the first is the chapter's
NARROW_VARIANTS = {"chapter's procedure": (True, False), "units not rescaled": (False, False),
                   "per-layer alpha grid": (True, True)}


# ----------------------------------------------------------------------------------------------- wide network
def wide_headline(records: Records, p: Params) -> str:
    """The wide network's average and the single-task baseline's, mean ± SD over repetitions, with the scale."""
    main, _ = wide_runs(records, p)
    avg = [final_accuracy(r) for r in main]
    n = len(main[0]["metrics"]["acc"])
    return (f"CLNP average test accuracy over {n} tasks: {_fmt(avg)} %   single-task training (each task alone, "
            f"averaged over the tasks): {_fmt(single_task_averages(records))} %\n(mean ± SD over repetitions; "
            f"{scale_wide(records, p)})")  # fmt: skip


def table_wide_steps(records: Records, p: Params) -> pd.DataFrame:
    """Per task of the first wide repetition: new and free units, theta, validation and final test accuracy."""
    main, _ = wide_runs(records, p)
    r = main[0]
    steps = r["metrics"]["steps"]
    return pd.DataFrame(
        {"new units (layer 1, 2)": [s["new_units"] for s in steps],
         "free after (layer 1, 2)": [s["free_units"] for s in steps],
         "theta": [round(s["rounds"][-1]["theta"], 4) for s in steps],
         "val. acc. pruned (%)": [round(100 * s["val_acc"], 2) for s in steps],
         "test acc. after all tasks (%)": [round(100 * a, 2) for a in r["metrics"]["acc"][-1]]},
        index=pd.Index(range(1, len(steps) + 1), name=f"task (repetition {r['config']['rep']})"),
    )  # fmt: skip


def fig_wide(records: Records, p: Params) -> plt.Figure:
    """The wide network's accuracy matrix and free neurons per layer after each task."""
    main, _ = wide_runs(records, p)
    n = len(main[0]["metrics"]["acc"])
    matrix = 100 * np.mean([[row + [np.nan] * (n - len(row)) for row in r["metrics"]["acc"]] for r in main], axis=0)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    plots.accuracy_heatmap(axes[0], matrix, [str(i + 1) for i in range(n)], vmin=90, vmax=100,
                           title="test accuracy (%) of each task after each task")  # fmt: skip
    for layer in range(len(main[0]["config"]["hidden"])):
        free = np.mean([[s["free_units"][layer] for s in r["metrics"]["steps"]] for r in main], 0)
        axes[1].plot(range(1, n + 1), free, marker="o", label=f"hidden layer {layer + 1}")
    axes[1].set(xlabel="after task", ylabel="free neurons", title="free capacity", xticks=range(1, n + 1), ylim=(0, None))
    axes[1].legend()
    over = "one run" if len(main) == 1 else f"mean over {len(main)} repetitions"
    suptitle(fig, f"Permuted MNIST, CLNP, wide single-head network ({over})", scale_wide(records, p))
    fig.tight_layout()
    return fig


def grid_check_note(records: Records, p: Params) -> str:
    """What the grid check's table rests on: the validation set's size and the noise of one accuracy on it."""
    _, check = wide_runs(records, p)
    if not check:
        return "no grid check in these records"
    c = check[0]["config"]
    n_val = round(60_000 * c["val_fraction"])
    per_rep = "; ".join(f"repetition {r['config']['rep']}: average over {len(r['metrics']['acc'])} tasks "
                        f"{final_accuracy(r):.2f} %, a layer full after task {full_after(r) or 'never'}"
                        for r in sorted(check, key=lambda x: x["config"]["rep"]))  # fmt: skip
    return (f"section 3.2's selection on task 1 at m = {c['margin']:g} %{_rescaled(c)}; validation set of {n_val:,} "
            f"images (binomial SE of one accuracy near 98 %: {v.binomial_se(98, n_val):.2f} points)\n{per_rep}")


def table_grid_check(records: Records, p: Params) -> pd.DataFrame | None:
    """Our check of the task-1 search: every grid point's unpruned validation accuracy, per repetition."""
    _, check = wide_runs(records, p)
    if not check:
        return None
    frames = []
    for r in sorted(check, key=lambda x: x["config"]["rep"]):
        first = r["metrics"]["steps"][0]
        frames.append(pd.DataFrame(first["grid"]).assign(
            repetition=r["config"]["rep"],
            alphas=lambda d: d.alphas.map(lambda a: ", ".join(f"{x:g}" for x in a)),  # per layer, not 0.0
            val_acc=lambda d: (100 * d.val_acc).round(2), kept=lambda d: d.index == first["chosen"],
            average_after_10=round(final_accuracy(r), 2) if first["chosen"] is not None else None,
        ))  # fmt: skip
    table = pd.concat(frames)
    if "active" in table:  # only the points within m of the best are sparsified; the others have no count
        table["active"] = table["active"].map(lambda v: f"{v:,.0f}" if pd.notna(v) and np.isfinite(v) else "–")
    active = "active units (points within m only)"
    table = table.rename(columns={"val_acc": "val. acc. task 1 (%)", "active": active, "pruned_acc": "pruned val. acc."})
    cols = [c for c in ("repetition", "lr", "alphas", "val. acc. task 1 (%)", active, "kept") if c in table]
    return table[cols].set_index(["repetition", "lr", "alphas"])


# --------------------------------------------------------------------------------------------- narrow network
def _alphas(alphas: list[float]) -> str:
    """A task-1 grid point's L1 strengths: one where every layer has it (the uniform grid), else each layer's."""
    return f"{alphas[0]:g}" if len(set(alphas)) == 1 else " / ".join(f"{a:g}" for a in alphas)


def table_narrow(records: Records, p: Params) -> pd.DataFrame:
    """One row per narrow run: margin, rescaling, repetition, average, when a layer filled, task 1's grid pick."""
    rows = []
    for variant, (rescaled, layered) in NARROW_VARIANTS.items():
        for m, runs in narrow_by_margin(records, rescaled, layered).items():
            for r in sorted(runs, key=lambda x: x["config"]["rep"]):
                first = r["metrics"]["steps"][0]
                kept = first["grid"][first["chosen"]]
                final = 100 * np.array(r["metrics"]["acc"][-1])
                full = full_after(r)
                rows.append({
                    "margin m (%)": m, "variant": variant, "repetition": r["config"]["rep"],
                    "average accuracy (%)": round(final_accuracy(r), 2),
                    f"tasks {len(final) // 2 + 1}-{len(final)} (%)": round(final[len(final) // 2:].mean(), 2),
                    "full after task": full or "never",
                    "task-1 grid kept": f"lr {kept['lr']:g}, alpha {_alphas(kept['alphas'])}",
                    "new units per task (layer 1 / layer 2)": " ".join(f"{a}/{b}" for a, b in
                                                                       (s["new_units"] for s in r["metrics"]["steps"])),
                })  # fmt: skip
    return pd.DataFrame(rows).set_index(["margin m (%)", "variant", "repetition"])


def fig_narrow(records: Records, p: Params) -> plt.Figure:
    """Three panels: free units per layer at the paper's margin (mean ± SD over repetitions), the fuller layer's
    free units per margin (where the network is full), and the final accuracy per task per margin."""
    margins = narrow_by_margin(records, p.normalise_units)
    unrescaled = narrow_by_margin(records, False).get(p.narrow_margin) if p.normalise_units else None
    paper = margins[p.narrow_margin]
    n = len(paper[0]["metrics"]["acc"])
    tasks = range(1, n + 1)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for layer in range(len(paper[0]["config"]["hidden"])):
        free = np.array([[s["free_units"][layer] for s in r["metrics"]["steps"]] for r in paper], dtype=float)
        mean = free.mean(0)
        if len(paper) > 1:  # sample SD (ddof = 1), cut at 0: no layer has fewer than 0 free units
            sd = free.std(0, ddof=1)
            axes[0].errorbar(tasks, mean, yerr=[np.minimum(sd, mean), sd], marker="os"[layer % 2], capsize=3,
                             label=f"hidden layer {layer + 1}")  # fmt: skip
        else:
            axes[0].plot(tasks, mean, marker="os"[layer % 2], label=f"hidden layer {layer + 1}")
    spread = f"mean ± SD over {len(paper)} repetitions" if len(paper) > 1 else "one repetition"
    axes[0].set(xlabel="after task", ylabel="free neurons", xticks=tasks, ylim=(0, None),
                title=f"free units, m = {p.narrow_margin:g} % ({spread})")  # fmt: skip
    axes[0].legend(fontsize=8)
    for k, (m, runs) in enumerate(margins.items()):
        fuller = np.mean([[min(s["free_units"]) for s in r["metrics"]["steps"]] for r in runs], 0)
        axes[1].plot(tasks, fuller, marker="o", color=plots.PALETTE[k], label=f"m = {m:g} % ({len(runs)} run(s))")
        final = 100 * np.mean([r["metrics"]["acc"][-1] for r in runs], 0)
        axes[2].plot(tasks, final, marker="o", color=plots.PALETTE[k], label=f"m = {m:g} %")
    layered = narrow_by_margin(records, p.normalise_units, layer_alphas=True).get(p.narrow_margin)
    for runs, label, style in ((unrescaled, "units not rescaled", ":"), (layered, "per-layer alpha grid", "--")):
        if runs:
            final = 100 * np.mean([r["metrics"]["acc"][-1] for r in runs], 0)
            axes[2].plot(tasks, final, marker="x", ls=style, color="grey" if style == ":" else "black",
                         label=f"m = {p.narrow_margin:g} %, {label} ({len(runs)} run(s))")  # fmt: skip
    axes[1].set(xlabel="after task", ylabel="free units in the fuller layer", xticks=tasks, ylim=(0, None),
                title="when the network is full, by margin")  # fmt: skip
    axes[1].legend(fontsize=8)
    axes[2].set(xlabel="task", ylabel="test accuracy after all tasks (%)", xticks=tasks,
                title="final accuracy per task (mean over runs)")  # fmt: skip
    axes[2].legend(fontsize=8)
    suptitle(fig, "Permuted MNIST, CLNP, narrow multi-head network", scale_narrow(records, p))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ split CIFAR
def _cifar_runs(records: Records, p: Params) -> dict[tuple[float, bool], dict]:
    return {(m, f): records.one("cifar", margin=m, finetune=f, width=1.0)
            for m, f in zip(p.cifar_margins, p.cifar_finetune)}  # fmt: skip


def _task_names(n: int) -> list[str]:
    return ["CIFAR-10"] + [str(i + 2) for i in range(n - 1)]


def fig_cifar(records: Records, p: Params) -> plt.Figure:
    """Fig. 3a (accuracy per task after all tasks, per margin; a cross where a layer had run out) and Fig. 3b (new
    channels per layer and task of the wider network)."""
    runs = _cifar_runs(records, p)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    n = len(next(iter(runs.values()))["metrics"]["acc"])
    xs = np.arange(1, n + 1)
    any_full = False
    for k, ((m, f), rec) in enumerate(runs.items()):
        final = 100 * np.array(rec["metrics"]["acc"][-1])
        offset = (k - (len(runs) - 1) / 2) * 0.08  # equal values stay visible
        axes[0].plot(xs + offset, final, marker="osD^"[k % 4], ls="-:"[k % 2], color=plots.PALETTE[k],
                     label=f"m = {m:g} %" + (" + fine-tuning" if f else ""))  # fmt: skip
        full = full_after(rec)
        if full is not None and full < n:
            any_full = True
            axes[0].plot(xs[full:] + offset, final[full:], "x", ms=10, color="red")
    axes[0].set(xticks=xs, xticklabels=_task_names(n), xlabel="task", ylabel="test accuracy after all tasks (%)",
                title="Fig. 3a: accuracy per task")  # fmt: skip
    axes[0].legend(fontsize=8, title="red x: a layer was full" if any_full else "no task trained after a layer ran out",
                   title_fontsize=8)  # fmt: skip
    wider = records.one("cifar", width=p.cifar_wide_width)
    grown = np.array([s["new_units"] for s in wider["metrics"]["steps"]])  # tasks x layers
    for layer in range(grown.shape[1]):  # distinct markers and small offsets: equal counts do not hide each other
        offset = (layer - (grown.shape[1] - 1) / 2) * 0.06
        axes[1].plot(np.arange(1, len(grown) + 1) + offset, grown[:, layer], marker="osD^v"[layer % 5],
                     ls=["-", "--", ":", "-.", "-"][layer % 5], color=plots.PALETTE[layer],
                     label=CIFAR_LAYERS[layer] if layer < len(CIFAR_LAYERS) else f"layer {layer + 1}")  # fmt: skip
    axes[1].set_yscale("symlog", linthresh=1)  # channels (tens) and dense units (hundreds) on one axis; 0 stays 0
    if grown.max() > 0:
        axes[1].set_ylim(bottom=0)
    axes[1].set(xticks=range(1, len(grown) + 1), xticklabels=_task_names(len(grown)), xlabel="task",
                ylabel="new units grown (symlog)",
                title=f"Fig. 3b: new units per layer, width x{wider['config']['width']:g}")  # fmt: skip
    axes[1].legend(fontsize=8)
    suptitle(fig, "Split CIFAR with CLNP", scale_cifar(records, p))
    fig.tight_layout()
    return fig


def table_cifar(records: Records, p: Params) -> pd.DataFrame:
    """Test accuracy (%) of each task after all tasks, one column per margin."""
    runs = _cifar_runs(records, p)
    n = len(next(iter(runs.values()))["metrics"]["acc"])
    return pd.DataFrame({f"m = {m:g} %" + (" + ft" if f else ""): [round(100 * a, 2) for a in rec["metrics"]["acc"][-1]]
                         for (m, f), rec in runs.items()}, index=pd.Index(_task_names(n), name="task"))  # fmt: skip


def table_capacity(records: Records, p: Params) -> pd.DataFrame:
    """When a hidden layer first had no free unit left, for every run of the chapter."""
    main, check = wide_runs(records, p)
    rows = [("wide", r) for r in main] + [("wide, grid check", r) for r in check]
    for variant, flags in NARROW_VARIANTS.items():
        rows += [(f"narrow, m = {m:g} %, {variant}", r) for m, runs in narrow_by_margin(records, *flags).items()
                 for r in runs]  # fmt: skip
    rows += [(f"cifar, m = {r['config']['margin']:g} %, width x{r['config']['width']:g}"
              + (" + ft" if r["config"]["finetune"] else ""), r) for r in records.where("cifar")]  # fmt: skip
    return pd.DataFrame([{"run": name, "repetition": r["config"].get("rep", 0),
                          "full after task": full_after(r) or "never",
                          "free units at the end": r["metrics"]["free_units"]} for name, r in rows]).set_index("run")
