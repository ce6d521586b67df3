"""``HybridRetriever``: several retrievers over one collection, combined by reciprocal rank
fusion (Cormack et al. 2009) or by a logistic regression over their scores fit on training
questions."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from hybridnlp.qa._linear import linear_from_state, linear_state
from hybridnlp.qa.dense import DenseRetriever
from hybridnlp.qa.retrievers import (
    BM25Retriever,
    TfidfRetriever,
    _check_queries,
    _ranking,
    _Retriever,
    check_passages,
    load_retriever,
)
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.io import atomic_write_json
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["HybridRetriever", "load_retriever"]


class HybridRetriever(_Retriever):
    """Several retrievers over one collection, combined.

    ``fusion="rrf"``: reciprocal rank fusion, score = sum over retrievers of 1 / (k + rank)
    over each one's first ``depth`` passages (Cormack et al. 2009, k = 60).
    ``fusion="learned"``: a logistic regression over each retriever's score (standardised
    per query over its first ``depth``) and reciprocal rank, fit on training questions with
    their gold passages (``fit(passages, questions=..., gold=...)``); without them, RRF.

    Parameters
    ----------
    retrievers : list of (name, retriever), default: BM25, TF-IDF and dense.
    fusion : {"rrf", "learned"}, default="rrf"
    k : int, default=60
    depth : int, default=100
    """

    @positional_deprecated("retrievers")
    def __init__(self, *, retrievers=None, fusion: str = "rrf", k: int = 60,
                 depth: int = 100):
        self.retrievers = retrievers
        self.fusion = fusion
        self.k = k
        self.depth = depth

    def _check_params(self) -> None:
        check_choice("fusion", self.fusion, ("rrf", "learned"))
        check_number("k", self.k, int, low=0)
        check_number("depth", self.depth, int, low=1)

    def fit(self, passages, y=None, *, ids=None, questions=None, gold=None,
            question_passages=None):
        """Fit every retriever on ``passages``. With ``fusion="learned"``, the combination is
        fit on ``questions`` and the positions of their ``gold`` passages, in ``passages`` or,
        given ``question_passages``, in that training collection (the retrievers are fit on
        it for that, then on ``passages``): train on your training questions, search a new
        collection."""
        texts, ids = check_passages(passages, ids)
        self._check_params()
        self.combiner_ = None
        if self.fusion == "learned" and questions is not None:
            qs = _check_queries(questions)
            gold = np.asarray(gold)
            if len(gold) != len(qs):
                raise ValueError(f"got {len(qs)} questions and {len(gold)} gold passages; "
                                 f"pass one gold passage position per question.")
            train = texts if question_passages is None else check_passages(
                question_passages)[0]
            if gold.min() < 0 or gold.max() >= len(train):
                raise ValueError(f"gold holds passage positions outside 0..{len(train) - 1}.")
            self._fit_parts(train)
            X, cand = self._features(qs)
            target = (cand == gold[:, None]).ravel()
            self.combiner_ = LogisticRegression(C=1.0, max_iter=1000).fit(
                X.reshape(-1, X.shape[-1]), target)
        self._fit_parts(texts)
        self.passage_ids_ = None if ids is None else np.asarray(ids, dtype=object)
        return self

    def _fit_parts(self, texts: list[str]) -> None:
        parts = self.retrievers or [("bm25", BM25Retriever()), ("tfidf", TfidfRetriever()),
                                    ("dense", DenseRetriever(random_state=0))]
        self.retrievers_ = [(name, clone(r).fit(texts)) for name, r in parts]
        self.n_passages_ = len(texts)

    def _features(self, queries):
        """Per query, the union of each retriever's first ``depth`` candidates (padded with
        repeats) and their features: per retriever, z-scored score and 1 / (k + rank)."""
        depth = min(self.depth, self.n_passages_)
        scores = [r.score_passages(queries) for _, r in self.retrievers_]
        orders = [_ranking(s) for s in scores]
        tops = [order[:, :depth] for order in orders]
        ranks = []
        for order in orders:  # rank of every passage (0 = best), per retriever
            r = np.empty_like(order)
            np.put_along_axis(r, order, np.arange(order.shape[1])[None].repeat(len(order), 0),
                              axis=1)
            ranks.append(r)
        cand = np.hstack(tops)  # (n, R * depth), with duplicates: harmless for scoring
        feats = []
        for s, r, top in zip(scores, ranks, tops, strict=True):
            head = np.take_along_axis(s, top, axis=1)
            mu, sd = head.mean(1, keepdims=True), head.std(1, keepdims=True) + 1e-6
            feats.append((np.take_along_axis(s, cand, axis=1) - mu) / sd)
            feats.append(1.0 / (self.k + 1 + np.take_along_axis(r, cand, axis=1)))
        return np.stack(feats, axis=-1), cand

    def _scores(self, queries) -> np.ndarray:
        n, N = len(queries), self.n_passages_
        out = np.zeros((n, N), dtype=np.float32)
        if self.combiner_ is not None:
            X, cand = self._features(queries)
            z = self.combiner_.decision_function(X.reshape(-1, X.shape[-1])).reshape(cand.shape)
            out[:] = -np.inf
            np.put_along_axis(out, cand, z.astype(np.float32), axis=1)
            return out
        depth = min(self.depth, N)
        for _, r in self.retrievers_:
            top = _ranking(r.score_passages(queries))[:, :depth]
            rows = np.repeat(np.arange(n), depth)
            np.add.at(out, (rows, top.ravel()),
                      np.tile(1.0 / (self.k + 1 + np.arange(depth)), n).astype(np.float32))
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write each retriever into ``parts/<i>/`` (its own ``save``) and the fusion (its
        parameters, names and the learned combiner's weights) into ``config.json``."""
        check_fitted(self, "n_passages_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, (_, retriever) in enumerate(self.retrievers_):
            retriever.save(path / "parts" / str(i))
        combiner = None if self.combiner_ is None else linear_state(self.combiner_)
        atomic_write_json(path / "config.json", {
            **self._meta(), "names": [name for name, _ in self.retrievers_],
            "combiner": combiner})

    @classmethod
    def load(cls, path: str | os.PathLike) -> HybridRetriever:
        """Read a retriever written by ``save`` (nothing is unpickled)."""
        path = Path(path)
        meta = cls._read_meta(path)
        names = meta.get("names")
        if not isinstance(names, list) or not names or len(names) > 100:
            raise ValueError(f"{str(path / 'config.json')!r}: field 'names' must list the "
                             f"retrievers (1 to 100).")
        parts = [(str(name), load_retriever(path / "parts" / str(i)))
                 for i, name in enumerate(names)]
        model = cls._from_meta(path, meta, retrievers=parts)
        for name, part in parts:
            if part.n_passages_ != model.n_passages_:
                raise ValueError(f"{str(path)!r}: part {name!r} indexes {part.n_passages_} "
                                 f"passages, the fusion {model.n_passages_}; the files come "
                                 f"from different retrievers.")
        model.retrievers_ = parts
        model.combiner_ = (None if meta.get("combiner") is None else linear_from_state(
            meta["combiner"], what=str(path / "config.json"), n_features=2 * len(parts),
            C=1.0, max_iter=1000))
        return model
