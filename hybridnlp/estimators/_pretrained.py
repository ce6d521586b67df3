"""``TransformerClassifier(pretrained=DIR)``: what changes when the encoder is a local
pretrained checkpoint (its tokenizer, its module, its checks)."""

from __future__ import annotations

from hybridnlp.estimators._text_batches import TextBatches
from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["batches", "check_params", "load", "module", "module_from_config", "module_kind"]

_POOLINGS = ("cls", "mean", "max")
_MODULE_FIELDS = ("pooling", "head_dropout")  # the module__ fields a pretrained encoder takes


def check_params(est) -> None:
    """The settings that contradict ``pretrained`` (or need it), before any work."""
    check_number("layer_decay", est.layer_decay, float, low=0, low_open=True, high=1,
                 none_ok=True)
    if est.pretrained is None:
        if est.layer_decay is not None:
            raise ValueError("layer_decay applies to a pretrained encoder; pass "
                             "pretrained=DIR or leave layer_decay=None.")
        return
    from hybridnlp.pretrained.local import resolve_model_dir

    resolve_model_dir(est.pretrained, name="pretrained")
    if est.embedding_init is not None:
        raise ValueError("embedding_init and pretrained cannot be combined: the pretrained "
                         "encoder brings its own embeddings; drop one of them.")
    other = sorted(f"module__{k}" for k in est._module_overrides() if k not in _MODULE_FIELDS)
    if other:
        raise ValueError(f"{', '.join(other)} cannot be set with pretrained=...: the encoder's "
                         f"shape comes from its config.json; only module__pooling and "
                         f"module__head_dropout apply.")
    pooling = est._module_overrides().get("pooling")
    if pooling is not None:
        check_choice("module__pooling", pooling, _POOLINGS)


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
    from hybridnlp.pretrained.module import PretrainedClassifierConfig, PretrainedSequenceClassifier
    from hybridnlp.pretrained.local import pack_encoder

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
    from hybridnlp.pretrained.module import PretrainedSequenceClassifier

    return "pretrained" if isinstance(module, PretrainedSequenceClassifier) else "encoder"


def module_from_config(config: dict):
    from hybridnlp.pretrained.module import PretrainedClassifierConfig, PretrainedSequenceClassifier

    return PretrainedSequenceClassifier(PretrainedClassifierConfig.from_dict(config))


def batches(est, texts, y_idx, extra, *, shuffle: bool, seed: int) -> TextBatches:
    """Length-bucketed batches of the pretrained tokenizer's ids (special tokens included,
    cut to ``max_len``)."""
    ids = est.tokenizer_.encode_batch(texts, est.max_len, est.truncation)
    out = TextBatches(ids, y_idx, extra, max_len=est.max_len, batch_size=est.batch_size,
                      shuffle=shuffle, seed=seed, bos_id=None, pad_id=est.tokenizer_.pad_id)
    out.n_truncated = est.tokenizer_.n_truncated
    return out
