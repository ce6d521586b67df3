"""Token-id batches for the text estimators: truncation, a leading <bos>, length buckets."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from hybridnlp.train.data import Batches, BucketBatchSampler, pad_sequences, truncate

__all__ = ["TRUNCATIONS", "TextBatches", "embedding_matrix", "init_word_vectors",
           "target_tensor", "truncate"]


def target_tensor(targets) -> torch.Tensor:
    """A head's targets as the loss reads them (``hybridnlp.nn.layers.head_loss``): class
    indices (long), a regressor's real targets (float32), or a multi-label indicator matrix
    (bool)."""
    targets = np.asarray(targets)
    if targets.dtype == bool:
        return torch.as_tensor(targets)
    if np.issubdtype(targets.dtype, np.floating):
        return torch.as_tensor(targets, dtype=torch.float32)
    return torch.as_tensor(targets, dtype=torch.long)

TRUNCATIONS = ("head", "head_tail")


class TextBatches(Batches):
    """Iterable of batch dicts ``{"idx", "mask", "targets"?, "features"?, "sample_weight"?}``
    (``weigh(w)`` adds each text's weight to its batches).

    Each text becomes ``[<bos>, *ids]`` cut to ``max_len`` (``<bos>`` is the CLS token and keeps
    empty texts non-empty): ``truncation="head"`` keeps the first tokens, ``"head_tail"`` the
    first quarter and the last three quarters of the room (Sun et al. 2019, "How to fine-tune
    BERT for text classification": the best cut for long reviews, whose verdict is often at
    the end). Batches group texts of similar length (``BucketBatchSampler``);
    ``set_epoch`` makes the shuffled order a function of (seed, epoch).
    """

    def __init__(self, ids: list[list[int]], targets: np.ndarray | None,
                 features: np.ndarray | None, *, max_len: int, batch_size: int,
                 shuffle: bool, seed: int, bos_id: int | None, pad_id: int,
                 truncation: str = "head"):
        keep = max_len - (bos_id is not None)
        self.n_truncated = sum(len(s) > keep for s in ids)
        prefix = [] if bos_id is None else [bos_id]  # None: ids carry their special tokens
        self.seqs = [[*prefix, *truncate(s, keep, truncation)] for s in ids]
        self.targets = None if targets is None else target_tensor(targets)
        self.features = features
        self._features_t = (None if features is None
                            else torch.as_tensor(np.asarray(features), dtype=torch.float32))
        self.pad_id = pad_id
        self.sample_weight = None
        self.sampler = BucketBatchSampler([len(s) for s in self.seqs], batch_size,
                                          shuffle=shuffle, seed=seed)

    def batch(self, index: list[int]) -> dict:
        idx, mask = pad_sequences([self.seqs[i] for i in index], self.pad_id)  # (B, T)
        batch = {"idx": idx, "mask": mask}
        if self.targets is not None:
            batch["targets"] = self.targets[index]  # (B,), or (B, n_targets / n_labels)
        if self._features_t is not None:
            batch["features"] = self._features_t[index]  # (B, F)
        if self.sample_weight is not None:
            batch["sample_weight"] = self.sample_weight[index]  # (B,)
        return batch

    def weigh(self, sample_weight) -> TextBatches:
        """Each text's weight in the loss (None: all 1); returns self."""
        self.sample_weight = None if sample_weight is None else torch.as_tensor(
            np.asarray(sample_weight), dtype=torch.float32)
        return self


def embedding_matrix(tokenizer, vectors, current: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Token embeddings with word2vec vectors where the word has one.

    Vectors are rescaled to the standard deviation of ``current`` (the random initialisation),
    so initialised and random rows start on the same scale. Returns (matrix, rows replaced).
    """
    matrix = current.clone()
    offset = tokenizer.vocab_size - len(tokenizer.words)
    rows, found = [], []
    for i, word in enumerate(tokenizer.words):
        if word in vectors.key_to_index:
            rows.append(offset + i)
            found.append(vectors[word])
    if not rows:
        return matrix, 0
    found = torch.as_tensor(np.stack(found), dtype=matrix.dtype)  # (n, D)
    found = (found - found.mean()) / found.std() * current.std()
    matrix[rows] = found
    return matrix, len(rows)


def init_word_vectors(weight: torch.Tensor, words, word_vectors, *, first_id: int) -> int:
    """Overwrite the rows of the token embedding ``weight`` whose word has a vector in
    ``word_vectors`` (a word2vec file, KeyedVectors or fitted ``Word2VecFeatures``):
    ``words[i]`` is token ``first_id + i``. The one word-vector initialisation of every
    neural estimator; returns the number of rows replaced."""
    from hybridnlp.features.word2vec import load_word_vectors

    vectors = load_word_vectors(word_vectors, name="word_vectors")
    if vectors.vector_size != weight.shape[1]:
        raise ValueError(f"word_vectors have {vectors.vector_size} dimensions but the module "
                         f"has n_embd={weight.shape[1]}; pass module__n_embd="
                         f"{vectors.vector_size} (and an n_head that divides it).")
    words = list(words)
    vocab = SimpleNamespace(words=words, vocab_size=first_id + len(words))
    matrix, found = embedding_matrix(vocab, vectors, weight.detach())
    with torch.no_grad():
        weight.copy_(matrix)
    return found
