"""Validation-based selection of each model's learning rate and epoch: the reference study's rule."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mixbench import schema


def select_by_validation(records: pd.DataFrame, lr_order: Sequence[float] | None = None) -> pd.DataFrame:
    """Pick, for each (loss, seed) and any other grouping column, the (lr, epoch) with the best validation.

    The rule of the reference study, made explicit:

    1. Within one learning rate, the epoch with the highest validation accuracy; ties go to the **later**
       epoch (its code keeps an epoch when ``val >= best so far``).
    2. Across learning rates, the rate whose best validation accuracy is **strictly** higher; ties go to the
       rate that comes first in ``lr_order`` (default: the order the rates first appear in ``records``,
       which is the order they were given to the engine, 0.01, 0.005, 0.001 for the protocol).

    Diverged epochs are never picked. A (loss, seed) whose every epoch diverged gets NaN accuracies,
    lr NaN and epoch -1.

    Parameters
    ----------
    records : DataFrame with ``RECORD_COLUMNS`` and optional extra key columns (dataset, net, split, noise)

    Returns
    -------
    DataFrame with one row per group: the key columns then :data:`mixbench.schema.SELECTION_COLUMNS`;
    ``diverged`` is True when any learning rate of the group diverged.
    """
    keys = [c for c in schema.TASK_KEY if c in records.columns] + ["loss", "seed"]
    order = list(dict.fromkeys(records["lr"])) if lr_order is None else [float(v) for v in lr_order]
    df = records.assign(_lr_rank=records["lr"].map({lr: i for i, lr in enumerate(order)}))
    if df["_lr_rank"].isna().any():
        raise ValueError(f"records hold learning rates not in lr_order {order}")
    any_diverged = df.groupby(keys, sort=False)["diverged"].any()
    ok = df[~df["diverged"] & df["val_acc"].notna()]
    # Best per lr: highest val, then latest epoch. Best across lrs: highest val, then first lr in order.
    ok = ok.sort_values(
        keys + ["val_acc", "_lr_rank", "epoch"], ascending=[True] * len(keys) + [False, True, False]
    )
    best = ok.drop_duplicates(keys, keep="first").set_index(keys)
    out = any_diverged.to_frame("diverged").join(best.drop(columns=["diverged"]), how="left").reset_index()
    out["epoch"] = out["epoch"].fillna(-1).astype(int)
    return out[keys + [c for c in schema.SELECTION_COLUMNS if c not in ("loss", "seed")]]
