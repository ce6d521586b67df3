"""``TransformerClassifier(pretrained=DIR)`` and ``TransformerClassifier(init_from=CausalLM)``:
what changes when the encoder is a local pretrained checkpoint or the project's own pretrained
GPT (its tokenizer, its module, its checks)."""

from __future__ import annotations

from hybridnlp.neural import TextBatches
from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["batches", "check_params", "load", "module", "module_from_config", "module_kind"]

_POOLINGS = ("cls", "mean", "max")
_MODULE_FIELDS = ("pooling", "head_dropout")  # the module__ fields a pretrained encoder takes


def check_params(est) -> None:
    """The settings that contradict ``pretrained`` (or need it), before any work."""
    check_number("layer_decay", est.layer_decay, float, low=0, low_open=True, high=1,
                 none_ok=True)
    check_number("lm_weight", est.lm_weight, float, low=0)
    if est.init_from is not None:
        _check_init_from(est)
    if est.pretrained is None:
        if est.layer_decay is not None:
            raise ValueError("layer_decay applies to a pretrained encoder; pass "
                             "pretrained=DIR or leave layer_decay=None.")
        return
    from hybridnlp.pretrained.local import resolve_model_dir

    resolve_model_dir(est.pretrained, name="pretrained")
    if est.word_vectors is not None:
        raise ValueError("word_vectors and pretrained cannot be combined: the pretrained "
                         "encoder brings its own embeddings; drop one of them.")
    other = sorted(f"module__{k}" for k in est._module_overrides() if k not in _MODULE_FIELDS)
    if other:
        raise ValueError(f"{', '.join(other)} cannot be set with pretrained=...: the encoder's "
                         f"shape comes from its config.json; only module__pooling and "
                         f"module__head_dropout apply.")
    pooling = est._module_overrides().get("pooling")
    if pooling is not None:
        check_choice("module__pooling", pooling, _POOLINGS)


def check_fit(est) -> None:
    """What only ``fit`` can check (a config's ``{pretrained: causal_lm}`` is filled in after
    the config is loaded)."""
    if est.lm_weight and est.init_from is None:
        raise ValueError("lm_weight is the auxiliary LM loss of a pretrained GPT; pass "
                         "init_from=CausalLM (or its directory) or leave lm_weight=0.")


def _check_init_from(est) -> None:
    from pathlib import Path

    from hybridnlp.lm import CausalLM

    if est.pretrained is not None:
        raise ValueError("pretrained and init_from cannot be combined: pass one encoder.")
    if isinstance(est.init_from, CausalLM):
        if not hasattr(est.init_from, "model_"):
            raise ValueError("init_from is an unfitted CausalLM; fit it on unlabelled text "
                             "first. Inside cross-validation or a stacking (scikit-learn's "
                             "clone unfits estimators given as parameters) pass the "
                             "directory it was saved to (CausalLM.save).")
    elif not isinstance(est.init_from, str | Path) or not Path(est.init_from).is_dir():
        raise ValueError(f"init_from={est.init_from!r} must be a fitted CausalLM or the "
                         f"directory a CausalLM was saved to (CausalLM.save).")
    if est.word_vectors is not None:
        raise ValueError("word_vectors and init_from cannot be combined: the GPT brings "
                         "its own embeddings; drop one of them.")
    other = sorted(f"module__{k}" for k in est._module_overrides() if k not in _MODULE_FIELDS)
    if other:
        raise ValueError(f"{', '.join(other)} cannot be set with init_from=...: the GPT's "
                         f"shape is the CausalLM's; only module__pooling ('last' or 'mean') "
                         f"and module__head_dropout apply.")
    pooling = est._module_overrides().get("pooling")
    if pooling is not None:
        check_choice("module__pooling", pooling, ("last", "mean"))


def load_gpt(est):
    """(a copy of the GPT, a copy of its tokenizer) of ``est.init_from``."""
    import copy

    from hybridnlp.lm import CausalLM

    lm = est.init_from if isinstance(est.init_from, CausalLM) else CausalLM.load(est.init_from)
    block = lm.config_.block_size
    if est.max_len > block:
        raise ValueError(f"max_len={est.max_len} exceeds the GPT's context window "
                         f"(block_size={block}); pass max_len={block} or less.")
    tokenizer = copy.deepcopy(lm.tokenizer_)
    if getattr(tokenizer, "unknown", None) == "error":  # a character the LM never saw
        tokenizer.unknown = "unk"  # becomes <unk> in a text to classify, not an error
    return copy.deepcopy(lm.model_).cpu(), tokenizer


def gpt_module(est, gpt, n_extra: int):
    from hybridnlp.nn.gpt import GPTClassifier, GPTClassifierConfig

    overrides = est._module_overrides()
    config = GPTClassifierConfig(
        gpt=gpt.config.to_dict(), n_classes=len(est.classes_), n_extra=n_extra,
        pooling=overrides.get("pooling", "last"), head_dropout=overrides.get("head_dropout", 0.1),
        lm_weight=float(est.lm_weight))
    return GPTClassifier(config, gpt.train())


def load(est):
    """(encoder, tokenizer) of ``est.pretrained``; ``max_len`` checked against its limit."""
    from hybridnlp.pretrained.local import describe, load_encoder

    encoder, tokenizer, source = load_encoder(est.pretrained, name="pretrained")
    if est.max_len > tokenizer.max_length:
        raise ValueError(f"max_len={est.max_len} exceeds the {tokenizer.max_length} tokens "
                         f"the pretrained model {str(est.pretrained)!r} can embed; pass "
                         f"max_len={tokenizer.max_length} or less.")
    est.pretrained_pooling_ = describe(est.pretrained, name="pretrained").pooling
    return encoder, tokenizer


def module(est, encoder, n_extra: int):
    from hybridnlp.pretrained.local import pack_encoder
    from hybridnlp.pretrained.module import PretrainedClassifierConfig, PretrainedSequenceClassifier

    overrides = est._module_overrides()
    pooling = overrides.get("pooling")
    pooling = (pooling,) if pooling else tuple(
        m for m in (getattr(est, "pretrained_pooling_", None) or ("cls",)) if m in _POOLINGS
    ) or ("cls",)
    config = PretrainedClassifierConfig(
        encoder=pack_encoder(encoder)["config"], n_classes=len(est.classes_), n_extra=n_extra,
        pooling=pooling, head_dropout=overrides.get("head_dropout", 0.1),
        layer_decay=est.layer_decay)
    return PretrainedSequenceClassifier(config, encoder.train())


def module_kind(module) -> str:
    from hybridnlp.nn.gpt import GPTClassifier
    from hybridnlp.pretrained.module import PretrainedSequenceClassifier

    if isinstance(module, GPTClassifier):
        return "gpt"
    return "pretrained" if isinstance(module, PretrainedSequenceClassifier) else "encoder"


def module_from_config(kind: str, config: dict):
    from hybridnlp.nn.gpt import GPTClassifier, GPTClassifierConfig
    from hybridnlp.pretrained.module import PretrainedClassifierConfig, PretrainedSequenceClassifier

    if kind == "gpt":
        return GPTClassifier(GPTClassifierConfig.from_dict(config))
    return PretrainedSequenceClassifier(PretrainedClassifierConfig.from_dict(config))


def batches(est, texts, y_idx, extra, *, shuffle: bool, seed: int) -> TextBatches:
    """Length-bucketed batches of the pretrained tokenizer's ids (special tokens included,
    cut to ``max_len``)."""
    ids = est.tokenizer_.encode_batch(texts, est.max_len, est.truncation)
    out = TextBatches(ids, y_idx, extra, max_len=est.max_len, batch_size=est.batch_size,
                      shuffle=shuffle, seed=seed, bos_id=None, pad_id=est.tokenizer_.pad_id)
    out.n_truncated = est.tokenizer_.n_truncated
    return out
