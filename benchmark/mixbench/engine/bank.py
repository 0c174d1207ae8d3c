"""Batched training: every model of one (dataset, network) trained in lockstep as one "model bank".

The reference protocol trains, per dataset and network, losses x learning rates x seeds tiny models with
SGD at batch size 8. One model at a time, each step costs hundreds of microseconds of Python and dispatch
overhead for a few hundred flops. The bank instead holds all models' parameters in a few stacked tensors
and makes one SGD step of every model with about twenty-five tensor operations, using the closed-form
logit gradients of :mod:`mixbench.losses` instead of autograd.

Layout. Models are indexed ``m = s * G + g`` with ``s`` the seed and ``g = loss * R + lr`` (``R`` learning
rates). Models of one seed share initial weights and batch order, so a batch is one tensor per seed:
``xb`` of shape (S, B, I + 1) with a column of ones that carries the bias. The class axis of the logits is
never the last one: PyTorch's CPU softmax over a short last axis (C of 2 to 26 here) costs several times
more than over an inner axis, and the softmax is one of the largest operations of a step.

Each network shape is one class of :mod:`mixbench.engine.nets` (its parameter tensors, forward pass,
gradient products and evaluation layout), so the bank itself has no branch on the network:

* linear: one tensor ``W`` (S, I + 1, C * G), column ``c * G + g``; logits ``bmm(xb, W)`` viewed as
  (S, B, C, G).
* hidden: ``W1`` (S * G, I + 1, H), ``W2`` (S * G, C, H), ``b2`` (S * G, C, 1); the batch is repeated
  over G so each layer is one batched matrix product; logits (S, G, C, B).

All parameters live in one flat tensor, and so do their momentum buffers. SGD with momentum (PyTorch
semantics: ``buf = momentum * buf + grad; p -= lr * buf``) is done as ``buf' = momentum * buf' + lr * grad;
p -= buf'`` with ``buf' = lr * buf``, the same update: each model's learning rate (and ``1 / B``) is folded
into its loss coefficients, each gradient product accumulates into its buffer (``baddbmm_`` with ``beta =
momentum``), and one ``sub_`` updates every parameter of the bank.

On the CPU the bank is split by loss into sub-banks of at most ``_CHUNK_PARAMS`` parameters, trained one
after the other: wide datasets (hundreds of features, so tens of thousands of parameters per hidden-net
model) would otherwise stream parameters and momentum from memory at every step; a sub-bank stays in the
processor's cache. Models never interact, so the split changes no result.

Losses other than the closed-form families: a loss of p_y alone adds its weight g(p_y) to the family's g
on its models (:class:`~mixbench.losses.FamilyGrad`), so it costs what a built-in loss costs; a closed form
in p and a user function of the logits (autograd) compute the gradient of their own models only and write
it into those models' slice of the logit gradient.

Divergence: after each epoch the training loss of every model is evaluated on the whole training set. A
model whose loss or parameters are not finite is frozen (its learning rate and parameters set to zero),
that epoch and all later ones are recorded with ``diverged = True`` and NaN accuracies, and selection never
picks them. Models are independent columns of every operation, so one model's NaN never reaches another.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from mixbench import schema
from mixbench.engine.coefficients import in_logits_layout, model_coefficients
from mixbench.engine.evaluation import eval_batches, evaluate
from mixbench.engine.nets import BANK_NETS
from mixbench.losses import STANDARD_LOSSES, FamilyGrad, Loss, resolve_losses
from mixbench.models import NETS, forward, init_params, layer_sizes
from mixbench.protocol import PROTOCOL

# The protocol's defaults and the result schema live in one place each: mixbench.protocol, mixbench.schema.
DEFAULT_LRS = PROTOCOL.lrs
DEFAULT_SEEDS = PROTOCOL.seeds
RECORD_COLUMNS = list(schema.RECORD_COLUMNS)
# Parameters per CPU sub-bank: with their momentum 8 MB, within one worker's share of a 32 MB L3 cache.
# Measured on semeion and musk-2 (hidden): 1.4-1.5x faster per step than one bank of all 48 models.
_CHUNK_PARAMS = 1 << 20


@dataclass
class TrainResult:
    """What :func:`train_bank` returns.

    Attributes
    ----------
    records : DataFrame
        One row per (loss, lr, seed, epoch): ``RECORD_COLUMNS``; epochs are 0-based.
    models : DataFrame
        One row per model (index = model number): loss, lr, seed, diverged_epoch (-1 if never).
    params : list of list of Tensor
        Final parameters of each model in ``nn.Linear`` layout (``[W1, b1, (W2, b2)]``).
    best_params : list of list of Tensor or None
        With ``keep_best``: parameters at each model's validation-best non-diverged epoch (later epoch
        wins ties); without validation rows, at its last non-diverged epoch. A model that diverged in
        its first epoch keeps its initial parameters here.
    """

    records: pd.DataFrame
    models: pd.DataFrame
    params: list[list[Tensor]]
    best_params: list[list[Tensor]] | None = None


class Bank:
    """Stacked parameters of S x G models of one network, with their flat views.

    The network's layout (its parameter tensors, forward pass, gradient products and evaluation) is
    ``layout``, a :class:`~mixbench.engine.nets.BankNet` of :data:`~mixbench.engine.nets.BANK_NETS`.
    """

    def __init__(self, net, n_features, n_classes, seeds_params, n_groups, device):
        self.S, self.G = len(seeds_params), n_groups
        self.I, self.C = n_features, n_classes
        self.layout = BANK_NETS[net](self.S, self.G, n_features, n_classes, device)
        # an (S, G) per-model tensor, and one (1, G), in the layout of the training logits
        self.model_shape, self.train_coef_shape = self.layout.model_shape, self.layout.train_coef_shape
        # The model axis (g) and the batch axis of the training logits
        self.model_dim, self.batch_dim = self.layout.model_dim, self.layout.batch_dim
        total = sum(math.prod(v) for v in self.layout.shapes.values())
        self.flat = torch.zeros(total, device=device)
        self.buf = torch.zeros(total, device=device)  # momentum buffers (times the learning rate)
        self.views, self.bufs = self._views_of(self.flat), self._views_of(self.buf)
        self.model_of = self.layout.model_of().to(device)
        for s, params in enumerate(seeds_params):
            for g in range(self.G):
                self.layout.set_model(self.views, s * self.G + g, params)

    def get_model(self, m: int, flat: Tensor | None = None) -> list[Tensor]:
        """Parameters of model ``m`` in nn.Linear layout (from ``flat`` if given, e.g. a snapshot)."""
        return self.layout.get_model(self.views if flat is None else self._views_of(flat), m)

    def _views_of(self, flat: Tensor) -> dict[str, Tensor]:
        """The named parameter tensors as views of a flat tensor (parameters, momentum, a snapshot)."""
        out, start = {}, 0
        for k, shape in self.layout.shapes.items():
            n = math.prod(shape)
            out[k] = flat[start : start + n].view(shape)
            start += n
        return out

    def finite_per_model(self) -> Tensor:
        """Whether every parameter of each model is finite: (S * G,) booleans."""
        return self.layout.finite_per_model(self.views)

    # -- the training step --------------------------------------------------------------------------
    def batch_layout(self, rows: Tensor) -> Tensor:
        """Per-row tensors (S, n, C) of one epoch (targets) in the layout of the training logits, batch
        axis included: (S, n, C, 1) for linear, (S, 1, C, n) for hidden."""
        return self.layout.batch_layout(rows)

    def step(self, xb: Tensor, targets, yb, grad_fn, custom, mom: float) -> None:
        """One SGD step of every model.

        ``xb`` (S, B, I+1) inputs; ``targets`` the batch's slices of ``grad_fn.targets`` in
        :meth:`batch_layout`; ``yb`` (S, B) the labels (or None when no loss needs autograd);
        ``grad_fn`` a :class:`~mixbench.losses.FamilyGrad` whose scale holds each model's ``lr / B`` (it
        also does the losses of p_y alone); ``custom`` the other losses with their own gradient: closed
        forms in p and autograd, as ``(loss, model slice, scale)``.
        """
        # Each gradient product also does the momentum update, buf = momentum * buf + lr * grad, in one
        # baddbmm_ (dq carries lr / B; PyTorch's SGD: buf.mul_(momentum).add_(grad), the first step gives
        # buf = grad, and p -= lr * buf: the same with buf scaled by lr).
        q, saved = self.layout.train_logits(self.views, xb)
        dq = grad_fn(q, *targets)
        self._custom_grad(dq, q, targets[0], yb, custom)
        self.layout.accumulate_grads(self.bufs, self.views, xb, saved, dq, mom)
        self.flat.sub_(self.buf)

    def _custom_grad(self, dq, q, onehot, yb, custom):
        """Write the logit gradients of the losses with their own (closed form in p, or autograd) into
        their models' slice of ``dq``; ``onehot`` in :meth:`batch_layout`."""
        d = self.model_dim
        models_rows_classes = self.layout.models_rows_classes  # (S, G, B, C) views
        for loss, groups, scale in custom:
            start, length = groups.start, groups.stop - groups.start
            if loss.kind == "probs":  # closed form, in the bank's own layout (class axis 2)
                grad = loss.probs.grad(q.narrow(d, start, length), onehot, 2)
                dq.narrow(d, start, length).copy_(grad.mul_(scale[1]))
                continue
            # autograd on the loss's own models only: their logits as one contiguous (S * R * B, C) tensor,
            # each row's output gradient its model's lr / B, (S * R * B,) in scale[0] (so no sum and no
            # product afterwards). Plain autograd: a user function may keep state or branch on values.
            qs = models_rows_classes(q)[:, groups]  # (S, R, B, C)
            targets = yb.unsqueeze(1).expand(*qs.shape[:-1]).reshape(-1)
            g = loss.weighted_grad(qs.reshape(-1, self.C), targets, scale[0])
            models_rows_classes(dq)[:, groups] = g.view(qs.shape)

    # -- evaluation: every network in one layout, (S, G, C, n) ---------------------------------------
    @property
    def eval_width(self) -> int:
        """Values per row and model in the widest tensor of the evaluation (hidden units or logits)."""
        return self.layout.eval_width

    def eval_weights(self) -> Tensor:
        """The first layer of every model as one matrix for :meth:`logits`."""
        return self.layout.eval_weights(self.views)

    def logits(self, X: Tensor, first: Tensor) -> Tensor:
        """Logits of every model for rows ``X`` (n, I+1), as (S, G, C, n). ``first`` from
        :meth:`eval_weights`."""
        return self.layout.logits(self.views, X, first)


def train_bank(
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    validation: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    *,
    net: str = "linear",
    losses: Sequence[str | Loss] = STANDARD_LOSSES,
    lrs: Sequence[float] = DEFAULT_LRS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    epochs: int = PROTOCOL.epochs,
    batch_size: int = PROTOCOL.batch_size,
    momentum: float = PROTOCOL.momentum,
    device: str = "cpu",
    keep_best: bool = False,
    eval_batch: int = 0,
    progress: Callable[[int], None] | None = None,
    stacklevel: int = 1,
) -> TrainResult:
    """Train every (loss, learning rate, seed) model of one network on one dataset split, in lockstep.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,), integers in 0..n_classes-1
    train, validation, test : ndarray of row indices
        Validation and test may be empty (their accuracies are then NaN).
    n_classes : int
    net : {"linear", "hidden"}
    losses : names or :class:`~mixbench.losses.Loss` objects
    lrs, seeds : the learning rates and seeds; every loss is trained with every pair
    epochs, batch_size, momentum : SGD settings; the last partial batch of each epoch is kept
    device : "cpu" or "cuda"
    keep_best : keep each model's parameters at its validation-best epoch (ties: the later epoch)
    eval_batch : 0 (default): validation and test accuracy are exact per-sample accuracies. N > 0: each is
        the mean of the per-batch accuracies over consecutive batches of N rows in split order, the last
        one partial, as the reference study's code computes them (N = 128 there); rows of a short last
        batch then weigh more.
    progress : called with the epoch number after each epoch (of each sub-bank, when the bank is split
        to fit the CPU cache)
    stacklevel : where a too-short-schedule warning points, counted from the caller (as in warnings.warn)

    Returns
    -------
    TrainResult
    """
    if net not in NETS:
        raise ValueError(f"unknown network {net!r}; choose one of {NETS}")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    if eval_batch < 0:
        raise ValueError(f"eval_batch must be 0 (exact accuracy) or a batch size >= 1, not {eval_batch}")
    losses = resolve_losses(losses)
    for ls in losses:
        ls.check_epochs(epochs, stacklevel=stacklevel + 1)
    lrs, seeds = [float(v) for v in lrs], [int(s) for s in seeds]
    train = np.asarray(train, dtype=np.int64)
    if len(train) == 0:
        raise ValueError("no training rows")
    dev = torch.device(device)
    S, L, R, C = len(seeds), len(losses), len(lrs), int(n_classes)
    G = L * R
    n_features = int(X.shape[1])

    with np.errstate(over="ignore"):  # an overflow is said just below, as an error
        Xt = torch.tensor(np.asarray(X, dtype=np.float32))  # a copy: X may be a read-only memmap
    if not torch.isfinite(Xt).all():
        # Said here, or the inf of a value beyond float32's range would read as a learning-rate divergence.
        bad = int((~torch.isfinite(Xt)).any(1).nonzero()[0, 0])
        raise ValueError(
            f"X row {bad} has a value that is NaN or infinite in float32, the engine's precision (|x| must "
            f"be <= {float(np.finfo(np.float32).max):.4g}); rescale the features (e.g. StandardScaler)"
        )
    Xa = torch.cat([Xt, torch.ones(len(Xt), 1)], 1).to(dev)
    yt = torch.tensor(np.asarray(y, dtype=np.int64), device=dev)
    onehot = torch.nn.functional.one_hot(yt, C).to(torch.float32)
    _check_losses_finite(losses, Xt, y, train, net, C, seeds[0], epochs)
    # Rows of each split gathered once: evaluation runs every epoch.
    splits = {}
    for name, idx in (("train", train), ("val", validation), ("test", test)):
        idx = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=dev)
        batches = eval_batches(len(idx), eval_batch, dev) if name != "train" else None
        splits[name] = (Xa[idx], onehot[idx], yt[idx], batches)

    # Sub-banks of whole losses (both seeds and all rates of a loss together), near-equal in size.
    per_loss = S * R * params_per_model(net, n_features, C)
    n_chunks = math.ceil(L / max(1, _CHUNK_PARAMS // per_loss)) if dev.type == "cpu" else 1
    bounds = np.linspace(0, L, n_chunks + 1).round().astype(int)
    M = S * G
    out = {k: np.full((epochs, M), np.nan) for k in ("train_loss", "val", "test")}
    diverged_epoch = np.full(M, -1)
    params: list = [None] * M
    best_params: list = [None] * M
    for a, b in itertools.pairwise(bounds):
        # global model number of each model of the sub-bank (its local number is s * Gc + g')
        index = (np.arange(S)[:, None] * G + a * R + np.arange((b - a) * R)[None, :]).reshape(-1)
        part = _train_sub_bank(
            net, splits, train, losses[a:b], lrs, seeds, epochs, batch_size, momentum, dev, keep_best,
            progress, has_validation=len(validation) > 0,
        )  # fmt: skip
        for k in out:
            out[k][:, index] = part[k]
        diverged_epoch[index] = part["diverged_epoch"]
        for i, m in enumerate(index):
            params[m] = part["params"][i]
            best_params[m] = part["best_params"][i] if keep_best else None

    models = pd.DataFrame(
        {
            "loss": [losses[(m % G) // R].name for m in range(M)],
            "lr": [lrs[m % R] for m in range(M)],
            "seed": [seeds[m // G] for m in range(M)],
            "diverged_epoch": diverged_epoch,
        }
    )
    ep = np.arange(epochs)
    records = pd.DataFrame(
        {
            "loss": np.tile(models["loss"].to_numpy(), epochs),
            "lr": np.tile(models["lr"].to_numpy(), epochs),
            "seed": np.tile(models["seed"].to_numpy(), epochs),
            "epoch": np.repeat(ep, M),
            "train_loss": out["train_loss"].reshape(-1),
            "val_acc": out["val"].reshape(-1),
            "test_acc": out["test"].reshape(-1),
            "diverged": (np.repeat(ep, M) >= np.tile(diverged_epoch, epochs))
            & np.tile(diverged_epoch >= 0, epochs),
        }
    )
    records = records.sort_values(["loss", "seed", "lr", "epoch"], kind="stable", key=_order_key(losses, lrs))
    return TrainResult(
        records=records.reset_index(drop=True)[RECORD_COLUMNS],
        models=models,
        params=params,
        best_params=best_params if keep_best else None,
    )


def _train_sub_bank(
    net, splits, train, losses, lrs, seeds, epochs, batch_size, momentum, dev, keep_best, progress,
    has_validation,
) -> dict:  # fmt: skip
    """Train one bank of ``losses x lrs x seeds`` models; per-epoch arrays (epochs, M) and parameters."""
    S, L, R = len(seeds), len(losses), len(lrs)
    G, M = L * R, len(seeds) * L * R
    X_train, O_train, y_train, _ = splits["train"]
    n_train, n_features, C = len(train), X_train.shape[1] - 1, O_train.shape[1]
    # Each seed's generator draws the initial weights, then every epoch's batch order.
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    bank = Bank(net, n_features, C, [init_params(net, n_features, C, g) for g in generators], G, dev)
    lr_of_model = torch.tensor([lrs[m % R] for m in range(M)], dtype=torch.float32, device=dev)
    # Losses of p_y alone go into the family's gradient (FamilyGrad); closed forms in p and autograd
    # losses write their own models' gradients (Bank._custom_grad).
    p_true = [(i, ls.p_true) for i, ls in enumerate(losses) if ls.kind == "p_true"]
    custom_losses = [
        (ls, slice(i * R, (i + 1) * R)) for i, ls in enumerate(losses) if ls.kind in ("probs", "autograd")
    ]
    needs_labels = any(ls.kind == "autograd" for ls in losses)

    out = {k: np.full((epochs, M), np.nan) for k in ("train_loss", "val", "test")}
    diverged_epoch = np.full(M, -1)
    alive = torch.ones(M, dtype=torch.bool, device=dev)
    best_val = torch.full((M,), -1.0, dtype=torch.float64, device=dev)
    best_flat = bank.flat.clone() if keep_best else None
    sizes = {batch_size, n_train % batch_size or batch_size}

    # log p_y of one loss's models for a batch of each size, in the training layout (for p_true losses)
    p_true_example = {
        size: torch.full(bank.layout.logits_shape(S, R, 1, size), -0.5, device=dev) for size in sizes
    }
    for epoch in range(epochs):
        coef = in_logits_layout(model_coefficients(losses, epoch, epochs, R, C), bank.train_coef_shape, dev)
        # Each model's step size lr / B (0 once diverged) folded into its gradient weights.
        step_size = torch.where(alive, lr_of_model, 0.0).view(S, G)
        grad_fns, custom = {}, {}
        for size in sizes:
            scale = step_size / size
            in_layout = scale.view(bank.model_shape)
            p_true_fns = [(i * R, R, form.weights_for(p_true_example[size])) for i, form in p_true]
            grad_fns[size] = FamilyGrad(coef, in_layout, dim=2, p_true=p_true_fns, model_dim=bank.model_dim)
            # each custom loss's lr / B per model: per row (S * R * B,) for autograd, in the logits' layout
            # for closed forms
            custom[size] = [
                (
                    ls,
                    sl,
                    (
                        scale[:, sl].reshape(S, -1, 1).expand(S, R, size).reshape(-1),
                        in_layout.narrow(bank.model_dim, sl.start, R),
                    ),
                )
                for ls, sl in custom_losses
            ]
        grad_fn = grad_fns[batch_size]
        perm = torch.stack([torch.randperm(n_train, generator=g) for g in generators]).to(dev)
        # This epoch's batches, cut once (split makes all views in one call).
        dim = bank.batch_dim
        x_batches = X_train[perm].split(batch_size, 1)  # (S, B, I+1) each: each seed's batch order
        target_batches = [
            itertools.repeat(None) if t is None else bank.batch_layout(t).split(batch_size, dim)
            for t in grad_fn.targets(O_train[perm])
        ]
        y_batches = y_train[perm].split(batch_size, 1) if needs_labels else itertools.repeat(None)
        # Inference mode: no autograd bookkeeping on the step's tensors, a tenth of a step's time (the
        # losses that use autograd switch it back on for their own gradient: losses.autograd_on)
        with torch.inference_mode():
            for xb, yb, *targets in zip(x_batches, y_batches, *target_batches, strict=False):
                B = xb.shape[1]
                bank.step(xb, targets, yb, grad_fns[B], custom[B], momentum)
            # -- end of epoch: exact loss and accuracies of every model on whole splits
            stats = evaluate(bank, splits, losses, R, epoch, epochs)
        loss_now = stats["train_loss"]
        finite = torch.isfinite(loss_now) & bank.finite_per_model()
        newly = (~finite).cpu().numpy() & (diverged_epoch < 0)
        diverged_epoch[newly] = epoch
        alive = torch.as_tensor(diverged_epoch < 0, device=dev)
        if not alive.all():
            # Frozen: zero step size (above), parameters and momentum. Re-zeroed every epoch because a
            # loss that stays NaN at zero weights would make the momentum (and so the weights) NaN.
            dead = ~alive[bank.model_of]
            bank.flat[dead] = 0.0
            bank.buf[dead] = 0.0
        out["train_loss"][epoch] = torch.where(alive, loss_now, torch.nan).cpu().numpy()
        for k in ("val", "test"):
            out[k][epoch] = torch.where(alive, stats[k], torch.nan).cpu().numpy()
        if keep_best:
            improved = alive & (stats["val"] >= best_val) if has_validation else alive
            best_val = torch.where(improved, stats["val"], best_val)
            best_flat = torch.where(improved[bank.model_of], bank.flat, best_flat)
        if progress is not None:
            progress(epoch)

    return {
        **out,
        "diverged_epoch": diverged_epoch,
        "params": [bank.get_model(m) for m in range(M)],
        "best_params": [bank.get_model(m, best_flat) for m in range(M)] if keep_best else None,
    }


def _order_key(losses, lrs):
    loss_rank = {ls.name: i for i, ls in enumerate(losses)}
    lr_rank = {lr: i for i, lr in enumerate(lrs)}

    def key(col: pd.Series) -> pd.Series:
        if col.name == "loss":
            return col.map(loss_rank)
        if col.name == "lr":
            return col.map(lr_rank)
        return col

    return key


_PROBE_ROWS = 64  # training rows of the finite-loss check: the size of a batch, a few ms per loss


def _check_losses_finite(losses, X: Tensor, y, train: np.ndarray, net: str, C: int, seed: int, epochs: int):
    """Raise a ``ValueError`` naming the loss when a loss's value or gradient is not finite at the first
    step's finite logits (the initial model of ``seed`` on the first training rows), before any training.

    A NaN there is the loss's fault, not the learning rate's: without this check it would only show as
    every learning rate of that loss diverging in epoch 0. The value is taken as the evaluation takes it
    (without autograd), the gradient as a training step does (:meth:`~mixbench.losses.Loss.grad`).
    """
    rows = train[:_PROBE_ROWS]
    targets = torch.from_numpy(np.asarray(y, dtype=np.int64)[rows])  # indexing copies: y may be read-only
    with torch.no_grad():
        logits = forward(init_params(net, X.shape[1], C, torch.Generator().manual_seed(seed)), X[rows])
    for loss in losses:
        grad = loss.grad(logits, targets, 0, epochs)  # first, as a step: its checks of a user loss's output
        with torch.no_grad():
            value = loss.per_sample(logits, targets, 0, epochs)
        fault = _fault(value, "returned NaN", "returned inf") or _fault(
            grad, "has a NaN gradient", "has an infinite gradient"
        )
        if fault is not None:
            raise ValueError(
                f"loss {loss.name!r} {fault} for finite logits at epoch 0 (the initial model of seed {seed}, "
                f"{len(rows)} training rows): the loss, not the learning rate, is at fault; make it finite "
                "for any finite logits (e.g. clamp before a log, a division or a power)"
            )


def _fault(t: Tensor, nan: str, inf: str) -> str | None:
    """``nan`` if ``t`` has a NaN, else ``inf`` if it has an infinity, else None."""
    return nan if t.isnan().any() else None if t.isfinite().all() else inf


def params_per_model(net: str, n_features: int, n_classes: int) -> int:
    """Number of parameters of one model: the size a bank step's cost grows with."""
    return sum((i + 1) * o for i, o in layer_sizes(net, n_features, n_classes))
