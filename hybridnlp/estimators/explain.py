"""Token-level explanations of one classifier's predictions: which words pushed it toward a
label, and by how much.

Every explanation is over the text's words as the shared splitter gives them (CJK one per
character), in the model's score toward the label: its log-odds for two classes (log
p(label) minus the mean log-probability for more), or with ``"shapley"`` its probability
(``Explanation.unit``); a hybrid adds up the explanations of its components through its
weights (``hybridnlp.hybrid.explain``).

- Linear models on n-grams (``NBSVMClassifier``; a ``Pipeline`` of ``NBFeatures``,
  ``TfidfFeatures`` or a scikit-learn vectorizer and a linear model or naive Bayes): exact.
  Each n-gram's contribution is its feature value times the label's weight; an n-gram is
  shared among the words whose deletion removes it, so the scores add up to the score minus
  the empty text's.
- ``FastTextClassifier`` with ``method="exact"``: the exact Shapley values of its n-grams (a
  linear layer on the mean of n-gram vectors has them in closed form), split onto the words.
- Anything else with ``predict_proba`` (fastText, the Transformer, a pretrained encoder's
  pipeline): ``"shapley"``, the words' Shapley values in the game of deleting them, in the
  label's probability, by Kernel SHAP on the 2n coalitions of the largest kernel weight (one
  batched ``predict_proba``); or ``"occlusion"`` (each word's score: the drop in the label's
  score when that word alone is deleted, Li et al. 2016) or ``"integrated_gradients"`` for
  a ``TransformerClassifier`` (Captum). Which was the more faithful, and by how much against
  LIME and SHAP, is measured in benchmarks/RESULTS.md ("Explanations").
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from hybridnlp.text import WORD_PATTERN, WordTokenizer
from hybridnlp.utils.validation import check_choice, check_fitted, check_texts

__all__ = ["METHODS", "UNITS", "Explanation", "default_method", "explain", "has_exact",
           "label_indices", "label_scores", "without_tokens"]

METHODS = ("auto", "exact", "shapley", "occlusion", "integrated_gradients")
UNITS = {"exact": "log-odds", "shapley": "probability", "occlusion": "log-odds",
         "integrated_gradients": "log-odds", "hybrid": "log-odds"}
_DELETED = re.compile(r"\s*\x00(?:\s*\x00)*\s*")
MAX_VARIANTS = 4096  # texts with words deleted given to one predict_proba
_WINDOW = 5  # words either side of a word that an n-gram containing it can reach


@dataclass
class Explanation:
    """Why a classifier gave ``label`` to ``text``.

    Attributes
    ----------
    text : str
    label : the predicted class (or the class explained, with ``labels=``)
    tokens : list of str
        The text's words in order, as written (``text[start:end]`` for each span).
    spans : list of (start, end)
        Character offsets of the tokens in ``text``.
    scores : ndarray of shape (n_tokens,)
        Each token's contribution to the score toward ``label`` (positive: for it).
    score : float
        The model's score toward ``label`` on the text, in ``unit``: log-odds for two
        classes, else log p(label) minus the mean log-probability over the classes (a
        one-vs-rest NBSVM's: the label's own binary log-odds); with ``method="shapley"``,
        p(label).
    base : float
        The same score on the empty text. With ``"exact"`` and ``"shapley"``,
        ``base + scores.sum()`` is ``score``.
    method : str
        ``"exact"``, ``"shapley"``, ``"occlusion"``, ``"integrated_gradients"`` or
        ``"hybrid"``.
    components : dict of str to ndarray
        A hybrid's: each component's own token scores toward ``label``.
    weights : dict of str to float
        A hybrid's: how much a unit of each component's score moves the hybrid's score
        here (``scores`` is the sum of ``weights[name] * components[name]``).
    ngrams : list of (str, float)
        N-gram contributions, largest magnitude first, where the model has n-grams.
    """

    text: str
    label: object
    tokens: list[str]
    spans: list[tuple[int, int]]
    scores: np.ndarray
    score: float
    base: float
    method: str
    components: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    ngrams: list[tuple[str, float]] = field(default_factory=list)

    @property
    def unit(self) -> str:
        """What ``scores``, ``score`` and ``base`` measure: ``"log-odds"`` or
        ``"probability"`` (``method="shapley"``)."""
        return UNITS[self.method]

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` tokens that pushed hardest toward ``label``, (token, score)."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        return [(self.tokens[i], float(self.scores[i])) for i in order]

    def keep(self, mask) -> str:
        """The text with only the tokens where ``mask`` is true (``without_tokens``): a text
        the model can read."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self.tokens),):
            raise ValueError(f"mask has shape {mask.shape}; the explanation has "
                             f"{len(self.tokens)} tokens.")
        return without_tokens(self.text, [s for s, kept in zip(self.spans, mask) if not kept])

    def to_dict(self) -> dict:
        """JSON-ready: text, label, tokens, spans, scores, score, base, method, components,
        weights and the top 20 n-grams."""
        label = self.label.item() if isinstance(self.label, np.generic) else self.label
        return {"text": self.text, "label": label, "tokens": list(self.tokens),
                "spans": [list(span) for span in self.spans],
                "scores": [round(float(s), 6) for s in self.scores],
                "score": float(self.score), "base": float(self.base), "method": self.method,
                "unit": self.unit,
                "components": {k: [round(float(s), 6) for s in v]
                               for k, v in self.components.items()},
                "weights": {k: float(v) for k, v in self.weights.items()},
                "ngrams": [[g, round(float(c), 6)] for g, c in self.ngrams[:20]]}

    def to_html(self) -> str:
        """The text with each token's background shaded by its score (blue for the label,
        red against), for reports."""
        scale = float(np.abs(self.scores).max()) if len(self.scores) else 0.0
        out, at = [], 0
        for (start, end), s in zip(self.spans, self.scores):
            out.append(html.escape(self.text[at:start]))
            alpha = 0.0 if scale == 0 else min(1.0, abs(float(s)) / scale)
            rgb = "33,102,172" if s >= 0 else "178,24,43"
            out.append(f'<span title="{float(s):+.3f}" style="background:rgba({rgb},'
                       f'{alpha * 0.6:.2f})">{html.escape(self.text[start:end])}</span>')
            at = end
        out.append(html.escape(self.text[at:]))
        return "".join(out)

    def __repr__(self) -> str:
        words = ", ".join(f"{t!r} {s:+.3f}" for t, s in self.top(5))
        label = self.label.item() if isinstance(self.label, np.generic) else self.label
        return (f"Explanation(label={label!r}, score={self.score:+.3f}, "
                f"method={self.method!r}, top: {words})")


def without_tokens(text: str, spans) -> str:
    """``text`` with the (start, end) spans deleted: each run of deleted tokens and the
    whitespace around it becomes one space (``"a good film"`` without ``good``: ``"a film"``)."""
    out, at = [], 0
    for start, end in sorted(spans):
        out.append(text[at:start])
        out.append("\x00")
        at = end
    out.append(text[at:])
    return _DELETED.sub(" ", "".join(out))


def label_scores(proba: np.ndarray, label_idx: np.ndarray) -> np.ndarray:
    """The score toward each row's label from class probabilities (n, K): the log-odds for
    two classes, log p minus the row's mean log p for more."""
    logp = np.log(np.clip(proba, 1e-12, 1.0))
    rows, label_idx = np.arange(len(proba)), np.asarray(label_idx, dtype=np.int64)
    if proba.shape[1] == 2:
        return logp[rows, label_idx] - logp[rows, 1 - label_idx]
    return logp[rows, label_idx] - logp.mean(axis=1)


def explain(model, X, *, labels=None, method="auto", segmenter=None) -> list[Explanation]:
    """One :class:`Explanation` per text of ``X`` for a fitted classifier.

    Parameters
    ----------
    model : fitted classifier
        A hybridnlp classifier, or a scikit-learn ``Pipeline`` ending in one.
    X : list of str
    labels : list, optional
        The class to explain per text (default: the predicted one).
    method : {"auto", "exact", "shapley", "occlusion", "integrated_gradients"}, default="auto"
        ``"auto"``: exact for the linear n-gram models of two classes, ``"shapley"``
        otherwise (more classes, fastText, the Transformer, anything with
        ``predict_proba``): the more faithful of the two on held-out texts of MR (two
        classes: a tie) and of TREC's training split (six: Shapley values), as measured in
        benchmarks/RESULTS.md ("Explanations").
    segmenter : optional
        How words are split (default: the model's ``segmenter``, else the shared splitter).
    """
    check_choice("method", method, METHODS)
    check_fitted(model)
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"explain needs class probabilities and {type(model).__name__} has "
                         f"no predict_proba; use a probabilistic classifier (e.g. "
                         f"LogisticRegression instead of LinearSVC, or wrap it in "
                         f"sklearn's CalibratedClassifierCV).")
    texts = check_texts(X, name="X")
    classes = np.asarray(model.classes_)
    proba = model.predict_proba(texts)
    if labels is None:
        label_idx = proba.argmax(axis=1)
    else:
        label_idx = label_indices(labels, classes, len(texts))
    segmenter = getattr(model, "segmenter", None) if segmenter is None else segmenter
    words = WordTokenizer(WORD_PATTERN, lowercase=False, segmenter=segmenter)
    spans = [words.spans(text) for text in texts]
    linear = _linear_parts(model) if method in ("auto", "exact") else None
    if method == "auto":  # measured in benchmarks/RESULTS.md, "Explanations"
        method = "exact" if linear is not None and len(classes) == 2 else "shapley"
    if method == "exact" and not has_exact(model):
        raise ValueError(f"method='exact' needs a linear model on n-grams or fastText, got "
                         f"{type(model).__name__}; use method='shapley'.")
    if method == "exact" and linear is not None:
        rows = _explain_linear(linear, texts, spans, label_idx)
        kind = "exact"
    elif method == "exact":
        rows = _explain_fasttext(model, texts, spans, label_idx)
        kind = "exact"
    elif method == "integrated_gradients":
        from hybridnlp.estimators._integrated_gradients import integrated_gradients

        rows = integrated_gradients(model, texts, spans, label_idx)
        kind = method
    elif method == "occlusion":
        rows = _in_chunks(_occlusion, 1, model, texts, spans, label_idx, proba)
        kind = "occlusion"
    else:
        rows = _in_chunks(_kernel_shap, 2, model, texts, spans, label_idx, proba)
        kind = "shapley"
    return [Explanation(text=text, label=classes[k], tokens=[text[s:e] for s, e in sp_],
                        spans=list(sp_), scores=scores, score=float(score),
                        base=float(base), method=kind, ngrams=grams)
            for text, sp_, k, (scores, base, grams, score)
            in zip(texts, spans, label_idx, rows, strict=True)]


def has_exact(model) -> bool:
    """Whether ``method="exact"`` applies: a linear model on n-grams, or fastText."""
    return _is_fasttext(model) or _linear_parts(model) is not None


def default_method(model, method: str) -> str:
    """The method a hybrid's component is explained by when the hybrid is asked for
    ``method``: a linear n-gram model as "auto" gives, integrated gradients to the
    Transformers that have them (the others: "auto")."""
    if method in ("auto", "exact"):
        return method
    if _linear_parts(model) is not None:
        return "auto"
    if method == "integrated_gradients":
        from hybridnlp.estimators._integrated_gradients import supported

        return method if supported(model) else "auto"
    return method


def label_indices(labels, classes, n: int) -> np.ndarray:
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} texts; pass one per text.")
    index = {c: i for i, c in enumerate(classes.tolist())}
    unknown = [label for label in labels if label not in index]
    if unknown:
        raise ValueError(f"labels {unknown[:3]} are not classes of the model "
                         f"{classes.tolist()}.")
    return np.array([index[label] for label in labels], dtype=np.int64)


# ------------------------------------------------------------------ occlusion

def _in_chunks(explain_rows, per_word: int, model, texts, spans, label_idx, proba) -> list:
    """``explain_rows`` over groups of texts of at most ``MAX_VARIANTS`` variants
    (``per_word`` a word) each, so that long documents never hold every variant at once."""
    rows, start = [], 0
    while start < len(texts):
        stop, size = start + 1, per_word * len(spans[start])
        while stop < len(texts) and size + per_word * len(spans[stop]) <= MAX_VARIANTS:
            size += per_word * len(spans[stop])
            stop += 1
        rows += explain_rows(model, texts[start:stop], spans[start:stop],
                             label_idx[start:stop], proba[start:stop])
        start = stop
    return rows


def _occlusion(model, texts, spans, label_idx, proba):
    """Each word's score: the label's score on the text minus on the text without it."""
    variants, owner = [""], []
    for i, (text, sp_) in enumerate(zip(texts, spans)):
        variants.extend(without_tokens(text, [s]) for s in sp_)
        owner.extend([i] * len(sp_))
    p = model.predict_proba(variants)
    owner = np.asarray(owner, dtype=np.int64)
    full = label_scores(proba, label_idx)
    base = label_scores(np.repeat(p[:1], len(texts), axis=0), label_idx)
    dropped = label_scores(p[1:], label_idx[owner]) if len(owner) else np.zeros(0)
    rows, at = [], 0
    for i, sp_ in enumerate(spans):
        rows.append((full[i] - dropped[at:at + len(sp_)], base[i], [], full[i]))
        at += len(sp_)
    return rows


# ------------------------------------------------------------------ Kernel SHAP

def _coalitions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Kernel SHAP's coalitions of the largest kernel weight, (2n, n) bool, and their
    weights: each word deleted alone (size n - 1) and each kept alone (size 1)."""
    alone = np.eye(n, dtype=bool)
    weight = 1.0 / n  # the Shapley kernel (n - 1) / (C(n, s) s (n - s)) at s = 1 and n - 1
    return np.vstack([~alone, alone]), np.full(2 * n, weight)


def _kernel_shap(model, texts, spans, label_idx, proba):
    """Shapley values of the words in the deletion game of the label's probability (a
    coalition's value: p(label) on the text with only its words), estimated by Kernel SHAP
    (Lundberg & Lee 2017): a weighted least-squares fit to the coalitions where the Shapley
    kernel is largest (every word deleted alone, and kept alone: the sizes shap's
    KernelExplainer enumerates first), constrained to add up to p(label | text) minus
    p(label | empty text). Every text's 2n coalitions go through one ``predict_proba``.
    More coalitions (random sizes between) measured no more faithful for up to 8n
    (benchmarks/RESULTS.md, "Explanations")."""
    variants, designs = [""], []
    for text, sp_ in zip(texts, spans):
        Z, w = _coalitions(len(sp_))
        designs.append((Z, w, len(variants)))
        variants.extend(without_tokens(text, [s for s, kept in zip(sp_, z) if not kept])
                        for z in Z)
    p = model.predict_proba(variants)
    rows = []
    for (Z, w, at), k, full in zip(designs, label_idx, proba[np.arange(len(texts)), label_idx]):
        empty, n = p[0, k], Z.shape[1]
        if n <= 1:
            rows.append((np.full(n, full - empty), empty, [], full))
            continue
        f = p[at:at + len(Z), k]
        # phi_n = (full - empty) - sum(phi_1..n-1): least squares in the other n - 1
        y = f - empty - Z[:, -1] * (full - empty)
        X = Z[:, :-1].astype(float) - Z[:, -1:].astype(float)
        root = np.sqrt(w)[:, None]
        phi, *_ = np.linalg.lstsq(X * root, y * root[:, 0], rcond=None)
        rows.append((np.append(phi, (full - empty) - phi.sum()), empty, [], full))
    return rows


# ------------------------------------------------------------------ linear on n-grams

@dataclass
class _Linear:
    """A linear model on n-gram features: ``transform(texts)`` gives the features (n, D);
    ``weights[k]`` (D,) and ``bias[k]`` give the score toward class k; ``blocks`` are
    (analyzer, vocabulary, column offset) and ``period`` repeats them (NB blocks per class)."""

    transform: object
    weights: np.ndarray
    bias: np.ndarray
    blocks: list
    period: int


def _is_fasttext(model) -> bool:
    """A fastText model (a linear layer on an ``EmbeddingBag`` of its n-gram vocabulary)."""
    module = getattr(model, "model_", None)
    return (hasattr(model, "vocabulary_") and hasattr(model, "ngram_range")
            and hasattr(module, "embedding") and hasattr(module, "linear"))


def _toward(coef: np.ndarray, bias: np.ndarray, n_classes: int, log_probs: bool):
    """Weights (K, D) and biases (K,) of the score toward each class, from a linear model's
    ``coef_`` (one row for two classes: the log-odds of class 1) or from per-class log-
    probabilities (naive Bayes: ``log_probs``)."""
    if coef.shape[0] == 1 and n_classes == 2:
        return np.vstack([-coef[0], coef[0]]), np.array([-bias[0], bias[0]])
    if n_classes == 2:
        diff, db = coef[1] - coef[0], bias[1] - bias[0]
        return np.vstack([-diff, diff]), np.array([-db, db])
    return coef - coef.mean(axis=0), bias - bias.mean()


def _vectorizer_blocks(transformer) -> list | None:
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


def _linear_parts(model) -> _Linear | None:
    from sklearn.pipeline import Pipeline

    if hasattr(model, "features_") and hasattr(model, "estimators_") and \
            hasattr(model, "_one_model"):  # NBSVMClassifier
        return _nbsvm_parts(model)
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        return None
    transformer, clf = model.steps[0][1], model.steps[1][1]
    blocks = _vectorizer_blocks(transformer)
    if blocks is None:
        return None
    n_classes = len(model.classes_)
    if hasattr(clf, "feature_log_prob_"):  # naive Bayes on counts
        weights, bias = _toward(clf.feature_log_prob_, clf.class_log_prior_, n_classes, True)
    elif hasattr(clf, "coef_") and hasattr(clf, "intercept_"):
        weights, bias = _toward(np.atleast_2d(clf.coef_), np.atleast_1d(clf.intercept_),
                                n_classes, False)
    else:
        return None
    period = sum(len(vocab) for _, vocab, _ in blocks)
    return _Linear(transformer.transform, weights, bias, blocks, period)


def _nbsvm_parts(model) -> _Linear:
    """NBSVM as weights on the unscaled n-gram indicators: the ratios folded into the
    linear model's coefficients (per class with one-vs-rest)."""
    features, n_classes = model.features_, len(model.classes_)
    ratios = features.ratios_  # (1 or K, V)
    if model._one_model:
        est = model.estimators_[0]
        coef, bias = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
        # the blocks [x r_1, ..., x r_B]: each class row folds its B blocks onto V columns
        folded = coef.reshape(len(coef), len(ratios), -1) * ratios[None]  # (C, B, V)
        weights, bias = _toward(folded.sum(axis=1), bias, n_classes, False)
    else:  # one binary model per class: its log-odds against the rest
        weights = np.vstack([est.coef_[0] * r for est, r in zip(model.estimators_, ratios)])
        bias = np.array([est.intercept_[0] for est in model.estimators_])
    blocks = _vectorizer_blocks(features)
    return _Linear(lambda texts: features._counts(texts), weights, bias, blocks,
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


def _explain_linear(linear: _Linear, texts, spans, label_idx):
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

def _explain_fasttext(model, texts, spans, label_idx):
    """Exact Shapley values of the n-grams: the logits are a linear layer on the mean of
    the known n-grams' vectors, so the score on a subset S of them is b + mean(v_g, g in S)
    (v_g: the n-gram's vector through the linear layer, toward the label), a game whose
    Shapley values have a closed form, phi_g = (v_g + (H_n - 1) (v_g - mean of the other
    v)) / n (H_n the n-th harmonic number): they add up to the score minus the bias, and,
    unlike v_g / n, they count what deleting an n-gram does to the others' mean. A bigram's
    value is split between its two words. Texts whose words the model splits differently
    fall back to occlusion."""
    import torch

    tokenize = WordTokenizer(WORD_PATTERN, lowercase=model.lowercase, segmenter=model.segmenter)
    vocabulary, low, high = model.vocabulary_, *model.ngram_range
    with torch.no_grad():
        W = model.model_.linear.weight.double()  # (K, d)
        b = model.model_.linear.bias.double()
        table = model.model_.embedding.weight
    T = float(getattr(model, "temperature_", 1.0))
    n_classes = len(model.classes_)
    weights, bias = _toward(W.numpy() / T, b.numpy() / T, n_classes, False)
    rows, fallback = [], []
    for i, (text, sp_, k) in enumerate(zip(texts, spans, label_idx)):
        tokens = tokenize(text)
        if len(tokens) != len(sp_):
            fallback.append(i)
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
    if fallback:
        picked = [texts[i] for i in fallback]
        proba = model.predict_proba(picked)
        for i, row in zip(fallback, _occlusion(model, picked, [spans[i] for i in fallback],
                                               label_idx[fallback], proba)):
            rows[i] = row
    return rows
