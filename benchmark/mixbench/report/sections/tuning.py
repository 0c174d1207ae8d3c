"""The tuning audit section: where the validation selection landed on the learning-rate grid and the
epochs."""

from __future__ import annotations

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Paragraph, Section, Table
from mixbench.report.prose import tuning_flag_text


def tuning_section(analysis: RunAnalysis) -> Section:
    """Where the validation selection landed: shares of cells at the grid's edges and the last epoch."""
    fp = an.formatting.percent
    blocks: list = [
        Paragraph(
            "Where the validation selection landed. A loss whose selected learning rate is an end of the "
            "grid "
            "in most of its cells may be tuned short of its optimum, and then loses for the wrong reason; "
            "likewise a loss whose best epoch is mostly the last. Flagged (⚑) above 50% of the cells."
        )
    ]
    for setting in analysis.settings:
        audit = setting.tuning
        grid = ", ".join(f"{lr:g}" for lr in audit.attrs["lrs"])
        rows = [
            [
                str(loss),
                str(int(r["cells"])),
                fp(r["lr_high"]),
                fp(r["lr_low"]),
                fp(r["last_epoch"]),
                tuning_flag_text(r, audit.attrs["lrs"]) or "-",
            ]
            for loss, r in audit.iterrows()
        ]
        blocks.append(
            Table(
                f"Tuning audit, {setting.label}",
                ["Loss", "Cells", "lr = largest", "lr = smallest", "last epoch", "Flag"],
                rows,
                f"Learning-rate grid: {grid}; last epoch: {audit.attrs['last_epoch']} (0-based). Cells: "
                "(dataset, seed, split) results of the loss.",
                bold=[
                    [False, False, r["lr_high"] > 0.5, r["lr_low"] > 0.5, r["last_epoch"] > 0.5, False]
                    for _, r in audit.iterrows()
                ],
                align=["l", "r", "r", "r", "r", "l"],
                table_id=f"tuning-{setting.key}",
                pdf_max_chars=70,
            )
        )
    return Section("tuning", "Tuning audit", blocks)
