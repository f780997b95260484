"""Chapter 01's report: ``claims(records, params)``, the rows of its "paper vs. this book" table, each judged by
the shared rules of :mod:`cl_utils.verdicts` on the frames of :mod:`.packnet_frames` (``table2`` is re-exported
for the notebook). Every number, dataset name and scale line is read from the records, never from the
parameters the notebook was run with: the parameters only say which records go where (the schedules, and which
of them is the first). Each row names the runs its numbers come from (``records``: their keys, or none for a row
not attempted). :mod:`.packnet_figures` draws the figures and tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import NO_RECORDS, run_keys
from ..verdicts import Z, binomial_se, combined_se, compound_status, direction_status, paired_direction, seed_se, \
    size_status, weakest_status
from .runs import Records
from .packnet_runs import LAYERS, Params
from .packnet_records import by_order, chapter_runs, carved, err, fig4_seeds, initial_error, label, lwf, packnet, \
    pruned, scale, schedule_name, single, singles, started_from, tasks
from .packnet_frames import FILTER_COLUMNS, PAPER_TABLE2, PAPER_TABLE6, WEIGHTS_COLUMN, fig5_frame, filter_stage, \
    filter_tasks, individual_gap, order_frame, paper_gap, table2, table6
from .packnet_pruning_claims import fc_share_rows, fig4_rows, initial_cost_row, start_rows
from .packnet_batchnorm_claims import batchnorm_rows, without_bn_rows
from .packnet_trend import trend_clause, trend_frame, trend_shown

__all__ = ["PAPER_ORDER_RISE", "claims", "table2"]

#: Mallya & Lazebnik, section 5.1: the error rises "by 3% on average" from the first position to the third
PAPER_ORDER_RISE = 3.0


def _order_rise(frame: pd.DataFrame) -> tuple[float, tuple[str, str], str]:
    """Figure 3's claim as a size: per added task, its mean error at the last position minus at the first (the
    runs of a cell are independent: :func:`.packnet_runs.packnet_seed` gives each order and run its own seed), then the
    mean over the tasks; its SE combines the cells' SE over runs. Returns the mean rise, its status and the
    per-task rises in words."""
    last, rises, ses, runs = frame.position.max(), [], [], []
    for task, g in frame.groupby("task", sort=False):
        cells = [g[g.position == pos].error for pos in (1, last)]
        rises.append(cells[1].mean() - cells[0].mean())
        ses.append(combined_se(*(seed_se(list(c)) for c in cells)))
        runs.append(min(len(c) for c in cells))
    rise, se = float(np.mean(rises)), combined_se(*ses) / len(ses)
    status = size_status(rise, PAPER_ORDER_RISE, se, runs=min(runs), direction_holds=rise > 0)
    words = ", ".join(f"{t} {r:+.2f} ± {e:.2f}" for t, r, e in zip(frame.task.unique(), rises, ses))
    return rise, status, f"{words} ({min(runs)} independent runs per cell)"


def _single_runs(records: Records, method: str, datasets: list[str]) -> list[dict]:
    """The runs of Classifier Only or of the Individual Networks on ``datasets`` (what :func:`.singles` reads)."""
    return [r for d in datasets for r in records.where("single_task", method=method, dataset=d)]


def claims(records: Records, p: Params) -> list[dict]:
    """The rows of the chapter's "paper vs. this book" table. Statuses by the shared rules of
    :mod:`cl_utils.verdicts`: PackNet ran ``runs_per_order`` times per order of the added tasks and LwF once, so
    their spread is over the runs and orders (paired by order where both ran it); every other run is single, with the binomial
    SE of its test set (the records' ``test_per_class`` images per class) for each arm of a difference. Each row's
    ``records`` are the runs its numbers, status and reason are computed from. Figure 4's rows read every seed of the
    initial network (``fig4_seeds``), the others the chapter's ``seed``."""
    every, seeds, records = records, fig4_seeds(records, p), chapter_runs(records, p)
    trend, trend_runs = trend_clause(trend_frame(every, p)), trend_shown(every, p)
    n_test = 10 * records.one("initial")["config"]["test_per_class"]
    bse = lambda e: binomial_se(e, n_test)  # noqa: E731 (error and accuracy have the same SE)

    def single_se(method: str, dataset: str) -> float:
        """SE of a baseline's mean error: over its runs, or of the test set where it ran once."""
        errors = singles(records, method, dataset)
        return seed_se(errors) if len(errors) > 1 else bse(errors[0])

    names, stand_ins = tasks(records), carved(list(records))
    initial_err, added_names = initial_error(records), names[1:]
    t2 = table2(records, p).iloc[:4, :].astype(float)
    added = [label(d, stand_ins) for d in added_names]
    first = p.schedules[0]
    pk = by_order(records, first)
    lwf_orders = {tuple(r["config"]["order"]): {name: err(acc) for name, acc in zip(
        r["config"]["order"], r["metrics"]["accuracies"][-1][1:])} for r in lwf(records, p)}  # fmt: skip
    gaps = [individual_gap(records, s) for s in p.schedules]  # PackNet over orders and runs - individual networks
    gap = [g["gap"] for g in gaps]
    packnet_vs_lwf = [t2.loc[a, schedule_name(first)] - t2.loc[a, "LwF"] for a in added]
    vs_lwf = []
    for d, a in zip(added_names, added):
        orders = sorted(set(o for o, _ in pk) & set(lwf_orders))
        per_order = [np.mean([e[d] for (o2, _), e in pk.items() if o2 == o]) for o in orders]  # mean over its runs
        vs_lwf.append(paired_direction(per_order, [lwf_orders[o][d] for o in orders],
                                       expected_sign=-1, what=a))  # fmt: skip
    classifier = records.where("single_task", method="classifier_only")[0]["config"]
    # the runs behind the rows: the initial network and its weight-pruned stages, the baselines, PackNet, LwF
    initial = [records.one("initial")]
    weight_stages = {r["config"]["fraction"]: r for r in records.where("initial_pruned", rule="weights")}
    classifier_runs = _single_runs(records, "classifier_only", added_names)
    individual_runs = _single_runs(records, "individual", added_names)
    pk_runs, lwf_runs = packnet(records, first), lwf(records, p)
    fig4_runs = [records.one("fig4", dataset=d) for d in added_names]
    vs_classifier = [direction_status(float(np.mean([o[d] for o in lwf_orders.values()])) - single(records,
                                      "classifier_only", d), combined_se(seed_se([o[d] for o in lwf_orders.values()]),
                                      single_se("classifier_only", d)), expected_sign=-1, what=a)
                     for d, a in zip(added_names, added)]  # fmt: skip
    rises = [err(r["metrics"]["accuracies"][-1][0]) - initial_err for r in lwf_runs]
    lwf_rise = float(np.mean(rises))
    weighted = pruned(records)
    start = weighted[first[0]]
    from_start = started_from(records, pk_runs, first[0])
    pk_change = max((abs(err(s["accuracies"][0]) - err(start["after_retrain"]))
                     for rec in from_start for s in rec["metrics"]["steps"]), default=float("nan"))  # fmt: skip
    order = _order_rise(order_frame(records, p))
    shared, separate = pk, by_order(records, first, True)
    cells = [(separate[k][d], shared[k][d]) for k in shared if k in separate for d in added_names]
    bias_gap = float(np.mean([x - y for x, y in cells]))
    bias_se = seed_se([x - y for x, y in cells])
    rec = pk_runs[0]["metrics"]
    overhead = rec["mask_bytes_packed"] / (4 * rec["mask_bytes_uint8"])
    fig5 = fig5_frame(records).pivot(index="task", columns="trained", values="error")
    ranking = p.filter_rankings[0]  # the claims' ranking (the paper's Taylor criterion by default)
    t6_all = table6(records, p).astype(float)
    t6 = t6_all.iloc[1:][[c for c in t6_all if c.startswith(FILTER_COLUMNS[ranking].split(" (")[0])] + [WEIGHTS_COLUMN]]
    t2p, added_p = PAPER_TABLE2, PAPER_TABLE2.index[1:]
    paper_gaps = [paper_gap(s) for s in ([0.5, 0.75, 0.75], [0.75, 0.75, 0.75])]  # the paper's two schedules
    paper_rise = t2p.loc["ImageNet", "LwF"] - t2p.loc["ImageNet", "Classifier Only"]
    paper_vs_lwf = (t2p["LwF"] - t2p["PackNet 0.50, 0.75, 0.75"])[added_p]
    paper_filters = (PAPER_TABLE6["Filters (30 %)"] - PAPER_TABLE6["Weights (50 %)"])[added_p]
    rise_se = combined_se(seed_se(rises), bse(initial_err))
    rise = size_status(lwf_rise, paper_rise, rise_se, runs=len(rises),
                       direction_holds=lwf_rise > 0)  # fmt: skip
    lower = compound_status(vs_lwf)
    close = [size_status(g["gap"], q, g["se"], runs=g["runs"], direction_holds=g["gap"] > 0)
             for g, q in zip(gaps, paper_gaps)]  # fmt: skip
    layers = [direction_status(r["fc layers"] - r["all layers"], combined_se(bse(r["fc layers"]), bse(r["all layers"])),
                               what=t) for t, r in fig5.iterrows()]  # fmt: skip
    filters = [direction_status(r.iloc[0] - r.iloc[1], combined_se(bse(r.iloc[0]), bse(r.iloc[1])), what=t)
               for t, r in t6.iterrows()]  # fmt: skip
    weakest = lambda parts: weakest_status(st for st, _ in parts)  # noqa: E731
    reasons = lambda parts: "; ".join(r for _, r in parts)  # noqa: E731
    if abs(bias_gap) > Z * bias_se:
        bias = ("not reproduced", f"separate minus shared {bias_gap:+.2f} = {bias_gap / bias_se:+.1f} SE (SE "
                                  f"{bias_se:.2f}, {len(cells)} cells paired by order and task): a difference, "
                                  "beyond 2 SE, where the paper sees none")  # fmt: skip
    else:
        bias = ("reproduced" if Z * bias_se <= 0.1 else "inconclusive",
                f"separate minus shared {bias_gap:+.2f}, within 2 SE (SE {bias_se:.2f}, {len(cells)} cells paired "
                f"by order and task, separate lower in {sum(x < y for x, y in cells)}; the cells of one run are "
                "not independent): too coarse to see the paper's differences of at most 0.1 points")  # fmt: skip
    rows = [
        {"claim": "Fig. 2 / Table 2: PackNet does not change the initial task's error while tasks are added",
         "paper": "0 (by construction)",
         "this book": f"{pk_change:.2f} points (largest change, {len(from_start)} runs)" if from_start else "no run",
         "status": ("reproduced" if pk_change == 0 else "not reproduced") if from_start else "inconclusive",
         "reason": "an exact property, bit-exact: frozen weights, biases and batch-norm statistics (tested with "
                   "torch.equal); judged on the runs that started from the pruned initial network the record "
                   f"describes (same state digest): {len(from_start)} of {len(pk_runs)}",
         "records": run_keys(pk_runs, [weight_stages[first[0]]])},
        {"claim": "Fig. 2: LwF's error on the initial task rises as tasks are added", "paper": f"{paper_rise:+.2f} points ({t2p.loc['ImageNet', 'Classifier Only']:.2f} → "
         f"{t2p.loc['ImageNet', 'LwF']:.2f})",
         "this book": f"{lwf_rise:+.2f} points",
         "status": rise[0], "reason": f"{rise[1]} (over the {len(rises)} orders, and the initial run's test set)",
         "records": run_keys(lwf_runs, initial)},
        {"claim": "Table 2: PackNet has a lower error than LwF on every added task", "paper": f"yes (by {paper_vs_lwf.min():.1f}-{paper_vs_lwf.max():.1f} points)",
         "this book": ", ".join(f"{a}: {g:+.2f}" for a, g in zip(added, packnet_vs_lwf)) + " points",
         "status": lower[0], "reason": f"{lower[1]}, one part per added task (paired by order; PackNet the mean of its runs of the order): {reasons(vs_lwf)}",
         "records": run_keys(pk_runs, lwf_runs)},
        {"claim": "Table 2: LwF has a lower error than Classifier Only on every added task",
         "paper": "yes (by " + "-".join(f"{v:.1f}" for v in sorted((t2p["Classifier Only"] - t2p["LwF"])[added_p])[::2])
                  + " points)",
         "this book": ", ".join(f"{a}: {t2.loc[a, 'LwF'] - t2.loc[a, 'Classifier Only']:+.2f}" for a in added) + " points",
         "status": compound_status(vs_classifier)[0],
         "reason": f"{compound_status(vs_classifier)[1]}, one part per added task (LwF at lr {p.lwf_lrs[0]:g} over "
                   f"the orders against Classifier Only over its {len(singles(records, 'classifier_only', added_names[0]))} "
                   f"run(s); Classifier Only trains its head "
                   f"{classifier['classifier_epochs']} epochs at lr {classifier['finetune_lr']:g}): "
                   f"{reasons(vs_classifier)}",
         "records": run_keys(lwf_runs, classifier_runs)},
        {"claim": "Table 2: PackNet's error above Individual Networks', mean over added tasks (0.50 / 0.75 initial pruning)",
         "paper": " / ".join(f"{q:.2f}" for q in paper_gaps) + " points", "this book": " / ".join(f"{v:.2f}" for v in gap) + " points",
         "status": weakest(close),
         "reason": f"{reasons(close)} (PackNet over the orders, {len(singles(records, 'individual', added_names[0]))} individual "
                   f"network(s) per task); weak CIFAR-10 features, not ImageNet's"
                   + (f"; {trend}" if trend else ""),
         **({"data and scale": f"{scale(list(records))}; scale trend: {scale(trend_runs)}"} if trend else {}),
         "records": run_keys(*(packnet(records, s) for s in p.schedules), individual_runs, trend_runs)},
        *start_rows(records, p),
        initial_cost_row(seeds),
        *fig4_rows(seeds),
        {"claim": "Fig. 3: a task added later finds fewer free weights: its error rises from first to third position "
                  "(mean over the added tasks)",
         "paper": "+3 points on average (e.g. Stanford Cars 16.00 → 19.91 %)", "this book": f"{order[0]:+.2f} points",
         "status": order[1][0], "reason": f"{order[1][1]}; per task, last minus first position: {order[2]}",
         "records": run_keys(pk_runs)},
        {"claim": "Table 5: task-specific biases make no noticeable difference", "paper": "+0.00 points (±0.1 per task)",
         "this book": f"{bias_gap:+.2f} points (separate minus shared)",
         "status": bias[0], "reason": bias[1],
         "records": run_keys(pk_runs, packnet(records, first, separate_biases=True))},
        {"claim": "Fig. 5: a new task needs free weights in the lower (conv) layers, not only in fc6/fc7",
         "paper": "training all layers far better than fc layers or the classifier only",
         "this book": ", ".join(f"{t}: {r['all layers']:.1f} / {r['fc layers']:.1f} / {r['classifier only']:.1f}"
                                for t, r in fig5.iterrows()) + " % error (all / fc / classifier)",
         "status": compound_status(layers)[0],
         "reason": f"{compound_status(layers)[1]}, one part per task (fc-only minus all-layers error, binomial SE "
                   f"of {n_test} test images each): {reasons(layers)}",
         "records": run_keys([records.one("fig5", dataset=d, layers=lay) for d in added_names for lay in LAYERS])},
        {"claim": "Table 6: filter pruning leaves a worse network for the added task than weight pruning",
         "paper": f"worse on all three (by {paper_filters.min():.1f}-{paper_filters.max():.1f} points)",
         "this book": ", ".join(f"{t}: {r.iloc[0]:.1f} / {r.iloc[1]:.1f}" for t, r in t6.iterrows()) + " % (filters / weights)",
         "status": compound_status(filters)[0],
         "reason": f"{compound_status(filters)[1]}, one part per task (filter minus weight pruning error, binomial "
                   f"SE of {n_test} test images each): {reasons(filters)}; "
                   + ("units ranked by Molchanov et al.'s Taylor criterion over the whole network, pruned in "
                      f"{filter_stage(records, ranking)['config']['steps']} rounds with an epoch of retraining each, "
                      "as the paper" if ranking == "taylor" else "units ranked by weight norm, the same share of "
                      "each layer, one shot (the paper ranks by Taylor criterion over the whole network)"),
         "records": run_keys([filter_stage(records, ranking)], filter_tasks(records, ranking), fig4_runs)},
        *fc_share_rows(records, p),
        {"claim": "Storage: the masks of 3 added tasks cost 1/16 of the weights' memory", "paper": "1/16 = 0.0625",
         "this book": f"{overhead:.4f} (measured)",
         "status": "reproduced" if abs(overhead - 0.0625) < 1e-3 else "not reproduced",
         "reason": "an exact property: 2 bits per weight beside 32-bit weights",
         "records": run_keys(pk_runs[:1])},
        {"claim": "Table 3: Places365 added to a 50 % / 75 % pruned ImageNet VGG-16",
         "paper": "Places365 top-1 error 47.44 / 46.99 (PackNet) against 46.35 (individual network)", "this book": "not run",
         "status": "not attempted", "reason": "no ImageNet or Places365 here, and no GPU for a full VGG-16",
         "data and scale": "none", "records": NO_RECORDS},
        {"claim": "Table 4: PackNet on ResNet-50 and DenseNet-121",
         "paper": "PackNet within 2.4 points of individual networks on every added task", "this book": "not run",
         "status": "not attempted", "reason": "needs ImageNet-trained ResNet-50 / DenseNet-121 and a GPU",
         "data and scale": "none", "records": NO_RECORDS},
    ]  # fmt: skip
    rows[-2:-2] = batchnorm_rows(records, first, pk, gap[0], gaps[0]["se"], added_names, added, individual_runs)
    rows[-2:-2] = without_bn_rows(every, p, gap[0])
    return [{"data and scale": scale(list(records)), **r} for r in rows]
