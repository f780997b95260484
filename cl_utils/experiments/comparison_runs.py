"""Chapter 06: the methods of chapters 00-04 on the same three task streams, side by side.

One run kind, ``train``: one method (in one configuration) learns one stream with one seed,
as a plain network, and records

* ``acc``: the accuracy matrix, ``acc[i][j]`` = test accuracy on task ``j`` after task ``i``
  (tasks seen so far only; joint training has one row, measured at the end);
* ``kept``: the parameters the method must keep to serve every task, in float32 equivalents
  (each method's ``parameters_kept``);
* ``capacity``: after each task, the share of the shared network the tasks so far own
  (PackNet: body weights; CLNP: hidden units), or, for Progressive Prune, the parameters of
  its columns and adapters so far relative to the shared network (it grows past 1).

Every method is its chapter's mechanism and schedule, one :class:`~cl_utils.methods.ContinualMethod` of the
method layer: fine-tuning and joint training (:mod:`cl_utils.baselines`, chapter 00), LwF
(:class:`cl_utils.lwf.LwF`, chapter 01), PackNet one-shot and iterative (Ball et al.'s Algorithm 1,
:class:`cl_utils.efficiency.PackingSchedule`, chapter 02), CLNP (:class:`cl_utils.clnp_schedule.CLNPSchedule`,
chapter 03) and Progressive Prune (:class:`cl_utils.progressive_schedule.ProgressivePrune`, chapter 04).
:data:`BUILDERS` builds each from a run's configuration and :func:`~cl_utils.methods.learn_stream` runs it.
What is adapted to the common streams is listed in :data:`.comparison_setup.ADAPTATIONS` (the chapter prints it).

A run's config is a :class:`StreamRun`, typed (:mod:`.run_config`): the subclass of its method
(:data:`METHOD_CONFIGS`) adds the method's settings.

Why one module (over 300 lines): one chapter's parameters, run configs, plan, streams and method builders,
read together (its report is :mod:`.comparison_report`).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Iterable, Sequence

import torch

from ..baselines import FineTune, Joint
from ..clnp import CLNP
from ..clnp_schedule import CLNPSchedule
from ..clnp_stack import CLNPStack
from ..efficiency import PackingSchedule
from ..lwf import LwF
from ..masks import count_parameters
from ..methods import ContinualMethod, learn_stream, learn_stream_per_model
from ..models import MultiHeadNet, mlp, stacked_mlp, stacked_zenke_cnn, zenke_cnn
from ..progressive_schedule import ProgressivePrune
from ..streams import Task, permuted_tasks, split_tasks
from ..train import TrainSettings, set_seed
from .data_cache import raw_dataset, task
from .stacking import member_fields, member_groups, member_views
from .runs import Run, RunContext, mlp_cost
from .params import ParameterError, param
from .params import Params as BaseParams
from .run_config import RunConfig, optional

CHAPTER = "06_comparison"
CODE_VERSION = 1

STREAMS = ("split_mnist", "permuted_mnist", "split_cifar10")
STREAM_NAMES = {"split_mnist": "Split MNIST", "permuted_mnist": "Permuted MNIST", "split_cifar10": "Split CIFAR-10"}
METHODS = ("fine-tune", "joint", "lwf", "packnet", "packnet-iterative", "clnp", "progressive")
METHOD_NAMES = {"fine-tune": "Fine-tune", "joint": "Joint", "lwf": "LwF", "packnet": "PackNet",
                "packnet-iterative": "PackNet iterative", "clnp": "CLNP", "progressive": "Progressive Prune"}
PRUNING = ("packnet", "packnet-iterative", "clnp", "progressive")  # methods that promise zero forgetting
PAIRS = [[2 * i, 2 * i + 1] for i in range(5)]
#: the methods whose seeds may train as one stacked network (:func:`seed_groups`)
STACKABLE = ("fine-tune", "joint", "lwf", "packnet", "packnet-iterative", "clnp", "progressive")
#: ... only on the MLP streams (CLNP's stack, :class:`~cl_utils.clnp_stack.CLNPStack`, holds a stacked MLP)
MLP_ONLY_STACKS = ("clnp",)
ZENKE_MACS = 27.0e6  # multiply-accumulates of one 32x32 image through zenke_cnn's body at width 1


@dataclasses.dataclass
class Params(BaseParams):
    streams: list[str] = param(list(STREAMS), "task streams", choices=STREAMS, min_length=1, unique=True)
    methods: list[str] = param(list(METHODS), "methods compared", choices=METHODS, min_length=1, unique=True)
    seeds: list[int] = param([0, 1, 2, 3, 4], "one run per seed, method, configuration and stream", min=0,
                            min_length=1, unique=True)  # fmt: skip
    stack_seeds: bool = param(True, "train the seeds of a configuration as one stacked network (every method on Split "
                              "MNIST and Split CIFAR-10, the rounds grid too, but CLNP on Split CIFAR-10; not Permuted "
                              "MNIST); off: one run per seed (a CPU gains nothing: CONTRIBUTING)")  # fmt: skip
    val_fraction: float = param(0.1, "share of each class held out (early choices of CLNP; reported only)",
                               min=0.01, max=0.5)  # fmt: skip
    # MLP streams: Split MNIST (5 two-class tasks), Permuted MNIST (10 tasks); MLP 784-256-256 (Zenke et al.)
    mlp_hidden: list[int] = param([256, 256], "hidden widths of the shared MLP", min=1, min_length=1)
    mlp_lr: float = param(1e-3, "Adam learning rate", min=1e-8, max=1.0)
    mlp_batch_size: int = param(128, "minibatch size", min=1, max=65536)
    split_mnist_epochs: int = param(10, "E, epochs per task on Split MNIST (chapter 00)", min=1, max=1000)
    permuted_tasks: int = param(10, "Permuted MNIST tasks (the first unpermuted)", min=2, max=50)
    permuted_epochs: int = param(20, "E, epochs per task on Permuted MNIST (chapter 03)", min=1, max=1000)
    # Split CIFAR-10 (5 two-class tasks): Zenke et al.'s conv net (chapter 03)
    cifar_width: float = param(1.0, "width multiplier of the conv net", min=1 / 32, max=8.0)
    cifar_train_per_class: int = param(0, "training images per class; 0 = all", min=0)
    cifar_lr: float = param(1e-3, "Adam learning rate", min=1e-8, max=1.0)
    cifar_batch_size: int = param(256, "minibatch size (chapter 03)", min=1, max=65536)
    cifar_epochs: int = param(60, "E, epochs per task (Zenke et al.'s split-CIFAR setting)", min=1, max=1000)
    # PackNet (chapters 01 and 02)
    packnet_free: list[float] = param([0.5, 0.9], "final free fractions p, one configuration each", min=0.01,
                                     max=0.999, min_length=1, unique=True)  # fmt: skip
    packnet_rounds: int = param(3, "N, pruning rounds of iterative PackNet (sharing the budget B)", min=2, max=100)
    # LwF (chapter 01)
    lwf_temperature: float = param(2.0, "distillation temperature", min=0.1, max=100.0)
    lwf_frozen_heads_streams: list[str] = param([], "streams where LwF with Adam also runs with its old heads frozen "
                                               "(a diagnostic of its collapse, not Li & Hoiem's LwF; none: not run)",
                                               choices=STREAMS, unique=True)  # fmt: skip
    # Fine-tuning and LwF also with the optimiser LwF's papers train with (SGD with momentum)
    baseline_optimizers: list[str] = param(["adam", "sgd"], "optimisers of fine-tuning and LwF, one configuration "
                                          "each", choices=("adam", "sgd"), min_length=1, unique=True)  # fmt: skip
    baseline_sgd_lr: float = param(0.01, "SGD learning rate of fine-tuning and LwF", min=1e-8, max=10.0)
    baseline_sgd_momentum: float = param(0.9, "SGD momentum of fine-tuning and LwF", min=0.0, max=0.999)
    # CLNP (chapter 03)
    clnp_mlp_lr: float = param(0.005, "Adam learning rate on the MLP streams (chapter 03's usual grid pick)",
                              min=1e-8, max=1.0)  # fmt: skip
    clnp_mlp_alpha: float = param(1e-4, "L1 strength of every layer on the MLP streams", min=0.0, max=1.0)
    clnp_mlp_margin: float = param(3.0, "graceful-forgetting margin on the MLP streams (points)", min=0.0, max=100.0)
    clnp_cifar_alphas: list[float] = param([1e-6, 1e-6, 1e-6, 1e-6, 1e-5, 1e-5], "L1: conv1-4, fc, output",
                                          min=0.0, min_length=6)  # fmt: skip
    clnp_cifar_margin: float = param(2.0, "margin on Split CIFAR-10 (points)", min=0.0, max=100.0)
    clnp_finetune_rounds: int = param(2, "fine-tuning rounds after pruning, each a quarter of E", min=0, max=10)
    # Progressive Prune (chapter 04)
    progressive_hidden: list[int] = param([128, 64], "hidden widths of every column", min=1, min_length=1)
    progressive_fractions: list[float] = param([0.5, 0.9], "pruning fractions p, one configuration each",
                                              min=0.0, max=0.999, min_length=1, unique=True)  # fmt: skip
    progressive_lr: float = param(0.1, "SGD learning rate", min=1e-8, max=10.0)
    progressive_momentum: float = param(0.5, "SGD momentum", min=0.0, max=0.999)
    progressive_batch_size: int = param(64, "minibatch size", min=1, max=65536)
    # Iterative against one-shot PackNet at one retraining budget (Ball et al., Fig. 2): its own runs
    rounds_streams: list[str] = param(["split_mnist", "split_cifar10"], "streams of the rounds grid (none: no "
                                     "grid)", choices=STREAMS, unique=True)  # fmt: skip
    rounds_grid: list[int] = param([1, 2, 3], "N, pruning rounds compared (1 = one-shot)", min=1, max=100,
                                  min_length=1, unique=True)  # fmt: skip
    rounds_free: list[float] = param([0.9, 0.95, 0.99], "final free fractions p of the rounds grid", min=0.01,
                                    max=0.999, min_length=1, unique=True)  # fmt: skip
    rounds_budget: int = param(6, "B, retraining epochs shared by the rounds (a multiple of every N; Ball et al.'s "
                                 "conv-net budget)", min=1, max=10000)  # fmt: skip
    rounds_seeds: list[int] = param([0, 1, 2, 3, 4], "seeds of the rounds grid", min=0, min_length=1, unique=True)

    def check(self) -> None:
        if len(self.clnp_cifar_alphas) != 6:
            raise ParameterError(f"parameter 'clnp_cifar_alphas' must hold 6 values (conv1-4, fc, output); "
                                 f"got {self.clnp_cifar_alphas!r}")  # fmt: skip
        if self.lwf_frozen_heads_streams:  # the diagnostic is read beside LwF with Adam on its stream: it needs both
            missing = [s for s in self.lwf_frozen_heads_streams if s not in self.streams]
            if "adam" not in self.baseline_optimizers or "lwf" not in self.methods or missing:
                raise ParameterError("parameter 'lwf_frozen_heads_streams' needs 'adam' in 'baseline_optimizers', "
                                     "'lwf' in 'methods' and each of its streams in 'streams' (streams missing: "
                                     f"{missing or 'none'}); set it to [] or add them")  # fmt: skip
        uneven = [n for n in self.rounds_grid if self.rounds_budget % n]
        if self.rounds_streams and uneven:
            raise ParameterError(f"parameter 'rounds_budget' ({self.rounds_budget}) must be a multiple of every N "
                                 f"in 'rounds_grid'; {uneven} do not divide it (each round gets B / N epochs)")


# -- the runs' configs -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StreamRun(RunConfig):
    """One method learning one stream with one seed: the stream, its shared network and training; each method's
    subclass adds its own settings (:data:`METHOD_CONFIGS`; a JSON config becomes the subclass its ``method`` names)."""

    stream: str
    val_fraction: float
    epochs: int
    lr: float  # the stream's Adam learning rate
    batch_size: int
    hidden: list[int] | None = optional()  # the MLP streams' hidden widths
    tasks: int | None = optional()  # permuted MNIST: its number of permutations
    width: float | None = optional()  # split CIFAR-10: the conv net's width multiplier
    per_class: int | None = optional()  # split CIFAR-10: training images per class (0: all)
    method: str
    seed: int  # the run's seed (a stacked run: its first seed, which seeds the draws of every model)
    seeds: list[int] | None = optional()  # the seeds trained together as one stacked network (absent: one)

    @classmethod
    def variant(cls, config):
        """The subclass of the config's ``method`` (:data:`METHOD_CONFIGS`)."""
        if config.get("method") not in METHOD_CONFIGS:
            raise TypeError(f"a run config of chapter 06 needs 'method', one of {', '.join(METHOD_CONFIGS)}; got "
                            f"{config.get('method')!r}")  # fmt: skip
        return METHOD_CONFIGS[config["method"]]

    def __post_init__(self) -> None:
        needed = {"split_cifar10": ("width", "per_class"), "permuted_mnist": ("hidden", "tasks")}.get(self.stream,
                                                                                                   ("hidden",))
        missing = [n for n in needed if getattr(self, n) is None]
        if missing:
            raise TypeError(f"a {self.stream} run needs {', '.join(map(repr, missing))}")


@dataclasses.dataclass(frozen=True)
class JointRun(StreamRun):
    """Joint training on every task at once (the upper reference)."""


@dataclasses.dataclass(frozen=True)
class FineTuneRun(StreamRun):
    """Fine-tuning, with the stream's Adam or (``optimizer = "sgd"``) SGD with momentum."""

    optimizer: str | None = optional()  # "sgd", or absent (the stream's Adam)
    sgd_lr: float | None = optional()
    momentum: float | None = optional()


@dataclasses.dataclass(frozen=True)
class LwfRun(FineTuneRun):
    """Learning without Forgetting: ``warmup`` epochs of the new head alone, distillation at ``temperature``."""

    warmup: int
    temperature: float
    train_old_heads: bool | None = optional()  # False: the diagnostic with the old heads frozen; absent: LwF


@dataclasses.dataclass(frozen=True)
class PackNetRun(StreamRun):
    """Ball et al.'s Algorithm 1: ``free`` left after ``rounds`` rounds of pruning sharing the budget B."""

    free: float
    rounds: int
    budget: int


@dataclasses.dataclass(frozen=True)
class ClnpRun(StreamRun):
    """Chapter 03's schedule on the shared network (fine-tuning fields absent: the chapter's first reading)."""

    clnp_lr: float
    alphas: list[float]
    margin: float  # accuracy points
    finetune_rounds: int
    finetune_epochs: int
    finetune_l1: bool | None = optional()
    end_on_finetune: bool | None = optional()
    normalise_units: bool | None = optional()


@dataclasses.dataclass(frozen=True)
class ProgressiveRun(StreamRun):
    """Chapter 04's Progressive Prune: a column of ``column`` widths per task, pruned by ``fraction``."""

    column: list[int]
    fraction: float
    sgd_lr: float
    momentum: float
    column_batch_size: int


#: each method's config type
METHOD_CONFIGS: dict[str, type[StreamRun]] = {
    "fine-tune": FineTuneRun, "joint": JointRun, "lwf": LwfRun, "packnet": PackNetRun,
    "packnet-iterative": PackNetRun, "clnp": ClnpRun, "progressive": ProgressiveRun}  # fmt: skip


# -- the plan -------------------------------------------------------------------------------------
def epochs(p: Params, stream: str) -> int:
    return {"split_mnist": p.split_mnist_epochs, "permuted_mnist": p.permuted_epochs,
            "split_cifar10": p.cifar_epochs}[stream]  # fmt: skip


def budget(p: Params, stream: str) -> int:
    """PackNet's retraining budget B: half of E, rounded to a multiple of N (one-shot and iterative share it)."""
    n = p.packnet_rounds
    return n * max(1, round(epochs(p, stream) / 2 / n))


def stream_config(p: Params, stream: str) -> dict:
    """What fixes a stream's tasks, its shared network and its training (every method's run has it)."""
    c = dict(stream=stream, val_fraction=p.val_fraction, epochs=epochs(p, stream))  # the fields of StreamRun
    if stream == "split_cifar10":
        return c | dict(width=p.cifar_width, per_class=p.cifar_train_per_class, lr=p.cifar_lr,
                        batch_size=p.cifar_batch_size)  # fmt: skip
    c |= dict(hidden=p.mlp_hidden, lr=p.mlp_lr, batch_size=p.mlp_batch_size)
    return c | {"tasks": p.permuted_tasks} if stream == "permuted_mnist" else c


def configurations(p: Params, stream: str, method: str) -> list[dict]:
    """The method's configurations on ``stream`` (its own settings; one per p for the pruning methods)."""
    if method == "joint":
        return [{}]
    if method in ("fine-tune", "lwf"):
        lwf = {"warmup": epochs(p, stream) // 4, "temperature": p.lwf_temperature} if method == "lwf" else {}
        sgd = {"optimizer": "sgd", "sgd_lr": p.baseline_sgd_lr, "momentum": p.baseline_sgd_momentum}
        confs = [lwf | (sgd if o == "sgd" else {}) for o in p.baseline_optimizers]  # Adam: the first reading's keys
        if method == "lwf" and stream in p.lwf_frozen_heads_streams:  # the diagnostic (Adam), keyed by its flag
            confs.append(lwf | {"train_old_heads": False})
        return confs
    if method in ("packnet", "packnet-iterative"):
        rounds = 1 if method == "packnet" else p.packnet_rounds
        return [{"free": f, "rounds": rounds, "budget": budget(p, stream)} for f in p.packnet_free]
    if method == "clnp":
        finetune = dict(finetune_rounds=p.clnp_finetune_rounds, finetune_epochs=max(1, epochs(p, stream) // 4),
                        finetune_l1=False, end_on_finetune=True, normalise_units=True)  # chapter 03's procedure
        if stream == "split_cifar10":
            return [dict(clnp_lr=p.cifar_lr, alphas=p.clnp_cifar_alphas, margin=p.clnp_cifar_margin, **finetune)]
        return [dict(clnp_lr=p.clnp_mlp_lr, alphas=[p.clnp_mlp_alpha] * (len(p.mlp_hidden) + 1),
                     margin=p.clnp_mlp_margin, **finetune)]  # fmt: skip
    return [dict(column=p.progressive_hidden, fraction=f, sgd_lr=p.progressive_lr, momentum=p.progressive_momentum,
                 column_batch_size=p.progressive_batch_size) for f in p.progressive_fractions]  # fmt: skip


def is_diagnostic(c: dict) -> bool:
    """Whether a run's config is the diagnostic LwF with its old heads frozen (not one of the methods compared)."""
    return c.get("train_old_heads") is False


def label(method: str, c: dict) -> str:
    """How tables and figures name a configuration: 'PackNet iterative (N=3) p=0.9', 'LwF (SGD)'."""
    name = METHOD_NAMES[method]
    if is_diagnostic(c):
        return f"{name} (Adam, old heads frozen; diagnostic)"
    if c.get("optimizer") == "sgd" and method in ("fine-tune", "lwf"):
        return f"{name} (SGD)"
    if method == "packnet-iterative":
        name += f" (N={c['rounds']})"
    if "free" in c:
        return f"{name} p={c['free']:g}"
    return f"{name} p={c['fraction']:g}" if "fraction" in c else name


def datasets(stream: str) -> tuple[str, ...]:
    return ("cifar10",) if stream == "split_cifar10" else ("mnist",)


def num_tasks(c: StreamRun) -> int:
    """Tasks of the run's stream: the class pairs, or ``tasks`` permutations."""
    return c.tasks if c.stream == "permuted_mnist" else len(PAIRS)


def _cost(c: StreamRun) -> float:
    """Rough multiply-accumulates of a run (for --list and time estimates)."""
    if c.stream == "split_cifar10":
        per_task = 2 * (c.per_class or 5000) * (1 - c.val_fraction)
    else:  # MNIST: 60,000 training images, split into pairs or permuted whole
        per_task = 60_000 * (1 - c.val_fraction) / (1 if c.stream == "permuted_mnist" else len(PAIRS))
    factor = {"lwf": 1.5, "clnp": 2.0, "progressive": 0.5}.get(c.method, 1)
    if isinstance(c, PackNetRun):  # E epochs per task, then the retraining budget B
        factor = 1 + c.budget / c.epochs
    passes = per_task * num_tasks(c) * c.epochs * factor * len(c.seeds or [c.seed])  # a stacked run: every seed
    if c.stream == "split_cifar10":
        return 3.0 * ZENKE_MACS * c.width ** 2 * passes
    return mlp_cost(784, c.hidden, 10, passes, 1)


def rounds_configurations(p: Params, stream: str) -> list[dict]:
    """The rounds grid on ``stream``: PackNet with N rounds sharing one budget B, for every N and p (Ball et al.'s
    Algorithm 1; N = 1 is one-shot PackNet)."""
    return [{**stream_config(p, stream), "method": "packnet-iterative" if n > 1 else "packnet", "free": f,
             "rounds": n, "budget": p.rounds_budget} for f in p.rounds_free for n in p.rounds_grid]  # fmt: skip


def plan(p: Params) -> list[Run]:
    """Every (stream, method, configuration, seed), MLP streams first (the conv stream is the slowest); then
    the rounds grid (kind ``rounds``)."""
    runs = []
    for stream in p.streams:
        for method in p.methods:
            for extra in configurations(p, stream, method):
                c = {**stream_config(p, stream), "method": method, **extra}
                typed = [StreamRun.from_config(c | member_fields(g)) for g in seed_groups(p, stream, method, p.seeds)]
                runs += [Run("train", t, datasets(stream), _cost(t), f"{STREAM_NAMES[stream]}: {label(method, c)}, "
                             f"{_seeds_label(t)}") for t in typed]  # fmt: skip
    for stream in p.rounds_streams:
        for c in rounds_configurations(p, stream):
            groups = seed_groups(p, stream, c["method"], p.rounds_seeds)
            typed = [PackNetRun.from_config(c | member_fields(g)) for g in groups]
            runs += [Run("rounds", t, datasets(stream), _cost(t), f"{STREAM_NAMES[stream]} rounds grid: N={t.rounds} "
                         f"p={t.free:g}, {_seeds_label(t)}") for t in typed]  # fmt: skip
    return runs


def seed_groups(p: Params, stream: str, method: str, seeds: Sequence[int]) -> list[list[int]]:
    """The seeds trained together: all of them as one stacked network (``stack_seeds``, two or more seeds, a
    :data:`STACKABLE` method, not Permuted MNIST, whose seeds draw their own permutations of the input, and for a
    method of :data:`MLP_ONLY_STACKS` not the conv stream), else one run per seed."""
    stackable = method in STACKABLE and stream != "permuted_mnist" and not (method in MLP_ONLY_STACKS and
                                                                           stream == "split_cifar10")  # fmt: skip
    return member_groups(seeds, p.stack_seeds and stackable)


def _seeds_label(c: StreamRun) -> str:
    return f"seeds {c.seeds} stacked" if c.seeds else f"seed {c.seed}"


# -- streams and the shared network -----------------------------------------------------------------
def stream_tasks(c: StreamRun, data_source: str, device: torch.device | str = "cpu") -> list[Task]:
    """The run's tasks: MNIST or CIFAR-10 class pairs, or MNIST under ``tasks`` pixel permutations of the seed."""
    if c.stream == "split_cifar10":
        base = task("cifar10", data_source, device, val_fraction=c.val_fraction, seed=0,
                    train_per_class=c.per_class)  # fmt: skip
        return split_tasks(base, PAIRS)
    base = task("mnist", data_source, device, val_fraction=c.val_fraction, seed=0)
    if c.stream == "split_mnist":
        return split_tasks(base, PAIRS)
    return permuted_tasks(base, c.tasks, seed=1000 + c.seed)


def network(c: StreamRun, tasks: Sequence[Task]) -> MultiHeadNet:
    """The shared network of every method but Progressive Prune: one head per task; a stacked run's stacks one
    such network per seed."""
    heads, models = [t.num_classes for t in tasks], len(c.seeds or [c.seed])
    if c.stream == "split_cifar10":
        return stacked_zenke_cnn(models, heads, width=c.width) if c.seeds else zenke_cnn(heads, width=c.width)
    if c.seeds:
        return stacked_mlp(models, math.prod(tasks[0].input_shape), c.hidden, heads)
    return mlp(math.prod(tasks[0].input_shape), c.hidden, heads)


# -- the methods: each built from its configuration, then learn_stream ------------------------------
def _settings(c: StreamRun) -> TrainSettings:
    """The stream's Adam, or SGD with momentum where the configuration asks for it (fine-tuning and LwF). A stacked
    run's loss averages over its models, so each model's gradient is 1/S of its own: SGD's rate is S times (Adam's
    step does not depend on the gradient's scale, up to its epsilon)."""
    if isinstance(c, FineTuneRun) and c.optimizer == "sgd":
        return TrainSettings(c.epochs, c.batch_size, "sgd", c.sgd_lr * len(c.seeds or [c.seed]), c.momentum)
    return TrainSettings(c.epochs, c.batch_size, "adam", c.lr)


def build_finetune(c: FineTuneRun, tasks: Sequence[Task], ctx: RunContext) -> FineTune:
    generator = set_seed(c.seed)  # before the network: it draws its initial weights
    return FineTune(network(c, tasks).to(ctx.device), _settings(c), generator=generator, show_progress=ctx.show_progress)


def build_joint(c: JointRun, tasks: Sequence[Task], ctx: RunContext) -> Joint:
    generator = set_seed(c.seed)
    return Joint(network(c, tasks).to(ctx.device), _settings(c), len(tasks), generator=generator,
                 show_progress=ctx.show_progress)  # fmt: skip


def build_lwf(c: LwfRun, tasks: Sequence[Task], ctx: RunContext) -> LwF:
    generator = set_seed(c.seed)
    return LwF(network(c, tasks).to(ctx.device), _settings(c), warmup_epochs=c.warmup, temperature=c.temperature,
               train_old_heads=c.train_old_heads is not False, generator=generator,
               show_progress=ctx.show_progress)  # fmt: skip


def build_packnet(c: PackNetRun, tasks: Sequence[Task], ctx: RunContext) -> PackingSchedule:
    """Ball et al.'s Algorithm 1 (chapter 02), one-shot or iterative (``rounds``)."""
    generator = set_seed(c.seed)
    return PackingSchedule("packnet", network(c, tasks).to(ctx.device), _settings(c), len(tasks),
                           retrain_budget=c.budget, rounds=c.rounds, final_free=c.free, generator=generator,
                           show_progress=ctx.show_progress)  # fmt: skip


def build_clnp(c: ClnpRun, tasks: Sequence[Task], ctx: RunContext) -> CLNPSchedule:
    """Chapter 03's schedule on the shared network (multi-head), no task-1 grid. Configurations without the
    fine-tuning fields are the chapter's first reading (L1 on while fine-tuning, a re-prune after the last round).
    A stacked run's seeds are the models of a :class:`~cl_utils.clnp_stack.CLNPStack` (an MLP stream's)."""
    set_seed(c.seed)
    net = network(c, tasks).to(ctx.device)
    clnp = CLNPStack(net, math.prod(tasks[0].input_shape), c.hidden, [t.num_classes for t in tasks]) if c.seeds \
        else CLNP(net)
    return CLNPSchedule(clnp, TrainSettings(c.epochs, c.batch_size, "adam", c.clnp_lr), alphas=c.alphas,
                        margin=c.margin / 100, finetune_iterations=c.finetune_rounds,
                        finetune=TrainSettings(c.finetune_epochs, c.batch_size, "adam", c.clnp_lr),
                        seed=c.seed, finetune_l1=c.finetune_l1 is not False,
                        end_on_finetune=bool(c.end_on_finetune), normalise_units=bool(c.normalise_units))  # fmt: skip


def build_progressive(c: ProgressiveRun, tasks: Sequence[Task], ctx: RunContext) -> ProgressivePrune:
    """Chapter 04's Algorithm 1: a column per task, pruned and retrained; capacity relative to the shared network.
    A stacked run's seeds are the models of one ``ProgressiveNet(models=S)`` (chapter 04's stack), SGD's rate S
    times (the stacked loss averages over them)."""
    plain = dataclasses.replace(c, seeds=None)
    with torch.random.fork_rng():  # the shared network is built only to be counted (one seed's)
        shared = float(count_parameters(network(plain, tasks)).total)
    models = len(c.seeds or [c.seed])
    settings = TrainSettings(c.epochs, c.column_batch_size, "sgd", c.sgd_lr, c.momentum).for_models(models)
    return ProgressivePrune(math.prod(tasks[0].input_shape), [c.column] * len(tasks), settings, adapter="learned",
                            prune_fractions=[c.fraction] * len(tasks), retrain_epochs=c.epochs, seed=c.seed,
                            show_progress=ctx.show_progress, reference_size=shared, models=models)  # fmt: skip


#: the methods compared: each builds its :class:`~cl_utils.methods.ContinualMethod` from a run's configuration
BUILDERS: dict[str, Callable[[StreamRun, Sequence[Task], RunContext], ContinualMethod]] = {
    "fine-tune": build_finetune, "joint": build_joint, "lwf": build_lwf, "packnet": build_packnet,
    "packnet-iterative": build_packnet, "clnp": build_clnp, "progressive": build_progressive}  # fmt: skip


def run_train(c: StreamRun, ctx: RunContext) -> dict:
    """One method in one configuration on one stream with one seed; ``train_seconds`` times the method alone
    (the record's ``wall_seconds`` also counts building the stream, which the first run of a process pays).
    A stacked run (``seeds``) trains them as one network: ``per_seed`` holds each seed's result, in order."""
    tasks = stream_tasks(c, ctx.data_source, ctx.device)
    start = time.perf_counter()
    method = BUILDERS[c.method](c, tasks, ctx)
    out = learn_stream_per_model(method, tasks) if c.seeds else learn_stream(method, tasks)
    seconds = time.perf_counter() - start
    return {"per_seed": out, "train_seconds": seconds} if c.seeds else out | {"train_seconds": seconds}


def seed_views(records: Iterable[dict]) -> list[dict]:
    """The records as one per seed: a stacked run's record (``seeds``) becomes one view per seed, its config with
    that ``seed`` (and ``stacked_with``, the stack's seeds), its metrics that seed's, with the stack's
    ``train_seconds`` shared evenly; the view keeps the stack's ``key``. Other records pass as they are."""
    return member_views(records, members="seeds", member="seed", results="per_seed", shared=("train_seconds",))


RUNNERS = {"train": run_train, "rounds": run_train}


def task_table(p: Params):
    """Each stream's tasks and split sizes (built on the CPU)."""
    import pandas as pd

    rows = []
    for stream in p.streams:
        c = JointRun.from_config(stream_config(p, stream) | {"method": "joint", "seed": p.seeds[0]})
        first = stream_tasks(c.replace(tasks=1) if c.tasks else c, p.data_source)[0]  # one permutation: the sizes
        name = datasets(stream)[0]
        rows.append({"stream": STREAM_NAMES[stream], "data": f"{name} ({raw_dataset(name, p.data_source).source})",
                     "tasks": num_tasks(c), "classes per task": first.num_classes,
                     "train per task": len(first.y_train), "validation per task": len(first.y_val),
                     "test per task": len(first.y_test)})  # fmt: skip
    return pd.DataFrame(rows).set_index("stream")
