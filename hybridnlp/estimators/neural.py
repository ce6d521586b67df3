"""Moved to :mod:`hybridnlp.neural` (the one base of every neural estimator); this name goes in
the next release."""

from hybridnlp.utils.deprecation import warn_renamed_function


def __getattr__(name):
    if name in ("NeuralEstimator", "load_weights", "check_weights_header"):
        import hybridnlp.neural

        warn_renamed_function(f"hybridnlp.estimators.neural.{name}", f"hybridnlp.neural.{name}")
        return getattr(hybridnlp.neural, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
