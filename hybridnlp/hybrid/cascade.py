"""A cheap-first cascade for stacked hybrids (``cascade=`` on ``StackingClassifier`` and
``HybridClassifier``): some cheap components (n-gram models, fastText) and a meta learner of
their own answer every text; the rest (a Transformer, a pretrained encoder, the slower cheap
ones) run only on the texts the cheap stage is unsure of. The threshold is chosen on the
held-out predictions the stack was fit on, so that the accuracy lost there, plus one
standard error of it (``CONFIDENCE``), is at most ``cascade``; which cheap components form
the stage, by the predict time it is expected to cost."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from hybridnlp.features import pipeline_proba, shared_counts

__all__ = ["cascade_curve", "choose_stage", "choose_threshold", "is_expensive",
           "predict_seconds", "stage_seconds"]

COST_TEXTS = 256  # texts each component's predict time is measured on
REPEAT_UNDER = 0.25  # seconds: a stage timing shorter than this is repeated
# standard errors added to a threshold's held-out accuracy loss before it is held to the
# budget: the loss is measured on the few texts the two stages disagree on, and the least of
# many thresholds and stages is chosen, so the point estimate alone promised too much
# (IMDB, benchmarks/RESULTS.md "Cascade on IMDB": 0.0 held out, -1.13 on test)
CONFIDENCE = 1.0


def is_expensive(estimator) -> bool:
    """Whether a component runs a Transformer: ours (``TransformerClassifier``,
    ``FusionClassifier``), a pretrained encoder fine-tuned or frozen
    (``SentenceEmbeddingFeatures`` in a pipeline)."""
    from hybridnlp.estimators import TransformerClassifier, TransformerRegressor
    from hybridnlp.pretrained import SentenceEmbeddingFeatures

    if isinstance(estimator, TransformerClassifier | TransformerRegressor
                  | SentenceEmbeddingFeatures):
        return True
    if isinstance(estimator, Pipeline):
        return any(is_expensive(step) for _, step in estimator.steps)
    return False


def cascade_curve(cheap: np.ndarray, full: np.ndarray, y_idx: np.ndarray) -> dict:
    """What a threshold on the cheap stage's confidence costs, on the held-out texts:
    ``thresholds`` (ascending; a text whose cheap confidence is below one is escalated),
    ``escalated`` (share of texts escalated), ``loss`` (accuracy of the full stack minus
    the cascade's) and ``spread`` (its standard error: the square root of the number of
    texts, not escalated, on which exactly one of the two is right, over n), one entry per
    threshold; ``cheap_accuracy`` and ``full_accuracy``."""
    conf = cheap.max(axis=1)
    cheap_right = cheap.argmax(axis=1) == y_idx
    full_right = full.argmax(axis=1) == y_idx
    order = np.argsort(conf, kind="stable")
    # threshold k: the k least confident texts escalated (k = 0 .. n)
    diff = full_right[order].astype(int) - cheap_right[order].astype(int)
    gain = np.concatenate([[0], np.cumsum(diff)])
    apart = np.abs(diff).sum() - np.concatenate([[0], np.cumsum(np.abs(diff))])
    n = len(y_idx)
    return {"thresholds": np.concatenate([[0.0], np.nextafter(conf[order], np.inf)]),
            "escalated": np.arange(n + 1) / n,
            "loss": (full_right.sum() - (cheap_right.sum() + gain)) / n,
            "spread": np.sqrt(apart) / n,
            "cheap_accuracy": float(cheap_right.mean()),
            "full_accuracy": float(full_right.mean())}


def choose_threshold(curve: dict, budget: float,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(threshold, share escalated, accuracy lost) of the fewest escalations on ``curve``
    (:func:`cascade_curve`) whose held-out accuracy loss, plus ``confidence`` standard
    errors, is at most ``budget`` (a curve saved without ``spread``: the loss alone)."""
    loss = curve["loss"]
    bound = loss + confidence * curve.get("spread", 0.0)
    ok = np.flatnonzero(bound <= budget + 1e-12)
    k = int(ok[0]) if len(ok) else len(loss) - 1
    return float(curve["thresholds"][k]), float(curve["escalated"][k]), float(loss[k])


def held_out_stage_probas(final, meta: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """The meta learner's probabilities on ``meta`` from 5 stratified folds (each row from a
    learner fit without it): what a stage gives texts it did not see."""
    n_splits = int(min(5, np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if n_splits < 2:
        return clone(final).fit(meta, y).predict_proba(meta)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return cross_val_predict(clone(final), meta, y, cv=folds, method="predict_proba")


def predict_seconds(estimator, texts: list[str]) -> float:
    """Seconds ``estimator.predict_proba`` takes per text on ``texts`` (after a warm-up
    call on them, which also builds an n-gram vocabulary's key table, a one-off cost; the
    sentence-embedding cache emptied so a pretrained encoder embeds them again): the cost
    the cascade weighs its stages by."""
    pipeline_proba(estimator, texts)
    return stage_seconds([estimator], texts)


def stage_seconds(estimators: list, texts: list[str]) -> float:
    """Seconds a text the ``estimators`` (warmed up) take to predict ``texts`` together, as
    the cascade runs a stage: in one ``shared_counts`` block, so that n-gram models of the
    same analysis count the texts once. A run under ``REPEAT_UNDER`` seconds is repeated
    (up to three runs, the fastest kept), so that timing noise does not choose the stage."""
    from hybridnlp.pretrained import clear_embedding_cache

    if not estimators:
        return 0.0
    best = float("inf")
    for _ in range(3):  # a short timing is a noisy one: the least of up to three
        clear_embedding_cache()
        start = time.perf_counter()
        with shared_counts():
            for est in estimators:
                pipeline_proba(est, texts)
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        if elapsed >= REPEAT_UNDER:
            break
    return best / max(1, len(texts))


def choose_stage(estimators: dict, stage_meta, final, meta, y, y_idx, budget: float, seed: int,
                 texts: list[str]) -> tuple[dict, list[dict], dict]:
    """The cascade's cheap stage: each stage of the cheapest 1, 2, ... cheap components of
    ``estimators`` (fitted, by name; ``stage_meta(names)`` gives a stage's meta features on
    the held-out ``texts``) gets the threshold losing at most ``budget`` held-out accuracy
    against the whole stack (``meta``), and the stage with the least expected predict time
    per text (its components' seconds together, measured by ``stage_seconds`` on up to
    ``COST_TEXTS`` of ``texts``, plus the share it escalates times the rest's together) wins;
    ties go to the fewer components. The components are ranked by their own seconds
    (``predict_seconds``). Returns (the stage, with its ``meta`` and ``curve``; every
    stage's summary; the seconds a text of each component)."""
    full = held_out_stage_probas(final, meta, y, seed)
    sample = list(texts[:COST_TEXTS])
    costs = {n: predict_seconds(est, sample) for n, est in estimators.items()}
    cheap = [n for n, est in estimators.items() if not is_expensive(est)]
    by_cost = sorted(cheap, key=costs.get)
    stages = []
    for k in range(1, len(by_cost) + 1):
        names = [n for n in cheap if n in by_cost[:k]]  # in the components' order
        stage = stage_meta(names)
        curve = cascade_curve(held_out_stage_probas(final, stage, y, seed), full, y_idx)
        threshold, escalated, loss = choose_threshold(curve, budget)
        own = stage_seconds([estimators[n] for n in names], sample)
        rest = stage_seconds([est for n, est in estimators.items() if n not in names], sample)
        stages.append({"components": names, "threshold": threshold, "escalated": escalated,
                       "loss": loss, "seconds_per_text": own + escalated * rest,
                       "curve": curve, "meta": stage})
    best = min(stages, key=lambda s: s["seconds_per_text"])  # the first of equals: fewer
    summary = [{k: s[k] for k in ("components", "threshold", "escalated", "loss",
                                  "seconds_per_text")} for s in stages]
    return best, summary, costs
