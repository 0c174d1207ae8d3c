"""Losses and schedules.

Every loss works on logits ``q`` (batch x C) and integer targets ``y``; ``p = softmax(q)`` and ``p_y`` is
its true-class entry.

The built-in losses belong to two closed-form families, so that a whole bank of models with different
losses can be trained with one set of tensor operations (see :mod:`mixbench.engine`):

softmax family
    ``L = a * CE + b * EL + alpha * (1 - p_y)**gamma * CE`` with ``CE = -log p_y`` and ``EL = 1 - p_y``.
    Its gradient w.r.t. the logits is ``g(p_y) * (p - onehot(y))`` with the scalar
    ``g = a + b p_y + alpha [(1 - p_y)**gamma - gamma p_y (1 - p_y)**(gamma - 1) log p_y]``.
    CE, EL, the scheduled CE+EL mixtures and the softmax focal loss are members.
sigmoid family
    ``L = sum_c (s_c - t_c)**2`` with ``s = sigmoid(q)``, targets ``1 - m`` (true class) and ``m`` (others),
    and, with Output Reset, targets reset to the output where the output is already beyond its target on
    the correct side (true class ``t' = max(t, s)``, others ``t' = min(t, s)``). Gradient
    ``2 (s - t') s (1 - s)``, with ``t'`` held constant as the reset is done before the update.

A loss whose coefficients change over epochs (the mixtures) carries a :class:`FocusSchedule`.

Beside the families, a loss may be a function of ``p_y`` alone (:class:`PTrueForm`: its logit gradient
``g(p_y) (p - onehot)`` has the family's shape, so it trains in the bank at the family's cost), a closed
form in the whole softmax ``p`` (:class:`ProbForm`), or any function of the logits, trained with autograd.
The zoo of published losses (GCE, SCE, NCE+RCE, ...) is registered here with its papers' constants; losses
with parameters are named with them (``GCE(q=0.5)``). Users add losses with :func:`register_loss`.
"""

from __future__ import annotations

import importlib
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from mixbench.losses.autograd import autograd_on, grad_leaf, outside_inference, record_replay
from mixbench.losses.families import COEFFICIENTS, FamilyGrad, family_grad, family_loss, sigmoid_targets
from mixbench.losses.forms import ProbForm, PTrueForm, check_user_output, p_true_form
from mixbench.losses.schedules import FocusSchedule, mixture_weights
from mixbench.protocol import PROTOCOL

__all__ = [
    "ANY_FINITE",
    "COEFFICIENTS",
    "LOSS_SETS",
    "OUTPUT_RESET_CONTROLS",
    "OUTPUT_RESET_MARGIN",
    "STANDARD_LOSSES",
    "ZOO_LOSSES",
    "FamilyGrad",
    "FocusSchedule",
    "Interval",
    "Loss",
    "PTrueForm",
    "ProbForm",
    "autograd_on",
    "available_losses",
    "describe_loss",
    "family_grad",
    "family_loss",
    "get_loss",
    "gradient_focus",
    "mixture_weights",
    "p_true_form",
    "parse_loss_name",
    "record_replay",
    "register_loss",
    "register_loss_factory",
    "resolve_losses",
    "sigmoid_targets",
    "split_loss_names",
    "validate_loss_parameters",
]


# --- losses and their registry ------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """A named classification loss, of one of four kinds (:attr:`kind`):

    ``family``
        ``coefficients`` of the closed-form families (and a ``schedule`` for the CE/EL mixtures).
    ``p_true``
        a function of ``p_y`` alone (:class:`PTrueForm`): trained in the bank like the family.
    ``probs``
        a closed form in the whole softmax ``p`` (:class:`ProbForm`): its own gradient on its models.
    ``autograd``
        ``function(logits (B, C), targets (B,)) -> per-sample losses (B,)``, differentiated by autograd on
        its own models' logits.

    ``description`` gives the formula, ``source`` the paper it comes from.
    """

    name: str
    coefficients: dict = field(default_factory=dict)
    schedule: FocusSchedule | None = None
    function: Callable[[Tensor, Tensor], Tensor] | None = None
    description: str = ""
    p_true: PTrueForm | None = None
    probs: ProbForm | None = None
    source: str = ""

    @property
    def kind(self) -> str:
        if self.function is not None:
            return "autograd"
        if self.p_true is not None:
            return "p_true"
        if self.probs is not None:
            return "probs"
        return "family"

    @property
    def closed_form(self) -> bool:
        """Whether the gradient comes from a closed form (no autograd at all)."""
        kind = self.kind
        return kind in ("family", "probs") or (kind == "p_true" and self.p_true.weight is not None)

    def coefficients_at(self, epoch: int = 0, n_epochs: int = 1, n_classes: int | None = None) -> dict:
        """All :data:`COEFFICIENTS` for ``epoch`` of ``n_epochs`` (schedules resolved).

        A loss averaged over the classes (coefficient ``class_mean``) has its sigmoid weight divided by
        ``n_classes`` (left as it is when ``n_classes`` is None).
        """
        coef = {k: 0.0 for k in COEFFICIENTS}
        coef["focal_gamma"] = 2.0
        coef.update({k: float(v) for k, v in self.coefficients.items()})
        if coef.pop("class_mean", 0.0) and n_classes is not None:
            coef["sigmoid"] /= n_classes
        if self.schedule is not None:
            coef["ce"], coef["el"] = mixture_weights(self.schedule.focus(epoch, n_epochs))
        return coef

    def per_sample(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Per-sample loss, shape (B,), for logits (B, C) and integer targets (B,)."""
        kind = self.kind
        if kind == "autograd":
            out = self.function(logits, targets)
            grad = logits.requires_grad and torch.is_grad_enabled()
            check_user_output(self.name, _USER_FUNCTION, out, (logits.shape[0],), grad)
            return out
        if kind == "p_true":
            logp_y = torch.log_softmax(logits, -1).gather(-1, targets[:, None])[:, 0]
            return self.p_true.value(logp_y)
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if kind == "probs":
            return self.probs.value(logits, onehot, -1)
        return family_loss(logits, onehot, self.coefficients_at(epoch, n_epochs, logits.shape[-1]))

    def grad(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Gradient of the batch-mean loss w.r.t. the logits, shape (B, C): the closed form or autograd
        the engine uses for this loss."""
        kind = self.kind
        n = logits.shape[0]
        if kind == "autograd":
            with autograd_on():
                q = grad_leaf(logits)
                (g,) = torch.autograd.grad(self.per_sample(q, outside_inference(targets)).mean(), q)
            return g
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if kind == "p_true":
            logp = torch.log_softmax(logits, -1)
            logp_y = (logp * onehot).sum(-1, keepdim=True)
            return (logp.exp() - onehot) * self.p_true.weights(logp_y) / n
        if kind == "probs":
            return self.probs.grad(logits, onehot, -1) / n
        coef = self.coefficients_at(epoch, n_epochs, logits.shape[-1])
        return family_grad(logits, onehot, coef, scale=1.0 / n)

    def weighted_grad(self, logits: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
        """``d (sum_i weights_i loss_i) / d logits`` by autograd, for a user function (``autograd`` kind)."""
        with autograd_on():
            q = grad_leaf(logits)
            (g,) = torch.autograd.grad(
                self.per_sample(q, outside_inference(targets)), q, grad_outputs=outside_inference(weights)
            )
        return g

    def check_epochs(self, n_epochs: int, stacklevel: int = 2) -> None:
        """Warn when ``n_epochs`` is too short for every phase of this loss's schedule.

        ``stacklevel`` as in :func:`warnings.warn`, counted from the caller of this method.
        """
        if self.schedule is not None:
            skipped = self.schedule.skipped_values(n_epochs)
            if skipped:
                warnings.warn(
                    f"loss {self.name!r}: with {n_epochs} epochs the focus values {skipped} get no epoch "
                    f"(phases: {self.schedule.table(n_epochs)})",
                    stacklevel=stacklevel + 1,
                )


_USER_FUNCTION = "function(logits (B, C), targets (B,))"


# --- parameters of parameterised losses ---------------------------------------------------------------
_CLOSED = {"both": (True, True), "left": (True, False), "right": (False, True), "neither": (False, False)}


@dataclass(frozen=True)
class Interval:
    """The valid values of a loss parameter, as scikit-learn's ``Interval`` parameter constraint.

    Parameters
    ----------
    low, high : float or None
        The bounds; None for no bound on that side. Values must be finite in any case: NaN and infinity
        are never valid.
    closed : {"both", "left", "right", "neither"}
        Which bounds are valid values themselves.
    integer : bool
        Only whole numbers are valid (e.g. the order of a series).
    """

    low: float | None
    high: float | None
    closed: str = "both"
    integer: bool = False

    def __post_init__(self) -> None:
        if self.closed not in _CLOSED:
            raise ValueError(f"closed must be one of {', '.join(_CLOSED)}, got {self.closed!r}")

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value) or (self.integer and not float(value).is_integer()):
            return False
        left, right = _CLOSED[self.closed]
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return above and below

    def __str__(self) -> str:
        """``in (0, 1]``, ``a finite number >= 0``, ``an integer >= 1``: the rule as a message says it."""
        left, right = _CLOSED[self.closed]
        kind = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            span = f"{'[' if left else '('}{self.low:g}, {self.high:g}{']' if right else ')'}"
            return f"{kind} in {span}" if self.integer else f"in {span}"
        if self.low is not None:
            return f"{kind} {'>=' if left else '>'} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<=' if right else '<'} {self.high:g}"
        return kind


#: The rule for a parameter without a constraint of its own: any finite number.
ANY_FINITE = Interval(None, None)


def validate_loss_parameters(
    base: str, params: dict[str, float], constraints: dict[str, Interval], defaults: dict[str, float]
) -> None:
    """Raise ``ValueError`` naming the first parameter of ``params`` outside its constraint.

    The message gives the parameter as written, the rule and a valid example (the default), e.g.
    ``GCE(q=nan): q must be in (0, 1], e.g. GCE(q=0.7)``. A parameter without a constraint must be finite.
    """
    for key, value in params.items():
        rule = constraints.get(key, ANY_FINITE)
        if value not in rule:
            example = f", e.g. {base}({key}={defaults[key]:g})" if key in defaults else ""
            raise ValueError(f"{base}({key}={value:g}): {key} must be {rule}{example}")


_REGISTRY: dict[str, Loss] = {}
#: Losses with parameters: base name -> (default parameters, builder(name, **parameters) -> Loss,
#: each parameter's valid values).
_FACTORIES: dict[str, tuple[dict[str, float], Callable[..., Loss], dict[str, Interval]]] = {}
_PARSED: dict[str, Loss] = {}  # parameterised names already built


def register_loss(
    loss: Loss | str,
    function: Callable | None = None,
    *,
    of_p_true: Callable | None = None,
    derivative: Callable | None = None,
    description: str = "",
    source: str = "",
    replace: bool = False,
) -> Loss:
    """Add a loss to the registry so it can be named in runs, the CLI and the estimator.

    ``register_loss(Loss(...))``, or by name with one of

    * ``of_p_true``: the loss as a function of ``p_y`` alone, elementwise on a tensor
      (``register_loss("GCE", of_p_true=lambda p: (1 - p**0.7) / 0.7)``). Trained in the bank like a
      built-in loss: its logit gradient is ``g (p - onehot)`` with ``g = -l'(p_y) p_y``, ``l'`` from
      ``derivative`` when given (elementwise, a function of ``p_y``), else by autograd on ``p_y`` alone
      (recorded once per tensor shape and replayed, :func:`record_replay`: so ``of_p_true`` must be a pure
      function of its argument, with no state that changes between calls).
    * ``function(logits (B, C), targets (B,)) -> per-sample losses (B,)``: any loss, differentiated by
      autograd on its own models' logits.
    """
    if isinstance(loss, str):
        if (function is None) == (of_p_true is None):
            raise TypeError(
                "register_loss(name, function) or register_loss(name, of_p_true=...): give one of them"
            )
        if derivative is not None and of_p_true is None:
            raise TypeError("register_loss: derivative= goes with of_p_true=")
        form = None if of_p_true is None else p_true_form(of_p_true, derivative, loss)
        loss = Loss(name=loss, function=function, p_true=form, description=description, source=source)
    _check_loss_name(loss.name)
    if loss.name in globals().get("_BUILT_IN", ()) and _REGISTRY[loss.name] is not loss:
        # replace=True included: every run and table would show another function as the built-in
        raise ValueError(
            f"a loss named {loss.name!r} is already registered, built in: a loss of your own cannot replace "
            "it (replace=True neither); give yours a name of its own (e.g. 'MyLoss')"
        )
    if loss.name in _REGISTRY and not replace:
        raise ValueError(f"a loss named {loss.name!r} is already registered; pass replace=True")
    _REGISTRY[loss.name] = loss
    return loss


def _check_loss_name(name) -> None:
    """Refuse a name that would stand for another loss, or for nothing, wherever losses are named.

    Every table, config.json and ``--losses`` know a loss by its name alone: a user loss called
    ``GCE(q=0.5)`` would be shown (and resumed) as the zoo's GCE with q = 0.5, one called ``standard`` read
    back as the named set, ``a:b`` as a module to import, ``CE,Focal`` as two losses, ``" CE"`` printed as
    CE.
    """
    fix = "; give the loss a name of its own (e.g. 'MyLoss')"
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a loss needs a name, not {name!r}{fix}")
    if name != name.strip():
        raise ValueError(f"loss name {name!r} begins or ends with white space, which tables do not show{fix}")
    if name in globals().get("LOSS_SETS", {}):
        raise ValueError(f"loss name {name!r} is a named set of losses (--losses {name}){fix}")
    parsed = parse_loss_name(name)
    if parsed is not None and parsed[0] in _FACTORIES:
        raise ValueError(
            f"loss name {name!r} reads as the built-in {parsed[0]} with parameters, so every table would "
            f"show it as that loss{fix}"
        )
    pieces = _split_outside_parentheses(name)
    sets = globals().get("LOSS_SETS", {})
    if len(pieces) > 1 and all(
        piece in _REGISTRY or piece in sets or (parse_loss_name(piece) or ("",))[0] in _FACTORIES
        for piece in pieces
    ):
        raise ValueError(f"loss name {name!r} reads as the losses {pieces}{fix}")


def register_loss_factory(
    base: str,
    defaults: dict[str, float],
    build: Callable[..., Loss],
    constraints: dict[str, Interval] | None = None,
) -> Loss:
    """Register a loss with parameters: ``build(name, **parameters) -> Loss``. ``base`` names it with its
    ``defaults``; ``base(key=value, ...)`` (e.g. ``GCE(q=0.5)``) builds it with other values.

    ``constraints`` maps parameters to their valid values (:class:`Interval`); a name is checked against
    them where it is parsed, before ``build`` is called. A parameter without one must be finite.
    """
    constraints = dict(constraints or {})
    unknown = sorted(set(constraints) - set(defaults))
    if unknown:
        raise ValueError(f"register_loss_factory({base!r}): constraints for no parameter: {unknown}")
    validate_loss_parameters(base, defaults, constraints, {})  # the defaults themselves must be valid
    _FACTORIES[base] = (dict(defaults), build, constraints)
    return register_loss(build(base, **defaults), replace=True)


def _format_value(v: float) -> str:
    return f"{v:g}"


def parse_loss_name(name: str) -> tuple[str, dict[str, float]] | None:
    """``("GCE", {"q": 0.5})`` for ``"GCE(q=0.5)"``; None when ``name`` has no parameter list."""
    m = re.fullmatch(r"\s*(.+?)\s*\((.*)\)\s*", name)
    if m is None:
        return None
    base, args = m.group(1), m.group(2).strip()
    params: dict[str, float] = {}
    for item in filter(None, (a.strip() for a in args.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        try:
            if not eq or not key:
                raise ValueError
            number = float(value)
        except ValueError:
            raise ValueError(f"loss {name!r}: parameters are key=number, e.g. GCE(q=0.5)") from None
        if key in params:  # the last value would win unseen
            raise ValueError(f"loss {name!r}: parameter {key} is given twice; give it once")
        params[key] = number
    return base, params


def _build_parsed(name: str) -> Loss | None:
    parsed = parse_loss_name(name)
    if parsed is None:
        return None
    base, params = parsed
    if base not in _FACTORIES:
        known = ", ".join(f"{b}({', '.join(d)})" for b, (d, *_) in _FACTORIES.items() if d)
        raise KeyError(f"unknown loss {base!r} in {name!r}; losses with parameters: {known}")
    defaults, build, constraints = _FACTORIES[base]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise KeyError(f"loss {name!r}: no parameter {', '.join(unknown)}; {base} takes {sorted(defaults)}")
    validate_loss_parameters(base, params, constraints, defaults)
    canonical = f"{base}({','.join(f'{k}={_format_value(params[k])}' for k in defaults if k in params)})"
    if canonical not in _PARSED:
        try:
            _PARSED[canonical] = build(canonical, **{**defaults, **params})
        except ValueError as exc:
            raise ValueError(f"loss {name!r}: {exc}") from None
    return _PARSED[canonical]


def get_loss(name: str | Loss | Callable) -> Loss:
    """The loss called ``name``.

    A registered name; ``Base(key=value, ...)`` for a loss with parameters (``GCE(q=0.5)``,
    ``Poly-1(eps=2)``, ``Sigmoid-MSE(margin=0.1)``); ``package.module:attribute`` imports a user loss first
    (a :class:`Loss` or a per-sample function, registered under the attribute name); a :class:`Loss` or a
    per-sample function ``(logits (B, C), targets (B,)) -> (B,)`` is used as it is (not registered).
    """
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        if callable(name):
            return Loss(name=getattr(name, "__name__", type(name).__name__), function=name)
        raise TypeError(
            f"a loss is a name, a Loss or a function (logits (B, C), targets (B,)) -> (B,), "
            f"not a {type(name).__name__}"
        )
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _import_loss(name)
    parsed = _build_parsed(name)
    if parsed is not None:
        return parsed
    known = ", ".join(repr(n) for n in available_losses())
    raise KeyError(f"unknown loss {name!r}; known: {known} (or give module:attr)")


def _import_loss(name: str) -> Loss:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KeyError(f"cannot import loss {name!r}: {exc}") from exc
    except Exception as exc:  # the module itself raised, e.g. register_loss refused a name it chose
        raise KeyError(_import_failure(name, module_name, exc)) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError as exc:
        raise KeyError(f"cannot import loss {name!r}: {exc}") from exc
    if not isinstance(obj, Loss) and not callable(obj):
        raise TypeError(
            f"loss {name!r} is a {type(obj).__name__}; give a Loss or a function "
            "(logits (B, C), targets (B,)) -> per-sample losses (B,)"
        )
    loss = obj if isinstance(obj, Loss) else Loss(name=attr, function=obj)
    if ":" in loss.name:  # stored by that name, it would be read back as a module to import
        raise ValueError(
            f"{name!r} gives a loss named {loss.name!r}, whose ':' --losses reads as module:attr; give the "
            "loss a name of its own (e.g. 'MyLoss')"
        )
    existing = _REGISTRY.get(loss.name)
    if existing is None:
        return register_loss(loss)
    if existing == loss:  # the same object imported again (or registered by the module itself)
        return existing
    # Never hand back a different loss that merely shares the name (e.g. a.py:my_loss, b.py:my_loss).
    raise ValueError(
        f"{name!r} gives a loss named {loss.name!r}, but a different loss of that name is already "
        "registered; rename the attribute or the Loss"
    )


def _import_failure(name: str, module_name: str, exc: Exception) -> str:
    """One line for a module that raised while imported: its file and line, the cause and the fix."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}, line {exc.lineno}: "
    elif frames:
        where = f"{frames[-1].filename}, line {frames[-1].lineno}: "
        users = [f for f in frames if not f.filename.startswith(str(Path(__file__).parent.parent))]
        if users and users[-1] is not frames[-1]:  # raised inside mixbench: name the module's line too
            where = f"{users[-1].filename}, line {users[-1].lineno}: "
    cause = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"{where}importing loss {name!r} raised {type(exc).__name__}: {cause}; fix that module "
        f"(`python -c 'import {module_name}'` shows the whole traceback) or leave the loss out"
    )


def available_losses() -> list[str]:
    return list(_REGISTRY)


def resolve_losses(names: Sequence[str | Loss | Callable]) -> list[Loss]:
    losses = [get_loss(n) for n in names]
    dup = {ls.name for ls in losses if sum(o.name == ls.name for o in losses) > 1}
    if dup:
        raise ValueError(f"loss listed twice: {sorted(dup)}")
    return losses


def split_loss_names(value: str | Sequence[str]) -> list[str]:
    """Loss names from a comma-separated string (or a list), named sets expanded.

    Commas inside parentheses belong to the name (``SCE(alpha=0.1,beta=1)``); names that contain commas
    (``CE+EL F=0,0.5``) are found by taking, at each position, the longest run of comma-separated pieces
    that is a registered name. A named set of :data:`LOSS_SETS` (``standard``, ``zoo``, ...) stands for its
    losses; a loss already listed by a set is not repeated, but a name given twice is an error.
    """
    if isinstance(value, str):
        pieces = _split_outside_parentheses(value)
        known = set(available_losses()) | set(LOSS_SETS)
        items, i = [], 0
        while i < len(pieces):
            for j in range(len(pieces), i, -1):
                candidate = ",".join(pieces[i:j])
                if candidate in known:
                    break
            else:
                j, candidate = i + 1, pieces[i]
            if candidate:
                items.append(candidate)
            i = j
    else:
        items = [str(v).strip() for v in value]
    out: list[str] = []
    from_sets: set[str] = set()
    for item in items:
        if ":" not in item and item not in _REGISTRY and parse_loss_name(item) is not None:
            item = get_loss(item).name  # one spelling of a parameterised name: the one tables show
        same = [o for o in out if o != item and _same_parameters(o, item)]
        if same:  # GCE and GCE(q=0.7): one loss twice, under two names, in every table and test
            raise ValueError(
                f"{item!r} is {same[0]!r} with the same parameters, listed twice under two names; list it "
                "once"
            )
        if item in LOSS_SETS:
            new = [n for n in LOSS_SETS[item] if n not in out]
            out += new
            from_sets.update(new)
        elif item in out and item not in from_sets:
            raise ValueError(f"{item!r} is listed twice")
        elif item not in out:
            out.append(item)
    return out


def _same_parameters(a: str, b: str) -> bool:
    """Whether two names build the same parameterised loss (``GCE``, ``GCE()``, ``GCE(q=0.7)``)."""

    def identity(name: str):
        if name in _FACTORIES:
            return name, dict(_FACTORIES[name][0])
        try:
            parsed = parse_loss_name(name)
        except ValueError:
            return None
        if parsed is None or parsed[0] not in _FACTORIES:
            return None
        return parsed[0], {**_FACTORIES[parsed[0]][0], **parsed[1]}

    first = identity(a)
    return first is not None and first == identity(b)


def _split_outside_parentheses(text: str) -> list[str]:
    pieces, depth, current = [], 0, []
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            pieces.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    pieces.append("".join(current).strip())
    return pieces


# --- closed forms of the zoo ----------------------------------------------------------------------------
# Module-level functions bound with functools.partial, so that every Loss pickles (joblib workers, a
# pickled MixLossClassifier).
def _gce_value(logp_y: Tensor, q: float) -> Tensor:
    return -torch.expm1(q * logp_y) / q  # (1 - p_y^q) / q


def _gce_weight(logp_y: Tensor, q: float) -> Tensor:
    return torch.exp(q * logp_y)  # g = p_y^q


def _tamed_value(logp_y: Tensor, alpha: float) -> Tensor:
    # ((1 + CE)^(1 - alpha) - 1) / (1 - alpha) with CE = -log p_y
    return torch.expm1((1.0 - alpha) * torch.log1p(-logp_y)) / (1.0 - alpha)


def _tamed_weight(logp_y: Tensor, alpha: float) -> Tensor:
    return torch.pow(1.0 - logp_y, -alpha)  # g = (1 + CE)^-alpha


def _taylor_value(logp_y: Tensor, t: int) -> Tensor:
    u = -torch.expm1(logp_y)  # 1 - p_y
    out, power = u, u
    for k in range(2, t + 1):
        power = power * u
        out = out + power / k
    return out


def _taylor_weight(logp_y: Tensor, t: int) -> Tensor:
    # g = p_y sum_{k<t} (1 - p_y)^k = 1 - (1 - p_y)^t (the geometric sum)
    return torch.rsub(torch.expm1(logp_y).neg_().pow_(t), 1.0)


def _softmax_and_true(q: Tensor, onehot: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    logp = torch.log_softmax(q, dim)
    return logp, (logp * onehot).sum(dim, keepdim=True)


def _ls_value(q: Tensor, onehot: Tensor, dim: int, eps: float) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    return -((1.0 - eps) * logp_y + eps / q.shape[dim] * logp.sum(dim, keepdim=True)).squeeze(dim)


def _ls_grad(q: Tensor, onehot: Tensor, dim: int, eps: float) -> Tensor:
    # p - t with the smoothed target t = (1 - eps) onehot + eps / C
    return torch.softmax(q, dim).sub_(onehot, alpha=1.0 - eps).sub_(eps / q.shape[dim])


def _brier_value(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    return (torch.softmax(q, dim) - onehot).square().sum(dim)


def _brier_grad(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    # d/dq_k sum_c (p_c - y_c)^2 = 2 p_k ((p_k - y_k) - sum_c p_c (p_c - y_c))
    p = torch.softmax(q, dim)
    pe = p * (p - onehot)
    return pe.sub_(p * pe.sum(dim, keepdim=True)).mul_(2.0)


_RCE_A = 4.0  # -A with A = log 0 := -4, the constant of Wang et al. 2019 (RCE = -A (1 - p_y))


def _nce_rce_value(q: Tensor, onehot: Tensor, dim: int, alpha: float, beta: float) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    nce = logp_y / logp.sum(dim, keepdim=True)
    return (alpha * nce - beta * _RCE_A * torch.expm1(logp_y)).squeeze(dim)


def _nce_rce_grad(q: Tensor, onehot: Tensor, dim: int, alpha: float, beta: float) -> Tensor:
    # NCE = a / b with a = -log p_y, b = -sum_c log p_c: da/dq = p - y, db/dq = C p - 1
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    p = logp.exp()
    a, b = -logp_y, -logp.sum(dim, keepdim=True)
    diff = p - onehot
    nce = (diff * b - a * (q.shape[dim] * p - 1.0)) / b.square()
    return alpha * nce + (beta * _RCE_A) * logp_y.exp() * diff


def _mpce_value(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    top = logp.amax(dim, keepdim=True).exp()
    return ((top - logp_y.exp()) * -logp_y).squeeze(dim)


def _mpce_grad(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    # L = -(m - p_y) log p_y with m = max_j p_j = p_j*: dm/dq = m (e_j* - p), dp_y/dq = p_y (y - p)
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    p = logp.exp()
    top_log, top_index = logp.max(dim, keepdim=True)
    top_onehot = torch.zeros_like(p).scatter_(dim, top_index, 1.0)
    m, p_y = top_log.exp(), logp_y.exp()
    return -logp_y * (m * (top_onehot - p) - p_y * (onehot - p)) + (m - p_y) * (p - onehot)


# --- the built-in losses ----------------------------------------------------------------------------------
#: The eight configurations under study, by the names used in every table.
STANDARD_LOSSES = PROTOCOL.losses

#: Output Reset margin: the paper's constants are not public; 0.1 is this reconstruction's default.
OUTPUT_RESET_MARGIN = 0.1

_REFERENCE = "Battash, Hazan & Wolf, 'Mixing between the cross entropy and the expectation loss terms'"
_OUTPUT_RESET = "Tyagi et al. 2024, 'Making sigmoid-MSE great again' (arXiv 2411.11213)"

for _loss in (
    Loss("CE", {"ce": 1.0}, description="cross-entropy -log p_y", source="the standard baseline"),
    Loss(
        "CE+EL F=0",
        schedule=FocusSchedule((0.0,)),
        description="CE + EL throughout (a = b = 1)",
        source=_REFERENCE,
    ),
    Loss(
        "CE+EL F=0,0.5",
        schedule=FocusSchedule((0.0, 0.5), first_share=1.9),
        description="CE + EL for the first floor(0.95 N) epochs, then EL alone",
        source=_REFERENCE,
    ),
    Loss(
        "CE+EL F=0-0.5",
        schedule=FocusSchedule((0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
        description="focus F = 0, .1, .2, .3, .4, .5 in six phases: CE + EL/(1-2F), EL alone at the end",
        source=_REFERENCE,
    ),
    Loss("EL", {"el": 1.0}, description="expectation loss 1 - p_y", source=_REFERENCE),
):
    register_loss(_loss)


def _focal(name: str, alpha: float, gamma: float) -> Loss:
    return Loss(
        name,
        {"focal_alpha": alpha, "focal_gamma": gamma},
        description=f"softmax focal loss -{alpha:g} (1 - p_y)^{gamma:g} log p_y",
        source="Lin et al. 2017, 'Focal loss for dense object detection' (constants of the reference study)",
    )


def _sigmoid_mse(name: str, margin: float) -> Loss:
    if margin == 0:
        plain = "sum_c (sigmoid(q_c) - onehot_c)^2"
        return Loss(name, {"sigmoid": 1.0}, description=plain, source=_OUTPUT_RESET)
    return Loss(
        name,
        {"sigmoid": 1.0, "margin": margin},
        description=f"sum_c (sigmoid(q_c) - t_c)^2, targets 1-m / m (m = {margin:g}), no Output Reset: "
        "the control for Sigmoid-MSE+OR",
        source=_OUTPUT_RESET,
    )


def _output_reset(name: str, margin: float) -> Loss:
    return Loss(
        name,
        {"sigmoid": 1.0, "margin": margin, "reset": 1.0},
        description=f"sigmoid-MSE with targets 1-m / m (m = {margin:g}) and Output Reset",
        source=_OUTPUT_RESET + "; a reconstruction: the paper's constants are not public",
    )


def _poly1(name: str, eps: float) -> Loss:
    return Loss(
        name,
        {"ce": 1.0, "el": eps},
        description=f"Poly-1: CE + {eps:g} (1 - p_y)",
        source="Leng et al. 2022, 'PolyLoss: a polynomial expansion perspective of classification loss "
        "functions' (ICLR), eps = 1",
    )


def _sce(name: str, alpha: float, beta: float) -> Loss:
    return Loss(
        name,
        {"ce": alpha, "el": beta * _RCE_A},
        description=f"symmetric CE: {alpha:g} CE + {beta:g} RCE, RCE = -A (1 - p_y) with A = log 0 := -4",
        source="Wang et al. 2019, 'Symmetric cross entropy for robust learning with noisy labels' (ICCV), "
        "CIFAR-10 constants alpha = 0.1, beta = 1, A = -4",
    )


def _mae(name: str) -> Loss:
    return Loss(
        name,
        {"el": 2.0},
        description="mean absolute error sum_c |p_c - onehot_c| = 2 (1 - p_y) (twice EL)",
        source="Ghosh, Kumar & Sastry 2017, 'Robust loss functions under label noise for deep neural "
        "networks' (AAAI)",
    )


def _gce(name: str, q: float) -> Loss:
    return Loss(
        name,
        p_true=PTrueForm(partial(_gce_value, q=q), partial(_gce_weight, q=q)),
        description=f"generalized CE L_q = (1 - p_y^q) / q, q = {q:g}",
        source="Zhang & Sabuncu 2018, 'Generalized cross entropy loss for training deep neural networks "
        "with noisy labels' (NeurIPS), q = 0.7",
    )


def _tamed(name: str, alpha: float) -> Loss:
    return Loss(
        name,
        p_true=PTrueForm(partial(_tamed_value, alpha=alpha), partial(_tamed_weight, alpha=alpha)),
        description=f"tamed CE ((1 + CE)^(1-a) - 1) / (1 - a), a = {alpha:g}: dL/dCE = (1 + CE)^-a",
        source="Martinez & Stiefelhagen 2018, 'Taming the cross entropy loss' (GCPR), as written in the "
        "reference study's eq. 4 (up to its constant offset); a = 0.5 is mixbench's choice",
    )


def _taylor(name: str, t: float) -> Loss:
    t = int(t)
    return Loss(
        name,
        p_true=PTrueForm(partial(_taylor_value, t=t), partial(_taylor_weight, t=t)),
        description=f"Taylor CE sum_(k=1..{t}) (1 - p_y)^k / k (CE's series cut at order t = {t})",
        source="Feng et al. 2020, 'Can cross entropy loss be robust to label noise?' (IJCAI), t = 2",
    )


def _mpce(name: str) -> Loss:
    return Loss(
        name,
        probs=ProbForm(_mpce_value, _mpce_grad),
        description="MPCE -(max_j p_j - p_y) log p_y (no gradient once the true class is the argmax)",
        source="Zhou et al. 2019, 'MPCE: a maximum probability based cross entropy loss function for "
        "neural network classification' (IEEE Access), as written in the reference study's eq. 7",
    )


def _nce_rce(name: str, alpha: float, beta: float) -> Loss:
    return Loss(
        name,
        probs=ProbForm(
            partial(_nce_rce_value, alpha=alpha, beta=beta), partial(_nce_rce_grad, alpha=alpha, beta=beta)
        ),
        description=f"{alpha:g} NCE + {beta:g} RCE, NCE = log p_y / sum_c log p_c, RCE = 4 (1 - p_y)",
        source="Ma et al. 2020, 'Normalized loss functions for deep learning with noisy labels' (ICML), "
        "CIFAR-10 constants alpha = beta = 1",
    )


def _label_smoothing(name: str, eps: float) -> Loss:
    return Loss(
        name,
        probs=ProbForm(partial(_ls_value, eps=eps), partial(_ls_grad, eps=eps)),
        description=f"CE against the smoothed target (1 - e) onehot + e / C, e = {eps:g}",
        source="Szegedy et al. 2016, 'Rethinking the Inception architecture for computer vision' (CVPR), "
        "e = 0.1",
    )


def _brier(name: str) -> Loss:
    return Loss(
        name,
        probs=ProbForm(_brier_value, _brier_grad),
        description="Brier score sum_c (p_c - onehot_c)^2 (softmax MSE)",
        source="Brier 1950, 'Verification of forecasts expressed in terms of probability'",
    )


def _sigmoid_mse_mean(name: str) -> Loss:
    return Loss(
        name,
        {"sigmoid": 1.0, "class_mean": 1.0},
        description="(1/C) sum_c (sigmoid(q_c) - onehot_c)^2: PyTorch's MSELoss mean, a step C times smaller",
        source=_OUTPUT_RESET + " (their sigmoid-MSE baseline as PyTorch's MSELoss computes it)",
    )


_POSITIVE = Interval(0.0, None, closed="neither")
_NON_NEGATIVE = Interval(0.0, None, closed="left")
_MARGIN = Interval(0.0, 0.5, closed="left")  # targets 1 - m above m: the true class stays the higher one

#: The parameterised losses: base name -> (default parameters, builder, valid values of each parameter).
#: The constraints (scikit-learn's ``_parameter_constraints``) come from each loss's definition and are
#: checked where a name such as ``GCE(q=0.5)`` is parsed, before the loss is built.
_FACTORY_TABLE: dict[str, tuple[dict[str, float], Callable[..., Loss], dict[str, Interval]]] = {
    # alpha scales the loss (<= 0: nothing or the wrong way to learn); gamma >= 0 (0 is CE)
    "Focal": ({"alpha": 0.25, "gamma": 2.0}, _focal, {"alpha": _POSITIVE, "gamma": _NON_NEGATIVE}),
    "Sigmoid-MSE": ({"margin": 0.0}, _sigmoid_mse, {"margin": _MARGIN}),
    "Sigmoid-MSE+OR": ({"margin": OUTPUT_RESET_MARGIN}, _output_reset, {"margin": _MARGIN}),
    "MAE": ({}, _mae, {}),
    # L_q = (1 - p^q) / q: q -> 0 is CE (0 itself divides by 0), q = 1 is MAE's 1 - p_y
    "GCE": ({"q": 0.7}, _gce, {"q": Interval(0.0, 1.0, closed="right")}),
    # ((1 + CE)^(1-a) - 1) / (1 - a): a = 0 is CE, a = 1 divides by 0, a > 1 makes the loss bounded above
    "Tamed CE": ({"alpha": 0.5}, _tamed, {"alpha": Interval(0.0, 1.0, closed="left")}),
    "MPCE": ({}, _mpce, {}),
    # alpha CE + beta RCE with both weights positive (Wang et al.)
    "SCE": ({"alpha": 0.1, "beta": 1.0}, _sce, {"alpha": _POSITIVE, "beta": _POSITIVE}),
    # alpha NCE + beta RCE, alpha, beta > 0 (Ma et al.'s active-passive loss)
    "NCE+RCE": ({"alpha": 1.0, "beta": 1.0}, _nce_rce, {"alpha": _POSITIVE, "beta": _POSITIVE}),
    # the order of CE's Taylor series: a whole number of terms, at least one
    "Taylor CE": ({"t": 2}, _taylor, {"t": Interval(1, None, closed="left", integer=True)}),
    # CE + eps (1 - p_y): eps >= -1 keeps the loss decreasing in p_y (Leng et al.)
    "Poly-1": ({"eps": 1.0}, _poly1, {"eps": Interval(-1.0, None, closed="left")}),
    # target (1 - e) onehot + e / C: e = 1 is the uniform target, which carries no label
    "LS": ({"eps": 0.1}, _label_smoothing, {"eps": Interval(0.0, 1.0, closed="left")}),
    "Brier": ({}, _brier, {}),
    "Sigmoid-MSE mean": ({}, _sigmoid_mse_mean, {}),
}
for _base, (_defaults, _build, _constraints) in _FACTORY_TABLE.items():
    register_loss_factory(_base, _defaults, _build, _constraints)

#: Published baselines beyond the standard eight, with their papers' constants.
ZOO_LOSSES = ("MAE", "GCE", "Tamed CE", "MPCE", "SCE", "NCE+RCE", "Taylor CE", "Poly-1", "LS", "Brier")
#: The Output Reset controls: the margin without the reset, and sigmoid-MSE averaged over the classes.
OUTPUT_RESET_CONTROLS = (f"Sigmoid-MSE(margin={OUTPUT_RESET_MARGIN:g})", "Sigmoid-MSE mean")

#: The losses mixbench itself registers: no user loss replaces them (:func:`register_loss`).
_BUILT_IN = frozenset(_REGISTRY)

#: Named sets for ``--losses``; each holds CE, the baseline every table compares with.
LOSS_SETS: dict[str, tuple[str, ...]] = {
    "standard": STANDARD_LOSSES,
    "zoo": STANDARD_LOSSES + ZOO_LOSSES + OUTPUT_RESET_CONTROLS,
    "published": ("CE", "Focal", *ZOO_LOSSES),
    "robust": ("CE", "MAE", "GCE", "Tamed CE", "SCE", "NCE+RCE", "Taylor CE"),
    "output-reset": ("CE", "Sigmoid-MSE", "Sigmoid-MSE mean", *OUTPUT_RESET_CONTROLS[:1], "Sigmoid-MSE+OR"),
}


# --- where a loss focuses ---------------------------------------------------------------------------------
def gradient_focus(
    loss: str | Loss | Callable, p_true, n_classes: int = 10, epoch: int = 0, n_epochs: int = 1
) -> np.ndarray:
    """``|d loss / d q_y|`` against ``p_y``: the reference study's Figure 1, for any loss.

    The gradient is the one the engine trains with (closed form or autograd, :meth:`Loss.grad`), in float64,
    at logits ``(q_y, 0, ..., 0)`` with ``q_y = log(p_y (C - 1) / (1 - p_y))``, so that the softmax gives the
    true class ``p_y`` and the other classes equal shares. For losses of ``p_y`` alone the result does not
    depend on that choice; for the others (sigmoid-MSE, label smoothing, Brier, NCE, MPCE) it is this
    configuration's. Scheduled losses are taken at ``epoch`` of ``n_epochs``.

    Parameters
    ----------
    loss : a loss name, :class:`Loss` or user function
    p_true : array-like of values in (0, 1)
    n_classes : int, at least 2

    Returns
    -------
    ndarray of p_true's shape
    """
    loss = get_loss(loss)
    p = np.asarray(p_true, dtype=np.float64)
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("p_true must lie in (0, 1)")
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    flat = torch.from_numpy(p.reshape(-1))
    logits = torch.zeros(len(flat), n_classes, dtype=torch.float64)
    logits[:, 0] = torch.log(flat * (n_classes - 1)) - torch.log1p(-flat)
    targets = torch.zeros(len(flat), dtype=torch.int64)
    grad = loss.grad(logits, targets, epoch, n_epochs) * len(flat)  # per sample, not the batch mean
    return grad[:, 0].abs().numpy().reshape(p.shape)


def describe_loss(loss: str | Loss) -> str:
    """One line per fact: the name, its kind, the formula and the source."""
    loss = get_loss(loss)
    how = {
        "family": "closed form (softmax / sigmoid family)",
        "p_true": "function of p_y, trained in the bank"
        + (" (closed-form gradient)" if loss.closed_form else " (l'(p_y) by autograd on p_y)"),
        "probs": "closed form in p",
        "autograd": "user function, autograd on its own models",
    }[loss.kind]
    lines = [f"{loss.name}: {loss.description or '(no formula given)'}", f"  gradient: {how}"]
    if loss.source:
        lines.append(f"  source: {loss.source}")
    return "\n".join(lines)
