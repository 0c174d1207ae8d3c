"""Number formats shared by the verdict sentences and every renderer, rounded from exact values.

A float such as the mean rank 99/40 is stored as 2.4749999999999996; formatting it with ``f"{x:.2f}"`` prints
2.47. These helpers first round to 10 decimals (far below any difference a statistic here can make) and then
round half up in decimal arithmetic, so 99/40 prints as 2.48, as a reader computing it by hand expects.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np

__all__ = ["fixed", "signed", "pvalue", "wins", "percent", "points", "count", "interval"]


def _decimal(x: float, digits: int) -> Decimal:
    value = Decimal(repr(round(float(x), 10))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return abs(value) if value == 0 else value  # never "-0.00"


def _finite(x) -> bool:
    return x is not None and np.isfinite(float(x))


def fixed(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, rounded half up; 'n/a' for None, NaN or inf."""
    return f"{_decimal(x, digits):.{digits}f}" if _finite(x) else "n/a"


def signed(x: float | None, digits: int = 2) -> str:
    """Like ``fixed`` with an explicit sign; zero prints without one."""
    if not _finite(x):
        return "n/a"
    value = _decimal(x, digits)
    return f"{value:.{digits}f}" if value == 0 else f"{value:+.{digits}f}"


def pvalue(p: float | None) -> str:
    """A p-value: 3 decimals, or 2 significant digits in scientific notation below 0.001; 'n/a' when
    undefined."""
    if not _finite(p):
        return "n/a"
    return fixed(p, 3) if p >= 0.001 else f"{p:.1e}"


def wins(w: float) -> str:
    """Win counts: whole numbers without decimals, averaged counts with one."""
    if not _finite(w):
        return "n/a"
    return fixed(w, 0) if float(w).is_integer() else fixed(w, 1)


def percent(share: float, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage."""
    return "n/a" if not _finite(share) else f"{fixed(100 * share, digits)}%"


def points(fraction: float) -> str:
    """A fraction of accuracy in percentage points, without trailing zeros (0.01 -> '1', 0.005 -> '0.5')."""
    return fixed(100 * fraction, 2).rstrip("0").rstrip(".")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 dataset', '2 datasets' ('1 loss', '2 losses' with ``plural='losses'``)."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def interval(low: float | None, high: float | None) -> str:
    """'[+0.19, +0.78]', or '' when the interval is undefined (fewer than two datasets)."""
    if not (_finite(low) and _finite(high)):
        return ""
    return f"[{signed(low)}, {signed(high)}]"
