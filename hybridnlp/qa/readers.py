"""Classical extractive readers: given a question and a passage, the answer span (character
offsets into the passage) and its score.

- :class:`SlidingWindowReader`: the sliding-window baseline of Rajpurkar et al. 2016 (after
  Richardson et al. 2013): a candidate span scores the inverse-count weights of the question's
  words in the window around it; nothing is learned but the word counts.
- :class:`LogisticReader`: a log-linear model over candidate spans (a softmax over a
  question's candidates, as their logistic regression) with lexical features (window overlap
  with the question at several widths, unigram and bigram matches, words sharing a question
  word's first five letters in lieu of their lemmas, distance to the nearest question word,
  the span's length, shape and position, question word x span shape), the match of the
  span's sentence with the question, what stands either side of the span (in lieu of their
  parse features), and hashed lexical crosses of the question's type and head word with the
  span's words, shape and neighbours (their lexicalised features): the simpler features of
  their 51.0 F1 baseline, trained on question-answer pairs.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator

from hybridnlp.qa._answers import old_fit_order, reading_data
from hybridnlp.qa._linear import conditional_logit, linear_from_state, linear_state
from hybridnlp.text.words import SPAN_PATTERN, WordTokenizer
from hybridnlp.utils.progress import progress
from hybridnlp.utils.saving import Saveable, registered, registered_kinds
from hybridnlp.utils.validation import check_fitted, check_number, check_texts

__all__ = ["LogisticReader", "SlidingWindowReader", "Span", "load_reader",
           "question_type", "save_reader", "word_spans"]

# the shared script-aware splitter (CJK one token per character), offsets kept
_WORDS = WordTokenizer(SPAN_PATTERN, lowercase=False)
_STOP = frozenset("a an the of in on at to for by with from and or is are was were be been "
                  "what which who whom whose when where why how did does do that this".split()
                  + list("的是了在和与及之于为被把吗呢么哪谁何"))
_SENTENCE_ENDS = frozenset(".!?。！？")
_WH = frozenset("what which who whom whose when where why how".split())
_PREPOSITIONS = frozenset("in on at of by from to during since until after before about as "
                          "between into than".split())
QUESTION_TYPES = ("what", "who", "when", "where", "why", "how many", "how much", "how",
                  "which", "other")


_HASH_BUCKETS = 2 ** 16
_PREFIX = 5  # letters two words of 4 or more share to be one word's forms (defeat, defeated)
# the features a fitted LogisticReader computes: 1, before the shared-prefix columns (a reader
# saved without "feature_set" reads as one); 2, with them
FEATURE_SET = 2
MAX_WORDS = 10_000  # bound on window and answer lengths (in words): far beyond any passage


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


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the words and punctuation marks of ``text``."""
    return _WORDS.spans(text)


# Chinese question words (simplified and traditional) by the type they ask, tried in order
_CHINESE_TYPES = (("when", ("什么时候", "什麼時候", "何时", "何時", "哪一年", "哪年", "哪一天",
                            "几年", "幾年", "几月", "幾月")),
                  ("where", ("哪里", "哪裡", "哪儿", "在哪", "何处", "何處", "何地")),
                  ("why", ("为什么", "為什麼", "为何", "為何")),
                  ("how many", ("多少", "几", "幾")),
                  ("who", ("谁", "誰")),
                  ("how", ("怎么", "怎麼", "怎样", "怎樣", "如何")),
                  ("which", ("哪",)),
                  ("what", ("什么", "什麼", "何")))


def question_type(question: str) -> str:
    """The question's first wh-word (or "how many", "how much"; the same types for Chinese
    question words), for features and per-type reports."""
    q = question.lower()
    for t in QUESTION_TYPES[:-1]:
        if re.search(rf"\b{t}\b", q):
            return t
    for t, words in _CHINESE_TYPES:
        if any(w in question for w in words):
            return t
    return "other"


class Span(tuple):
    """(start, end, score): an answer's character offsets in its passage and its score."""

    __slots__ = ()

    def __new__(cls, start: int, end: int, score: float):
        return super().__new__(cls, (start, end, score))

    def __getnewargs__(self):  # pickle and copy rebuild it from its three fields
        return tuple(self)

    start = property(lambda self: self[0])
    end = property(lambda self: self[1])
    score = property(lambda self: self[2])


def check_pairs(questions, passages) -> tuple[list[str], list[str]]:
    qs = check_texts(questions, name="questions")
    ps = check_texts(passages, name="passages")
    if len(qs) != len(ps):
        raise ValueError(f"got {len(qs)} questions and {len(ps)} passages; pass the passage "
                         f"of each question.")
    for name, texts in (("questions", qs), ("passages", ps)):
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"{name}[{i}] is empty.")
    return qs, ps


class _Reader(Saveable, BaseEstimator):
    """Candidates (word spans up to ``max_answer_words``, not starting or ending at
    punctuation or a stop word) and ``predict`` for the readers here; features are computed
    for all the candidates of a passage at once (prefix sums over its words)."""

    _fitted_attr = "counts_"  # what check_fitted looks for
    _feature_sets = 0  # the newest feature set of a reader whose features changed (0: never)

    def _candidates(self, words) -> tuple[np.ndarray, np.ndarray]:
        """(first word, last word) of every candidate, ordered by first then last word:
        spans that neither start nor end at punctuation or a stop word ("the Broncos" is
        "Broncos" to the official metric, which drops articles)."""
        alnum = np.array([w[0].isalnum() and w not in _STOP for w in words], dtype=bool)
        n = len(words)
        firsts, lasts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        longest = getattr(self, "max_answer_words_", self.max_answer_words)
        for length in range(min(longest, n)):
            i = np.arange(n - length)
            ok = alnum[i] & alnum[i + length]
            firsts.append(i[ok])
            lasts.append(i[ok] + length)
        first, last = np.concatenate(firsts), np.concatenate(lasts)
        order = np.lexsort((last, first))
        return first[order], last[order]

    def save(self, path) -> None:
        """Write the reader into the directory ``path`` as ``reader.json`` (no pickle)."""
        from pathlib import Path

        from hybridnlp.utils.io import atomic_write_json

        check_fitted(self, self._fitted_attr)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {"kind": type(self).__name__, "params": self.get_params(),
                 "counts": dict(self.counts_)}
        if hasattr(self, "max_answer_words_"):
            state["max_answer_words"] = self.max_answer_words_
        if hasattr(self, "model_"):
            state["model"] = linear_state(self.model_)
        if hasattr(self, "feature_set_"):
            state["feature_set"] = self.feature_set_
        atomic_write_json(path / "reader.json", state)

    @classmethod
    def load(cls, path):
        """Read a reader written by ``save``, every field checked (nothing is unpickled)."""
        from pathlib import Path

        from hybridnlp.utils.io import read_json

        file = Path(path) / "reader.json"
        state = read_json(file, what="reader")
        if state.get("kind") != cls.__name__:
            raise ValueError(f"{str(file)!r}: field 'kind' is {state.get('kind')!r}, expected "
                             f"{cls.__name__!r}.")
        params, counts = state.get("params"), state.get("counts")
        if not isinstance(params, dict):
            raise ValueError(f"{str(file)!r}: field 'params' must be a mapping.")
        if not isinstance(counts, dict) or any(isinstance(n, bool) or not isinstance(n, int)
                                               or n < 0 for n in counts.values()):
            raise ValueError(f"{str(file)!r}: field 'counts' must map words to counts "
                             f"(integers >= 0).")
        params = cls._saved_params(dict(params))
        try:
            reader = cls(**params)
            reader._check_params()
        except (TypeError, ValueError) as err:
            raise ValueError(f"{str(file)!r}: {err}") from None
        reader.counts_ = Counter(counts)
        if "max_answer_words" in state:
            longest = state["max_answer_words"]
            if isinstance(longest, bool) or not isinstance(longest, int) or \
                    not 1 <= longest <= MAX_WORDS:
                raise ValueError(f"{str(file)!r}: field 'max_answer_words' must be an integer "
                                 f"in 1..{MAX_WORDS}, got {longest!r}.")
            reader.max_answer_words_ = longest
        if "model" in state:
            reader.model_ = linear_from_state(state["model"], what=str(file), C=reader.C)
        if cls._feature_sets:
            feature_set = state.get("feature_set", 1)
            if isinstance(feature_set, bool) or feature_set not in range(
                    1, cls._feature_sets + 1):
                raise ValueError(f"{str(file)!r}: field 'feature_set' must be an integer in "
                                 f"1..{cls._feature_sets}, got {feature_set!r}; a newer "
                                 f"hybridnlp wrote it, or it was edited.")
            reader.feature_set_ = feature_set
        return reader

    @classmethod
    def _saved_params(cls, params: dict) -> dict:
        """Saved parameters as this version reads them."""
        return params

    def _ic(self, word: str) -> float:
        """Inverse count weight log(1 + 1 / C(w)) over the fitted passages (unseen: C = 1)."""
        return math.log1p(1.0 / max(self.counts_.get(word, 0), 1))

    def predict(self, questions, passages) -> list[Span]:
        """The best span of each passage for its question."""
        check_fitted(self, self._fitted_attr)
        qs, ps = check_pairs(questions, passages)
        return [self._best(q, p) for q, p in zip(qs, ps, strict=True)]

    def _best(self, question: str, passage: str) -> Span:
        spans = word_spans(passage)
        raw = [passage[a:b] for a, b in spans]
        words = [w.lower() for w in raw]
        first, last = self._candidates(words)
        if not len(first):  # no candidate: an empty span that never wins
            return Span(0, 0, float("-inf"))
        scores = self._score(_Passage(self, question, raw, words), first, last)
        k = int(np.argmax(scores))
        return Span(spans[first[k]][0], spans[last[k]][1], float(scores[k]))


class _Passage:
    """A passage's words against a question: prefix sums of question-word matches, their
    inverse-count weights, question-bigram matches, digits and capitals, and where the
    matches are."""

    def __init__(self, reader: _Reader, question: str, raw: list[str], words: list[str]):
        qwords = [t.lower() for t in _WORDS(question)]
        q = {w for w in qwords if w[0].isalnum() and w not in _STOP}
        qbigrams = set(zip(qwords, qwords[1:]))
        self.n = len(words)
        match = np.array([w in q for w in words], dtype=float)
        weight = np.array([reader._ic(w) if m else 0.0
                           for w, m in zip(words, match, strict=True)])
        # another form of a question word: the same first five letters, not the same word
        prefixes = {w[:_PREFIX] for w in q if len(w) >= 4}
        form = np.array([reader._ic(w) if len(w) >= 4 and w[:_PREFIX] in prefixes
                         and w not in q else 0.0 for w in words])
        bigram = np.array([0.0, *(float(p in qbigrams) for p in zip(words, words[1:]))])
        digit = np.array([any(ch.isdigit() for ch in w) for w in raw], dtype=float)
        upper = np.array([w[:1].isupper() for w in raw], dtype=float)
        self.cm, self.cw, self.cb, self.cd, self.cu, self.cf = (
            np.concatenate([[0.0], np.cumsum(v)])
            for v in (match, weight, bigram, digit, upper, form))
        self.hits = np.flatnonzero(match)
        self.qtype = question_type(question)
        self.raw, self.words, self.upper = raw, words, upper
        # the question's own weight: window matches as a share of it compare across questions
        self.q_weight = sum(reader._ic(w) for w in q) or 1.0
        # sentences: a word after ". ! ?" starts the next one; each sentence's question-word
        # weight, and its rank among the passage's sentences (0: the best match)
        ends = np.array([w in _SENTENCE_ENDS for w in words], dtype=np.int64)
        self.sentence = np.concatenate([[0], np.cumsum(ends)[:-1]]) if self.n else ends
        self.sentence_weight = np.bincount(self.sentence, weights=weight)
        self.sentence_bigrams = np.bincount(self.sentence, weights=bigram)
        self.sentence_forms = np.bincount(self.sentence, weights=form)
        order = np.argsort(-self.sentence_weight, kind="stable")
        self.sentence_rank = np.empty(len(order), dtype=np.int64)
        self.sentence_rank[order] = np.arange(len(order))
        # the question's head: the first content word after its wh-word ("what *year*")
        wh = next((i for i, w in enumerate(qwords) if w in _WH), None)
        head = next((w for w in qwords[wh + 1:] if w[0].isalnum() and w not in _STOP), "")\
            if wh is not None else ""
        self.head = head

    def window(self, first, last, width: int):
        return np.maximum(0, first - width), np.minimum(self.n, last + 1 + width)

    def distance(self, first, last) -> np.ndarray:
        """Words from the span's ends to the nearest question-word match (n if none)."""
        if not len(self.hits):
            return np.full(len(first), float(self.n))
        out = []
        for pos in (first, last):
            k = np.searchsorted(self.hits, pos)
            left = self.hits[np.clip(k - 1, 0, len(self.hits) - 1)]
            right = self.hits[np.clip(k, 0, len(self.hits) - 1)]
            out.append(np.minimum(np.abs(pos - left), np.abs(right - pos)))
        return np.minimum(*out).astype(float)


class SlidingWindowReader(_Reader):
    """Rajpurkar et al. 2016's sliding-window baseline: a candidate scores the sum of
    inverse-count weights log(1 + 1/C(w)) of the question words (stop words aside) inside a
    window of ``window`` words either side of it, less ``distance_weight`` x the distance
    (in words, over the passage length) to the nearest question word (their "distance-based"
    extension); candidates holding question words are skipped. ``fit(passages)`` only counts
    words."""

    _learns_from_answers = False

    def __init__(self, *, window: int = 8, max_answer_words: int = 5,
                 distance_weight: float = 1.0):
        self.window = window
        self.max_answer_words = max_answer_words
        self.distance_weight = distance_weight

    def _check_params(self) -> None:
        check_number("window", self.window, int, low=1, high=MAX_WORDS)
        check_number("max_answer_words", self.max_answer_words, int, low=1, high=MAX_WORDS)
        check_number("distance_weight", self.distance_weight, float)

    @old_fit_order("counts")
    def fit(self, questions=None, passages=None, answers=None, *, passage_index=None):
        """Count the words of ``passages`` (each distinct passage once): all this reader
        learns, so ``questions`` and ``answers`` may be None (the one reader ``fit`` order:
        :mod:`hybridnlp.qa._answers`)."""
        if passages is None:
            raise ValueError("passages is None; pass the passages whose words are counted.")
        ps = check_texts(passages, name="passages")
        self._check_params()
        self.counts_ = Counter(w.lower() for p in dict.fromkeys(ps) for w in _WORDS(p))
        return self

    def _score(self, p: _Passage, first, last) -> np.ndarray:
        lo, hi = p.window(first, last, self.window)
        score = p.cw[hi] - p.cw[lo] - self.distance_weight * p.distance(first, last) / p.n
        inside = p.cm[last + 1] - p.cm[first]
        return np.where(inside > 0, -1e9, score)  # an answer rarely repeats the question


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

        def sampled(p, first, last, gold):
            others = np.delete(np.arange(len(first)), gold)
            return rng.choice(others, min(self.negatives, len(others)), replace=False)

        def hardest(p, first, last, gold):  # half the model's best wrong spans, half random
            others = np.delete(np.arange(len(first)), gold)
            top = others[np.argsort(-self._score(p, first[others], last[others]),
                                    kind="stable")[:self.negatives // 2]]
            rest = np.setdiff1d(others, top)
            return np.concatenate([top, rng.choice(rest, min(self.negatives - len(top),
                                                             len(rest)), replace=False)])

        for negatives in (sampled, hardest)[:1 + self.hard_negatives]:
            X, groups, positives = [], [], []
            for k, (p, first, last, gold) in enumerate(examples):
                chosen = np.concatenate([[gold], negatives(p, first, last, gold)]).astype(int)
                positives.append(len(groups))
                groups.extend([k] * len(chosen))
                X.append(self._features(p, first[chosen], last[chosen]))
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
            for width in (3, 6, 12):
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


def save_reader(reader, path) -> None:
    """Write ``reader`` into the directory ``path`` (its own ``save``; no pickle)."""
    if not hasattr(reader, "save"):
        raise NotImplementedError(f"a {type(reader).__name__} cannot be saved: it has no save "
                                  f"method (every reader of hybridnlp.qa has one).")
    reader.save(path)


def load_reader(path):
    """The reader saved in the directory ``path``, of the kind its ``reader.json`` (classical
    and stacked readers) or ``config.json`` (the neural reader) names."""
    from pathlib import Path

    from hybridnlp.utils.io import read_json

    path = Path(path)
    file = path / ("reader.json" if (path / "reader.json").exists() else "config.json")
    kind = read_json(file, what="reader").get("kind")
    cls = registered(kind)
    if cls is None or not hasattr(cls, "predict") or "Reader" not in kind:
        readers = sorted(k for k, c in registered_kinds().items() if "Reader" in k)
        raise ValueError(f"{str(file)!r}: field 'kind' is {kind!r}, expected one of "
                         f"{readers}.")
    return cls.load(path)
