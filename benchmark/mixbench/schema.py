"""The result schema, defined once: every stage (engine, runner, results, analysis, report) reads it here.

Per-epoch records, one row per (dataset, net, split, noise, loss, lr, seed, epoch)::

    dataset, net, split, noise, loss, lr, seed, epoch, train_loss, val_acc, test_acc, diverged

Selected results, one row per (dataset, net, split, noise, loss, seed): the validation-selected ``lr, epoch,
val_acc, test_acc`` and ``diverged`` (True when any learning rate of that cell diverged).

``noise`` is ``none`` or ``KIND-RATE`` (``symmetric-0.2``); accuracies are fractions in [0, 1].
"""

from __future__ import annotations

__all__ = [
    "CELL_KEY",
    "DTYPES",
    "EPOCH_COLUMNS",
    "FAILURE_COLUMNS",
    "MODEL_COLUMNS",
    "RECORD_COLUMNS",
    "SELECTED_COLUMNS",
    "SELECTION_COLUMNS",
    "TASK_KEY",
]

#: What identifies a task (one file of the result store): a dataset, a network, a split and a noise setting.
TASK_KEY = ("dataset", "net", "split", "noise")
#: What identifies one model of a task's bank.
MODEL_COLUMNS = ("loss", "lr", "seed")
#: What identifies a cell of the selected results: one row per task x loss x seed.
CELL_KEY = TASK_KEY + ("loss", "seed")
#: Per-epoch columns of one model, as the engine returns them (no task key).
RECORD_COLUMNS = MODEL_COLUMNS + ("epoch", "train_loss", "val_acc", "test_acc", "diverged")
#: Per-epoch records of the result store.
EPOCH_COLUMNS = TASK_KEY + RECORD_COLUMNS
#: Columns of a selected result after its task key, as the engine's selection returns them.
SELECTION_COLUMNS = ("loss", "seed", "lr", "epoch", "val_acc", "test_acc", "diverged")
#: Selected results of the result store.
SELECTED_COLUMNS = TASK_KEY + SELECTION_COLUMNS
#: Failed tasks, as :meth:`mixbench.results.ResultStore.read_failures` returns them.
FAILURE_COLUMNS = TASK_KEY + ("error",)
#: The dtype of every column above.
DTYPES = {
    "dataset": "str",
    "net": "str",
    "split": "int64",
    "noise": "str",
    "loss": "str",
    "lr": "float64",
    "seed": "int64",
    "epoch": "int64",
    "train_loss": "float64",
    "val_acc": "float64",
    "test_acc": "float64",
    "diverged": "bool",
}
