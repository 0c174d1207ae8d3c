"""Tests of mixbench.MixLossClassifier (issue 7): scikit-learn's own checks, identity with the engine,
and use in scikit-learn's tools.

Expected values come from :func:`mixbench.engine.train_bank` called directly on the same rows, from
probabilities written out here with numpy, or from scikit-learn's own utilities; never from the estimator.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixbench import MixLossClassifier
from mixbench.engine import train_bank
from mixbench.losses import STANDARD_LOSSES, Loss
from mixbench.suites.toy import toy_dataset

NO_ROWS = np.empty(0, dtype=np.int64)


# --- scikit-learn's estimator checks ------------------------------------------------------------------
# Six epochs: enough for the checks' accuracy thresholds, and one epoch per phase of the default
# scheduled loss (fewer would make the engine warn). The second instance covers the sigmoid outputs, the
# linear network and validation-based epoch selection.
@parametrize_with_checks(
    [
        MixLossClassifier(epochs=6, random_state=0),
        MixLossClassifier(
            loss="Sigmoid-MSE+OR", net="linear", lr=0.1, epochs=6, validation_fraction=0.2, random_state=0
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    # check_array_api_input (numpy namespace) skips itself unless SCIPY_ARRAY_API is set. It only reads
    # the variable at call time, so setting it for this check makes it run instead of skip; scoped to the
    # test so that nothing else (scipy is already imported) sees it.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# --- helpers ----------------------------------------------------------------------------------------
def np_logits(params: list[torch.Tensor], X: np.ndarray) -> np.ndarray:
    """Logits of a [W1, b1, (W2, b2)] network in float64, written out with numpy."""
    W1, b1 = (p.numpy().astype(np.float64) for p in params[:2])
    out = X @ W1.T + b1
    if len(params) == 4:
        W2, b2 = (p.numpy().astype(np.float64) for p in params[2:])
        out = np.maximum(out, 0.0) @ W2.T + b2
    return out


def assert_same_params(actual: list[torch.Tensor], expected: list[torch.Tensor]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype == torch.float32
        assert torch.equal(a, e)


@pytest.fixture(scope="module")
def iris():
    return toy_dataset("iris")


# --- identity with the benchmark's engine ----------------------------------------------------------------
@pytest.mark.parametrize("net", ["linear", "hidden"])
@pytest.mark.parametrize("loss", STANDARD_LOSSES)
def test_fit_equals_train_bank_on_the_same_rows(iris, loss, net):
    """The benchmark's model for (rows, seed, settings) and the estimator's are the same model."""
    epochs, seed, lr = 6, 60, 0.01
    X_train, y_train = iris.part("train")
    clf = MixLossClassifier(loss=loss, net=net, lr=lr, epochs=epochs, random_state=seed)
    clf.fit(X_train, y_train)

    ref = train_bank(
        iris.X, iris.y, iris.train, iris.validation, iris.test, iris.n_classes,
        net=net, losses=[loss], lrs=[lr], seeds=[seed], epochs=epochs,
    )  # fmt: skip
    assert_same_params(clf.params_, ref.params[0])
    assert clf.seed_ == seed
    assert clf.n_iter_ == epochs
    np.testing.assert_array_equal(clf.loss_curve_, ref.records["train_loss"].to_numpy())
    assert clf.best_epoch_ is None and clf.validation_scores_ is None
    # Its accuracies are the benchmark's (which takes the argmax of the same logits in float32).
    last = ref.records.iloc[-1]
    for rows, column in ((iris.validation, "val_acc"), (iris.test, "test_acc")):
        assert clf.score(iris.X[rows], iris.y[rows]) == pytest.approx(last[column], abs=1e-6)


@pytest.mark.parametrize("loss", ["CE", "CE+EL F=0-0.5"])
def test_validation_fraction_keeps_the_engines_best_epoch(loss):
    data = toy_dataset("wine")
    X, y = data.X, data.y
    epochs, seed, fraction = 12, 1234, 0.3
    clf = MixLossClassifier(
        loss=loss, lr=0.001, epochs=epochs, validation_fraction=fraction, random_state=seed
    )
    clf.fit(X, y)

    # The documented split: train_test_split(stratify=y) with random_state, rows in data order.
    train, validation = train_test_split(np.arange(len(y)), test_size=fraction, stratify=y, random_state=seed)
    train, validation = np.sort(train), np.sort(validation)
    ref = train_bank(
        X, y, train, validation, NO_ROWS, data.n_classes,
        net="hidden", losses=[loss], lrs=[0.001], seeds=[seed], epochs=epochs, keep_best=True,
    )  # fmt: skip
    val_acc = ref.records["val_acc"].to_numpy()
    np.testing.assert_array_equal(clf.validation_scores_, val_acc)
    np.testing.assert_array_equal(clf.loss_curve_, ref.records["train_loss"].to_numpy())
    best = int(np.flatnonzero(val_acc == val_acc.max())[-1])  # highest validation, later epoch on ties
    assert clf.best_epoch_ == best
    assert_same_params(clf.params_, ref.best_params[0])
    assert clf.score(X[validation], y[validation]) == pytest.approx(val_acc[best], abs=1e-6)


def test_best_epoch_weights_are_those_of_a_run_stopped_at_that_epoch():
    """For an unscheduled loss the first k epochs do not depend on the run length: stop there instead."""
    data = toy_dataset("breast_cancer")
    X, y = data.X, data.y
    clf = MixLossClassifier(loss="CE", lr=0.05, epochs=12, validation_fraction=0.3, random_state=5)
    clf.fit(X, y)
    scores = clf.validation_scores_
    # Preconditions that make this check bite: the best validation accuracy is reached at several
    # epochs (the later one must win) and the last of them is not the last epoch.
    assert (scores == scores.max()).sum() > 1
    assert clf.best_epoch_ == np.flatnonzero(scores == scores.max())[-1] < 11

    train, _ = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=5)
    stopped = train_bank(
        X, y, np.sort(train), NO_ROWS, NO_ROWS, data.n_classes,
        net="hidden", losses=["CE"], lrs=[0.05], seeds=[5], epochs=clf.best_epoch_ + 1,
    )  # fmt: skip
    assert_same_params(clf.params_, stopped.params[0])


def test_random_state_seeding():
    X, y = toy_dataset("iris").part("train")
    params = MixLossClassifier(epochs=6, random_state=3).fit(X, y).params_
    assert_same_params(MixLossClassifier(epochs=6, random_state=3).fit(X, y).params_, params)
    other = MixLossClassifier(epochs=6, random_state=4).fit(X, y).params_
    assert not torch.equal(other[0], params[0])
    # A RandomState instance (or None) draws the engine seed with randint.
    clf = MixLossClassifier(epochs=6, random_state=np.random.RandomState(7)).fit(X, y)
    assert clf.seed_ == np.random.RandomState(7).randint(np.iinfo(np.int32).max)
    assert_same_params(clf.params_, MixLossClassifier(epochs=6, random_state=clf.seed_).fit(X, y).params_)


def test_float32_and_float64_inputs_train_the_same_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    a = MixLossClassifier(epochs=6, random_state=0).fit(X, y)
    b = MixLossClassifier(epochs=6, random_state=0).fit(X.astype(np.float32), y)
    assert_same_params(a.params_, b.params_)  # the engine trains in float32 either way


# --- outputs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["CE+EL F=0-0.5", "Focal", "Sigmoid-MSE", "Sigmoid-MSE+OR"])
def test_multiclass_outputs(iris, loss):
    X_train, y_train = iris.part("train")
    X_test, _ = iris.part("test")
    clf = MixLossClassifier(loss=loss, epochs=6, random_state=0).fit(X_train, y_train)
    logits = np_logits(clf.params_, X_test.astype(np.float64))
    if loss.startswith("Sigmoid-MSE"):
        assert clf.out_activation_ == "sigmoid"
        s = 1.0 / (1.0 + np.exp(-logits))
        expected_proba, expected_scores = s / s.sum(axis=1, keepdims=True), np.log(s)
    else:
        assert clf.out_activation_ == "softmax"
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected_proba, expected_scores = e / e.sum(axis=1, keepdims=True), logits
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 3)
    np.testing.assert_allclose(proba, expected_proba, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(expected_proba), rtol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X_test), expected_scores, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[logits.argmax(axis=1)])


@pytest.mark.parametrize("loss", ["CE", "Sigmoid-MSE+OR"])
def test_binary_decision_function_is_a_1d_score_for_classes_1(loss):
    data = toy_dataset("breast_cancer")
    X_train, y_train = data.part("train")
    X_test, _ = data.part("test")
    labels = np.array(["benign", "malignant"])[y_train]  # classes_[1] is "malignant"
    clf = MixLossClassifier(loss=loss, net="linear", epochs=6, random_state=0).fit(X_train, labels)
    decision = clf.decision_function(X_test)
    assert decision.shape == (len(X_test),)
    logits = np_logits(clf.params_, X_test.astype(np.float64))
    if loss == "CE":
        np.testing.assert_allclose(decision, logits[:, 1] - logits[:, 0], rtol=1e-12)
    predicted = clf.predict(X_test)
    assert set(predicted) == {"benign", "malignant"}
    np.testing.assert_array_equal(predicted, np.where(decision > 0, "malignant", "benign"))
    np.testing.assert_allclose(clf.predict_proba(X_test)[:, 1], 1.0 / (1.0 + np.exp(-decision)), rtol=1e-12)


def test_one_class_predicts_that_class():
    X = np.random.default_rng(0).normal(size=(12, 3))
    clf = MixLossClassifier(epochs=6, random_state=0).fit(X, ["only"] * 12)
    np.testing.assert_array_equal(clf.predict(X[:4]), ["only"] * 4)
    np.testing.assert_array_equal(clf.predict_proba(X[:4]), np.ones((4, 1)))


def test_string_labels_train_the_same_model_as_their_codes(iris):
    X_train, y_train = iris.part("train")
    X_test, _ = iris.part("test")
    names = np.array(["setosa", "versicolor", "virginica"])  # sorted, so LabelEncoder keeps the codes
    by_name = MixLossClassifier(epochs=6, random_state=0).fit(X_train, names[y_train])
    by_code = MixLossClassifier(epochs=6, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(by_name.classes_, names)
    assert_same_params(by_name.params_, by_code.params_)
    np.testing.assert_array_equal(by_name.predict(X_test), names[by_code.predict(X_test)])


# --- scikit-learn tools --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_wine():
    X, y = load_wine(return_X_y=True)  # unscaled: features from ~0.1 to ~1700
    return X, np.array(["barolo", "grignolino", "barbera"])[y]


def make_pipeline(**params) -> Pipeline:
    return Pipeline(
        [("scale", StandardScaler()), ("clf", MixLossClassifier(epochs=10, random_state=0, **params))]
    )


def test_pipeline_standardises_then_classifies(raw_wine):
    X, y = raw_wine
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    pipe = make_pipeline().fit(X_train, y_train)
    scaler = StandardScaler().fit(X_train)
    alone = MixLossClassifier(epochs=10, random_state=0).fit(scaler.transform(X_train), y_train)
    np.testing.assert_array_equal(pipe.predict(X_test), alone.predict(scaler.transform(X_test)))
    assert pipe.score(X_test, y_test) > 0.9  # wine is nearly separable once standardised


def test_cross_val_score_equals_a_manual_loop(raw_wine):
    X, y = raw_wine
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(make_pipeline(), X, y, cv=cv)
    manual = [make_pipeline().fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in cv.split(X, y)]
    np.testing.assert_array_equal(scores, manual)
    assert np.all(scores > 0.8)


def test_grid_search_over_losses_and_learning_rates(raw_wine):
    X, y = raw_wine
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"clf__loss": ["CE", "Sigmoid-MSE+OR"], "clf__lr": [0.01, 0.001]}
    search = GridSearchCV(make_pipeline(), grid, cv=cv).fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 4
    for params, mean in zip(results["params"], results["mean_test_score"], strict=True):
        expected = cross_val_score(make_pipeline().set_params(**params), X, y, cv=cv).mean()
        assert mean == pytest.approx(expected, abs=1e-12)
    best = search.best_estimator_.named_steps["clf"]
    assert (best.loss, best.lr) == (search.best_params_["clf__loss"], search.best_params_["clf__lr"])
    assert search.best_score_ == max(results["mean_test_score"])


def test_pickle_round_trip_gives_identical_predictions(raw_wine):
    X, y = raw_wine
    pipe = make_pipeline(loss="Sigmoid-MSE+OR").fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    assert_same_params(restored.named_steps["clf"].params_, pipe.named_steps["clf"].params_)


# --- warnings and errors ----------------------------------------------------------------------------------
def test_short_scheduled_run_warns_and_plain_loss_does_not(iris):
    X, y = iris.part("train")
    with pytest.warns(UserWarning, match="get no epoch"):
        MixLossClassifier(epochs=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MixLossClassifier(loss="CE", epochs=3, random_state=0).fit(X, y)


def _cross_entropy(q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(q, y, reduction="none")


def test_divergence_keeps_the_last_finite_epoch(iris):
    """A loss that turns NaN during epoch 2 (0-based): the model keeps its weights after epoch 1."""
    X, y = iris.part("train")
    calls_per_epoch = -(-len(y) // 8) + 1  # SGD steps, then one evaluation of the training loss
    checks = 2  # before training, the engine's finite-loss check takes the value and the gradient once
    calls = [0]

    def nan_from_epoch_2(q, t):
        calls[0] += 1
        ce = _cross_entropy(q, t)
        return ce * np.nan if calls[0] > checks + 2 * calls_per_epoch else ce

    clf = MixLossClassifier(loss=Loss("CE then NaN", function=nan_from_epoch_2), epochs=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 2"):
        clf.fit(X, y)
    assert np.isfinite(clf.loss_curve_[:2]).all() and np.isnan(clf.loss_curve_[2:]).all()
    two_epochs = train_bank(
        X, y, np.arange(len(y)), NO_ROWS, NO_ROWS, 3,
        net="hidden", losses=[Loss("CE", function=_cross_entropy)], lrs=[0.01], seeds=[0], epochs=2,
    )  # fmt: skip
    assert_same_params(clf.params_, two_epochs.params[0])


def test_a_loss_nan_for_finite_logits_is_named_not_blamed_on_the_learning_rate(iris):
    X, y = iris.part("train")
    nan_loss = Loss("NaN loss", function=lambda q, t: torch.log(q - 1e9).sum(1))
    with pytest.raises(
        ValueError, match="^loss 'NaN loss' returned NaN for finite logits at epoch 0"
    ) as info:
        MixLossClassifier(loss=nan_loss, epochs=2, random_state=0).fit(X, y)
    assert "lower lr" not in str(info.value) and "not the learning rate" in str(info.value)


def test_divergence_in_the_first_epoch_raises(iris):
    X, y = iris.part("train")
    with pytest.raises(ValueError, match="diverged in the first epoch"):
        MixLossClassifier(loss="CE", lr=1e30, epochs=2, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "no such loss"}, "loss='no such loss'.*unknown loss"),
        ({"net": "deep"}, "net='deep'"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.5}, "epochs=2.5"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"momentum": 1.0}, "momentum=1.0"),
        ({"validation_fraction": 1.0}, "validation_fraction=1.0"),
        ({"validation_fraction": 0.02}, "no stratified split"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(iris, params, match):
    X, y = iris.part("train")
    with pytest.raises(ValueError, match=match):
        MixLossClassifier(**{"epochs": 6, **params}).fit(X, y)


def test_clone_keeps_a_loss_object():
    clf = MixLossClassifier(loss=Loss("my CE", function=_cross_entropy))
    assert clone(clf).get_params()["loss"].name == "my CE"
