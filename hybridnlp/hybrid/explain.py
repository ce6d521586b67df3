"""Explanations of a hybrid: each component's token scores, combined through what the
hybrid learnt.

Each component is explained toward the hybrid's label over the same words (exact for the
n-gram models, Shapley values, occlusion or integrated gradients for fastText and the
Transformer: ``hybridnlp.estimators.explain``). A component's weight on a text is how far
the hybrid's score moves per unit of the component's score there (log-odds, or probability
for Shapley values): the hybrid's score minus its score with that component answering as on
the empty text, over the component's own change between the two (the rescale rule of
DeepLIFT, Shrikumar et al. 2017, applied to the meta learner; the local slope where the
component barely moves). The hybrid's token scores are the weighted sum of the
components'.
"""

from __future__ import annotations

import numpy as np

from hybridnlp.estimators import explain as single
from hybridnlp.estimators.explain import (
    Explanation,
    check_single_label,
    default_method,
    label_indices,
    label_scores,
)
from hybridnlp.utils.validation import check_fitted, check_texts

__all__ = ["explain", "explain_ensemble"]

_MOVED = 1e-3  # a component score change below this: use the local slope


def explain(model, X, *, labels=None, method="auto") -> list[Explanation]:
    """One :class:`~hybridnlp.estimators.explain.Explanation` per text of ``X``, for any
    fitted classifier of hybridnlp (a hybrid's combine its components') or a scikit-learn
    ``Pipeline`` of n-gram features and a linear model (exact)."""
    if hasattr(model, "explain"):
        return model.explain(X, labels=labels, method=method)
    return single.explain(model, X, labels=labels, method=method)


def _shifted(proba: np.ndarray, label_idx: np.ndarray, step: float) -> np.ndarray:
    """``proba`` with each row's label probability multiplied by e^step, renormalised."""
    out = proba.copy()
    rows = np.arange(len(out))
    out[rows, label_idx] *= np.exp(step)
    return out / out.sum(axis=1, keepdims=True)


def explain_ensemble(ensemble, X, *, labels=None, method="auto") -> list[Explanation]:
    """Explanations of a ``StackingClassifier`` or ``WeightedEnsemble`` (``HybridClassifier``,
    ``HybridEnsemble``): see the module's docstring. ``method`` other than "auto" applies to
    the components that are not linear n-gram models (those are explained as "auto"
    explains them: ``default_method``). With a cascade, the full hybrid (every component)
    is explained."""
    check_fitted(ensemble)
    check_single_label(ensemble)
    if getattr(ensemble, "text_column", None) is not None:
        raise ValueError(f"explain reads texts alone, and this {type(ensemble).__name__} "
                         f"reads a DataFrame (text_column={ensemble.text_column!r}); explain "
                         f"its components on the texts: ensemble.named_estimators_[name]"
                         f".explain(texts).")
    texts = check_texts(X, name="X")
    n, classes = len(texts), ensemble.classes_
    probas = ensemble.component_proba(texts)
    final = ensemble._combine(probas, texts)
    label_idx = (final.argmax(axis=1) if labels is None
                 else label_indices(labels, classes, n))
    score = label_scores(final, label_idx)
    empty = {name: np.repeat(p, n, axis=0)
             for name, p in ensemble.component_proba([""]).items()}
    base = label_scores(ensemble._combine(empty, [""] * n), label_idx)
    segmenter = getattr(ensemble, "segmenter", None)
    weights, parts = {}, {}
    rows = np.arange(n)
    for name, est in ensemble.named_estimators_.items():
        parts[name] = single.explain(est, texts, labels=classes[label_idx],
                                     method=default_method(est, method), segmenter=segmenter,
                                     proba=probas[name])
        if parts[name] and parts[name][0].unit == "probability":
            def own(p):  # the component's scores are in its label's probability
                return p[rows, label_idx]
        else:
            def own(p):
                return label_scores(p, label_idx)
        z = own(probas[name])
        moved = z - own(empty[name])  # the component's change from the empty text
        if parts[name] and parts[name][0].method == "exact":  # in its explanation's units
            moved = np.array([e.score - e.base for e in parts[name]])  # (one-vs-rest NBSVM)
        without = label_scores(ensemble._combine({**probas, name: empty[name]}, texts),
                               label_idx)
        nudged = _shifted(probas[name], label_idx, _MOVED)
        slope = ((label_scores(ensemble._combine({**probas, name: nudged}, texts), label_idx)
                  - score) / np.maximum(own(nudged) - z, 1e-12))
        far = np.abs(moved) > _MOVED
        weights[name] = np.where(far, (score - without) / np.where(far, moved, 1.0), slope)
    out = []
    for i, text in enumerate(texts):
        first = parts[next(iter(parts))][i]
        components = {name: parts[name][i].scores for name in parts}
        w = {name: float(weights[name][i]) for name in parts}
        grams: dict[str, float] = {}
        for name in parts:
            for gram, c in parts[name][i].ngrams:
                grams[gram] = grams.get(gram, 0.0) + w[name] * c
        out.append(Explanation(
            text=text, label=classes[label_idx[i]], tokens=first.tokens, spans=first.spans,
            scores=sum(w[name] * components[name] for name in parts), score=float(score[i]),
            base=float(base[i]), method="hybrid", components=components, weights=w,
            ngrams=sorted(grams.items(), key=lambda item: -abs(item[1]))))
    return out
