"""Integrated gradients (Sundararajan et al. 2017) for a ``TransformerClassifier`` trained
from scratch with word or character ids, through Captum: each id's attribution on the token
embedding layer, from a baseline of padding, summed onto the words."""

from __future__ import annotations

import numpy as np
import torch

from hybridnlp.text import CharTokenizer, WordVocabTokenizer

N_STEPS = 32


def _word_of_ids(tokenizer, text: str, spans) -> list[int]:
    """The word (index into ``spans``) of each id of ``text``, -1 for none (a space)."""
    if isinstance(tokenizer, CharTokenizer):
        owner = np.full(len(text), -1)
        for j, (start, end) in enumerate(spans):
            owner[start:end] = j
        return owner.tolist()
    n_ids = len(tokenizer.encode(text))
    if n_ids != len(spans):
        raise ValueError(f"the model splits {text[:40]!r} into {n_ids} words and the "
                         f"explanation into {len(spans)}; use method='shapley'.")
    return list(range(n_ids))


def supported(model) -> bool:
    """A ``TransformerClassifier`` from scratch on word or character ids (its module's
    encoder has the token embedding ``tok_emb``)."""
    encoder = getattr(getattr(model, "model_", None), "encoder", None)
    return (getattr(model, "pretrained", 1) is None and hasattr(encoder, "tok_emb")
            and hasattr(model, "classes_")
            and isinstance(getattr(model, "tokenizer_", None),
                           WordVocabTokenizer | CharTokenizer))


def integrated_gradients(model, texts, spans, label_idx, n_steps: int = N_STEPS):
    """Rows (scores, base, ngrams, score) as ``explain`` wants them."""
    from captum.attr import LayerIntegratedGradients

    tokenizer = getattr(model, "tokenizer_", None)
    if not supported(model):
        raise ValueError(f"method='integrated_gradients' is for a TransformerClassifier "
                         f"trained from scratch with tokenizer='word' or 'char', got "
                         f"{type(model).__name__}; use method='shapley'.")
    module = model.model_.eval()
    temperature = float(getattr(model, "temperature_", 1.0))
    n_classes = len(model.classes_)

    def toward(idx, mask, k):
        logits = module(idx, mask)[0].double() / temperature
        if n_classes == 2:
            return logits[:, k] - logits[:, 1 - k]
        return logits[:, k] - logits.mean(dim=1)

    ig = LayerIntegratedGradients(lambda idx, mask, k: toward(idx, mask, k),
                                  module.encoder.tok_emb)
    rows = []
    for text, sp_, k in zip(texts, spans, label_idx):
        owner = _word_of_ids(tokenizer, text, sp_)
        batch = next(iter(model._batches([text]).indexed()))[1]
        idx, mask = batch["idx"], batch["mask"]
        baseline = torch.full_like(idx, tokenizer.pad_id)
        baseline[:, 0] = idx[:, 0]  # <bos> kept: the pooled position
        attributions = ig.attribute(idx, baselines=baseline, additional_forward_args=(mask, int(k)),
                                    n_steps=n_steps, internal_batch_size=n_steps)
        per_id = attributions.sum(dim=-1)[0, 1:].detach().double().numpy()  # after <bos>
        scores = np.zeros(len(sp_))
        for j, a in zip(owner, per_id):  # ids past max_len were cut: no attribution
            if j >= 0:
                scores[j] += a
        with torch.no_grad():
            score = float(toward(idx, mask, int(k))[0])
            base = float(toward(baseline, mask, int(k))[0])
        rows.append((scores, base, [], score))
    return rows
