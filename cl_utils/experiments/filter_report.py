"""Chapter 05's frames, scale lines and claims, computed from its records.

Every number and every scale line is read from the records (their ``config``, ``metrics`` and ``data``), never
from the parameters the notebook was run with: the parameters only say which records belong to which figure
(the criteria and seeds of the chapter). :mod:`.filter_figures` draws the figures and tables from these frames.

Why one module (over 300 lines): the selection of each figure's records, the frames read from them and the rules of
the claims rows are one piece: a row, its caption and its figure must read the same records the same way.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..claims import NO_RECORDS, run_keys
from ..filter_pruning import RESTART, filter_count_trajectory, filters_to_prune
from ..models import VGG16_LAYOUT
from ..verdicts import binomial_se, combined_se, compound_status, direction_status, seed_se, size_status, weakest_status
from . import describe
from .describe import synthetic
from .cache import checkpoint_mismatches
from .runs import Records
from .stacking import any_stacked, member_views
from .filter_runs import FilterRun, Params, PretrainRun

__all__ = ["NAMES", "FIGURES", "runs", "common_config", "synthetic", "carved", "passes", "data_label", "net_label",
           "stage_record", "started_elsewhere", "scale", "scales", "history_frame", "summary", "gaps", "per_seed",
           "paired", "control_runs", "restart_control", "speed", "visit_gains", "visits", "visit_fit", "PAPER_FILTERS",
           "PAPER_STEPS", "USED_READING", "eq1_readings", "claims"]  # fmt: skip

NAMES = {"none": "baseline (no pruning)", "activation": "activation-based pruning", "weight": "weight-based pruning"}
#: the control's name in tables (:func:`restart_control`)
CONTROL_NAME = "control: baseline, optimiser rebuilt at every block end"
#: "figN_standin": figure N from the pretrained stand-in for ImageNet weights (:mod:`.filter_runs`)
FIGURES = ("fig2", "fig2_standin", "fig3", "fig3_standin", "fig4", "fig4_standin")
#: each figure's name in a claim
CLAIM_NAMES = {"fig2": "Fig. 2", "fig2_standin": "Fig. 2 from the pretrained stand-in",
               "fig3": "Fig. 3 (subset resampled every block)",
               "fig3_standin": "Fig. 3 from the pretrained stand-in (subset resampled every block)",
               "fig4": "Fig. 4", "fig4_standin": "Fig. 4 from the pretrained stand-in"}  # fmt: skip
PER_RUN = ("criterion", "seed")  # the config keys in which the runs of one figure differ


def trained(records: Records, **match) -> list[dict]:
    """The ``train`` records matching ``match``, one per seed (a stacked run's record: a view per seed,
    :mod:`.stacking`), by seed."""
    views = member_views(records.where("train", **match), members="seeds", member="seed", results="per_seed")
    return sorted(views, key=lambda r: r["config"]["seed"])


def filter_run(config: dict) -> FilterRun:
    """The typed config of a record, or of a stacked record's view of one seed (its ``stacked_with`` aside)."""
    return FilterRun.from_config({k: v for k, v in config.items() if k != "stacked_with"})


def runs(records: Records, p: Params, fig: str, normalize: bool | None = None) -> list[dict]:
    """The records shown in ``fig``: the chapter's criteria of that figure (in their order) and seeds, with the
    chapter's ``normalize`` (or the one given: Fig. 2's runs with the other one, the normalisation check)."""
    crits = p.fig4_criteria if fig.startswith("fig4") else p.criteria
    norm = p.normalize if normalize is None else normalize
    return [r for c in crits for r in trained(records, figure=fig, criterion=c, normalize=norm)
            if r["config"]["seed"] in p.seeds_of(fig)]


def common_config(shown: list[dict]) -> dict:
    """The config the runs of one figure share (all but criterion and seed); an error if they differ in more,
    since one caption could then not describe them all."""
    first = {k: v for k, v in shown[0]["config"].items() if k not in PER_RUN}
    for r in shown[1:]:
        other = {k: v for k, v in r["config"].items() if k not in PER_RUN}
        if other != first:
            differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
            raise ValueError(f"the runs of {first.get('figure')} differ in {differ}: one caption cannot describe them")
    return first


def carved(shown: list[dict]) -> list[str]:
    """The datasets of these records whose training images were carved from their test split (KMNIST offline):
    a property of the data files the records name."""
    return describe.carved(shown, sorted({d for r in shown for d in r["config"]["datasets"]}))


def passes(c: dict) -> int:
    """Visits of every dataset in a run of config ``c``."""
    return c["epochs"] // (c["every"] * len(c["datasets"]))


def data_label(shown: list[dict]) -> str:
    return "SYNTHETIC stand-in data (tests only)" if synthetic(shown) else "real data"


def stage_record(records: Records, c: dict) -> dict | None:
    """The record of the pretraining stage a run of config ``c`` started from, found by the key the run asked for
    (None: it started from random or ImageNet weights, or the stage record is missing)."""
    if not c.get("pretrain_images"):
        return None
    found = records.where("pretrain", **PretrainRun.of(filter_run(c)).as_config())
    return found[0] if found else None


def started_elsewhere(shown: list[dict], stage: dict | None) -> int:
    """How many of ``shown`` started from another state than the one ``stage`` (their pretraining record) describes:
    the stage's checkpoint is not stored with the records, so a machine that rebuilds it gets its own rounding,
    and each run records the digest of the state it read (:func:`~.cache.checkpoint_mismatches`)."""
    return len(checkpoint_mismatches([*shown, stage])[0]) if stage else 0


def net_label(shown: list[dict], stage: dict | None = None) -> str:
    """The network line of a scale: layout, start (random, ImageNet or the stand-in, with the stage's own
    validation accuracy where its record is given), optimiser, seeds."""
    c = common_config(shown)
    if c.get("pretrain_images"):
        m = stage["metrics"] if stage is not None else {}
        dataset = filter_run(shown[0]["config"]).standin_dataset  # the runs share it (common_config)
        same = " of the same label set" if c["datasets"] == [dataset] else ""
        init = (f"pretrained stand-in for ImageNet weights ({m.get('train_images', c['pretrain_images']):,} "
                f"{dataset} test-split images{same}, {c['pretrain_epochs']} epochs at lr "
                f"{c['pretrain_lr']:g}")  # fmt: skip
        if m:
            init += f", {100 * m['history'][-1]['val_acc']:.1f} % on {m['val_images']:,} held-out ones"
        init += "; one network for every seed, last layer reset)"
        elsewhere = started_elsewhere(shown, stage)
        if elsewhere:
            init += (f"; {elsewhere} of these {len(shown)} runs started from another build of that stage, made on "
                     "another machine (same config and data, other rounding), not the state described here")
    else:
        init = "ImageNet weights" if c["pretrained"] else "random init (no ImageNet weights)"
    seeds = len({r["config"]["seed"] for r in shown})
    stacked = ", stacked as one network" if any_stacked(shown) else ""
    return (f"VGG-16{'-BN' if c['batch_norm'] else ''}, {init}, pool {c['pool_size']}x{c['pool_size']}; "
            f"{c['optimizer'].upper()} lr {c['lr']:g}, batch {c['batch_size']}; {seeds} seed(s){stacked}")


def scale(records: Records, p: Params, fig: str) -> str:
    """The data and scale of the runs shown in ``fig``, read from their records ("not run" without any)."""
    shown = runs(records, p, fig)
    if not shown:
        return "not run"
    c, stand_ins = common_config(shown), carved(shown)
    names = ", ".join(f"{d}*" if d in stand_ins else d for d in c["datasets"])
    what = {"fixed": "fixed subset", "resample": "resampled with replacement every block",
            "datasets": f"one dataset per block, {passes(c)} passes"}[c["mode"]]  # fmt: skip
    mine = [d for d in c["datasets"] if d in stand_ins]
    note = f"\n*{', '.join(mine)}: stand-in, training images carved from the test split" if mine else ""
    return (f"{data_label(shown)}: {names}; {c['train_images']} train / {c['val_images']} val images per block "
            f"({what}); {c['epochs']} epochs, prune {c['percent']:g} % every {c['every']}{note}\n"
            f"{net_label(shown, stage_record(records, shown[0]['config']))}")


def scales(records: Records, p: Params) -> dict[str, str]:
    """The scale line of each figure of :data:`FIGURES`."""
    return {fig: scale(records, p, fig) for fig in FIGURES}


def history_frame(records: Records, p: Params) -> pd.DataFrame:
    """One row per (figure, criterion, seed, epoch) of the runs shown, accuracies in %, with the run's block
    length (``every``) and its number of datasets."""
    return _history((fig, r) for fig in FIGURES for r in runs(records, p, fig))


def _history(shown) -> pd.DataFrame:
    """:func:`history_frame`'s rows of the ``(figure, record)`` pairs ``shown``."""
    history = pd.DataFrame([{"figure": fig, "criterion": r["config"]["criterion"], "seed": r["config"]["seed"], **h,
                             "every": r["config"]["every"], "n_datasets": len(r["config"]["datasets"])}
                            for fig, r in shown for h in r["metrics"]["history"]])  # fmt: skip
    for col in ("train_acc", "val_acc"):
        history[col] *= 100
    return history


def summary(records: Records, p: Params) -> pd.DataFrame:
    """One row per run, our restart control's included: epochs, filters at the start and the end, training
    seconds."""
    control = _history((fig, r) for fig in FIGURES for r in control_runs(records, p, fig))
    return pd.concat([history_frame(records, p), control]).groupby(["figure", "criterion", "seed"]).agg(
        epochs=("epoch", "max"), filters_start=("filters", "first"), filters_end=("filters", "last"),
        seconds=("seconds", "sum")).reset_index()  # fmt: skip


def gaps(records: Records, p: Params, fig: str) -> pd.DataFrame:
    """Averages over all epochs (and seeds): accuracies, train-val gap, and the loss of each criterion to the baseline."""
    history = history_frame(records, p)
    d = history[history.figure == fig].groupby(["criterion", "epoch"]).mean(numeric_only=True)
    crits = [c for c in p.criteria if c in d.index.get_level_values("criterion")]
    rows = {}
    for c in crits:
        x = d.loc[c]
        row = {"train acc (%)": x.train_acc.mean(), "val acc (%)": x.val_acc.mean(),
               "train - val (points)": (x.train_acc - x.val_acc).mean(),
               "final val acc (%)": x.val_acc.iloc[-1], "filters at the end": int(x.filters.iloc[-1])}  # fmt: skip
        if "none" in crits:  # the baseline's own row is 0 by definition
            base = d.loc["none"]
            row["train acc below baseline (points)"] = (base.train_acc - x.train_acc).mean()
            row["val acc below baseline (points)"] = (base.val_acc - x.val_acc).mean()
        rows[NAMES[c]] = row
    frame = pd.DataFrame(rows).T.round(2)
    return frame.astype({"filters at the end": int})


def per_seed(records: Records, p: Params, fig: str, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each run's averages over all epochs, indexed by (criterion, seed): training and validation accuracy (%),
    their gap, and two measures of instability ("swing"): the mean absolute change from one epoch to the next of
    the validation accuracy (points) and of the validation loss. ``history``: :func:`history_frame`'s, if the
    caller has it already."""
    history = history_frame(records, p) if history is None else history
    h = history[history.figure == fig].sort_values("epoch")
    rows = {}
    for (c, s), x in h.groupby(["criterion", "seed"]):
        rows[(c, s)] = {"train": x.train_acc.mean(), "val": x.val_acc.mean(), "gap": (x.train_acc - x.val_acc).mean(),
                        "val acc swing": x.val_acc.diff().abs().mean(), "val loss swing": x.val_loss.diff().abs().mean()}
    return pd.DataFrame(rows).T.rename_axis(["criterion", "seed"])


def paired(runs_: pd.DataFrame, c: str, col: str, sign: int = 1) -> list[float]:
    """``sign`` x (baseline minus criterion ``c``) in column ``col``, one value per seed both have."""
    return [-sign * d for d in _paired_to(runs_, "none", c, col)]


def _paired_to(table: pd.DataFrame, reference: str, c: str, col: str) -> list[float]:
    """Criterion ``c`` minus ``reference`` in column ``col`` of a :func:`per_seed` table, one value per seed both
    have."""
    seeds = sorted(set(table.loc[reference].index) & set(table.loc[c].index))
    return [float(table.loc[(c, s), col] - table.loc[(reference, s), col]) for s in seeds]


def control_runs(records: Records, p: Params, fig: str) -> list[dict]:
    """The control's records of ``fig`` (:data:`~cl_utils.filter_pruning.RESTART`: the baseline with the optimiser
    rebuilt at every block end, no pruning), at the figure's seeds and ``normalize``; empty where none ran."""
    found = trained(records, figure=fig, criterion=RESTART, normalize=p.normalize)
    return [r for r in found if r["config"]["seed"] in p.seeds_of(fig)]


def restart_control(records: Records, p: Params, fig: str, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Our control beside the figure's runs: per run kind, the training and validation accuracy averaged over all
    epochs and seeds (%), their gap, and the training accuracy against the plain baseline, paired by seed (points,
    mean ± SE over the seeds; ``attrs["control_seeds"]``: how many). Empty where the control did not run.
    Pruning's effect on training accuracy is what is left of a pruned run's difference once the control's, the
    restarts alone, is set beside it. ``history``: :func:`history_frame`'s, if the caller has it already."""
    control = control_runs(records, p, fig)
    if not control or not runs(records, p, fig):
        return pd.DataFrame()
    history = history_frame(records, p) if history is None else history
    table = per_seed(records, p, fig, pd.concat([history, _history((fig, r) for r in control)]))
    rows = {}
    for c in [*(k for k in p.criteria if k in table.index.get_level_values(0)), RESTART]:
        x = table.loc[c]
        row = {"train acc (%)": round(x.train.mean(), 2), "val acc (%)": round(x.val.mean(), 2),
               "train - val (points)": round(x.gap.mean(), 2)}  # rounded here: the paired columns make it text
        if c != "none":
            row["train acc vs baseline (points)"] = _mean_se(_paired_to(table, "none", c, "train"))
        if c not in ("none", RESTART):
            row["train acc vs control (points)"] = _mean_se(_paired_to(table, RESTART, c, "train"))
        rows[CONTROL_NAME if c == RESTART else NAMES[c]] = row
    shown = pd.DataFrame.from_dict(rows, orient="index").fillna("")  # numeric columns stay numbers
    shown.attrs["control_seeds"] = len(control)  # for the claim's "over N seeds", without a second lookup
    return shown


def _mean_se(d: list[float]) -> str:
    """Paired differences as "mean ± SE over the seeds" (one seed: the difference alone)."""
    return f"{np.mean(d):+.2f} ± {seed_se(d):.2f}" if len(d) > 1 else f"{d[0]:+.2f}"


def _control_clause(records: Records, p: Params, fig: str, history: pd.DataFrame) -> str:
    """The training-cost row's note on our control (:func:`restart_control`): how much the restarts alone move the
    training accuracy, paired by seed with the baseline; empty where the control did not run."""
    table = restart_control(records, p, fig, history)
    if table.empty:
        return ""
    moved = table.loc[CONTROL_NAME, "train acc vs baseline (points)"]
    pruned = [(c, table.loc[NAMES[c], "train acc vs control (points)"]) for c in p.criteria
              if c != "none" and NAMES[c] in table.index]  # fmt: skip
    return (f"; our control, the baseline with the optimiser rebuilt at every block end as the pruned runs rebuild "
            f"it (no pruning), has {moved} points of training accuracy against the plain baseline, and the pruned "
            f"runs against the control " + ", ".join(f"{c[:3]}. {v}" for c, v in pruned)
            + f" (mean ± SE over {table.attrs['control_seeds']} seeds, paired)")


def speed(records: Records, p: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seconds per epoch of each full block of Figs. 2 and 3, and first / last block ratios."""
    history = history_frame(records, p)
    timing = history[history.figure.isin(["fig2", "fig3"])].copy()
    timing["block"] = (timing.epoch - 1) // timing.every
    per_block = timing.groupby(["figure", "criterion", "block"]).agg(
        filters=("filters", "first"), seconds_per_epoch=("seconds", "mean"), epochs=("epoch", "nunique"))
    per_block = per_block[per_block.epochs > 1].drop(columns="epochs")  # full blocks only (not a lone last epoch)
    table = per_block.groupby(["figure", "criterion"]).agg(
        first_block_s_per_epoch=("seconds_per_epoch", "first"), last_block_s_per_epoch=("seconds_per_epoch", "last"),
        filters_first=("filters", "first"), filters_last=("filters", "last"))  # fmt: skip
    table["last / first"] = table.last_block_s_per_epoch / table.first_block_s_per_epoch
    if "none" in table.index.get_level_values("criterion"):  # the unpruned run of the same figure, in the same
        base_last = table.xs("none", level="criterion").last_block_s_per_epoch  # block: same load on the machine
        table["last / baseline's last"] = table.last_block_s_per_epoch / base_last.reindex(
            table.index.get_level_values("figure")).to_numpy()
    return per_block, table


def _by_visit(history: pd.DataFrame, fig: str) -> pd.DataFrame:
    """The rows of figure ``fig`` in :func:`history_frame`'s frame, with the visit (1, 2, ...) each epoch belongs
    to: every dataset gets one block of ``every`` epochs per visit."""
    v = history[history.figure == fig].copy()
    v["visit"] = (v.epoch - 1) // v.every // v.n_datasets + 1
    return v


def _visit_peaks(history: pd.DataFrame, fig: str = "fig4") -> pd.Series:
    """Fig. 4 (``fig``: "fig4" or "fig4_standin"): the best validation accuracy (%) of each run on each dataset
    during each visit, indexed by (criterion, seed, data, visit), from :func:`history_frame`'s frame."""
    v = _by_visit(history, fig)
    return v.groupby(["criterion", "seed", "data", "visit"])["val_acc"].max()


def visit_gains(records: Records, p: Params, history: pd.DataFrame | None = None, fig: str = "fig4") -> pd.Series:
    """Fig. 4: each run's second visit's peak minus its first, averaged over the datasets, indexed by (criterion,
    seed): one value per seed, whose spread is the gain's measured uncertainty. ``history``: as :func:`per_seed`."""
    peaks = _visit_peaks(history_frame(records, p) if history is None else history, fig).unstack("visit")
    return (peaks[2] - peaks[1]).groupby(["criterion", "seed"]).mean()


def visits(records: Records, p: Params, history: pd.DataFrame | None = None, fig: str = "fig4") -> pd.DataFrame:
    """Fig. 4 (or ``fig``, its stand-in): the best validation accuracy of each dataset during each visit (mean over
    seeds). ``history``: as :func:`per_seed`."""
    peaks = _visit_peaks(history_frame(records, p) if history is None else history, fig)
    last = peaks.groupby(["criterion", "data", "visit"]).mean().unstack("visit")
    last.columns = [f"visit {k}: peak val acc (%)" for k in last.columns]
    if len(last.columns) > 1:
        last["visit 2 - visit 1 (points)"] = last.iloc[:, 1] - last.iloc[:, 0]
    return last


def visit_fit(records: Records, p: Params, history: pd.DataFrame | None = None, fig: str = "fig4") -> pd.DataFrame:
    """Fig. 4 (or ``fig``, its stand-in): the training accuracy (%) on each dataset in the last epoch of each visit
    (measured while training, in training mode; mean over seeds): whether a visit ended with its images fitted, or
    left the next visit more to learn."""
    v = _by_visit(history_frame(records, p) if history is None else history, fig)
    ends = v[v.epoch % v.every == 0]  # the last epoch of each block
    fit = ends.groupby(["criterion", "data", "visit"])["train_acc"].mean().unstack("visit")
    fit.columns = [f"visit {k}: train acc in its last epoch (%)" for k in fit.columns]
    return fit


#: the share (%) of the baseline's train-validation gap that pruning closes in the paper: its costs of about 10
#: training and 3-5 validation points close 5-7 of a gap of about 10 points
PAPER_GAP_CLOSED = (50.0, 70.0)


def _range_status(ours: float, se: float, low: float, high: float, runs: int) -> tuple[str, str]:
    """A size claim given as a range ("3 to 5 points"): judged against the range's nearest point."""
    status, reason = size_status(ours, min(max(ours, low), high), se, runs=runs, direction_holds=ours > 0)
    return status, reason.replace("the paper's", f"the paper's range {low:g}-{high:g}")


def _stability(history: pd.DataFrame, fig: str, claim: str, table: pd.DataFrame, pruned: list[str],
               scale_line: str) -> dict:
    """The report's "the pruned network's loss and accuracy are much less stable over epochs": a direction claim,
    one part per criterion and curve (validation accuracy, validation loss), each the pruned run's mean absolute
    change from one epoch to the next minus the baseline's; the SE is over seeds (paired), or with one seed over
    the epochs (the two runs' changes paired by epoch)."""
    h = history[history.figure == fig]
    parts, said = [], []
    for col, curve in (("val acc swing", "val_acc"), ("val loss swing", "val_loss")):
        for c in pruned:
            d = paired(table, c, col, sign=-1)
            if len(d) > 1:
                diff, se = float(np.mean(d)), seed_se(d)
            else:  # one run each: the epochs' paired changes
                swing = {k: h[h.criterion == k].sort_values("epoch").set_index("epoch")[curve].diff().abs()
                         for k in ("none", c)}  # fmt: skip
                per_epoch = (swing[c] - swing["none"]).dropna()
                diff, se = float(per_epoch.mean()), seed_se(per_epoch.tolist())
            parts.append(direction_status(diff, se, what=f"{c[:3]}. {col} minus the baseline's"))
        unit = " points" if col == "val acc swing" else ""
        said.append(f"{col}: baseline {table.loc['none', col].mean():.2f}{unit}, "
                    + ", ".join(f"{c[:3]}. {table.loc[c, col].mean():.2f}" for c in pruned))  # fmt: skip
    status, counted = compound_status(parts)
    runs_ = len(set(table.loc["none"].index))
    return {"claim": f"{claim}: the pruned runs' validation accuracy and loss are much less stable over epochs",
            "paper": "much less stable than without pruning", "this book": "; ".join(said) + " per epoch",
            "data and scale": scale_line, "status": status,
            "reason": f"{counted} (mean absolute change from one epoch to the next, pruned minus baseline; SE over "
                      + (f"{runs_} seeds" if runs_ > 1 else "the epochs, one run each") + "; 'much' is not judged): "
                      + "; ".join(r for _, r in parts)}


def _normalisation(records: Records, p: Params, shown: list[dict], scale_line: str) -> dict:
    """The report's "normalisation of the accumulated vectors does not have a significant impact": a size claim of
    zero, per criterion run both ways, on the training and the validation accuracy averaged over the epochs, the
    normalised run minus the other of the same seed (SE over seeds)."""
    claim, paper = ("Fig. 2: normalising the accumulated scores by their maximum has no significant impact",
                    "no significant impact (so only un-normalised runs are shown)")  # fmt: skip
    other = runs(records, p, "fig2", normalize=not p.normalize)
    crits = [c for c in dict.fromkeys(r["config"]["criterion"] for r in other) if c != "none"]
    if not crits:
        return _not_run(claim, paper, f"every run of the figure uses {'normalised' if p.normalize else 'un-normalised'} "
                        "scores only (parameter fig2_other_normalize names no criterion)", scale_line)  # fmt: skip
    mine = {(r["config"]["criterion"], r["config"]["seed"]): r for r in shown}
    parts, said, used = [], [], []
    for c in crits:
        pairs = [(mine[(c, r["config"]["seed"])], r) for r in other
                 if r["config"]["criterion"] == c and (c, r["config"]["seed"]) in mine]  # (chapter's, other) by seed
        used += [r for pair in pairs for r in pair]
        for col, name in (("train_acc", "training"), ("val_acc", "validation")):
            d = [(1 if p.normalize else -1) * 100 * (np.mean([h[col] for h in a["metrics"]["history"]])
                                                     - np.mean([h[col] for h in b["metrics"]["history"]]))
                 for a, b in pairs]  # fmt: skip
            status, why = size_status(float(np.mean(d)), 0.0, seed_se(d), runs=len(d), direction_holds=None)
            parts.append((status, f"{c[:3]}. {name}: {why}"))
            said.append(f"{c[:3]}. {name} {np.mean(d):+.2f}")
    n = len({r["config"]["seed"] for r in other})
    return {"claim": claim, "paper": paper, "this book": "; ".join(said) + " points (normalised minus not)",
            "data and scale": f"{scale_line}; {', '.join(crits)} also with normalised scores, {n} seed(s)",
            "status": weakest_status(st for st, _ in parts),
            "reason": "; ".join(r for _, r in parts) + " (accuracy averaged over the epochs, paired by seed, SE over "
                      "seeds; a size of zero: reproduced when zero lies within 2 SE, on 3 runs or more)",
            "records": run_keys(used)}


def _not_run(claim: str, paper: str, why: str, scale_line: str) -> dict:
    return {"claim": claim, "paper": paper, "this book": "not run", "data and scale": scale_line,
            "status": "not attempted", "reason": why, "records": NO_RECORDS}


def _timed_speed(rec: dict, scale_line: str) -> dict:
    """Fig. 2's speed-up from the alternating timing run: a direction claim (the pruned network's epoch is shorter),
    judged on the per-pair ratios; the paper's 0.74 is its hardware's, so the size is shown, not judged."""
    m, c = rec["metrics"], rec["config"]
    ratios = [b / a for a, b in zip(m["seconds"]["unpruned"], m["seconds"]["pruned"])]
    mean, se = float(np.mean(ratios)), seed_se(ratios)
    status, why = direction_status(mean - 1, se, expected_sign=-1, what="pruned / unpruned epoch time minus 1")
    return {"claim": "Fig. 2: a late epoch of the pruned network is faster than an early one",
            "paper": "14 / 19 minutes = 0.74",
            "this book": f"{mean:.3f} ± {se:.3f} ({m['filters']['pruned']:,} / {m['filters']['unpruned']:,} filters)",
            "data and scale": f"{scale_line}; epoch time of {c['train_images']} random 32 px inputs, the two "
                              f"networks alternating for {len(ratios)} pairs, {m['threads']} CPU thread(s), machine "
                              "otherwise idle",
            "status": status,
            "reason": f"{why} ({len(ratios)} paired epochs); the ratio's size depends on the hardware (the paper's "
                      "was timed on its own), so only the direction is judged",
            "records": run_keys([rec])}


PAPER_FILTERS = (4224, 3136)  # Fig. 2: VGG-16's filters before pruning, and in epochs 43-49 (after 6 steps)
PAPER_STEPS = 6  # the prunes before epoch 43 (every 7 epochs): the network of epochs 43-49
USED_READING = "floor(5 % of the layer's current filters)"  # the runs' reading (filter_pruning.filters_to_prune)


def eq1_readings(steps: int = 7) -> dict[str, list[int]]:
    """VGG-16's filter count before pruning and after each of ``steps`` steps of 5 %, under four readings of the
    report's Eq. (1) (the paper's arithmetic, not a run: the one count it reports, 3,136, is for exactly this
    network, share and schedule). The first is the one the runs use (:func:`cl_utils.filter_pruning.filters_to_prune`).
    """
    filters = [int(c) for c in VGG16_LAYOUT if c != "M"]  # filters per conv layer

    def trajectory(rule) -> list[int]:
        counts, totals = list(filters), [sum(filters)]
        for _ in range(steps):
            counts = [n - rule(n, n0) for n, n0 in zip(counts, filters)]
            totals.append(sum(counts))
        return totals

    readings = {
        USED_READING: trajectory(lambda n, n0: filters_to_prune(n, 5.0)),
        "round(5 % of the layer's current filters)": trajectory(lambda n, n0: round(0.05 * n)),
        "round(5 % of the layer's initial filters)": trajectory(lambda n, n0: round(0.05 * n0)),
        "5 % of the network's current total (spread over layers)": [round(sum(filters) * 0.95**k)
                                                                    for k in range(steps + 1)],
    }
    assert readings[USED_READING] == filter_count_trajectory(filters, 5.0, steps)
    return readings


def _count_status(n: int) -> tuple[str, str]:
    """The filter-count row's status and reason: our exact count against the paper's, and which readings of Eq. 1
    give the paper's count (the runs' reading was chosen because it does, so a match tests the reading)."""
    after = {name: totals[PAPER_STEPS] for name, totals in eq1_readings().items()}
    matching = [name for name, total in after.items() if total == PAPER_FILTERS[1]]
    others = ", ".join(f"{name}: {total:,}" for name, total in after.items() if name != USED_READING)
    which = "only this one gives" if matching == [USED_READING] else f"{len(matching)} give"
    equal = n == PAPER_FILTERS[1]
    return ("reproduced" if equal else "not reproduced",
            f"an exact count, {'equal to' if equal else 'unlike'} the paper's {PAPER_FILTERS[1]:,}: 5 % of each "
            f"layer's filters, rounded down per layer, removed every 7 epochs. Of four readings of Eq. 1, {which} the "
            f"paper's count after {PAPER_STEPS} steps (the others: {others}); the runs use it because it does, so "
            + ("the match confirms the reading more than it tests the method" if equal else
               "a different count means the runs did not prune as that reading says"))


def _fig2_count_and_speed(records: Records, p: Params, history: pd.DataFrame, shown: list[dict], c: dict,
                          scale_line: str) -> list[dict]:
    """Fig. 2's exact filter count in epochs 43-49 (read from one pruned run: the first at that epoch, of ``shown``,
    Fig. 2's runs) and its first / last block epoch times."""
    rows = []
    at49 = history[(history.figure == "fig2") & (history.criterion != "none") & (history.epoch == min(49, c["epochs"]))]
    if len(at49):
        first = at49.iloc[0]
        run = next(r for r in shown if (r["config"]["criterion"], r["config"]["seed"]) == (first.criterion, first.seed))
        n, total = int(first.filters), max(h["filters"] for h in run["metrics"]["history"])  # total: its first epoch's
        rows.append({"claim": "Fig. 2: filters left in the network of epochs 43-49",
                     "paper": f"{PAPER_FILTERS[1]:,} of {PAPER_FILTERS[0]:,}",
                     "this book": f"{n:,} of {total:,}", "data and scale": scale_line,
                     **dict(zip(("status", "reason"), _count_status(n))), "records": run_keys([run])})  # fmt: skip
    timed = records.where("epoch_time")
    if timed:
        rows.append(_timed_speed(timed[0], scale_line))
        return rows
    speed_table = speed(records, p)[1]
    pruned_speed = speed_table.xs("fig2", level="figure").drop("none", errors="ignore")
    if len(pruned_speed):
        base = (f" (baseline {speed_table.loc[('fig2', 'none'), 'last / first']:.2f}: load changed)"
                if ("fig2", "none") in speed_table.index else "")  # fmt: skip
        rows.append({"claim": "Fig. 2: a late epoch of the pruned network is faster than an early one",
                     "paper": "14 / 19 minutes = 0.74",
                     "this book": ", ".join(f"{c[:3]}. {v:.2f}" for c, v in pruned_speed["last / first"].items()) + base,
                     "data and scale": scale_line, "status": "inconclusive",
                     "reason": "measured, but on a shared 2-core machine whose load changed during the runs (the "
                               "unpruned baseline's own ratio moves too): the epoch times cannot separate the "
                               "pruning from the load; an idle machine alternating the two networks would",
                     "records": run_keys(shown)})  # Fig. 2's runs: the pruned ones and the baseline
    return rows


def _second_visit(records: Records, p: Params, history: pd.DataFrame, fig: str, shown: list[dict],
                  scale_line: str) -> dict:
    """Fig. 4's "overall, the datasets are learned better on their second visit, with or without pruning" (``fig``:
    "fig4" or its stand-in): a direction claim, one part per criterion, the mean over the datasets of each visit's
    peak against the first; the SE over seeds of each run's mean gain, or with one run the binomial SE of the
    validation images."""
    c_fig = common_config(shown)
    n_val, runs_, last = c_fig["val_images"], len({r["config"]["seed"] for r in shown}), visits(records, p, history, fig)
    per_run = visit_gains(records, p, history, fig)
    gains, said = [], []
    for c, per_data in last.groupby(level="criterion"):
        diffs = per_data["visit 2 - visit 1 (points)"]
        if runs_ > 1:  # the spread of the seeds' own mean gains
            se = seed_se(list(per_run.loc[c]))
        else:  # one run: both visits' peaks on n_val images, averaged over the datasets
            ses = [math.sqrt(2) * binomial_se(float(a), n_val) for a in per_data.iloc[:, 0]]
            se = math.sqrt(sum(x * x for x in ses)) / len(ses)
        gains.append(direction_status(float(diffs.mean()), se, what=f"{NAMES[c].split(' ')[0]}: mean gain"))
        said.append(f"{NAMES[c].split(' ')[0]}: {diffs.mean():+.2f} points on average, {(diffs > 0).sum()} of "
                    f"{len(diffs)} datasets higher")  # fmt: skip
    status, counted = compound_status(gains)
    return {"claim": f"{CLAIM_NAMES[fig]}: overall, datasets are learned better on their second visit, with or "
                     "without pruning",
            "paper": "overall, in both runs", "this book": "; ".join(said),
            "data and scale": scale_line, "status": status,
            "reason": f"{counted}, one part per criterion (the mean gain over the datasets, each visit's peak against "
                      "the first, " + (f"SE over {runs_} seeds of each run's mean gain" if runs_ > 1 else
                                       f"binomial SE of {n_val} validation images") + "): "
                      + "; ".join(r for _, r in gains),
            "records": run_keys(shown, [stage] if (stage := stage_record(records, shown[0]["config"])) else [])}


def claims(records: Records, p: Params) -> list[dict]:
    """The rows of the chapter's "paper vs. this book" table, each with a status earned by the shared rules of
    :mod:`cl_utils.verdicts`: with several seeds the standard error of the seeds' paired differences, with one
    run the binomial standard error of the images each accuracy is measured on (training and validation
    subsets), for both arms of a difference. Image counts, epochs and seeds are read from the records of each
    figure. Each row's ``records`` are the runs its numbers are read from (:func:`cl_utils.claims.run_keys`): a
    figure's runs, with the stand-in's pretraining stage, whose accuracy its rows' scale line quotes.
    """
    pruned = [c for c in p.criteria if c != "none"]
    shown = {fig: runs(records, p, fig) for fig in FIGURES}
    config = {fig: common_config(r) for fig, r in shown.items() if r}
    seeds = {fig: len({r["config"]["seed"] for r in rs}) for fig, rs in shown.items()}
    scale_of = scales(records, p)
    history = history_frame(records, p)
    curves = ("fig2", "fig3", "fig2_standin", "fig3_standin")  # the figures of the cost and gap claims
    gap_tables = {fig: gaps(records, p, fig) for fig in curves if shown[fig]}
    avg = lambda fig, c, col: float(gap_tables[fig].loc[NAMES[c], col])  # noqa: E731
    pair = lambda fig, col: ", ".join(f"{c[:3]}. {avg(fig, c, col):.1f}" for c in pruned)  # noqa: E731
    rows, standin_rows = [], []  # the stand-in's rows come last, after every row of the random-init runs
    for fig in curves:
        claim = CLAIM_NAMES[fig]
        if not shown[fig] or "none" not in p.criteria or not pruned:
            continue
        n_train, n_val, runs_ = config[fig]["train_images"], config[fig]["val_images"], seeds[fig]
        table = per_seed(records, p, fig, history)
        stage = stage_record(records, shown[fig][0]["config"])  # the stand-in's pretraining, or None
        used = run_keys(shown[fig], [stage] if stage else [])

        def measured(c: str, col: str, n: int | None = None) -> tuple[float, float]:
            """Baseline minus criterion ``c``: the mean of the seeds' paired differences and their SE (several
            seeds), or one run's difference with the binomial SE of ``n`` images for both runs."""
            d = paired(table, c, col)
            if len(d) > 1:
                return float(np.mean(d)), seed_se(d)
            if col == "gap":
                return d[0], combined_se(measured(c, "train", n_train)[1], measured(c, "val", n_val)[1])
            both = [binomial_se(float(table.loc[(k, table.loc[k].index[0]), col]), n) for k in ("none", c)]
            return d[0], combined_se(*both)

        how = lambda n, what: (f"SE over {runs_} seeds of the paired differences" if runs_ > 1 else  # noqa: E731
                               f"binomial SE of {n} {what} images, both runs")  # fmt: skip
        train = []
        for c in pruned:
            cost, se = measured(c, "train", n_train)
            train.append(size_status(cost, 10.0, se, runs=runs_, direction_holds=cost > 0))
        val = [_range_status(*measured(c, "val", n_val), 3.0, 5.0, runs=runs_) for c in pruned]
        base_gap = avg(fig, "none", "train - val (points)")
        closing = []  # the share of the baseline's gap that pruning closes, against the paper's 50-70 %
        for c in pruned:
            narrowed, se = measured(c, "gap")
            status, why = _range_status(100 * narrowed / base_gap, 100 * se / base_gap, *PAPER_GAP_CLOSED, runs=runs_)
            closing.append((status, f"narrowed by {narrowed:+.2f} points = {100 * narrowed / base_gap:.1f} % of the "
                                    f"baseline's gap: {why}"))  # fmt: skip
        explain = lambda parts: "; ".join(f"{c[:3]}. {r}" for c, (_, r) in zip(pruned, parts))  # noqa: E731
        (standin_rows if fig.endswith("_standin") else rows).extend([
            {"claim": f"{claim}: pruning costs about 10 points of training accuracy", "paper": "about 10 points",
             "this book": pair(fig, "train acc below baseline (points)") + " points",
             "data and scale": scale_of[fig], "status": weakest_status(st for st, _ in train),
             "reason": explain(train) + f" ({how(n_train, 'training')})" + _control_clause(records, p, fig, history),
             "records": run_keys(shown[fig], [stage] if stage else [], control_runs(records, p, fig))},
            {"claim": f"{claim}: pruning costs only 3 to 5 points of validation accuracy", "paper": "3 to 5 points",
             "this book": pair(fig, "val acc below baseline (points)") + " points",
             "data and scale": scale_of[fig], "status": weakest_status(st for st, _ in val),
             "reason": explain(val) + f" ({how(n_val, 'validation')})", "records": used},
            {"claim": f"{claim}: pruning closes the gap between training and validation accuracy",
             "paper": "about 10 points without pruning, balanced with it (its costs, 10 and 3-5 points, close 50-70 % "
                      "of the gap)", "this book":
             f"{base_gap:.1f} without, {pair(fig, 'train - val (points)')} with (points)",
             "data and scale": scale_of[fig], "status": weakest_status(st for st, _ in closing),
             "reason": explain(closing) + (f" (binomial SE of {n_train} training and {n_val} validation images, both "
                                           "runs)" if runs_ == 1 else f" ({how(0, '')})"), "records": used},
            _stability(history, fig, claim, table, pruned, scale_of[fig]) | {"records": used},
        ])  # fmt: skip
    if shown["fig2"]:
        rows += _fig2_count_and_speed(records, p, history, shown["fig2"], config["fig2"], scale_of["fig2"])
        rows += [
            _normalisation(records, p, shown["fig2"], scale_of["fig2"]),
            _not_run("Section 2.2.3: masking conv filters by a learned L0 norm deteriorated training significantly",
                     "significantly deteriorated training results",
                     "the report's L0-norm masking is not implemented here: it is described in one sentence, "
                     "without its gates, penalty or schedule", scale_of["fig2"]),
        ]  # fmt: skip
    for fig in ("fig4", "fig4_standin"):
        if shown[fig] and passes(config[fig]) > 1:
            (standin_rows if fig.endswith("_standin") else rows).append(
                _second_visit(records, p, history, fig, shown[fig], scale_of[fig]))
    return rows + standin_rows
