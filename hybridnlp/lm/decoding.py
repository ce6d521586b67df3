"""The generation engine: a sliding context window over a preallocated KV cache, logits
processing (temperature, top-k, top-p, repetition penalty), greedy and sampled decoding, and
beam search.

Cached and uncached decoding follow the same window policy, so they produce the same tokens:
the context is the last ``block_size`` tokens of the prompt, and when generation fills the
window it slides forward by half a window (the cache is then re-filled once).
"""

from __future__ import annotations

import functools
import types
import weakref
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from hybridnlp.nn.gpt import GPT, KVCache
from hybridnlp.utils.device import compile_options

__all__ = ["Stepper", "beam_search", "decode_step", "process_logits", "sample"]


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


def _check_sampling(temperature, top_k, top_p, repetition_penalty) -> None:
    if temperature < 0:
        raise ValueError(f"temperature={temperature!r} must be >= 0 (0 is greedy).")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k={top_k!r} must be a positive integer or None.")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p={top_p!r} must be in (0, 1] or None.")
    if repetition_penalty <= 0:
        raise ValueError(f"repetition_penalty={repetition_penalty!r} must be > 0 (1 is off).")


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
    _check_sampling(temperature, top_k, top_p, repetition_penalty)
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


@torch.no_grad()
def beam_search(model: GPT, prompt: torch.Tensor, max_new_tokens: int, *, num_beams: int = 4,
                length_penalty: float = 1.0, eos_id: int | None = None,
                suppress: list[int] | None = None, use_cache: bool = True,
                num_return_sequences: int = 1,
                min_new_tokens: int = 0) -> list[tuple[list[int], float]]:
    """Beam search from one prompt (1-D ids). Returns ``(new token ids, score)`` pairs, best
    first; score = sum of log-probabilities / length ** length_penalty. No hypothesis ends
    (at ``eos_id``) before ``min_new_tokens``."""
    if num_beams < 1:
        raise ValueError(f"num_beams={num_beams!r} must be a positive integer.")
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences={num_return_sequences} cannot exceed "
                         f"num_beams={num_beams}.")
    device = prompt.device
    T0 = prompt.shape[0]
    seq = torch.zeros(num_beams, T0 + max_new_tokens, dtype=torch.long, device=device)
    seq[:, :T0] = prompt
    stepper = Stepper(model, num_beams, use_cache=use_cache)
    scores = torch.full((num_beams,), float("-inf"), device=device)
    scores[0] = 0.0  # the beams start identical: expand from one
    finished: list[tuple[list[int], float]] = []
    for t in range(T0, T0 + max_new_tokens):
        logp = F.log_softmax(stepper.logits(seq, t), dim=1)  # (beams, V)
        if suppress:
            logp[:, suppress] = float("-inf")
        if eos_id is not None and t - T0 < min_new_tokens:
            logp[:, eos_id] = float("-inf")
        V = logp.shape[1]
        cand = (scores[:, None] + logp).view(-1)
        top_scores, top_idx = torch.topk(cand, min(2 * num_beams, cand.numel()))
        keep_beam, keep_tok, keep_score = [], [], []
        n_new = t - T0 + 1
        for s, i in zip(top_scores.tolist(), top_idx.tolist(), strict=True):
            beam, tok = divmod(i, V)
            if s == float("-inf"):
                break
            if eos_id is not None and tok == eos_id:
                ids = seq[beam, T0:t].tolist()
                finished.append((ids, s / max(n_new - 1, 1) ** length_penalty))
                continue
            keep_beam.append(beam)
            keep_tok.append(tok)
            keep_score.append(s)
            if len(keep_beam) == num_beams:
                break
        if not keep_beam or (eos_id is not None and len(finished) >= num_beams and max(
                f[1] for f in finished) >= keep_score[0] / n_new ** length_penalty):
            break
        while len(keep_beam) < num_beams:  # pad with dead beams
            keep_beam.append(keep_beam[0])
            keep_tok.append(keep_tok[0])
            keep_score.append(float("-inf"))
        index = torch.tensor(keep_beam, device=device)
        seq = seq[index]
        seq[:, t] = torch.tensor(keep_tok, device=device)
        scores = torch.tensor(keep_score, device=device)
        stepper.reorder(index)
    else:
        t = T0 + max_new_tokens
    n_new = t - T0
    for b in range(num_beams):
        if scores[b] > float("-inf") and n_new > 0:
            finished.append((seq[b, T0:t].tolist(), float(scores[b]) / n_new ** length_penalty))
    finished.sort(key=lambda f: -f[1])
    return finished[:num_return_sequences]
