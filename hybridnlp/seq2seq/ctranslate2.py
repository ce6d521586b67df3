"""A ``Seq2SeqLM`` as a CTranslate2 model, and ``CTranslate2Translator`` that decodes with it.

The encoder-decoder maps onto CTranslate2's own Transformer spec layer by layer (pre-norm
blocks, exact GELU, fused self-attention projections and fused cross-attention keys and
values, as ours; the position table copied, learned or sinusoidal; embedding scale; one
embedding table for both sides and the output layer; bias-free layers as zero biases), so
CTranslate2's greedy decoding is ours token for token. The directory holds CTranslate2's
``model.bin``, ``config.json`` and vocabulary, our ``tokenizer.json`` (the ``tokenizers`` JSON
a user feeds it with) and ``translator.json``; ``hybridnlp.load`` reads it back as a
:class:`CTranslate2Translator`. Needs the ``ctranslate2`` package (the export extra).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hybridnlp.text import load_tokenizer
from hybridnlp.utils.io import atomic_write_json, read_json
from hybridnlp.utils.saving import write_whole
from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["CTRANSLATE2_QUANTIZATIONS", "CTranslate2Translator", "save_ctranslate2"]

CTRANSLATE2_QUANTIZATIONS = (None, "int8", "int8_float32", "int16", "float16", "bfloat16")


def _names(tok) -> list[str]:
    return [tok.id_to_token(i) for i in range(tok.vocab_size)]


def _linear(spec, layer: torch.nn.Linear) -> None:
    """A linear layer's weight and bias (zeros where it has none)."""
    spec.weight = layer.weight.detach().float().numpy().copy()
    spec.bias = (np.zeros(layer.out_features, dtype=np.float32) if layer.bias is None
                 else layer.bias.detach().float().numpy().copy())


def _norm(spec, ln: torch.nn.LayerNorm) -> None:
    spec.gamma = ln.weight.detach().float().numpy().copy()
    spec.beta = (np.zeros_like(spec.gamma) if ln.bias is None
                 else ln.bias.detach().float().numpy().copy())


def _positions(module) -> np.ndarray:
    table = module.weight if isinstance(module, torch.nn.Embedding) else module.table
    return table.detach().float().numpy().copy()


def _spec(model):
    from ctranslate2.specs import common_spec, transformer_spec

    c = model.config
    spec = transformer_spec.TransformerSpec.from_config(
        (c.n_encoder_layers, c.n_decoder_layers), c.n_head, pre_norm=True,
        activation=common_spec.Activation.GELU)
    wte = model.wte.weight.detach().float().numpy().copy()
    for side, pos in ((spec.encoder, model.enc_pos), (spec.decoder, model.dec_pos)):
        side.scale_embeddings = float(model.embed_scale)
        side.position_encodings.encodings = _positions(pos)
    spec.encoder.embeddings[0].weight = wte
    spec.decoder.embeddings.weight = wte
    spec.decoder.projection.weight = wte
    spec.decoder.projection.bias = np.zeros(len(wte), dtype=np.float32)
    _norm(spec.encoder.layer_norm, model.ln_enc)
    _norm(spec.decoder.layer_norm, model.ln_dec)
    for layer, block in zip(spec.encoder.layer, model.encoder, strict=True):
        _norm(layer.self_attention.layer_norm, block.ln_1)
        _linear(layer.self_attention.linear[0], block.attn.qkv)
        _linear(layer.self_attention.linear[1], block.attn.proj)
        _norm(layer.ffn.layer_norm, block.ln_2)
        _linear(layer.ffn.linear_0, block.mlp.fc)
        _linear(layer.ffn.linear_1, block.mlp.proj)
    for layer, block in zip(spec.decoder.layer, model.decoder, strict=True):
        _norm(layer.self_attention.layer_norm, block.ln_1)
        _linear(layer.self_attention.linear[0], block.attn.qkv)
        _linear(layer.self_attention.linear[1], block.attn.proj)
        _norm(layer.attention.layer_norm, block.ln_2)
        _linear(layer.attention.linear[0], block.cross.q)
        _linear(layer.attention.linear[1], block.cross.kv)
        _linear(layer.attention.linear[2], block.cross.proj)
        _norm(layer.ffn.layer_norm, block.ln_3)
        _linear(layer.ffn.linear_0, block.mlp.fc)
        _linear(layer.ffn.linear_1, block.mlp.proj)
    return spec


def save_ctranslate2(mt, path: str | os.PathLike, *, quantization: str | None = None) -> Path:
    """Write the fitted ``Seq2SeqLM`` ``mt`` (encoder-decoder) as a CTranslate2 model
    directory, weights quantised to ``quantization`` (``"int8"`` ...) or kept in float32."""
    check_choice("quantization", quantization, CTRANSLATE2_QUANTIZATIONS)
    model = mt.model_
    if type(model).__name__ != "Seq2SeqTransformer":
        raise ValueError(f"a Seq2SeqLM(architecture={mt.architecture!r}) has no CTranslate2 "
                         f"form; CTranslate2 runs encoder-decoder models "
                         f"(architecture='encoder_decoder').")
    tok = mt.tokenizer_
    if not hasattr(tok, "backend"):
        raise ValueError(f"a Seq2SeqLM with a {type(tok).__name__} has no CTranslate2 form; "
                         f"export one trained with its default BPE tokenizer.")
    spec = _spec(model.float().cpu().eval())
    names = _names(tok)
    spec.register_source_vocabulary(names)
    spec.register_target_vocabulary(names)
    spec.config.bos_token = names[tok.bos_id]
    spec.config.eos_token = names[tok.eos_id]
    spec.config.unk_token = names[tok.unk_id]
    spec.config.decoder_start_token = names[tok.bos_id]
    spec.config.add_source_bos = spec.config.add_source_eos = False
    spec.validate()
    spec.optimize(quantization=quantization)

    def write(tmp: Path) -> dict:
        spec.save(str(tmp))
        tok.save(tmp / "tokenizer.json")
        atomic_write_json(tmp / "translator.json", {
            "kind": "CTranslate2Translator", "quantization": quantization,
            "num_beams": mt.num_beams, "length_penalty": mt.length_penalty,
            "max_length_ratio": mt.max_length_ratio, "max_len": mt.config_.max_len,
            "suppress": [names[i] for i in mt._suppress()],
        })
        return read_json(tmp / "config.json", what="CTranslate2 config")

    return write_whole(Path(path), mt, write)


class CTranslate2Translator:
    """A translator exported by :func:`save_ctranslate2` (``hybridnlp export --to
    ctranslate2``), decoding in CTranslate2: ``predict(sources)`` and ``generate`` as
    :class:`~hybridnlp.Seq2SeqLM`'s (beam search with ``num_beams``; CTranslate2's length
    penalty divides by length ** ``length_penalty``, not GNMT's normaliser).

    Parameters
    ----------
    path : directory
    compute_type : str, default="default"
        CTranslate2's (``"int8"``, ``"float32"`` ...); "default" keeps the saved type.
    intra_threads : int, default=0
        Threads per translation (0: CTranslate2's default).
    """

    def __init__(self, path: str | os.PathLike, *, compute_type: str = "default",
                 intra_threads: int = 0):
        import ctranslate2

        self.path = Path(path)
        self.meta = read_json(self.path / "translator.json", what="translator settings")
        self.tokenizer_ = load_tokenizer(self.path / "tokenizer.json")
        self.num_beams = int(self.meta.get("num_beams", 5))
        self.length_penalty = float(self.meta.get("length_penalty", 0.6))
        try:
            self.translator_ = ctranslate2.Translator(
                str(self.path), device="cpu", compute_type=compute_type,
                intra_threads=intra_threads)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"{str(self.path)!r} is not a CTranslate2 model directory: "
                             f"{err}") from None

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> CTranslate2Translator:
        return cls(path, **kwargs)

    def generate(self, X, *, num_beams: int | None = None, length_penalty: float | None = None,
                 max_new_tokens: int | None = None, batch_size: int = 64):
        """The translation of each source of ``X`` (a str, or a list of str)."""
        single = isinstance(X, str)
        sources = [X] if single else list(X)
        beams = self.num_beams if num_beams is None else num_beams
        check_number("num_beams", beams, int, low=1)
        tok = self.tokenizer_
        keep = int(self.meta["max_len"])
        ids = [i[:keep] for i in tok.encode_batch(sources)]
        tokens = [[tok.id_to_token(i) for i in row] for row in ids]
        ratio = float(self.meta["max_length_ratio"])
        limits = [min(keep - 1, max_new_tokens or int(np.ceil(ratio * len(r))) + 10)
                  for r in ids]
        alpha = self.length_penalty if length_penalty is None else length_penalty
        suppress = [[t] for t in self.meta["suppress"]]
        out: list = [None] * len(ids)
        for limit in sorted(set(limits)):  # each source's own length limit, as Seq2SeqLM's
            rows = [i for i, n in enumerate(limits) if n == limit]
            results = self.translator_.translate_batch(
                [tokens[i] for i in rows], beam_size=beams, max_batch_size=batch_size,
                length_penalty=alpha, max_decoding_length=limit, suppress_sequences=suppress)
            for i, r in zip(rows, results, strict=True):
                hyp = [tok.token_to_id(t) for t in r.hypotheses[0]]
                out[i] = tok.decode([t for t in hyp if t is not None])
        return out[0] if single else out

    def predict(self, X, *, batch_size: int = 64) -> list[str]:
        """Translations of the sources ``X`` by beam search (``num_beams``)."""
        return self.generate(X, batch_size=batch_size)
