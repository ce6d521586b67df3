"""Sentence pairs for the sequence-to-sequence models: their checks and their batches."""

from __future__ import annotations

from hybridnlp.text import Tokenizer
from hybridnlp.train.data import Batches, BucketBatchSampler, pad_sequences
from hybridnlp.utils.validation import check_texts

__all__ = ["PairBatches", "check_pairs", "check_side"]


def check_pairs(sources, targets, *, names=("X", "y")) -> tuple[list[str], list[str]]:
    """Sources and targets as lists of non-empty str of the same length."""
    src = check_side(sources, names[0])
    tgt = check_side(targets, names[1])
    if len(src) != len(tgt):
        raise ValueError(f"{names[0]} has {len(src)} sources and {names[1]} has {len(tgt)} "
                         f"targets; pass one target per source.")
    return src, tgt


def check_side(texts, name: str) -> list[str]:
    if texts is None:
        raise TypeError(f"{name} is None; pass a list of str.")
    out = check_texts(texts, name=name)
    for i, text in enumerate(out):
        if not text.strip():
            raise ValueError(f"{name}[{i}] is an empty string; drop the pairs with empty text "
                             f"(the first is at index {i}).")
    return out


class PairBatches(Batches):
    """Batches ``{"src", "src_mask", "tgt", "targets"}`` of sentence pairs of similar length
    (``BucketBatchSampler`` on the longer side): ``tgt`` is ``<bos> y``, ``targets`` is
    ``y <eos>`` with -1 on padding."""

    def __init__(self, src_ids: list[list[int]], tgt_ids: list[list[int]], *, batch_size: int,
                 shuffle: bool, seed: int):
        self.src = src_ids
        self.tgt = tgt_ids
        lengths = [max(len(s), len(t) + 1) for s, t in zip(src_ids, tgt_ids, strict=True)]
        self.sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed)

    def batch(self, index: list[int]) -> dict:
        pad, bos, eos = Tokenizer.pad_id, Tokenizer.bos_id, Tokenizer.eos_id
        src, src_mask = pad_sequences([self.src[i] for i in index], pad)
        tgt, _ = pad_sequences([[bos, *self.tgt[i]] for i in index], pad)
        targets, mask = pad_sequences([[*self.tgt[i], eos] for i in index], pad)
        return {"src": src, "src_mask": src_mask, "tgt": tgt,
                "targets": targets.masked_fill(~mask, -1)}
