"""Batching for variable-length token sequences: padding and length-bucketed sampling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

__all__ = ["Batches", "BucketBatchSampler", "pad_sequences", "truncate"]


def truncate(ids: list[int], keep: int, how: str = "head") -> list[int]:
    """At most ``keep`` ids: the first ones (``"head"``), or the first ``keep // 4`` and the
    last ``keep - keep // 4`` (``"head_tail"``)."""
    if len(ids) <= keep:
        return list(ids)
    if how == "head":
        return ids[:keep]
    head = keep // 4
    return [*ids[:head], *ids[len(ids) - (keep - head):]]


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0):
    """Right-pad id lists to the longest. Returns idx (B, T) int64 and mask (B, T) bool."""
    T = max(1, max(len(s) for s in seqs))
    idx = torch.full((len(seqs), T), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(seqs), T), dtype=torch.bool)  # (B, T)
    for i, s in enumerate(seqs):
        idx[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
        mask[i, : len(s)] = True
    return idx, mask


class BucketBatchSampler(torch.utils.data.Sampler):
    """Batches of indices of similar length, so short sentences are not padded to the longest.

    Each epoch: shuffle, cut into pools of ``pool_batches * batch_size``, sort each pool by
    length, cut it into batches, shuffle the batches. The order is a function of
    ``(seed, epoch)``: call ``set_epoch`` (the Trainer does) and a resumed run sees the batches
    an uninterrupted one would.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True,
                 seed: int = 0, pool_batches: int = 50, drop_last: bool = False):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[np.ndarray]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            chunk = order[start: start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            for i in range(0, len(chunk), self.batch_size):
                batches.append(chunk[i: i + self.batch_size])
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        if self.drop_last:
            return len(self._batches())
        return -(-len(self.lengths) // self.batch_size)


class Batches:
    """The one batch protocol the Trainer iterates, shared by every batch class of the
    project: ``len`` (batches per epoch), iteration (dicts of tensors: the module's keyword
    arguments) and ``set_epoch`` (the shuffled order a function of the seed and the epoch, so
    a resumed fit sees the batches an uninterrupted one would). Length-bucketed batches set
    ``self.sampler`` (a :class:`BucketBatchSampler`) and define ``batch(index) -> dict``;
    ``indexed()`` gives (positions, batch) pairs for putting predictions back in order."""

    sampler = None

    def set_epoch(self, epoch: int) -> None:
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict]:
        for index in self.sampler:
            yield self.batch(index)

    def indexed(self) -> Iterator[tuple[list[int], dict]]:
        for index in self.sampler:
            yield index, self.batch(index)

    def batch(self, index: list[int]) -> dict:
        raise NotImplementedError(f"{type(self).__name__} defines its own iteration.")
