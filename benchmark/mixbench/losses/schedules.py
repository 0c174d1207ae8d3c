"""Focus schedules: the weights of the CE + EL mixtures and how their focus changes over the epochs.

A loss whose coefficients change over epochs (the mixtures) carries a :class:`FocusSchedule`; at each
epoch its focus value ``F`` gives the weights ``(a, b)`` of ``a * CE + b * EL`` (:func:`mixture_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass


def mixture_weights(focus: float) -> tuple[float, float]:
    """Weights ``(a, b)`` of ``a * CE + b * EL`` for a focus value ``F`` in [0, 0.5].

    ``F < 0.5`` gives ``a = 1, b = 1 / (1 - 2F)``; ``F = 0.5`` gives EL alone (``a = 0, b = 1``). The
    magnitude of ``dL/dq_y`` then peaks at ``p_y = 0.5 (1 - a / b) = F``.
    """
    if not 0.0 <= focus <= 0.5:
        raise ValueError(f"focus F must lie in [0, 0.5], got {focus}")
    if focus == 0.5:
        return 0.0, 1.0
    return 1.0, 1.0 / (1.0 - 2.0 * focus)


@dataclass(frozen=True)
class FocusSchedule:
    """Focus values ``F`` in phases over the epochs of a run (the reference study's rule).

    With ``K`` focus values over ``N`` epochs the first phase lasts ``floor(N * first_share / K)`` epochs
    (``f``) and the remaining ``N - f`` epochs are split evenly among the other ``K - 1`` phases: epoch
    ``e >= f`` is in phase ``1 + floor((e - f) * (K - 1) / (N - f))``.

    With fewer epochs than phases some phases get no epoch at all (for ``F=0-0.5`` and ``N < 6`` the first
    phase, ``F = 0``, is empty, and for ``N < 5`` later ones too, ``F = 0.5`` among them); :meth:`table`
    shows what a given ``N`` does, :meth:`skipped_values` lists the focus values that get no epoch, and
    :meth:`Loss.check_epochs` warns about them.
    """

    values: tuple[float, ...]
    first_share: float = 1.0

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a FocusSchedule needs at least one focus value")
        for v in self.values:
            mixture_weights(v)  # validates the range

    def first_phase_length(self, n_epochs: int) -> int:
        return int(n_epochs * self.first_share // len(self.values))

    def phase(self, epoch: int, n_epochs: int) -> int:
        """Index of the phase that ``epoch`` (0-based) of ``n_epochs`` is in."""
        if not 0 <= epoch < n_epochs:
            raise ValueError(f"epoch {epoch} outside 0..{n_epochs - 1}")
        k = len(self.values)
        first = self.first_phase_length(n_epochs)
        if k == 1 or epoch < first:
            return 0
        # Integer arithmetic: (e - f) / ((N - f) / (K - 1)) without float rounding at phase borders.
        return min(k - 1, 1 + (epoch - first) * (k - 1) // (n_epochs - first))

    def focus(self, epoch: int, n_epochs: int) -> float:
        return self.values[self.phase(epoch, n_epochs)]

    def table(self, n_epochs: int) -> list[tuple[int, int, float]]:
        """Phases as ``(first_epoch, last_epoch, F)`` for ``n_epochs``; empty phases are left out."""
        rows: list[tuple[int, int, float]] = []
        for e in range(n_epochs):
            f = self.focus(e, n_epochs)
            if rows and rows[-1][2] == f and rows[-1][1] == e - 1:
                rows[-1] = (rows[-1][0], e, f)
            else:
                rows.append((e, e, f))
        return rows

    def skipped_values(self, n_epochs: int) -> list[float]:
        """Focus values that get no epoch with ``n_epochs`` epochs."""
        seen = {self.phase(e, n_epochs) for e in range(n_epochs)}
        return [v for i, v in enumerate(self.values) if i not in seen]
