"""Passage retrievers, scikit-learn style: ``fit(passages)``, ``search(queries, k) -> (ids,
scores)`` (batched: one sparse or dense matrix product per block of queries, no Python loop
over passages), ``score_passages``, and ``save``/``load`` (npz + JSON; nothing is
unpickled).

- :class:`BM25Retriever`: Okapi BM25 (Robertson et al.), Lucene's IDF by default, or
  ``rank_bm25``'s ``BM25Okapi`` exactly (``idf="okapi"``).
- :class:`TfidfRetriever`: DrQA's hashed unigram + bigram TF-IDF (Chen et al. 2017).
- :class:`~hybridnlp.qa.dense.DenseRetriever` (its own module): cosine of mean word vectors
  or of a local pretrained encoder's sentence embeddings.
- :class:`~hybridnlp.qa.retriever_fusion.HybridRetriever` (its own module): their fusion.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, HashingVectorizer

import hybridnlp.qa._ranking as _ranking
from hybridnlp.text import WordTokenizer
from hybridnlp.utils.deprecation import RenamedParams, under_new_names
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json
from hybridnlp.utils.saved_arrays import checked_array, checked_csr
from hybridnlp.utils.saving import Saveable, registered, registered_kinds
from hybridnlp.utils.validation import check_choice, check_fitted, check_number, check_texts

__all__ = ["BM25Retriever", "TfidfRetriever", "check_passages", "load_retriever"]

_QUERY_BLOCK = 512  # queries scored per matrix product (bounds the dense score block)


def check_passages(passages, ids=None) -> tuple[list[str], list | None]:
    """Passages as a non-empty list of str (no empty one), and their ids (unique) if given."""
    texts = check_texts(passages, name="passages")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"passages[{i}] is empty; drop empty passages before indexing.")
    if ids is not None:
        ids = list(ids)
        if len(ids) != len(texts):
            raise ValueError(f"got {len(texts)} passages and {len(ids)} ids; pass one id per "
                             f"passage.")
        seen: dict = {}
        for i, pid in enumerate(ids):
            if pid in seen:
                raise ValueError(f"passage id {pid!r} occurs twice (passages {seen[pid]} and "
                                 f"{i}); ids must be unique.")
            seen[pid] = i
    return texts, ids


def _check_queries(queries) -> list[str]:
    texts = check_texts([queries] if isinstance(queries, str) else queries, name="queries")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"queries[{i}] is empty; every question needs words.")
    return texts


class _Terms:
    """The retrieval terms of a text: the shared word tokenizer's words (punctuation
    dropped), optionally without English stop words, optionally with word bigrams."""

    def __init__(self, stop_words: bool, bigrams: bool, segmenter=None):
        self.tokenize = WordTokenizer(segmenter=segmenter)
        self.stop = ENGLISH_STOP_WORDS if stop_words else frozenset()
        self.bigrams = bigrams

    def __call__(self, text: str) -> list[str]:
        words = [w for w in self.tokenize(text) if any(ch.isalnum() for ch in w)]
        unigrams = [w for w in words if w not in self.stop]
        if not self.bigrams:
            return unigrams
        pairs = [f"{a} {b}" for a, b in zip(words, words[1:])
                 if not (a in self.stop and b in self.stop)]
        return unigrams + pairs


class _Retriever(RenamedParams, Saveable, BaseEstimator):
    """``search``, ``score_passages`` and the checks every retriever shares; subclasses
    implement ``_index(texts)`` and ``_scores(queries) -> (n, n_passages)``."""

    _renamed = {"tokenizer": "segmenter"}  # the word splitter's old name, for one release

    def fit(self, passages, y=None, *, ids=None):
        """Index ``passages`` (list of str; ``ids``: their ids, unique, returned by
        ``search``'s ``ids`` instead of positions when given). Returns self."""
        texts, ids = check_passages(passages, ids)
        self._check_params()
        self._index(texts)
        self.n_passages_ = len(texts)
        self.passage_ids_ = None if ids is None else np.asarray(ids, dtype=object)
        return self

    def _check_params(self) -> None:
        pass

    def _meta(self) -> dict:
        """What ``config.json`` holds for every saved retriever: its kind, the parameters that
        are plain values, the collection's size and ids."""
        ids = None if self.passage_ids_ is None else [_json_id(i) for i in self.passage_ids_]
        params = {k: str(v) if isinstance(v, os.PathLike) else v
                  for k, v in self.get_params(deep=False).items()
                  if isinstance(v, str | int | float | bool | type(None) | os.PathLike)}
        return {"kind": type(self).__name__, "params": params,
                "n_passages": self.n_passages_, "ids": ids}

    @classmethod
    def _read_meta(cls, path: Path) -> dict:
        meta = read_json(path / "config.json", what=f"{cls.__name__} config")
        if meta.get("kind") != cls.__name__:
            raise ValueError(f"{str(path / 'config.json')!r}: field 'kind' is "
                             f"{meta.get('kind')!r}, expected {cls.__name__!r}.")
        return meta

    @classmethod
    def _from_meta(cls, path: Path, meta: dict, **parts):
        """The retriever ``config.json`` describes (with ``parts``, parameters that are not
        plain values), its parameters and collection checked (nothing of the index read)."""
        where = str(path / "config.json")
        params, n, ids = meta.get("params"), meta.get("n_passages"), meta.get("ids")
        if not isinstance(params, dict):
            raise ValueError(f"{where!r}: field 'params' must be a mapping.")
        try:
            params = under_new_names(cls._renamed, params)  # saved before a rename
            model = cls(**params, **parts)
            model._check_params()
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where!r}: {err}") from None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{where!r}: field 'n_passages' must be a positive integer, got "
                             f"{n!r}.")
        if ids is not None and (not isinstance(ids, list) or len(ids) != n or any(
                isinstance(i, bool) or not isinstance(i, str | int) for i in ids)):
            raise ValueError(f"{where!r}: field 'ids' must be null or a list of {n} strings "
                             f"or integers.")
        model.n_passages_ = n
        model.passage_ids_ = None if ids is None else np.asarray(ids, dtype=object)
        return model

    def _check_rows(self, path: Path, rows: int) -> None:
        if rows != self.n_passages_:
            raise ValueError(f"{str(path)!r}: index.npz holds {rows} passages, config.json "
                             f"{self.n_passages_}; the files come from different retrievers.")

    def _blocks(self, queries):
        """Checked queries -> float32 scores, ``_QUERY_BLOCK`` queries at a time (bounding the
        dense block)."""
        check_fitted(self, "n_passages_")
        queries = _check_queries(queries)
        for i in range(0, len(queries), _QUERY_BLOCK):
            yield self._scores(queries[i:i + _QUERY_BLOCK]).astype(np.float32, copy=False)

    def score_passages(self, queries) -> np.ndarray:
        """Scores (n_queries, n_passages), float32."""
        return np.vstack(list(self._blocks(queries)))

    def search(self, queries, k: int = 5):
        """The ``k`` best passages of each query: ``(ids, scores)``, each (n_queries, k),
        best first (positions in the collection, or the ids given to ``fit``); ties keep
        collection order. A single str query gives rows of shape (k,)."""
        check_number("k", k, int, low=1)
        single = isinstance(queries, str)
        ids, scores = [], []
        for s in self._blocks(queries):
            top = _ranking.top_k(s, k)
            ids.append(top)
            scores.append(np.take_along_axis(s, top, axis=1))
        ids, scores = np.vstack(ids), np.vstack(scores)
        if self.passage_ids_ is not None:
            ids = self.passage_ids_[ids]
        return (ids[0], scores[0]) if single else (ids, scores)


def _json_id(i):
    """A passage id as JSON keeps it: integers stay integers (101 is read back as 101, not
    '101'), anything else is its string."""
    if isinstance(i, np.integer | int) and not isinstance(i, bool | np.bool_):
        return int(i)
    return str(i)


class _SparseRetriever(_Retriever):
    """A retriever whose index is one sparse passage-term matrix: score = query terms @ it."""

    def _scores(self, queries):
        """Each query's scores summed from its terms' posting rows (a term-major copy of the
        index, made once) into one dense row per query: over many passages a sparse matrix
        product makes a sparse result as large as the dense one, and slower (RESULTS "BM25
        against bm25s")."""
        q = self._query_matrix(queries).tocsr()  # (n, V)
        if self.n_passages_ <= _ranking.WIDE:  # few passages: one product beats a loop
            return (q @ self.matrix_.T).toarray().astype(np.float32)
        terms, postings = self._postings()
        out = np.zeros((q.shape[0], postings.shape[1]), dtype=np.float32)  # as _blocks gives
        for i in range(q.shape[0] if len(terms) else 0):  # summed in float64, kept float32
            idx, w = q.indices[q.indptr[i]:q.indptr[i + 1]], q.data[q.indptr[i]:q.indptr[i + 1]]
            rows = np.minimum(np.searchsorted(terms, idx), len(terms) - 1)
            known = terms[rows] == idx  # a term no passage has adds nothing
            if known.any():
                out[i] = postings[rows[known]].T @ w[known]
        return out

    def _postings(self) -> tuple[np.ndarray, sp.csr_matrix]:
        """The index term-major: the columns that occur (sorted) and their rows, (terms,
        n_passages) CSR; made on first use."""
        if getattr(self, "_postings_of", None) is not self.matrix_:
            m = self.matrix_.tocoo()
            terms, rows = np.unique(m.col, return_inverse=True)
            self._postings_cache = (terms, sp.csr_matrix((m.data, (rows, m.row)),
                                                       shape=(len(terms), m.shape[0])))
            self._postings_of = self.matrix_
        return self._postings_cache

    def save(self, path: str | os.PathLike) -> None:
        """Write ``index.npz`` (the sparse matrix, no object arrays) and ``config.json``
        (parameters, vocabulary, ids) into the directory ``path``."""
        check_fitted(self, "n_passages_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        m = self.matrix_.tocsr()
        with atomic_path(path / "index.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, data=m.data, indices=m.indices, indptr=m.indptr,
                         shape=np.array(m.shape), **self._arrays())
        atomic_write_json(path / "config.json", {**self._meta(), **self._state()})

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a retriever written by ``save`` (nothing is unpickled)."""
        path = Path(path)
        meta = cls._read_meta(path)
        model = cls._from_meta(path, meta)
        arrays = _read_index(path / "index.npz")
        what = str(path / "index.npz")
        try:
            model.matrix_ = checked_csr(arrays.pop("data"), arrays.pop("indices"),
                                        arrays.pop("indptr"), arrays.pop("shape"), what=what)
        except KeyError as err:
            raise ValueError(f"index file {what!r} has no array {err}; it is not a retriever's "
                             f"index.") from None
        model._check_rows(path, model.matrix_.shape[0])
        model._restore(meta, arrays, what)
        return model

    def _arrays(self) -> dict:
        return {}

    def _state(self) -> dict:
        return {}


class BM25Retriever(_SparseRetriever):
    """Okapi BM25 over the shared word tokenizer's words.

    score(q, d) = sum over the query's terms t (repeats count) of
    idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl)).

    Parameters
    ----------
    k1 : float, default=1.5
    b : float, default=0.75
    idf : {"lucene", "okapi"}, default="lucene"
        ``"lucene"``: log(1 + (N - df + 0.5) / (df + 0.5)), positive for every term, so small
        collections work. ``"okapi"``: log((N - df + 0.5) / (df + 0.5)) with the negative ones
        (terms in more than half the passages) set to ``epsilon`` x the mean IDF, exactly as
        ``rank_bm25.BM25Okapi``.
    epsilon : float, default=0.25
    stop_words : bool, default=False
        Drop English stop words (scikit-learn's list).
    segmenter : str or callable, optional
        A word segmenter (``"jieba"`` ...) for text without spaces.
    """

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, idf: str = "lucene",
                 epsilon: float = 0.25, stop_words: bool = False, segmenter=None):
        self.k1 = k1
        self.b = b
        self.idf = idf
        self.epsilon = epsilon
        self.stop_words = stop_words
        self.segmenter = segmenter

    def _check_params(self) -> None:
        check_number("k1", self.k1, float, low=0)
        check_number("b", self.b, float, low=0, high=1)
        check_choice("idf", self.idf, ("lucene", "okapi"))
        check_number("epsilon", self.epsilon, float, low=0)

    def _vectorizer(self, vocabulary=None) -> CountVectorizer:
        return CountVectorizer(analyzer=_Terms(self.stop_words, False, self.segmenter),
                               vocabulary=vocabulary, dtype=np.float64)

    def _index(self, texts):
        self.vectorizer_ = self._vectorizer()
        tf = self.vectorizer_.fit_transform(texts).tocsr()  # (N, V)
        N = tf.shape[0]
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        if self.idf == "lucene":
            idf = np.log1p((N - df + 0.5) / (df + 0.5))
        else:
            idf = np.log(N - df + 0.5) - np.log(df + 0.5)
            idf[idf < 0] = self.epsilon * idf.mean()
        self.idf_ = idf
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / max(lengths.mean(), 1e-12))  # (N,)
        w = tf.copy()
        rows = np.repeat(np.arange(N), np.diff(tf.indptr))
        w.data = idf[tf.indices] * tf.data * (self.k1 + 1) / (tf.data + norm[rows])
        self.matrix_ = w

    def _query_matrix(self, queries):
        return self.vectorizer_.transform(queries)

    def _arrays(self) -> dict:
        return {"idf": self.idf_}

    def _state(self) -> dict:
        return {"vocabulary": {t: int(i) for t, i in self.vectorizer_.vocabulary_.items()}}

    def _restore(self, meta, arrays, what) -> None:
        vocabulary = meta.get("vocabulary")
        n_terms = self.matrix_.shape[1]
        if not isinstance(vocabulary, dict) or sorted(
                v for v in vocabulary.values() if type(v) is int) != list(range(n_terms)):
            raise ValueError(f"{what}: the vocabulary in config.json does not number the "
                             f"index's {n_terms} terms 0..{n_terms - 1}; the files come from "
                             f"different retrievers.")
        self.idf_ = checked_array(arrays.get("idf"), what=f"{what}: idf", shape=(n_terms,))
        self.vectorizer_ = self._vectorizer(vocabulary)
        self.vectorizer_.fit([])  # fixed vocabulary: nothing is learned


class TfidfRetriever(_SparseRetriever):
    """DrQA's document retriever (Chen et al. 2017): unigrams and bigrams hashed into
    ``n_features`` buckets, passage weight log(1 + tf) * idf, query weight the same, score
    their dot product.

    Parameters
    ----------
    n_features : int, default=2**24
    idf : {"smooth", "drqa"}, default="smooth"
        ``"drqa"``: log((N - Nt + 0.5) / (Nt + 0.5)) clipped at 0, DrQA's: on a small
        collection every term in half the passages or more weighs nothing (a query of such
        terms scores 0 everywhere). ``"smooth"``: log(1 + (N - Nt + 0.5) / (Nt + 0.5)), > 0.
    stop_words : bool, default=True
        Unigram stop words dropped, bigrams of two stop words dropped (as DrQA filters).
    segmenter : str or callable, optional
    """

    def __init__(self, *, n_features: int = 2**24, idf: str = "smooth",
                 stop_words: bool = True, segmenter=None):
        self.n_features = n_features
        self.idf = idf
        self.stop_words = stop_words
        self.segmenter = segmenter

    def _check_params(self) -> None:
        check_number("n_features", self.n_features, int, low=2)
        check_choice("idf", self.idf, ("smooth", "drqa"))

    def _hasher(self) -> HashingVectorizer:
        return HashingVectorizer(analyzer=_Terms(self.stop_words, True, self.segmenter),
                                 n_features=self.n_features, alternate_sign=False, norm=None)

    def _index(self, texts):
        counts = self._hasher().transform(texts).tocsr()  # (N, H)
        N = counts.shape[0]
        buckets, nt = np.unique(counts.indices, return_counts=True)
        ratio = (N - nt + 0.5) / (nt + 0.5)
        idf = np.log1p(ratio) if self.idf == "smooth" else np.maximum(np.log(ratio), 0.0)
        self.idf_ = sp.csr_matrix((idf, (np.zeros(len(buckets), dtype=np.int64), buckets)),
                                  shape=(1, self.n_features))
        self.matrix_ = self._weigh(counts)

    def _weigh(self, counts):
        w = counts.tocsr(copy=True)
        w.data = np.log1p(w.data)
        return w.multiply(self.idf_).tocsr()

    def _query_matrix(self, queries):
        return self._weigh(self._hasher().transform(queries))

    def _arrays(self) -> dict:
        idf = self.idf_.tocsr()
        return {"idf_indices": idf.indices, "idf_data": idf.data}

    def _restore(self, meta, arrays, what) -> None:
        if self.matrix_.shape[1] != self.n_features:
            raise ValueError(f"{what}: the index has {self.matrix_.shape[1]} columns, "
                             f"n_features is {self.n_features}; the files come from different "
                             f"retrievers.")
        buckets = checked_array(arrays.get("idf_indices"), what=f"{what}: idf_indices",
                                ndim=1, kind="i", low=0, high=self.n_features - 1)
        idf = checked_array(arrays.get("idf_data"), what=f"{what}: idf_data",
                            shape=(len(buckets),))
        self.idf_ = sp.csr_matrix((idf, (np.zeros(len(buckets), dtype=np.int64), buckets)),
                                  shape=(1, self.n_features))


def _read_index(file: Path) -> dict[str, np.ndarray]:
    """The arrays of a saved retriever's ``index.npz`` (no object arrays)."""
    try:
        with np.load(file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"index file {str(file)!r} is missing or corrupt: {err}") from None


def load_retriever(path: str | os.PathLike):
    """Read any retriever written by its ``save``, by the kind its ``config.json`` names (a
    registered retriever class: the base never imports its subclasses to find them)."""
    file = Path(path) / "config.json"
    kind = read_json(file, what="retriever config").get("kind")
    cls = registered(kind, _Retriever)
    if cls is None:
        raise ValueError(f"{str(file)!r}: field 'kind' is {kind!r}, expected one of "
                         f"{sorted(registered_kinds(_Retriever))}.")
    return cls.load(path)
