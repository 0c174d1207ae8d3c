"""``mixbench bench``: time the batched engine against the naive loop, or the cost of each loss.

Only options and printing: the timings, pooled rates and projections are computed by
:mod:`mixbench.engine.bench`.
"""

from __future__ import annotations

import argparse
import sys

from mixbench.cli.common import add_suite_arguments, int_at_least, suite_options


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time the batched engine against the naive loop",
        description=(
            "Time the model bank against the naive one-model-at-a-time PyTorch loop on real datasets of "
            "different shapes, side by side in this run, one thread each. Prints model-steps per second, "
            "their ratio, the projected wall time of the full reference protocol on this machine and the "
            "peak memory of one worker on the largest dataset (hidden net). Any suite (--suite); by default "
            "UCI-121 where its data is, else the toy suite."
        ),
    )
    p.add_argument(
        "--data-dir", help="UCI-121 data (default: $MIXBENCH_DATA or data/uci121); toy suite if absent"
    )
    add_suite_arguments(p, default=None)
    p.add_argument(
        "--datasets", help="comma-separated datasets (default: up to six of different shapes of the suite)"
    )
    p.add_argument(
        "--epochs",
        type=int_at_least(1),
        default=None,
        help="bank epochs per dataset and net (default 2; with --losses 1)",
    )
    p.add_argument(
        "--naive-steps",
        type=int_at_least(2),
        default=300,
        help="naive SGD steps per dataset and net, split over two losses (default 300)",
    )
    p.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        help="worker processes for the projection (default: cores)",
    )
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument(
        "--losses",
        metavar="NAMES",
        help="instead: the cost of each of these losses (names, sets such as zoo, module:attr) relative to "
        "CE in the same bank, alone and beside the standard eight (default epochs 1)",
    )
    p.add_argument(
        "--repeats", type=int_at_least(1), default=3, help="--losses: timings per bank, fastest kept"
    )
    p.set_defaults(func=_bench)


def _bench_suite(args: argparse.Namespace):
    """The suite to time: --suite, else UCI-121 where its data is, else the embedded toy suite."""
    from mixbench.data import DatasetError
    from mixbench.suites import get_suite

    if args.suite:
        return get_suite(args.suite, args.data_dir, **suite_options(args))
    suite = get_suite("uci121", args.data_dir)
    try:
        if suite.datasets():
            return suite
    except DatasetError:
        pass
    print("UCI-121 data not found: timing the embedded toy suite (use --data-dir for real data)")
    return get_suite("toy")


def _bench(args: argparse.Namespace) -> int:
    import os

    from mixbench import engine
    from mixbench.data import DatasetError

    try:
        suite = _bench_suite(args)
        available = suite.datasets()
        if args.datasets:
            names = [n.strip() for n in args.datasets.split(",") if n.strip()]
        else:
            names = suite.bench_datasets()
        sets = [suite.load(n, 0) for n in names]
    except (DatasetError, ValueError) as exc:
        print(f"mixbench bench: error: {exc}", file=sys.stderr)
        return 2
    if args.losses:
        return _bench_losses(args, sets)
    args.epochs = 2 if args.epochs is None else args.epochs
    table = engine.bench_engine(
        sets,
        epochs=args.epochs,
        naive_steps=args.naive_steps,
        progress=lambda m: print(f"  timing {m}", flush=True),
    )
    shown = table.drop(columns=["bank_step_s"]).assign(of_machine=table.of_machine * 100)
    shown = shown.rename(columns={"bank_gflop_per_s": "bank_GFLOP/s", "of_machine": "%_of_machine"})
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    batch, rows, inner, cols = engine.BENCH_PRODUCT
    print(
        f"\nmachine: torch.bmm {batch} x ({rows}x{inner}) @ ({inner}x{cols}), one thread, "
        f"{table.attrs['machine_gflop_per_s']:.1f} GFLOP/s (the best of two readings, before and after the "
        "rows); bank_GFLOP/s counts the products of training and evaluation (mixbench.models.flops_per_row)"
    )
    rates = engine.pooled_rates(table, args.epochs)
    print(
        f"\nmodel-steps per second, pooled: bank {rates.bank:,.0f}, naive {rates.naive:,.0f}, "
        f"ratio {rates.ratio:.1f}x (per dataset: geometric mean {rates.geometric_mean_ratio:.1f}x, "
        f"min {rates.min_ratio:.1f}x, max {rates.max_ratio:.1f}x)"
    )
    workers = args.workers or os.cpu_count() or 1
    proj = engine.project_suite(table, suite, available, naive_rate=rates.naive, workers=workers)
    for why in proj.left_out:  # a malformed dataset fails only itself, in a run as here
        print(f"  left out of the projection: {why}")
    print(
        f"projected full protocol on {suite.spec} ({proj.n_datasets} datasets x {proj.n_nets} nets x "
        f"{proj.n_models} models x {proj.epochs} epochs) on {proj.workers} worker(s): "
        f"{proj.wall_s / 60:.1f} min (naive loop, same machine: {proj.naive_wall_s / 3600:.1f} h)"
    )
    if not args.no_memory and proj.largest is not None:
        mib = engine.peak_worker_memory_mib(suite, proj.largest)
        print(f"peak resident memory of one worker, {proj.largest} / hidden, full bank: {mib:.0f} MiB")
    return 0


def _bench_losses(args: argparse.Namespace, sets) -> int:
    from mixbench import engine
    from mixbench.losses import split_loss_names

    try:
        names = [n for n in split_loss_names(args.losses) if n != "CE"]
        epochs = 1 if args.epochs is None else args.epochs  # (sys.argv missed --epochs=3 and main(argv))
        table = engine.bench_losses(
            sets, names, epochs=epochs, repeats=args.repeats,
            progress=lambda m: print(f"  timing {m}", flush=True),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        print(f"mixbench bench: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(f"\nseconds of {epochs} epoch(s) (training and evaluation, one thread), relative to CE's")
    titles = {
        "alone": "the loss alone (its lrs x seeds models) / CE alone",
        "with_standard": "the standard eight + the loss / the standard eight + CE again",
    }
    ratios = engine.loss_cost_ratios(table)
    for setting, title in titles.items():
        print(f"\n{title}:")
        print(ratios[setting].to_string(float_format=lambda v: f"{v:.2f}"))
    kinds = engine.loss_kinds(table)
    print("\nkinds: " + ", ".join(f"{n} {k}" for n, k in kinds.items()))
    return 0
