"""Chapter 06's set-up in words: what each method keeps from its own chapter and what the common streams change
(:data:`ADAPTATIONS`, printed by the chapter). Text only: no run reads it, so editing it changes no record's code
identity (it lived in :mod:`.comparison_runs` until a wording fix marked every record as made by changed code)."""
from __future__ import annotations

__all__ = ["ADAPTATIONS"]

#: what each method keeps from its chapter and what the common streams change (printed by the chapter)
ADAPTATIONS = {
    "every method": "task-incremental (one head per task, the task known at test time) on every stream, "
                    "Permuted MNIST included (chapter 03's narrow network is multi-head too); with 'stack_seeds' "
                    "off, one plain network per seed, so wall times compare (on, the seeds of every method on Split "
                    "MNIST and Split CIFAR-10, but CLNP's on Split CIFAR-10, train as one stacked network, each "
                    "with its own initial weights and data order, and each seed's time is its stack's divided by "
                    "its seeds); the same data and preprocessing for all",
    "Fine-tune, Joint": "chapter 00's schedule (Adam, fresh optimiser per task; joint: as many epochs over all "
                        "tasks' data) on the stream's network and epochs; fine-tuning also with LwF's SGD",
    "LwF": "chapter 01's distillation (T = 2, unit weight, head-only warm-up for a quarter of the epochs); the "
           "first task trains like fine-tuning. Two configurations, each beside fine-tuning with the same optimiser: "
           "the stream's Adam, and SGD with momentum (lr 0.01, momentum 0.9, no weight decay), the optimiser of "
           "LwF's papers (chapter 01 fine-tunes a VGG from a trained initial task with SGD and weight decay). On the "
           "streams 'lwf_frozen_heads_streams' names, a diagnostic beside them, not LwF as Li & Hoiem define it (they "
           "train the old heads too): Adam with the old heads left out of the optimiser, the distillation still "
           "training the body; it tests the chapter's reading of LwF's collapse with Adam and is kept out of every "
           "other table, figure and claim",
    "PackNet": "chapter 02's Algorithm 1 (Ball et al.): E epochs per task, then a retraining budget B "
               "(half of E rounded to a multiple of N, as chapter 01's 10 after 20: at least N epochs, so B = E "
               "where E is 2 and N is 2) in N = 1 round (one-shot) or N rounds (iterative), "
               "per-task pruning from Algorithm 2 so that a fraction p of the body is free at the end; "
               "biases frozen after task 1. The rounds grid (its own runs): N = 1, 2, 3 rounds sharing one budget "
               "B = 6 epochs (Ball et al.'s conv-net budget, a multiple of every N) at p = 0.9, 0.95, 0.99",
    "CLNP": "chapter 03's schedule: L1 training, graceful forgetting within a margin, fine-tuning rounds without the L1 "
            "penalty, each task ending on a fine-tune (as the paper does), and each finished task's units rescaled to "
            "mean activity 1 (chapter 03's addition: it changes no output and keeps later tasks' new units alive); "
            "MLP streams use the narrow network's settings with the task-1 grid's usual pick fixed in advance "
            "(lr 0.005, alpha 1e-4; no grid) on the stream's 256-256 network; Split CIFAR-10 uses the split-"
            "CIFAR settings (alphas, lr 1e-3); one activity threshold for all layers on every stream (the narrow "
            "network's per-layer scan costs 8 times the evaluations)",
    "Progressive Prune": "chapter 04's Algorithm 1: one MLP column (128-64) per task with learned adapters, "
                         "SGD lr 0.1 momentum 0.5 batch 64, E epochs, pruned to p and retrained E epochs; "
                         "CIFAR-10 images are flattened (the method is fully connected), not centre-cropped; "
                         "inputs preprocessed like every other method's (chapter 04 maps them to [-1, 1])",
}
