"""Counting a fitted vectorizer's n-grams with NumPy: the matrix scikit-learn's
``CountVectorizer.transform`` gives, without a Python string per n-gram.

scikit-learn's analyzer builds every word and character n-gram of a text as a Python string
and looks each up in the vocabulary dict; that loop is most of a linear n-gram model's
predict (``benchmarks/RESULTS.md``, "N-gram counting"). Here each character (or word) of the
vocabulary gets a small integer id, an n-gram is the integer ``sum(id_j * base**(n-1-j))``
(ids from 1, so n-grams of different lengths never share one), and every window of a batch
of texts is keyed and looked up in the sorted vocabulary keys at once. Per text only the
vectorizer's own preprocessing (and, for words, its tokenizer) runs in Python.

Analyses it cannot reproduce exactly fall back to scikit-learn's own ``transform``: a
callable analyzer, input other than strings, ``char_wb`` with ``min_n > 3`` (sklearn counts
a word shorter than ``min_n`` whole), keys too long for 64 bits, and a batch whose tokens
contain a space (a word n-gram's key would then be ambiguous); a batch of a text or two,
where NumPy's fixed cost per call is more than sklearn's loop; and every batch until the
vectorizer has counted about as many n-grams as its vocabulary holds, since building the
vocabulary's key table costs about as much as sklearn counting that many.
"""

from __future__ import annotations

import re
import weakref
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp

__all__ = ["NgramCounter", "counter_for"]

_WHITE_SPACES = re.compile(r"\s\s+")  # as sklearn's _VectorizerMixin._white_spaces
_SPACE = ord(" ")
# windows (symbols x n-gram sizes) below which sklearn's loop beats NumPy's fixed cost per
# call: a text or two (measured: benchmarks/RESULTS.md, "N-gram counting")
SMALL_BATCH = 400
# windows counted per vocabulary entry before the key table is built: building it costs about
# what sklearn's counting of that many windows does, so a vectorizer that counts a few texts
# once (a cross-validation fold's) never pays more than twice the cheaper way
BUILD_AFTER = 1.0


# per owner (a fitted vectorizer or model): its counter, which holds the vocabulary, not the
# owner; weak, so an owner dropped is forgotten, and predict leaves its attributes as they were
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def counter_for(owner, vocabulary: dict, build) -> NgramCounter:
    """The counter ``build()`` made for ``owner``, made again once ``owner`` holds another
    ``vocabulary`` (a refit)."""
    counter = _CACHE.get(owner)
    if counter is None or counter.vocabulary is not vocabulary:
        counter = _CACHE[owner] = build()
    return counter


class NgramCounter:
    """The n-grams of texts that a vocabulary (n-gram string -> column) holds, as sklearn's
    vectorizers read them: ``transform`` gives raw counts (float64 CSR, sorted indices), ``ids``
    each text's columns in order. ``for_vectorizer`` reads the analysis of a fitted
    ``CountVectorizer`` or ``TfidfVectorizer``, whose ``transform`` with
    ``dtype=np.float64`` it equals; ``fallback.transform`` counts what NumPy does not
    (module docstring)."""

    def __init__(self, vocabulary: dict, analyzer: str, ngram_range, *, preprocess=None,
                 tokenize=None, stop_words=None, fallback=None, supported: bool = True):
        self.fallback = fallback
        self.analyzer = analyzer
        self.vocabulary = vocabulary
        self.n_features = len(vocabulary)
        self.min_n, self.max_n = ngram_range
        self.preprocess = preprocess or (lambda text: text)
        self.tokenize, self.stop_words = tokenize, stop_words
        self.table, self._windows_seen = None, 0
        self.share_key = None  # what shared_counts knows its counts by (features._ngrams)
        self._fast = supported and analyzer in ("word", "char", "char_wb") \
            and not (analyzer == "char_wb" and self.min_n > 3)

    @classmethod
    def for_vectorizer(cls, vec, fallback) -> NgramCounter:
        """The counter of a fitted vectorizer's analysis and vocabulary."""
        word = vec.analyzer == "word"
        return cls(vec.vocabulary_, vec.analyzer, vec.ngram_range,
                   preprocess=vec.build_preprocessor(),
                   tokenize=vec.build_tokenizer() if word else None,
                   stop_words=vec.get_stop_words() if word else None,
                   fallback=fallback, supported=vec.input == "content")

    def _build(self) -> None:
        """The vocabulary's keys and hash table (or ``_fast`` off, when keys would not fit)."""
        keys, columns = self._vocabulary_keys(self.vocabulary)
        if keys is None:
            self._fast = False
        else:
            self.table = _HashTable(keys, columns)

    def _vocabulary_keys(self, vocabulary: dict):
        """(key, column) of every vocabulary entry, or (None, None) when the keys would not
        fit in 64 bits. Sets ``base`` and the symbol ids (``alphabet`` of code points, or
        ``word_ids``)."""
        items = list(vocabulary)
        columns = np.fromiter(vocabulary.values(), np.int64, len(items))  # in items' order
        if self.analyzer == "word":
            parts = " ".join(items).split(" ")  # every key's words, key after key
            self.word_ids = {w: i + 1 for i, w in enumerate(set(parts))}
            self.base = len(self.word_ids) + 1
            lengths = np.fromiter((k.count(" ") + 1 for k in items), np.int64, len(items))
            flat = np.fromiter(map(self.word_ids.__getitem__, parts), np.int64, len(parts))
        else:
            codes = _code_points("".join(items))
            self.alphabet = np.unique(codes)
            top = int(self.alphabet[-1]) if len(self.alphabet) else 0
            self._dense = None  # a dense table of ids up to the largest code point, if small
            if top < 1 << 17:
                self._dense = np.zeros(top + 2, np.int64)
                self._dense[self.alphabet] = np.arange(1, len(self.alphabet) + 1)
            self.base = len(self.alphabet) + 1
            lengths = np.fromiter(map(len, items), np.int64, len(items))
            flat = self._char_ids(codes)
        longest = max(int(lengths.max(initial=0)), self.max_n)
        if self.base ** longest >= 2 ** 63:
            return None, None
        keys = np.zeros(len(items), np.int64)
        starts = np.cumsum(lengths) - lengths
        for j in range(int(lengths.max(initial=0))):
            has = lengths > j
            keys[has] = keys[has] * self.base + flat[starts[has] + j]
        return keys, columns

    def transform(self, texts) -> sp.csr_matrix:
        """Raw counts, shape (len(texts), len(vocabulary))."""
        found = self._found(texts)
        if found is None:
            return self.fallback.transform(texts)
        return _csr(*found, len(texts), self.n_features)

    def ids(self, texts) -> tuple[np.ndarray, np.ndarray] | None:
        """(the column of every n-gram of the texts the vocabulary holds, text after text and
        within a text by size then position; where each text's start, len(texts) + 1), or
        None where NumPy's counting does not apply (module docstring)."""
        found = self._found(texts)
        if found is None:
            return None
        rows, columns = found
        starts = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=starts[1:])
        return columns[np.argsort(rows, kind="stable")], starts

    def _found(self, texts):
        """(rows, columns) of the texts' n-grams the vocabulary holds, by size, each size's
        by position; None where NumPy's counting does not apply."""
        if not self._fast or not all(type(t) is str for t in texts):
            return None
        per_symbol = 5 if self.analyzer == "word" else 1  # characters a word, roughly
        windows = sum(map(len, texts)) * (self.max_n - self.min_n + 1) / per_symbol
        if windows < SMALL_BATCH:
            return None
        if self.table is None:  # built once sklearn's counting would have paid for it
            self._windows_seen += windows
            if self._windows_seen < BUILD_AFTER * self.n_features:
                return None
            self._build()
            if not self._fast:
                return None
        symbols = self._word_symbols(texts) if self.analyzer == "word" else \
            self._char_symbols(texts)
        if symbols is None:
            return None
        rows, keys = _windows(*symbols, self.min_n, self.max_n, self.base)
        columns = self.table.get(keys)
        found = columns >= 0
        return rows[found], columns[found]

    def _char_symbols(self, texts):
        """(ids, lengths per text, breaks) of the texts' characters as sklearn's char and
        char_wb analyzers read them; char_wb pads each word with a space on both sides and
        joins them by those pads, so a window holding two spaces in a row crosses a word."""
        docs = [_WHITE_SPACES.sub(" ", self.preprocess(t)) for t in texts]
        if self.analyzer == "char_wb":
            docs = [" " + "  ".join(words) + " " if (words := d.split()) else "" for d in docs]
        codes = _code_points("".join(docs))
        lengths = np.fromiter(map(len, docs), np.int64, len(docs))
        ids = self._char_ids(codes)
        breaks = None
        if self.analyzer == "char_wb":
            space = codes == _SPACE
            breaks = space[:-1] & space[1:]
        return ids.astype(np.int64), lengths, breaks

    def _char_ids(self, codes: np.ndarray) -> np.ndarray:
        """Each code point's id in the alphabet (1, 2, ...), 0 for one it does not hold: a
        dense table up to the largest code point when that is below 2**17 (Latin, CJK),
        else a binary search."""
        if self._dense is not None:
            return self._dense[np.minimum(codes, len(self._dense) - 1)]
        at = np.minimum(np.searchsorted(self.alphabet, codes), len(self.alphabet) - 1)
        return np.where(self.alphabet[at] == codes, at + 1, 0)

    def _word_symbols(self, texts):
        """(ids, lengths per text, None) of the texts' tokens (sklearn's preprocessing,
        tokenizer and stop words); None when a token holds a space."""
        tokens = [list(self.tokenize(self.preprocess(t))) for t in texts]
        if self.stop_words is not None:
            stop = self.stop_words
            tokens = [[w for w in doc if w not in stop] for doc in tokens]
        flat = list(chain.from_iterable(tokens))
        if " " in "\n".join(flat):
            return None
        ids = np.fromiter(map(self.word_ids.get, flat, repeat(0)), np.int64, len(flat))
        return ids, np.fromiter(map(len, tokens), np.int64, len(tokens)), None


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _windows(ids, lengths, breaks, min_n: int, max_n: int, base: int):
    """(row, key) of every window of ``min_n`` to ``max_n`` symbols inside one text (texts
    back to back, ``lengths`` each) with no unknown symbol (id 0) and, with ``breaks``, none
    over a break (``breaks[i]``: no window holds both symbols i and i + 1)."""
    rows_of = np.repeat(np.arange(len(lengths)), lengths)
    room = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(ids))  # symbols left
    key, valid = ids.copy(), ids != 0
    rows, keys = [], []
    for n in range(1, max_n + 1):
        if n > 1:
            size = len(ids) - n + 1
            if size <= 0:
                break
            last = ids[n - 1:]
            key = key[:size] * base + last
            valid = valid[:size] & (last != 0) & (room[:size] >= n)
            if breaks is not None:
                valid &= ~breaks[n - 2:n - 2 + size]
        if n >= min_n:
            at = np.flatnonzero(valid)
            rows.append(rows_of[at])
            keys.append(key[at])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(keys)


def _csr(rows, columns, n_rows: int, n_columns: int) -> sp.csr_matrix:
    """Counts of each (row, column) pair as CSR, indices sorted within rows."""
    cells = np.sort(rows * n_columns + columns)
    starts = np.flatnonzero(np.concatenate([[True], cells[1:] != cells[:-1]])) \
        if len(cells) else np.zeros(0, np.int64)
    counts = np.diff(np.append(starts, len(cells))).astype(np.float64)
    cells = cells[starts]
    indptr = np.searchsorted(cells, np.arange(n_rows + 1) * n_columns)
    return sp.csr_matrix((counts, cells % n_columns, indptr), shape=(n_rows, n_columns))


class _HashTable:
    """A read-only open-addressing hash table from non-negative int64 keys to column numbers,
    looked up for a whole array of keys at once (linear probing, at most half full): a few
    random reads a key, where a binary search over a large vocabulary takes ~17.

    Built in one pass: the keys sorted by home slot, each takes the first slot at or after
    both its home and its predecessor's slot, ``slot_i = max(home_i, slot_{i-1} + 1)``, which
    is where inserting them one by one in that order would put them. Probes run on past the
    last home slot into an overflow tail instead of wrapping to the front."""

    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        self.bits = max(4, int(2 * max(len(keys), 1) - 1).bit_length())
        home = self._slots(keys)
        order = np.argsort(home, kind="stable")
        steps = np.arange(len(keys))
        slot = np.maximum.accumulate(home[order] - steps) + steps if len(keys) else steps
        size = max(1 << self.bits, int(slot.max(initial=-1)) + 2)  # an empty slot last
        self.keys = np.full(size, -1, np.int64)
        self.values = np.full(size, -1, np.int32 if len(keys) < 2 ** 31 else np.int64)
        self.keys[slot] = keys[order]
        self.values[slot] = values[order]

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.astype(np.uint64) * self._MULTIPLIER  # wraps modulo 2**64
        return (hashed >> np.uint64(64 - self.bits)).astype(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 where the table does not hold it."""
        out = np.full(len(keys), -1, np.int64)
        slot, pending = self._slots(keys), np.arange(len(keys))
        while len(pending):  # the table ends in an empty slot: every probe stops by it
            held = self.keys[slot]
            hit = held == keys[pending]
            out[pending[hit]] = self.values[slot[hit]]
            left = ~hit & (held != -1)  # an empty slot ends a miss's probe
            pending, slot = pending[left], slot[left] + 1
        return out
