"""Exact explanations of the models that are linear in their features: a linear model or
naive Bayes on n-grams (each n-gram's value times the label's weight, shared among the words
whose deletion removes it), and fastText (its n-grams' Shapley values in closed form). Rows
are ``(scores, base, ngrams, score)`` as ``explain`` assembles them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hybridnlp.text import WORD_PATTERN, WordTokenizer

__all__ = ["Linear", "explain_fasttext", "explain_linear", "is_fasttext", "linear_parts"]

_WINDOW = 5  # words either side of a word that an n-gram containing it can reach


@dataclass
class Linear:
    """A linear model on n-gram features: ``transform(texts)`` gives the features (n, D);
    ``weights[k]`` (D,) and ``bias[k]`` give the score toward class k; ``blocks`` are
    (analyzer, vocabulary, column offset) and ``period`` repeats them (NB blocks per class)."""

    transform: object
    weights: np.ndarray
    bias: np.ndarray
    blocks: list
    period: int


def is_fasttext(model) -> bool:
    """A fastText model (a linear layer on an ``EmbeddingBag`` of its n-gram vocabulary)."""
    module = getattr(model, "model_", None)
    return (hasattr(model, "vocabulary_") and hasattr(model, "ngram_range")
            and hasattr(module, "embedding") and hasattr(module, "linear"))


def toward(coef: np.ndarray, bias: np.ndarray, n_classes: int, log_probs: bool):
    """Weights (K, D) and biases (K,) of the score toward each class, from a linear model's
    ``coef_`` (one row for two classes: the log-odds of class 1) or from per-class log-
    probabilities (naive Bayes: ``log_probs``)."""
    if coef.shape[0] == 1 and n_classes == 2:
        return np.vstack([-coef[0], coef[0]]), np.array([-bias[0], bias[0]])
    if n_classes == 2:
        diff, db = coef[1] - coef[0], bias[1] - bias[0]
        return np.vstack([-diff, diff]), np.array([-db, db])
    return coef - coef.mean(axis=0), bias - bias.mean()


def vectorizer_blocks(transformer) -> list | None:
    """(analyzer, vocabulary, column offset) per n-gram block of a fitted transformer."""
    from sklearn.feature_extraction.text import CountVectorizer

    if isinstance(transformer, CountVectorizer):
        vectorizers = [transformer]
    elif hasattr(transformer, "vectorizers_"):
        vectorizers = [vec for _, vec in transformer.vectorizers_]
    else:
        return None
    blocks, offset = [], 0
    for vec in vectorizers:
        blocks.append((vec.build_analyzer(), vec.vocabulary_, offset))
        offset += len(vec.vocabulary_)
    return blocks


def linear_parts(model) -> Linear | None:
    from sklearn.pipeline import Pipeline

    if hasattr(model, "features_") and hasattr(model, "estimators_") and \
            hasattr(model, "_one_model"):  # NBSVMClassifier
        return _nbsvm_parts(model)
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    transformer, clf = model.steps[0][1], model.steps[1][1]
    blocks = vectorizer_blocks(transformer)
    if blocks is None:
        return None
    n_classes = len(model.classes_)
    if hasattr(clf, "feature_log_prob_"):  # naive Bayes on counts
        weights, bias = toward(clf.feature_log_prob_, clf.class_log_prior_, n_classes, True)
    elif hasattr(clf, "coef_") and hasattr(clf, "intercept_"):
        weights, bias = toward(np.atleast_2d(clf.coef_), np.atleast_1d(clf.intercept_),
                                n_classes, False)
    else:
        return None
    period = sum(len(vocab) for _, vocab, _ in blocks)
    return Linear(transformer.transform, weights, bias, blocks, period)


def _nbsvm_parts(model) -> Linear:
    """NBSVM as weights on the unscaled n-gram indicators: the ratios folded into the
    linear model's coefficients (per class with one-vs-rest)."""
    features, n_classes = model.features_, len(model.classes_)
    ratios = features.ratios_  # (1 or K, V)
    if model._one_model:
        est = model.estimators_[0]
        coef, bias = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
        # the blocks [x r_1, ..., x r_B]: each class row folds its B blocks onto V columns
        folded = coef.reshape(len(coef), len(ratios), -1) * ratios[None]  # (C, B, V)
        weights, bias = toward(folded.sum(axis=1), bias, n_classes, False)
    else:  # one binary model per class: its log-odds against the rest
        weights = np.vstack([est.coef_[0] * r for est, r in zip(model.estimators_, ratios)])
        bias = np.array([est.intercept_[0] for est in model.estimators_])
    blocks = vectorizer_blocks(features)
    return Linear(lambda texts: features._counts(texts), weights, bias, blocks,
                   ratios.shape[1])


def _owners(text: str, spans, blocks) -> dict[int, list[tuple[int, int]]]:
    """Column -> [(token index, count)]: the n-grams each token's deletion removes, looked
    for in a window of words around it (n-grams reach at most ``_WINDOW`` words)."""
    owners: dict[int, list[tuple[int, int]]] = {}
    n = len(spans)
    for i, (start, end) in enumerate(spans):
        lo, hi = spans[max(0, i - _WINDOW)][0], spans[min(n - 1, i + _WINDOW)][1]
        window = text[lo:hi]
        cut = window[:start - lo] + " " + window[end - lo:]
        for analyzer, vocabulary, offset in blocks:
            lost = Counter(analyzer(window))
            lost.subtract(Counter(analyzer(cut)))
            for gram, count in lost.items():
                column = vocabulary.get(gram)
                if count > 0 and column is not None:
                    owners.setdefault(offset + column, []).append((i, count))
    return owners


def _column_names(blocks) -> dict[int, str]:
    names = {}
    for _, vocabulary, offset in blocks:
        names.update({offset + column: gram for gram, column in vocabulary.items()})
    return names


def explain_linear(linear: Linear, texts, spans, label_idx):
    X = sp.csr_matrix(linear.transform(texts))
    names = _column_names(linear.blocks)
    rows = []
    for i, (text, sp_, k) in enumerate(zip(texts, spans, label_idx)):
        start, end = X.indptr[i], X.indptr[i + 1]
        columns, values = X.indices[start:end], X.data[start:end]
        contribution = values * linear.weights[k][columns]
        owners = _owners(text, sp_, linear.blocks)
        scores = np.zeros(len(sp_))
        grams: dict[str, float] = {}
        for column, c in zip(columns, contribution):
            name = names[column % linear.period]
            grams[name] = grams.get(name, 0.0) + float(c)
            who = owners.get(column % linear.period)
            if who:
                total = sum(count for _, count in who)
                for j, count in who:
                    scores[j] += c * count / total
        ngrams = sorted(grams.items(), key=lambda item: -abs(item[1]))
        bias = float(linear.bias[k])
        rows.append((scores, bias, ngrams, bias + float(contribution.sum())))
    return rows


# ------------------------------------------------------------------ fastText

def explain_fasttext(model, texts, spans, label_idx):
    """Exact Shapley values of the n-grams: the logits are a linear layer on the mean of
    the known n-grams' vectors, so the score on a subset S of them is b + mean(v_g, g in S)
    (v_g: the n-gram's vector through the linear layer, toward the label), a game whose
    Shapley values have a closed form, phi_g = (v_g + (H_n - 1) (v_g - mean of the other
    v)) / n (H_n the n-th harmonic number): they add up to the score minus the bias, and,
    unlike v_g / n, they count what deleting an n-gram does to the others' mean. A bigram's
    value is split between its two words. None for a text whose words the model splits
    differently."""
    import torch

    tokenize = WordTokenizer(WORD_PATTERN, lowercase=model.lowercase, segmenter=model.segmenter)
    vocabulary, low, high = model.vocabulary_, *model.ngram_range
    with torch.no_grad():
        W = model.model_.linear.weight.double()  # (K, d)
        b = model.model_.linear.bias.double()
        table = model.model_.embedding.weight
    T = float(getattr(model, "temperature_", 1.0))
    n_classes = len(model.classes_)
    weights, bias = toward(W.numpy() / T, b.numpy() / T, n_classes, False)
    rows = []
    for text, sp_, k in zip(texts, spans, label_idx):
        tokens = tokenize(text)
        if len(tokens) != len(sp_):
            rows.append(None)
            continue
        grams = [(" ".join(tokens[j:j + n]), j, n) for n in range(low, high + 1)
                 for j in range(len(tokens) - n + 1)]
        known = [(g, j, n) for g, j, n in grams if g in vocabulary]
        scores = np.zeros(len(tokens))
        contributions = {}
        if known:
            with torch.no_grad():
                vectors = table[[vocabulary[g] for g, _, _ in known]].double().numpy()
            v = vectors @ weights[k]  # (n_known,)
            n = len(v)
            others = (v.sum() - v) / max(n - 1, 1)
            harmonic = float(np.sum(1.0 / np.arange(1, n + 1)))
            phi = (v + (harmonic - 1.0) * (v - others)) / n
            for (g, j, width), c in zip(known, phi):
                scores[j:j + width] += c / width
                contributions[g] = contributions.get(g, 0.0) + float(c)
        rows.append((scores, float(bias[k]),
                     sorted(contributions.items(), key=lambda item: -abs(item[1])),
                     float(bias[k]) + sum(contributions.values())))
    return rows
