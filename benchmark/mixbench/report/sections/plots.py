"""The figure sections: where each loss focuses (gradient focus), performance profiles and learning
curves."""

from __future__ import annotations

from matplotlib.figure import Figure

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis
from mixbench.report.figures import (
    axes_grid,
    legend_below,
    legend_room,
    loss_colors,
    plot_learning_curves,
    plot_performance_profile,
)
from mixbench.report.model import Paragraph, Plot, Section


def focus_section(analysis: RunAnalysis) -> Section | None:
    """The gradient focus of each loss (the reference study's Figure 1); None when not computed."""
    if analysis.focus is None:
        return None
    from mixbench.report.loss_focus import plot_loss_focus

    colors = loss_colors(analysis.losses)
    curves = analysis.focus
    n_curves = len(curves.columns)

    def draw(fig: Figure, rect) -> None:
        (ax,) = axes_grid(fig, rect, left=0.7, right=3.4 if n_curves > 14 else 1.9, bottom=0.55, top=0.35)
        plot_loss_focus(curves, ax=ax, colors=colors)

    blocks: list = [
        Paragraph(
            "The magnitude of each loss's gradient on the true-class logit against the softmax "
            "probability of "
            "the true class (the reference study's Figure 1): where on the way from a wrong to a confident "
            "prediction a loss pushes hardest. Computed from the gradient the engine trains with (closed "
            "form, "
            f"or autograd for user losses), at {curves.attrs['n_classes']} classes with equal other "
            "logits; a "
            f"scheduled loss is drawn once per phase of its {curves.attrs['n_epochs']} epochs, faint to full."
        ),
        Plot("Gradient focus of each loss", draw, (7.2, max(3.4, 0.6 + 0.13 * -(-n_curves // 2)))),
    ]
    if analysis.focus_unknown:
        blocks.append(
            Paragraph(
                f"Not drawn (not importable in this process): {', '.join(analysis.focus_unknown)}.", "note"
            )
        )
    return Section("focus", "Where each loss focuses", blocks)


def profiles_section(analysis: RunAnalysis) -> Section:
    """Dolan-Moré performance profiles, one figure per noise level, a panel per network."""
    colors = loss_colors(analysis.losses)
    blocks: list = [
        Paragraph(
            "Dolan-Moré performance profiles (the reference study's Figure 2): for each threshold tau, the "
            "fraction of datasets on which a loss's seed-averaged test accuracy is at least tau times the "
            "best accuracy of any loss on that dataset. Higher is better; the value at tau = 1 is the share "
            "of wins."
        )
    ]
    several_noises = len(analysis.noises) > 1
    for noise in analysis.noises:
        group = [s for s in analysis.settings if s.noise == noise]
        if not group:
            continue
        profiles = [(s.net, s.profile, len(s.matrix)) for s in group]
        losses = an.order_losses(loss for s in group for loss in s.losses)

        def draw(fig: Figure, rect, profiles=profiles, losses=losses) -> None:
            axes = axes_grid(
                fig, rect, 1, len(profiles), left=0.6, right=0.15, bottom=legend_room(losses), top=0.3
            )
            for ax, (net, profile, n) in zip(axes, profiles, strict=True):
                plot_performance_profile(profile, ax=ax, title=f"{net} network ({n} datasets)", colors=colors)
            legend_below(fig, rect, losses, colors)

        title = "Performance profiles" + (f", noise {noise}" if several_noises else "")
        counts = ", ".join(f"{s.net} {len(s.matrix)}" for s in group)
        size = (7.2, 2.55 + legend_room(losses))
        blocks.append(Plot(title, draw, size, f"Seed-averaged test accuracies; datasets: {counts}."))
    return Section("profiles", "Performance profiles", blocks)


def curves_section(analysis: RunAnalysis) -> Section:
    """Validation accuracy per epoch on the chosen datasets, or why there are no curves."""
    curves = analysis.curves
    if curves is None:
        text = (
            "The per-epoch records of this run were not kept (compact results), so there are no learning "
            "curves. Re-running the run's configuration with `mixbench run` writes them."
            if analysis.curve_reason == "the run kept no per-epoch records"
            else f"No learning curves: {analysis.curve_reason}."
        )
        return Section("curves", "Learning curves", [Paragraph(text)])
    chosen = analysis.curve_datasets
    nets = analysis.nets
    colors = loss_colors(analysis.losses)
    panels = [(d, n) for d in chosen for n in nets]

    def draw(fig: Figure, rect) -> None:
        axes = axes_grid(
            fig,
            rect,
            len(chosen),
            len(nets),
            left=0.6,
            right=0.15,
            bottom=legend_room(analysis.losses),
            top=0.3,
            hgap=0.75,
        )
        for ax, (dataset, net) in zip(axes, panels, strict=True):
            c = curves[(curves["dataset"] == dataset) & (curves["net"] == net)]
            if c.empty:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{dataset}, {net}: no records", ha="center", transform=ax.transAxes)
                continue
            plot_learning_curves(c, ax=ax, title=f"{dataset}, {net} network", colors=colors)
        legend_below(fig, rect, analysis.losses, colors)

    return Section(
        "curves",
        "Learning curves",
        [
            Plot(
                "Validation accuracy per epoch",
                draw,
                (7.2, 2.3 * len(chosen) + 0.3 + legend_room(analysis.losses)),
                f"Datasets {', '.join(chosen)} ({analysis.curve_reason}); seed {analysis.seeds[0]}, split "
                f"{analysis.splits[0]}, noise {analysis.noises[0]}; each loss at its validation-selected "
                "learning rate, the selected epoch marked with a dot.",
            )
        ],
    )
