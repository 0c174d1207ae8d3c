"""A scikit-learn classifier trained with the benchmark's engine and losses.

:class:`MixLossClassifier` trains one model with :func:`mixbench.engine.train_bank` (one loss, one learning
rate, one seed), so a model fitted here and the benchmark's model for the same rows, seed and settings have
the same parameters.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mixbench.engine import select_by_validation, train_bank
from mixbench.losses import Loss, get_loss
from mixbench.models import NETS, forward
from mixbench.protocol import PROTOCOL

_SEED_HIGH = np.iinfo(np.int32).max  # seeds drawn for random_state=None or a RandomState instance


class MixLossClassifier(ClassifierMixin, BaseEstimator):
    """Neural-network classifier trained with one of the benchmark's losses.

    A linear or one-hidden-layer network trained by SGD with momentum, with the same engine
    (:func:`mixbench.engine.train_bank`), initialisation, batch order and losses as the benchmark: a model
    fitted here on the benchmark's training rows with the same seed and settings has exactly the benchmark
    model's parameters.

    The inputs are used as given. Like the benchmark, which standardises every dataset, the networks train
    best on standardised features: put a :class:`~sklearn.preprocessing.StandardScaler` in front of the
    classifier in a :class:`~sklearn.pipeline.Pipeline`.

    A dataset of any benchmark suite (``uci121``, ``toy``, ``folder:PATH``, ``openml:ID``) comes preprocessed
    and split: ``ds = mixbench.suites.get_suite(spec).load(name, split)``, then ``fit(*ds.part("train"))``
    and ``score(*ds.part("test"))``. The defaults (epochs, batch size, momentum, learning rate) are those of
    :data:`mixbench.protocol.PROTOCOL`.

    Parameters
    ----------
    loss : str, Loss or callable, default="CE+EL F=0-0.5"
        A loss of :data:`mixbench.losses.STANDARD_LOSSES` (``"CE"``, ``"CE+EL F=0"``, ``"CE+EL F=0,0.5"``,
        ``"CE+EL F=0-0.5"``, ``"EL"``, ``"Focal"``, ``"Sigmoid-MSE"``, ``"Sigmoid-MSE+OR"``), of the zoo
        (``"GCE"``, ``"SCE"``, ...; with parameters ``"GCE(q=0.5)"``), a name given to
        :func:`mixbench.losses.register_loss`, ``"package.module:attribute"``, a
        :class:`~mixbench.losses.Loss`, or a function ``(logits (B, C), targets (B,)) -> (B,)`` (autograd).
        Scheduled losses (the ``CE+EL`` mixtures) spread their phases over
        ``epochs``; with fewer epochs than phases some focus values get no epoch and the engine warns.
    net : {"hidden", "linear"}, default="hidden"
        ``"hidden"``: one ReLU hidden layer with as many units as input features; ``"linear"``: no hidden
        layer.
    lr : float, default=0.01
        SGD learning rate.
    epochs : int, default=50
        Passes over the training rows.
    batch_size : int, default=8
        Rows per SGD step; the last, partial batch of each epoch is kept.
    momentum : float, default=0.9
        SGD momentum (PyTorch semantics), in [0, 1).
    validation_fraction : float or None, default=None
        If a float in (0, 1), this fraction of the rows is held out by
        ``train_test_split(..., test_size=validation_fraction, stratify=y)`` with ``random_state``, the
        network trains on the other rows, and it keeps its weights of the epoch with the highest
        validation accuracy (the later epoch on ties, the benchmark's rule). If None, all rows train and
        the model keeps its weights of the last epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batch order and the validation split. An int is the engine's seed
        itself, so ``random_state=60`` gives the benchmark's seed-60 model; a RandomState instance or None
        draws the seed with ``check_random_state(random_state).randint``. Pass an int for repeatable fits.
    device : str, default="cpu"
        Torch device for training (``"cpu"`` or ``"cuda"``); predictions are computed on the CPU.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when ``X`` has string column names.
    params_ : list of Tensor
        Network parameters in ``torch.nn.Linear`` layout, float32: ``[W1, b1]`` (linear) or
        ``[W1, b1, W2, b2]`` (hidden), with ``W`` of shape (out, in); :func:`mixbench.models.forward`
        gives the logits.
    out_activation_ : {"softmax", "sigmoid"}
        How logits become probabilities: ``"sigmoid"`` for losses of the sigmoid-MSE family
        (``"Sigmoid-MSE"``, ``"Sigmoid-MSE+OR"``), ``"softmax"`` for all others, user losses included.
    loss_curve_ : ndarray of shape (n_iter_,)
        Mean training loss over the training rows after each epoch (NaN from a diverged epoch on).
    validation_scores_ : ndarray of shape (n_iter_,) or None
        Validation accuracy after each epoch; None when ``validation_fraction`` is None.
    best_epoch_ : int or None
        0-based epoch whose weights the model keeps, selected by validation accuracy; None when
        ``validation_fraction`` is None (the weights of the last epoch are kept).
    seed_ : int
        The engine seed used for the fit.
    n_iter_ : int
        Epochs trained (``epochs``).

    See Also
    --------
    mixbench.engine.train_bank : The engine, which trains many losses, learning rates and seeds at once.
    sklearn.neural_network.MLPClassifier : scikit-learn's multi-layer perceptron.

    Notes
    -----
    ``predict`` returns the class of the largest logit, as the benchmark's accuracies do. For softmax
    losses ``predict_proba`` is the softmax of the logits. The sigmoid-MSE losses train one sigmoid output
    per class, which need not sum to one; ``predict_proba`` divides the sigmoid outputs by their sum, so the
    ranking of classes is the sigmoids' and the rows sum to one, but the values are not calibrated
    probabilities. ``decision_function`` is the logarithm of the unnormalised scores that ``predict_proba``
    normalises: the logits for softmax losses, ``log sigmoid(logits)`` for sigmoid-MSE losses; with two
    classes, the score of ``classes_[1]`` minus that of ``classes_[0]`` (the logit difference for softmax
    losses), shape (n_samples,).

    Training runs in float32 (the engine's precision); predictions are computed in float64 from the
    float32 parameters, so they do not depend on how many rows are predicted at once.

    Sample weights are not supported. Training diverges (non-finite loss or parameters) when the learning
    rate is too high: the model then keeps the weights of the last finite epoch and a
    :class:`~sklearn.exceptions.ConvergenceWarning` says so; a fit that diverges in its first epoch raises
    ``ValueError``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mixbench import MixLossClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), MixLossClassifier(epochs=20, random_state=60)).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        loss: str | Loss = "CE+EL F=0-0.5",
        net: str = "hidden",
        lr: float = PROTOCOL.lrs[0],
        epochs: int = PROTOCOL.epochs,
        batch_size: int = PROTOCOL.batch_size,
        momentum: float = PROTOCOL.momentum,
        validation_fraction: float | None = None,
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
    ):
        self.loss = loss
        self.net = net
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.momentum = momentum
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device

    # -- fit ------------------------------------------------------------------------------------------
    def fit(self, X, y) -> MixLossClassifier:
        """Train the network on ``X``, ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (dense).
        y : array-like of shape (n_samples,)
            Class labels (any type scikit-learn accepts for classification).

        Returns
        -------
        self : MixLossClassifier
            The fitted classifier.
        """
        loss = self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        y_encoded = encoder.transform(y).astype(np.int64)

        rng = check_random_state(self.random_state)  # also rejects invalid values with a clear error
        if isinstance(self.random_state, numbers.Integral):
            seed = int(self.random_state)
        else:
            seed = int(rng.randint(_SEED_HIGH))
        train, validation = self._split(y_encoded, rng)

        result = train_bank(
            X,
            y_encoded,
            train,
            validation,
            np.empty(0, dtype=np.int64),
            len(self.classes_),
            net=self.net,
            losses=[loss],
            lrs=[self.lr],
            seeds=[seed],
            epochs=self.epochs,
            batch_size=self.batch_size,
            momentum=self.momentum,
            device=self.device,
            keep_best=True,
            stacklevel=2,  # a too-short-schedule warning points at the caller of fit
        )
        records = result.records.sort_values("epoch")
        diverged_epoch = int(result.models["diverged_epoch"].iloc[0])
        if diverged_epoch == 0:
            raise ValueError(
                f"training diverged in the first epoch (non-finite loss or parameters) with lr={self.lr}; "
                "lower lr or standardise the inputs (StandardScaler)"
            )

        self.seed_ = seed
        self.out_activation_ = "sigmoid" if _is_sigmoid_family(loss) else "softmax"
        self.loss_curve_ = records["train_loss"].to_numpy(dtype=np.float64)
        self.n_iter_ = int(self.epochs)
        if len(validation):
            self.validation_scores_ = records["val_acc"].to_numpy(dtype=np.float64)
            # The engine's selection rule on the records; best_params hold that epoch's weights.
            self.best_epoch_ = int(select_by_validation(result.records)["epoch"].iloc[0])
        else:
            self.validation_scores_ = None
            self.best_epoch_ = None
        # keep_best with an empty validation set keeps the weights of the last finite epoch: the final
        # weights when training did not diverge (a diverged model's final weights are zeroed).
        self.params_ = [p.detach().clone() for p in result.best_params[0]]
        if diverged_epoch > 0:
            kept = self.best_epoch_ if self.best_epoch_ is not None else diverged_epoch - 1
            warnings.warn(
                f"training diverged at epoch {diverged_epoch} (0-based) with lr={self.lr}; the model keeps "
                f"the weights of epoch {kept}. Lower lr or standardise the inputs.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_params(self) -> Loss:
        """Validate the hyper-parameters (scikit-learn validates in fit, never in __init__)."""
        try:
            loss = get_loss(self.loss)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"loss={self.loss!r}: {exc.args[0]}") from None
        if self.net not in NETS:
            raise ValueError(f"net={self.net!r}: choose one of {NETS}")
        if not _is_real(self.lr) or not 0 < self.lr < np.inf:
            raise ValueError(f"lr={self.lr!r}: give a positive finite float")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r}: give an int >= 1")
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum={self.momentum!r}: give a float in [0, 1)")
        fraction = self.validation_fraction
        if fraction is not None and (not _is_real(fraction) or not 0 < fraction < 1):
            raise ValueError(f"validation_fraction={fraction!r}: give None or a float in (0, 1)")
        return loss

    def _split(self, y: np.ndarray, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        """Sorted train and validation row indices (all rows train when validation_fraction is None)."""
        rows = np.arange(len(y), dtype=np.int64)
        if self.validation_fraction is None:
            return rows, np.empty(0, dtype=np.int64)
        try:
            train, validation = train_test_split(
                rows, test_size=self.validation_fraction, stratify=y, random_state=rng
            )
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={self.validation_fraction}: no stratified split of {len(y)} rows "
                f"with {len(self.classes_)} classes ({exc}); give more rows, a larger fraction, or None"
            ) from None
        # Sorted: the engine shuffles the training rows it is given, so the order must be the data's own
        # (as in the benchmark's splits) for a fit here to equal train_bank on the same rows.
        return np.sort(train), np.sort(validation)

    # -- predict --------------------------------------------------------------------------------------
    def _logits(self, X) -> torch.Tensor:
        """Logits (n_samples, n_classes), float64."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Xt = torch.from_numpy(np.array(X, dtype=np.float64, order="C"))  # a copy: never a read-only view
        with torch.no_grad():
            return forward([p.double() for p in self.params_], Xt)

    def _scores(self, X) -> np.ndarray:
        """Log-scores (n_samples, n_classes), float64, whose softmax is predict_proba."""
        logits = self._logits(X)
        if self.out_activation_ == "sigmoid":
            logits = torch.nn.functional.logsigmoid(logits)
        return logits.numpy()

    def decision_function(self, X) -> np.ndarray:
        """Class scores: the logits (softmax losses) or log-sigmoid of the logits (sigmoid-MSE losses).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            With two classes, the score of ``classes_[1]`` minus that of ``classes_[0]`` (positive means
            ``classes_[1]``); otherwise one column per class of ``classes_``.
        """
        check_is_fitted(self)
        scores = self._scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax of the logits, or the sigmoid outputs divided by their sum.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1. For sigmoid-MSE losses these are
            normalised sigmoid outputs, not calibrated probabilities (see Notes of the class).
        """
        check_is_fitted(self)
        return torch.softmax(torch.from_numpy(self._scores(X)), dim=1).numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed without rounding small probabilities to 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return torch.log_softmax(torch.from_numpy(self._scores(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        """Class of the largest logit, as in the benchmark's accuracies.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[self._logits(X).argmax(dim=1).numpy()]


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_sigmoid_family(loss: Loss) -> bool:
    """Whether ``loss`` is a sigmoid-MSE loss (per-class sigmoid outputs) rather than a softmax one."""
    if loss.kind != "family":
        return False  # the zoo's and user losses get softmax probabilities
    coef = loss.coefficients_at()
    return coef["sigmoid"] != 0 and coef["ce"] == coef["el"] == coef["focal_alpha"] == 0
