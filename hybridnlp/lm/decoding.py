"""The generation engine: a sliding context window over a preallocated KV cache, logits
processing (temperature, top-k, top-p, repetition penalty), greedy and sampled decoding, and
beam search.

Cached and uncached decoding follow the same window policy, so they produce the same tokens:
the context is the last ``block_size`` tokens of the prompt, and when generation fills the
window it slides forward by half a window (the cache is then re-filled once).
"""

from __future__ import annotations

import functools
import math
import types
import weakref
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from hybridnlp.nn.gpt import GPT, KVCache
from hybridnlp.utils.device import compile_options

__all__ = ["FusedScorer", "NGramStepper", "PrefixStepper", "Stepper", "banned_ngram_tokens",
           "batch_beam_search", "beam_search", "check_sampling", "decode_step",
           "length_normaliser",
           "process_logits", "sample"]


def decode_step(model: GPT, idx: torch.Tensor, pos: torch.Tensor, k_cache: torch.Tensor,
                v_cache: torch.Tensor, positions: torch.Tensor | None = None,
                key_valid: torch.Tensor | None = None) -> torch.Tensor:
    """``model.decode_step(...)`` (:meth:`hybridnlp.nn.GPT.decode_step`), as a plain function
    of the model: the form :func:`_compiled_decode` compiles once per model."""
    return model.decode_step(idx, pos, k_cache, v_cache, positions, key_valid)


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_decode(model: GPT, options: dict) -> Callable:
    """``decode_step`` compiled once per model and options (static shapes: no recompiles
    while the cache fills; a new batch size or padding mask compiles once more). Each model
    gets its own copy of the function's code, because dynamo keeps compiled variants, and
    their limit, per code object; past that limit it falls back to eager, still correct.

    On CPU, plain ``compile=True`` also asks Inductor for a C++ wrapper around the kernels
    (``cpp_wrapper``): one step of a small GPT costs less Python, so batch-1 decoding is
    faster (benchmarks/RESULTS.md); explicit options are kept as given."""
    if not options and next(model.parameters()).device.type == "cpu":
        options = {"options": {"cpp_wrapper": True}}
    per_model = _COMPILED.setdefault(model, {})
    key = repr(sorted(options.items()))  # values may be dicts (``options={...}``)
    if key not in per_model:
        code = decode_step.__code__.replace(co_name=f"decode_step_{id(model):x}")
        fn = types.FunctionType(code, decode_step.__globals__, code.co_name,
                                decode_step.__defaults__)
        per_model[key] = torch.compile(functools.partial(fn, model), dynamic=False, **options)
    return per_model[key]


class Stepper:
    """Next-token logits for a batch of sequences, ``logits(seq, cur)`` -> (B, V): the
    distribution of the token at position ``cur`` given ``seq[:, :cur]``.

    ``key_mask`` (B, L) marks real tokens when prompts are left-padded; positions then count
    real tokens only, so a padded prompt sees the positions it would see alone.
    """

    def __init__(self, model: GPT, batch_size: int, *, use_cache: bool = True,
                 key_mask: torch.Tensor | None = None, compile: bool | dict = False):
        options = compile_options(compile)
        if options is not None and not use_cache:
            raise ValueError("compile=True compiles the cached decoding step; it needs "
                             "use_cache=True.")
        self.step = None if options is None else _compiled_decode(model, options)
        self.model = model
        self.block = model.config.block_size
        self.key_mask = key_mask
        p = next(model.parameters())
        self.cache = (KVCache(model.config, batch_size, device=p.device, dtype=p.dtype)
                      if use_cache else None)
        self.start = None  # first position of the window; None before the first call
        self.filled = 0  # last position + 1 held in the cache

    def reorder(self, index: torch.Tensor) -> None:
        if self.cache is not None:
            self.cache.reorder(index)
        if self.key_mask is not None:
            self.key_mask = self.key_mask[index]

    def logits(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        slid = False
        if self.start is None:
            self.start = max(0, cur - self.block)
        elif cur - self.start > self.block:
            self.start = cur - max(1, self.block // 2)
            slid = True
        s = self.start
        mask = positions = None
        if self.key_mask is not None:
            mask = self.key_mask[:, s:cur]
            positions = (mask.long().cumsum(1) - 1).clamp(min=0)
        if self.cache is None:
            logits, _ = self.model(seq[:, s:cur], positions=positions, key_mask=mask)
            return logits[:, -1].float()
        if slid or self.filled == 0 or self.filled != cur - 1:
            self.cache.reset()
            new = slice(s, cur)
        else:
            new = slice(cur - 1, cur)
        if positions is not None:
            positions = positions[:, new.start - s:]
        if self.step is not None and new.stop - new.start == 1:
            return self._static_step(seq, cur, positions, mask)
        logits, _ = self.model(seq[:, new], kv_cache=self.cache, positions=positions,
                               key_mask=mask)
        self.filled = cur
        return logits[:, -1].float()

    def _static_step(self, seq, cur, positions, mask) -> torch.Tensor:
        cache = self.cache
        key_valid = None
        if mask is not None:  # (B, filled + 1) real tokens -> (B, max_len) slots
            key_valid = torch.zeros(mask.shape[0], cache.max_len, dtype=torch.bool,
                                    device=mask.device)
            key_valid[:, :mask.shape[1]] = mask
        pos = torch.tensor(cache.pos, device=seq.device)
        logits = self.step(seq[:, cur - 1:cur], pos, cache.k, cache.v, positions, key_valid)
        cache.pos += 1
        self.filled = cur
        return logits


def process_logits(logits: torch.Tensor, seq: torch.Tensor | None = None, *,
                   temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None, repetition_penalty: float = 1.0,
                   suppress: list[int] | None = None) -> torch.Tensor:
    """Logits (B, V) after suppression, repetition penalty (CTRL: divide positive logits of
    tokens already in ``seq``, multiply negative ones), temperature, top-k and top-p.
    Every step is out of place: ``logits`` is never changed, and with nothing to do it is
    returned as it is (greedy decoding: no copy per token)."""
    if suppress:
        index = torch.tensor(suppress, device=logits.device)
        logits = logits.index_fill(1, index, float("-inf"))
    if repetition_penalty != 1.0 and seq is not None and seq.shape[1]:
        seen = logits.gather(1, seq)
        seen = torch.where(seen > 0, seen / repetition_penalty, seen * repetition_penalty)
        logits = logits.scatter(1, seq, seen)
    if temperature != 1.0 and temperature > 0:
        logits = logits / temperature
    if top_k is not None and top_k < logits.shape[1]:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=1)
        cum = sorted_logits.softmax(dim=1).cumsum(dim=1)
        drop = cum - sorted_logits.softmax(dim=1) >= top_p  # keep the first token past top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(1, order, sorted_logits)
    return logits


def check_sampling(temperature, top_k, top_p, repetition_penalty, num_beams=1) -> None:
    """The decoding settings, each checked with one message (NaN and infinity refused: they
    would sample from garbage or return text as if nothing were wrong)."""
    def finite(name, value):
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value):
            raise ValueError(f"{name}={value!r} must be a finite number.")

    finite("temperature", temperature)
    if temperature < 0:
        raise ValueError(f"temperature={temperature!r} must be >= 0 (0 is greedy).")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ValueError(f"top_k={top_k!r} must be a positive integer or None.")
    if top_p is not None:
        finite("top_p", top_p)
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p={top_p!r} must be in (0, 1] or None.")
    finite("repetition_penalty", repetition_penalty)
    if repetition_penalty <= 0:
        raise ValueError(f"repetition_penalty={repetition_penalty!r} must be > 0 (1 is off).")
    if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"num_beams={num_beams!r} must be a positive integer (1: no beam "
                         f"search).")


@torch.no_grad()
def sample(step: Callable[[torch.Tensor, int], torch.Tensor], seq: torch.Tensor, cur: int,
           max_new_tokens: int, *, temperature: float = 1.0, top_k: int | None = None,
           top_p: float | None = None, repetition_penalty: float = 1.0,
           do_sample: bool = True, suppress: list[int] | None = None,
           eos_id: int | None = None, generator: torch.Generator | None = None,
           penalty_from: int = 0, min_new_tokens: int = 0) -> Iterator[torch.Tensor]:
    """Fill ``seq[:, cur:cur + max_new_tokens]`` one position at a time and yield each new
    column (B,). ``step(seq, cur)`` gives the next-token logits. Greedy when ``do_sample`` is
    False or ``temperature`` is 0. Rows that produced ``eos_id`` keep producing it; the loop
    ends early when every row has. ``eos_id`` is suppressed for the first ``min_new_tokens``."""
    check_sampling(temperature, top_k, top_p, repetition_penalty)
    if seq.shape[1] < cur + max_new_tokens:
        raise ValueError(f"seq has room for {seq.shape[1] - cur} new tokens, "
                         f"{max_new_tokens} were asked for.")
    done = torch.zeros(seq.shape[0], dtype=torch.bool, device=seq.device)
    greedy = not do_sample or temperature == 0
    early = [*(suppress or []), *([] if eos_id is None else [eos_id])]
    for t in range(cur, cur + max_new_tokens):
        logits = process_logits(step(seq, t), seq[:, penalty_from:t],
                                temperature=1.0 if greedy else temperature,
                                top_k=None if greedy else top_k,
                                top_p=None if greedy else top_p,
                                repetition_penalty=repetition_penalty,
                                suppress=early if t - cur < min_new_tokens else suppress)
        if greedy:
            nxt = logits.argmax(dim=1)
        else:
            probs = logits.softmax(dim=1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        if eos_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
            done |= nxt == eos_id
        seq[:, t] = nxt
        yield nxt
        if eos_id is not None and bool(done.all()):
            return


def length_normaliser(length_penalty: float, kind: str = "power") -> Callable[[int], float]:
    """The divisor of a hypothesis' log-probability for its length n (tokens, end token
    excluded, at least 1): ``"power"`` n ** length_penalty (Hugging Face's), ``"gnmt"``
    ((5 + n) / 6) ** length_penalty (Wu et al. 2016, alpha about 0.6)."""
    if kind == "power":
        return lambda n: max(n, 1) ** length_penalty
    if kind == "gnmt":
        return lambda n: ((5 + max(n, 1)) / 6) ** length_penalty
    raise ValueError(f"length_norm={kind!r} is not allowed; choose 'power' or 'gnmt'.")


def banned_ngram_tokens(rows: list[list[int]], n: int) -> list[list[int]]:
    """For each row of generated ids, the tokens that would repeat one of its n-grams."""
    banned = []
    for ids in rows:
        if len(ids) < n:
            banned.append([])
            continue
        prefix = tuple(ids[len(ids) - n + 1:]) if n > 1 else ()
        banned.append([ids[i + n - 1] for i in range(len(ids) - n + 1)
                       if tuple(ids[i:i + n - 1]) == prefix])
    return banned


def _log_probs(stepper, seq: torch.Tensor, cur: int) -> torch.Tensor:
    """The stepper's next-token scores as log-probabilities (B, V): ``log_probs`` where it
    gives them (a fused scorer), else the log-softmax of its ``logits``."""
    if hasattr(stepper, "log_probs"):
        return stepper.log_probs(seq, cur)
    return F.log_softmax(stepper.logits(seq, cur).float(), dim=1)


@torch.no_grad()
def batch_beam_search(stepper, start: torch.Tensor, max_new_tokens, *, num_beams: int = 4,
                      length_penalty: float = 1.0, length_norm: str = "power",
                      eos_id: int | None = None, suppress: list[int] | None = None,
                      min_new_tokens: int = 0, no_repeat_ngram_size: int = 0,
                      num_return_sequences: int = 1) -> list[list[tuple[list[int], float]]]:
    """Beam search over a batch of sentences at once: ``num_beams`` rows per sentence in one
    batch (sentence-major), finished hypotheses set aside, finished sentences dropped from
    the batch.

    ``stepper`` has ``logits(seq, cur)`` (or ``log_probs``) -> (rows, V), the distribution of
    ``seq[:, cur]``, and ``reorder(index)``, which keeps the rows ``index`` (always beams of the
    same sentence, in sentence order; fewer sentences as they finish). ``start`` (B, T0): the
    tokens every sentence starts from (a prompt, or a decoder's start token).
    ``max_new_tokens``: an int, or one per sentence. Score = sum of log-probabilities /
    :func:`length_normaliser`. Returns, per sentence, ``(new ids, score)`` pairs, best first.
    """
    if not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"num_beams={num_beams!r} must be a positive integer.")
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences={num_return_sequences} cannot exceed "
                         f"num_beams={num_beams}.")
    norm = length_normaliser(length_penalty, length_norm)
    device = start.device
    B, T0 = start.shape
    K = num_beams
    limits = ([int(max_new_tokens)] * B if isinstance(max_new_tokens, int)
              else [int(m) for m in max_new_tokens])
    seq = torch.zeros(B * K, T0 + max(limits, default=0), dtype=torch.long, device=device)
    seq[:, :T0] = start.repeat_interleave(K, dim=0)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the beams of a sentence start identical: expand from one
    finished: list[list[tuple[list[int], float]]] = [[] for _ in range(B)]
    active = list(range(B))  # the sentence of each group of K rows
    ranks = torch.arange(2 * K, device=device)
    for t in range(T0, seq.shape[1]):
        if not active:
            break
        n_new = t - T0 + 1
        logp = _log_probs(stepper, seq, t)  # (rows, V)
        if suppress:
            logp[:, suppress] = float("-inf")
        if eos_id is not None and n_new <= min_new_tokens:
            logp[:, eos_id] = float("-inf")
        if no_repeat_ngram_size:
            rows = seq[:, T0:t].tolist()
            for r, banned in enumerate(banned_ngram_tokens(rows, no_repeat_ngram_size)):
                if banned:
                    logp[r, banned] = float("-inf")
        V = logp.shape[1]
        cand = (scores.view(-1, 1) + logp).view(len(active), K * V)
        top_scores, top_idx = torch.topk(cand, min(2 * K, K * V), dim=1)  # (n, 2K)
        beam, tok = top_idx // V, top_idx % V
        live = top_scores > float("-inf")
        is_eos = (tok == eos_id) & live if eos_id is not None else torch.zeros_like(live)
        ended = (is_eos & (ranks[:top_idx.shape[1]] < K)).nonzero().tolist()
        if ended:
            beam_list, score_list = beam.tolist(), top_scores.tolist()
            for r, j in ended:
                ids = seq[r * K + beam_list[r][j], T0:t].tolist()
                finished[active[r]].append((ids, score_list[r][j] / norm(n_new - 1)))
        # the first K candidates that do not end, per sentence
        alive = live & ~is_eos
        order = torch.argsort(torch.where(alive, ranks[:alive.shape[1]], 2 * K + ranks[
            :alive.shape[1]]), dim=1, stable=True)[:, :K]
        if order.shape[1] < K:  # a vocabulary smaller than the beam: pad with dead rows
            order = torch.cat([order, order[:, :1].expand(-1, K - order.shape[1])], dim=1)
        new_scores = torch.where(alive.gather(1, order), top_scores.gather(1, order),
                                 float("-inf"))
        new_beam, new_tok = beam.gather(1, order), tok.gather(1, order)
        keep = []
        best_alive = new_scores[:, 0].tolist()  # one host copy per step, not one per sentence
        for r, s in enumerate(active):
            done = best_alive[r] == float("-inf") or n_new >= limits[s]
            if not done and eos_id is not None and len(finished[s]) >= K:
                done = max(f[1] for f in finished[s]) >= best_alive[r] / norm(n_new)
            if done and best_alive[r] > float("-inf") and n_new >= limits[s]:
                rows_ = (r * K + new_beam[r]).tolist()
                row_scores, row_toks = new_scores[r].tolist(), new_tok[r].tolist()
                for k in range(K):  # out of room: the live beams end here
                    if row_scores[k] > float("-inf"):
                        ids = [*seq[rows_[k], T0:t].tolist(), row_toks[k]]
                        finished[s].append((ids, row_scores[k] / norm(n_new)))
            if not done:
                keep.append(r)
        index = torch.arange(len(active), device=device)[:, None] * K + new_beam
        if len(keep) < len(active):  # finished sentences leave the batch
            rows = torch.tensor(keep, dtype=torch.long, device=device)
            index, new_tok, new_scores = index[rows], new_tok[rows], new_scores[rows]
        index = index.view(-1)
        seq = seq[index]
        seq[:, t] = new_tok.reshape(-1)
        scores = new_scores
        active = [active[r] for r in keep]
        if active:
            stepper.reorder(index)
    out = []
    for hyps in finished:
        hyps.sort(key=lambda f: -f[1])
        out.append(hyps[:num_return_sequences])
    return out


@torch.no_grad()
def beam_search(model: GPT, prompt: torch.Tensor, max_new_tokens: int, *, num_beams: int = 4,
                length_penalty: float = 1.0, eos_id: int | None = None,
                suppress: list[int] | None = None, use_cache: bool = True,
                num_return_sequences: int = 1, min_new_tokens: int = 0,
                no_repeat_ngram_size: int = 0) -> list[tuple[list[int], float]]:
    """Beam search from one prompt (1-D ids) of a GPT: :func:`batch_beam_search` over one
    sentence. Returns ``(new token ids, score)`` pairs, best first; score = sum of
    log-probabilities / length ** length_penalty. No hypothesis ends (at ``eos_id``) before
    ``min_new_tokens``."""
    stepper = Stepper(model, num_beams, use_cache=use_cache)
    return batch_beam_search(stepper, prompt[None], max_new_tokens, num_beams=num_beams,
                             length_penalty=length_penalty, eos_id=eos_id, suppress=suppress,
                             min_new_tokens=min_new_tokens,
                             no_repeat_ngram_size=no_repeat_ngram_size,
                             num_return_sequences=num_return_sequences)[0]


class FusedScorer:
    """Shallow fusion (Gulcehre et al. 2015) for the engine: log p_main + sum of
    weight * log p_lm over language-model steppers that read the same rows; ``reorder``
    reorders every part."""

    def __init__(self, main, parts: list[tuple[object, float]]):
        self.main = main
        self.parts = [(stepper, float(w)) for stepper, w in parts if w]

    def log_probs(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        out = _log_probs(self.main, seq, cur)
        for stepper, weight in self.parts:
            out = out + weight * _log_probs(stepper, seq, cur).to(out.device)
        return out

    def reorder(self, index: torch.Tensor) -> None:
        self.main.reorder(index)
        for stepper, _ in self.parts:
            stepper.reorder(index)


class NGramStepper:
    """An :class:`~hybridnlp.lm.NGramLM`'s next-token log-probabilities for the rows of a
    decoding batch: row history = ``context`` + ``seq[row, start:cur]`` (its last order-1
    tokens)."""

    def __init__(self, ngram, start: int, context: tuple[int, ...] = ()):
        self.ngram = ngram
        self.start = start
        self.context = tuple(context)

    def log_probs(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        keep = self.ngram.order - 1
        rows = seq[:, max(self.start, cur - keep):cur].tolist()
        probs = np.stack([self.ngram.next_token_probs((*self.context, *r)[-keep:] if keep
                                                      else ()) for r in rows])
        with np.errstate(divide="ignore"):
            return torch.from_numpy(np.log(probs)).float()

    def reorder(self, index: torch.Tensor) -> None:
        """Stateless: the history is read from ``seq``."""


class PrefixStepper:
    """A :class:`Stepper` of a GPT over the generated part of a decoding batch: the rows read
    ``prefix`` (e.g. ``<eos>``, a document start) then ``seq[:, start:]``."""

    def __init__(self, model: GPT, batch_size: int, start: int, prefix: list[int]):
        self.inner = Stepper(model, batch_size)
        self.start = start
        self.prefix = torch.tensor(prefix, dtype=torch.long)

    def logits(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        P = len(self.prefix)
        rows = torch.cat([self.prefix.to(seq.device).expand(seq.shape[0], P),
                          seq[:, self.start:cur]], dim=1)
        return self.inner.logits(rows, rows.shape[1])

    def reorder(self, index: torch.Tensor) -> None:
        self.inner.reorder(index)
