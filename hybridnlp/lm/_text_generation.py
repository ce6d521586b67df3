"""``generate`` for the GPT estimator: prompts (one, a batch, left-padded), sampling or beams,
stop strings, streaming. Needs ``model_``, ``tokenizer_``, ``config_`` and ``_device``."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from hybridnlp.lm.decoding import Stepper, beam_search, check_sampling, sample
from hybridnlp.utils.validation import check_fitted

__all__ = ["TextGenerationMixin"]


class TextGenerationMixin:
    """``generate`` and its helpers, shared by estimators that hold a GPT."""

    def _suppress(self) -> list[int]:
        """Ids never generated: padding, bos, sep, and unk unless words can be unknown."""
        t = self.tokenizer_
        ids = [t.pad_id, t.bos_id, t.sep_id]
        return ids if t.kind == "whitespace" else [*ids, t.unk_id]

    def _eos(self) -> int | None:
        """Generation ends at <eos> (a document end), except for word models, where <eos> is
        a line break."""
        t = self.tokenizer_
        return None if t.kind == "whitespace" else t.eos_id

    def _prompt_batch(self, prompts: list[str]):
        tok = self.tokenizer_
        encoded = [[tok.eos_id, *tok.encode(p)] for p in prompts]
        longest = max(len(e) for e in encoded)
        return encoded, longest

    def generate(self, prompt: str | list[str] = "", max_new_tokens: int = 100, *,
                 min_new_tokens: int = 0, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, repetition_penalty: float = 1.0,
                 do_sample: bool = True, num_beams: int = 1, stop: str | list[str] | None = None,
                 num_return_sequences: int = 1, seed: int | None = None,
                 stream: bool = False, use_cache: bool = True, include_prompt: bool = False,
                 compile: bool = False):
        """Continue ``prompt`` (or each of a list of prompts, in one batch).

        Returns the new text (with the prompt when ``include_prompt``): a str for one prompt,
        a list for ``num_return_sequences > 1`` or a list of prompts (a list of lists when
        both). ``stop`` ends a sequence at the first of these strings (left out of the text).
        ``stream=True`` (one prompt, one sequence) returns an iterator of text pieces.
        A sequence also ends at ``<eos>`` (end of document) for char and BPE models, but not
        before ``min_new_tokens`` tokens (as in Hugging Face's ``generate``).
        ``temperature=0`` or ``do_sample=False`` is greedy; ``num_beams > 1`` is beam search.
        ``compile=True`` runs each decoding step through ``torch.compile`` (static shapes over
        the preallocated cache): the first call compiles (seconds to a minute), later calls
        with the same batch size decode several times faster (greedy and sampling).
        Past the context window the window slides; the model sees the last ``block_size``
        tokens.
        """
        check_fitted(self, self._fitted_attr)
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens={max_new_tokens!r} must be a non-negative int.")
        if not isinstance(min_new_tokens, int) or not 0 <= min_new_tokens <= max_new_tokens:
            raise ValueError(f"min_new_tokens={min_new_tokens!r} must be an int between 0 and "
                             f"max_new_tokens={max_new_tokens}.")
        if num_return_sequences < 1:
            raise ValueError(f"num_return_sequences={num_return_sequences!r} must be >= 1.")
        check_sampling(temperature, top_k, top_p, repetition_penalty, num_beams)
        single = isinstance(prompt, str)
        prompts = [prompt] if single else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise TypeError("prompt must be a str or a non-empty list of str.")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if compile and num_beams > 1:
            raise ValueError("compile=True compiles greedy and sampled decoding; beam search "
                             "(num_beams > 1) runs uncompiled: pass compile=False.")
        if stream:
            if not single or num_return_sequences != 1 or num_beams != 1:
                raise ValueError("stream=True streams one sequence: pass one prompt, "
                                 "num_return_sequences=1 and num_beams=1.")
            return self._stream(prompt, max_new_tokens, stops, include_prompt,
                                dict(temperature=temperature, top_k=top_k, top_p=top_p,
                                     repetition_penalty=repetition_penalty,
                                     do_sample=do_sample, seed=seed, use_cache=use_cache,
                                     min_new_tokens=min_new_tokens, compile=compile))
        if num_beams > 1:
            texts = [self._beam(p, max_new_tokens, num_beams, num_return_sequences,
                                use_cache, min_new_tokens) for p in prompts]
        else:
            rows = [p for p in prompts for _ in range(num_return_sequences)]
            new_ids = list(self._sample_ids(rows, max_new_tokens, temperature=temperature,
                                            top_k=top_k, top_p=top_p,
                                            repetition_penalty=repetition_penalty,
                                            do_sample=do_sample, seed=seed,
                                            use_cache=use_cache, compile=compile,
                                            min_new_tokens=min_new_tokens))
            cols = torch.stack(new_ids, 1).tolist() if new_ids else [[] for _ in rows]
            flat = [self.tokenizer_.decode(c) for c in cols]
            k = num_return_sequences
            texts = [flat[i * k:(i + 1) * k] for i in range(len(prompts))]
        texts = [[_cut(t, stops) for t in group] for group in texts]
        if include_prompt:
            texts = [[p + t for t in group] for p, group in zip(prompts, texts, strict=True)]
        texts = [group[0] if num_return_sequences == 1 else group for group in texts]
        return texts[0] if single else texts

    def _sample_ids(self, prompts: list[str], max_new_tokens: int, *, seed, use_cache,
                    compile=False, **sampling) -> Iterator[torch.Tensor]:
        encoded, longest = self._prompt_batch(prompts)
        device = self._device
        B = len(encoded)
        seq = torch.full((B, longest + max_new_tokens), self.tokenizer_.pad_id,
                         dtype=torch.long, device=device)
        key_mask = None
        if any(len(e) < longest for e in encoded):  # left-pad to a common length
            key_mask = torch.ones(B, longest + max_new_tokens, dtype=torch.bool, device=device)
        for r, e in enumerate(encoded):
            seq[r, longest - len(e):longest] = torch.tensor(e)
            if key_mask is not None:
                key_mask[r, :longest - len(e)] = False
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(seed)
        stepper = Stepper(self.model_, B, use_cache=use_cache, key_mask=key_mask,
                          compile=compile)
        yield from sample(stepper.logits, seq, longest, max_new_tokens,
                          suppress=self._suppress(), eos_id=self._eos(), generator=generator,
                          penalty_from=1, **sampling)

    def _beam(self, prompt: str, max_new_tokens: int, num_beams: int, k: int,
              use_cache: bool, min_new_tokens: int) -> list[str]:
        tok = self.tokenizer_
        ids = torch.tensor([tok.eos_id, *tok.encode(prompt)], device=self._device)
        if len(ids) > self.config_.block_size:
            ids = ids[-self.config_.block_size:]
        found = beam_search(self.model_, ids, max_new_tokens, num_beams=num_beams,
                            suppress=self._suppress(), eos_id=self._eos(), use_cache=use_cache,
                            num_return_sequences=k, min_new_tokens=min_new_tokens)
        return [tok.decode(ids) for ids, _ in found]

    def _stream(self, prompt, max_new_tokens, stops, include_prompt, sampling):
        """Yield text pieces as tokens arrive; a piece is held back while it could still be
        the start of a stop string or an incomplete multi-byte character."""
        if include_prompt:
            yield prompt
        ids: list[int] = []
        sent = 0
        hold = max((len(s) for s in stops), default=1) - 1
        for col in self._sample_ids([prompt], max_new_tokens, **sampling):
            ids.append(int(col[0]))
            text = self.tokenizer_.decode(ids)
            cut = _cut(text, stops)
            if len(cut) < len(text):  # a stop string appeared
                if len(cut) > sent:
                    yield cut[sent:]
                return
            safe = len(text) - hold
            while safe > sent and text[safe - 1] == "\ufffd":
                safe -= 1
            if safe > sent:
                yield text[sent:safe]
                sent = safe
        text = self.tokenizer_.decode(ids)
        if len(text) > sent:
            yield text[sent:]


def _cut(text: str, stops: list[str]) -> str:
    """``text`` up to the first stop string."""
    cut = len(text)
    for s in stops:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]

