"""Speed: the bank against the naive loop, the cost of each loss, and projections of the protocol's time."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from mixbench.data import DatasetError
from mixbench.engine.bank import DEFAULT_LRS, DEFAULT_SEEDS, params_per_model, train_bank
from mixbench.engine.reference import train_naive
from mixbench.losses import STANDARD_LOSSES, Loss, resolve_losses
from mixbench.models import NETS, flops_per_row
from mixbench.protocol import PROTOCOL, Protocol

if TYPE_CHECKING:
    from mixbench.suites import Suite


def bench_engine(
    datasets: Sequence,
    *,
    nets: Sequence[str] = NETS,
    epochs: int = 2,
    naive_steps: int = 300,
    losses: Sequence[str] = STANDARD_LOSSES,
    lrs: Sequence[float] = DEFAULT_LRS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Time the bank and the naive loop side by side, one thread each, on the same datasets.

    The bank trains the full grid (losses x lrs x seeds) for ``epochs`` epochs, its per-epoch
    evaluation and setup included. The naive loop trains one model at a time for ``naive_steps`` steps
    split over two losses (the first and the last), evaluating only at the end of an epoch it completes
    (on small datasets), so it carries less evaluation than the bank.

    Parameters
    ----------
    datasets : sequence of :class:`~mixbench.data.Dataset`

    Returns
    -------
    DataFrame, one row per (dataset, net): shape, bank and naive model-steps per second, their ratio, the
    bank's arithmetic rate (``bank_gflop_per_s``: the products of training and evaluation counted by
    :func:`mixbench.models.flops_per_row`, over the bank's seconds) and its fraction of the machine's
    batched-product rate measured in the same run (``of_machine``; the rate itself in
    ``.attrs["machine_gflop_per_s"]``, see :func:`batched_product_rate`), and the bank's seconds per bank
    step (``bank_step_s``, evaluation included) used for projections.
    """
    import warnings

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short schedules are on purpose here
            rate = batched_product_rate()
            rows = _bench_rows(datasets, nets, epochs, naive_steps, losses, lrs, seeds, progress)
            rate = max(rate, batched_product_rate())  # before and after: the better of two readings
    finally:
        torch.set_num_threads(threads)
    table = pd.DataFrame(rows)
    if len(table):
        table.insert(table.columns.get_loc("bank_step_s"), "of_machine", table["bank_gflop_per_s"] / rate)
    table.attrs["machine_gflop_per_s"] = rate
    return table


BENCH_PRODUCT = (48, 8, 257, 256)  # batch, rows, inner, columns: the bank's product on a 256-feature dataset


def batched_product_rate(shape: tuple[int, int, int, int] = BENCH_PRODUCT, seconds: float = 0.25) -> float:
    """GFLOP/s of ``torch.bmm`` on this machine with the current threads, for ``shape`` = (batch, rows,
    inner, columns): by default one bank's forward product on a 256-feature dataset (48 models, a batch
    of 8 rows, 257 x 256 weights), the dense arithmetic a training step of the engine is made of. The
    best of repeated timings of about ``seconds`` in all."""
    import time

    batch, rows, inner, cols = shape
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(batch, rows, inner, generator=gen)
    b = torch.rand(batch, inner, cols, generator=gen)
    out = torch.empty(batch, rows, cols)
    torch.bmm(a, b, out=out)  # warm-up
    t0 = time.perf_counter()
    torch.bmm(a, b, out=out)
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(seconds / 5 / once))
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.bmm(a, b, out=out)
        best = min(best, (time.perf_counter() - t0) / reps)
    return 2.0 * batch * rows * inner * cols / best / 1e9


def _bench_rows(datasets, nets, epochs, naive_steps, losses, lrs, seeds, progress) -> list[dict]:
    import time

    rows = []
    # Warm-up, untimed: the first calls pay one-off costs (allocator, kernels) that a long run does not.
    if datasets:
        ds = datasets[0]
        kw = dict(net="hidden", lr=lrs[0], seed=seeds[0], epochs=10**6, max_steps=50)
        train_naive(ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, loss=losses[0], **kw)
        train_bank(ds.X, ds.y, ds.train[:64], ds.validation, ds.test, ds.n_classes, losses=losses, epochs=1)
    for ds in datasets:
        n_train = len(ds.train)
        for net in nets:
            if progress is not None:
                progress(f"{ds.name} / {net}")
            steps = epochs * math.ceil(n_train / 8)
            t0 = time.perf_counter()
            train_bank(
                ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes,
                net=net, losses=losses, lrs=lrs, seeds=seeds, epochs=epochs,
            )  # fmt: skip
            bank_s = time.perf_counter() - t0
            n_models = len(losses) * len(lrs) * len(seeds)
            naive_s, done = 0.0, 0
            for loss in (losses[0], losses[-1]):
                t0 = time.perf_counter()
                train_naive(
                    ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, net=net,
                    loss=loss, lr=lrs[0], seed=seeds[0], epochs=10**6, max_steps=naive_steps // 2,
                )  # fmt: skip
                naive_s += time.perf_counter() - t0
                done += naive_steps // 2
            bank_rate = n_models * steps / bank_s
            naive_rate = done / naive_s
            train_flops, forward_flops = flops_per_row(net, ds.n_features, ds.n_classes)
            n_rows = n_train + len(ds.validation) + len(ds.test)  # evaluated after every epoch
            flops = n_models * epochs * (n_train * train_flops + n_rows * forward_flops)
            rows.append(
                {
                    "dataset": ds.name,
                    "net": net,
                    "n_train": n_train,
                    "n_features": ds.n_features,
                    "n_classes": ds.n_classes,
                    "models": n_models,
                    "bank_model_steps_per_s": bank_rate,
                    "naive_model_steps_per_s": naive_rate,
                    "ratio": bank_rate / naive_rate,
                    "bank_gflop_per_s": flops / bank_s / 1e9,
                    "bank_step_s": bank_s / steps,
                }
            )
    return rows


def bench_losses(
    datasets: Sequence,
    losses: Sequence[str | Loss],
    *,
    nets: Sequence[str] = NETS,
    epochs: int = 1,
    repeats: int = 3,
    baseline: str = "CE",
    lrs: Sequence[float] = DEFAULT_LRS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The cost of each loss relative to the built-in ``baseline`` (CE), measured side by side, one thread.

    Two banks per loss and (dataset, network), each timed ``repeats`` times interleaved with the baseline's
    (the fastest time counts, so a busy machine biases no loss): the loss alone (its lrs x seeds models),
    against the baseline alone; and the standard eight losses plus this loss, against the standard eight
    plus a second copy of the baseline (same bank size, so the ratio is what this loss costs beyond a
    built-in one in a real run). ``epochs`` of training with their evaluation; one untimed epoch first
    (a p_y loss records its derivative graph once per process and shape).

    Returns one row per (dataset, net, loss): ``kind``, ``alone_s``, ``alone_ratio``, ``with_standard_s``,
    ``with_standard_ratio`` (seconds, and their ratio to the baseline's).
    """
    import time
    import warnings

    base = resolve_losses([baseline])[0]
    twin = Loss(f"{base.name} (again)", base.coefficients, base.schedule, base.function, p_true=base.p_true,
                probs=base.probs)  # fmt: skip
    losses = resolve_losses(losses)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ds in datasets:
                args = (ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes)
                for net in nets:
                    if progress is not None:
                        progress(f"{ds.name} / {net}")
                    standard = [n for n in STANDARD_LOSSES if n != base.name] + [base.name]

                    def timed(names, n_epochs=epochs, net=net, args=args):
                        t0 = time.perf_counter()
                        train_bank(*args, net=net, losses=names, lrs=lrs, seeds=seeds, epochs=n_epochs)
                        return time.perf_counter() - t0

                    banks = {"alone": {None: [base]}, "with_standard": {None: [*standard, twin]}}
                    for ls in losses:
                        banks["alone"][ls.name] = [ls]
                        banks["with_standard"][ls.name] = [*standard, ls] if ls.name not in standard else None
                    for setting in banks.values():
                        for names in filter(None, setting.values()):
                            timed(names, 1)  # warm-up, untimed
                    best = {k: {n: math.inf for n in v} for k, v in banks.items()}
                    for _ in range(repeats):
                        for setting, bank_of in banks.items():
                            for name, names in bank_of.items():
                                if names is not None:
                                    best[setting][name] = min(best[setting][name], timed(names))
                    for ls in losses:
                        row = {"dataset": ds.name, "net": net, "loss": ls.name, "kind": ls.kind}
                        for setting in banks:
                            seconds = best[setting][ls.name]
                            row[f"{setting}_s"] = seconds
                            row[f"{setting}_ratio"] = seconds / best[setting][None]
                        rows.append(row)
    finally:
        torch.set_num_threads(threads)
    return pd.DataFrame(rows)


def project_protocol_time(
    bench: pd.DataFrame,
    shapes: pd.DataFrame,
    epochs: int = PROTOCOL.epochs,
    batch_size: int = PROTOCOL.batch_size,
    workers: int = 1,
) -> pd.DataFrame:
    """Project the wall time of the full protocol from measured bank step times.

    Per network, a least-squares line ``seconds per bank step = a + b * params_per_model`` is fitted to
    ``bench`` (from :func:`bench_engine`) and applied to every dataset of ``shapes`` (columns name,
    n_train, n_features, n_classes). Tasks are spread over ``workers`` processes (largest first), so the
    projection is ``max(total / workers, largest task)``.

    Returns one row per (dataset, net) with the projected seconds; ``.attrs["wall_s"]`` holds the total.
    """
    out = []
    for net, grp in bench.groupby("net"):
        x = np.array(
            [params_per_model(net, f, c) for f, c in zip(grp.n_features, grp.n_classes, strict=True)]
        )
        b, a = (
            np.polyfit(x, grp.bank_step_s.to_numpy(), 1) if len(grp) > 1 else (0.0, grp.bank_step_s.iloc[0])
        )
        for row in shapes.itertuples():
            p = params_per_model(net, int(row.n_features), int(row.n_classes))
            steps = epochs * math.ceil(row.n_train / batch_size)
            out.append({"dataset": row.name, "net": net, "seconds": steps * max(a + b * p, 0.0)})
    proj = pd.DataFrame(out)
    total = proj["seconds"].sum()
    proj.attrs["wall_s"] = max(total / workers, proj["seconds"].max()) if len(proj) else 0.0
    proj.attrs["cpu_s"] = total
    return proj


@dataclass(frozen=True)
class PooledRates:
    """Model-steps per second over all rows of a :func:`bench_engine` table: all model-steps over all
    seconds (``bank``, ``naive``), so big datasets weigh as they do in a real run; and the per-dataset
    ratios' geometric mean, least and greatest."""

    bank: float
    naive: float
    geometric_mean_ratio: float
    min_ratio: float
    max_ratio: float

    @property
    def ratio(self) -> float:
        """Pooled bank rate over pooled naive rate."""
        return self.bank / self.naive


def pooled_rates(bench: pd.DataFrame, epochs: int, batch_size: int = PROTOCOL.batch_size) -> PooledRates:
    """Pool the rates of ``bench`` (from :func:`bench_engine`, timed for ``epochs`` epochs): the bank's
    weighted by each row's model-steps of ``batch_size`` rows, the naive loop's by its equal share of steps.
    """
    steps = bench.n_train.map(lambda n: math.ceil(n / batch_size)) * epochs * bench.models
    bank_rate = steps.sum() / (steps / bench.bank_model_steps_per_s).sum()
    naive_rate = len(bench) / (1.0 / bench.naive_model_steps_per_s).sum()
    return PooledRates(
        bank=bank_rate,
        naive=naive_rate,
        geometric_mean_ratio=math.exp(bench.ratio.map(math.log).mean()),
        min_ratio=bench.ratio.min(),
        max_ratio=bench.ratio.max(),
    )


@dataclass(frozen=True)
class SuiteProjection:
    """The projected time of the full protocol on a suite (see :func:`project_suite`)."""

    #: datasets, networks, models per bank and epochs of the projected protocol
    n_datasets: int
    n_nets: int
    n_models: int
    epochs: int
    #: worker processes the tasks are spread over
    workers: int
    #: projected wall seconds of the bank (:func:`project_protocol_time`'s ``wall_s``)
    wall_s: float
    #: wall seconds of the naive loop at the pooled naive rate, on the same workers
    naive_wall_s: float
    #: the loaded dataset with the most values (rows x features), None when none loaded
    largest: str | None
    #: why each dataset that could not be loaded is left out
    left_out: list[str] = field(default_factory=list)


def project_suite(
    bench: pd.DataFrame,
    suite: Suite,
    names: Sequence[str],
    *,
    naive_rate: float,
    workers: int = 1,
    protocol: Protocol = PROTOCOL,
) -> SuiteProjection:
    """Project the full ``protocol`` on the datasets ``names`` of ``suite`` (split 0 of each gives its
    shape) from the bank step times of ``bench`` (:func:`project_protocol_time`), and the naive loop's time
    at ``naive_rate`` model-steps per second (:func:`pooled_rates`). A dataset that fails to load
    (:class:`~mixbench.data.DatasetError`) is left out, as it fails only itself in a run."""
    loaded, left_out = [], []
    for name in names:
        try:
            loaded.append(suite.load(name, 0))
        except DatasetError as exc:
            left_out.append(str(exc))
    shapes = pd.DataFrame(
        [(d.name, len(d.train), d.n_features, d.n_classes) for d in loaded],
        columns=["name", "n_train", "n_features", "n_classes"],
    )
    proj = project_protocol_time(
        bench, shapes, epochs=protocol.epochs, batch_size=protocol.batch_size, workers=workers
    )
    n_models = len(protocol.losses) * len(protocol.lrs) * len(protocol.seeds)
    model_steps = (
        len(protocol.nets)
        * n_models
        * sum(protocol.epochs * math.ceil(n / protocol.batch_size) for n in shapes.n_train)
    )
    naive_s = model_steps / naive_rate
    largest = max(loaded, key=lambda d: d.n_rows * d.n_features).name if loaded else None
    return SuiteProjection(
        n_datasets=len(shapes),
        n_nets=len(protocol.nets),
        n_models=n_models,
        epochs=protocol.epochs,
        workers=workers,
        wall_s=proj.attrs["wall_s"],
        naive_wall_s=naive_s / workers,
        largest=largest,
        left_out=left_out,
    )


def peak_worker_memory_mib(suite: Suite, name: str) -> float:
    """Peak resident memory (MiB) of a fresh worker process that trains the full bank of the hidden
    network for one epoch on dataset ``name`` of ``suite`` (one thread)."""
    import json
    import subprocess
    import sys

    code = (
        "import resource, sys, torch; torch.set_num_threads(1); from mixbench import engine; "
        "from mixbench.suites import get_suite; import json; "
        "d = get_suite(sys.argv[1], sys.argv[2] or None, **json.loads(sys.argv[3])).load(sys.argv[4]); "
        "engine.train_bank(d.X, d.y, d.train, d.validation, d.test, d.n_classes, net='hidden', "
        "epochs=1); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    argv = [suite.spec, suite.data_dir or "", json.dumps(suite.options), name]
    rss = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    return int(rss.stdout.split()[-1]) / 1024  # ru_maxrss is in KiB on Linux


#: The two settings of :func:`bench_losses`, in its column order.
LOSS_COST_SETTINGS = ("alone", "with_standard")


def loss_cost_ratios(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per setting of :data:`LOSS_COST_SETTINGS`, the ratios of a :func:`bench_losses` table as one wide
    table: a row per (dataset, net), a column per loss (in the table's order), and a last row
    ``("geometric mean", "")`` (NaN for a loss with a missing ratio)."""
    order = list(dict.fromkeys(table["loss"]))
    out = {}
    for setting in LOSS_COST_SETTINGS:
        wide = table.pivot(index=["dataset", "net"], columns="loss", values=f"{setting}_ratio")[order]
        geo = wide.apply(lambda col: math.exp(col.map(math.log).mean()) if col.notna().all() else math.nan)
        wide.loc[("geometric mean", ""), :] = geo
        out[setting] = wide
    return out


def loss_kinds(table: pd.DataFrame) -> dict[str, str]:
    """Each loss of a :func:`bench_losses` table with its kind (family, p_true, ...), in the table's order."""
    return table.drop_duplicates("loss").set_index("loss")["kind"].to_dict()
