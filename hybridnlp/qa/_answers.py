"""The one ``fit`` order of every reader and of ``QAPipeline``:
``fit(questions, passages, answers, *, passage_index=None)``.

``passages`` holds each question's passage, or, with ``passage_index``, the collection that
``passage_index[i]`` points into; ``answers[i]`` is question i's reference answer: a SQuAD
answer dict (``{"text", "answer_start"}``), a text (found in the passage: its first
occurrence), or a list of either (the first is trained on, all are references).
:func:`reading_data` checks them all before any work; :func:`old_fit_order` keeps the earlier
orders working for one release, with a FutureWarning."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hybridnlp.utils.deprecation import warn_renamed_function
from hybridnlp.utils.validation import check_texts

__all__ = ["ReadingData", "answer_dicts", "old_fit_order", "reading_data"]


@dataclass
class ReadingData:
    """Checked training data of a reader: per question its text, its passage, the first
    reference answer's offset and text, and every reference text; the passage collection and
    each question's position in it."""

    questions: list[str]
    passages: list[str]
    starts: list[int]
    answers: list[str]
    references: list[list[str]]
    collection: list[str]
    index: np.ndarray

    def fit_reader(self, reader, rows=None):
        """``reader`` fit on the questions ``rows`` (all by default), with the whole
        collection (a reader that counts words counts all of it); returns it."""
        rows = range(len(self.questions)) if rows is None else rows
        return reader.fit([self.questions[i] for i in rows], self.collection,
                          [{"text": self.answers[i], "answer_start": self.starts[i]}
                           for i in rows], passage_index=self.index[np.asarray(rows, int)])


def _texts_and_starts(answers, passage: str, i: int) -> tuple[list[str], list[int]]:
    """Reference texts and their offsets: SQuAD answer dicts as given (checked), or texts
    found in the passage (first occurrence)."""
    if isinstance(answers, str | dict):
        answers = [answers]
    texts, starts = [], []
    for a in answers:
        if isinstance(a, dict):
            text, start = a.get("text"), a.get("answer_start")
            if not isinstance(text, str) or not isinstance(start, int | np.integer) \
                    or passage[start:start + len(text)] != text:
                shown = passage[start:start + len(text)] if isinstance(start, int | np.integer) \
                    and isinstance(text, str) else None
                raise ValueError(f"answers[{i}]: {text!r} at answer_start={start!r} does not "
                                 f"match its passage (which reads {shown!r} there).")
        else:
            text, start = str(a), passage.find(str(a))
            if start < 0:
                raise ValueError(f"answers[{i}]: {text!r} does not occur in its passage; pass "
                                 f"the answer's text as it is written there.")
        texts.append(text)
        starts.append(int(start))
    if not texts:
        raise ValueError(f"answers[{i}] is empty; every training question needs an answer.")
    return texts, starts


def reading_data(questions, passages, answers, passage_index=None) -> ReadingData:
    """The checked :class:`ReadingData` of a reader's or pipeline's ``fit`` arguments."""
    qs = check_texts(questions, name="questions")
    ps = check_texts(passages, name="passages")
    for name, texts in (("questions", qs), ("passages", ps)):
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"{name}[{i}] is empty.")
    if answers is None:
        raise ValueError("answers is None; pass each question's reference answer (a text, or "
                         "a SQuAD answer dict with 'text' and 'answer_start').")
    if passage_index is None:
        if len(ps) != len(qs):
            raise ValueError(f"got {len(qs)} questions and {len(ps)} passages; pass the passage "
                             f"of each question, or the collection and passage_index.")
        collection = list(dict.fromkeys(ps))
        where = {p: k for k, p in enumerate(collection)}
        index = np.array([where[p] for p in ps], dtype=np.int64)
    else:
        index = np.asarray(passage_index)
        collection = ps
        if index.ndim != 1 or (len(index) and index.dtype.kind not in "iu"):
            raise ValueError("passage_index must hold one integer position per question.")
        if len(index) and (index.min() < 0 or index.max() >= len(ps)):
            raise ValueError(f"passage_index holds positions outside 0..{len(ps) - 1}.")
    if len(index) != len(qs) or len(answers) != len(qs):
        raise ValueError(f"got {len(qs)} questions, {len(answers)} answers and "
                         f"{len(index)} passage indices; pass one of each per question.")
    refs = [_texts_and_starts(a, collection[p], i)
            for i, (a, p) in enumerate(zip(answers, index, strict=True))]
    return ReadingData(qs, [collection[p] for p in index], [s[0] for _, s in refs],
                       [t[0] for t, _ in refs], [t for t, _ in refs], collection, index)


def answer_dicts(starts, answers) -> list[dict]:
    """SQuAD answer dicts of parallel offsets and texts."""
    return [{"text": a, "answer_start": int(s)} for s, a in zip(starts, answers, strict=True)]


def old_fit_order(kind: str):
    """Accept the earlier ``fit`` orders for one release, with a FutureWarning: a reader's
    ``fit(questions, passages, answer_starts, answers)`` (``kind="reader"``), a counting
    reader's ``fit(passages)`` (``"counts"``), the pipeline's ``fit(questions, answers,
    passages, passage_index)`` (``"pipeline"``)."""

    def decorate(fit):
        @functools.wraps(fit)
        def wrapper(self, *args, **kwargs):
            name = type(self).__name__
            if kind == "pipeline" and len(args) == 4:
                questions, answers, passages, index = args
                warn_renamed_function(f"{name}.fit(questions, answers, passages, "
                                      f"passage_index)", f"{name}.fit(questions, passages, "
                                      f"answers, passage_index=...)")
                args, kwargs = (questions, passages, answers), {**kwargs,
                                                               "passage_index": index}
            elif kind != "pipeline" and len(args) == 4:
                questions, passages, starts, answers = args
                warn_renamed_function(f"{name}.fit(questions, passages, answer_starts, "
                                      f"answers)", f"{name}.fit(questions, passages, answers) "
                                      f"with SQuAD answer dicts")
                args = (questions, passages, answer_dicts(starts, answers))
            elif kind == "counts" and len(args) == 1 and "passages" not in kwargs:
                warn_renamed_function(f"{name}.fit(passages)",
                                      f"{name}.fit(questions, passages, answers) (questions "
                                      f"and answers may be None)")
                args = (None, args[0])
            return fit(self, *args, **kwargs)

        return wrapper

    return decorate
