"""End-of-epoch evaluation of a bank: every model's training loss and validation / test accuracy."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from mixbench.engine.coefficients import TERMS, in_logits_layout, model_coefficients
from mixbench.losses import Loss, family_loss

if TYPE_CHECKING:
    from mixbench.engine.bank import Bank

_EVAL_ROWS = 4096  # rows per evaluation chunk at most: bounds memory on big datasets (connect-4)
# and values in the widest tensor of a chunk (rows x models x hidden units) at most: 16 MB, under glibc's
# 32 MB limit above which every allocation is a fresh mmap whose pages fault in again at each chunk
_EVAL_VALUES = 1 << 22


def eval_batches(n: int, eval_batch: int, device) -> tuple[Tensor, Tensor] | None:
    """For accuracies as a mean over batches of ``eval_batch`` rows: each row's batch number (n,) and each
    batch's size. None for exact accuracy, and where one batch holds the whole split (its mean is exact)."""
    if eval_batch == 0 or n <= eval_batch:
        return None
    n_batches = math.ceil(n / eval_batch)
    sizes = torch.full((n_batches,), float(eval_batch), dtype=torch.float64, device=device)
    sizes[-1] = n - eval_batch * (n_batches - 1)
    return torch.arange(n, device=device) // eval_batch, sizes


def evaluate(bank: Bank, splits: dict, losses, R, epoch, n_epochs) -> dict[str, Tensor]:
    """Mean training loss at ``epoch`` and validation / test accuracy of every model (shape (M,) each)."""
    M = bank.S * bank.G
    first = bank.eval_weights()
    widest = M * bank.eval_width  # values per row: hidden units or logits
    chunk = max(1, min(_EVAL_ROWS, _EVAL_VALUES // widest))
    groups = _loss_groups(losses, R, epoch, n_epochs, bank.C, first.device)
    out = {}
    for name, (X, onehot, y, batches) in splits.items():
        total = torch.zeros(M, dtype=torch.float64, device=X.device)
        per_batch = None if batches is None else X.new_zeros(len(batches[1]), M, dtype=torch.float64)
        for start in range(0, len(X), chunk):
            rows = slice(start, start + chunk)
            q = bank.logits(X[rows], first)  # (S, G, C, n)
            if name == "train":
                per_sample = _per_sample_losses(q, onehot[rows], y[rows], groups)
                total += per_sample.sum(2, dtype=torch.float64).reshape(M)
            else:
                # max(.).indices, not argmax: the same first-index rule for ties (documented for both), but
                # argmax over an inner axis is several times slower on the CPU
                correct = q.max(2).indices == y[rows]
                if per_batch is None:
                    total += correct.sum(2).reshape(M)
                else:  # correct rows counted per evaluation batch, as (rows, M)
                    per_batch.index_add_(0, batches[0][rows], correct.reshape(M, -1).T.double())
        if not len(X):
            out[name] = torch.full((M,), torch.nan, dtype=torch.float64, device=X.device)
        elif per_batch is not None:
            # the reference code's arithmetic: per-batch accuracies, their sum, divided by the batch count
            out[name] = (per_batch / batches[1][:, None]).sum(0) / len(batches[1])
        else:  # float64: accuracies stay the exact fractions k / n the naive loop reports
            out[name] = total / len(X)
    out["train_loss"] = out.pop("train")
    return out


def _loss_groups(losses, R, epoch, n_epochs, C, device) -> list[tuple[slice, Loss | dict]]:
    """The bank's models in runs evaluated together: consecutive family losses with the same terms (with
    their coefficients for ``epoch`` in the evaluation layout), each other loss alone. Each term is then
    computed on the models that have it only: on the standard eight, a quarter of the work of computing
    every term on every model, with the values of each loss's own ``family_loss`` (as the naive loop)."""
    runs: list[list] = []  # [key, first loss, end]
    for i, ls in enumerate(losses):
        if ls.kind == "family":
            coef = ls.coefficients_at(epoch, n_epochs, C)
            key = ("family", frozenset(k for k in TERMS if coef[k] != 0))
        else:
            key = (ls.kind, i)
        if runs and runs[-1][0] == key:
            runs[-1][2] = i + 1
        else:
            runs.append([key, i, i + 1])
    groups = []
    for key, a, b in runs:
        models = slice(a * R, b * R)
        if key[0] == "family":
            coef = model_coefficients(losses[a:b], epoch, n_epochs, R, C)
            groups.append((models, in_logits_layout(coef, (1, (b - a) * R, 1, 1), device)))
        else:
            groups.append((models, losses[a]))
    return groups


def _per_sample_losses(q: Tensor, onehot: Tensor, y: Tensor, groups) -> Tensor:
    """Loss of every model on every row, (S, G, n), for logits (S, G, C, n); ``groups`` from
    :func:`_loss_groups`."""
    S, G, C, n = q.shape
    eval_onehot = onehot.T.reshape(1, 1, C, n)
    val = q.new_empty(S, G, n)
    for models, loss in groups:
        qs = q[:, models]
        if isinstance(loss, dict):
            val[:, models] = family_loss(qs, eval_onehot, loss, dim=2)
        elif loss.kind == "p_true":
            val[:, models] = loss.p_true.value((torch.log_softmax(qs, 2) * eval_onehot).sum(2))
        elif loss.kind == "probs":
            val[:, models] = loss.probs.value(qs, eval_onehot, 2)
        else:  # autograd: the user's function on (rows, C) logits
            rows_last = qs.permute(0, 1, 3, 2)  # (S, R, n, C)
            t = y.view(1, 1, n).expand(rows_last.shape[:-1])
            with torch.no_grad():
                val[:, models] = loss.per_sample(rows_last.reshape(-1, C), t.reshape(-1)).view(t.shape)
    return val
