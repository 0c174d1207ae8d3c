"""What several sections share: the per-seed note, the ROPE and CD-test wording, the CD diagram plot."""

from __future__ import annotations

from matplotlib.figure import Figure

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.report.figures import axes_grid, plot_critical_difference
from mixbench.report.model import Plot

PER_SEED_NOTE = (
    "'Per seed, averaged' (statistics computed on each seed, then averaged) is our assumption about how the "
    "reference study aggregated its two seeds: its code has no analysis step, and its whole-number win "
    "counts are rarely what per-seed averaging gives."
)
_CD_TEST_TEXT = {
    "nemenyi": "Nemenyi's test (Demšar 2006): bars join losses whose mean ranks differ by less than "
    "the drawn critical difference CD, the family-wise error rate held at alpha = {alpha}",
    "conover": "Conover's test with Benjamini-Hochberg adjustment (the reference study's choice; a "
    "false-discovery rate, not a family-wise one, and without a single critical difference, so no CD is "
    "drawn): bars join losses it does not separate at alpha = {alpha}",
}


def rope_text(analysis: RunAnalysis) -> str:
    """The ROPE in percentage points, as the captions print it."""
    return an.formatting.points(analysis.options["rope"])


def cd_caption(analysis: RunAnalysis) -> str:
    """What the bars of the critical-difference diagrams mean, for the run's CD test and alpha."""
    return _CD_TEST_TEXT[analysis.options["cd_test"]].format(alpha=analysis.options["alpha"])


def cd_plot(
    analysis: RunAnalysis, setting: SettingAnalysis, variants: list[str], colors: dict, key: str
) -> Plot:
    """The CD diagrams of one setting, one per variant ('seed mean', each seed), on one rank scale."""
    k = len(setting.losses)
    per_height = 0.3 * ((k + 1) // 2 + 3) + 0.9
    alpha = analysis.options["alpha"]

    def draw(fig: Figure, rect) -> None:
        axes = axes_grid(fig, rect, len(variants), 1, left=1.9, right=1.9, top=0.8, bottom=0.1, hgap=1.0)
        drawn = []
        for ax, which in zip(axes, variants, strict=True):
            cd = setting.cd[which]
            if cd["pvalues"] is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{which}: fewer than two datasets", ha="center", transform=ax.transAxes)
                continue
            title = f"{which} ({cd['n_datasets']} datasets)"
            plot_critical_difference(
                cd["ranks"], cd["pvalues"], ax=ax, cd=cd["cd"], title=title, colors=colors, alpha=alpha
            )
            drawn.append(ax)
        if drawn:  # one rank scale for all diagrams of the figure, so they compare at a glance
            low = min(ax.get_xlim()[0] for ax in drawn)
            high = max(ax.get_xlim()[1] for ax in drawn)
            for ax in drawn:
                ax.set_xlim(low, high)

    which = (
        "seed-averaged accuracies"
        if variants == ["seed mean"]
        else "seed-averaged accuracies, then each seed"
    )
    return Plot(
        f"Critical-difference diagram, {setting.label}",
        draw,
        (7.2, per_height * len(variants)),
        f"Mean ranks of the {which} (1 = best, left; average ranks for ties). {cd_caption(analysis)}.",
    )
