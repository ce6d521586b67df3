"""``LogisticReader``: Rajpurkar et al. 2016's logistic regression over candidate spans.

A log-linear model over candidate spans (a softmax over a question's candidates, as their logistic
regression) with lexical features (window overlap with the question at several widths, unigram and
bigram matches, words sharing a question word's first five letters in lieu of their lemmas,
distance to the nearest question word, the span's length, shape and position, question word x span
shape), the match of the span's sentence with the question, what stands either side of the span (in
lieu of their parse features), and hashed lexical crosses of the question's type and head word with
the span's words, shape and neighbours (their lexicalised features): the simpler features of their
51.0 F1 baseline, trained on question-answer pairs.
"""

from __future__ import annotations

import zlib
from collections import Counter

import numpy as np
from scipy import sparse

from hybridnlp.qa._answers import old_fit_order, reading_data
from hybridnlp.qa._linear import conditional_logit
from hybridnlp.qa.readers import (
    _STOP,
    _WORDS,
    MAX_WORDS,
    _Passage,
    _Reader,
    word_spans,
)
from hybridnlp.utils.progress import progress
from hybridnlp.utils.validation import check_number

__all__ = ["FEATURE_SET", "LogisticReader"]

_PREPOSITIONS = frozenset("in on at of by from to during since until after before about as "
                          "between into than".split())
_HASH_BUCKETS = 2 ** 16
# the features a fitted LogisticReader computes: 1, before the shared-prefix columns (a reader
# saved without "feature_set" reads as one); 2, with them; 3, with irregular verbs' forms in
# those columns ("won" a form of "win")
FEATURE_SET = 3


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % _HASH_BUCKETS


def _shape(word: str) -> str:
    """"d" digits, "X" capitalised, "x" lower case, "p" anything else."""
    c = word[:1]
    return "d" if c.isdigit() else "X" if c.isupper() else "x" if c.isalpha() else "p"


def _anchor(p, first, last) -> list[str]:
    """The nearest question word's side of the span (L/R/-) and its distance bucket."""
    if not len(p.hits):
        return ["-"] * len(first)
    k = np.searchsorted(p.hits, first)
    left = np.where(k > 0, first - p.hits[np.clip(k - 1, 0, None)], 10 ** 6)
    k = np.searchsorted(p.hits, last, side="right")
    right = np.where(k < len(p.hits), p.hits[np.clip(k, None, len(p.hits) - 1)] - last, 10 ** 6)
    d = np.minimum(left, right)
    bucket = np.minimum(np.ceil(np.log2(np.maximum(d, 1))), 5).astype(int)
    return [f"{'L' if lf <= rt else 'R'}{b}" for lf, rt, b in zip(left.tolist(), right.tolist(),
                                                                 bucket.tolist())]


class LogisticReader(_Reader):
    """A log-linear model over candidate spans with lexical features, trained on (question,
    passage, answer start) triples: the likelihood of the span that matches a reference
    answer's words under a softmax over it and ``negatives`` other candidates of its passage
    (a conditional logit: spans compete within their question, as they do when read).

    Parameters
    ----------
    max_answer_words : int or "auto", default="auto"
        Longest candidate, in words (a CJK character is one). ``"auto"``: the 90th percentile
        of the training answers' lengths, at most 30 (5 on SQuAD, where 3-fold cross-validation
        chose 5; longer for Chinese answers, counted in characters); ``max_answer_words_``.
    negatives : int, default=100
        Candidates sampled per training question as negatives.
    C : float, default=0.3
        Inverse regularisation strength (scikit-learn's: ``0.5 |w|^2 + C x loss``).
    hard_negatives : bool, default=True
        Fit twice: the second time half of each question's negatives are the first model's
        best-scoring wrong spans (the near misses a reader must learn to reject), half
        random. ``negatives``, ``C`` and this were chosen by 3-fold cross-validation over
        the SQuAD training articles (benchmarks/RESULTS.md, "choosing the logistic reader's
        defaults").
    lexical : bool, default=True
        Add the sentence, boundary and hashed lexical features (2**16 buckets); False: the
        window and shape features only.
    random_state : int, optional
    verbose : int, default=0
        A progress bar (standard error) over the training questions in ``fit``.
    """

    _WIDTHS = (3, 6, 12)
    _learns_from_answers = True
    _fitted_attr = "model_"
    _feature_sets = FEATURE_SET

    def __init__(self, *, max_answer_words="auto", negatives: int = 100, C: float = 0.3,
                 hard_negatives: bool = True, lexical: bool = True, random_state=None,
                 verbose=0):
        self.max_answer_words = max_answer_words
        self.negatives = negatives
        self.C = C
        self.hard_negatives = hard_negatives
        self.lexical = lexical
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.max_answer_words != "auto":
            check_number("max_answer_words", self.max_answer_words, int, low=1, high=MAX_WORDS)
        check_number("negatives", self.negatives, int, low=1)
        check_number("C", self.C, float, low=0, low_open=True)
        if not isinstance(self.hard_negatives, bool):
            raise ValueError(f"hard_negatives must be True or False, got "
                             f"{self.hard_negatives!r}.")

    @classmethod
    def _saved_params(cls, params: dict) -> dict:
        params.setdefault("lexical", False)  # written before the lexical features existed
        return params

    @old_fit_order("reader")
    def fit(self, questions, passages, answers, *, passage_index=None):
        """Train on each question's first reference answer in its passage (the one reader
        ``fit`` order: :mod:`hybridnlp.qa._answers`)."""
        data = reading_data(questions, passages, answers, passage_index)
        self._check_params()
        self.counts_ = Counter(w.lower() for p in set(data.passages) for w in _WORDS(p))
        self.feature_set_ = FEATURE_SET
        self.max_answer_words_ = self.max_answer_words
        if self.max_answer_words == "auto":
            lengths = [len(word_spans(a)) for a in data.answers]
            self.max_answer_words_ = int(min(max(np.ceil(np.percentile(lengths, 90)), 1), 30))
        rng = np.random.default_rng(self.random_state)
        examples = []  # (passage, candidates' first and last words, the answer's candidate)
        for q, p, start, text in progress(
                zip(data.questions, data.passages, data.starts, data.answers, strict=True),
                desc="reader: the training questions' spans", total=len(data.questions),
                verbose=self.verbose):
            spans = word_spans(p)
            raw = [p[a:b] for a, b in spans]
            words = [w.lower() for w in raw]
            first, last = self._candidates(words)
            starts = np.array([a for a, _ in spans])
            ends = np.array([b for _, b in spans])
            gold = np.flatnonzero((starts[first] == start) & (ends[last] == start + len(text)))
            if len(gold):  # else the answer is not a candidate (too long, or cut mid-word)
                examples.append((_Passage(self, q, raw, words), first, last, int(gold[0])))
        if not examples:
            raise ValueError("no reference answer is a candidate span; raise "
                             "max_answer_words.")

        # each returns the features of the answer's span, then of its negatives
        def sampled(p, first, last, gold):
            others = np.delete(np.arange(len(first)), gold)
            chosen = np.concatenate([[gold], rng.choice(
                others, min(self.negatives, len(others)), replace=False)]).astype(int)
            return self._features(p, first[chosen], last[chosen])

        def hardest(p, first, last, gold):  # half the model's best wrong spans, half random
            every = self._features(p, first, last)  # scored once, the chosen rows kept
            others = np.delete(np.arange(len(first)), gold)
            top = others[np.argsort(-self.model_.decision_function(every)[others],
                                    kind="stable")[:self.negatives // 2]]
            rest = np.setdiff1d(others, top)
            chosen = np.concatenate([[gold], top, rng.choice(
                rest, min(self.negatives - len(top), len(rest)), replace=False)]).astype(int)
            return every[chosen]

        for negatives in (sampled, hardest)[:1 + self.hard_negatives]:
            X, groups, positives = [], [], []
            for k, (p, first, last, gold) in enumerate(examples):
                X.append(negatives(p, first, last, gold))
                positives.append(len(groups))
                groups.extend([k] * X[-1].shape[0])
            X = sparse.vstack(X, "csr") if self.lexical else np.vstack(X)
            self.model_ = conditional_logit(X, groups, positives, C=self.C)
        return self

    def _score(self, p: _Passage, first, last) -> np.ndarray:
        return self.model_.decision_function(self._features(p, first, last))

    def _features(self, p: _Passage, first, last) -> np.ndarray:
        cols = []
        for width in self._WIDTHS:
            lo, hi = p.window(first, last, width)
            cols += [p.cw[first] - p.cw[lo], p.cw[hi] - p.cw[last + 1],
                     p.cm[hi] - p.cm[lo] - (p.cm[last + 1] - p.cm[first]), p.cb[hi] - p.cb[lo]]
        length = (last - first + 1).astype(float)
        inside = p.cm[last + 1] - p.cm[first]
        d = p.distance(first, last)
        digit = (p.cd[last + 1] - p.cd[first] > 0).astype(float)
        upper = (p.cu[last + 1] - p.cu[first]) / length
        cols += [inside, inside / length, np.log1p(d), (d <= 1).astype(float), length,
                 (length == 1).astype(float), digit, upper, first / max(p.n, 1)]
        # question type x span shape: numbers for when / how many, names for who / where
        for t in ("when", "how many", "how much", "who", "where"):
            on = float(p.qtype == t)
            cols += [on * digit, on * upper]
        if not self.lexical:
            return np.column_stack(cols)
        # the span's sentence against the question (Rajpurkar et al.'s sentence matches)
        sent = p.sentence[first]
        same = (p.sentence[last] == sent).astype(float)
        s_weight = p.sentence_weight[sent] - (p.cw[last + 1] - p.cw[first])
        rank = p.sentence_rank[sent]
        cols += [s_weight / p.q_weight, (rank == 0).astype(float), np.log1p(rank),
                 p.sentence_bigrams[sent], same]
        if getattr(self, "feature_set_", FEATURE_SET) >= 2:  # other forms of question words
            for width in self._WIDTHS:
                lo, hi = p.window(first, last, width)
                cols.append(p.cf[hi] - p.cf[lo] - (p.cf[last + 1] - p.cf[first]))
            cols.append(p.sentence_forms[sent] / p.q_weight)
        for width in (6, 12):
            lo, hi = p.window(first, last, width)
            cols.append((p.cw[hi] - p.cw[lo] - (p.cw[last + 1] - p.cw[first])) / p.q_weight)
        # boundaries, in lieu of a parser's constituents: what stands either side of the span
        prev_ = [p.words[i - 1] if i > 0 else "<s>" for i in first.tolist()]
        next_ = [p.words[i + 1] if i + 1 < p.n else "</s>" for i in last.tolist()]
        cap_before = np.array([i > 0 and bool(p.upper[i - 1]) for i in first.tolist()], float)
        cap_after = np.array([i + 1 < p.n and bool(p.upper[i + 1]) for i in last.tolist()],
                             float)
        cols += [np.array([not w[0].isalnum() for w in prev_], float),
                 np.array([not w[0].isalnum() for w in next_], float),
                 np.array([w in _PREPOSITIONS for w in prev_], float),
                 np.array([w in _STOP for w in next_], float),
                 (upper == 1) * (1 - cap_before) * (1 - cap_after)]
        dense = sparse.csr_matrix(np.column_stack(cols))
        return sparse.hstack([dense, self._lexical(p, first, last, prev_, next_)], "csr")

    def _lexical(self, p: _Passage, first, last, prev_, next_) -> sparse.csr_matrix:
        """Hashed indicators (crc32, stable across processes): the question's type and its
        head word, each crossed with the span's first and last words, its shape, the words
        before and after it and the side and distance of the nearest question word."""
        shapes = [_shape(p.raw[a]) + _shape(p.raw[b]) for a, b in zip(first.tolist(),
                                                                      last.tolist())]
        lasts = [p.words[b] for b in last.tolist()]
        firsts = [p.words[a] for a in first.tolist()]
        prev2 = [" ".join(p.words[max(a - 2, 0):a]) for a in first.tolist()]
        # where the nearest question word is: its side and distance bucket
        side = _anchor(p, first, last)
        cols = []
        for q in (f"t={p.qtype}", f"h={p.head}"):
            for kind, values in (("last", lasts), ("first", firsts), ("shape", shapes),
                                 ("prev", prev_), ("prev2", prev2), ("next", next_),
                                 ("anchor", side)):
                cols.append([_hash(f"{q}|{kind}={v}") for v in values])
        cols = np.array(cols, dtype=np.int64).T  # (candidates, crosses)
        rows = np.repeat(np.arange(len(first)), cols.shape[1])
        return sparse.csr_matrix((np.ones(rows.size), (rows, cols.ravel())),
                                 shape=(len(first), _HASH_BUCKETS))
