"""Token streams for language-model training: a corpus is tokenised once into a uint16 or
uint32 file (memory-mapped, so corpora larger than memory work), and training samples random
windows from it."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from hybridnlp.text import Tokenizer
from hybridnlp.train.data import Batches
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json

__all__ = ["RandomWindows", "SequentialWindows", "encode_to_file", "open_token_file"]


def encode_to_file(tokenizer: Tokenizer, texts: Iterable[str], path: str | os.PathLike,
                   *, separator: bool = True) -> np.memmap:
    """Tokenise ``texts`` one at a time into ``path`` (raw ids) and ``path.json`` (dtype,
    length); returns the memory map. Each text is preceded by ``<eos>`` when ``separator``.

    The ids are appended to a temporary file that is renamed into place at the end, so an
    interrupted run never leaves a truncated token file behind.
    """
    path = Path(path)
    dtype = np.uint16 if tokenizer.vocab_size <= 65536 else np.uint32
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        for text in texts:
            ids = tokenizer.encode(text)
            if separator:
                ids = [tokenizer.eos_id, *ids]
            np.asarray(ids, dtype=dtype).tofile(f)
            n += len(ids)
    atomic_write_json(path.with_name(path.name + ".json"),
                      {"dtype": np.dtype(dtype).name, "length": n,
                       "vocab_size": tokenizer.vocab_size})
    return open_token_file(path)


def open_token_file(path: str | os.PathLike) -> np.memmap:
    """Memory-map a token file written by :func:`encode_to_file`."""
    path = Path(path)
    meta = read_json(path.with_name(path.name + ".json"), what="token file metadata")
    try:
        dtype, length = np.dtype(meta["dtype"]), int(meta["length"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"token file metadata {str(path)}.json is corrupt: {err!r}.") from None
    if dtype not in (np.uint16, np.uint32):
        raise ValueError(f"token file metadata {str(path)}.json: field 'dtype' is "
                         f"{dtype.name!r}, expected 'uint16' or 'uint32'.")
    size = path.stat().st_size
    if size != length * dtype.itemsize:
        raise ValueError(f"token file {str(path)!r} holds {size} bytes, but its metadata says "
                         f"{length} {dtype.name} tokens ({length * dtype.itemsize} bytes); "
                         f"re-create it with encode_to_file.")
    if length == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(length,))


def _windows(tokens: np.ndarray, starts: np.ndarray, T: int) -> dict:
    rows = tokens[starts[:, None] + np.arange(T + 1)].astype(np.int64)  # (B, T + 1)
    rows = torch.from_numpy(rows)
    return {"idx": rows[:, :-1], "targets": rows[:, 1:]}


class RandomWindows(Batches):
    """``steps`` batches of ``batch_size`` random windows of ``block_size`` tokens (inputs)
    and the same windows shifted by one (targets). Reproducible per ``(seed, epoch)``, so a
    resumed run draws the batches an uninterrupted one would."""

    def __init__(self, tokens: np.ndarray, block_size: int, batch_size: int, steps: int,
                 seed: int = 0):
        if len(tokens) < block_size + 1:
            raise ValueError(f"{len(tokens)} tokens are fewer than one window of block_size+1="
                             f"{block_size + 1}; pass a longer corpus or lower block_size.")
        self.tokens, self.block_size, self.batch_size = tokens, block_size, batch_size
        self.steps, self.seed, self.epoch = steps, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        high = len(self.tokens) - self.block_size
        for _ in range(self.steps):
            starts = rng.integers(0, high, size=self.batch_size)
            yield _windows(self.tokens, starts, self.block_size)


class SequentialWindows(Batches):
    """Non-overlapping windows over a stream, for validation loss: every token is predicted
    once with ``block_size / 2`` tokens of context on average, as nanoGPT's estimate sees them.
    ``max_windows`` keeps that many, evenly spaced (a cheaper estimate during training). The
    tail shorter than a window is left out."""

    def __init__(self, tokens: np.ndarray, block_size: int, batch_size: int = 32,
                 max_windows: int | None = None):
        T = min(block_size, len(tokens) - 1)
        if T < 1:
            raise ValueError("validation text has fewer than 2 tokens; pass a longer one.")
        starts = np.arange(0, len(tokens) - T, T)
        if max_windows is not None and len(starts) > max_windows:
            starts = starts[np.linspace(0, len(starts) - 1, max_windows).round().astype(int)]
        self.tokens, self.block_size, self.batch_size, self.starts = tokens, T, batch_size, starts

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def __iter__(self):
        for i in range(0, len(self.starts), self.batch_size):
            yield _windows(self.tokens, self.starts[i:i + self.batch_size], self.block_size)

