"""The valid values of a parameterised loss's parameters (``GCE(q=0.5)``): :class:`Interval` rules, checked
where a name is parsed."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
