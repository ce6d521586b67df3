"""A fine-tuned pretrained classifier (or extractive reader) as a Hugging Face directory
that ``AutoModelForSequenceClassification`` (``AutoModelForQuestionAnswering``) and
``AutoTokenizer`` load.

Our head reads the first token's hidden state straight into a linear layer; the Hugging Face
heads of BERT and RoBERTa put ``tanh(dense(.))`` in between. The export makes that layer
carry the state through: ``dense = eps * I`` and the output layer ``W / eps``, so
``W / eps * tanh(eps * h) = W h (1 + O(eps^2 h^2))``: with ``eps = 1e-4`` and hidden values
under 100 (after the encoder's final LayerNorm), the logits agree to about 1e-6 relative.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import torch

from hybridnlp.pretrained.local import _hub_offline, _quiet_transformers
from hybridnlp.utils.saving import write_whole

__all__ = ["HF_CLASSIFIER_TYPES", "save_pretrained_classifier", "save_pretrained_reader"]

EPSILON = 1e-4
HF_CLASSIFIER_TYPES = ("bert", "roberta", "xlm-roberta")


def exportable_reason(est) -> str | None:
    """Why ``est`` (a fitted TransformerClassifier) cannot be a Hugging Face classifier
    directory, or None."""
    module = getattr(est, "model_", None)
    if type(module).__name__ == "PretrainedSpanExtractor":  # a reader: start / end logits
        return None
    if type(module).__name__ != "PretrainedSequenceClassifier":
        return ("only a classifier fine-tuned from a local pretrained encoder "
                "(TransformerClassifier(pretrained=DIR)) has a Hugging Face form")
    cfg = module.config
    if tuple(cfg.pooling) != ("cls",):
        return (f"its head pools {list(cfg.pooling)}; a Hugging Face classification head "
                f"reads the first token only (fit with pooling='cls')")
    if cfg.n_extra:
        return "its head reads extra features (a FusionClassifier), which transformers has not"
    model_type = module.encoder.config.model_type
    if model_type not in HF_CLASSIFIER_TYPES:
        return (f"its encoder is a {model_type!r} model; the export writes "
                f"{list(HF_CLASSIFIER_TYPES)} heads")
    return None


def save_pretrained_classifier(est, path: str | os.PathLike) -> Path:
    """Write ``est`` (a fitted ``TransformerClassifier(pretrained=DIR)``) as a Hugging Face
    sequence-classification directory with its tokenizer (``id2label`` from ``classes_``,
    ``model_max_length`` from ``max_len``), written whole."""
    reason = exportable_reason(est)
    if reason is not None:
        raise ValueError(f"this {type(est).__name__} cannot be exported to 'hf': {reason}.")
    import transformers

    module = est.model_
    encoder = module.encoder
    config = copy.deepcopy(encoder.config)
    labels = [str(c) for c in est.classes_]
    config.num_labels = len(labels)
    config.id2label = dict(enumerate(labels))
    config.label2id = {label: i for i, label in enumerate(labels)}
    config.problem_type = "single_label_classification"
    with _quiet_transformers(), _hub_offline():
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    base = getattr(model, model.base_model_prefix)
    base.load_state_dict(encoder.state_dict(), strict=False)  # the head's layers are ours
    out = module.head.out
    width = encoder.config.hidden_size
    with torch.no_grad():
        if config.model_type == "bert":
            dense, final = base.pooler.dense, model.classifier
        else:  # RoBERTa's head: dense -> tanh -> out_proj
            dense, final = model.classifier.dense, model.classifier.out_proj
        dense.weight.copy_(torch.eye(width) * EPSILON)
        dense.bias.zero_()
        temperature = getattr(est, "temperature_", 1.0)  # calibrate=True: logits / T
        final.weight.copy_(out.weight / EPSILON / temperature)
        final.bias.copy_(out.bias / temperature)
    return _write_directory(est, model, path)


def save_pretrained_reader(reader, path: str | os.PathLike) -> Path:
    """Write ``reader`` (a fitted ``ExtractiveReader(pretrained=DIR)``, or one read with
    ``from_pretrained``) as a Hugging Face question-answering directory with its tokenizer:
    the encoder and our ``qa_outputs`` layer are ``AutoModelForQuestionAnswering``'s own, so
    its start / end logits are ours (on the real tokens; ours mask the padding)."""
    if type(getattr(reader, "model_", None)).__name__ != "PretrainedSpanExtractor":
        raise ValueError(f"this {type(reader).__name__} cannot be exported to 'hf': only a "
                         f"reader fine-tuned from a local pretrained encoder "
                         f"(ExtractiveReader(pretrained=DIR)) has a Hugging Face form.")
    import transformers

    module = reader.model_
    with _quiet_transformers(), _hub_offline():
        model = transformers.AutoModelForQuestionAnswering.from_config(
            copy.deepcopy(module.encoder.config))
    base = getattr(model, model.base_model_prefix)
    base.load_state_dict(module.encoder.state_dict(), strict=False)  # no pooler there
    model.qa_outputs.load_state_dict(module.qa_outputs.state_dict())
    return _write_directory(reader, model, path)


def _write_directory(est, model, path) -> Path:
    """``model`` (a ``transformers`` model holding ``est``'s weights) and ``est``'s tokenizer
    saved as one Hugging Face directory, written whole."""
    model.eval()
    fast = _fast_tokenizer(est.tokenizer_, est.max_len)

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        fast.save_pretrained(tmp)

    return write_whole(Path(path), est, write)


def _fast_tokenizer(hf_tok, max_len: int):
    """Our ``HFTokenizer`` as ``transformers``' fast tokenizer: its lower-casing moved into
    the normaliser, its special tokens named."""
    import transformers
    from tokenizers import Tokenizer, normalizers

    tok = Tokenizer.from_str(hf_tok.json)
    if hf_tok.lowercase:  # ours lower-cases before the tokenizer; theirs in its normalizer
        tok.normalizer = (normalizers.Lowercase() if tok.normalizer is None else
                          normalizers.Sequence([normalizers.Lowercase(), tok.normalizer]))
    vocab = tok.get_vocab(with_added_tokens=True)
    names = {"unk_token": ("[UNK]", "<unk>"), "cls_token": ("[CLS]", "<s>"),
             "sep_token": ("[SEP]", "</s>"), "mask_token": ("[MASK]", "<mask>")}
    specials = {key: next(t for t in options if t in vocab)
                for key, options in names.items() if any(t in vocab for t in options)}
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=tok.id_to_token(hf_tok.pad_id),
        model_max_length=max_len, **specials)
