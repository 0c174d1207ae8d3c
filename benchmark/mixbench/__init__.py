"""mixbench: which classification loss trains better networks?

Trains linear and one-hidden-layer networks with every loss under study on every dataset of the
UCI-121 collection, selects by validation, and turns test accuracies into statistics and reports.

Data flows one way: data -> engine (losses, models) -> runner/results -> analysis -> report.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "MixLossClassifier"]


def __getattr__(name: str):
    # Lazy so `import mixbench` stays cheap and the estimator (which imports torch) loads on demand.
    if name == "MixLossClassifier":
        from mixbench.estimator import MixLossClassifier

        return MixLossClassifier
    raise AttributeError(f"module 'mixbench' has no attribute {name!r}")
