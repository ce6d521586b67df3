"""Where a ``TransformerClassifier``'s encoder comes from: one small strategy, three sources.

- :class:`Scratch`: the project's Transformer encoder, trained from random weights on a
  vocabulary (``tokenizer=``) trained on the texts;
- :class:`HFDirectory` (``pretrained=DIR``): a local Hugging Face encoder, fine-tuned, with its
  own tokenizer;
- :class:`OwnGPT` (``init_from=CausalLM``): the project's pretrained GPT, fine-tuned, with its
  tokenizer.

Each checks the settings that concern it, gives the tokenizer and the module, batches texts,
and rebuilds its module from a saved config (``SOURCES[kind]``); the classifier asks
:func:`source_of` and never branches on which it has.
"""

from __future__ import annotations

import copy

from hybridnlp.neural import TextBatches
from hybridnlp.nn import EncoderConfig, SequenceClassifier
from hybridnlp.text import TOKENIZER_KINDS, Tokenizer, make_tokenizer
from hybridnlp.utils.deprecation import warn_deprecated
from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["SOURCES", "HFDirectory", "OwnGPT", "Scratch", "fitted_source", "source_of"]

TOKENIZERS = TOKENIZER_KINDS  # the vocabulary kinds (hybridnlp.text)
_POOLINGS = ("cls", "mean", "max")
_MODULE_FIELDS = ("pooling", "head_dropout")  # the module__ fields a pretrained encoder takes


class _Source:
    kind = ""
    module_type = ""  # the class name of the module it builds
    default_lr = 1e-3

    def check(self, est) -> None:
        """The settings that contradict this source (or that it needs), before any work."""

    def tokenizer(self, est, texts: list[str]):
        """The tokenizer of a new fit on ``texts`` (and what ``module`` will need)."""
        raise NotImplementedError

    def module(self, est, n_extra: int):
        raise NotImplementedError

    def batches(self, est, texts, y_idx, extra, *, shuffle: bool, seed: int) -> TextBatches:
        """Length-bucketed batches of ``est.tokenizer_``'s ids: ``<bos>`` then the ids, cut
        to ``max_len``."""
        ids = est.tokenizer_.encode_batch(texts)
        return TextBatches(ids, y_idx, extra, max_len=est.max_len, batch_size=est.batch_size,
                           shuffle=shuffle, seed=seed, bos_id=Tokenizer.bos_id,
                           pad_id=Tokenizer.pad_id, truncation=est.truncation)

    @staticmethod
    def rebuild(config: dict):
        """The (untrained) module of a saved config."""
        raise NotImplementedError


def _no_word_vectors_with(est, name: str, what: str) -> None:
    if est.word_vectors is not None:
        raise ValueError(f"word_vectors and {name} cannot be combined: {what} brings its own "
                         f"embeddings; drop one of them.")


def _only_head_fields(est, name: str, shape: str, poolings: tuple[str, ...]) -> None:
    other = sorted(f"module__{k}" for k in est._module_overrides() if k not in _MODULE_FIELDS)
    if other:
        raise ValueError(f"{', '.join(other)} cannot be set with {name}=...: {shape}; only "
                         f"module__pooling and module__head_dropout apply.")
    pooling = est._module_overrides().get("pooling")
    if pooling is not None:
        check_choice("module__pooling", pooling, poolings)


class Scratch(_Source):
    """The project's encoder from random weights, on a vocabulary trained on the texts."""

    kind = "encoder"
    module_type = "SequenceClassifier"

    def check(self, est) -> None:
        if est.layer_decay is not None:
            raise ValueError("layer_decay applies to a pretrained encoder; pass "
                             "pretrained=DIR or leave layer_decay=None.")

    def tokenizer(self, est, texts):
        if isinstance(est.tokenizer, Tokenizer):
            tok = copy.deepcopy(est.tokenizer)
            return tok if tok.is_trained else tok.train(texts)
        segmenter = est.segmenter
        if est.tokenizer not in TOKENIZERS:  # a word segmenter, by its old spelling
            warn_deprecated(f"TransformerClassifier(tokenizer={est.tokenizer!r}) as a word "
                            f"segmenter is deprecated and will be removed in the next "
                            f"release; use segmenter={est.tokenizer!r} (tokenizer='word') "
                            f"instead.")
        return make_tokenizer(est.tokenizer, vocab_size=est.vocab_size, min_freq=est.min_freq,
                              segmenter=segmenter, words="regex", unknown="unk").train(texts)

    def module(self, est, n_extra):
        return SequenceClassifier(EncoderConfig.from_preset(
            est.preset, vocab_size=est.tokenizer_.vocab_size, max_len=est.max_len,
            n_classes=est._n_outputs(), n_extra=n_extra, pad_id=Tokenizer.pad_id,
            **est._module_overrides()))

    @staticmethod
    def rebuild(config):
        return SequenceClassifier(EncoderConfig.from_dict(config))


class HFDirectory(_Source):
    """A local Hugging Face encoder (``pretrained=DIR``), fine-tuned, with its tokenizer."""

    kind = "pretrained"
    module_type = "PretrainedSequenceClassifier"
    default_lr = 5e-5

    def check(self, est) -> None:
        from hybridnlp.pretrained.local import resolve_model_dir

        resolve_model_dir(est.pretrained, name="pretrained")
        _no_word_vectors_with(est, "pretrained", "the pretrained encoder")
        _only_head_fields(est, "pretrained", "the encoder's shape comes from its config.json",
                          _POOLINGS)

    def tokenizer(self, est, texts):
        """The directory's tokenizer; ``max_len`` checked against its limit."""
        from hybridnlp.pretrained.local import describe, load_encoder

        self.encoder, tokenizer, _ = load_encoder(est.pretrained, name="pretrained")
        if est.max_len > tokenizer.max_length:
            raise ValueError(f"max_len={est.max_len} exceeds the {tokenizer.max_length} tokens "
                             f"the pretrained model {str(est.pretrained)!r} can embed; pass "
                             f"max_len={tokenizer.max_length} or less.")
        est.pretrained_pooling_ = describe(est.pretrained, name="pretrained").pooling
        return tokenizer

    def module(self, est, n_extra):
        from hybridnlp.pretrained.local import pack_encoder
        from hybridnlp.pretrained.module import (
            PretrainedClassifierConfig,
            PretrainedSequenceClassifier,
        )

        overrides = est._module_overrides()
        pooling = overrides.get("pooling")
        pooling = (pooling,) if pooling else tuple(
            m for m in (getattr(est, "pretrained_pooling_", None) or ("cls",)) if m in _POOLINGS
        ) or ("cls",)
        config = PretrainedClassifierConfig(
            encoder=pack_encoder(self.encoder)["config"], n_classes=est._n_outputs(),
            n_extra=n_extra, pooling=pooling, head_dropout=overrides.get("head_dropout", 0.1),
            layer_decay=est.layer_decay)
        return PretrainedSequenceClassifier(config, self.encoder.train())

    def batches(self, est, texts, y_idx, extra, *, shuffle, seed):
        """The pretrained tokenizer's ids (its special tokens included, cut to ``max_len``)."""
        ids = est.tokenizer_.encode_batch(texts, est.max_len, est.truncation)
        out = TextBatches(ids, y_idx, extra, max_len=est.max_len, batch_size=est.batch_size,
                          shuffle=shuffle, seed=seed, bos_id=None, pad_id=est.tokenizer_.pad_id)
        out.n_truncated = est.tokenizer_.n_truncated
        return out

    @staticmethod
    def rebuild(config):
        from hybridnlp.pretrained.module import (
            PretrainedClassifierConfig,
            PretrainedSequenceClassifier,
        )

        return PretrainedSequenceClassifier(PretrainedClassifierConfig.from_dict(config))


class OwnGPT(_Source):
    """The project's pretrained GPT (``init_from=CausalLM`` or its directory), fine-tuned."""

    kind = "gpt"
    module_type = "GPTClassifier"

    def check(self, est) -> None:
        from pathlib import Path

        from hybridnlp.lm import CausalLM

        if est.pretrained is not None:
            raise ValueError("pretrained and init_from cannot be combined: pass one encoder.")
        if isinstance(est.init_from, CausalLM):
            if not hasattr(est.init_from, "model_"):
                raise ValueError("init_from is an unfitted CausalLM; fit it on unlabelled "
                                 "text first. Inside cross-validation or a stacking "
                                 "(scikit-learn's clone unfits estimators given as "
                                 "parameters) pass the directory it was saved to "
                                 "(CausalLM.save).")
        elif not isinstance(est.init_from, str | Path) or not Path(est.init_from).is_dir():
            raise ValueError(f"init_from={est.init_from!r} must be a fitted CausalLM or the "
                             f"directory a CausalLM was saved to (CausalLM.save).")
        _no_word_vectors_with(est, "init_from", "the GPT")
        _only_head_fields(est, "init_from", "the GPT's shape is the CausalLM's",
                          ("last", "mean"))
        Scratch().check(est)  # layer_decay: a Hugging Face encoder's only

    def tokenizer(self, est, texts):
        """A copy of the GPT's tokenizer (a character it never saw becomes ``<unk>``)."""
        from hybridnlp.lm import CausalLM

        lm = est.init_from
        if not isinstance(lm, CausalLM):
            lm = CausalLM.load(lm)
        block = lm.config_.block_size
        if est.max_len > block:
            raise ValueError(f"max_len={est.max_len} exceeds the GPT's context window "
                             f"(block_size={block}); pass max_len={block} or less.")
        tokenizer = copy.deepcopy(lm.tokenizer_)
        if getattr(tokenizer, "unknown", None) == "error":
            tokenizer.unknown = "unk"
        self.gpt = copy.deepcopy(lm.model_).cpu()
        return tokenizer

    def module(self, est, n_extra):
        from hybridnlp.nn.gpt import GPTClassifier, GPTClassifierConfig

        overrides = est._module_overrides()
        config = GPTClassifierConfig(
            gpt=self.gpt.config.to_dict(), n_classes=est._n_outputs(), n_extra=n_extra,
            pooling=overrides.get("pooling", "last"),
            head_dropout=overrides.get("head_dropout", 0.1), lm_weight=float(est.lm_weight))
        return GPTClassifier(config, self.gpt.train())

    @staticmethod
    def rebuild(config):
        from hybridnlp.nn.gpt import GPTClassifier, GPTClassifierConfig

        return GPTClassifier(GPTClassifierConfig.from_dict(config))


SOURCES = {cls.kind: cls for cls in (Scratch, HFDirectory, OwnGPT)}


def source_of(est) -> _Source:
    """The encoder source ``est``'s parameters name (its shared checks done first)."""
    check_number("layer_decay", est.layer_decay, float, low=0, low_open=True, high=1,
                 none_ok=True)
    check_number("lm_weight", est.lm_weight, float, low=0)
    if est.init_from is not None:
        return OwnGPT()
    return HFDirectory() if est.pretrained is not None else Scratch()


def fitted_source(est) -> _Source:
    """The source of ``est``'s fitted module (read from the module, not the parameters, which
    may have been set since); before a module exists, the parameters'."""
    model = getattr(est, "model_", None)
    if model is None:
        return source_of(est)
    for cls in SOURCES.values():
        if type(model).__name__ == cls.module_type:
            return cls()
    raise TypeError(f"{type(est).__name__}.model_ is a {type(model).__name__}, which no "
                    f"encoder source builds.")


def check_fit(est) -> None:
    """What only ``fit`` can check (a config's ``{pretrained: causal_lm}`` is filled in after
    the config is loaded)."""
    if est.lm_weight and est.init_from is None:
        raise ValueError("lm_weight is the auxiliary LM loss of a pretrained GPT; pass "
                         "init_from=CausalLM (or its directory) or leave lm_weight=0.")
