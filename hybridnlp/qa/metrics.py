"""SQuAD v1.1's official evaluation (``evaluate-v1.1.py``: normalisation, exact match, token
F1, the maximum over the reference answers, unanswered questions scoring 0) and retrieval
recall@k."""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

__all__ = ["exact_match", "normalize_answer", "recall_at_k", "squad_em_f1", "token_f1"]

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, punctuation removed, the articles a/an/the removed, whitespace collapsed
    (in the official script's order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalised tokens (a bag: repeated tokens count as often as they appear in
    both)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_em_f1(predictions, references) -> dict:
    """Exact match and F1 (percent) of ``predictions`` against ``references``.

    Either two aligned lists (a prediction per question, None when unanswered; the list of
    reference answer texts per question) or two dicts keyed by question id (a question
    missing from ``predictions`` is unanswered). Each question scores the maximum over its
    references; unanswered questions score 0 and count in the mean, as in the official
    script.
    """
    if isinstance(references, dict):
        if not isinstance(predictions, dict):
            raise TypeError("references is a dict of question id -> answers, so predictions "
                            "must be a dict of question id -> answer text too.")
        pairs = [(predictions.get(qid), refs) for qid, refs in references.items()]
    else:
        predictions, references = list(predictions), list(references)
        if len(predictions) != len(references):
            raise ValueError(f"got {len(predictions)} predictions and {len(references)} "
                             f"references; pass one prediction (or None) per question.")
        pairs = list(zip(predictions, references, strict=True))
    if not pairs:
        raise ValueError("references is empty; pass at least one question's answers.")
    em = f1 = 0.0
    for i, (pred, refs) in enumerate(pairs):
        if isinstance(refs, str):
            refs = [refs]
        refs = [r["text"] if isinstance(r, dict) else r for r in refs]
        if not refs:
            raise ValueError(f"references[{i}] holds no answer; every question needs at least "
                             f"one reference answer.")
        if pred is None:
            continue
        em += max(exact_match(pred, r) for r in refs)
        f1 += max(token_f1(pred, r) for r in refs)
    return {"exact_match": 100.0 * em / len(pairs), "f1": 100.0 * f1 / len(pairs)}


def recall_at_k(ranked, gold, ks=(1, 5, 20)) -> dict:
    """Share (percent) of queries whose ``gold`` passage id is among the first k of
    ``ranked`` (n_queries, depth), for each k in ``ks`` (k beyond the depth: the depth)."""
    ranked, gold = np.asarray(ranked), np.asarray(gold)
    if ranked.ndim != 2 or len(ranked) != len(gold):
        raise ValueError(f"ranked must be (n_queries, depth) with one row per gold id; got "
                         f"shape {ranked.shape} and {len(gold)} gold ids.")
    hits = ranked == gold[:, None]
    return {k: 100.0 * float(hits[:, :k].any(axis=1).mean()) for k in ks}
