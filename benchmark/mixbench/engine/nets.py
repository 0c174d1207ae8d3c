"""The network shapes of a model bank: one class per shape, registered in :data:`BANK_NETS`.

A class holds everything of the bank that depends on the network: its parameter tensors and where each
model sits in them, the training forward pass and gradient products, the layout of the training logits,
and the evaluation's layout. :class:`~mixbench.engine.bank.Bank` holds the flat parameter and momentum
tensors and does the rest the same way for every network, so adding a network to the engine is one class
here (and its layer sizes in :func:`mixbench.models.layer_sizes`).

Notation as in :mod:`mixbench.engine.bank`: S seeds, G models per seed, I features, C classes, B rows of a
batch; models are numbered ``m = s * G + g``. The class axis of the training logits is always axis 2.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mixbench.models import layer_sizes


class BankNet:
    """The layout of the S x G models of one network shape in a bank (a base class).

    Parameters
    ----------
    S, G : int
        Seeds, and models per seed.
    n_features, n_classes : int
        I and C.
    device : torch.device
        Where the bank's tensors live.

    Attributes
    ----------
    shapes : dict of str to tuple of int
        The bank's parameter tensors, in the order they lie in its flat tensor.
    model_dim, batch_dim : int
        The model axis (g) and the batch axis of the training logits.
    """

    name: str
    model_dim: int
    batch_dim: int

    def __init__(self, S: int, G: int, n_features: int, n_classes: int, device: torch.device) -> None:
        self.S, self.G, self.I, self.C = S, G, n_features, n_classes
        self.shapes = self.param_shapes()

    # -- layout -------------------------------------------------------------------------------------------
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def logits_shape(self, S: int, G: int, C: int, B: int) -> tuple[int, int, int, int]:
        """The shape of training logits of ``S`` seeds x ``G`` models, ``C`` classes and ``B`` rows."""
        raise NotImplementedError

    @property
    def model_shape(self) -> tuple[int, int, int, int]:
        """An (S, G) per-model tensor viewed in the layout of the training logits."""
        return self.logits_shape(self.S, self.G, 1, 1)

    @property
    def train_coef_shape(self) -> tuple[int, int, int, int]:
        """A (1, G) per-model tensor (shared by the seeds) in the layout of the training logits."""
        return self.logits_shape(1, self.G, 1, 1)

    def model_of(self) -> Tensor:
        """The model number of each parameter of the flat tensor (on the CPU)."""
        raise NotImplementedError

    def set_model(self, views: dict[str, Tensor], m: int, params: list[Tensor]) -> None:
        """Write model ``m``'s parameters ``[W1, b1, (W2, b2)]`` (nn.Linear layout) into ``views``."""
        raise NotImplementedError

    def get_model(self, views: dict[str, Tensor], m: int) -> list[Tensor]:
        """Model ``m``'s parameters in nn.Linear layout, as CPU copies."""
        raise NotImplementedError

    def finite_per_model(self, views: dict[str, Tensor]) -> Tensor:
        """Whether every parameter of each model is finite: (S * G,) booleans."""
        raise NotImplementedError

    # -- the training step --------------------------------------------------------------------------------
    def batch_layout(self, rows: Tensor) -> Tensor:
        """Per-row tensors (S, n, C) of one epoch (targets) in the layout of the training logits, batch
        axis included (``logits_shape(S, 1, C, n)``)."""
        raise NotImplementedError

    def models_rows_classes(self, t: Tensor) -> Tensor:
        """A view of training logits (or their gradient) as (S, G, B, C)."""
        return t.permute(0, self.model_dim, self.batch_dim, 2)

    def train_logits(self, views: dict[str, Tensor], xb: Tensor) -> tuple[Tensor, tuple]:
        """Logits of every model for the batch ``xb`` (S, B, I+1), and what the gradient products reuse."""
        raise NotImplementedError

    def accumulate_grads(
        self, bufs: dict[str, Tensor], views: dict[str, Tensor], xb: Tensor, saved: tuple, dq: Tensor,
        mom: float,
    ) -> None:  # fmt: skip
        """``buf = mom * buf + grad`` for every parameter tensor, in one ``baddbmm_`` each: the gradient
        products of the logit gradient ``dq`` (which carries each model's ``lr / B``)."""
        raise NotImplementedError

    # -- evaluation ---------------------------------------------------------------------------------------
    # Every network evaluates in one layout, (S, G, C, n): class axis 2, rows innermost, each loss's models
    # one slice of axis 1 (the training loss is computed per run of losses with the same terms).
    @property
    def eval_width(self) -> int:
        """Values per row and model in the widest tensor of the evaluation (hidden units or logits)."""
        raise NotImplementedError

    def eval_weights(self, views: dict[str, Tensor]) -> Tensor:
        """The first layer of every model as one matrix for :meth:`logits`."""
        raise NotImplementedError

    def logits(self, views: dict[str, Tensor], X: Tensor, first: Tensor) -> Tensor:
        """Logits of every model for rows ``X`` (n, I+1), as (S, G, C, n). ``first`` from
        :meth:`eval_weights`."""
        raise NotImplementedError


class LinearNet(BankNet):
    """``I -> C``: one tensor ``W`` (S, I + 1, C * G), column ``c * G + g`` of seed ``s`` for model
    ``s * G + g``; training logits ``bmm(xb, W)`` viewed as (S, B, C, G)."""

    name = "linear"
    model_dim = 3
    batch_dim = 1

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.S, self.I + 1, self.C * self.G)}

    def logits_shape(self, S: int, G: int, C: int, B: int) -> tuple[int, int, int, int]:
        return (S, B, C, G)

    def model_of(self) -> Tensor:
        S, G, I, C = self.S, self.G, self.I, self.C
        # column c * G + g of seed s belongs to model s * G + g
        return torch.arange(S * G).view(S, 1, 1, G).expand(S, I + 1, C, G).reshape(-1)

    def _blocks(self, views: dict[str, Tensor]) -> Tensor:
        """``W`` as (S, I + 1, C, G)."""
        return views["W"].view(self.S, self.I + 1, self.C, self.G)

    def set_model(self, views: dict[str, Tensor], m: int, params: list[Tensor]) -> None:
        s, g = divmod(m, self.G)
        W, b = params
        self._blocks(views)[s, :, :, g] = torch.cat([W.T, b[None]], 0)

    def get_model(self, views: dict[str, Tensor], m: int) -> list[Tensor]:
        s, g = divmod(m, self.G)
        block = self._blocks(views)[s, :, :, g]
        return [block[: self.I].T.clone().cpu(), block[self.I].clone().cpu()]

    def finite_per_model(self, views: dict[str, Tensor]) -> Tensor:
        W = views["W"].view(self.S, -1, self.C, self.G)
        return torch.isfinite(W).flatten(1, 2).all(1).reshape(-1)

    def batch_layout(self, rows: Tensor) -> Tensor:
        return rows.unsqueeze(-1)

    def train_logits(self, views: dict[str, Tensor], xb: Tensor) -> tuple[Tensor, tuple]:
        return torch.bmm(xb, views["W"]).view(self.S, xb.shape[1], self.C, self.G), ()

    def accumulate_grads(self, bufs, views, xb, saved, dq, mom) -> None:
        S, B = self.S, xb.shape[1]
        bufs["W"].baddbmm_(xb.transpose(1, 2), dq.view(S, B, self.C * self.G), beta=mom)

    @property
    def eval_width(self) -> int:
        return self.C

    def eval_weights(self, views: dict[str, Tensor]) -> Tensor:
        """(S * G * C, I+1), rows in (seed, model, class) order."""
        return self._blocks(views).permute(0, 3, 2, 1).reshape(-1, self.I + 1)

    def logits(self, views: dict[str, Tensor], X: Tensor, first: Tensor) -> Tensor:
        return torch.mm(first, X.T).view(self.S, self.G, self.C, X.shape[0])


class HiddenNet(BankNet):
    """``I -> H``, ReLU, ``-> C``: ``W1`` (S * G, I + 1, H), ``W2`` (S * G, C, H), ``b2`` (S * G, C, 1), one
    row block of each per model; the batch is repeated over G so each layer is one batched matrix product;
    training logits (S, G, C, B)."""

    name = "hidden"
    model_dim = 1
    batch_dim = 3

    def __init__(self, S: int, G: int, n_features: int, n_classes: int, device: torch.device) -> None:
        (_, self.H), _ = layer_sizes(self.name, n_features, n_classes)
        super().__init__(S, G, n_features, n_classes, device)
        self.ones = torch.ones(S * G, 1, 1, device=device).expand(S * G, 1 << 20, 1)  # sums over a batch

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        M, I, C, H = self.S * self.G, self.I, self.C, self.H
        return {"W1": (M, I + 1, H), "W2": (M, C, H), "b2": (M, C, 1)}

    def logits_shape(self, S: int, G: int, C: int, B: int) -> tuple[int, int, int, int]:
        return (S, G, C, B)

    def model_of(self) -> Tensor:
        ids = torch.arange(self.S * self.G)
        return torch.cat([ids.view(-1, 1, 1).expand(v).reshape(-1) for v in self.shapes.values()])

    def set_model(self, views: dict[str, Tensor], m: int, params: list[Tensor]) -> None:
        W1, b1, W2, b2 = params
        views["W1"][m] = torch.cat([W1.T, b1[None]], 0)
        views["W2"][m] = W2
        views["b2"][m, :, 0] = b2

    def get_model(self, views: dict[str, Tensor], m: int) -> list[Tensor]:
        W1a = views["W1"][m]
        return [
            W1a[: self.I].T.clone().cpu(),
            W1a[self.I].clone().cpu(),
            views["W2"][m].clone().cpu(),
            views["b2"][m, :, 0].clone().cpu(),
        ]

    def finite_per_model(self, views: dict[str, Tensor]) -> Tensor:
        return torch.stack([torch.isfinite(v).flatten(1).all(1) for v in views.values()]).all(0)

    def batch_layout(self, rows: Tensor) -> Tensor:
        return rows.transpose(1, 2).contiguous().unsqueeze(1)

    def train_logits(self, views: dict[str, Tensor], xb: Tensor) -> tuple[Tensor, tuple]:
        S, G, B = self.S, self.G, xb.shape[1]
        xg = xb.unsqueeze(1).expand(S, G, B, xb.shape[2]).reshape(S * G, B, xb.shape[2])
        h = torch.bmm(xg, views["W1"]).relu_()
        q = torch.baddbmm(views["b2"], views["W2"], h.transpose(1, 2)).view(S, G, self.C, B)
        return q, (xg, h)

    def accumulate_grads(self, bufs, views, xb, saved, dq, mom) -> None:
        xg, h = saved
        B = xb.shape[1]
        dq = dq.view(self.S * self.G, self.C, B)
        bufs["W2"].baddbmm_(dq, h, beta=mom)
        bufs["b2"].baddbmm_(dq, self.ones[:, :B], beta=mom)
        dh = torch.ops.aten.threshold_backward(torch.bmm(dq.transpose(1, 2), views["W2"]), h, 0)
        bufs["W1"].baddbmm_(xg.transpose(1, 2), dh, beta=mom)

    @property
    def eval_width(self) -> int:
        return max(self.C, self.H)

    def eval_weights(self, views: dict[str, Tensor]) -> Tensor:
        """(I+1, S * G * H)."""
        W = views["W1"]
        return W.permute(1, 0, 2).reshape(W.shape[1], -1)

    def logits(self, views: dict[str, Tensor], X: Tensor, first: Tensor) -> Tensor:
        S, G, n = self.S, self.G, X.shape[0]
        h = torch.relu_(X @ first).view(n, S * G, -1).permute(1, 2, 0)  # (S*G, H, n)
        return torch.baddbmm(views["b2"], views["W2"], h).view(S, G, self.C, n)


#: The bank layout of each network of :data:`mixbench.models.NETS`, by name.
BANK_NETS: dict[str, type[BankNet]] = {net.name: net for net in (LinearNet, HiddenNet)}
