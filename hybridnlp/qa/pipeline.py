"""``QAPipeline``: index passages, ask questions, get the answer span with its passage and a
score. A retriever finds ``top_k`` passages, a reader picks a span in each, and the answer is
the span with the best combined score: a conditional logit over the reader's and the
retriever's scores (each also normalised over the question's ``top_k``, as DrQA compares
spans across passages) trained to rank a question's right span first, or reader score +
``weight`` x the retriever's standardised score, whichever answers the training questions
better on out-of-fold reads."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError as _SklearnNotFitted

from hybridnlp.qa._answers import old_fit_order, reading_data
from hybridnlp.qa._candidates import (
    N_COMBINER_FEATURES,
    QuestionMatch,
    best_by_group,
    candidate_features,
    candidate_table,
)
from hybridnlp.qa.logistic_reader import LogisticReader
from hybridnlp.qa.metrics import squad_em_f1
from hybridnlp.qa.retrievers import (
    BM25Retriever,
    _check_queries,
    check_passages,
)
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.folds import out_of_fold
from hybridnlp.utils.progress import progress, progress_bar
from hybridnlp.utils.saving import Saveable, registered
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["QAPipeline"]

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
COMBINE = ("auto", "learned", "weight")
READ_BLOCK = 256  # (question, passage) pairs a reader reads at a time: a progress bar's step


def _fitted(estimator) -> bool:
    """Whether ``estimator`` holds fitted state (scikit-learn's convention: attributes
    ending in ``_``)."""
    try:
        check_fitted(estimator)
    except _SklearnNotFitted:
        return False
    return True


NO_ANSWER = {"text": None, "passage": None, "start": None, "end": None, "score": None}


class QAPipeline(Saveable, BaseEstimator):
    """Retriever + reader over a passage collection.

    Parameters
    ----------
    retriever : a retriever of :mod:`hybridnlp.qa.retrievers`, fitted or not (default:
        ``BM25Retriever()``).
    reader : a reader with ``fit(questions, passages, answer_starts, answers)`` and
        ``predict(questions, passages) -> spans``, fitted or not (default:
        ``LogisticReader()``).
    top_k : int, default=5
        Passages read per question.
    weight : float, optional
        The retriever score's weight in the final score; None: chosen among
        (0, 0.25, 0.5, 1, 2, 4) on the training questions' F1.
    combine : {"auto", "learned", "weight"}, default="auto"
        How a question's candidates (one span per retrieved passage) compare.
        ``"weight"``: reader score + ``weight`` x retriever z-score. ``"learned"``: a
        linear score (``combiner_``) of the reader's score, its margin and softmax among the
        candidates, the retriever's z-score and rank and the question's cover by the
        passage, fit on the training questions' reads as a conditional logit: the
        likelihood of a question's best right span (F1 >= 0.5) under a softmax over its
        candidates, as they compete when read. ``"auto"``: the
        better of the two on the training questions (the learned one scored by 3-fold
        cross-validation over questions), recorded in ``combine_`` and ``combine_scores_``.
        A given ``weight`` means ``"weight"``.
    weight_cv : int or None, default=3
        When the pipeline fits the reader itself, the weight is chosen on out-of-fold reads:
        the reader refit on all but one of ``weight_cv`` groups of passages (their questions
        with them) reads the questions of the group left out. A reader reading the
        questions it was trained on is surer of itself than on new ones, and the weight
        chosen there trusts it too much. None (or a reader given fitted): the reads of the
        reader fit on all the questions.
    random_state : int, optional
        Seeds the default reader.
    verbose : int, default=0
        Progress bars (tqdm, on standard error) over the fit's steps and over the questions
        read; an unfitted reader or retriever with a ``verbose`` parameter gets this one.
    """

    @positional_deprecated("retriever", "reader")
    def __init__(self, *, retriever=None, reader=None, top_k: int = 5, weight=None,
                 combine: str = "auto", weight_cv=3, random_state=None, verbose=0):
        self.retriever = retriever
        self.reader = reader
        self.top_k = top_k
        self.weight = weight
        self.combine = combine
        self.weight_cv = weight_cv
        self.random_state = random_state
        self.verbose = verbose

    @old_fit_order("pipeline")
    def fit(self, questions, passages, answers, *, passage_index=None, passage_ids=None):
        """Fit on training questions: ``passages`` holds each question's passage, or with
        ``passage_index`` the collection it points into (``passage_ids``: the collection's
        ids); ``answers[i]``: question i's reference answers (texts, or SQuAD answer dicts).
        The one reader ``fit`` order (:mod:`hybridnlp.qa._answers`)."""
        check_number("top_k", self.top_k, int, low=1)
        check_choice("combine", self.combine, COMBINE)
        if self.weight_cv is not None:
            check_number("weight_cv", self.weight_cv, int, low=2)
        data = reading_data(questions, passages, answers, passage_index)
        if passage_ids is not None and passage_index is None:
            raise ValueError("passage_ids name the passages of a collection; pass the "
                             "collection as passages with passage_index.")
        texts, ids = check_passages(data.collection, passage_ids)
        qs, index = data.questions, data.index
        retriever = self.retriever if self.retriever is not None else BM25Retriever()
        reader = self.reader if self.reader is not None else LogisticReader(
            random_state=self.random_state)
        folds = self.weight_cv if self.weight is None and self.weight_cv is not None else 0
        bar = progress_bar(2 + folds + 1, desc="QA fit: index, reader, held-out reads, "
                           "combiner", verbose=self.verbose)
        if not _fitted(retriever):
            given = ({"questions": qs, "gold": index}
                     if getattr(retriever, "_learns_from_questions", False) else {})
            retriever = self._verbose(clone(retriever)).fit(texts, ids=ids, **given)
        bar.update()
        cross_fit = getattr(reader, "_learns_from_answers", True) and not _fitted(reader) \
            and self.weight_cv is not None and self.weight is None \
            and len(set(index.tolist())) >= self.weight_cv
        unfitted = self._verbose(clone(reader)) if not _fitted(reader) else reader
        if not _fitted(reader):
            reader = data.fit_reader(clone(unfitted))
        bar.update()
        self.retriever_, self.reader_, self.passages_ = retriever, reader, texts
        self.combiner_, self.combine_ = None, "weight"
        if self.weight is not None:
            self.weight_ = float(self.weight)
            bar.close()
            return self
        if cross_fit:
            found = self._held_out_reads(unfitted, data, bar)
        else:
            found = self._read(qs)
            bar.update(folds)
        self.weight_scores_ = {w: squad_em_f1([self._pick(f, w)["text"] for f in found],
                                              data.references)["f1"] for w in WEIGHTS}
        self.weight_ = max(self.weight_scores_, key=lambda w: (self.weight_scores_[w], -w))
        self.combine_scores_ = {"weight": self.weight_scores_[self.weight_]}
        if self.combine != "weight":
            self._fit_combiner(qs, found, data.references)
        bar.update()
        bar.close()
        return self

    def _verbose(self, estimator):
        """``estimator`` (unfitted) with the pipeline's ``verbose``, where it has one."""
        if self.verbose and "verbose" in estimator.get_params(deep=False):
            estimator.set_params(verbose=self.verbose)
        return estimator

    def _fit_combiner(self, questions, found, references) -> None:
        """The conditional-logit combiner on the reads ``found`` (:func:`~hybridnlp.qa.
        _linear.ranker`: a question's best span, if its F1 against the references is at
        least 0.5, against its other candidates), scored by 3-fold cross-validation over the
        questions; kept where ``combine="learned"`` or where it beats the weight. It picks
        better in open mode than a logistic regression telling each right span from the
        wrong ones (benchmarks/RESULTS.md, "Question answering: open mode's combiner")."""
        from sklearn.model_selection import GroupKFold

        from hybridnlp.qa._linear import ranker
        from hybridnlp.qa.metrics import answer_f1

        X, group, texts = candidate_table(questions, found, self.passages_,
                                          self._match(self.passages_))
        gain = np.array([max(answer_f1(t, r) for r in references[g])
                         for t, g in zip(texts, group.tolist(), strict=True)])
        combiner = ranker(X, group, gain)
        if combiner is None:  # no candidates, or no question with a right one among two
            return
        decision = np.zeros(len(gain))
        folds = min(3, len(set(group.tolist())))
        if folds >= 2:
            for train, held in GroupKFold(n_splits=folds).split(X, gain, group):
                part = ranker(X[train], group[train], gain[train])
                if part is not None:
                    decision[held] = part.decision_function(X[held])
        chosen = best_by_group(decision, group, texts, len(found))  # held-out decisions
        self.combine_scores_["learned"] = squad_em_f1(chosen, references)["f1"]
        if self.combine == "learned" or \
                self.combine_scores_["learned"] > self.combine_scores_["weight"]:
            self.combiner_, self.combine_ = combiner, "learned"

    def _held_out_reads(self, reader, data, bar):
        """``_read`` of every question by a reader fit without its passage's questions."""
        from sklearn.model_selection import GroupKFold

        def fit_read(train, held):
            fold = data.fit_reader(clone(reader), train)
            found = self._read([data.questions[i] for i in held], reader=fold)
            bar.update()
            return found

        splits = GroupKFold(n_splits=self.weight_cv).split(data.questions, groups=data.index)
        return out_of_fold(splits, fit_read, len(data.questions))

    def index(self, passages, *, passage_ids=None) -> QAPipeline:
        """Search ``passages`` from now on: a fitted pipeline keeps its reader, weight or
        combiner and its retriever's fusion learnt on the training questions
        (``HybridRetriever.index``), and indexes the new collection; an unfitted one needs a
        reader that learns nothing from answers (``SlidingWindowReader``) or a fitted one,
        and ``weight`` (default 1)."""
        texts, ids = check_passages(passages, passage_ids)
        if not hasattr(self, "weight_"):
            reader = self.reader
            if reader is None or (getattr(reader, "_learns_from_answers", True)
                                  and not _fitted(reader)):
                raise ValueError("index() without fit needs a reader that is fitted or learns "
                                 "nothing from answers, e.g. reader=SlidingWindowReader(); or "
                                 "call fit with training questions first.")
            self.reader_ = reader if _fitted(reader) else clone(reader).fit(None, texts)
            self.weight_ = 1.0 if self.weight is None else float(self.weight)
        fitted = getattr(self, "retriever_", None)
        if fitted is not None and hasattr(fitted, "index"):  # what it learnt is kept
            self.retriever_ = fitted.index(texts, ids=ids)
        else:
            retriever = self.retriever if self.retriever is not None else BM25Retriever()
            self.retriever_ = self._verbose(clone(retriever)).fit(texts, ids=ids)
        self.passages_ = texts
        return self

    def _read(self, questions, retriever=None, passages=None, reader=None):
        """Per question, the (position, retriever z-score, span) of its top_k passages."""
        retriever = retriever or self.retriever_
        reader = reader or self.reader_
        passages = passages if passages is not None else self.passages_
        ids, scores = retriever.search(questions, k=self.top_k)
        if retriever.passage_ids_ is not None:  # positions, for reading
            pos = {pid: i for i, pid in enumerate(retriever.passage_ids_)}
            ids = np.vectorize(pos.get)(ids)
        z = (scores - scores.mean(1, keepdims=True)) / (scores.std(1, keepdims=True) + 1e-6)
        flat_q = [q for q in questions for _ in range(ids.shape[1])]
        flat_p = [passages[int(p)] for p in ids.ravel()]
        step = max(READ_BLOCK // ids.shape[1], 1) * ids.shape[1]  # whole questions a block
        spans = [span for i in progress(range(0, len(flat_q), step), verbose=self.verbose and (
            len(questions) > READ_BLOCK), desc=f"reading {ids.shape[1]} passages a question",
            total=-(-len(flat_q) // step)) for span in reader.predict(
            flat_q[i:i + step], flat_p[i:i + step])]
        k = ids.shape[1]
        # a question none of whose words is indexed retrieves nothing (every score 0), and a
        # passage with no candidate span (score -inf) offers none: neither is an answer
        return [[(int(ids[i, j]), float(z[i, j]), spans[i * k + j]) for j in range(k)
                 if np.isfinite(spans[i * k + j].score)] if np.any(scores[i] != 0) else []
                for i in range(len(questions))]

    def _match(self, passages) -> QuestionMatch:
        """The question-passage match of ``passages`` (kept for the fitted collection)."""
        if passages is self.passages_:
            if getattr(self, "_match_", None) is None or self._match_[0] is not passages:
                self._match_ = (passages, QuestionMatch(passages))
            return self._match_[1]
        return QuestionMatch(passages)

    def _pick(self, found, weight: float, passages=None, combiner=None,
              question=None) -> dict:
        """The best of a question's (passage, retriever z-score, span) by ``combiner``'s
        decision, or reader score + ``weight`` x z-score; with none, the unanswered dict
        (``text`` None, as the SQuAD metric scores an unanswered question)."""
        if not found:
            return dict(NO_ANSWER)
        passages = passages if passages is not None else self.passages_
        if combiner is not None:
            scores = combiner.decision_function(candidate_features(
                found, question, passages, self._match(passages)))
        else:
            scores = [span.score + weight * z for _, z, span in found]
        best = int(np.argmax(scores))
        p, _, span = found[best]
        return {"text": passages[p][span.start:span.end], "passage": p, "start": span.start,
                "end": span.end, "score": float(scores[best])}

    def predict(self, questions, passages=None) -> list[dict]:
        """One dict per question: ``text``, ``passage`` (its position, or id), ``start`` and
        ``end`` (character offsets in it), ``score``. Over the fitted collection, or over
        ``passages`` (indexed once, with the fitted retriever's settings). A question with
        no answer (none of its words indexed, or no candidate span in what was retrieved)
        gets every field None."""
        check_fitted(self, "weight_")
        qs = _check_queries(questions)
        retriever, texts = self.retriever_, self.passages_
        if passages is not None:
            texts, _ = check_passages(passages)
            retriever = clone(self.retriever_).fit(texts)
        combiner = getattr(self, "combiner_", None)  # None in pipelines saved before it
        out = [self._pick(f, self.weight_, texts, combiner, q)
               for q, f in zip(qs, self._read(qs, retriever, texts), strict=True)]
        if passages is None and self.retriever_.passage_ids_ is not None:
            for o in out:
                if o["passage"] is not None:
                    o["passage"] = self.retriever_.passage_ids_[o["passage"]]
        return out

    def score(self, questions, answers) -> float:
        """F1 (official SQuAD v1.1) of ``predict(questions)`` against ``answers``."""
        preds = [p["text"] for p in self.predict(questions)]
        return squad_em_f1(preds, answers)["f1"]

    # ------------------------------------------------------------------ persistence

    def save(self, path) -> None:
        """Write the collection (``passages.json``), the retriever (``retriever/``, its npz +
        JSON), the reader (``reader/``, JSON) and ``config.json`` into the directory
        ``path``: every retriever and reader of ``hybridnlp.qa`` saves."""
        from pathlib import Path

        from hybridnlp.qa.readers import save_reader
        from hybridnlp.utils.io import atomic_write_json

        check_fitted(self, "weight_")
        if not hasattr(self.retriever_, "save"):
            raise NotImplementedError(f"a {type(self.retriever_).__name__} cannot be saved: a "
                                      f"pipeline saves the retrievers of hybridnlp.qa (and "
                                      f"any with save/load).")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path / "passages.json", {"passages": self.passages_})
        self.retriever_.save(path / "retriever")
        save_reader(self.reader_, path / "reader")
        from hybridnlp.qa._linear import linear_state

        combiner = getattr(self, "combiner_", None)
        atomic_write_json(path / "config.json", {
            "kind": "QAPipeline", "retriever": type(self.retriever_).__name__,
            "top_k": self.top_k, "weight": self.weight_,
            "combiner": None if combiner is None else linear_state(combiner)})

    @classmethod
    def load(cls, path) -> QAPipeline:
        """Read a pipeline written by ``save`` (nothing is unpickled)."""
        from pathlib import Path

        from hybridnlp.qa.readers import load_reader
        from hybridnlp.qa.retrievers import _Retriever, load_retriever
        from hybridnlp.utils.io import read_json

        path = Path(path)
        meta = read_json(path / "config.json", what="QAPipeline config")
        if meta.get("kind") != "QAPipeline" or registered(meta.get("retriever"),
                                                          _Retriever) is None:
            raise ValueError(f"{str(path / 'config.json')!r} is not a QAPipeline written by "
                             f"save (kind {meta.get('kind')!r}, retriever "
                             f"{meta.get('retriever')!r}).")
        top_k, weight = meta.get("top_k"), meta.get("weight")
        try:
            check_number("top_k", top_k, int, low=1)
            check_number("weight", weight, float)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{str(path / 'config.json')!r}: {err}") from None
        qa = cls(top_k=top_k, weight=float(weight))
        qa.retriever_ = load_retriever(path / "retriever")
        qa.reader_ = load_reader(path / "reader")
        passages = read_json(path / "passages.json", what="passages").get("passages")
        if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
            raise ValueError(f"{str(path / 'passages.json')!r}: field 'passages' must be a "
                             f"list of texts.")
        qa.passages_ = passages
        if len(qa.passages_) != qa.retriever_.n_passages_:
            raise ValueError(f"{str(path)!r}: passages.json holds {len(qa.passages_)} "
                             f"passages but the index {qa.retriever_.n_passages_}; the files "
                             f"come from different pipelines.")
        qa.weight_ = float(meta["weight"])
        qa.combiner_ = None
        if meta.get("combiner") is not None:
            from hybridnlp.qa._linear import linear_from_state

            qa.combiner_ = linear_from_state(meta["combiner"], what=str(path / "config.json"),
                                             n_features=N_COMBINER_FEATURES, C=1.0,
                                             max_iter=1000)
        qa.combine_ = "weight" if qa.combiner_ is None else "learned"
        return qa
