"""Tests of mixbench.models (issue 4): the two networks and their nn.Linear initialisation from a seed alone.

The reference is torch itself: ``torch.manual_seed(s); nn.Sequential(nn.Linear ...)`` built here, never with
the helpers of models.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mixbench.models import NETS, build_module, forward, init_params, layer_sizes

SEEDS = (60, 1234)
#: (n_features, n_classes): tiny, 2-class, many-class, many-feature (arrhythmia's 262 x 13).
SHAPES = ((1, 2), (3, 2), (9, 6), (28, 8), (262, 13))


def torch_reference_module(net: str, n_features: int, n_classes: int) -> nn.Sequential:
    """The network written from the issue's definition with torch's own layers."""
    if net == "linear":
        return nn.Sequential(nn.Linear(n_features, n_classes))
    return nn.Sequential(nn.Linear(n_features, n_features), nn.ReLU(), nn.Linear(n_features, n_classes))


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_init_params_equal_nn_linear_default_init(net, shape, seed):
    n_features, n_classes = shape
    torch.manual_seed(seed)
    expected = [p.detach() for p in torch_reference_module(net, n_features, n_classes).parameters()]
    torch.manual_seed(seed)
    built = [p.detach() for p in build_module(net, n_features, n_classes).parameters()]

    got = init_params(net, n_features, n_classes, torch.Generator().manual_seed(seed))

    assert [tuple(p.shape) for p in got] == [tuple(p.shape) for p in expected]
    for g, e, b in zip(got, expected, built, strict=True):
        assert g.dtype == torch.float32
        assert torch.equal(g, e)  # bit for bit, not just close
        assert torch.equal(b, e)


@pytest.mark.parametrize("net", NETS)
def test_init_params_depend_on_the_seed_only_and_leave_the_global_rng_alone(net):
    torch.manual_seed(7)
    state = torch.get_rng_state()
    a = init_params(net, 9, 6, torch.Generator().manual_seed(60))
    b = init_params(net, 9, 6, torch.Generator().manual_seed(60))
    c = init_params(net, 9, 6, torch.Generator().manual_seed(1234))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(not torch.equal(x, z) for x, z in zip(a, c, strict=True))
    # nn.Linear's bound 1 / sqrt(fan_in) for weight and bias of every layer.
    for (fan_in, _), w, bias in zip(layer_sizes(net, 9, 6), a[::2], a[1::2], strict=True):
        bound = fan_in**-0.5
        assert w.abs().max() <= bound and bias.abs().max() <= bound
        assert w.abs().max() > 0.8 * bound  # really spread over the interval, not a narrower one


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_the_module(net, shape):
    n_features, n_classes = shape
    params = init_params(net, n_features, n_classes, torch.Generator().manual_seed(60))
    module = torch_reference_module(net, n_features, n_classes)
    with torch.no_grad():
        for p, v in zip(module.parameters(), params, strict=True):
            p.copy_(v)
    X = torch.randn(50, n_features, generator=torch.Generator().manual_seed(1)) * 3
    with torch.no_grad():
        expected = module(X)
    got = forward(params, X)
    assert got.shape == (50, n_classes)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    if net == "hidden":  # the ReLU really is applied: without it the logits differ
        W1, b1, W2, b2 = params
        assert not torch.allclose(got, (X @ W1.T + b1) @ W2.T + b2)


def test_layer_sizes_and_unknown_net():
    assert layer_sizes("linear", 5, 3) == [(5, 3)]
    assert layer_sizes("hidden", 5, 3) == [(5, 5), (5, 3)]
    with pytest.raises(ValueError, match="unknown network 'deep'"):
        layer_sizes("deep", 5, 3)
    with pytest.raises(ValueError, match="unknown network"):
        build_module("deep", 5, 3)
