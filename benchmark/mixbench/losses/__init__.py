"""Losses and schedules.

Every loss works on logits ``q`` (batch x C) and integer targets ``y``; ``p = softmax(q)`` and ``p_y`` is
its true-class entry.

The built-in losses belong to two closed-form families (softmax: CE, EL, the scheduled CE+EL mixtures and
the softmax focal loss; sigmoid: sigmoid-MSE with margins and Output Reset), so that a whole bank of models
with different losses can be trained with one set of tensor operations (see :mod:`mixbench.engine`). A loss
whose coefficients change over epochs (the mixtures) carries a :class:`FocusSchedule`.

Beside the families, a loss may be a function of ``p_y`` alone (:class:`PTrueForm`: its logit gradient
``g(p_y) (p - onehot)`` has the family's shape, so it trains in the bank at the family's cost), a closed
form in the whole softmax ``p`` (:class:`ProbForm`), or any function of the logits, trained with autograd.
The zoo of published losses (GCE, SCE, NCE+RCE, ...) is registered with its papers' constants; losses
with parameters are named with them (``GCE(q=0.5)``). Users add losses with :func:`register_loss`.

The package only re-exports; each concept has its own module:

* :mod:`~mixbench.losses.schedules`: :class:`FocusSchedule` and :func:`mixture_weights`.
* :mod:`~mixbench.losses.families`: the closed-form families, :func:`family_loss` and :class:`FamilyGrad`.
* :mod:`~mixbench.losses.autograd`: autograd where the engine switched it off, :func:`record_replay`.
* :mod:`~mixbench.losses.forms`: :class:`PTrueForm` (losses of ``p_y``) and :class:`ProbForm`.
* :mod:`~mixbench.losses.loss`: :class:`Loss`, a named loss of one of four kinds.
* :mod:`~mixbench.losses.parameters`: :class:`Interval`, the valid values of a loss's parameters.
* :mod:`~mixbench.losses.registry`: registering, naming and resolving losses, :data:`LOSS_SETS`.
* :mod:`~mixbench.losses.zoo`: the built-in losses, registered when this package is imported.
* :mod:`~mixbench.losses.describe`: :func:`describe_loss`, :func:`gradient_focus` and
  :func:`identical_losses`.
"""

from mixbench.losses.autograd import autograd_on, record_replay
from mixbench.losses.describe import describe_loss, gradient_focus, identical_losses
from mixbench.losses.families import COEFFICIENTS, FamilyGrad, family_grad, family_loss, sigmoid_targets
from mixbench.losses.forms import ProbForm, PTrueForm, p_true_form
from mixbench.losses.loss import Loss
from mixbench.losses.parameters import ANY_FINITE, Interval, validate_loss_parameters
from mixbench.losses.registry import (
    LOSS_SETS,
    available_losses,
    get_loss,
    parse_loss_name,
    register_loss,
    register_loss_factory,
    resolve_losses,
    split_loss_names,
)
from mixbench.losses.schedules import FocusSchedule, mixture_weights

# Importing the zoo registers the built-in losses: the registry is populated once this package is imported.
from mixbench.losses.zoo import OUTPUT_RESET_CONTROLS, OUTPUT_RESET_MARGIN, STANDARD_LOSSES, ZOO_LOSSES

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
    "identical_losses",
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
