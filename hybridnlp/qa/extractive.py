"""``ExtractiveReader``: start and end heads over a Transformer encoder, trained on
(question, passage, answer) triples through the one Trainer: the project's encoder from
scratch (``<bos> question <sep> passage window`` with segment and exact-match embeddings,
word-vector initialisation from unlabelled text allowed), or a local pretrained Hugging Face
encoder fine-tuned (``pretrained=DIR``, its own tokenizer and pair template:
:mod:`hybridnlp.qa.pretrained_reader`); windows of ``max_len`` tokens moving by ``stride``
over long passages, the best span of at most ``max_answer_words`` over all windows."""

from __future__ import annotations

import os
from collections import Counter

import torch

from hybridnlp.neural import NeuralEstimator, held_out_rows, init_word_vectors
from hybridnlp.nn import EncoderConfig
from hybridnlp.nn.encoder import SpanExtractor
from hybridnlp.qa._answers import ReadingData, answer_dicts, old_fit_order, reading_data
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

    def __init__(self, rows: list[dict], batch_size: int, shuffle: bool, seed: int,
                 pad_id: int = Tokenizer.pad_id):
        self.rows = rows
        self.pad_id = pad_id
        self.sampler = BucketBatchSampler([len(r["ids"]) for r in rows], batch_size,
                                          shuffle=shuffle, seed=seed)

    def batch(self, index: list[int]) -> dict:
        rows = [self.rows[i] for i in index]
        idx, mask = pad_sequences([r["ids"] for r in rows], self.pad_id)
        segment, _ = pad_sequences([r["segment"] for r in rows], 0)
        out = {"idx": idx, "mask": mask, "segment": segment}
        if "match" in rows[0]:
            out["match"] = pad_sequences([r["match"] for r in rows], 0)[0]
        if "start" in rows[0]:
            out["start"] = torch.tensor([r["start"] for r in rows])
            out["end"] = torch.tensor([r["end"] for r in rows])
        return out


class ExtractiveReader(Saveable, NeuralEstimator):
    """A Transformer encoder with start / end heads: the project's, trained from scratch, or
    a local pretrained one fine-tuned (``pretrained=DIR``).

    Parameters
    ----------
    pretrained : path, optional
        A local Hugging Face directory (BERT, RoBERTa, XLM-R, MiniLM ... with a fast
        tokenizer) fine-tuned as the reader; a directory holding an
        ``AutoModelForQuestionAnswering`` keeps its start / end layer (and
        :meth:`from_pretrained` reads one without training). Nothing is downloaded and the
        directory's own code never runs. ``preset``, ``vocab_size`` and ``word_vectors``
        then do not apply, and the window and answer lengths count the tokenizer's tokens.
    preset : str, default="small"
        An encoder preset (:data:`hybridnlp.nn.ENCODER_PRESETS`); ``module__<field>``
        overrides a field.
    max_len : int, default=256
        Tokens per window (question, separators and passage words).
    stride : int, default=128
        Passage tokens between the starts of two windows of a long passage.
    max_answer_words : int, default=15
    max_question_words : int, default=48
        A longer question is refused (it would leave the window no room for the passage).
    vocab_size : int, default=30000
        Most frequent training words kept (the rest read as ``<unk>``).
    word_vectors : path, KeyedVectors or Word2VecFeatures, optional
        (``embeddings=`` before; it warns for one release.) Word vectors (e.g. trained on
        unlabelled passages) that initialise the embeddings.
    optimizer__lr : float, optional
        AdamW's peak learning rate; None: 1e-3 from scratch, 5e-5 with ``pretrained``
        (Devlin et al.'s fine-tuning range).

    Attributes: ``model_``, ``vocab_`` (word -> id; from scratch) or ``tokenizer_`` (the
    pretrained directory's), ``config_``, ``history_``.
    """

    _module_fields = _FIELDS
    _learns_from_answers = True
    _renamed = {"embeddings": "word_vectors"}  # the old name warns for one release

    def __init__(self, *, pretrained=None, preset="small", max_len: int = 256,
                 stride: int = 128, max_answer_words: int = 15, max_question_words: int = 48,
                 vocab_size: int = 30000, word_vectors=None, max_epochs: int = 10,
                 batch_size: int = 32, optimizer__lr: float | None = None, **kwargs):
        self.pretrained = pretrained
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
        check_number("optimizer__lr", self.optimizer__lr, float, low=0, low_open=True,
                     none_ok=True)
        if self.pretrained is not None:
            from hybridnlp.pretrained.local import resolve_model_dir

            resolve_model_dir(self.pretrained, name="pretrained")
            if self.word_vectors is not None:
                raise ValueError("word_vectors and pretrained cannot be combined: the "
                                 "pretrained encoder brings its own embeddings; drop one of "
                                 "them.")
            fields = sorted(f"module__{k}" for k in self._module_overrides())
            if fields:
                raise ValueError(f"{', '.join(fields)} cannot be set with pretrained=...: the "
                                 f"encoder's shape comes from its config.json.")
        else:
            self._config(N_SPECIAL + 1)
        super()._check_params()

    def _lr(self) -> float:
        if self.optimizer__lr is not None:
            return self.optimizer__lr
        return 5e-5 if self.pretrained is not None else 1e-3

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
                   "q": qi, "chars": [None] * len(head) + spans[begin:stop]}
            if answer is not None:
                ok = first is not None and begin <= first and last < stop
                row["start"] = first - begin + len(head) if ok else 0
                row["end"] = last - begin + len(head) if ok else 0
            rows.append(row)
            if stop >= len(pwords):
                return rows
            begin += self.stride

    # ------------------------------------------------------------------ fit

    def _window_maker(self):
        """What cuts a (question, passage) pair into windows: the scratch vocabulary's
        ``_windows`` or the pretrained tokenizer's :class:`PretrainedWindowCutter`."""
        if getattr(self, "tokenizer_", None) is None:
            return self._windows
        from hybridnlp.qa.pretrained_reader import PretrainedWindowCutter

        return PretrainedWindowCutter(self.tokenizer_, self.max_len, self.stride,
                                 self.max_question_words)

    @property
    def _pad_id(self) -> int:
        tokenizer = getattr(self, "tokenizer_", None)
        return Tokenizer.pad_id if tokenizer is None else tokenizer.pad_id

    def _rows(self, data: ReadingData) -> list[dict]:
        windows = self._window_maker()
        return [r for i, (q, p, s, a) in enumerate(zip(data.questions, data.passages,
                                                       data.starts, data.answers, strict=True))
                for r in windows(q, p, i, (s, a))]

    def _new_module(self, qs: list[str], ps: list[str]):
        """A ``make()`` of the module to train and its config: the pretrained directory's
        encoder (and its start / end layer where it has one), or the project's encoder on
        a vocabulary of the training words."""
        if self.pretrained is not None:
            from hybridnlp.pretrained.local import load_qa_encoder, pack_encoder
            from hybridnlp.pretrained.module import PretrainedSpanExtractor

            encoder, head, self.tokenizer_, _ = load_qa_encoder(self.pretrained,
                                                                 name="pretrained")
            self.vocab_ = None
            config = pack_encoder(encoder)["config"]
            return (lambda: PretrainedSpanExtractor(config, encoder.train(), head)), config
        counts = Counter(t[a:b].lower() for t in {*qs, *ps} for a, b in word_spans(t))
        words = [w for w, _ in counts.most_common(self.vocab_size)]
        self.vocab_ = {w: N_SPECIAL + i for i, w in enumerate(words)}
        self.tokenizer_ = None
        config = self._config(N_SPECIAL + len(words))
        return (lambda: SpanExtractor(config)), config

    @old_fit_order("reader")
    def fit(self, questions, passages, answers, *, passage_index=None, validation_data=None,
            resume: bool = False):
        """Train on each question's first reference answer in its passage (the one reader
        ``fit`` order: :mod:`hybridnlp.qa._answers`); ``validation_data=(questions,
        passages, answers)`` (else ``validation_fraction`` of the questions) for the
        validation loss."""
        self._check_params()
        data = reading_data(questions, passages, answers, passage_index)
        if validation_data is not None:
            if len(validation_data) == 4:  # (questions, passages, answer_starts, answers)
                warn_renamed_function("ExtractiveReader.fit(validation_data=(questions, "
                                      "passages, answer_starts, answers))",
                                      "validation_data=(questions, passages, answers)")
                vq, vp, vs, va = validation_data
                validation_data = (vq, vp, answer_dicts(vs, va))
            validation_data = reading_data(*validation_data)
        make, config = self._new_module(data.questions, data.passages)
        rows = self._rows(data)
        seed = self._seed()
        if validation_data is not None:
            val_rows = self._rows(validation_data)
        elif self.validation_fraction:
            _, held = held_out_rows(len(data.questions), self.validation_fraction, seed,
                                    what="questions")
            held = set(held.tolist())
            val_rows = [r for r in rows if r["q"] in held]
            rows = [r for r in rows if r["q"] not in held]
        else:
            val_rows = []
        trainer = self._make_trainer(seed, has_val=bool(val_rows))
        model = trainer.build_module(make)
        if self.word_vectors is not None:
            self._init_embeddings(model)
        loader = _Windows(rows, self.batch_size, True, seed, self._pad_id)
        val = _Windows(val_rows, self.batch_size, False, seed, self._pad_id) if val_rows \
            else None
        self._check_resume(resume)
        saved = config if isinstance(config, dict) else config.to_dict()
        trainer.fit(model, loader, val, resume=resume, config={"encoder": saved})
        self.model_, self.config_ = model.eval(), config
        self.history_ = list(trainer.history)
        return self

    @classmethod
    def from_pretrained(cls, path, **params) -> ExtractiveReader:
        """A reader that answers with a local, already fine-tuned
        ``AutoModelForQuestionAnswering`` directory as it is (no training); ``params``: the
        reader's window and answer settings."""
        from hybridnlp.pretrained.local import encoder_from_config, load_qa_encoder, pack_encoder
        from hybridnlp.pretrained.module import PretrainedSpanExtractor

        reader = cls(pretrained=path, **params)
        reader._check_params()
        encoder, head, reader.tokenizer_, _ = load_qa_encoder(path, name="pretrained")
        if head is None:
            raise ValueError(f"pretrained={str(path)!r} holds an encoder without a question "
                             f"answering layer (its config.json names no "
                             f"...ForQuestionAnswering architecture); fine-tune it with "
                             f"ExtractiveReader(pretrained=DIR).fit(questions, passages, "
                             f"answers).")
        reader.vocab_ = None
        reader.config_ = pack_encoder(encoder)["config"]
        # a QA model's encoder has no pooler (BertForQuestionAnswering); the base model its
        # saved config rebuilds has one: take that shape (its pooler unused), so the reader
        # saves and loads as a fine-tuned one does
        full = encoder_from_config(reader.config_)
        missing, unexpected = full.load_state_dict(encoder.state_dict(), strict=False)
        if unexpected or any(not k.startswith("pooler.") for k in missing):
            raise ValueError(f"pretrained={str(path)!r}: its encoder's weights do not fit the "
                             f"model its config describes (missing {missing[:3]}, unexpected "
                             f"{unexpected[:3]}).")
        reader.model_ = PretrainedSpanExtractor(reader.config_, full.eval(), head).eval()
        reader.history_ = []
        return reader

    def save_pretrained(self, path):
        """Write a reader fine-tuned from (or read with ``from_pretrained`` from) a local
        pretrained encoder as a Hugging Face directory: ``AutoModelForQuestionAnswering``
        and ``AutoTokenizer`` load it and give its start / end logits;
        ``ExtractiveReader.from_pretrained`` reads it back (``hybridnlp export --to hf``)."""
        from hybridnlp.pretrained.hf_export import save_pretrained_reader

        check_fitted(self, "model_")
        return save_pretrained_reader(self, path)

    def _init_embeddings(self, model) -> None:
        init_word_vectors(model.encoder.tok_emb.weight, self.vocab_, self.word_vectors,
                          first_id=N_SPECIAL)

    # ------------------------------------------------------------------ reading

    @torch.no_grad()
    def predict(self, questions, passages) -> list[Span]:
        """The best span of each passage for its question (score: start + end logits; of
        at most ``max_answer_words`` tokens inside the passage, over all its windows)."""
        check_fitted(self, "model_")
        qs, ps = check_pairs(questions, passages)
        windows = self._window_maker()
        rows = [r for i, (q, p) in enumerate(zip(qs, ps, strict=True))
                for r in windows(q, p, i)]
        best = [Span(0, 0, float("-inf")) for _ in qs]
        device = self._device
        batches = _Windows(rows, max(self.batch_size, 64), False, 0, self._pad_id)
        L = self.max_answer_words
        for index, batch in batches.indexed():
            allowed = torch.zeros(batch["idx"].shape, dtype=torch.bool)
            for b, r in enumerate(index):
                chars = rows[r]["chars"]
                allowed[b, :len(chars)] = torch.tensor([c is not None for c in chars])
            batch = {k: v.to(device) for k, v in batch.items()}
            logits, _ = self.model_(**batch)
            s, e = logits[..., 0].float(), logits[..., 1].float()  # (B, T)
            T = s.shape[1]
            pair = s[:, :, None] + e[:, None, :]  # (B, T, T): start i, end j
            band = torch.ones(T, T, dtype=torch.bool, device=device).triu().tril(L - 1)
            allowed = allowed.to(device)
            ok = band[None] & allowed[:, :, None] & allowed[:, None, :]
            pair = pair.masked_fill(~ok, float("-inf"))
            flat = pair.view(len(index), -1).max(dim=1)
            for r, score, k in zip(index, flat.values.tolist(), flat.indices.tolist(),
                                   strict=True):
                row = rows[r]
                if score == float("-inf") or score <= best[row["q"]].score:
                    continue
                i, j = divmod(k, T)
                best[row["q"]] = Span(row["chars"][i][0], row["chars"][j][1], score)
        return best

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """``model.safetensors`` + ``config.json`` (parameters, encoder, and the vocabulary or
        the pretrained tokenizer's JSON)."""
        check_fitted(self, "model_")
        if getattr(self, "tokenizer_", None) is not None:
            meta = {"pretrained_encoder": self.config_,
                    "tokenizer": self.tokenizer_.__getstate__()}
        else:
            meta = {"encoder": self.config_.to_dict(), "vocab": list(self.vocab_)}
        self._save_module(path, "ExtractiveReader", {**meta, "history": self.history_})

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu") -> ExtractiveReader:
        """Read a reader written by ``save`` (weights via safetensors; nothing is unpickled;
        a fine-tuned pretrained encoder is rebuilt from its saved config, without the
        original directory)."""
        meta = cls._read_meta(path)
        if "pretrained_encoder" in meta:
            from hybridnlp.pretrained.local import HFTokenizer
            from hybridnlp.pretrained.module import PretrainedSpanExtractor

            config, state = meta["pretrained_encoder"], meta.get("tokenizer")
            if not isinstance(config, dict) or not isinstance(state, dict):
                raise ValueError(f"{str(path)!r}: config.json's pretrained_encoder and "
                                 f"tokenizer must be mappings.")
            reader = cls._from_saved(meta, lambda: PretrainedSpanExtractor(config), path,
                                     device)
            try:
                reader.tokenizer_ = HFTokenizer(str(state["json"]), pad_id=int(state["pad_id"]),
                                                lowercase=bool(state["lowercase"]),
                                                max_length=int(state["max_length"]))
            except Exception as err:  # tokenizers raises its own Exception
                raise ValueError(f"{str(path)!r}: the saved tokenizer cannot be read "
                                 f"({type(err).__name__}: {err}).") from None
            reader.config_, reader.vocab_ = config, None
            return reader
        config = EncoderConfig.from_dict(meta["encoder"])
        reader = cls._from_saved(meta, lambda: SpanExtractor(config), path, device)
        reader.config_ = config
        reader.vocab_ = {w: N_SPECIAL + i for i, w in enumerate(meta["vocab"])}
        reader.tokenizer_ = None
        return reader
