"""SQuAD v1.1's official evaluation (``evaluate-v1.1.py``: normalisation, exact match, token
F1, the maximum over the reference answers, unanswered questions scoring 0), CMRC 2018's for
Chinese (``cmrc2018_evaluate.py``: character-level F1 over the longest common run of
segments), and retrieval recall@k."""

from __future__ import annotations

import re
import string
from collections import Counter

import numpy as np

__all__ = ["answer_em", "answer_f1", "cmrc_exact_match", "cmrc_f1", "exact_match",
           "normalize_answer", "recall_at_k", "squad_em_f1", "token_f1"]

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
# cmrc2018_evaluate.py's punctuation (its "……" is two characters and never matches one)
_CMRC_PUNCTUATION = frozenset("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』")
_CJK = re.compile("[\u4e00-\u9fa5]")  # the script's range
# NLTK's word_tokenize on the runs between CJK characters, approximated: numbers with their
# decimal points, words, then any other character alone
_RUN_TOKENS = re.compile(r"\d+(?:[.,]\d+)*|\w+|[^\w\s]")
LANGUAGES = ("auto", "en", "zh")


def normalize_answer(text: str) -> str:
    """Lower case, punctuation removed, the articles a/an/the removed, whitespace collapsed
    (in the official script's order)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalised tokens (a bag: repeated tokens count as often as they appear in
    both)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _cmrc_segments(text: str) -> list[str]:
    """CMRC 2018's mixed segmentation: lower-cased, each CJK character one segment, the runs
    between them split into words, its punctuation dropped."""
    out, run = [], []
    for ch in text.lower().strip():
        if ch in _CMRC_PUNCTUATION:
            continue
        if _CJK.match(ch):
            out += _RUN_TOKENS.findall("".join(run))
            run = []
            out.append(ch)
        else:
            run.append(ch)
    return out + _RUN_TOKENS.findall("".join(run))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest common contiguous run of segments."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        row = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                row[j + 1] = prev[j] + 1
                best = max(best, row[j + 1])
        prev = row
    return best


def cmrc_f1(prediction: str, reference: str) -> float:
    """CMRC 2018's F1: precision and recall of the longest common run of mixed segments
    (``北京`` against ``北京市``: 0.8)."""
    pred, ref = _cmrc_segments(prediction), _cmrc_segments(reference)
    same = _longest_common_run(ref, pred)
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def cmrc_exact_match(prediction: str, reference: str) -> float:
    """CMRC 2018's exact match: equal once lower-cased, stripped, its punctuation dropped."""
    def clean(t):
        return "".join(ch for ch in t.lower().strip() if ch not in _CMRC_PUNCTUATION)

    return float(clean(prediction) == clean(reference))


def _chinese(reference: str, language: str) -> bool:
    return language == "zh" or (language == "auto" and bool(_CJK.search(reference)))


def answer_f1(prediction: str, reference: str, language: str = "auto") -> float:
    """F1 of one answer: CMRC 2018's character-level F1 where the reference is Chinese (holds
    a CJK character; or ``language="zh"``), SQuAD's token F1 otherwise (``"en"``)."""
    return (cmrc_f1 if _chinese(reference, language) else token_f1)(prediction, reference)


def answer_em(prediction: str, reference: str, language: str = "auto") -> float:
    """Exact match of one answer, by the same choice as :func:`answer_f1`."""
    return (cmrc_exact_match if _chinese(reference, language) else exact_match)(prediction,
                                                                                reference)


def squad_em_f1(predictions, references, *, language: str = "auto") -> dict:
    """Exact match and F1 (percent) of ``predictions`` against ``references``.

    Either two aligned lists (a prediction per question, None when unanswered; the list of
    reference answer texts per question) or two dicts keyed by question id (a question
    missing from ``predictions`` is unanswered). Each question scores the maximum over its
    references; unanswered questions score 0 and count in the mean, as in the official
    script. ``language``: ``"auto"`` scores a question whose reference holds Chinese
    characters as CMRC 2018's script does (character-level, :func:`cmrc_f1`) and the others
    as SQuAD's; ``"en"`` or ``"zh"`` force one.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language={language!r} is not one of {', '.join(LANGUAGES)}.")
    if isinstance(references, dict):
        if not isinstance(predictions, dict):
            raise TypeError("references is a dict of question id -> answers, so predictions "
                            "must be a dict of question id -> answer text too.")
        pairs = [(predictions.get(qid), refs) for qid, refs in references.items()]
    else:
        predictions, references = list(predictions), list(references)
        if len(predictions) != len(references):
            raise ValueError(f"got {len(predictions)} predictions and {len(references)} "
                             f"references; pass one prediction (or None) per question.")
        pairs = list(zip(predictions, references, strict=True))
    if not pairs:
        raise ValueError("references is empty; pass at least one question's answers.")
    em = f1 = 0.0
    for i, (pred, refs) in enumerate(pairs):
        if isinstance(refs, str):
            refs = [refs]
        refs = [r["text"] if isinstance(r, dict) else r for r in refs]
        if not refs:
            raise ValueError(f"references[{i}] holds no answer; every question needs at least "
                             f"one reference answer.")
        if pred is None:
            continue
        em += max(answer_em(pred, r, language) for r in refs)
        f1 += max(answer_f1(pred, r, language) for r in refs)
    return {"exact_match": 100.0 * em / len(pairs), "f1": 100.0 * f1 / len(pairs)}


def recall_at_k(ranked, gold, ks=(1, 5, 20)) -> dict:
    """Share (percent) of queries whose ``gold`` passage id is among the first k of
    ``ranked`` (n_queries, depth), for each k in ``ks`` (k beyond the depth: the depth)."""
    ranked, gold = np.asarray(ranked), np.asarray(gold)
    if ranked.ndim != 2 or len(ranked) != len(gold):
        raise ValueError(f"ranked must be (n_queries, depth) with one row per gold id; got "
                         f"shape {ranked.shape} and {len(gold)} gold ids.")
    hits = ranked == gold[:, None]
    return {k: 100.0 * float(hits[:, :k].any(axis=1).mean()) for k in ks}
