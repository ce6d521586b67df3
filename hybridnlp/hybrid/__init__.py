"""Hybrid classifiers and regressors: feature fusion, out-of-fold stacking, learned
ensembling and gating, and per-example attribution of which component wins where."""

from hybridnlp.hybrid._heldout import as_multilabel, share_fits
from hybridnlp.hybrid.attribution import component_report
from hybridnlp.hybrid.ensemble import SimplexWeights, WeightedEnsemble
from hybridnlp.hybrid.explain import explain
from hybridnlp.hybrid.fusion import FusionClassifier
from hybridnlp.hybrid.hybrid import HybridClassifier, HybridEnsemble, default_components
from hybridnlp.hybrid.meta_selection import MetaSelection
from hybridnlp.hybrid.regression import HybridRegressor, NonNegativeLinear, default_regressors
from hybridnlp.hybrid.stacking import StackingClassifier

__all__ = [
    "FusionClassifier",
    "HybridClassifier",
    "HybridEnsemble",
    "HybridRegressor",
    "MetaSelection",
    "NonNegativeLinear",
    "SimplexWeights",
    "StackingClassifier",
    "WeightedEnsemble",
    "as_multilabel",
    "component_report",
    "default_components",
    "default_regressors",
    "explain",
    "share_fits",
]
