"""``NGramLM``: interpolated Kneser-Ney n-gram language model (modified discounts by default).

Chen & Goodman (1998): the highest order uses raw counts, every lower order uses continuation
counts N1+(. w_k..w_n) (in how many distinct contexts a suffix occurs), each order interpolates
with the next lower one, and the unigram interpolates with the uniform distribution.
Counting is vectorised with NumPy; the probabilities are then held as a backoff model in sorted
arrays (``_backoff.BackoffTables``, as an ARPA file holds them), scored by binary search.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from hybridnlp.lm._backoff import LN10, BackoffTables, read_arpa
from hybridnlp.lm._corpus import (
    corpus_chunks,
    make_tokenizer,
    read_corpus,
    token_stream,
    token_stream_of_file,
)
from hybridnlp.lm._scoring import LMScoringMixin
from hybridnlp.lm.decoding import NGramStepper, sample
from hybridnlp.text import WhitespaceTokenizer, load_tokenizer
from hybridnlp.utils.deprecation import positional_deprecated, warn_renamed
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json
from hybridnlp.utils.memory import release_free_memory
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


# KenLM's ``--discount_fallback`` values, for an order whose closed-form estimate fails
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


def modified_discounts(counts: np.ndarray, *, fallback: bool = True
                       ) -> tuple[float, float, float]:
    """D1, D2, D3+ from the count-of-counts n1..n4 (Chen & Goodman, eq. 26).

    Where the closed form fails, as it does on small, vocabulary-capped or repeated corpora
    (no singletons or doubletons, or a discount outside (0, r]: KenLM's BadDiscountException),
    the order gets KenLM's fallback discounts (0.5, 1, 1.5): a discount of 0 would leave a
    context no mass for unseen continuations (probability 0 on new text). ``fallback=False``:
    the closed form clipped to [0, r], as versions before the fallback computed it."""
    n = [int(np.sum(counts == r)) for r in (1, 2, 3, 4)]
    if n[0] == 0 or n[1] == 0:  # too little data for the estimate: absolute discounting
        d = n[0] / (n[0] + 2 * n[1]) if n[0] + n[1] else 0.5
        return FALLBACK_DISCOUNTS if fallback and not 0 < d <= 1 else (d, d, d)
    y = n[0] / (n[0] + 2 * n[1])
    d1, d2 = 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1]
    d3 = 3 - 4 * y * n[3] / n[2] if n[2] else d2
    if fallback and not (0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3):
        return FALLBACK_DISCOUNTS
    return min(max(d1, 0.0), 1.0), min(max(d2, 0.0), 2.0), min(max(d3, 0.0), 3.0)


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
        del tables, top, types, counts, ids
        release_free_memory()  # the token lists' heap: resident otherwise
        return self

    def _set_tables(self, tables: dict, *, fallback: bool = True) -> None:
        """The scoring tables from the counts per order (``tables[k]``: sorted distinct k-gram
        rows and their raw or continuation counts), which are then let go: the model is its
        probabilities and backoffs. ``fallback``: see :func:`modified_discounts`."""
        self._set_vocabulary()
        self.discounts_ = []
        for k in range(1, self.order + 1):
            if self.discount == "modified":
                self.discounts_.append(modified_discounts(tables[k][1], fallback=fallback))
            else:
                self.discounts_.append((float(self.discount),) * 3)
        types, counts = tables[1]
        c = np.zeros(self.vocab_size_)
        c[types[:, 0]] = counts
        total = c.sum()
        d1, d2, d3 = self.discounts_[0]
        gamma = d1 * np.sum(c == 1) + d2 * np.sum(c == 2) + d3 * np.sum(c >= 3)
        if self.interpolate_unigram:
            d = np.where(c == 0, 0.0, np.where(c == 1, d1, np.where(c == 2, d2, d3)))
            p = np.maximum(c - d, 0.0) / total + gamma / total / self._n_outcomes
        else:
            p = c / total
        p[self._excluded] = 0.0
        self._scores = BackoffTables.from_counts(tables, self.order, self.vocab_size_,
                                                 self.discounts_, p)

    def _set_vocabulary(self) -> None:
        self.vocab_size_ = self.tokenizer_.vocab_size
        t = self.tokenizer_
        self._excluded = [t.pad_id, t.bos_id, t.sep_id]
        self._n_outcomes = self.vocab_size_ - len(self._excluded)

    # ------------------------------------------------------------------ probabilities

    def prob(self, token: int, history) -> tuple[float, int]:
        """p(token | history) and the highest order whose context was seen (1 = unigram)."""
        check_fitted(self, self._fitted_attr)
        history = [int(h) for h in history][max(0, len(history) - self.order + 1):]
        if not history:
            return float(np.exp(self._scores.logp[1][int(token)])), 1
        lp, orders = self._scores.score([*history, int(token)])
        return float(np.exp(lp[-1])), int(orders[-1])

    def matched_order(self, history) -> int:
        """The highest order whose context in ``history`` was seen in training (1 = none)."""
        return self.prob(self.tokenizer_.eos_id, history)[1]

    def token_log_probs(self, ids, *, return_orders: bool = False):
        """log p(ids[j] | ids[:j]) for j >= 1 (float64); with ``return_orders``, also the
        highest matched order per token (the n-gram's confidence). Vectorised: a binary
        search per order over the whole stream."""
        check_fitted(self, self._fitted_attr)
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= self.vocab_size_):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size_}); got "
                             f"{int(ids.min())}..{int(ids.max())}.")
        lp, orders = self._scores.score(ids)
        return (lp, orders) if return_orders else lp

    def next_token_probs(self, history) -> np.ndarray:
        """The distribution of the next token (vocab_size,) given ``history`` (ids)."""
        check_fitted(self, self._fitted_attr)
        return np.exp(self._scores.next_log_probs([int(h) for h in history]))

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
        """``ngrams.npz`` (per order: the n-grams' token rows, log probabilities and log
        backoffs; no pickles), ``config.json`` and ``tokenizer.json`` in the directory
        ``path``. Directories that older versions wrote (counts per order) load too."""
        check_fitted(self, self._fitted_attr)
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays, source = self._scores.arrays(), "tables"
        with atomic_path(path / "ngrams.npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        self.tokenizer_.save(path / "tokenizer.json")
        atomic_write_json(path / "config.json", {
            "kind": "NGramLM", "order": self.order, "discount": self.discount,
            "interpolate_unigram": self.interpolate_unigram, "n_tokens": self.n_tokens_,
            "source": source, "discounts": self.discounts_,
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
        source = meta.get("source", "counts")
        try:
            with np.load(path / "ngrams.npz", allow_pickle=False) as data:
                if source == "tables":
                    lm._set_vocabulary()
                    lm._scores = BackoffTables.from_arrays(data, lm.order, lm.vocab_size_)
                    discounts = meta.get("discounts")
                    lm.discounts_ = (None if discounts is None
                                     else [tuple(map(float, d)) for d in discounts])
                    return lm
                tables = {k: (data[f"types_{k}"], data[f"counts_{k}"])
                          for k in range(1, lm.order + 1)}
        except (KeyError, ValueError, OSError, IndexError) as err:
            raise ValueError(f"{str(path / 'ngrams.npz')!r} is missing or corrupt: "
                             f"{err}") from None
        lm._set_tables(tables, fallback=False)  # the discounts those versions fit
        return lm

    # ------------------------------------------------------------------ ARPA

    def to_arpa(self, path: str | os.PathLike) -> Path:
        """Write the model as an ARPA file (``.gz`` compresses), which KenLM, SRILM and
        :meth:`from_arpa` read: every n-gram's interpolated log10 probability and every
        context's log10 backoff (gamma / total), so that a backoff reader gives this model's
        probabilities. ``<eos>`` (a line break) is ``</s>`` when predicted and ``<s>`` as a
        context; n-grams spanning a line break inside them are left out. Needs a tokenizer
        whose tokens have no whitespace (``tokenizer="word"`` or ``"bpe"``)."""
        check_fitted(self, self._fitted_attr)
        words = _token_names(self.tokenizer_)
        path = Path(path)
        with atomic_path(path) as tmp:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(tmp, "wt", encoding="utf-8") as out:
                self._scores.write_arpa(out, words, self.tokenizer_.eos_id)
        return path

    @classmethod
    def from_arpa(cls, path: str | os.PathLike) -> NGramLM:
        """A model from an ARPA file (KenLM's ``lmplz``, SRILM, :meth:`to_arpa`; ``.gz`` too):
        it scores whitespace-separated words, each line a sentence (``<s>`` ... ``</s>``),
        words not in the file as ``<unk>``. It scores, generates, saves and interpolates with a
        :class:`CausalLM` trained on its ``tokenizer_`` as a fitted model does."""
        order, words, entries = read_arpa(path)
        tok = WhitespaceTokenizer.from_words(words)
        lm = cls(order=order, tokenizer=tok)
        lm.tokenizer_, lm.n_tokens_, lm.discounts_ = tok, None, None
        lm._set_vocabulary()
        V = lm.vocab_size_
        index = {w: tok.token_to_id(w) for w in (*words, "<unk>")}
        index["<s>"] = index["</s>"] = tok.eos_id
        tables = {}
        logp1, logbo1 = np.full(V, -np.inf), np.zeros(V)
        logp1[tok.unk_id] = -100 * LN10  # KenLM's value for a file without <unk>
        for (w,), lp, bo in entries[1]:
            i = index[w]
            if w != "<s>":
                logp1[i] = lp * LN10
            if w != "</s>":
                logbo1[i] = bo * LN10
        tables[1] = (None, logp1, logbo1)
        for k in range(2, order + 1):
            try:
                rows = np.array([[index[w] for w in gram] for gram, _, _ in entries[k]],
                                dtype=np.int64).reshape(-1, k)
            except KeyError as err:
                raise ValueError(f"ARPA file {str(path)!r}: the word {err.args[0]!r} of a "
                                 f"{k}-gram is not among the 1-grams.") from None
            lp = np.array([e[1] for e in entries[k]]) * LN10
            bo = np.array([e[2] for e in entries[k]]) * LN10
            tables[k] = (rows, lp, bo)
        try:
            lm._scores = BackoffTables.from_entries(tables, order, V)
        except ValueError as err:
            raise ValueError(f"ARPA file {str(path)!r} is malformed: {err} (word ids as in "
                             f"the file's 1-grams).") from None
        return lm


def _token_names(tok) -> list:
    """Each token id's ARPA word (None for pad, bos and sep, never written)."""
    from hybridnlp.text.tokenizer import SPECIAL_TOKENS

    if hasattr(tok, "tokens"):
        names = [*SPECIAL_TOKENS.values(), *tok.tokens]
    else:  # BPE
        names = [tok.id_to_token(i) for i in range(tok.vocab_size)]
    names[tok.eos_id], names[tok.unk_id] = "</s>", "<unk>"
    for i in (tok.pad_id, tok.bos_id, tok.sep_id):
        names[i] = None
    for i, w in enumerate(names):
        if w is not None and i not in (tok.eos_id, tok.unk_id) and (
                not w or any(c.isspace() for c in w) or w in ("<s>", "</s>", "<unk>")):
            raise ValueError(f"token {i} ({w!r}) cannot be an ARPA word (ARPA words are "
                             f"separated by whitespace and <s>, </s>, <unk> are reserved); "
                             f"write ARPA from a model fit with tokenizer='word' or 'bpe'.")
    return names
