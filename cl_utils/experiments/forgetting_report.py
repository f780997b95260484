"""Chapter 00's figures, tables and claims, drawn from the records alone.

The claims are the literature's claims about forgetting, judged by the shared rules of :mod:`cl_utils.verdicts`
(direction claims, differences paired by seed, against their standard error). The prologue reproduces no single
paper, so it states only claims the literature makes, as directions (forgetting happens; one head per task forgets
less; joint training is the upper bound), each with its source; the levels it measures (the accuracy after
single-head fine-tuning, and after joint training) are reported beside them, not judged: no source gives numbers
for this network and training.

Every label, caption and scale line of the figures and tables is read from the records (their configs and data
sources), never from the parameters the notebook was run with, so a caption cannot describe other runs than the
ones it shows.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import plots
from ..claims import run_keys
from ..data import DATASETS
from ..metrics import average_accuracy, backward_transfer, format_mean_spread
from ..verdicts import compound_status, direction_status, paired_direction, seed_se
from .runs import Records
from .describe import distinct, synthetic
from .forgetting_runs import METHODS, SCENARIOS, Params

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
    return _by_seed(records.where("train", scenario=scenario, method=method))


def _by_seed(runs: list[dict]) -> dict[int, dict[str, float]]:
    """:func:`_final` of each of ``runs``, by seed."""
    return {r["config"]["seed"]: _final(r) for r in runs}


def _paired(a: dict, b: dict, key: str = "avg") -> tuple[list[float], list[float]]:
    seeds = sorted(set(a) & set(b))
    return [a[s][key] for s in seeds], [b[s][key] for s in seeds]


def _mean(d: dict, key: str) -> float:
    return float(np.mean([v[key] for v in d.values()]))


def claims(records: Records, p: Params, scale: str) -> list[dict]:
    """The rows of the "claims vs. this book" table (see the module docstring); each row's ``records`` are the
    runs its numbers are computed from."""
    sh_ft_runs, mh_ft_runs = _runs(records, "single-head", "fine-tune"), _runs(records, "multi-head", "fine-tune")
    sh_joint_runs, mh_joint_runs = _runs(records, "single-head", "joint"), _runs(records, "multi-head", "joint")
    sh_ft, mh_ft, sh_joint, mh_joint = map(_by_seed, (sh_ft_runs, mh_ft_runs, sh_joint_runs, mh_joint_runs))
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
         "data and scale": scale, "status": forgets[0], "reason": f"{forgets[1]} ({n} seeds)",
         "records": run_keys(sh_ft_runs)},
        {"claim": "One head per task forgets far less than one shared head (task- against class-incremental)",
         "paper": "multi-head BWT above single-head BWT (van de Ven & Tolias 2019)",
         "this book": f"BWT {_mean(mh_ft, 'bwt'):+.2f} against {np.mean(bwt):+.2f} points",
         "data and scale": scale, "status": less[0], "reason": f"{less[1]} (paired by seed, {n} seeds)",
         "records": run_keys(mh_ft_runs, sh_ft_runs)},
        {"claim": "Multi-head fine-tuning still forgets: above chance, below joint training",
         "paper": f"between {chance:.0f} % (chance) and joint training (van de Ven & Tolias 2019: task-incremental "
                  "fine-tuning below the offline upper bound)",
         "this book": f"{_mean(mh_ft, 'avg'):.2f} % against joint {_mean(mh_joint, 'avg'):.2f} %",
         "data and scale": scale, "status": between[0],
         "reason": f"{between[1]}: {above_chance[1]}; {below_joint[1]} (joint paired with fine-tuning by seed; "
                   f"{n} seeds)",
         "records": run_keys(mh_ft_runs, mh_joint_runs)},
        {"claim": "Joint training on all tasks at once is the upper bound: the network can hold every task, so "
                  "the loss comes from the order of training",
         "paper": "joint above fine-tuning (the usual upper bound, e.g. van de Ven & Tolias 2019)",
         "this book": f"single-head joint {_mean(sh_joint, 'avg'):.2f} % against fine-tuning "
                      f"{_mean(sh_ft, 'avg'):.2f} %",
         "data and scale": scale, "status": bound[0], "reason": f"{bound[1]} (paired by seed, {n} seeds)",
         "records": run_keys(sh_joint_runs, sh_ft_runs)},
    ]  # fmt: skip


# ------------------------------------------------------------------------------------- figures and tables
def _runs(records: Records, scenario: str, method: str | None = None) -> list[dict]:
    match = {"scenario": scenario} if method is None else {"scenario": scenario, "method": method}
    return records.where("train", **match)




def _only(runs: list[dict], key: str):
    """A config value every run shares (the task split a figure's axes are labelled with)."""
    values = {repr(r["config"][key]) for r in runs}
    if len(values) != 1:
        raise ValueError(f"the records disagree on {key!r}: {sorted(values)}; draw them apart")
    return runs[0]["config"][key]


def _task_names(runs: list[dict]) -> list[str]:
    return ["/".join(map(str, g)) for g in _only(runs, "class_groups")]


def _seeds(runs: list[dict]) -> str:
    n = len({r["config"]["seed"] for r in runs})
    return "one seed" if n == 1 else f"{n} seeds"


def _stream(runs: list[dict]) -> str:
    return "Split " + distinct(DATASETS[r["config"]["dataset"]].torchvision_name for r in runs)


def _chance(runs: list[dict], scenario: str) -> float:
    """Chance accuracy (%): one in a task's own classes (multi-head), one in all classes (single-head)."""
    if scenario == "multi-head":
        return 100 / len(_only(runs, "class_groups")[0])
    return 100 / DATASETS[_only(runs, "dataset")].num_classes


def scale(records: Records, p: Params) -> str:
    """Data and scale of the chapter's runs, read from their records."""
    runs = records.where("train")
    if not runs:
        return "no run"
    cs = [r["config"] for r in runs]
    inputs = [DATASETS[c["dataset"]].height * DATASETS[c["dataset"]].width * DATASETS[c["dataset"]].channels
              for c in cs]  # fmt: skip
    mlp = distinct("-".join(map(str, [n, *c["hidden_sizes"]])) for n, c in zip(inputs, cs))
    data = "SYNTHETIC stand-in, tests only" if synthetic(runs) else "real data"
    return (f"{distinct(c['dataset'] for c in cs)} ({data}); MLP {mlp}; {distinct(c['num_epochs'] for c in cs)} "
            f"epoch(s) per task; batch {distinct(c['batch_size'] for c in cs)}; Adam lr "
            f"{distinct(format(c['lr'], 'g') for c in cs)}; {len({c['seed'] for c in cs})} seed(s)")  # fmt: skip


def _annotate_sd(ax: plt.Axes, sd: np.ndarray) -> None:
    """Put each cell's SD over seeds under the mean that :func:`plots.accuracy_heatmap` wrote in it."""
    for text in ax.texts:
        x, y = text.get_position()
        text.set_text(f"{text.get_text()}\n±{sd[int(y), int(x)]:.1f}")
        text.set_fontsize(9)


def fig_accuracy_matrices(records: Records, p: Params) -> plt.Figure:
    """Fine-tuning's accuracy matrix per scenario: the mean over seeds in each cell, its SD over seeds below."""
    scenarios = [s for s in SCENARIOS if _runs(records, s, "fine-tune")]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(12, 4.8), squeeze=False)
    ranges = []
    for ax, scenario in zip(axes[0], scenarios):
        runs = _runs(records, scenario, "fine-tune")
        acc = [r["metrics"]["acc"] for r in runs]
        plots.accuracy_heatmap(ax, 100 * np.mean(acc, axis=0), _task_names(runs),
                               title=f"{scenario} fine-tuning ({_seeds(runs)})")  # fmt: skip
        if len(runs) > 1:  # sample SD (ddof = 1) of each cell over the seeds
            sd = 100 * np.std(acc, axis=0, ddof=1)
            _annotate_sd(ax, sd)
            shown = sd[np.tril_indices_from(sd)]
            ranges.append(f"{scenario} {shown.min():.1f}-{shown.max():.1f}")
    runs = [r for s in scenarios for r in _runs(records, s, "fine-tune")]
    spread = (f"mean over seeds, ± SD over seeds below it (SD range: {', '.join(ranges)} points)" if ranges
              else "one seed, no spread")  # fmt: skip
    fig.suptitle(f"Fine-tuning on {_stream(runs)}, test accuracy (%): {spread}\n{scale(records, p)}", fontsize=10)
    fig.tight_layout()
    return fig


def final_frame(records: Records) -> pd.DataFrame:
    """One row per run and task: the task's test accuracy (%) after the last task (fine-tuning) or at the end
    of joint training."""
    rows = []
    for r in records.where("train"):
        c = r["config"]
        final = r["metrics"]["acc"][-1] if c["method"] == "fine-tune" else r["metrics"]["acc"]
        for name, acc in zip(_task_names([r]), final):
            rows.append({"scenario": c["scenario"], "method": c["method"], "seed": c["seed"], "task": name,
                         "accuracy": 100 * acc})  # fmt: skip
    return pd.DataFrame(rows)


def fig_final_accuracy(records: Records, p: Params) -> plt.Figure:
    """Each task's final accuracy per scenario, fine-tuning next to joint training (mean ± s.e.m. over seeds),
    with chance as a dotted line."""
    frame = final_frame(records)
    scenarios = [s for s in SCENARIOS if _runs(records, s)]
    fig, axes = plt.subplots(1, len(scenarios), figsize=(12, 4), sharey=True, squeeze=False)
    for ax, scenario in zip(axes[0], scenarios):
        runs = _runs(records, scenario)
        sub = frame[frame.scenario == scenario]
        sns.barplot(sub, x="task", y="accuracy", hue="method", order=_task_names(runs), errorbar="se", capsize=0.15,
                    hue_order=[m for m in METHODS if m in set(sub.method)], err_kws={"color": "black", "linewidth": 1},
                    ax=ax)  # fmt: skip
        ax.set(title=scenario, xlabel="task (classes)", ylabel="final test accuracy (%)", ylim=(0, 100))
        ax.axhline(_chance(runs, scenario), color="grey", lw=1, ls=":", label="chance")
        ax.get_legend().remove()
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
    runs = records.where("train")
    fig.suptitle(f"Final per-task accuracy after all tasks, fine-tuning vs. joint training (bars: mean over "
                 f"{_seeds(runs)}, ticks: ± s.e.m.)\n{scale(records, p)}", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def table_summary(records: Records, p: Params) -> pd.DataFrame:
    """Average accuracy and BWT (mean ± s.e.m. over seeds) per scenario and method."""
    rows = []
    for scenario in SCENARIOS:
        for method in METHODS:
            runs = [_final(r) for r in _runs(records, scenario, method)]
            if not runs:
                continue
            bwt = [v["bwt"] for v in runs if "bwt" in v]
            rows.append({"scenario": scenario, "method": method,
                         "average accuracy (%)": format_mean_spread([v["avg"] for v in runs]),
                         "BWT (points)": format_mean_spread(bwt) if bwt else "n/a", "seeds": len(runs)})  # fmt: skip
    return pd.DataFrame(rows).set_index(["scenario", "method"])
