"""The windows an :class:`~hybridnlp.qa.ExtractiveReader` reads with a local pretrained
encoder (``pretrained=DIR``): the directory's own tokenizer, ``<cls> question <sep> passage
window <sep>`` as the model was pretrained on pairs (the tokenizer's own template), windows of
``max_len`` tokens whose passage parts start ``stride`` tokens apart (Devlin et al.'s SQuAD
recipe; the tokenizer's truncation with overflow, as Hugging Face's QA examples use it), each
position's character offsets in the passage kept to map a span back."""

from __future__ import annotations

__all__ = ["PretrainedWindowCutter"]


class PretrainedWindowCutter:
    """Windows of (question, passage) pairs for a Hugging Face fast tokenizer
    (:class:`~hybridnlp.pretrained.local.HFTokenizer`)."""

    def __init__(self, tokenizer, max_len: int, stride: int, max_question_tokens: int):
        from tokenizers import Tokenizer

        self.lowercase = tokenizer.lowercase
        self.max_len = min(max_len, tokenizer.max_length)
        self.stride = stride
        self.max_question_tokens = max_question_tokens
        self._tok = Tokenizer.from_str(tokenizer.json)
        self._tok.no_padding()
        self._special = self._tok.num_special_tokens_to_add(is_pair=True)

    def _text(self, text: str) -> str:
        """What the tokenizer reads: lower-cased where the model was (when that keeps every
        character's offset)."""
        if self.lowercase:
            low = text.lower()
            return low if len(low) == len(text) else text
        return text

    def __call__(self, question: str, passage: str, qi: int, answer=None) -> list[dict]:
        """The windows of one pair, each ``ids``, ``segment`` (the tokenizer's type ids),
        ``chars`` (per position its (start, end) characters in the passage, None off the
        passage) and ``q``; with ``answer`` (start, text), ``start`` / ``end`` token labels
        (0, the first token, where the window does not hold the whole answer)."""
        question = self._text(question)
        n_q = len(self._tok.encode(question, add_special_tokens=False).ids)
        if n_q > self.max_question_tokens:
            raise ValueError(f"questions[{qi}] has {n_q} tokens, more than "
                             f"max_question_words={self.max_question_tokens}; shorten it or "
                             f"raise max_question_words.")
        room = self.max_len - n_q - self._special
        if room < 8:
            raise ValueError(f"questions[{qi}] leaves {room} of max_len={self.max_len} tokens "
                             f"for the passage; raise max_len or shorten the question.")
        overlap = max(0, room - max(1, min(self.stride, room)))
        self._tok.enable_truncation(self.max_len, stride=overlap, strategy="only_second")
        first = self._tok.encode(question, self._text(passage))
        rows = []
        for enc in (first, *first.overflowing):
            chars = [o if s == 1 else None
                     for o, s in zip(enc.offsets, enc.sequence_ids, strict=True)]
            row = {"ids": enc.ids, "segment": enc.type_ids, "chars": chars, "q": qi}
            if answer is not None:
                start, text = answer
                end = start + len(text)
                inside = [k for k, c in enumerate(chars) if c is not None and c[0] < end
                          and c[1] > start and c[1] > c[0]]
                held = inside and chars[inside[0]][0] <= start and chars[inside[-1]][1] >= end
                row["start"], row["end"] = (inside[0], inside[-1]) if held else (0, 0)
            rows.append(row)
        return rows
