"""Chapter 01's records: which runs belong where, what they measured, and how to describe them.

The selection helpers (the PackNet runs of a schedule, the LwF runs, the pruned initial networks) and the scale
line every figure, table and claim row carries. Errors are top-1 test errors in %. The scale lines read the
records (their ``config`` and ``data``), never the parameters the notebook was run with, so a caption cannot
describe other runs than the ones it shows; the parameters only say which records belong where.
"""
from __future__ import annotations

import functools
from collections import Counter
from typing import Iterable

from . import describe
from .cache import checkpoint_mismatches, is_record_input
from .describe import distinct, synthetic
from .runs import Records
from .stacking import any_stacked, member_views
from .packnet_runs import Params

__all__ = ["err", "schedule_name", "network_runs", "chapter_runs", "chapter_network", "fig4_seeds", "tasks",
           "synthetic", "carved", "label", "scale", "initial_error", "pruned", "packnet", "started_from", "by_order",
           "run_views", "final_errors", "lwf", "singles", "single"]


def err(acc: float) -> float:
    return 100.0 * (1.0 - acc)


def schedule_name(schedule: list[float]) -> str:
    return f"PackNet {', '.join(f'{f:.2f}' for f in schedule)}"


# ------------------------------------------------------------------------------------------ seeds of the network
def network_runs(records: Records, seed: int, variant: str | None = None) -> Records:
    """The runs made from one initial network, named by its seed and its ``variant`` (every run's config carries
    the seed; only a variant's runs carry ``network_variant``): the chapter's own (its ``seed``, no variant),
    Figure 4's from another seed (``fig4_seeds``), or Table 2's like-for-like runs without batch-norm
    (:data:`.packnet_runs.WITHOUT_BN`)."""
    return Records([r for r in records
                    if r["config"]["seed"] == seed and r["config"].get("network_variant") == variant])


def chapter_runs(records: Records, p: Params) -> Records:
    """The runs of the chapter's own initial network (its ``seed``, no variant)."""
    return network_runs(records, p.seed)


def chapter_network(fn):
    """Hand ``fn(records, p, ...)`` only the runs of the chapter's own initial network (:func:`chapter_runs`): the
    other networks' runs (Figure 4's seeds, Table 2 without batch-norm) are read where asked for."""

    @functools.wraps(fn)
    def on_chapter_network(records: Records, p: Params, *args, **kwargs):
        return fn(chapter_runs(records, p), p, *args, **kwargs)

    return on_chapter_network


def fig4_seeds(records: Records, p: Params) -> list[Records]:
    """Figure 4's runs, one :class:`Records` per seed of the initial network: the chapter's ``seed`` first, then each
    of ``fig4_seeds`` whose initial network, weight-pruned stages and added tasks' Fig. 4 runs are all recorded."""
    out = []
    for seed in [p.seed, *p.fig4_seeds]:
        runs = network_runs(records, seed)
        fig4 = runs.where("fig4")
        fractions = {f for r in fig4 for f in r["config"]["fractions"]}
        if runs.where("initial") and fig4 and len(fig4) == len(fig4[0]["config"]["added_datasets"]) \
                and fractions <= {r["config"]["fraction"] for r in runs.where("initial_pruned", rule="weights")}:
            out.append(runs)
    return out


# ------------------------------------------------------------------------------- what the records say of themselves
def tasks(records: Records) -> list[str]:
    """The initial task, then the added tasks, as the records name them (every run of the chapter shares them)."""
    c = records.one("initial")["config"]
    return [c["initial_dataset"], *c["added_datasets"]]


def carved(shown: list[dict]) -> list[str]:
    """The datasets of these records whose training images were carved from their test split (KMNIST offline)."""
    return describe.carved(shown, dict.fromkeys(d["dataset"] for r in shown for d in r["data"]))


def label(name: str, stand_ins: list[str]) -> str:
    """Dataset name for tables and axes; * marks a partial stand-in (see the scale lines)."""
    return f"{name}*" if name in stand_ins else name


def _runs_per_order(shown: list[dict]) -> str:
    # a PackNet or LwF configuration is its whole config but the run index (so per network: its seed and variant;
    # the scale trend shows one run per order of each of its networks): the runs of one order of it are counted
    runs = Counter((r["kind"], repr(sorted((k, v) for k, v in r["config"].items() if k not in ("run", "stacked_with"))))
                   for r in shown if r["kind"] in ("packnet", "lwf"))  # fmt: skip
    network = lambda c: (c["seed"], c.get("network_variant"))  # noqa: E731
    baselines = Counter((network(r["config"]), r["config"]["method"], r["config"]["dataset"])
                        for r in shown if r["kind"] == "single_task")  # fmt: skip
    single = f"Classifier Only / Individual Networks {distinct(sorted(set(baselines.values())))} run(s) per task"
    if runs:
        stacked = ", an order's runs stacked as one network" if any_stacked(shown) else ""
        line = f"{distinct(sorted(set(runs.values())))} run(s)/order{stacked}"
    else:
        seeds = len({r["config"]["seed"] for r in shown})  # Figure 4 from several seeds of the initial network
        each = f"one run per seed of the initial network, {seeds} seeds" if seeds > 1 else "one run each"
        return single if baselines and max(baselines.values()) > 1 else each
    return f"{line}; {single}" if baselines and max(baselines.values()) > 1 else line


def scale(shown: list[dict]) -> str:
    """The data and scale of the records ``shown``: data, network, epochs, batch, runs per order of PackNet."""
    if not shown:
        return "no run"
    cs, stand_ins = [r["config"] for r in shown], carved(shown)
    data = "SYNTHETIC stand-in data (tests only)" if synthetic(shown) else "real data"
    if stand_ins:
        data += f"; *{', '.join(stand_ins)}: partial stand-in, training images carved from its test split"
    net = distinct(f"x{c['width']:g}{' +BN' if c['batch_norm'] else ''}, fc {c['fc_widths']}" for c in cs)
    # PackNet trains then retrains each added task; LwF only trains (its config's retrain_epochs is unused)
    added = distinct(f"{r['config']['finetune_epochs']}+{r['config']['retrain_epochs']}" for r in shown
                     if "finetune_epochs" in r["config"] and r["kind"] != "lwf")  # fmt: skip
    lwf = distinct(r["config"]["finetune_epochs"] for r in shown if r["kind"] == "lwf")
    epochs = (f"initial {distinct(c['initial_epochs'] for c in cs)} ep" + (f", added tasks {added} ep" if added else "")
              + (f", LwF {lwf} ep" if lwf else ""))  # fmt: skip
    per_class = lambda key: distinct(c[key] or "all" for c in cs)  # noqa: E731 (0 = all)
    images = (f"images/class: initial {per_class('initial_train_per_class')}, added {per_class('train_per_class')}, "
              f"test {per_class('test_per_class')}")  # fmt: skip
    return (f"{data}; {images}; VGG-16 layout {net}; {epochs}, batch {distinct(c['batch_size'] for c in cs)}; "
            f"{_runs_per_order(shown)}{_rebuilt(shown)}")  # fmt: skip


def _rebuilt(shown: list[dict]) -> str:
    """Where some of ``shown`` started from another state than the one their stage's record (also shown)
    describes, e.g. an initial network rebuilt on a CPU with other vector instructions: how many."""
    mismatched = set(checkpoint_mismatches(shown)[0])
    if not mismatched:
        return ""
    readers = sum(1 for r in shown if any(k != r["key"] and not is_record_input(d) for k, d in (r.get("inputs") or {}).items()))
    return (f"; {len(mismatched)} of these {readers} runs started from a rebuilt initial network, not the recorded "
            "one (same recipe, other rounding)")


# ------------------------------------------------------------------------------------------------------ the runs
def initial_error(records: Records) -> float:
    return err(records.one("initial")["metrics"]["test_acc"])


def pruned(records: Records) -> dict[float, dict]:
    """The metrics of the initial network pruned by weights and retrained, keyed by the records' fractions."""
    runs = sorted(records.where("initial_pruned", rule="weights"), key=lambda r: r["config"]["fraction"])
    return {r["config"]["fraction"]: r["metrics"] for r in runs}


def started_from(records: Records, runs: list[dict], fraction: float) -> list[dict]:
    """Those of ``runs`` that started from the very state the weight-pruned initial network's record describes
    (the digest it stored of its checkpoint); a run that started from a checkpoint rebuilt elsewhere is left out."""
    stage = records.one("initial_pruned", rule="weights", fraction=fraction)
    own = stage.get("inputs", {}).get(stage["key"])
    return [r for r in runs if own is not None and r.get("inputs", {}).get(stage["key"]) == own]


def run_views(runs: Iterable[dict]) -> list[dict]:
    """The PackNet records as one per run: a stacked run's record (config ``runs``) becomes one view per run, its
    config with that ``run`` (and ``stacked_with``, the stack's runs), its metrics that run's; each view keeps the
    stack's ``key`` and inputs. Other records pass as they are."""
    return member_views(runs, members="runs", member="run", results="per_run")


def packnet(records: Records, schedule: list[float], separate_biases: bool = False,
            batchnorm_per_task: bool = False) -> list[dict]:  # fmt: skip
    """The PackNet runs of one schedule, every order and run (one per run where runs were stacked,
    :func:`run_views`), in the plan's order (with task 1's frozen batch-norm unless ``batchnorm_per_task``)."""
    return [r for r in run_views(records.where("packnet", schedule=list(schedule), separate_biases=separate_biases))
            if r["config"].get("batchnorm_per_task", False) == batchnorm_per_task]


def by_order(records: Records, schedule: list[float], separate_biases: bool = False,
             batchnorm_per_task: bool = False) -> dict[tuple, dict[str, float]]:  # fmt: skip
    """Final error (%) of each added task, keyed by (order of the added tasks, run)."""
    out = {}
    for rec in packnet(records, schedule, separate_biases, batchnorm_per_task):
        final = rec["metrics"]["steps"][-1]["accuracies"]  # initial task first, then the order
        out[(tuple(rec["config"]["order"]), rec["config"]["run"])] = {
            name: err(acc) for name, acc in zip(rec["config"]["order"], final[1:])}
    return out


def final_errors(records: Records, schedule: list[float], separate_biases: bool = False,
                 batchnorm_per_task: bool = False) -> dict[str, list[float]]:  # fmt: skip
    """Final error (%) of each added task, one value per PackNet run (every order and run)."""
    runs = by_order(records, schedule, separate_biases, batchnorm_per_task).values()
    return {d: [e[d] for e in runs] for d in tasks(records)[1:]}


def lwf(records: Records, p: Params, bn_stats: str = "frozen", lr: float | None = None,
        schedule: str | None = None) -> list[dict]:  # fmt: skip
    """The LwF runs with ``bn_stats`` at learning rate ``lr`` on ``schedule`` (None: the added tasks' schedule;
    "paper": the paper's 20 epochs, run beside a shorter preset); by default the first of ``p.lwf_lrs`` on the added
    tasks' schedule, the LwF of every claim (the paper's 1e-3 at the default)."""
    return records.where("lwf", bn_stats=bn_stats, finetune_lr=p.lwf_lrs[0] if lr is None else lr,
                         lwf_schedule=schedule)  # fmt: skip


def singles(records: Records, method: str, dataset: str) -> list[float]:
    """Test error (%) of each run of Classifier Only or of an Individual Network on ``dataset``."""
    runs = records.where("single_task", method=method, dataset=dataset)
    if not runs:
        raise LookupError(f"no single_task record of {method} on {dataset}")
    return [err(r["metrics"]["test_acc"]) for r in runs]


def single(records: Records, method: str, dataset: str) -> float:
    """Mean test error (%) over the runs of Classifier Only or of an Individual Network on ``dataset``."""
    errors = singles(records, method, dataset)
    return sum(errors) / len(errors)
