"""Calibrated probabilities: temperature scaling (Guo et al. 2017) and the expected
calibration error."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["expected_calibration_error", "fit_temperature", "reliability_bins",
           "with_temperature"]

_TINY = 1e-12


def with_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(proba) / temperature)``: the same ranking, sharper (T < 1) or softer
    (T > 1); T = 1 returns ``proba`` unchanged."""
    proba = np.asarray(proba, dtype=np.float64)
    if temperature == 1.0:
        return proba
    z = np.log(np.clip(proba, _TINY, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature minimising the log loss of ``proba`` (held-out probabilities, one
    column per class) for the class indices ``y_idx``; searched on log T in [-3, 3]."""
    proba = np.asarray(proba, dtype=np.float64)
    y_idx = np.asarray(y_idx)
    logp = np.log(np.clip(proba, _TINY, 1.0))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(log_norm - z[np.arange(len(z)), y_idx]))

    best = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded",
                           options={"xatol": 1e-4})
    return float(np.exp(best.x)) if nll(best.x) < nll(0.0) else 1.0


def expected_calibration_error(y_idx: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """ECE with ``n_bins`` equal-width confidence bins (Guo et al. 2017): the mean, weighted
    by bin size, of |accuracy - mean confidence| of the predicted class."""
    proba = np.asarray(proba, dtype=np.float64)
    return reliability_bins(proba.max(axis=1), proba.argmax(axis=1) == np.asarray(y_idx),
                            n_bins)["ece"]


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> dict:
    """The reliability diagram's data: per non-empty equal-width bin of the predicted
    class's ``confidence``, its mean confidence, accuracy (share ``correct``) and count
    (``bins``, a list of dicts), and the ECE over them (``ece``)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    index = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    bins, total = [], 0.0
    for b in np.unique(index):
        mask = index == b
        conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        bins.append({"confidence": conf, "accuracy": acc, "n": int(mask.sum())})
        total += mask.sum() * abs(acc - conf)
    return {"ece": float(total / len(confidence)), "bins": bins}
