"""Classical extractive readers: given a question and a passage, the answer span (character
offsets into the passage) and its score.

- :class:`SlidingWindowReader`: the sliding-window baseline of Rajpurkar et al. 2016 (after
  Richardson et al. 2013): a candidate span scores the inverse-count weights of the question's
  words in the window around it; nothing is learned but the word counts.
- :class:`~hybridnlp.qa.logistic_reader.LogisticReader` (its own module): a log-linear model
  over candidate spans with lexical features.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator

from hybridnlp.qa._answers import old_fit_order
from hybridnlp.qa._linear import linear_from_state, linear_state
from hybridnlp.text.words import SPAN_PATTERN, WordTokenizer
from hybridnlp.utils.saving import Saveable, registered, registered_kinds
from hybridnlp.utils.validation import check_fitted, check_number, check_texts

__all__ = ["SlidingWindowReader", "Span", "load_reader",
           "question_type", "save_reader", "word_spans"]

# the shared script-aware splitter (CJK one token per character), offsets kept
_WORDS = WordTokenizer(SPAN_PATTERN, lowercase=False)
_STOP = frozenset("a an the of in on at to for by with from and or is are was were be been "
                  "what which who whom whose when where why how did does do that this".split()
                  + list("的是了在和与及之于为被把吗呢么哪谁何"))
_SENTENCE_ENDS = frozenset(".!?。！？")
_WH = frozenset("what which who whom whose when where why how".split())
QUESTION_TYPES = ("what", "who", "when", "where", "why", "how many", "how much", "how",
                  "which", "other")


_PREFIX = 5  # letters two words of 4 or more share to be one word's forms (defeat, defeated)
# English irregular verbs, each form -> its first: the forms a shared prefix misses ("won"
# and "win", "wrote" and "write"); be, do and have are left to the stop words
_IRREGULAR = {form: forms.split()[0] for forms in (
    "begin began begun|become became|bring brought|build built|buy bought|catch caught|"
    "choose chose chosen|come came|draw drew drawn|drive drove driven|eat ate eaten|"
    "fall fell fallen|feel felt|fight fought|find found|fly flew flown|forget forgot "
    "forgotten|get got gotten|give gave given|go went gone|grow grew grown|hold held|"
    "keep kept|know knew known|lead led|leave left|lose lost|make made|mean meant|meet met|"
    "pay paid|run ran|say said|see saw seen|sell sold|send sent|shoot shot|sing sang sung|"
    "sit sat|speak spoke spoken|spend spent|stand stood|steal stole stolen|strike struck|"
    "take took taken|teach taught|tell told|think thought|throw threw thrown|understand "
    "understood|win won|write wrote written|rise rose risen|seek sought|sink sank sunk|"
    "swim swam swum|wear wore worn|ride rode ridden|shake shook shaken|bear bore born borne|"
    "bind bound|breed bred|deal dealt|dig dug|feed fed|flee fled|freeze froze frozen|"
    "hide hid hidden|slide slid|spring sprang sprung|stick stuck|swear swore sworn|"
    "tear tore torn|weave wove woven|withdraw withdrew withdrawn").split("|")
    for form in forms.split()}
MAX_WORDS = 10_000  # bound on window and answer lengths (in words): far beyond any passage


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
        # another form of a question word: the same first five letters, or (feature set 3 of
        # the logistic reader) the same irregular verb, not the same word
        prefixes = {w[:_PREFIX] for w in q if len(w) >= 4}
        verbs = {_IRREGULAR[w] for w in q if w in _IRREGULAR} \
            if getattr(reader, "feature_set_", 0) >= 3 else set()
        form = np.array([reader._ic(w) if w not in q and (
            len(w) >= 4 and w[:_PREFIX] in prefixes or _IRREGULAR.get(w) in verbs) else 0.0
            for w in words])
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
