"""The naive reference: one model at a time with ``nn.Module``, ``optim.SGD`` and autograd.

Slow, and written to be obviously right: the test suite checks the bank against it, and ``mixbench bench``
times the bank against it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mixbench.engine.bank import RECORD_COLUMNS
from mixbench.losses import Loss, resolve_losses
from mixbench.models import build_module, forward, init_params
from mixbench.protocol import PROTOCOL


def train_naive(
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    validation: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    *,
    net: str,
    loss: str | Loss,
    lr: float,
    seed: int,
    epochs: int = PROTOCOL.epochs,
    batch_size: int = PROTOCOL.batch_size,
    momentum: float = PROTOCOL.momentum,
    eval_batch: int = 0,
    max_steps: int | None = None,
) -> tuple[pd.DataFrame, list[Tensor]]:
    """One model at a time with ``nn.Module`` + ``optim.SGD`` + autograd: the slow reference.

    Same initialisation, batch order and evaluation rules as :func:`train_bank`, but the loss value is
    differentiated by autograd, so the comparison also checks the closed-form gradients. Used by the test
    suite and by ``mixbench bench``. ``eval_batch`` as in :func:`train_bank`; ``max_steps`` stops early
    (for timing only).

    Returns the per-epoch records (``RECORD_COLUMNS``) and the final parameters.
    """
    loss = resolve_losses([loss])[0]
    g = torch.Generator().manual_seed(int(seed))
    n_features = int(X.shape[1])
    module = build_module(net, n_features, n_classes)
    with torch.no_grad():
        for p, v in zip(module.parameters(), init_params(net, n_features, n_classes, g), strict=True):
            p.copy_(v)
    opt = torch.optim.SGD(module.parameters(), lr=lr, momentum=momentum)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.tensor(np.asarray(y, dtype=np.int64))
    train = torch.as_tensor(np.asarray(train, dtype=np.int64))
    rows = []
    steps = 0
    diverged = False
    for epoch in range(epochs):
        if not diverged:
            perm = train[torch.randperm(len(train), generator=g)]
            for start in range(0, len(perm), batch_size):
                idx = perm[start : start + batch_size]
                opt.zero_grad()
                loss.per_sample(module(Xt[idx]), yt[idx], epoch, epochs).mean().backward()
                opt.step()
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    return pd.DataFrame(rows, columns=RECORD_COLUMNS), list(module.parameters())
        else:
            torch.randperm(len(train), generator=g)  # keep the generator in step with the bank
        with torch.no_grad():
            params = [p.detach() for p in module.parameters()]
            tl = loss.per_sample(forward(params, Xt[train]), yt[train], epoch, epochs).double().mean().item()
            if not diverged and not (math.isfinite(tl) and all(torch.isfinite(p).all() for p in params)):
                diverged = True
            accs = []
            for idx in (validation, test):
                idx = torch.as_tensor(np.asarray(idx, dtype=np.int64))
                if len(idx) == 0:
                    accs.append(math.nan)
                    continue
                # the reference code's loop: per-batch accuracies summed, divided by the number of batches;
                # exact accuracy is the one batch of the whole split
                parts = idx.split(eval_batch or len(idx))
                hits = [(forward(params, Xt[p]).argmax(-1) == yt[p]).sum().item() / len(p) for p in parts]
                accs.append(sum(hits) / len(parts))
        nan = math.nan
        rows.append(
            [loss.name, float(lr), int(seed), epoch]
            + ([nan, nan, nan, True] if diverged else [tl, accs[0], accs[1], False])
        )
    return pd.DataFrame(rows, columns=RECORD_COLUMNS), [p.detach().clone() for p in module.parameters()]
