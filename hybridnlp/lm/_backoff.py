"""The scoring tables of an n-gram model: sorted arrays per order, as an ARPA file holds them.

Every n-gram entry of order k has a log probability and, for k < order, a log backoff weight
(the interpolation weight it gives the next lower order when it is a context). Entries are
identified as in a trie: an entry of order k is the pair (id of its prefix at order k - 1,
last token), packed into one int64 key ``prefix_id * V + token``, and the keys of an order are
sorted, so its id is its rank and a lookup is a binary search (``np.searchsorted``), vectorised
over a whole token stream. Order 1 is dense (one row per token id).

An interpolated Kneser-Ney model is exactly such a backoff model: an entry's probability is the
interpolated one, a context's backoff is its gamma / total (Chen & Goodman), and an absent
n-gram gets backoff x lower-order probability, which is the interpolation with a zero count.
So the same tables score a fitted model and an ARPA file read from elsewhere (KenLM, SRILM).
"""

from __future__ import annotations

import gzip
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["BackoffTables", "read_arpa", "union_rows"]

LN10 = math.log(10.0)


def union_rows(rows: np.ndarray, counts: np.ndarray, extra: np.ndarray):
    """``rows`` (distinct, with ``counts``) plus the rows of ``extra`` not among them (count
    0), sorted lexicographically."""
    if len(extra) == 0:
        return rows, counts
    both = np.concatenate([rows, extra.astype(rows.dtype)])
    cnt = np.concatenate([counts, np.zeros(len(extra), dtype=counts.dtype)])
    is_extra = np.concatenate([np.zeros(len(rows), bool), np.ones(len(extra), bool)])
    order = np.lexsort((is_extra, *both.T[::-1]))  # rows first, a counted row before its copy
    both, cnt = both[order], cnt[order]
    new = np.ones(len(both), dtype=bool)
    new[1:] = np.any(both[1:] != both[:-1], axis=1)
    return both[new], cnt[new]


class BackoffTables:
    """Log probabilities and log backoffs of every n-gram entry, order 1 .. ``order``.

    ``keys[k]`` (k >= 2) the sorted entry keys, ``logp[k]`` natural-log probabilities,
    ``logbo[k]`` (k < order) natural-log backoffs, ``extends[k]`` (k < order) whether the
    entry is a seen context (has an extension of order k + 1). Order 1 arrays have one row per
    token id.
    """

    def __init__(self, order: int, vocab_size: int):
        self.order, self.V = order, vocab_size
        self.keys: dict[int, np.ndarray] = {}
        self.logp: dict[int, np.ndarray] = {}
        self.logbo: dict[int, np.ndarray] = {}
        self.extends: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ building

    def _lookup(self, k: int, prefix_ids: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Entry ids at order k of (prefix id, token) pairs; -1 where absent."""
        keys = self.keys[k]
        out = np.full(len(prefix_ids), -1, dtype=np.int64)
        ok = prefix_ids >= 0
        if not len(keys) or not ok.any():
            return out
        q = prefix_ids[ok] * self.V + tokens[ok]
        if len(q) > 1024:  # sorted queries: each search starts where the last one ended
            order = np.argsort(q, kind="stable")
            idx = np.empty(len(q), dtype=np.int64)
            idx[order] = np.searchsorted(keys, q[order])
        else:
            idx = np.searchsorted(keys, q)
        idx = np.minimum(idx, len(keys) - 1)
        out[ok] = np.where(keys[idx] == q, idx, -1)
        return out

    def ids_of(self, rows: np.ndarray) -> np.ndarray:
        """Entry ids of ``rows`` (token rows of one order m); -1 where absent."""
        rows = np.asarray(rows, dtype=np.int64)
        e = rows[:, 0].copy()
        for j in range(1, rows.shape[1]):
            e = self._lookup(j + 1, e, rows[:, j])
        return e

    def _index(self, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keys of order-k ``rows`` (whose prefixes are entries of order k - 1), and the
        permutation that sorts them."""
        parent = self.ids_of(rows[:, :-1])
        if (parent < 0).any():
            bad = rows[np.flatnonzero(parent < 0)[0]].tolist()
            raise ValueError(f"the {k}-gram {bad} has no entry for its prefix "
                             f"{bad[:-1]} among the {k - 1}-grams")
        keys = parent * self.V + rows[:, -1].astype(np.int64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        if len(keys) > 1 and (keys[1:] == keys[:-1]).any():
            dup = rows[order][np.flatnonzero(keys[1:] == keys[:-1])[0]].tolist()
            raise ValueError(f"the {k}-gram {dup} is listed twice")
        return keys, order

    def _finish_order(self, k: int, keys: np.ndarray) -> None:
        """``extends`` of order k - 1 from the prefixes of order k's entries."""
        n_prev = self.V if k == 2 else len(self.keys[k - 1])
        self.extends[k - 1] = np.bincount(keys // self.V, minlength=n_prev) > 0

    @classmethod
    def from_counts(cls, tables: dict, order: int, vocab_size: int, discounts: list,
                    unigram_probs: np.ndarray) -> BackoffTables:
        """Interpolated Kneser-Ney tables from the counts per order (``tables[k]``: distinct
        k-gram rows, sorted, and their raw or continuation counts), the discounts per order
        and the order-1 probabilities (dense). The prefixes of every entry become entries too
        (count 0), so the tables are closed under prefixes and suffixes, as ARPA requires."""
        t = cls(order, vocab_size)
        V = vocab_size
        with np.errstate(divide="ignore"):
            t.logp[1] = np.log(unigram_probs)
        rows = {order: tables[order]}
        for k in range(order - 1, 1, -1):  # prefixes of the higher order's entries
            rows[k] = union_rows(*tables[k], _unique(rows[k + 1][0][:, :-1]))
        for k in range(2, order + 1):
            types, counts = rows[k]
            keys, perm = t._index(k, types)
            types, counts = types[perm], counts[perm].astype(np.float64)
            parent = keys // V
            n_prev = V if k == 2 else len(t.keys[k - 1])
            total = np.bincount(parent, weights=counts, minlength=n_prev)
            d1, d2, d3 = discounts[k - 1]
            gamma = (d1 * np.bincount(parent, weights=counts == 1, minlength=n_prev)
                     + d2 * np.bincount(parent, weights=counts == 2, minlength=n_prev)
                     + d3 * np.bincount(parent, weights=counts >= 3, minlength=n_prev))
            seen = total > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                t.logbo[k - 1] = np.where(seen, np.log(gamma / np.where(seen, total, 1)), 0.0)
            lower = t.ids_of(types[:, 1:])  # the suffix: always an entry one order down
            p_lower = np.exp(t.logp[k - 1][lower])
            d = np.where(counts == 0, 0.0,
                         np.where(counts == 1, d1, np.where(counts == 2, d2, d3)))
            tot = total[parent]
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where(tot > 0, np.maximum(counts - d, 0.0) / np.where(tot > 0, tot, 1)
                             + gamma[parent] / np.where(tot > 0, tot, 1) * p_lower, p_lower)
                t.logp[k] = np.log(p)
            t.keys[k] = keys
            t.extends[k - 1] = seen
        return t

    @classmethod
    def from_entries(cls, entries: dict, order: int, vocab_size: int) -> BackoffTables:
        """Tables from explicit entries (an ARPA file's): ``entries[k] = (rows, logp, logbo)``
        (natural logs; ``entries[1]`` dense over the vocabulary)."""
        t = cls(order, vocab_size)
        t.logp[1], t.logbo[1] = entries[1][1], entries[1][2]
        for k in range(2, order + 1):
            rows, logp, logbo = entries[k]
            keys, perm = t._index(k, rows)
            t.keys[k], t.logp[k] = keys, logp[perm]
            if k < order:
                t.logbo[k] = logbo[perm]
            t._finish_order(k, keys)
        if order == 1:
            t.logbo.pop(1, None)
        return t

    def rows(self, k: int) -> np.ndarray:
        """The token rows of order k's entries, in id order."""
        if k == 1:
            return np.arange(self.V, dtype=np.int64)[:, None]
        prev = self.rows(k - 1)
        keys = self.keys[k]
        return np.column_stack([prev[keys // self.V], keys % self.V])

    def arrays(self) -> dict[str, np.ndarray]:
        """The tables as named arrays (for ``np.savez``): rows, logp, logbo per order."""
        out = {}
        for k in range(1, self.order + 1):
            out[f"rows_{k}"] = self.rows(k).astype(np.int32)
            out[f"logp_{k}"] = self.logp[k]
            if k < self.order:
                out[f"logbo_{k}"] = self.logbo[k]
        return out

    @classmethod
    def from_arrays(cls, data, order: int, vocab_size: int) -> BackoffTables:
        entries = {}
        for k in range(1, order + 1):
            logbo = data[f"logbo_{k}"] if k < order else None
            entries[k] = (data[f"rows_{k}"], data[f"logp_{k}"], logbo)
        return cls.from_entries(entries, order, vocab_size)

    # ------------------------------------------------------------------ scoring

    def entry_ids(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        """For each order m, the id of the m-gram ending at each position (-1: absent or
        running before the start)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = {1: ids}
        for m in range(2, self.order + 1):
            e = np.full(len(ids), -1, dtype=np.int64)
            if len(ids) > 1:
                e[1:] = self._lookup(m, out[m - 1][:-1], ids[1:])
            out[m] = e
        return out

    def score(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """log p(ids[j] | ids[:j]) for j >= 1 and the highest order whose context was seen
        (1 = none), vectorised over the stream."""
        ids = np.asarray(ids, dtype=np.int64)
        L = len(ids)
        if L < 2:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        E = self.entry_ids(ids)
        lp = self.logp[1][ids[1:]].copy()
        best = np.ones(L - 1, dtype=np.int64)
        for m in range(2, self.order + 1):  # the longest n-gram present
            e = E[m][1:]
            hit = e >= 0
            lp[hit] = self.logp[m][e[hit]]
            best[hit] = m
        matched = np.ones(L - 1, dtype=np.int64)
        for c in range(1, self.order):  # contexts of length c ending before each position
            ctx = E[c][:-1]
            present = ctx >= 0
            use = present & (c >= best)  # backed off past this context: its weight
            lp[use] += self.logbo[c][ctx[use]]
            matched += present & self.extends[c][np.where(present, ctx, 0)]
        return lp, matched

    def next_log_probs(self, history) -> np.ndarray:
        """log p(. | history) over the vocabulary (history: the last order - 1 ids or
        fewer)."""
        h = np.asarray(history, dtype=np.int64)[len(history) - min(len(history),
                                                                     self.order - 1):]
        lp = self.logp[1].copy()
        if not len(h):
            return lp
        E = self.entry_ids(h)
        for c in range(1, len(h) + 1):
            ctx = int(E[c][-1])
            if ctx < 0:
                break
            lp += self.logbo[c][ctx]
            keys = self.keys[c + 1]
            lo, hi = np.searchsorted(keys, [ctx * self.V, (ctx + 1) * self.V])
            lp[keys[lo:hi] - ctx * self.V] = self.logp[c + 1][lo:hi]
        return lp

    def n_entries(self) -> int:
        return self.V + sum(len(k) for k in self.keys.values())

    # ------------------------------------------------------------------ ARPA

    def write_arpa(self, out, words: list, eos_id: int) -> None:
        """Write the tables as an ARPA file (log10) to the text stream ``out``. ``words[i]``
        names token i (None: never written, as pad). ``eos_id`` is written ``</s>`` where it
        is predicted and ``<s>`` where it begins a context, as KenLM reads a sentence; n-grams
        with a line break inside them are left out (no ARPA reader asks for them)."""
        named = np.array([w is not None for w in words])
        named[eos_id] = True
        keep = {}
        for k in range(1, self.order + 1):
            rows = self.rows(k)
            ok = named[rows].all(axis=1)
            if k > 2:
                ok &= ~(rows[:, 1:-1] == eos_id).any(axis=1)
            keep[k] = (rows, np.flatnonzero(ok))
        out.write("\\data\\\n")
        for k in range(1, self.order + 1):
            out.write(f"ngram {k}={len(keep[k][1]) + (k == 1)}\n")  # eos twice: <s>, </s>

        def log10(x) -> str:
            return f"{x / LN10:.7f}" if np.isfinite(x) else "-99"

        for k in range(1, self.order + 1):
            out.write(f"\n\\{k}-grams:\n")
            rows, idx = keep[k]
            logbo = self.logbo.get(k)
            for i in idx.tolist():
                toks = rows[i].tolist()
                text = " ".join(("</s>" if j == k - 1 else "<s>") if x == eos_id else words[x]
                                for j, x in enumerate(toks))
                is_context = logbo is not None and toks[-1] != eos_id
                bo = f"\t{log10(logbo[i])}" if is_context else ""
                out.write(f"{log10(self.logp[k][i])}\t{text}{bo}\n")
                if k == 1 and toks[0] == eos_id:
                    bo = f"\t{log10(logbo[i])}" if logbo is not None else ""
                    out.write(f"-99\t<s>{bo}\n")
        out.write("\n\\end\\\n")


def _unique(rows: np.ndarray) -> np.ndarray:
    if len(rows) == 0:
        return rows
    return np.unique(rows, axis=0)


def read_arpa(path: str | os.PathLike):
    """(order, words, entries) of an ARPA file (``.gz`` too): ``words`` the vocabulary
    (without ``<s>``, ``</s>``, ``<unk>``), ``entries[k] = (rows of words, log10 p, log10
    backoff or None)``. Raises ValueError naming the line of a malformed file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    counts: dict[int, int] = {}
    entries: dict[int, list] = {}
    k = 0
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            where = f"ARPA file {str(path)!r}, line {lineno}"
            if line == "\\data\\":
                continue
            if line.startswith("ngram ") and k == 0:
                try:
                    n, c = line[6:].split("=")
                    counts[int(n)] = int(c)
                except ValueError:
                    raise ValueError(f"{where}: expected 'ngram N=COUNT', got {line!r}.") \
                        from None
                continue
            if line.startswith("\\") and line.endswith("-grams:"):
                try:
                    k = int(line[1:-7])
                except ValueError:
                    raise ValueError(f"{where}: bad section header {line!r}.") from None
                if k not in counts:
                    raise ValueError(f"{where}: section {line!r} is not in the \\data\\ "
                                     f"header.")
                entries[k] = []
                continue
            if line == "\\end\\":
                break
            if k == 0:
                raise ValueError(f"{where}: expected the \\data\\ header, got {line!r}.")
            parts = line.split()
            if len(parts) not in (k + 1, k + 2):
                raise ValueError(f"{where}: a {k}-gram line needs a log probability, {k} "
                                 f"words and an optional backoff; got {line!r}.")
            try:
                lp = float(parts[0])
                bo = float(parts[k + 1]) if len(parts) == k + 2 else 0.0
            except ValueError:
                raise ValueError(f"{where}: {line!r} has a number that does not parse.") \
                    from None
            entries[k].append((tuple(parts[1:k + 1]), lp, bo))
    if not counts or 1 not in entries:
        raise ValueError(f"{str(path)!r} is not an ARPA file (no \\data\\ header or no "
                         f"1-grams section).")
    for n, c in counts.items():
        if len(entries.get(n, ())) != c:
            raise ValueError(f"ARPA file {str(path)!r}: the header says {c} {n}-grams, the "
                             f"file has {len(entries.get(n, ()))}.")
    order = max(counts)
    words = [w for (w,), _, _ in entries[1] if w not in ("<s>", "</s>", "<unk>")]
    return order, words, entries
