"""Readers stacked (the QA hybrid of readers, as retriever_fusion is of retrievers): each
reader proposes its best span and a logistic regression fit on held-out questions picks one."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from hybridnlp.qa._answers import old_fit_order, reading_data
from hybridnlp.qa.logistic_reader import LogisticReader
from hybridnlp.qa.readers import Span, check_pairs
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.saving import Saveable
from hybridnlp.utils.validation import check_fitted, check_number

__all__ = ["HybridReader"]


class HybridReader(Saveable, BaseEstimator):
    """Several readers, stacked: each proposes its best span, and a logistic regression fit on
    held-out questions picks the proposal most likely right, from which reader made it, its
    score (standardised per reader) and how much it agrees with the other proposals (token
    F1). The readers are then refit on all the questions.

    Parameters
    ----------
    readers : list of (name, reader), default: the logistic reader and the Transformer
        ``ExtractiveReader``.
    holdout : float, default=0.2
        Share of the training questions the stacker is fit on.
    """

    _learns_from_answers = True

    @positional_deprecated("readers")
    def __init__(self, *, readers=None, holdout: float = 0.2, random_state=None):
        self.readers = readers
        self.holdout = holdout
        self.random_state = random_state

    def _parts(self):
        if self.readers is not None:
            return self.readers
        from hybridnlp.qa.extractive import ExtractiveReader

        return [("logistic", LogisticReader(random_state=self.random_state)),
                ("transformer", ExtractiveReader(random_state=self.random_state))]

    def _proposals(self, readers, questions, passages):
        spans = [r.predict(questions, passages) for _, r in readers]
        return [[s[i] for s in spans] for i in range(len(questions))]

    def _features(self, proposals, passages) -> np.ndarray:
        from hybridnlp.qa.metrics import answer_f1

        rows = []
        for props, p in zip(proposals, passages, strict=True):
            texts = [p[s.start:s.end] for s in props]
            for k, s in enumerate(props):
                z = (s.score - self.score_mean_[k]) / self.score_std_[k]
                agree = np.mean([answer_f1(texts[k], t) for m, t in enumerate(texts) if m != k])
                rows.append([*(float(k == m) for m in range(len(props))),
                             *(z * float(k == m) for m in range(len(props))), agree])
        return np.asarray(rows)

    @old_fit_order("reader")
    def fit(self, questions, passages, answers, *, passage_index=None):
        """Train on each question's first reference answer in its passage (the one reader
        ``fit`` order: :mod:`hybridnlp.qa._answers`)."""
        from sklearn.base import clone

        from hybridnlp.qa.metrics import answer_f1

        data = reading_data(questions, passages, answers, passage_index)
        qs, ps = data.questions, data.passages
        check_number("holdout", self.holdout, float, low=0, high=1, low_open=True,
                     high_open=True)
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(len(qs))
        n_held = max(1, int(len(qs) * self.holdout))
        held, rest = order[:n_held], order[n_held:]
        pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
        parts = [(name, data.fit_reader(clone(r), rest)) for name, r in self._parts()]
        props = self._proposals(parts, pick(qs, held), pick(ps, held))
        scores = np.array([[s.score for s in p] for p in props])
        self.score_mean_ = scores.mean(0)
        self.score_std_ = scores.std(0) + 1e-6
        X = self._features(props, pick(ps, held))
        y = [answer_f1(p[s.start:s.end], data.answers[i]) >= 0.5
             for i, p, ss in zip(held, pick(ps, held), props, strict=True) for s in ss]
        y = np.array(y)
        # per reader, the share of held-out answers it got right: the fallback when every
        # proposal is right (or every one wrong) and there is nothing to learn from
        self.held_out_accuracy_ = y.reshape(len(held), -1).mean(0)
        self.stacker_ = (LogisticRegression(max_iter=1000).fit(X, y) if len(set(y)) > 1
                         else None)
        self.readers_ = [(name, data.fit_reader(clone(r)))
                         for name, r in self._parts()]
        return self

    def predict(self, questions, passages) -> list[Span]:
        """The proposal the stacker trusts most (score: its log-odds)."""
        check_fitted(self, "held_out_accuracy_")
        qs, ps = check_pairs(questions, passages)
        props = self._proposals(self.readers_, qs, ps)
        if self.stacker_ is None:  # the reader that was best on the held-out questions
            k = int(np.argmax(self.held_out_accuracy_))
            return [p[k] for p in props]
        z = self.stacker_.decision_function(self._features(props, ps)).reshape(len(qs), -1)
        best = z.argmax(1)
        return [Span(p[k].start, p[k].end, float(z[i, k]))
                for i, (p, k) in enumerate(zip(props, best, strict=True))]

    # ------------------------------------------------------------------ persistence

    def save(self, path) -> None:
        """Write each reader into ``parts/<i>/`` (``save_reader``) and the stacker into
        ``reader.json``, in the directory ``path`` (no pickle)."""
        from pathlib import Path

        from hybridnlp.qa._linear import linear_state
        from hybridnlp.qa.readers import save_reader
        from hybridnlp.utils.io import atomic_write_json

        check_fitted(self, "held_out_accuracy_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, (_, reader) in enumerate(self.readers_):
            save_reader(reader, path / "parts" / str(i))
        atomic_write_json(path / "reader.json", {
            "kind": "HybridReader", "params": {"holdout": self.holdout,
                                               "random_state": self.random_state},
            "names": [name for name, _ in self.readers_],
            "score_mean": self.score_mean_.tolist(), "score_std": self.score_std_.tolist(),
            "held_out_accuracy": self.held_out_accuracy_.tolist(),
            "stacker": None if self.stacker_ is None else linear_state(self.stacker_)})

    @classmethod
    def load(cls, path) -> HybridReader:
        """Read a reader written by ``save``."""
        from pathlib import Path

        from hybridnlp.qa._linear import linear_from_state
        from hybridnlp.qa.readers import load_reader
        from hybridnlp.utils.io import read_json
        from hybridnlp.utils.saved_arrays import checked_array

        path = Path(path)
        what = str(path / "reader.json")
        state = read_json(path / "reader.json", what="reader")
        names = state.get("names")
        if not isinstance(names, list) or not 1 <= len(names) <= 100:
            raise ValueError(f"{what}: field 'names' must list the readers (1 to 100).")
        readers = [(str(name), load_reader(path / "parts" / str(i)))
                   for i, name in enumerate(names)]
        model = cls(readers=readers, **state["params"])
        model.readers_ = readers
        n = len(readers)
        model.score_mean_ = checked_array(state.get("score_mean"), what=f"{what}: score_mean",
                                          shape=(n,), kind="fi").astype(np.float64)
        model.score_std_ = checked_array(state.get("score_std"), what=f"{what}: score_std",
                                         shape=(n,), kind="fi", low=1e-12).astype(np.float64)
        model.held_out_accuracy_ = checked_array(
            state.get("held_out_accuracy"), what=f"{what}: held_out_accuracy", shape=(n,),
            kind="fi", low=0, high=1).astype(np.float64)
        model.stacker_ = (None if state.get("stacker") is None else linear_from_state(
            state["stacker"], what=what, n_features=2 * n + 1, max_iter=1000))
        return model
