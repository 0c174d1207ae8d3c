"""The two networks of the study and their initialisation.

``linear``: ``I -> C``; ``hidden``: ``I -> I``, ReLU, ``-> C``. Parameters follow ``torch.nn.Linear``'s
layout (weight ``out x in``, bias ``out``) and default initialisation (Kaiming-uniform with ``a = sqrt(5)``,
i.e. ``U(-1/sqrt(in), 1/sqrt(in))`` for weight and bias), drawn from a generator seeded with the seed
alone, so every loss and learning rate trained with one seed starts from the same weights.

A network is its name in ``NETS``, its layer sizes here, and its layout in a model bank, one class of
:mod:`mixbench.engine.nets`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NETS = ("linear", "hidden")


def layer_sizes(net: str, n_features: int, n_classes: int) -> list[tuple[int, int]]:
    """``(in, out)`` of each layer of ``net``."""
    if net == "linear":
        return [(n_features, n_classes)]
    if net == "hidden":
        return [(n_features, n_features), (n_features, n_classes)]
    raise ValueError(f"unknown network {net!r}; choose one of {NETS}")


def flops_per_row(net: str, n_features: int, n_classes: int) -> tuple[int, int]:
    """Floating-point operations of one model on one row: ``(training step, forward pass)``.

    Counted as the engine computes: each layer a product with the bias carried by a column of ones,
    ``2 (in + 1) out`` flops forward; training adds as much for the weight gradient and ``2 in out`` for
    the gradient of each layer's input except the first (the data). Element-wise work (activations, the
    loss and its gradient, the update) is left out: small beside the products, and not what a machine's
    arithmetic peak measures.
    """
    sizes = layer_sizes(net, n_features, n_classes)
    forward = sum(2 * (fan_in + 1) * fan_out for fan_in, fan_out in sizes)
    backward = forward + sum(2 * fan_in * fan_out for fan_in, fan_out in sizes[1:])
    return forward + backward, forward


def init_params(net: str, n_features: int, n_classes: int, generator: torch.Generator) -> list[Tensor]:
    """Initial parameters ``[W1, b1, (W2, b2)]`` exactly as ``nn.Linear`` draws them, in its order.

    With ``generator = torch.Generator().manual_seed(seed)`` this equals
    ``torch.manual_seed(seed); build_module(net, ...)``'s parameters.
    """
    params: list[Tensor] = []
    for fan_in, fan_out in layer_sizes(net, n_features, n_classes):
        weight = torch.empty(fan_out, fan_in)
        # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) and a bias bound of 1/sqrt(fan_in).
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        bias = torch.empty(fan_out)
        nn.init.uniform_(bias, -bound, bound, generator=generator)
        params += [weight, bias]
    return params


def build_module(net: str, n_features: int, n_classes: int) -> nn.Sequential:
    """The network as an ``nn.Sequential`` (the reference form; the engine uses a batched layout)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(layer_sizes(net, n_features, n_classes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


def forward(params: list[Tensor], X: Tensor) -> Tensor:
    """Logits (n, C) of one model with parameters ``[W1, b1, (W2, b2)]`` for inputs ``X`` (n, I)."""
    h = X
    for i in range(0, len(params), 2):
        if i:
            h = torch.relu(h)
        h = torch.nn.functional.linear(h, params[i], params[i + 1])
    return h
