"""Calibrated probabilities: temperature scaling (Guo et al. 2017), beta calibration of the
top label's confidence (Kull et al. 2017) and the expected calibration error."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_expit

__all__ = ["expected_calibration_error", "fit_temperature", "fit_top_label_beta",
           "reliability_bins", "with_temperature", "with_top_label_beta"]

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


def _beta_columns(confidence: np.ndarray, n_classes: int) -> np.ndarray:
    """``[log c, -(log(1 - c) + log(c) / (K - 1))]``: with both weights >= 0 the map
    ``a log c - b log(1 - c)`` (``a`` = first weight - second / (K - 1)) rises on [1/K, 1],
    the range a top label's confidence takes."""
    c = np.clip(np.asarray(confidence, dtype=np.float64), _TINY, 1.0 - 1e-9)
    return np.column_stack([np.log(c), -(np.log1p(-c) + np.log(c) / (n_classes - 1))])


def fit_top_label_beta(proba: np.ndarray, y_idx: np.ndarray) -> tuple[float, float, float]:
    """Beta calibration (Kull et al. 2017) of the predicted class's confidence ``c``:
    ``logit(c') = a log c - b log(1 - c) + m``, fit to the log loss of "the predicted class
    is right" on held-out ``proba``, with ``c'`` rising in ``c`` over [1/K, 1] (``b >= 0``,
    ``a >= -b / (K - 1)``). Unlike one temperature it bends the reliability curve
    (over-confident in the middle and under-confident at the top, as stacked probabilities
    are: benchmarks/RESULTS.md "Calibration"). Returns ``(a, b, m)``; ``(1, 1, 0)`` is the
    identity, returned when nothing fits better."""
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    X = _beta_columns(proba.max(axis=1), k)
    right = proba.argmax(axis=1) == np.asarray(y_idx)

    def nll(params):
        z = X @ params[:2] + params[2]
        loss = -np.where(right, log_expit(z), log_expit(-z)).mean()
        g = expit(z) - right
        return loss, np.concatenate([X.T @ g, [g.sum()]]) / len(z)

    identity = np.array([1.0 + 1.0 / (k - 1), 1.0, 0.0])
    best = minimize(nll, identity, jac=True, method="L-BFGS-B",
                    bounds=[(0, None), (0, None), (None, None)])
    if not best.success or best.fun >= nll(identity)[0]:
        return 1.0, 1.0, 0.0
    first, b, m = (float(v) for v in best.x)
    return first - b / (k - 1), b, m


def with_top_label_beta(proba: np.ndarray, params) -> np.ndarray:
    """``proba`` with the predicted class's confidence mapped by :func:`fit_top_label_beta`'s
    ``params`` and the other classes rescaled to fill the rest in their proportions. The
    predicted class stays the most probable (the new confidence is kept at least the
    rescaled runner-up's), so ``predict`` is unchanged."""
    proba = np.asarray(proba, dtype=np.float64)
    a, b, m = (float(v) for v in params)
    if (a, b, m) == (1.0, 1.0, 0.0) or proba.shape[1] < 2:
        return proba
    top = proba.argmax(axis=1)
    c = proba.max(axis=1)
    runner_up = np.partition(proba, -2, axis=1)[:, -2]
    clipped = np.clip(c, _TINY, 1.0 - 1e-9)
    new = expit(a * np.log(clipped) - b * np.log1p(-clipped) + m)
    # new >= runner_up * (1 - new) / (1 - c)  <=>  new >= runner_up / (1 - c + runner_up)
    floor = runner_up / np.maximum(1.0 - c + runner_up, _TINY) + 1e-9  # ties stay apart
    new = np.where(c < 1.0, np.clip(new, floor, 1.0), 1.0)  # c = 1: nothing else to scale
    rest = np.divide(1.0 - new, 1.0 - c, out=np.zeros_like(c), where=c < 1.0)
    out = proba * rest[:, None]
    out[np.arange(len(out)), top] = new
    return out


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
