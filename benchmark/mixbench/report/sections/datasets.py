"""The per-dataset section: the seed-averaged test accuracy of every loss on every dataset, sortable."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Section, Table, num


def per_dataset_section(analysis: RunAnalysis) -> Section:
    """Seed-averaged test accuracy of every loss on every dataset, best of each row in bold."""
    several_noises = len(analysis.noises) > 1
    losses = analysis.losses
    columns = ["Network"] + (["Noise"] if several_noises else []) + ["Dataset"] + losses + ["Best"]
    rows, keys, bold = [], [], []
    for setting in analysis.settings:
        matrix = setting.per_dataset.reindex(columns=losses)
        for dataset, acc in matrix.iterrows():
            best_value = acc.max()
            best = (
                [loss for loss in losses if abs(acc[loss] - best_value) <= an.TIE_TOL]
                if np.isfinite(best_value)
                else []
            )
            row = [setting.net] + ([setting.noise] if several_noises else []) + [str(dataset)]
            key: list[Any] = list(row)
            flags = [False] * len(row)
            for loss in losses:
                value = acc[loss]
                row.append(num(100 * value) if np.isfinite(value) else "-")
                key.append(round(100 * value, 6) if np.isfinite(value) else "")
                flags.append(loss in best)
            row.append(", ".join(best) if len(best) < len(losses) else "all tied")
            key.append(row[-1])
            flags.append(False)
            rows.append(row)
            keys.append(key)
            bold.append(flags)
    table = Table(
        "Test accuracy (%) per dataset",
        columns,
        rows,
        "Seed-averaged test accuracy at the validation-selected learning rate and epoch; best of each row in "
        "bold; '-' marks a missing result. Click a column header to sort; type in the box to filter "
        "datasets.",
        bold=bold,
        sort_keys=keys,
        align=["l"] * (len(columns) - len(losses) - 1) + ["r"] * len(losses) + ["l"],
        table_id="per-dataset",
        filter_column=0,
        pdf_max_chars=40,
        pdf_skip_columns=(len(columns) - 1,),  # "Best" repeats the bold cells and does not fit on A4
    )
    return Section("datasets", "Per-dataset accuracies", [table])
