"""``Seq2SeqLM``: conditional generation p(y | x) = prod_t p(y_t | y_<t, x), an
encoder-decoder Transformer trained from scratch on sentence pairs, as a scikit-learn style
estimator: ``fit(sources, targets)``, ``predict`` (beam search), ``generate``,
``log_likelihood``, ``perplexity``, ``score`` (corpus BLEU), ``save``/``load``.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import torch

from hybridnlp.exceptions import NotFittedError
from hybridnlp.lm import make_tokenizer
from hybridnlp.lm.decoding import (
    FusedScorer,
    NGramStepper,
    PrefixStepper,
    batch_beam_search,
    length_normaliser,
    sample,
)
from hybridnlp.neural import NeuralEstimator, held_out_rows
from hybridnlp.nn.seq2seq import ARCHITECTURES, Seq2SeqConfig
from hybridnlp.seq2seq.metrics import corpus_bleu
from hybridnlp.seq2seq.pairs import PairBatches, check_pairs, check_side
from hybridnlp.text import load_tokenizer
from hybridnlp.train.data import pad_sequences
from hybridnlp.utils.saving import Saveable
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["Seq2SeqLM"]

_FIELDS = tuple(f for f in Seq2SeqConfig.__dataclass_fields__ if f != "vocab_size")


class Seq2SeqLM(Saveable, NeuralEstimator):
    """An encoder-decoder Transformer for p(y | x) (translation, any text-to-text task),
    trained from scratch: pre-norm blocks, one joint byte-level BPE vocabulary for both sides
    (trained in ``fit``), tied input/output embeddings, label smoothing, warmup, batches of
    pairs of similar length.

    The parameters shared by every neural estimator (budgets, validation, device, checkpoints,
    ``optimizer__*``, ``trainer__*``, ``module__*``) are those of
    :mod:`hybridnlp.neural.base`; their defaults here are below.

    Parameters
    ----------
    preset : str, dict or Seq2SeqConfig, default="small"
        A preset of :data:`hybridnlp.nn.seq2seq.SEQ2SEQ_PRESETS` ("tiny", "small": the CPU
        default, "base": Transformer-base for GPUs) or config fields; ``module__<field>=``
        overrides one (``module__n_encoder_layers=4``, ``module__label_smoothing=0.0``).
    tokenizer : "bpe", "char", "word" or a trained Tokenizer, default="bpe"
        One vocabulary for sources and targets, trained on both sides of the training pairs.
    vocab_size : int, default=8000
        BPE vocabulary size.
    num_beams : int, default=5
        Beam size of ``predict`` (and of ``generate`` unless given).
    length_penalty : float, default=0.6
        GNMT's alpha: hypotheses are ranked by log p / ((5 + |y|) / 6) ** alpha.
    max_length_ratio : float, default=1.5
        A translation has at most ``ceil(max_length_ratio * source tokens) + 10`` tokens (and
        fits ``max_len``), unless ``generate`` gets ``max_new_tokens``.
    architecture : {"encoder_decoder", "prefix_lm"}, default="encoder_decoder"
        The encoder-decoder Transformer, or one decoder-only stack of as many layers over
        ``source <bos> target`` (the source visible in both directions, the loss on the
        target): p(y|x) as a prefix LM. Compared at equal size and time in RESULTS.md.
    trainer__optimizer : {"muon", "adamw"}, default="muon"
        "muon": Muon on the encoder's and decoder's matrices and AdamW on the embedding and
        norms, at one rate (:class:`~hybridnlp.train.optim.Muon`); in the same time it
        learnt far more than AdamW alone, which diverges at Muon's rate (RESULTS.md,
        "Translation").
    optimizer__lr, optimizer__betas : 3e-3, (0.9, 0.98)
        The rate chosen on Multi30k dev BLEU with a 10-minute budget (RESULTS.md); AdamW
        alone wants 1e-3 (``trainer__optimizer="adamw", optimizer__lr=1e-3``).
    trainer__warmup, trainer__min_lr_ratio : 0.05, 0.0
        Warmup share of the budget, then cosine decay to zero.

    Attributes
    ----------
    model_ : Seq2SeqTransformer or PrefixLM
    tokenizer_ : Tokenizer
    config_ : Seq2SeqConfig
    history_ : list of dict, one row per epoch
    val_loss_ : float or None, mean negative log-likelihood per target token on validation

    Examples
    --------
    >>> pairs = [("one two", "eins zwei"), ("two one", "zwei eins")] * 20
    >>> src, tgt = zip(*pairs)
    >>> mt = Seq2SeqLM(preset="tiny", tokenizer="word", max_epochs=2, validation_fraction=None)
    >>> mt = mt.fit(list(src), list(tgt))
    >>> len(mt.predict(["one two"]))
    1
    """

    _module_fields = _FIELDS

    def __init__(self, *, preset="small", tokenizer="bpe", vocab_size: int = 8000,
                 num_beams: int = 5, length_penalty: float = 0.6,
                 max_length_ratio: float = 1.5, architecture: str = "encoder_decoder",
                 max_epochs: int = 20, batch_size: int = 64,
                 optimizer__lr: float = 3e-3, optimizer__betas=(0.9, 0.98),
                 trainer__warmup: float = 0.05, trainer__min_lr_ratio: float = 0.0,
                 trainer__optimizer: str = "muon", **kwargs):
        self.preset = preset
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.max_length_ratio = max_length_ratio
        self.architecture = architecture
        super().__init__(max_epochs=max_epochs, batch_size=batch_size,
                         optimizer__lr=optimizer__lr, optimizer__betas=optimizer__betas,
                         trainer__warmup=trainer__warmup,
                         trainer__min_lr_ratio=trainer__min_lr_ratio,
                         trainer__optimizer=trainer__optimizer, **kwargs)

    # ------------------------------------------------------------------ parameters

    def _config(self, vocab_size: int) -> Seq2SeqConfig:
        if isinstance(self.preset, Seq2SeqConfig):
            base = self.preset.to_dict()
        elif isinstance(self.preset, dict):
            base = dict(self.preset)
        else:
            base = Seq2SeqConfig.from_preset(self.preset).to_dict()
        return Seq2SeqConfig.from_dict({**base, **self._module_overrides(),
                                        "vocab_size": vocab_size})

    def _check_params(self) -> None:
        """The settings that need no data, checked before any work (at ``fit`` and when a
        config is loaded)."""
        check_number("vocab_size", self.vocab_size, int, low=260)
        check_number("num_beams", self.num_beams, int, low=1)
        check_number("length_penalty", self.length_penalty, float, low=0)
        check_number("max_length_ratio", self.max_length_ratio, float, low=0, low_open=True)
        check_choice("architecture", self.architecture, tuple(ARCHITECTURES))
        self._config(self.vocab_size)  # preset and module__ fields
        super()._check_params()

    # ------------------------------------------------------------------ fit

    def _encode(self, texts: list[str], keep: int, what: str) -> list[list[int]]:
        """Token ids, cut to ``keep`` with a warning that counts the texts cut."""
        ids = self.tokenizer_.encode_batch(texts)
        cut = sum(len(i) > keep for i in ids)
        if cut:
            warnings.warn(f"{cut} of {len(ids)} {what} are longer than {keep} tokens and were "
                          f"truncated; raise module__max_len (now {self.config_.max_len}) to "
                          f"keep them whole.", UserWarning, stacklevel=3)
        return [i[:keep] for i in ids]

    def _pair_ids(self, sources, targets):
        keep = self.config_.max_len
        return (self._encode(sources, keep, "sources"),
                self._encode(targets, keep - 1, "targets"))

    def fit(self, X, y, *, validation_data=None, resume: bool = False) -> Seq2SeqLM:
        """Train on sources ``X`` and targets ``y`` (lists of str, one target per source).

        ``validation_data=(sources, targets)`` gives the validation loss (and early stopping
        with ``patience``; the best epoch's weights are kept); without it,
        ``validation_fraction`` of the pairs is held out. ``resume=True`` continues from the
        checkpoint in ``checkpoint_dir``.
        """
        self._check_params()
        src, tgt = check_pairs(X, y)
        seed = self._seed()
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (sources, targets).")
            val = check_pairs(*validation_data, names=("validation_data[0]",
                                                       "validation_data[1]"))
        elif self.validation_fraction:
            train, held = held_out_rows(len(src), self.validation_fraction, seed,
                                        what="pairs")
            val = ([src[i] for i in held], [tgt[i] for i in held])
            src, tgt = [src[i] for i in train], [tgt[i] for i in train]
        else:
            val = None
        tok = make_tokenizer(self.tokenizer, self.vocab_size)
        if not tok.is_trained:
            tok.train([*src, *tgt])
        config = self._config(tok.vocab_size)
        self.tokenizer_, self.config_ = tok, config
        loader = PairBatches(*self._pair_ids(src, tgt), batch_size=self.batch_size,
                             shuffle=True, seed=seed)
        val_loader = None
        if val is not None:
            val_loader = PairBatches(*self._pair_ids(*val), batch_size=self.batch_size,
                                     shuffle=False, seed=seed)
        trainer = self._make_trainer(seed, has_val=val_loader is not None)
        model = trainer.build_module(lambda: ARCHITECTURES[self.architecture](config))
        self._checkpoint_tokenizer(tok, resume)
        trainer.fit(model, loader, val_loader, resume=resume,
                    config={"seq2seq": config.to_dict()})
        model.eval()
        self.model_ = model
        self.history_ = list(trainer.history)
        self.val_loss_ = None
        if val is not None:
            total, n = self._log_likelihood_ids(*self._pair_ids(*val))
            self.val_loss_ = -total / max(n, 1)
        return self

    # ------------------------------------------------------------------ scoring

    @torch.no_grad()
    def _log_likelihood_ids(self, src_ids, tgt_ids) -> tuple[float, int]:
        batches = PairBatches(src_ids, tgt_ids, batch_size=max(self.batch_size, 64),
                              shuffle=False, seed=0)
        total, n = 0.0, 0
        for batch in batches:
            batch = {k: v.to(self._device) for k, v in batch.items()}
            logits, _ = self.model_(**batch)  # (N, V) at the real target positions
            targets = batch["targets"][batch["targets"] != -1]
            lp = torch.log_softmax(logits.float(), dim=-1).gather(1, targets[:, None])
            total += float(lp.double().sum())
            n += len(targets)
        return total, n

    def log_likelihood(self, X, y) -> tuple[float, int]:
        """Total log p(y | x) (nats) over the pairs, and the number of target tokens scored
        (each target's tokens and its end)."""
        check_fitted(self, "model_")
        src, tgt = check_pairs(X, y)
        return self._log_likelihood_ids(*self._pair_ids(src, tgt))

    def perplexity(self, X, y) -> float:
        """exp(mean negative log-likelihood per target token) of the pairs."""
        total, n = self.log_likelihood(X, y)
        return math.exp(-total / max(n, 1))

    def score(self, X, y) -> float:
        """Corpus BLEU (sacreBLEU, detokenised) of ``predict(X)`` against ``y``, so model
        selection (``GridSearchCV``) selects on BLEU."""
        src, tgt = check_pairs(X, y)
        return corpus_bleu(self.predict(src), tgt).score

    # ------------------------------------------------------------------ generation

    def predict(self, X, *, batch_size: int = 64, progress: bool = False) -> list[str]:
        """Translations of the sources ``X`` by beam search (``num_beams``,
        ``length_penalty``)."""
        return self.generate(X, batch_size=batch_size, progress=progress)

    def _suppress(self) -> list[int]:
        t = self.tokenizer_
        return [t.pad_id, t.bos_id, t.sep_id, *([] if t.kind == "whitespace" else [t.unk_id])]

    def generate(self, X, *, max_new_tokens: int | None = None, min_new_tokens: int = 0,
                 num_beams: int | None = None, length_penalty: float | None = None,
                 no_repeat_ngram_size: int = 0, do_sample: bool = False,
                 temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, repetition_penalty: float = 1.0,
                 num_return_sequences: int = 1, seed: int | None = None,
                 use_cache: bool = True, batch_size: int = 64, progress: bool = False,
                 lm=None, lm_weight: float = 0.0, return_scores: bool = False):
        """Generate a target for each source of ``X`` (a str, or a list of str).

        Beam search with ``num_beams`` (default: the estimator's) and GNMT's
        ``length_penalty``; ``num_beams=1`` is greedy, or sampling with ``do_sample=True``
        (``temperature``, ``top_k``, ``top_p``, ``repetition_penalty``, ``seed``). A target
        has at most ``max_new_tokens`` tokens (default: relative to its source,
        ``max_length_ratio``). ``no_repeat_ngram_size`` bans repeating an n-gram (beam
        search). Sources are decoded ``batch_size`` at a time, similar lengths together.
        ``lm`` (a fitted ``NGramLM`` or ``CausalLM`` over this model's tokenizer) with
        ``lm_weight`` adds ``lm_weight * log p_lm(y)`` to the beam scores (shallow fusion).
        Returns a str per source (a list of ``num_return_sequences`` for each when > 1; with
        ``return_scores``, (text, score) pairs, the score being log p(text | source) divided
        by GNMT's length normaliser, for beams, greedy and sampled output alike).
        """
        check_fitted(self, "model_")
        single = isinstance(X, str)
        src = check_side([X] if single else X, "X")
        beams = self.num_beams if num_beams is None else num_beams
        alpha = self.length_penalty if length_penalty is None else length_penalty
        check_number("num_beams", beams, int, low=1)
        check_number("num_return_sequences", num_return_sequences, int, low=1,
                     high=beams if not do_sample else None)
        check_number("max_new_tokens", max_new_tokens, int, low=1, none_ok=True)
        check_number("min_new_tokens", min_new_tokens, int, low=0)
        check_number("no_repeat_ngram_size", no_repeat_ngram_size, int, low=0)
        check_number("batch_size", batch_size, int, low=1)
        if lm is not None:
            self._check_lm(lm)
        ids = self._encode(src, self.config_.max_len, "sources")
        room = self.config_.max_len - 1  # the decoder's positions after <bos>
        limits = [min(room, max_new_tokens or math.ceil(self.max_length_ratio * len(i)) + 10)
                  for i in ids]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: list = [None] * len(ids)
        generator = None if seed is None else torch.Generator(
            device=self._device).manual_seed(seed)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(ids), desc="translating", unit="sentence")
        for b in range(0, len(order), batch_size):
            chunk = order[b:b + batch_size]
            if do_sample or beams == 1:
                found = self._sample([ids[i] for i in chunk], [limits[i] for i in chunk],
                                     num_return_sequences, do_sample=do_sample,
                                     temperature=temperature, top_k=top_k, top_p=top_p,
                                     repetition_penalty=repetition_penalty,
                                     generator=generator, use_cache=use_cache,
                                     min_new_tokens=min_new_tokens, lm=lm, lm_weight=lm_weight)
                if return_scores:  # what beam search ranks by: log p(y | x), length-normalised
                    found = [[(h, self._sequence_score(ids[i], h, alpha)) for h, _ in hyps]
                             for i, hyps in zip(chunk, found, strict=True)]
            else:
                found = self._beam([ids[i] for i in chunk], [limits[i] for i in chunk],
                                   beams, alpha, num_return_sequences, no_repeat_ngram_size,
                                   min_new_tokens, use_cache, lm, lm_weight)
            for i, hyps in zip(chunk, found, strict=True):
                texts = [(self.tokenizer_.decode(h), s) for h, s in hyps]
                texts = texts if return_scores else [t for t, _ in texts]
                out[i] = texts if num_return_sequences > 1 else texts[0]
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out[0] if single else out

    def _check_lm(self, lm) -> None:
        tok = getattr(lm, "tokenizer_", None)
        if tok is None:
            raise NotFittedError("lm is not fitted; fit it on target-side text first.")
        if tok != self.tokenizer_:
            raise ValueError("lm was trained with another tokenizer; fit it with "
                             "tokenizer=<this model>.tokenizer_ so both score the same "
                             "tokens.")

    def _stepper(self, src_ids, rows: int, max_len: int, use_cache: bool, lm, lm_weight):
        pad = self.tokenizer_.pad_id
        src, mask = pad_sequences(src_ids, pad)
        src, mask = src.to(self._device), mask.to(self._device)
        step = self.model_.stepper(src, mask, rows, max_len, use_cache=use_cache)
        if lm is None or not lm_weight:
            return step
        eos = self.tokenizer_.eos_id
        if hasattr(lm, "next_token_probs"):  # an NGramLM
            part = NGramStepper(lm, start=1, context=(eos,))
        else:  # a CausalLM: its GPT reads <eos> (a document start) then the target
            part = PrefixStepper(lm.model_, len(src_ids) * rows, start=1, prefix=[eos])
        return FusedScorer(step, [(part, lm_weight)])

    def _beam(self, src_ids, limits, beams, alpha, k, no_repeat, min_new, use_cache, lm,
              lm_weight):
        stepper = self._stepper(src_ids, beams, max(limits) + 1, use_cache, lm, lm_weight)
        start = torch.full((len(src_ids), 1), self.tokenizer_.bos_id, dtype=torch.long,
                           device=self._device)
        return batch_beam_search(stepper, start, limits, num_beams=beams, length_penalty=alpha,
                                 length_norm="gnmt", eos_id=self.tokenizer_.eos_id,
                                 suppress=self._suppress(), min_new_tokens=min_new,
                                 no_repeat_ngram_size=no_repeat, num_return_sequences=k)

    def _sequence_score(self, src_ids, hyp_ids, alpha: float) -> float:
        """log p(hyp and its end | source) under the translation model, divided by GNMT's
        length normaliser as beam search divides its scores."""
        total, _ = self._log_likelihood_ids([src_ids], [hyp_ids])
        return total / length_normaliser(alpha, "gnmt")(len(hyp_ids))

    def _sample(self, src_ids, limits, k, *, generator, use_cache, lm, lm_weight, **sampling):
        rows = len(src_ids) * k
        stepper = self._stepper(src_ids, k, max(limits) + 1, use_cache, lm, lm_weight)
        seq = torch.full((rows, max(limits) + 1), self.tokenizer_.pad_id, dtype=torch.long,
                         device=self._device)
        seq[:, 0] = self.tokenizer_.bos_id
        eos = self.tokenizer_.eos_id
        step = stepper.log_probs if hasattr(stepper, "log_probs") else stepper.logits
        cols = list(sample(step, seq, 1, max(limits), suppress=self._suppress(), eos_id=eos,
                           generator=generator, penalty_from=1, **sampling))
        found = []
        for r in range(len(src_ids)):
            hyps = []
            for j in range(k):
                ids = [int(c[r * k + j]) for c in cols][:limits[r]]
                ids = ids[:ids.index(eos)] if eos in ids else ids
                hyps.append((ids, 0.0))
            found.append(hyps)
        return found

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.safetensors``, ``config.json`` and ``tokenizer.json`` into ``path``
        (a directory, created if needed); each file is written atomically."""
        check_fitted(self, "model_")
        path = self._save_module(path, "Seq2SeqLM", {
            "seq2seq": self.config_.to_dict(), "val_loss": self.val_loss_,
            "history": self.history_}, skip=("lm_head.weight",))  # tied to wte.weight
        self.tokenizer_.save(path / "tokenizer.json")

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu") -> Seq2SeqLM:
        """Read a model written by ``save`` (weights via safetensors; nothing is unpickled)."""
        path = Path(path)
        file = path / "config.json"
        meta = cls._read_meta(path)
        try:
            config = Seq2SeqConfig.from_dict(meta["seq2seq"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{str(file)!r}: field 'seq2seq' is invalid: {err}") from None
        tok = load_tokenizer(path / "tokenizer.json")
        if tok.vocab_size != config.vocab_size:
            raise ValueError(f"{str(path / 'tokenizer.json')!r} has {tok.vocab_size} tokens "
                             f"but the model's vocab_size is {config.vocab_size}; the files "
                             f"come from different models.")
        architecture = meta.get("params", {}).get("architecture", "encoder_decoder")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"{str(file)!r}: field 'params.architecture' is "
                             f"{architecture!r}, expected one of {sorted(ARCHITECTURES)}.")
        mt = cls._from_saved(meta, lambda: ARCHITECTURES[architecture](config), path,
                             device)
        mt.tokenizer_, mt.config_ = tok, config
        mt.val_loss_ = meta.get("val_loss")
        return mt
