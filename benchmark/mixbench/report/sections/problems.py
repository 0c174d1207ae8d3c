"""The problems section: failed tasks, diverged cells and the datasets excluded from the statistics."""

from __future__ import annotations

import numpy as np

from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Paragraph, Section, Table, num


def problems_section(analysis: RunAnalysis) -> Section:
    """Failed tasks, diverged cells and the datasets excluded from the statistics."""
    blocks: list = []
    failures = analysis.failures
    if len(failures):
        rows = [
            [
                str(r.dataset),
                str(r.net),
                str(r.split),
                str(r.noise),
                str(r.error).strip().splitlines()[-1][:300],
            ]
            for r in failures.itertuples()
        ]
        blocks.append(
            Table(
                f"Failed tasks ({len(rows)})",
                ["Dataset", "Network", "Split", "Noise", "Error (last line)"],
                rows,
                "A failed task leaves no result for any loss on that dataset and network.",
                align=list("lllll"),
                table_id="failures",
                pdf_max_chars=70,
            )
        )
    else:
        blocks.append(Paragraph("Failed tasks: none."))
    diverged = analysis.diverged
    if len(diverged):
        counts = diverged.groupby(["net", "noise", "loss"]).size().reset_index(name="cells")
        blocks.append(
            Table(
                f"Diverged cells ({len(diverged)}) by network and loss",
                ["Network", "Noise", "Loss", "Cells"],
                [[r.net, r.noise, r.loss, str(r.cells)] for r in counts.itertuples()],
                "A cell (dataset, network, split, noise, loss, seed) is flagged when any of its learning "
                "rates "
                "diverged; its result then comes from the best non-diverged learning rate, or is missing.",
                align=list("lllr"),
            )
        )
        rows = [
            [
                str(r.dataset),
                str(r.net),
                str(r.split),
                str(r.noise),
                str(r.loss),
                str(r.seed),
                num(r.lr, 4) if np.isfinite(r.lr) else "-",
                num(100 * r.test_acc) if np.isfinite(r.test_acc) else "missing",
            ]
            for r in diverged.sort_values(["net", "dataset", "loss", "seed"]).itertuples()
        ]
        blocks.append(
            Table(
                "Diverged cells",
                ["Dataset", "Network", "Split", "Noise", "Loss", "Seed", "Selected lr", "Test acc (%)"],
                rows,
                align=list("llllllrr"),
                table_id="diverged",
            )
        )
    else:
        blocks.append(Paragraph("Diverged cells: none."))
    excluded = analysis.excluded
    if len(excluded):
        policy = analysis.options["missing"]
        blocks.append(
            Table(
                f"Datasets excluded from the statistics ({len(excluded)})",
                ["Network", "Noise", "Dataset", "Why"],
                [[r.net, r.noise, str(r.dataset), r.reason] for r in excluded.itertuples()],
                f"Missing-value policy: '{policy}'. "
                + (
                    "A dataset with any missing cell is left out of every statistic of that network."
                    if policy == "exclude"
                    else "Only datasets without any result are left out; other missing cells rank worst."
                ),
                align=list("llll"),
                table_id="excluded",
                pdf_max_chars=70,
            )
        )
    else:
        blocks.append(Paragraph("Datasets excluded from the statistics: none."))
    return Section("problems", "Failures, divergences and exclusions", blocks)
