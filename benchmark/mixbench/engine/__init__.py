"""Batched training of many models: every (loss, learning rate, seed) model of one dataset and network
trained in lockstep as one "model bank".

The package only re-exports; each concept has its own module:

* :mod:`~mixbench.engine.numerics`: ``NUMERICS_VERSION``, the version of the engine's arithmetic.
* :mod:`~mixbench.engine.bank`: the bank (stacked parameters, one SGD step of every model) and
  :func:`train_bank`.
* :mod:`~mixbench.engine.nets`: each network shape's layout in a bank, one class per network.
* :mod:`~mixbench.engine.coefficients`: each model's loss-family coefficients in a logits layout.
* :mod:`~mixbench.engine.evaluation`: end-of-epoch training loss and accuracies of every model.
* :mod:`~mixbench.engine.selection`: :func:`select_by_validation`, the reference study's rule.
* :mod:`~mixbench.engine.reference`: :func:`train_naive`, the one-model-at-a-time reference loop.
* :mod:`~mixbench.engine.bench`: timings of the bank against that loop, the cost of each loss, pooled
  rates, projections of the protocol and a worker's peak memory.
"""

from mixbench.engine.bank import (
    DEFAULT_LRS,
    DEFAULT_SEEDS,
    RECORD_COLUMNS,
    TrainResult,
    params_per_model,
    train_bank,
)
from mixbench.engine.bench import (
    BENCH_PRODUCT,
    LOSS_COST_SETTINGS,
    PooledRates,
    SuiteProjection,
    batched_product_rate,
    bench_engine,
    bench_losses,
    loss_cost_ratios,
    loss_kinds,
    peak_worker_memory_mib,
    pooled_rates,
    project_protocol_time,
    project_suite,
)
from mixbench.engine.numerics import NUMERICS_VERSION
from mixbench.engine.reference import train_naive
from mixbench.engine.selection import select_by_validation

__all__ = [
    "BENCH_PRODUCT",
    "LOSS_COST_SETTINGS",
    "DEFAULT_LRS",
    "DEFAULT_SEEDS",
    "NUMERICS_VERSION",
    "PooledRates",
    "RECORD_COLUMNS",
    "SuiteProjection",
    "TrainResult",
    "batched_product_rate",
    "bench_engine",
    "bench_losses",
    "loss_cost_ratios",
    "loss_kinds",
    "params_per_model",
    "peak_worker_memory_mib",
    "pooled_rates",
    "project_protocol_time",
    "project_suite",
    "select_by_validation",
    "train_bank",
    "train_naive",
]
