"""Autograd for the losses that need it, where the engine switched it off, and recorded replays of it.

The engine trains in ``torch.inference_mode()``; a loss without a closed-form gradient switches autograd
back on for its own gradient (:func:`autograd_on`, :func:`grad_leaf`). :func:`record_replay` records such
a gradient once per tensor shape as plain tensor operations (``torch.fx``) and replays it at every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor


@contextlib.contextmanager
def autograd_on() -> Iterator[None]:
    """Autograd recording, also where the caller switched it off: ``torch.no_grad()``, or
    ``torch.inference_mode()``, in which the engine trains (it saves a tenth of each step's time)."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def outside_inference(t: Tensor) -> Tensor:
    """``t``, or a copy where it was made in inference mode (autograd cannot save such a tensor)."""
    return t.clone() if t.is_inference() else t


def grad_leaf(t: Tensor) -> Tensor:
    """A leaf tensor with gradient holding ``t``'s values, for autograd inside :func:`autograd_on`."""
    return outside_inference(t).detach().requires_grad_(True)


_LIKE = {getattr(torch.ops.aten, f"{k}_like").default for k in ("full", "ones", "zeros", "empty")}


def record_replay(fn: Callable[..., Tensor], example: tuple, probes: Sequence[tuple]) -> Callable:
    """``fn`` (tensors -> tensor, autograd inside) recorded once for the shapes of ``example`` and replayed.

    ``torch.fx``'s ``make_fx`` records the operations ``fn`` runs, autograd's backward included, as a graph
    of plain tensor operations; no-op ``detach`` calls are dropped and what depends only on the shapes (the
    output gradients autograd fills in) is computed once. A replay runs the same operations as ``fn``
    without autograd's per-call bookkeeping: on the engine's small tensors that bookkeeping is most of the
    cost. The replay must equal ``fn`` bit for bit on ``example`` and every tuple of ``probes`` (which
    catches Python that branches on values, baked in by the recording); if recording fails or differs,
    ``fn`` itself is returned.
    """
    try:
        from torch.fx.experimental.proxy_tensor import make_fx

        # a fixed number of named arguments: make_fx counts them
        plain = {1: lambda a: fn(a), 2: lambda a, b: fn(a, b), 3: lambda a, b, c: fn(a, b, c)}[len(example)]
        traced = make_fx(plain)(*example)
        graph = traced.graph
        for node in list(graph.nodes):  # detach is a no-op outside autograd
            if node.op == "call_function" and node.target == torch.ops.aten.detach.default:
                node.replace_all_uses_with(node.args[0])
                graph.erase_node(node)
        graph.eliminate_dead_code()
        traced.recompile()
        _fold_shape_constants(traced, example)
        replay = traced.forward
        for args in (example, *probes):
            if not torch.equal(replay(*args), fn(*args)):
                raise ValueError("the replay differs")
    except Exception:  # any failure: fn at every step, slower but always right
        return fn
    return replay


def _fold_shape_constants(traced, example: tuple) -> None:
    """Replace the nodes that depend on the shapes of the inputs only (``full_like`` and what is computed
    from such nodes alone) by tensors stored in the module, computed once for ``example``."""
    graph = traced.graph
    constant: set = set()
    for node in graph.nodes:
        inputs = node.all_input_nodes
        if node.op == "call_function" and (
            node.target in _LIKE or (inputs and all(n in constant for n in inputs))
        ):
            constant.add(node)
    if not constant:
        return
    interpreter = torch.fx.Interpreter(traced, garbage_collect_values=False)
    interpreter.run(*example)
    used = [n for n in graph.nodes if n in constant and any(u not in constant for u in n.users)]
    for i, node in enumerate(used):
        name = f"_shape_constant_{i}"
        traced.register_buffer(name, interpreter.env[node])
        with graph.inserting_before(node):
            node.replace_all_uses_with(graph.get_attr(name))
    graph.eliminate_dead_code()
    traced.recompile()
