"""``NGramLM``: interpolated Kneser-Ney n-gram language model (modified discounts by default).

Chen & Goodman (1998): the highest order uses raw counts, every lower order uses continuation
counts N1+(. w_k..w_n) (in how many distinct contexts a suffix occurs), each order interpolates
with the next lower one, and the unigram interpolates with the uniform distribution.
Counting is vectorised with NumPy; lookups at scoring time are dictionary hits.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from hybridnlp.lm._corpus import (
    corpus_chunks,
    make_tokenizer,
    read_corpus,
    token_stream,
    token_stream_of_file,
)
from hybridnlp.lm._scoring import LMScoringMixin
from hybridnlp.lm.decoding import NGramStepper, sample
from hybridnlp.text import load_tokenizer
from hybridnlp.utils.deprecation import positional_deprecated, warn_renamed
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json
from hybridnlp.utils.progress import progress_bar
from hybridnlp.utils.saving import Saveable
from hybridnlp.utils.validation import check_fitted

__all__ = ["NGramLM"]


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows, sorted lexicographically, and how often each occurs."""
    if len(rows) == 0:
        return rows, np.zeros(0, dtype=np.int64)
    bits = max(int(rows.max()).bit_length(), 1)
    if bits * rows.shape[1] <= 62:  # each row packed into one int64 key, in the same order:
        key = np.zeros(len(rows), dtype=np.int64)  # a 1-D sort, 8 bytes a row
        for j in range(rows.shape[1]):
            key <<= bits
            key |= rows[:, j]
        keys, counts = np.unique(key, return_counts=True)
        del key
        mask = (1 << bits) - 1
        out = np.empty((len(keys), rows.shape[1]), dtype=rows.dtype)
        for j in range(rows.shape[1] - 1, -1, -1):
            out[:, j] = keys & mask
            keys >>= bits
        return out, counts
    order = np.lexsort(rows.T[::-1])
    rows = rows[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(rows)))
    return rows[starts], counts


def modified_discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """D1, D2, D3+ from the count-of-counts n1..n4 (Chen & Goodman, eq. 26)."""
    n = [int(np.sum(counts == r)) for r in (1, 2, 3, 4)]
    if n[0] == 0 or n[1] == 0:  # too little data for the estimate: absolute discounting
        d = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] else 0.5
        return d, d, d
    y = n[0] / (n[0] + 2 * n[1])
    d1 = 1 - 2 * y * n[1] / n[0]
    d2 = 2 - 3 * y * n[2] / n[1]
    d3 = 3 - 4 * y * n[3] / n[2] if n[2] else d2
    return (min(max(d1, 0.0), 1.0), min(max(d2, 0.0), 2.0), min(max(d3, 0.0), 3.0))


class NGramLM(Saveable, LMScoringMixin, BaseEstimator):
    """Interpolated Kneser-Ney language model of any order, on char, word or BPE tokens.

    Parameters
    ----------
    order : int, default=3
    tokenizer : {"char", "word", "bpe"} or Tokenizer, default="word"
        A trained Tokenizer is used as is (pass a CausalLM's ``tokenizer_`` to interpolate).
    discount : "modified" or float, default="modified"
        Modified KN (three discounts per order, estimated from count-of-counts) or one fixed
        discount for every order (as NLTK's ``KneserNeyInterpolated``).
    interpolate_unigram : bool, default=True
        Discount the unigram continuation distribution and give the mass to a uniform one, so
        unseen tokens keep a probability; False leaves the unigram undiscounted (NLTK).
    vocab_size : int, default=4096
    verbose : int, default=0
        A progress bar (tqdm, on standard error): tokenising, then counting each order.

    Attributes
    ----------
    tokenizer_, discounts_ (per order, highest last), n_tokens_, vocab_size_

    Examples
    --------
    >>> lm = NGramLM(order=2).fit("the cat sat on the mat\\nthe dog sat on the log\\n")
    >>> round(lm.perplexity("the cat sat on the log\\n"), 2) > 1
    True
    """

    @positional_deprecated("order", "tokenizer")
    def __init__(self, *, order: int = 3, tokenizer="word", discount="modified",
                 interpolate_unigram: bool = True, vocab_size: int = 4096, verbose=0,
                 **kwargs):
        self.order = order
        self.tokenizer = tokenizer
        self.discount = discount
        self.interpolate_unigram = interpolate_unigram
        self.vocab_size = vocab_size
        self.verbose = verbose
        if "bpe_vocab_size" in kwargs:  # the name before CausalLM and NGramLM shared one
            warn_renamed("NGramLM", "bpe_vocab_size", "vocab_size")
            self.vocab_size = kwargs.pop("bpe_vocab_size")
        if kwargs:
            raise TypeError(f"NGramLM got an unexpected keyword argument "
                            f"{next(iter(kwargs))!r}.")

    # ------------------------------------------------------------------ fit

    def _check_params(self) -> None:
        if not isinstance(self.order, int) or isinstance(self.order, bool) or self.order < 1:
            raise ValueError(f"order={self.order!r} must be a positive integer.")
        if self.discount != "modified" and not (
                isinstance(self.discount, int | float) and 0 < self.discount < 1):
            raise ValueError(f"discount={self.discount!r} must be 'modified' or a number in "
                             f"(0, 1).")

    def fit(self, corpus, y=None) -> NGramLM:
        """Count the n-grams of ``corpus``: a string, a list (or any iterable) of strings, or a
        file path (``pathlib.Path``; ``.gz`` is decompressed). A file is streamed, a piece at a
        time, twice (the tokenizer's vocabulary, then the ids) when the tokenizer is untrained,
        once when it is trained: the text is never held whole, and the memory is that of the
        ids and the counts (benchmarks/RESULTS.md, "Scaling")."""
        self._check_params()
        bar = progress_bar(self.order + 1, desc="n-gram LM: tokens, then counts per order",
                           verbose=self.verbose)
        tok = make_tokenizer(self.tokenizer, self.vocab_size)
        if isinstance(corpus, os.PathLike):
            if Path(corpus).is_file() and Path(corpus).stat().st_size == 0:
                read_corpus(corpus)  # its error for an empty file
            if not getattr(tok, "is_trained", False):
                tok.train(corpus_chunks(corpus))
            ids = token_stream_of_file(tok, corpus).astype(np.int64)
        else:
            corpus = read_corpus(corpus)
            if not getattr(tok, "is_trained", False):
                tok.train(corpus if isinstance(corpus, list) else [corpus])
            ids = token_stream(tok, corpus).astype(np.int64)
        n = self.order
        if len(ids) < n:
            raise ValueError(f"the corpus has {len(ids)} tokens (with the leading <eos>), "
                             f"fewer than order={n}; pass a longer corpus or lower the order.")
        self.tokenizer_ = tok
        self.n_tokens_ = len(ids)
        # every n-gram ending at a position with a full history: raw counts at the top order
        top = np.lib.stride_tricks.sliding_window_view(ids, n)
        bar.update()  # tokens
        types, counts = _unique_rows(top)
        bar.update()
        tables = {n: (types, counts)}
        for k in range(n - 1, 0, -1):  # continuation counts: distinct left extensions
            higher = tables[k + 1][0]
            tables[k] = _unique_rows(higher[:, 1:])
            bar.update()
        bar.close()
        self._set_tables({k: (t.astype(np.int32), c.astype(np.int64))
                          for k, (t, c) in tables.items()})
        return self

    def _set_tables(self, tables: dict) -> None:
        self._tables = tables
        self.vocab_size_ = self.tokenizer_.vocab_size
        t = self.tokenizer_
        self._excluded = [t.pad_id, t.bos_id, t.sep_id]
        self._n_outcomes = self.vocab_size_ - len(self._excluded)
        self.discounts_ = []
        self._counts, self._contexts = {}, {}
        for k in range(1, self.order + 1):
            types, counts = tables[k]
            if self.discount == "modified":
                d = modified_discounts(counts)
            else:
                d = (float(self.discount),) * 3
            self.discounts_.append(d)
            self._counts[k] = dict(zip(map(tuple, types.tolist()), counts.tolist(),
                                       strict=True))
            ctx = types[:, :-1]
            new = np.ones(len(types), dtype=bool)
            new[1:] = np.any(ctx[1:] != ctx[:-1], axis=1) if k > 1 else False
            starts = np.flatnonzero(new)
            ends = np.append(starts[1:], len(types))
            c_id = np.cumsum(new) - 1
            total = np.bincount(c_id, weights=counts)
            n1 = np.bincount(c_id, weights=counts == 1)
            n2 = np.bincount(c_id, weights=counts == 2)
            n3 = np.bincount(c_id, weights=counts >= 3)
            gamma_mass = d[0] * n1 + d[1] * n2 + d[2] * n3
            keys = map(tuple, ctx[starts].tolist())
            self._contexts[k] = {
                key: (int(s), int(e), float(tot), float(g))
                for key, s, e, tot, g in zip(keys, starts, ends, total, gamma_mass, strict=True)
            }

    # ------------------------------------------------------------------ probabilities

    def _d(self, k: int, c: int) -> float:
        if c == 0:
            return 0.0
        return self.discounts_[k - 1][min(c, 3) - 1]

    def prob(self, token: int, history) -> tuple[float, int]:
        """p(token | history) and the highest order whose context was seen (1 = unigram)."""
        history = tuple(int(h) for h in history)
        c = self._counts[1].get((token,), 0)
        _, _, total, gamma = self._contexts[1][()]
        if self.interpolate_unigram:
            p = max(c - self._d(1, c), 0.0) / total + gamma / total / self._n_outcomes
        else:
            p = c / total
        if token in self._excluded:
            p = 0.0
        matched = 1
        for k, ctx, (_, _, total, gamma) in self._seen_contexts(history):
            c = self._counts[k].get((*ctx, token), 0)
            p = max(c - self._d(k, c), 0.0) / total + gamma / total * p
            matched = k
        return p, matched

    def _seen_contexts(self, history: tuple):
        """(order k >= 2, context, its stats) for the seen contexts of ``history``, shortest
        first; stops at the first unseen one (every longer context is unseen too)."""
        for k in range(2, min(self.order, len(history) + 1) + 1):
            ctx = history[len(history) - (k - 1):]
            stats = self._contexts[k].get(ctx)
            if stats is None:
                return
            yield k, ctx, stats

    def matched_order(self, history) -> int:
        """The highest order whose context in ``history`` was seen in training (1 = none)."""
        check_fitted(self, self._fitted_attr)
        history = tuple(int(h) for h in history)
        return 1 + sum(1 for _ in self._seen_contexts(history))

    def token_log_probs(self, ids, *, return_orders: bool = False):
        """log p(ids[j] | ids[:j]) for j >= 1 (float64); with ``return_orders``, also the
        highest matched order per token (the n-gram's confidence)."""
        check_fitted(self, self._fitted_attr)
        ids = [int(i) for i in ids]
        n = self.order
        lp = np.empty(max(len(ids) - 1, 0))
        orders = np.empty(len(lp), dtype=np.int64)
        for j in range(1, len(ids)):
            p, k = self.prob(ids[j], ids[max(0, j - n + 1):j])
            lp[j - 1] = math.log(p) if p > 0 else -math.inf
            orders[j - 1] = k
        return (lp, orders) if return_orders else lp

    def next_token_probs(self, history) -> np.ndarray:
        """The distribution of the next token (vocab_size,) given ``history`` (ids)."""
        check_fitted(self, self._fitted_attr)
        history = tuple(int(h) for h in history)
        V = self.vocab_size_
        types, counts = self._tables[1]
        _, _, total, gamma = self._contexts[1][()]
        c = np.zeros(V)
        c[types[:, 0]] = counts
        if self.interpolate_unigram:
            p = self._discounted(1, c) / total + gamma / total / self._n_outcomes
        else:
            p = c / total
        p[self._excluded] = 0.0
        for k, _, (s, e, total, gamma) in self._seen_contexts(history):
            types, counts = self._tables[k]
            c = np.zeros(V)
            c[types[s:e, -1]] = counts[s:e]
            p = self._discounted(k, c) / total + gamma / total * p
        return p

    def _discounted(self, k: int, c: np.ndarray) -> np.ndarray:
        d1, d2, d3 = self.discounts_[k - 1]
        d = np.where(c == 0, 0.0, np.where(c == 1, d1, np.where(c == 2, d2, d3)))
        return np.maximum(c - d, 0.0)

    # ------------------------------------------------------------------ generation

    def generate(self, prompt: str = "", max_new_tokens: int = 100, *,
                 temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None) -> str:
        """Sample a continuation of ``prompt`` token by token (greedy at temperature 0)."""
        check_fitted(self, self._fitted_attr)
        tok = self.tokenizer_
        ids = [tok.eos_id, *tok.encode(prompt)]
        seq = torch.zeros(1, len(ids) + max_new_tokens, dtype=torch.long)
        seq[0, :len(ids)] = torch.tensor(ids)
        stepper = NGramStepper(self, start=0)  # the one generation engine's n-gram scorer
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        out = [int(c[0]) for c in sample(stepper.log_probs, seq, len(ids), max_new_tokens,
                                         temperature=temperature, top_k=top_k, top_p=top_p,
                                         generator=rng)]
        return tok.decode(out)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """``ngrams.npz`` (token and count arrays per order; no pickles), ``config.json`` and
        ``tokenizer.json`` in the directory ``path``."""
        check_fitted(self, self._fitted_attr)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for k, (types, counts) in self._tables.items():
            arrays[f"types_{k}"], arrays[f"counts_{k}"] = types, counts
        with atomic_path(path / "ngrams.npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        self.tokenizer_.save(path / "tokenizer.json")
        atomic_write_json(path / "config.json", {
            "kind": "NGramLM", "order": self.order, "discount": self.discount,
            "interpolate_unigram": self.interpolate_unigram, "n_tokens": self.n_tokens_,
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> NGramLM:
        path = Path(path)
        meta = read_json(path / "config.json", what="NGramLM config")
        if meta.get("kind") != "NGramLM":
            raise ValueError(f"{str(path / 'config.json')!r}: field 'kind' is "
                             f"{meta.get('kind')!r}, expected 'NGramLM'.")
        lm = cls(order=meta["order"], discount=meta["discount"],
                 interpolate_unigram=meta["interpolate_unigram"])
        lm._check_params()
        lm.tokenizer_ = load_tokenizer(path / "tokenizer.json")
        lm.tokenizer = lm.tokenizer_
        lm.n_tokens_ = meta.get("n_tokens")
        try:
            with np.load(path / "ngrams.npz", allow_pickle=False) as data:
                tables = {k: (data[f"types_{k}"], data[f"counts_{k}"])
                          for k in range(1, lm.order + 1)}
        except (KeyError, ValueError, OSError) as err:
            raise ValueError(f"{str(path / 'ngrams.npz')!r} is missing or corrupt: "
                             f"{err}") from None
        lm._set_tables(tables)
        return lm
