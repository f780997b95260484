"""Chapter 01's frames: the tables and figures' data (Tables 2 and 6, Figures 3 to 5, per-task batch-norm) and
the paper's tables beside them; :mod:`.packnet_report` judges the claims on them.

Errors are top-1 test errors in %. Every number, dataset name and scale line is read from the records (their
``config``, ``metrics`` and ``data``, through :mod:`.packnet_records`), never from the parameters the notebook was
run with: the parameters only say which records go where (the schedules, and which of them is the first).
:mod:`.packnet_figures` draws the figures and tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..models import vgg16
from ..verdicts import binomial_se, combined_se, seed_se
from .runs import Records
from .packnet_runs import LAYERS, WITHOUT_BN, Params
from .packnet_records import by_order, carved, chapter_runs, err, fig4_seeds, final_errors, initial_error, label, lwf, \
    network_runs, packnet, pruned, schedule_name, single, singles, tasks

__all__ = ["PAPER_TABLE2", "PAPER_TABLE4_BN", "PAPER_TABLE6", "lwf_name", "per_task_bn_name", "table2", "order_frame",
           "fig4_frame", "fig4_seed_frame", "fig4_table", "fig5_frame", "paper_column", "paper_gap", "paper_ratio",
           "individual_gap", "without_bn_gap",
           "without_bn_frame", "FILTER_COLUMNS", "filter_stage", "filter_tasks", "table6",
           "batchnorm_frame"]  # fmt: skip


#: the paper's Tables 2 and 6 (top-1 error, %): other tasks than ours (ImageNet-trained VGG-16), shown beside
#: ours (:mod:`.packnet_figures`, with Table 5); the claims rows derive the paper's numbers from them
PAPER_TABLE2 = pd.DataFrame(
    {"Classifier Only": [28.42, 36.76, 56.42, 20.50], "LwF": [39.23, 30.42, 22.97, 15.21],
     "PackNet 0.50, 0.75, 0.75": [29.33, 25.72, 18.08, 10.09], "PackNet 0.75, 0.75, 0.75": [30.87, 24.95, 15.75, 9.75],
     "Individual Networks": [28.42, 22.57, 13.97, 8.65]},
    index=pd.Index(["ImageNet", "CUBS", "Stanford Cars", "Flowers"], name="paper's task"))  # fmt: skip
PAPER_TABLE6 = pd.DataFrame({"Classifier Only": [28.42, 36.76, 56.42, 20.50], "Filters (30 %)": [30.70, 35.73, 34.78, 13.31],
                             "Weights (50 %)": [29.33, 24.23, 13.97, 8.79]},
                            index=pd.Index(["ImageNet", "CUBS", "Stanford Cars", "Flowers"], name="paper's task"))


#: the paper's Table 4, VGG-16 with batch-norm (the book's own network type), pruning 0.50, 0.75, 0.75
PAPER_TABLE4_BN = pd.DataFrame({"Classifier Only": [26.63, 35.26, 57.21, 21.79], "PackNet 0.50, 0.75, 0.75":
                                [27.18, 21.89, 14.57, 7.45], "Individual Networks": [26.63, 19.83, 13.29, 6.04]},
                               index=PAPER_TABLE2.index)  # fmt: skip


def per_task_bn_name(schedule: list[float]) -> str:
    """Table 2's column of PackNet with per-task batch-norm (the first schedule)."""
    return f"{schedule_name(schedule)}, per-task BN"


# ---------------------------------------------------------------------------------------------------- the frames
#: Table 6's weight-pruning column: the initial task pruned by 50 %, each added task (alone, Figure 4) by 75 %
WEIGHTS_COLUMN = "Weights (50 %; added tasks 75 %)"


def lwf_name(lr: float, bn_stats: str, p: Params, schedule: str | None = None, epochs: int = 0,
             warmup: int = 0) -> str:  # fmt: skip
    """Table 2's column of an LwF configuration: 'LwF' for the claims' one, else what differs from it."""
    parts = ([] if lr == p.lwf_lrs[0] else [f"lr {lr:g}"]) + ([] if bn_stats == "frozen" else ["BN statistics updated"])
    if schedule == "paper":
        parts.append(f"paper's {epochs} epochs ({warmup} head-only)")
    return "LwF" + (f", {', '.join(parts)}" if parts else "")


def table2(records: Records, p: Params) -> pd.DataFrame:
    """Table 2: final error of every task per method, and each method's number of models and size."""
    names, stand_ins = tasks(records), carved(list(records))
    added, first = names[1:], packnet(records, p.schedules[0])[0]
    table = {"Classifier Only": [initial_error(records)] + [single(records, "classifier_only", d) for d in added]}
    configurations = dict.fromkeys((r["config"]["finetune_lr"], r["config"]["bn_stats"], r["config"].get("lwf_schedule"))
                                   for r in records.where("lwf"))  # fmt: skip
    # the claims' LwF first, then at the paper's schedule, then the other configurations
    for lr, bn, sched in sorted(configurations, key=lambda c: (c[0] != p.lwf_lrs[0], c[1] != "frozen", c[2] or "", c)):
        final = {d: [] for d in added}
        initial = []
        runs = lwf(records, p, bn, lr, sched)
        for rec in runs:
            last = rec["metrics"]["accuracies"][-1]
            initial.append(err(last[0]))
            for name, acc in zip(rec["config"]["order"], last[1:]):
                final[name].append(err(acc))
        table[lwf_name(lr, bn, p, sched, runs[0]["config"]["finetune_epochs"], runs[0]["config"]["warmup"])] = \
            [np.mean(initial)] + [np.mean(final[d]) for d in added]
    schedules = [packnet(records, s)[0]["config"]["schedule"] for s in p.schedules]
    for s in schedules:
        errs = final_errors(records, s)
        table[schedule_name(s)] = [err(pruned(records)[s[0]]["after_retrain"])] + [np.mean(errs[d]) for d in added]
    per_task_bn = packnet(records, schedules[0], batchnorm_per_task=True)
    if per_task_bn:  # the initial task keeps its own batch-norm: its error is the schedule's
        errs = final_errors(records, schedules[0], batchnorm_per_task=True)
        table[per_task_bn_name(schedules[0])] = [table[schedule_name(schedules[0])][0]] + [np.mean(errs[d]) for d in added]
    table["Individual Networks"] = [initial_error(records)] + [single(records, "individual", d) for d in added]
    frame = pd.DataFrame(table, index=[label(n, stand_ins) for n in names]).round(2).astype(object)
    c = first["config"]
    with torch.device("meta"):  # shapes only: the paper-scale VGG-16 would take half a gigabyte
        model = vgg16([10] * len(names), width=c["width"], batch_norm=c["batch_norm"], fc_widths=c["fc_widths"])
    n_body = sum(q.numel() for q in model.body.parameters())
    n_bn = sum(4 * m.num_features for m in model.body.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    n_all = n_body + sum(q.numel() for h in model.heads for q in h.parameters())
    mask = first["metrics"]["mask_bytes_packed"]
    mb = lambda n, extra=0: f"({(4 * n + extra) / 1e6:.2f} MB)"  # noqa: E731
    sizes = {col: f"1 {mb(n_all)}" for col in frame.columns if not col.startswith(("PackNet", "Individual"))}
    sizes.update({schedule_name(s): f"1 {mb(n_all, mask)}" for s in schedules})
    if per_task_bn:  # each added task stores 4 vectors per batch-norm layer
        sizes[per_task_bn_name(schedules[0])] = f"1 {mb(n_all + (len(names) - 1) * n_bn, mask)}"
    sizes["Individual Networks"] = f"{len(names)} {mb(n_all + (len(names) - 1) * n_body)}"
    frame.loc["# models (size)"] = pd.Series(sizes)
    return frame


def order_frame(records: Records, p: Params) -> pd.DataFrame:
    """Figure 3: final error of each added task by its position in the order (first schedule), one row per run
    and task."""
    rows, stand_ins = [], carved(list(records))
    for rec in packnet(records, p.schedules[0]):
        c, final = rec["config"], rec["metrics"]["steps"][-1]["accuracies"]
        for position, (name, acc) in enumerate(zip(c["order"], final[1:]), start=1):
            rows.append({"task": label(name, stand_ins), "position": position, "error": err(acc)})
    return pd.DataFrame(rows)


def fig4_frame(records: Records) -> pd.DataFrame:
    """Error before pruning, right after pruning and after retraining, per task and fraction (the initial task:
    its own initial pruning; an added task: trained first on the 50 %-pruned network, then pruned)."""
    names, stand_ins, weighted = tasks(records), carved(list(records)), pruned(records)
    runs = {d: records.one("fig4", dataset=d) for d in names[1:]}
    rows = []
    for f in runs[names[1]]["config"]["fractions"]:
        m = weighted[f]
        rows.append({"task": label(names[0], stand_ins), "fraction": f, "before": initial_error(records),
                     "pruned": err(m["after_prune"]), "retrained": err(m["after_retrain"])})  # fmt: skip
        for d, rec in runs.items():
            m = rec["metrics"]["fractions"][str(f)]
            rows.append({"task": label(d, stand_ins), "fraction": f, "before": err(rec["metrics"]["before_prune"]),
                         "pruned": err(m["after_prune"]), "retrained": err(m["after_retrain"])})  # fmt: skip
    return pd.DataFrame(rows)


def fig4_seed_frame(records: Records, p: Params) -> pd.DataFrame:
    """:func:`fig4_frame` of every seed of the initial network (:func:`.packnet_records.fig4_seeds`), with its
    ``seed``."""
    return pd.concat([fig4_frame(runs).assign(seed=runs.one("initial")["config"]["seed"])
                      for runs in fig4_seeds(records, p)], ignore_index=True)  # fmt: skip


def fig4_table(records: Records, p: Params) -> pd.DataFrame:
    """Figure 4's errors (%) per task and fraction: the mean over the seeds of the initial network (``runs``) and the
    SE over them of the error after retraining."""
    frame = fig4_seed_frame(records, p)
    by = frame.groupby(["task", "fraction"], sort=False)
    table = by[["before", "pruned", "retrained"]].mean()
    table["retrained SE"] = by.retrained.agg(lambda e: seed_se(list(e)) if len(e) > 1 else float("nan"))
    table["runs"] = by.seed.nunique()
    return table.round(2)


def fig5_frame(records: Records) -> pd.DataFrame:
    """Figure 5: the error of each added task trained with its freed weights in the classifier, fc or all layers."""
    stand_ins = carved(list(records))
    return pd.DataFrame([{"task": label(d, stand_ins), "trained": LAYERS[layers],
                          "error": err(records.one("fig5", dataset=d, layers=layers)["metrics"]["test_acc"])}
                         for d in tasks(records)[1:] for layers in LAYERS])  # fmt: skip


#: Table 6's filter-pruning columns, by ranking (the order of ``Params.filter_rankings``)
FILTER_COLUMNS = {"taylor": "Filters, Taylor ({:.0%} of all units)", "weight_norm": "Filters, weight norm ({:.0%} per layer)"}


def filter_stage(records: Records, ranking: str) -> dict:
    """The initial network pruned by filters with ``ranking`` ('taylor' or 'weight_norm')."""
    return records.one("initial_pruned", rule="taylor" if ranking == "taylor" else "filters")


def filter_tasks(records: Records, ranking: str) -> list[dict]:
    """The added tasks trained on that network, one record per added task in the chapter's order."""
    return [records.one("filter_task", dataset=d, filter_rule=None if ranking == "weight_norm" else "taylor")
            for d in tasks(records)[1:]]


def table6(records: Records, p: Params) -> pd.DataFrame:
    """Table 6: Classifier Only, filter pruning by each ranking, and weight pruning (50 %, then the task pruned by
    75 %), per task."""
    names, stand_ins = tasks(records), carved(list(records))
    weights = [err(pruned(records)[0.5]["after_retrain"]) if 0.5 in pruned(records) else np.nan]
    for d in names[1:]:
        fr = records.one("fig4", dataset=d)["metrics"]["fractions"]
        weights.append(err(fr["0.75"]["after_retrain"]) if "0.75" in fr else np.nan)
    table = {"Classifier Only": [initial_error(records)] + [single(records, "classifier_only", d) for d in names[1:]]}
    for ranking in p.filter_rankings:
        stage = filter_stage(records, ranking)
        table[FILTER_COLUMNS[ranking].format(stage["config"]["fraction"])] = [err(stage["metrics"]["after_retrain"])] + [
            err(r["metrics"]["test_acc"]) for r in filter_tasks(records, ranking)]
    table[WEIGHTS_COLUMN] = weights
    return pd.DataFrame(table, index=[label(n, stand_ins) for n in names]).round(2)


def batchnorm_frame(records: Records, schedule: list[float]) -> pd.DataFrame:
    """Per added task: PackNet's final error with batch-norm frozen after the initial task (the paper's PackNet)
    and with per-task batch-norm, over the per-task runs and their frozen twins of the same seeds (run 0 of each
    order), beside the individual networks (which re-fit batch-norm). Empty without per-task runs."""
    columns = ["frozen (task 1's)", "per task", "Individual Networks"]
    own = by_order(records, schedule, batchnorm_per_task=True)
    if not own:  # a network without batch-norm (the paper's default) has no such runs
        return pd.DataFrame(columns=columns)
    frozen, stand_ins, added = by_order(records, schedule), carved(list(records)), tasks(records)[1:]
    return pd.DataFrame({columns[0]: [np.mean([frozen[k][d] for k in own]) for d in added],
                         columns[1]: [np.mean([e[d] for e in own.values()]) for d in added],
                         columns[2]: [single(records, "individual", d) for d in added]},
                        index=[label(d, stand_ins) for d in added])  # fmt: skip


# ---------------------------------------------------------------------------- Table 2 like for like, no batch-norm
def paper_column(schedule: list[float]) -> str:
    """The paper's Table 2 PackNet column of ``schedule``; its 0.50, 0.75, 0.75 column where it has none for it."""
    return schedule_name(schedule) if schedule_name(schedule) in PAPER_TABLE2 else "PackNet 0.50, 0.75, 0.75"


def _paper_errors(schedule: list[float]) -> tuple[float, float]:
    """The paper's Table 2 errors of PackNet (:func:`paper_column`) and of the Individual Networks, each the mean
    over the added tasks."""
    added = PAPER_TABLE2.iloc[1:]
    return float(added[paper_column(schedule)].mean()), float(added["Individual Networks"].mean())


def paper_gap(schedule: list[float]) -> float:
    """The paper's Table 2 gap of ``schedule``: PackNet's error minus the Individual Networks', mean over the added
    tasks."""
    packnet_error, individual_error = _paper_errors(schedule)
    return packnet_error - individual_error


def paper_ratio(schedule: list[float]) -> float:
    """The paper's PackNet error as a multiple of the Individual Networks' (means over the added tasks): a gap in
    points depends on how large the errors are, their ratio less so."""
    packnet_error, individual_error = _paper_errors(schedule)
    return packnet_error / individual_error


def individual_gap(records: Records, schedule: list[float]) -> dict | None:
    """Table 2's gap on one network's runs: per added task PackNet's error (``schedule``, the mean over its runs)
    and the individual networks'; over the added tasks the gap (PackNet minus individual networks), its SE
    (PackNet's per-run gaps over its runs, combined with the individual networks' SE over theirs, or the binomial
    SE of the test set where one ran) and the run counts. None where either method has no runs."""
    runs = by_order(records, schedule)
    names = tasks(records)[1:] if records.where("initial") else []
    individual = {d: singles(records, "individual", d) if records.where("single_task", method="individual", dataset=d)
                  else [] for d in names}  # fmt: skip (a network whose runs are not all recorded yet has none)
    if not runs or not names or not all(individual.values()):
        return None
    n_test = 10 * records.one("initial")["config"]["test_per_class"]
    per_run = [float(np.mean([e[d] - np.mean(individual[d]) for d in names])) for e in runs.values()]
    individual_se = np.sqrt(sum((seed_se(v) if len(v) > 1 else binomial_se(v[0], n_test)) ** 2
                                for v in individual.values())) / len(names)  # fmt: skip
    return {"names": names, "packnet": {d: float(np.mean([e[d] for e in runs.values()])) for d in names},
            "individual": {d: float(np.mean(v)) for d, v in individual.items()}, "gap": float(np.mean(per_run)),
            "se": combined_se(seed_se(per_run), individual_se), "runs": len(per_run),
            "individual_runs": min(len(v) for v in individual.values())}  # fmt: skip


def without_bn_gap(records: Records, p: Params) -> dict | None:
    """Table 2 like for like, on the network without batch-norm (:data:`.packnet_runs.WITHOUT_BN`): its
    :func:`individual_gap` for the first schedule, with its runs (``records``); None where the records hold none."""
    plain = network_runs(records, p.seed, WITHOUT_BN)
    found = individual_gap(plain, p.schedules[0])
    return None if found is None else {**found, "records": plain}


def without_bn_frame(records: Records, p: Params) -> pd.DataFrame:
    """Table 2 like for like: per added task, PackNet's and the individual networks' error on the network without
    batch-norm (``without_bn_epochs``) beside the chapter's batch-norm network (PackNet with batch-norm frozen after
    the initial task, over all its runs); empty where the records hold no runs without batch-norm."""
    columns = ["PackNet, no batch-norm", "Individual Networks, no batch-norm", "PackNet, batch-norm (frozen)",
               "Individual Networks, batch-norm"]  # fmt: skip
    found = without_bn_gap(records, p)
    if found is None:
        return pd.DataFrame(columns=columns)
    own = chapter_runs(records, p)
    names, stand_ins, bn = found["names"], carved(list(records)), final_errors(own, p.schedules[0])
    return pd.DataFrame({columns[0]: [found["packnet"][d] for d in names],
                         columns[1]: [found["individual"][d] for d in names],
                         columns[2]: [float(np.mean(bn[d])) for d in names],
                         columns[3]: [single(own, "individual", d) for d in names]},
                        index=[label(d, stand_ins) for d in names]).round(2)  # fmt: skip
