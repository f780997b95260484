"""cl_utils: the shared helpers of the book *Pruning to Remember*.

One module per concern; the names chapters use are re-exported here:

* :mod:`cl_utils.data`: datasets as uint8 tensors (cache, torchvision, synthetic for tests).
* :mod:`cl_utils.transforms`: normalisation, grey→RGB, 28↔32 px, subsets, validation splits.
* :mod:`cl_utils.streams`: task streams (permuted, split, flipped, dataset sequences).
* :mod:`cl_utils.batches`: minibatches as index slices of device-resident tensors.
* :mod:`cl_utils.models`: MLPs, the papers' small conv nets, VGG-16 for 32 px; one head per task.
* :mod:`cl_utils.masks`: magnitude pruning, masked forward passes, bit-exact freezing, parameter counts.
* :mod:`cl_utils.train`: the training loop, evaluation, seeding, devices.
* :mod:`cl_utils.baselines`: fine-tuning in sequence and joint training, the reference points.
* :mod:`cl_utils.packnet`: PackNet (Mallya & Lazebnik 2018): ownership, pruning, masked inference.
* :mod:`cl_utils.lwf`: Learning without Forgetting, PackNet's baseline.
* :mod:`cl_utils.efficiency`: Ball et al. (2020): iterative PackNet on a budget, Memory, Multinet (their
  schedule over a stream), matching.
* :mod:`cl_utils.methods`: the one contract every method meets (learn a task, answer a task, what it keeps)
  and ``learn_stream``, the loop that runs any of them.
* :mod:`cl_utils.clnp`: Continual Learning via Neural Pruning (Golkar et al. 2019): units, ownership, interference.
* :mod:`cl_utils.graceful_forgetting`: CLNP's θ scan, the threshold that prunes most within the margin.
* :mod:`cl_utils.clnp_schedule`: CLNP's per-task schedule, its grid selection, and the method over a stream.
* :mod:`cl_utils.progressive`: progressive networks with lateral adapters, pruned (Nicholls & Dasgupta).
* :mod:`cl_utils.progressive_schedule`: their Algorithm 1 over a stream, a column per task.
* :mod:`cl_utils.filter_pruning`: iterative conv-filter pruning with physical removal (Salcedo & Sharma).
* :mod:`cl_utils.experiments`: every chapter's runs: typed parameters, plans, run functions, the run cache
  (records under ``data/results/<chapter>/``).
* :mod:`cl_utils.reproduce`: ``python -m cl_utils.reproduce CHAPTER``, the chapters' runs without Jupyter.
* :mod:`cl_utils.metrics`: average accuracy, backward transfer, mean ± s.e.m. (and as text).
* :mod:`cl_utils.plots`: the book's figure style, heat maps, "paper vs. this book" tables.
* :mod:`cl_utils.validate`: checks of papermill parameters.
"""
from .baselines import finetune_sequence, train_head_only, train_jointly
from .data import DATASETS, DataUnavailableError, RawDataset, load_dataset
from .masks import (
    FrozenEntries,
    count_parameters,
    global_keep_masks,
    layerwise_keep_masks,
    magnitude_keep_mask,
    masked_forward,
    prunable_weights,
)
from .metrics import average_accuracy, backward_transfer, format_mean_spread, mean_sem
from .models import MultiHeadNet, ball_cnn, mlp, vgg16, zenke_cnn
from .paths import data_dir, project_root, results_root
from .streams import Task, dataset_sequence, flipped_task, make_task, permuted_tasks, split_tasks
from .train import TrainSettings, evaluate, evaluate_tasks, fit, make_optimizer, resolve_device, set_seed
from .validate import ParameterError

__version__ = "0.1.0"

__all__ = [
    "finetune_sequence", "train_head_only", "train_jointly",
    "DATASETS", "DataUnavailableError", "RawDataset", "load_dataset",
    "FrozenEntries", "count_parameters", "global_keep_masks", "layerwise_keep_masks",
    "magnitude_keep_mask", "masked_forward", "prunable_weights",
    "average_accuracy", "backward_transfer", "format_mean_spread", "mean_sem",
    "MultiHeadNet", "ball_cnn", "mlp", "vgg16", "zenke_cnn",
    "data_dir", "project_root", "results_root",
    "Task", "dataset_sequence", "flipped_task", "make_task", "permuted_tasks", "split_tasks",
    "TrainSettings", "evaluate", "evaluate_tasks", "fit", "make_optimizer", "resolve_device", "set_seed",
    "ParameterError",
]  # fmt: skip
