"""``HybridRetriever``: several retrievers over one collection, combined by reciprocal rank
fusion (Cormack et al. 2009) or by a logistic regression over their scores fit on training
questions."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from hybridnlp.qa._linear import linear_from_state, linear_state
from hybridnlp.qa._ranking import ranking, top_k
from hybridnlp.qa.dense import DenseRetriever
from hybridnlp.qa.readers import _SENTENCE_ENDS, word_spans
from hybridnlp.qa.retrievers import (
    BM25Retriever,
    TfidfRetriever,
    _check_queries,
    _Retriever,
    check_passages,
    load_retriever,
)
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.io import atomic_write_json
from hybridnlp.utils.progress import progress
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["HybridRetriever", "load_retriever"]

FUSIONS = ("auto", "rrf", "learned")
MIN_PSEUDO_QUESTIONS = 20


def _pseudo_questions(texts: list[str], rng, n: int = 500):
    """Questions made from a collection, to choose a fusion where no training questions are
    given: ``(collection, questions, gold)``, or None where fewer than
    ``MIN_PSEUDO_QUESTIONS`` can be made. Each is a sentence of at least 6 words from a
    passage of at least two sentences; half of them are half the sentence's words, in order,
    with the sentence left in its passage (a question that shares words with its answer's
    sentence, as most SQuAD questions do), the other half the whole sentence cut from its
    passage (the inverse cloze task of Lee et al. 2019: found by the rest of the passage
    only, as a question worded apart from its answer's sentence is). On SQuAD dev each half
    alone picked what real questions rank lower (the first always BM25, the second MiniLM
    alone, where RRF of the two was best); together they picked as real questions do."""
    collection = list(texts)
    questions, gold = [], []
    for i in rng.permutation(len(texts)).tolist():
        if len(questions) == n:
            break
        spans = word_spans(texts[i])
        sentences, first = [], 0
        for j, (a, b) in enumerate(spans):
            if texts[i][a:b] in _SENTENCE_ENDS or j == len(spans) - 1:
                sentences.append(spans[first:j + 1])
                first = j + 1
        if len(sentences) < 2:
            continue
        long = [s for s in sentences if len(s) >= 6]
        if not long:
            continue
        words = long[rng.integers(len(long))]
        start, end = words[0][0], words[-1][1]
        if len(questions) % 2 == 0:
            keep = np.sort(rng.choice(len(words), size=len(words) // 2, replace=False))
            questions.append(" ".join(texts[i][words[j][0]:words[j][1]] for j in keep))
        else:
            questions.append(texts[i][start:end])
            collection[i] = (texts[i][:start] + texts[i][end:]).strip() or texts[i]
        gold.append(i)
    if len(questions) < MIN_PSEUDO_QUESTIONS:
        return None
    return collection, questions, np.asarray(gold)


class HybridRetriever(_Retriever):
    """Several retrievers over one collection, combined, or the best of them alone.

    ``fusion="rrf"``: reciprocal rank fusion, score = sum over retrievers of 1 / (k + rank)
    over each one's first ``depth`` passages (Cormack et al. 2009, k = 60).
    ``fusion="learned"``: a logistic regression over each retriever's score (standardised
    per query over its first ``depth``) and reciprocal rank, fit on training questions with
    their gold passages (``fit(passages, questions=..., gold=...)``); without them, RRF.
    ``fusion="auto"``: whichever of each retriever alone, RRF and (given training questions)
    the learned fusion finds more gold passages in its first ``recall_k`` (the learned one
    scored out of fold, over 3 folds of the questions); a fusion must beat the best single
    retriever to be chosen. Without training questions, it is chosen on questions made from
    the collection (:func:`_pseudo_questions`), which costs a second fit of the retrievers;
    on a collection too small to make 20 of them, RRF. What was chosen is ``fusion_``
    (``"rrf"``, ``"learned"`` or a retriever's name) and the recalls it was chosen on
    ``fusion_scores_``.

    Parameters
    ----------
    retrievers : list of (name, retriever), default: BM25, TF-IDF and dense.
    fusion : {"auto", "rrf", "learned"}, default="auto"
    k : int, default=60
    depth : int, default=100
    recall_k : int, default=5
        ``fusion="auto"`` compares recall at this many passages (what a reader reads).
    random_state : int or None, default=0
        Seeds the sample of questions made from the collection.
    verbose : int, default=0
        A progress bar (standard error) over the fits of the retrievers; each retriever with
        a ``verbose`` parameter gets this one.
    """

    _learns_from_questions = True  # QAPipeline passes its training questions to fit

    @positional_deprecated("retrievers")
    def __init__(self, *, retrievers=None, fusion: str = "auto", k: int = 60,
                 depth: int = 100, recall_k: int = 5, random_state=0, verbose=0):
        self.retrievers = retrievers
        self.fusion = fusion
        self.k = k
        self.depth = depth
        self.recall_k = recall_k
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_choice("fusion", self.fusion, FUSIONS)
        check_number("k", self.k, int, low=0)
        check_number("depth", self.depth, int, low=1)
        check_number("recall_k", self.recall_k, int, low=1)
        names = [name for name, _ in self._parts()]
        clash = sorted({n for n in names if n in FUSIONS or names.count(n) > 1})
        if clash:
            raise ValueError(f"retrievers: the name(s) {clash} are used twice or name a "
                             f"fusion ({', '.join(FUSIONS)}); give each retriever its own "
                             f"name.")

    def _parts(self) -> list:
        return self.retrievers or [("bm25", BM25Retriever()), ("tfidf", TfidfRetriever()),
                                   ("dense", DenseRetriever(random_state=0))]

    def fit(self, passages, y=None, *, ids=None, questions=None, gold=None,
            question_passages=None):
        """Fit every retriever on ``passages``. With ``fusion="learned"`` or ``"auto"``, the
        combination is fit (and chosen) on ``questions`` and the positions of their ``gold``
        passages, in ``passages`` or, given ``question_passages``, in that training
        collection (the retrievers are fit on it for that, then on ``passages``): train on
        your training questions, search a new collection."""
        texts, ids = check_passages(passages, ids)
        self._check_params()
        self.combiner_, self.fusion_, self.fusion_scores_ = None, "rrf", {}
        train = texts if question_passages is None else check_passages(question_passages)[0]
        fitted_on = None
        if questions is not None and self.fusion != "rrf":
            qs = _check_queries(questions)
            gold = np.asarray(gold)
            if len(gold) != len(qs):
                raise ValueError(f"got {len(qs)} questions and {len(gold)} gold passages; "
                                 f"pass one gold passage position per question.")
            if gold.min() < 0 or gold.max() >= len(train):
                raise ValueError(f"gold holds passage positions outside 0..{len(train) - 1}.")
            self._choose(train, qs, gold, learned=True)
            fitted_on = train
        elif self.fusion == "auto" and len(self._parts()) > 1:
            made = _pseudo_questions(texts, np.random.default_rng(self.random_state))
            if made is not None:
                train, qs, gold = made
                self._choose(train, qs, gold, learned=False)
                fitted_on = train
        if fitted_on is not texts:
            self._fit_parts(texts)
        self.passage_ids_ = None if ids is None else np.asarray(ids, dtype=object)
        return self

    def index(self, passages, *, ids=None) -> HybridRetriever:
        """A copy that searches ``passages``: each retriever refit on them, the fusion chosen
        at fit kept (``fusion_``, ``combiner_``): choose on training questions once, then
        index any collection (what ``QAPipeline.index`` does)."""
        check_fitted(self, "n_passages_")
        texts, ids = check_passages(passages, ids)
        new = copy.copy(self)
        new._fit_parts(texts)
        new.passage_ids_ = None if ids is None else np.asarray(ids, dtype=object)
        return new

    def _choose(self, train, questions, gold, *, learned: bool) -> None:
        """Fit the retrievers on ``train`` and set ``fusion_`` (and ``combiner_``) from the
        recall@``recall_k`` of each candidate on ``questions``."""
        self._fit_parts(train)
        k = min(self.recall_k, self.n_passages_)
        hits = {name: [] for name, _ in self.retrievers_} | {"rrf": []}
        X, cand = [], []
        for i in range(0, len(questions), 512):
            block, want = questions[i:i + 512], gold[i:i + 512, None]
            scores = [r.score_passages(block) for _, r in self.retrievers_]
            for (name, _), s in zip(self.retrievers_, scores, strict=True):
                hits[name].append((top_k(s, k) == want).any(1))
            hits["rrf"].append((top_k(self._rrf(scores), k) == want).any(1))
            if learned:
                x, c = self._features(scores)
                X.append(x)
                cand.append(c)
        self.fusion_scores_ = {name: float(np.concatenate(h).mean()) for name, h in hits.items()}
        if learned:
            X, cand = np.concatenate(X), np.concatenate(cand)
            target = cand == gold[:, None]
            if self.fusion == "learned" or target.any(1).sum() >= 3 and not target.all():
                self.fusion_scores_["learned"] = self._learned_recall(X, cand, target, gold, k)
        if self.fusion == "learned" and "learned" in self.fusion_scores_:
            self.fusion_ = "learned"
        else:  # the first best: single retrievers first, a fusion must do better
            self.fusion_ = max(self.fusion_scores_, key=lambda n: (
                self.fusion_scores_[n], -list(self.fusion_scores_).index(n)))
        if self.fusion_ == "learned":
            self.combiner_ = LogisticRegression(C=1.0, max_iter=1000).fit(
                X.reshape(-1, X.shape[-1]), target.ravel())

    def _learned_recall(self, X, cand, target, gold, k: int) -> float:
        """Recall@k of the learned fusion, each question ranked by a combiner fit on the
        other folds' questions (3 folds; a fold whose training part has one class ranks by
        RRF's feature order, i.e. not at all better)."""
        found = np.zeros(len(gold), dtype=bool)
        folds = KFold(n_splits=min(3, len(gold)), shuffle=True, random_state=0)
        for fit_rows, held in folds.split(X):
            y = target[fit_rows].ravel()
            if y.all() or not y.any():
                continue
            part = LogisticRegression(C=1.0, max_iter=1000).fit(
                X[fit_rows].reshape(-1, X.shape[-1]), y)
            z = part.decision_function(X[held].reshape(-1, X.shape[-1])).reshape(
                cand[held].shape)
            out = np.full((len(held), self.n_passages_), -np.inf, dtype=np.float32)
            np.put_along_axis(out, cand[held], z.astype(np.float32), axis=1)
            found[held] = (top_k(out, k) == gold[held, None]).any(1)
        return float(found.mean())

    def _fit_parts(self, texts: list[str]) -> None:
        self.retrievers_ = []
        for name, r in progress(self._parts(), desc=f"fitting retrievers on {len(texts):,} "
                                f"passages", verbose=self.verbose):
            r = clone(r)
            if self.verbose and "verbose" in r.get_params(deep=False):
                r.set_params(verbose=self.verbose)
            self.retrievers_.append((name, r.fit(texts)))
        self.n_passages_ = len(texts)

    def _features(self, scores):
        """Per query, the union of each retriever's first ``depth`` candidates (padded with
        repeats) and their features: per retriever, z-scored score and 1 / (k + rank)."""
        depth = min(self.depth, self.n_passages_)
        orders = [ranking(s) for s in scores]
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

    def _rrf(self, scores) -> np.ndarray:
        n, depth = len(scores[0]), min(self.depth, self.n_passages_)
        out = np.zeros((n, self.n_passages_), dtype=np.float32)
        for s in scores:
            top = top_k(s, depth)
            rows = np.repeat(np.arange(n), depth)
            np.add.at(out, (rows, top.ravel()),
                      np.tile(1.0 / (self.k + 1 + np.arange(depth)), n).astype(np.float32))
        return out

    def _scores(self, queries) -> np.ndarray:
        fusion = self.fusion_
        if fusion not in FUSIONS:  # one retriever alone
            return dict(self.retrievers_)[fusion].score_passages(queries)
        scores = [r.score_passages(queries) for _, r in self.retrievers_]
        if fusion == "rrf":
            return self._rrf(scores)
        X, cand = self._features(scores)
        z = self.combiner_.decision_function(X.reshape(-1, X.shape[-1])).reshape(cand.shape)
        out = np.full((len(queries), self.n_passages_), -np.inf, dtype=np.float32)
        np.put_along_axis(out, cand, z.astype(np.float32), axis=1)
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
            "combiner": combiner, "chosen": self.fusion_, "chosen_on": self.fusion_scores_})

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
        chosen = meta.get("chosen", "learned" if model.combiner_ is not None else "rrf")
        if chosen not in (*FUSIONS, *names) or chosen == "auto" or (
                chosen == "learned") != (model.combiner_ is not None):
            raise ValueError(f"{str(path / 'config.json')!r}: field 'chosen' is {chosen!r}; "
                             f"expected 'rrf', 'learned' (with a combiner) or one of "
                             f"{names}.")
        model.fusion_ = chosen
        scores = meta.get("chosen_on") or {}
        model.fusion_scores_ = {str(k): float(v) for k, v in scores.items()
                                if isinstance(v, int | float)} if isinstance(scores, dict) else {}
        return model
