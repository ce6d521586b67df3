"""``ExtractiveReader``: start and end heads over the project's Transformer encoder, trained
here on (question, passage, answer) triples through the one Trainer: ``<bos> question <sep>
passage window`` with segment and exact-match embeddings, windows of ``max_len`` tokens
moving by ``stride`` over long passages, the best span of at most ``max_answer_words`` over
all windows, word-vector initialisation from unlabelled text allowed."""

from __future__ import annotations

import os
from collections import Counter

import torch

from hybridnlp.neural import NeuralEstimator, held_out_rows, init_word_vectors
from hybridnlp.nn import EncoderConfig
from hybridnlp.nn.encoder import SpanExtractor
from hybridnlp.qa._answers import answer_dicts, old_fit_order, reading_data
from hybridnlp.qa.readers import _STOP, Span, check_pairs, word_spans
from hybridnlp.text import Tokenizer
from hybridnlp.train.data import Batches, BucketBatchSampler, pad_sequences
from hybridnlp.utils.deprecation import warn_renamed_function
from hybridnlp.utils.saving import Saveable
from hybridnlp.utils.validation import check_fitted, check_number

__all__ = ["ExtractiveReader"]

_FIELDS = tuple(f for f in EncoderConfig.__dataclass_fields__
                if f not in ("vocab_size", "max_len", "n_classes", "n_extra", "pooling"))
N_SPECIAL = 5  # pad, bos, eos, unk, sep: the ids every hybridnlp vocabulary starts with


class _Windows(Batches):
    """The windows of (question, passage) pairs as training or reading batches."""

    def __init__(self, rows: list[dict], batch_size: int, shuffle: bool, seed: int):
        self.rows = rows
        self.sampler = BucketBatchSampler([len(r["ids"]) for r in rows], batch_size,
                                          shuffle=shuffle, seed=seed)

    def batch(self, index: list[int]) -> dict:
        rows = [self.rows[i] for i in index]
        idx, mask = pad_sequences([r["ids"] for r in rows], Tokenizer.pad_id)
        segment, _ = pad_sequences([r["segment"] for r in rows], 0)
        match, _ = pad_sequences([r["match"] for r in rows], 0)
        out = {"idx": idx, "mask": mask, "segment": segment, "match": match}
        if "start" in rows[0]:
            out["start"] = torch.tensor([r["start"] for r in rows])
            out["end"] = torch.tensor([r["end"] for r in rows])
        return out


class ExtractiveReader(Saveable, NeuralEstimator):
    """A Transformer encoder with start / end heads, trained from scratch.

    Parameters
    ----------
    preset : str, default="small"
        An encoder preset (:data:`hybridnlp.nn.ENCODER_PRESETS`); ``module__<field>``
        overrides a field.
    max_len : int, default=256
        Tokens per window (question, separators and passage words).
    stride : int, default=128
        Passage words between the starts of two windows of a long passage.
    max_answer_words : int, default=15
    max_question_words : int, default=48
        A longer question is refused (it would leave the window no room for the passage).
    vocab_size : int, default=30000
        Most frequent training words kept (the rest read as ``<unk>``).
    word_vectors : path, KeyedVectors or Word2VecFeatures, optional
        (``embeddings=`` before; it warns for one release.) Word vectors (e.g. trained on
        unlabelled passages) that initialise the embeddings.

    Attributes: ``model_``, ``vocab_`` (word -> id), ``config_``, ``history_``.
    """

    _module_fields = _FIELDS
    _learns_from_answers = True
    _renamed = {"embeddings": "word_vectors"}  # the old name warns for one release

    def __init__(self, *, preset="small", max_len: int = 256, stride: int = 128,
                 max_answer_words: int = 15, max_question_words: int = 48,
                 vocab_size: int = 30000, word_vectors=None, max_epochs: int = 10,
                 batch_size: int = 32, optimizer__lr: float = 1e-3, **kwargs):
        self.preset = preset
        self.max_len = max_len
        self.stride = stride
        self.max_answer_words = max_answer_words
        self.max_question_words = max_question_words
        self.vocab_size = vocab_size
        self.word_vectors = word_vectors
        super().__init__(max_epochs=max_epochs, batch_size=batch_size,
                         optimizer__lr=optimizer__lr, **kwargs)

    def _config(self, vocab_size: int) -> EncoderConfig:
        return EncoderConfig.from_preset(self.preset, **self._module_overrides(),
                                         vocab_size=vocab_size, max_len=self.max_len)

    def _check_params(self) -> None:
        check_number("max_len", self.max_len, int, low=16)
        check_number("stride", self.stride, int, low=1)
        check_number("max_answer_words", self.max_answer_words, int, low=1)
        check_number("max_question_words", self.max_question_words, int, low=1,
                     high=self.max_len // 2)
        check_number("vocab_size", self.vocab_size, int, low=1)
        self._config(N_SPECIAL + 1)
        super()._check_params()

    # ------------------------------------------------------------------ windows

    def _ids(self, words: list[str]) -> list[int]:
        return [self.vocab_.get(w, Tokenizer.unk_id) for w in words]

    def _windows(self, question: str, passage: str, qi: int, answer=None) -> list[dict]:
        """The windows of one pair; with ``answer`` (start, text), their start / end labels
        (0, 0 where the window does not hold the whole answer)."""
        qwords = [question[a:b].lower() for a, b in word_spans(question)]
        if len(qwords) > self.max_question_words:
            raise ValueError(f"questions[{qi}] has {len(qwords)} words, more than "
                             f"max_question_words={self.max_question_words}; shorten it or "
                             f"raise max_question_words.")
        spans = word_spans(passage)
        pwords = [passage[a:b].lower() for a, b in spans]
        qset = {w for w in qwords if w[0].isalnum() and w not in _STOP}
        head = [Tokenizer.bos_id, *self._ids(qwords), Tokenizer.sep_id]
        room = self.max_len - len(head)
        first = last = None
        if answer is not None:
            start, text = answer
            end = start + len(text)
            inside = [k for k, (a, b) in enumerate(spans) if a < end and b > start]
            if inside:
                first, last = inside[0], inside[-1]
        rows, begin = [], 0
        while True:
            stop = min(begin + room, len(pwords))
            row = {"ids": head + self._ids(pwords[begin:stop]),
                   "segment": [0] * len(head) + [1] * (stop - begin),
                   "match": [0] * len(head) + [int(w in qset) for w in pwords[begin:stop]],
                   "q": qi, "offset": begin - len(head), "spans": spans}
            if answer is not None:
                ok = first is not None and begin <= first and last < stop
                row["start"] = first - begin + len(head) if ok else 0
                row["end"] = last - begin + len(head) if ok else 0
            rows.append(row)
            if stop >= len(pwords):
                return rows
            begin += self.stride

    # ------------------------------------------------------------------ fit

    @old_fit_order("reader")
    def fit(self, questions, passages, answers, *, passage_index=None, validation_data=None,
            resume: bool = False):
        """Train on each question's first reference answer in its passage (the one reader
        ``fit`` order: :mod:`hybridnlp.qa._answers`); ``validation_data=(questions,
        passages, answers)`` (else ``validation_fraction`` of the questions) for the
        validation loss."""
        self._check_params()
        data = reading_data(questions, passages, answers, passage_index)
        qs, ps = data.questions, data.passages
        counts = Counter(t[a:b].lower() for t in {*qs, *ps} for a, b in word_spans(t))
        words = [w for w, _ in counts.most_common(self.vocab_size)]
        self.vocab_ = {w: N_SPECIAL + i for i, w in enumerate(words)}
        rows = [r for i, (q, p, s, a) in enumerate(zip(qs, ps, data.starts, data.answers,
                                                       strict=True))
                for r in self._windows(q, p, i, (s, a))]
        seed = self._seed()
        if validation_data is not None:
            if len(validation_data) == 4:  # (questions, passages, answer_starts, answers)
                warn_renamed_function("ExtractiveReader.fit(validation_data=(questions, "
                                      "passages, answer_starts, answers))",
                                      "validation_data=(questions, passages, answers)")
                vq, vp, vs, va = validation_data
                validation_data = (vq, vp, answer_dicts(vs, va))
            val = reading_data(*validation_data)
            val_rows = [r for i, (q, p, s, a) in enumerate(zip(
                val.questions, val.passages, val.starts, val.answers, strict=True))
                for r in self._windows(q, p, i, (s, a))]
        elif self.validation_fraction:
            _, held = held_out_rows(len(qs), self.validation_fraction, seed, what="questions")
            held = set(held.tolist())
            val_rows = [r for r in rows if r["q"] in held]
            rows = [r for r in rows if r["q"] not in held]
        else:
            val_rows = []
        config = self._config(N_SPECIAL + len(words))
        trainer = self._make_trainer(seed, has_val=bool(val_rows))
        model = trainer.build_module(lambda: SpanExtractor(config))
        if self.word_vectors is not None:
            self._init_embeddings(model)
        loader = _Windows(rows, self.batch_size, True, seed)
        val = _Windows(val_rows, self.batch_size, False, seed) if val_rows else None
        self._check_resume(resume)
        trainer.fit(model, loader, val, resume=resume, config={"encoder": config.to_dict()})
        self.model_, self.config_ = model.eval(), config
        self.history_ = list(trainer.history)
        return self

    def _init_embeddings(self, model) -> None:
        init_word_vectors(model.encoder.tok_emb.weight, self.vocab_, self.word_vectors,
                          first_id=N_SPECIAL)

    # ------------------------------------------------------------------ reading

    @torch.no_grad()
    def predict(self, questions, passages) -> list[Span]:
        """The best span of each passage for its question (score: start + end logits)."""
        check_fitted(self, "model_")
        qs, ps = check_pairs(questions, passages)
        rows = [r for i, (q, p) in enumerate(zip(qs, ps, strict=True))
                for r in self._windows(q, p, i)]
        best = [Span(0, 0, float("-inf")) for _ in qs]
        device = self._device
        batches = _Windows(rows, max(self.batch_size, 64), False, 0)
        L = self.max_answer_words
        for index, batch in batches.indexed():
            batch = {k: v.to(device) for k, v in batch.items()}
            logits, _ = self.model_(**batch)
            s, e = logits[..., 0], logits[..., 1]  # (B, T)
            T = s.shape[1]
            pair = s[:, :, None] + e[:, None, :]  # (B, T, T): start i, end j
            band = torch.ones(T, T, dtype=torch.bool, device=device).triu().tril(L - 1)
            band[0, :] = False  # position 0 is "not in this window"
            pair = pair.masked_fill(~band, float("-inf"))
            flat = pair.view(len(index), -1).max(dim=1)
            for r, score, k in zip(index, flat.values.tolist(), flat.indices.tolist(),
                                   strict=True):
                row = rows[r]
                if score == float("-inf") or score <= best[row["q"]].score:
                    continue
                i, j = divmod(k, T)
                spans = row["spans"]
                a, b = spans[i + row["offset"]][0], spans[j + row["offset"]][1]
                best[row["q"]] = Span(a, b, score)
        return best

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """``model.safetensors`` + ``config.json`` (parameters, encoder, vocabulary)."""
        check_fitted(self, "model_")
        self._save_module(path, "ExtractiveReader", {
            "encoder": self.config_.to_dict(), "vocab": list(self.vocab_),
            "history": self.history_})

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu") -> ExtractiveReader:
        """Read a reader written by ``save`` (weights via safetensors; nothing is unpickled)."""
        meta = cls._read_meta(path)
        config = EncoderConfig.from_dict(meta["encoder"])
        reader = cls._from_saved(meta, lambda: SpanExtractor(config), path, device)
        reader.config_ = config
        reader.vocab_ = {w: N_SPECIAL + i for i, w in enumerate(meta["vocab"])}
        return reader
