"""``mixbench losses``: list the losses, or show their formula, source and gradient focus."""

from __future__ import annotations

import argparse
import sys

from mixbench.cli.common import int_at_least

#: Most classes ``losses show`` draws at: its curves hold 400 x C logits (10 MB at this bound).
_MAX_SHOWN_CLASSES = 3000


def add_losses_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "losses",
        help="list the losses, or show their formula, source and gradient focus",
        description="The losses mixbench knows: built-in, the zoo of published losses, named sets.",
    )
    p.set_defaults(func=lambda args: p.print_help() or 2)
    actions = p.add_subparsers(dest="losses_command", metavar="ACTION")
    p_list = actions.add_parser("list", help="every registered loss with its formula, and the named sets")
    p_list.set_defaults(func=_losses_list)
    p_show = actions.add_parser(
        "show",
        help="formula, source and gradient focus of losses, drawn to a PNG or PDF (trains nothing)",
        description="Print each loss's formula and source and draw |d loss / d q_y| against p_y (the "
        "reference study's Figure 1) with the gradient the engine trains with. NAMES are loss names, "
        "parameterised names (GCE(q=0.5)), sets (zoo, robust) or module:attr, comma-separated or apart.",
    )
    p_show.add_argument("names", nargs="+", metavar="NAMES")
    p_show.add_argument(
        "--out", default="loss-focus.png", help="figure file, .png .pdf or .svg (default: %(default)s)"
    )
    p_show.add_argument(
        "--classes",
        type=int_at_least(2, _MAX_SHOWN_CLASSES),
        default=10,
        help=f"classes of the logits, 2..{_MAX_SHOWN_CLASSES} (default 10)",
    )
    p_show.add_argument(
        "--epochs", type=int_at_least(1), default=50, help="run length for scheduled losses (default 50)"
    )
    p_show.add_argument("--normalise", action="store_true", help="scale each curve to a maximum of 1")
    p_show.set_defaults(func=_losses_show)


def _losses_list(args: argparse.Namespace) -> int:
    from mixbench.losses import LOSS_SETS, available_losses, describe_loss

    for name in available_losses():
        print(describe_loss(name))
    print("\nnamed sets (--losses):")
    for set_name, members in LOSS_SETS.items():
        print(f"  {set_name}: {', '.join(members)}")
    return 0


def _losses_show(args: argparse.Namespace) -> int:
    from mixbench.losses import describe_loss, resolve_losses, split_loss_names
    from mixbench.report.loss_focus import check_figure_path, save_loss_focus
    from mixbench.report.output import OutputError

    try:
        check_figure_path(args.out)  # before anything is printed or drawn
        names = split_loss_names(",".join(args.names))
        chosen = resolve_losses(names)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"mixbench losses: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    for loss in chosen:
        print(describe_loss(loss))
    try:
        path = save_loss_focus(
            chosen, args.out, n_classes=args.classes, n_epochs=args.epochs, normalise=args.normalise
        )
    except OutputError as exc:  # e.g. the disk filled up while writing
        print(f"mixbench losses: error: {exc}", file=sys.stderr)
        return 2
    print(f"figure: {path}")
    return 0
