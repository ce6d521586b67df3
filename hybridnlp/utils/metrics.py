"""Regression scores: RMSE, MAE, Pearson and Spearman correlation, per target and averaged."""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

__all__ = ["regression_scores"]


def regression_scores(y_true, y_pred, target_names=None) -> dict:
    """``rmse``, ``mae``, ``pearson`` and ``spearman`` of ``y_pred`` against ``y_true`` (1-D,
    or (n, n_targets): each the mean over targets, and with several targets
    ``per_target`` name -> the four scores of each). A constant prediction has no
    correlation: NaN, as scipy gives it."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or t.ndim not in (1, 2) or len(t) < 2:
        raise ValueError(f"y_true and y_pred must have one shape, (n,) or (n, n_targets) with "
                         f"n >= 2; got {t.shape} and {p.shape}.")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    names = list(target_names) if target_names is not None else [str(j) for j in
                                                                  range(t.shape[1])]
    if len(names) != t.shape[1]:
        raise ValueError(f"target_names has {len(names)} names for {t.shape[1]} targets.")
    per = {}
    for j, name in enumerate(names):
        constant = np.ptp(p[:, j]) == 0 or np.ptp(t[:, j]) == 0
        per[name] = {
            "rmse": float(np.sqrt(np.mean((p[:, j] - t[:, j]) ** 2))),
            "mae": float(np.mean(np.abs(p[:, j] - t[:, j]))),
            "pearson": float("nan") if constant else float(pearsonr(t[:, j], p[:, j])[0]),
            "spearman": float("nan") if constant else float(spearmanr(t[:, j], p[:, j])[0]),
        }
    out = {k: float(np.mean([s[k] for s in per.values()])) for k in
           ("rmse", "mae", "pearson", "spearman")}
    if len(per) > 1:
        out["per_target"] = per
    return out
