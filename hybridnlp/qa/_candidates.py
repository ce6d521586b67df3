"""Open mode's candidates as a table: per (question, passage, span) the reader's and the
retriever's scores, normalised over the question's candidates, and how well the passage and
the span's sentence hold the question's words; what ``QAPipeline``'s combiner ranks."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from hybridnlp.qa.readers import _SENTENCE_ENDS, _STOP, _WORDS, word_spans

__all__ = ["N_COMBINER_FEATURES", "QuestionMatch", "best_by_group", "candidate_features",
           "candidate_table"]

N_COMBINER_FEATURES = 10


class QuestionMatch:
    """How well a passage, its best sentence and an answer's sentence hold a question's words,
    each word weighted by its inverse document frequency over the collection."""

    def __init__(self, passages: list[str]):
        self.n = len(passages)
        self.df = Counter(w for p in passages for w in {t.lower() for t in _WORDS(p)})

    def _idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word, 0) + 1)) + 1.0

    def __call__(self, question: str, passage: str, span) -> list[float]:
        qwords = [w.lower() for w in _WORDS(question)]
        q = {w for w in qwords if w[0].isalnum() and w not in _STOP}
        total = sum(self._idf(w) for w in q) or 1.0
        spans = word_spans(passage)
        words = [passage[a:b].lower() for a, b in spans]
        sentences, current, where = [], set(), None
        for (_, b), w in zip(spans, words, strict=True):
            if where is None and b > span.start:
                where = len(sentences)  # the sentence the answer starts in
            current.add(w)
            if w in _SENTENCE_ENDS:
                sentences.append(current)
                current = set()
        sentences.append(current)
        cover = [sum(self._idf(w) for w in q & sent) / total for sent in sentences]
        pairs = set(zip(qwords, qwords[1:]))
        bigrams = len(pairs & set(zip(words, words[1:]))) / max(len(pairs), 1)
        return [sum(self._idf(w) for w in q & set(words)) / total, max(cover),
                cover[where if where is not None else -1], bigrams]


def candidate_features(found, question: str, passages, match: QuestionMatch) -> np.ndarray:
    """(k, 10) features of one question's candidates (passage, retriever z-score, span): the
    reader's score, its margin below the question's best, its softmax over the candidates,
    the retriever's z-score, 1 / (1 + retriever rank), whether it is the reader's best, and
    the question's IDF-weighted cover by the passage, its best sentence and the answer's
    sentence, and its bigrams found in the passage."""
    r = np.array([f[2].score for f in found], dtype=np.float64)
    z = np.array([f[1] for f in found], dtype=np.float64)
    e = np.exp(r - r.max())
    rank = np.arange(len(found), dtype=np.float64)  # found is in retriever order
    cover = np.array([match(question, passages[p], span) for p, _, span in found])
    return np.column_stack([r, r - r.max(), e / e.sum(), z, 1.0 / (1.0 + rank),
                            (r == r.max()).astype(np.float64), cover])


def candidate_table(questions, found, passages, match: QuestionMatch):
    """Every question's candidates in one table: their features (``candidate_features``),
    the question each belongs to (its position in ``found``) and each span's text."""
    rows = [i for i, f in enumerate(found) if f]
    X = np.vstack([candidate_features(found[i], questions[i], passages, match)
                   for i in rows]) if rows else np.zeros((0, N_COMBINER_FEATURES))
    group = np.array([i for i in rows for _ in found[i]], dtype=np.int64)
    texts = [passages[p][s.start:s.end] for i in rows for p, _, s in found[i]]
    return X, group, texts


def best_by_group(decision, group, texts, n: int) -> list:
    """Per question 0..n-1, the text of its candidate of the highest ``decision`` (the first
    of equals); None for a question without candidates."""
    picked = {}
    for k, g in enumerate(group.tolist()):
        if g not in picked or decision[k] > decision[picked[g]]:
            picked[g] = k
    return [texts[picked[i]] if i in picked else None for i in range(n)]
