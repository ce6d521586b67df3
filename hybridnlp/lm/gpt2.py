"""Hugging Face GPT-2 checkpoints in and out: a local directory with ``config.json`` and
``model.safetensors`` (or ``pytorch_model.bin``, read with ``weights_only=True``) maps onto
:class:`hybridnlp.nn.GPT` tensor by tensor, and ours export to the same layout. Nothing is
downloaded.

GPT-2 stores its linear layers as ``Conv1D`` with (in, out) weights; ours are ``nn.Linear``
with (out, in), so those four matrices per block are transposed on the way.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from hybridnlp.nn.gpt import GPT, GPTConfig
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json

__all__ = ["export_hf", "load_gpt2", "save_gpt2"]

_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
_BLOCK_NAMES = {"ln_1": "ln_1", "ln_2": "ln_2", "attn.c_attn": "attn.qkv",
                "attn.c_proj": "attn.proj", "mlp.c_fc": "mlp.fc", "mlp.c_proj": "mlp.proj"}
_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
                "gelu_fast": "gelu_tanh", "gelu": "gelu"}


def _config_from_hf(hf: dict, where: str) -> GPTConfig:
    try:
        n_embd = int(hf["n_embd"])
        inner = hf.get("n_inner") or 4 * n_embd
        act = hf.get("activation_function", "gelu_new")
        if act not in _ACTIVATIONS:
            raise ValueError(f"activation_function {act!r} is not supported "
                             f"(one of {sorted(_ACTIVATIONS)})")
        if inner % n_embd:
            raise ValueError(f"n_inner={inner} is not a multiple of n_embd={n_embd}")
        return GPTConfig(vocab_size=int(hf["vocab_size"]), block_size=int(hf["n_positions"]),
                         n_layer=int(hf["n_layer"]), n_head=int(hf["n_head"]), n_embd=n_embd,
                         mlp_ratio=inner // n_embd, norm_eps=float(hf.get(
                             "layer_norm_epsilon", 1e-5)),
                         activation=_ACTIVATIONS[act],
                         tie_weights=bool(hf.get("tie_word_embeddings", True)))
    except KeyError as err:
        raise ValueError(f"{where}: field {err.args[0]!r} is missing.") from None
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}.") from None


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    st, pt = path / "model.safetensors", path / "pytorch_model.bin"
    if st.exists():
        try:
            return load_file(str(st))
        except Exception as err:  # safetensors' own error types for a corrupt header
            raise ValueError(f"weights file {str(st)!r} is corrupt: {err}") from None
    if pt.exists():
        try:  # weights only: no arbitrary objects are unpickled
            return torch.load(pt, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"weights file {str(pt)!r} could not be read with "
                             f"weights_only=True: {err}") from None
    raise FileNotFoundError(f"{str(path)!r} holds neither model.safetensors nor "
                            f"pytorch_model.bin.")


def load_gpt2(path: str | os.PathLike) -> GPT:
    """A :class:`GPT` with the weights of the Hugging Face GPT-2 checkpoint in ``path``."""
    path = Path(path)
    config = _config_from_hf(read_json(path / "config.json", what="GPT-2 config"),
                             str(path / "config.json"))
    state = _read_state(path)
    state = {k.removeprefix("transformer."): v for k, v in state.items()}
    ours: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith((".attn.bias", ".attn.masked_bias")):  # causal-mask buffers
            continue
        if key in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"):
            ours[key] = value
            continue
        parts = key.split(".")
        if parts[0] != "h" or len(parts) < 4:
            raise ValueError(f"unexpected tensor {key!r} in the GPT-2 checkpoint {str(path)!r}.")
        layer, module, leaf = parts[1], ".".join(parts[2:-1]), parts[-1]
        if module not in _BLOCK_NAMES:
            raise ValueError(f"unexpected tensor {key!r} in the GPT-2 checkpoint {str(path)!r}.")
        if module in _CONV1D and leaf == "weight":
            value = value.t()
        ours[f"blocks.{layer}.{_BLOCK_NAMES[module]}.{leaf}"] = value.contiguous()
    model = GPT(config)
    expected = model.state_dict()
    missing = [k for k in expected if k not in ours
               and not (k == "lm_head.weight" and config.tie_weights)]
    if missing:
        raise ValueError(f"the GPT-2 checkpoint {str(path)!r} lacks {missing[:5]}.")
    for k, v in ours.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise ValueError(f"tensor {k!r} of {str(path)!r} has shape {tuple(v.shape)}, "
                             f"config.json implies {tuple(expected[k].shape)}.")
    if config.tie_weights:
        ours.pop("lm_head.weight", None)
    model.load_state_dict(ours, strict=False)
    return model.eval()


def save_gpt2(model: GPT, path: str | os.PathLike, *, special_ids: dict | None = None) -> None:
    """Write ``config.json`` and ``model.safetensors`` in the layout ``transformers``
    loads with ``GPT2LMHeadModel.from_pretrained(path)``; ``special_ids`` (``{"bos": id,
    "eos": id, "pad": id}``) go into the config for its ``generate``."""
    c = model.config
    if c.positions != "learned":
        raise ValueError(f"GPT-2 has learned positions; this model has "
                         f"positions={c.positions!r}, so it cannot be exported to the GPT-2 "
                         f"layout.")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    inverse = {v: k for k, v in _BLOCK_NAMES.items()}
    out = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if key == "lm_head.weight":
            if c.tie_weights:
                continue
            out[key] = value.contiguous()
            continue
        if not key.startswith("blocks."):
            out[f"transformer.{key}"] = value.contiguous()
            continue
        _, layer, *module, leaf = key.split(".")
        hf_module = inverse[".".join(module)]
        if hf_module in _CONV1D and leaf == "weight":
            value = value.t()
        out[f"transformer.h.{layer}.{hf_module}.{leaf}"] = value.contiguous()
    for key in [k for k in out if k.endswith(".weight")]:
        bias = key[:-len("weight")] + "bias"
        if bias not in out and not key.endswith(("wte.weight", "wpe.weight", "lm_head.weight")):
            width = out[key].shape[-1] if out[key].dim() == 2 else out[key].shape[0]
            out[bias] = torch.zeros(width, dtype=out[key].dtype)  # bias=False: zeros, exact
    with atomic_path(path / "model.safetensors") as tmp:
        save_file(out, tmp, metadata={"format": "pt"})
    atomic_write_json(path / "config.json", {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": c.vocab_size, "n_positions": c.block_size, "n_embd": c.n_embd,
        "n_layer": c.n_layer, "n_head": c.n_head, "n_inner": c.mlp_ratio * c.n_embd,
        "activation_function": "gelu_new" if c.activation == "gelu_tanh" else "gelu",
        "layer_norm_epsilon": c.norm_eps, "tie_word_embeddings": c.tie_weights,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
        **{f"{name}_token_id": int(i) for name, i in (special_ids or {}).items()},
    })


def export_hf(model: GPT, tokenizer, path: str | os.PathLike) -> Path:
    """A Hugging Face directory of ``model`` and its byte-level BPE ``tokenizer``: what
    ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load
    (``tokenizer.json`` read by ``PreTrainedTokenizerFast``), written whole."""
    from hybridnlp.utils.saving import write_whole

    if model.adaptive:
        raise ValueError("a GPT with the adaptive softmax has no GPT-2 form; export to 'hf' "
                         "needs a full softmax (module__adaptive_cutoffs=None).")
    hf = getattr(tokenizer, "backend", None)
    if hf is None:
        raise ValueError(f"a {type(tokenizer).__name__} has no Hugging Face form; export to "
                         f"'hf' needs byte-level BPE tokens (CausalLM(tokenizer='bpe') or a "
                         f"pretrained GPT-2's).")
    names = {name: hf.id_to_token(getattr(tokenizer, f"{name}_id"))
             for name in ("bos", "eos", "unk", "pad")}

    def write(tmp: Path) -> dict:
        save_gpt2(model, tmp, special_ids={n: getattr(tokenizer, f"{n}_id")
                                           for n in ("bos", "eos", "pad")})
        (tmp / "tokenizer.json").write_text(hf.to_str(), encoding="utf-8")
        tokens = {f"{name}_token": token for name, token in names.items()}
        atomic_write_json(tmp / "special_tokens_map.json", tokens)
        atomic_write_json(tmp / "tokenizer_config.json", {
            "tokenizer_class": "PreTrainedTokenizerFast", **tokens,
            "model_max_length": model.config.block_size, "clean_up_tokenization_spaces": False,
        })
        return read_json(tmp / "config.json", what="GPT-2 config")

    return write_whole(Path(path), model, write)
