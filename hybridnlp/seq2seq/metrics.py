"""Translation metrics through sacreBLEU (the library, not a copy): corpus BLEU and chrF on
detokenised text, each with the signature that says how it was computed."""

from __future__ import annotations

from dataclasses import dataclass

from hybridnlp.utils.validation import check_texts

__all__ = ["MetricScore", "bleu_tokenize", "corpus_bleu", "corpus_chrf"]


@dataclass(frozen=True)
class MetricScore:
    """A corpus score (0-100) and sacreBLEU's signature of its settings."""

    name: str
    score: float
    signature: str

    def __str__(self) -> str:
        return f"{self.name} {self.score:.2f} ({self.signature})"


def _pairs(hypotheses, references) -> tuple[list[str], list[list[str]]]:
    hyps = check_texts(hypotheses, name="hypotheses")
    if references and isinstance(references[0], list | tuple):  # several references each
        refs = [check_texts(list(r), name=f"references[{i}]") for i, r in enumerate(references)]
        streams = [list(s) for s in zip(*refs, strict=True)]
    else:
        refs = check_texts(references, name="references")
        streams = [refs]
    n_refs = len(streams[0])
    if n_refs != len(hyps):
        raise ValueError(f"got {len(hyps)} hypotheses and {n_refs} references; pass one "
                         f"reference (or one list of references) per hypothesis.")
    return hyps, streams


def _cjk_share(texts) -> float:
    chars = "".join(texts)
    return sum("\u4e00" <= ch <= "\u9fff" for ch in chars) / max(len(chars), 1)


def bleu_tokenize(references) -> str:
    """sacreBLEU's tokenisation for these references: ``"zh"`` (each Chinese character a
    token, as WMT scores Chinese) where a tenth or more of their characters are Chinese,
    ``"13a"`` (its default) otherwise."""
    streams = references if references and isinstance(references[0], list | tuple) \
        else [references]
    return "zh" if _cjk_share(t for s in streams for t in s) >= 0.1 else "13a"


def corpus_bleu(hypotheses, references, *, tokenize: str = "auto",
                lowercase: bool = False) -> MetricScore:
    """sacreBLEU's corpus BLEU of detokenised ``hypotheses`` against ``references`` (one str
    per hypothesis, or a list of them). ``tokenize="auto"``: :func:`bleu_tokenize` (``"zh"``
    for Chinese references, else ``"13a"``); the signature says which."""
    from sacrebleu.metrics import BLEU

    hyps, streams = _pairs(hypotheses, references)
    if tokenize == "auto":
        tokenize = bleu_tokenize(streams)
    metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    score = metric.corpus_score(hyps, streams).score
    return MetricScore("BLEU", float(score), str(metric.get_signature()))


def corpus_chrf(hypotheses, references) -> MetricScore:
    """sacreBLEU's corpus chrF (character 6-grams, beta 2)."""
    from sacrebleu.metrics import CHRF

    hyps, streams = _pairs(hypotheses, references)
    metric = CHRF()
    score = metric.corpus_score(hyps, streams).score
    return MetricScore("chrF", float(score), str(metric.get_signature()))
