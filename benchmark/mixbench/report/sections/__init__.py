"""The report's sections, one module each, filled from one ``RunAnalysis``: formatting only, no statistic is
computed here. ``mixbench.report.content.build_report`` puts them in order.

Modules, in the report's order: ``verdict`` (each loss against the baseline), ``ranks`` (summary per network,
per split, the published table vs the reproduction), ``tests`` (Friedman, CD diagrams, Conover, wins / ties /
losses, Wilcoxon, per-seed decisions), ``tuning`` (the tuning audit), ``plots`` (gradient focus, performance
profiles, learning curves), ``datasets`` (accuracy per dataset), ``problems`` (failures, divergences,
exclusions), ``provenance`` (what ran, how; last); ``common`` holds what several of them share.
"""
