"""Features of a table as the engine takes them: imputed, standardised and one-hot encoded, fitted on the
training rows only (scikit-learn's ``ColumnTransformer``); shared by the folder and OpenML suites."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixbench.data import DatasetError

__all__ = ["preprocess"]


def preprocess(
    features: pd.DataFrame, numeric: list[str], categorical: list[str], train: np.ndarray, where
) -> np.ndarray:
    """Impute, standardise and one-hot encode features with statistics of the training rows only.

    Numeric columns: median imputation, then standardisation. Categorical columns: mode imputation, then
    one-hot encoding (a category absent from the training rows gets all zeros). A column empty in the
    training rows is dropped by the imputer.

    Parameters
    ----------
    features : DataFrame of shape (n_rows, n_columns)
    numeric, categorical : list of str
        The column roles.
    train : ndarray of int
        The training rows the transformer is fitted on.
    where : str or Path
        The file or source, named in an error.

    Returns
    -------
    ndarray of shape (n_rows, n_features_out), float32

    Raises
    ------
    DatasetError
        No feature is left, or a transformed value is not finite in float32.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    empty = [c for c in numeric + categorical if features[c].iloc[train].isna().all()]
    if empty and len(empty) == len(numeric) + len(categorical):
        raise DatasetError(
            f"{where}: feature column(s) {', '.join(map(repr, empty))} have no value in the training rows of "
            "this split, and there is no other feature; fill in values or add feature columns.",
            path=where,
        )
    # dropped here rather than by the imputer, which warns once per fit and fails when none is left
    numeric = [c for c in numeric if c not in empty]
    categorical = [c for c in categorical if c not in empty]
    features = features.copy()
    for column in categorical:  # one missing marker (NaN) and plain objects, whatever the source dtype
        features[column] = features[column].astype(object).where(features[column].notna(), np.nan)
    transformer = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                ),
                categorical,
            ),
        ],
        remainder="drop",
        sparse_threshold=0.0,
    )
    transformer.fit(features.iloc[train])  # statistics of the training rows only
    X = np.asarray(transformer.transform(features), dtype=np.float64)
    if X.shape[1] == 0:
        raise DatasetError(
            f"{where}: every feature column is empty in the training rows; add values.", path=where
        )
    if not np.isfinite(X).all() or np.abs(X).max(initial=0) > np.finfo(np.float32).max:
        raise DatasetError(
            f"{where}: the features are not finite after imputation and standardisation (a value beyond "
            "float32's range?); rescale the offending column.",
            path=where,
        )
    return np.ascontiguousarray(X, dtype=np.float32)
