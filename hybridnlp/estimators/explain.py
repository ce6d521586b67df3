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
from dataclasses import dataclass, field

import numpy as np

from hybridnlp.estimators._exact_explain import (
    explain_fasttext,
    explain_linear,
    is_fasttext,
    linear_parts,
)
from hybridnlp.text import WORD_PATTERN, WordTokenizer
from hybridnlp.utils.validation import check_choice, check_fitted, check_texts

__all__ = ["METHODS", "UNITS", "Explanation", "check_single_label", "default_method", "explain",
           "has_exact",
           "label_indices", "label_scores", "without_tokens"]

METHODS = ("auto", "exact", "shapley", "occlusion", "integrated_gradients")
UNITS = {"exact": "log-odds", "shapley": "probability", "occlusion": "log-odds",
         "integrated_gradients": "log-odds", "hybrid": "log-odds"}
_DELETED = re.compile(r"\s*\x00(?:\s*\x00)*\s*")
MAX_VARIANTS = 4096  # texts with words deleted given to one predict_proba


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
    def _label(self):  # a NumPy scalar as the plain value (JSON, repr)
        return self.label.item() if isinstance(self.label, np.generic) else self.label

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
        return {"text": self.text, "label": self._label, "tokens": list(self.tokens),
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
        return (f"Explanation(label={self._label!r}, score={self.score:+.3f}, "
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


def check_single_label(model) -> None:
    """Explanations are of one label per text: a multi-label model (or a Pipeline ending in
    one) is refused with the fix."""
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    if getattr(last, "multilabel_", False):
        raise ValueError(f"explain explains one label per text, and this "
                         f"{type(model).__name__} is multi-label; explain a binary model of "
                         f"the label you want (fit on that label's 0/1 column).")


def explain(model, X, *, labels=None, method="auto", segmenter=None,
            proba=None) -> list[Explanation]:
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
    proba : ndarray, optional
        ``model.predict_proba(X)``, when the caller has it (a hybrid, for its components).
    """
    check_choice("method", method, METHODS)
    check_fitted(model)
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"explain needs class probabilities and {type(model).__name__} has "
                         f"no predict_proba; use a probabilistic classifier (e.g. "
                         f"LogisticRegression instead of LinearSVC, or wrap it in "
                         f"sklearn's CalibratedClassifierCV).")
    check_single_label(model)
    texts = check_texts(X, name="X")
    classes = np.asarray(model.classes_)
    proba = model.predict_proba(texts) if proba is None else np.asarray(proba)
    if labels is None:
        label_idx = proba.argmax(axis=1)
    else:
        label_idx = label_indices(labels, classes, len(texts))
    segmenter = getattr(model, "segmenter", None) if segmenter is None else segmenter
    words = WordTokenizer(WORD_PATTERN, lowercase=False, segmenter=segmenter)
    spans = [words.spans(text) for text in texts]
    linear = linear_parts(model) if method in ("auto", "exact") else None
    if method == "auto":  # measured in benchmarks/RESULTS.md, "Explanations"
        method = "exact" if linear is not None and len(classes) == 2 else "shapley"
    if method == "exact" and not has_exact(model):
        raise ValueError(f"method='exact' needs a linear model on n-grams or fastText, got "
                         f"{type(model).__name__}; use method='shapley'.")
    if method == "exact" and linear is not None:
        rows = explain_linear(linear, texts, spans, label_idx)
        kind = "exact"
    elif method == "exact":
        rows = explain_fasttext(model, texts, spans, label_idx)
        missing = [i for i, row in enumerate(rows) if row is None]  # split otherwise
        if missing:
            rows_missing = _occlusion(model, [texts[i] for i in missing],
                                      [spans[i] for i in missing], label_idx[missing],
                                      proba[missing])
            for i, row in zip(missing, rows_missing):
                rows[i] = row
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
    return is_fasttext(model) or linear_parts(model) is not None


def default_method(model, method: str) -> str:
    """The method a hybrid's component is explained by when the hybrid is asked for
    ``method``: a linear n-gram model as "auto" gives, integrated gradients to the
    Transformers that have them (the others: "auto")."""
    if method in ("auto", "exact"):
        return method
    if linear_parts(model) is not None:
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
