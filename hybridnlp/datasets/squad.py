"""SQuAD-format question answering data: the official v1.1 JSON (``{"data": [{"title",
"paragraphs": [{"context", "qas": [...]}]}]}``, gzipped or not) or JSON Lines, one question a
line, as Hugging Face ``datasets`` writes SQuAD (``{"id", "question", "context", "answers":
{"text": [...], "answer_start": [...]}}``, optionally ``"title"``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hybridnlp.utils.io import read_file_bytes

__all__ = ["load_squad", "parse_squad"]


def _read(path: Path) -> str:
    return read_file_bytes(path).decode("utf-8")


def load_squad(path: str | os.PathLike, *, repair: bool = False):
    """Questions, reference answers and passages of a SQuAD-format file, as a ``Bunch``:
    ``data`` (questions), ``target`` (each question's reference answer texts), ``answer_starts``
    (their character offsets in the passage), ``ids``, ``passages`` (each distinct passage
    once, in file order), ``passage_index`` (the passage of each question), ``titles`` (of
    the passages). Offsets that do not match their passage, duplicate question ids and empty
    questions are refused, naming the question. ``repair`` mends the faults CMRC 2018's
    files have: an answer whose offset misses its text (they count a character outside the
    Basic Multilingual Plane as two) is moved to the text's occurrence nearest that offset,
    an answer whose text is not in the passage at all is kept as a reference with offset -1,
    and a question that is empty is left out."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SQuAD file {str(path)!r} does not exist.")
    text = _read(path)
    try:
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            return parse_squad({"data": _articles_from_rows(rows)}, str(path),
                               repair=repair)
        return parse_squad(json.loads(text), str(path), repair=repair)
    except json.JSONDecodeError as err:
        raise ValueError(f"SQuAD file {str(path)!r} is not valid JSON: {err}") from None


def _articles_from_rows(rows: list[dict]) -> list[dict]:
    """JSON Lines rows (one question each) -> SQuAD articles (paragraphs by context)."""
    articles: dict[str, dict] = {}
    paragraphs: dict[tuple[str, str], dict] = {}
    for row in rows:
        title = str(row.get("title", ""))
        answers = row.get("answers", [])
        if isinstance(answers, dict):  # Hugging Face datasets: {"text": [...], "answer_start"}
            answers = [{"text": t, "answer_start": s} for t, s in
                       zip(answers.get("text", []), answers.get("answer_start", []), strict=True)]
        key = (title, row.get("context"))
        if key not in paragraphs:
            paragraphs[key] = {"context": row.get("context"), "qas": []}
            articles.setdefault(title, {"title": title, "paragraphs": []})["paragraphs"].append(
                paragraphs[key])
        paragraphs[key]["qas"].append({"id": row.get("id"), "question": row.get("question"),
                                       "answers": answers})
    return list(articles.values())


def _nearest(context: str, text: str, start: int) -> int:
    """The offset of ``text``'s occurrence in ``context`` nearest ``start`` (-1: none)."""
    found, at = -1, context.find(text)
    while at >= 0:
        if found < 0 or abs(at - start) < abs(found - start):
            found = at
        at = context.find(text, at + 1)
    return found


def parse_squad(obj: dict, where: str = "SQuAD data", *, repair: bool = False):
    """The ``Bunch`` of :func:`load_squad` from parsed SQuAD JSON."""
    from sklearn.utils import Bunch

    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise ValueError(f"{where}: expected SQuAD JSON, an object with a 'data' list of "
                         f"articles.")
    questions, answers, starts, ids, index = [], [], [], [], []
    passages, titles = [], []
    seen: set[str] = set()
    for article in obj["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context")
            if not isinstance(context, str) or not context.strip():
                raise ValueError(f"{where}: a passage of article {article.get('title')!r} is "
                                 f"empty or not a string.")
            p = len(passages)
            passages.append(context)
            titles.append(str(article.get("title", "")))
            for qa in paragraph.get("qas", []):
                qid = str(qa.get("id"))
                question = qa.get("question")
                if qid in seen:
                    raise ValueError(f"{where}: question id {qid!r} occurs twice; ids must be "
                                     f"unique.")
                seen.add(qid)
                if repair and (not isinstance(question, str) or not question.strip()):
                    continue
                if not isinstance(question, str) or not question.strip():
                    raise ValueError(f"{where}: question {qid!r} is empty or not a string.")
                texts, offsets = [], []
                for a in qa.get("answers", []):
                    text, start = a.get("text"), a.get("answer_start")
                    if repair and isinstance(text, str) and text.strip() and \
                            isinstance(start, int) and context[start:start + len(text)] != text:
                        start = _nearest(context, text, start)
                        if start < 0:  # a reference text only: scored, never trained on
                            texts.append(text)
                            offsets.append(-1)
                            continue
                    if not isinstance(text, str) or not isinstance(start, int) or \
                            context[start:start + len(text)] != text:
                        raise ValueError(
                            f"{where}: question {qid!r}: answer {text!r} at answer_start="
                            f"{start!r} does not match its passage (which reads "
                            f"{context[start:start + len(str(text))]!r} there).")
                    texts.append(text)
                    offsets.append(start)
                questions.append(question)
                answers.append(texts)
                starts.append(offsets)
                ids.append(qid)
                index.append(p)
    if not questions:
        raise ValueError(f"{where}: holds no question.")
    return Bunch(data=questions, target=answers, answer_starts=starts, ids=ids,
                 passages=passages, passage_index=np.array(index), titles=titles)
