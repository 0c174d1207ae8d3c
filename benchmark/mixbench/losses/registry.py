"""The registry of losses by name: registering losses (and losses with parameters), parsing and
resolving the names runs, the CLI and the estimator give, and the named sets of :data:`LOSS_SETS`.

A name is a registered loss (``CE``), a parameterised one (``GCE(q=0.5)``, checked against its
:class:`~mixbench.losses.parameters.Interval` constraints), or ``package.module:attribute`` for a user
loss imported on demand.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from mixbench.losses.forms import p_true_form
from mixbench.losses.loss import Loss
from mixbench.losses.parameters import Interval, validate_loss_parameters

_REGISTRY: dict[str, Loss] = {}
#: Losses with parameters: base name -> (default parameters, builder(name, **parameters) -> Loss,
#: each parameter's valid values).
_FACTORIES: dict[str, tuple[dict[str, float], Callable[..., Loss], dict[str, Interval]]] = {}
_PARSED: dict[str, Loss] = {}  # parameterised names already built
#: The losses mixbench itself registers: no user loss replaces them (:func:`register_loss`); set by
#: :func:`seal_built_in_losses` once :mod:`mixbench.losses.zoo` has registered them.
_BUILT_IN: frozenset[str] = frozenset()
#: Named sets for ``--losses``; each holds CE, the baseline every table compares with. Filled by
#: :mod:`mixbench.losses.zoo`.
LOSS_SETS: dict[str, tuple[str, ...]] = {}


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
    if loss.name in _BUILT_IN and _REGISTRY[loss.name] is not loss:
        # replace=True included: every run and table would show another function as the built-in
        raise ValueError(
            f"a loss named {loss.name!r} is already registered, built in: a loss of your own cannot replace "
            "it (replace=True neither); give yours a name of its own (e.g. 'MyLoss')"
        )
    if loss.name in _REGISTRY and not replace:
        raise ValueError(f"a loss named {loss.name!r} is already registered; pass replace=True")
    _REGISTRY[loss.name] = loss
    return loss


def seal_built_in_losses() -> None:
    """Mark every loss registered so far as mixbench's own: no user loss replaces one of them
    (:func:`register_loss` refuses it, ``replace=True`` included)."""
    global _BUILT_IN
    _BUILT_IN = frozenset(_REGISTRY)


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
    if name in LOSS_SETS:
        raise ValueError(f"loss name {name!r} is a named set of losses (--losses {name}){fix}")
    parsed = parse_loss_name(name)
    if parsed is not None and parsed[0] in _FACTORIES:
        raise ValueError(
            f"loss name {name!r} reads as the built-in {parsed[0]} with parameters, so every table would "
            f"show it as that loss{fix}"
        )
    pieces = _split_outside_parentheses(name)
    if len(pieces) > 1 and all(
        piece in _REGISTRY or piece in LOSS_SETS or (parse_loss_name(piece) or ("",))[0] in _FACTORIES
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
