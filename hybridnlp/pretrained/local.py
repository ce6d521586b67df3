"""Pretrained Hugging Face encoders from local directories: never a download.

``load_encoder(DIR)`` reads a ``transformers`` checkpoint (``config.json``, ``model.safetensors``
or ``pytorch_model.bin``, a fast tokenizer) or a sentence-transformers directory
(``modules.json``, its Transformer module's folder, ``1_Pooling/config.json`` with the old
``pooling_mode_*_tokens`` flags or the new ``pooling_mode`` key, ``sentence_bert_config.json``
and a ``Normalize`` module) with ``local_files_only=True`` and ``trust_remote_code=False``.

The fitted state of the estimators built on it is plain data (the model's config dict, its
tensors, the tokenizer's JSON), so they pickle, save with ``hybridnlp.save`` and load without
the original directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hybridnlp.neural import load_packed, pack_module
from hybridnlp.utils.io import read_json

__all__ = ["POOLINGS", "EncoderSource", "HFTokenizer", "encoder_from_config", "load_encoder",
           "load_qa_encoder", "pool_hidden", "resolve_model_dir"]

POOLINGS = ("cls", "mean", "max", "mean_sqrt_len_tokens", "lasttoken")
_LEGACY_POOLING = {  # sentence-transformers' old flags, in its concatenation order
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens":
    "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
# every file whose change changes the embeddings: the fingerprint hashes them all
_FINGERPRINTED = ("config.json", *_WEIGHTS, "tokenizer.json", "tokenizer_config.json",
                  "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
                  "added_tokens.json", "sentencepiece.bpe.model", "spiece.model")
# Models whose position ids start at padding_idx + 1 (RoBERTa's create_position_ids): two
# fewer tokens than max_position_embeddings fit.
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "data2vec-text", "xmod", "mpnet")


def resolve_model_dir(model, *, name: str = "model") -> Path:
    """``model`` as an existing local directory, or an error saying that nothing is downloaded
    and how to point at a directory."""
    if not isinstance(model, str | os.PathLike):
        raise TypeError(f"{name}={model!r} must be the path of a local model directory.")
    path = Path(model).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"{name}={str(model)!r} is not a local directory. hybridnlp never downloads models "
            f"at run time: download it once where you have network (e.g. `huggingface-cli "
            f"download {model} --local-dir DIR`, or `SentenceTransformer(...).save(DIR)`) and "
            f"pass {name}=DIR.")
    return path


@dataclass
class EncoderSource:
    """Where the encoder of a local directory lives and how sentence-transformers pools it."""

    path: Path  # the directory holding config.json and the weights
    pooling: tuple[str, ...] | None = None  # None: not a sentence-transformers directory
    normalize: bool = False
    max_length: int | None = None
    lowercase: bool = False
    files: list[Path] = field(default_factory=list)  # what the fingerprint hashes


def _sentence_transformers(root: Path) -> EncoderSource | None:
    modules_file = root / "modules.json"
    if not modules_file.exists():
        return None
    modules = read_json(modules_file, what="sentence-transformers modules.json", kind=list)
    source = EncoderSource(path=root)
    found_transformer = False
    for module in modules:
        kind = str(module.get("type", "")) if isinstance(module, dict) else ""
        sub = root / str(module.get("path", "")) if isinstance(module, dict) else root
        if not sub.resolve().is_relative_to(root.resolve()):
            raise ValueError(f"{str(modules_file)!r}: module path {module.get('path')!r} "
                             f"leaves the model directory.")
        if kind.endswith(".Transformer"):
            found_transformer = True
            source.path = sub
            for cfg_name in ("sentence_bert_config.json", "sentence_transformers_config.json"):
                if (sub / cfg_name).exists():
                    cfg = read_json(sub / cfg_name, what="sentence-transformers config")
                    source.max_length = cfg.get("max_seq_length") or None
                    source.lowercase = bool(cfg.get("do_lower_case", False))
                    break
        elif kind.endswith(".Pooling"):
            cfg_file = sub / "config.json"
            source.pooling = _pooling_modes(read_json(cfg_file, what="pooling config"),
                                            cfg_file)
        elif kind.endswith(".Normalize"):
            source.normalize = True
    if not found_transformer:
        raise ValueError(f"{str(modules_file)!r} names no Transformer module; hybridnlp reads "
                         f"sentence-transformers directories whose first module is one.")
    if source.pooling is None:
        source.pooling = ("mean",)  # sentence-transformers' own default
    return source


def _pooling_modes(cfg: dict, where: Path) -> tuple[str, ...]:
    """The pooling modes of a sentence-transformers Pooling config, old keys or new."""
    modes = cfg.get("pooling_mode")
    if modes is None:
        modes = [mode for key, mode in _LEGACY_POOLING.items() if cfg.get(key)] or ["mean"]
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    unknown = [m for m in modes if m not in POOLINGS]
    if unknown:
        raise ValueError(f"{str(where)!r}: pooling mode {unknown[0]!r} is not supported; "
                         f"hybridnlp pools with {', '.join(POOLINGS)}.")
    return modes


def _check_complete(path: Path) -> list[Path]:
    missing = [name for name in ("config.json",) if not (path / name).exists()]
    if not any((path / w).exists() for w in _WEIGHTS):
        missing.append(" or ".join(_WEIGHTS))
    if not any((path / t).exists() for t in ("tokenizer.json", "vocab.txt", "vocab.json")):
        missing.append("tokenizer.json (or vocab.txt / vocab.json)")
    if missing:
        raise FileNotFoundError(f"{str(path)!r} is not a complete model directory: "
                                f"{'; '.join(missing)} missing. Save the model with "
                                f"save_pretrained (model and tokenizer) into it.")
    return [path / name for name in _FINGERPRINTED if (path / name).exists()]


def describe(model, *, name: str = "model") -> EncoderSource:
    """The :class:`EncoderSource` of the local directory ``model``, its files checked."""
    root = resolve_model_dir(model, name=name)
    source = _sentence_transformers(root) or EncoderSource(path=root)
    source.files = _check_complete(source.path)
    return source


def fingerprint(source: EncoderSource) -> str:
    """A hash of the model's config, weights and tokenizer files and of its
    sentence-transformers settings: the embedding cache's key."""
    digest = hashlib.sha256(repr((source.pooling, source.normalize, source.max_length,
                                  source.lowercase)).encode())
    for file in source.files:
        digest.update(file.name.encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def _require_transformers() -> None:
    if importlib.util.find_spec("transformers") is None:
        raise ImportError("pretrained models need the transformers package: pip install "
                          "'hybridnlp[pretrained]'.")


@contextlib.contextmanager
def _quiet_transformers():
    """transformers 5 draws a progress bar while loading weights: off, and its log at errors."""
    _require_transformers()
    from transformers.utils import logging

    level = logging.get_verbosity()
    enabled = logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if enabled:
            logging.enable_progress_bar()


# transformers resolves any other name (``"org/repo"``, and ``flash_attention_*`` without the
# flash-attn package) as a kernel to fetch from the Hugging Face Hub and import: code from afar.
LOCAL_ATTENTION = (None, "eager", "sdpa")
_ATTENTION_KEYS = ("attn_implementation", "_attn_implementation",
                   "_attn_implementation_internal")


def check_local_config(values: dict, where: str) -> dict:
    """``values`` (a model's config, from its ``config.json`` or a saved estimator) if it asks
    for nothing but local code: an attention implementation other than eager or sdpa is
    refused, with the fix, before transformers sees it (at any depth: sub-configs too)."""
    stack = [values]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _ATTENTION_KEYS:
                wanted = value.values() if isinstance(value, dict) else [value]
                bad = [v for v in wanted if v not in LOCAL_ATTENTION]
                if bad:
                    raise ValueError(
                        f"{where}: {key} is {bad[0]!r}; hybridnlp loads only local attention "
                        f"implementations (eager, sdpa): any other name makes transformers "
                        f"fetch code from the Hugging Face Hub. Set it to \"sdpa\" or remove it.")
            else:
                stack.append(value)
    return values


@contextlib.contextmanager
def _hub_offline():
    """The Hugging Face Hub switched off while a local model loads (transformers and
    huggingface_hub read these at call time): a file not on disk is an error, never a
    download."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    constants = None
    with contextlib.suppress(ImportError):
        from huggingface_hub import constants
    old = getattr(constants, "HF_HUB_OFFLINE", None)
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if constants is not None:
            constants.HF_HUB_OFFLINE = old
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_encoder(model, *, name: str = "model"):
    """(``transformers`` model, :class:`HFTokenizer`, :class:`EncoderSource`) of the local
    directory ``model``; read-only, nothing downloaded, no remote code, no Hub kernels."""
    encoder, _, tokenizer, source = _load(model, name, question_answering=False)
    return encoder, tokenizer, source


def load_qa_encoder(model, *, name: str = "model"):
    """(base model, its ``qa_outputs`` start / end layer or None, :class:`HFTokenizer`,
    :class:`EncoderSource`) of the local directory ``model``: the layer where the directory
    holds an ``AutoModelForQuestionAnswering`` (its ``config.json`` names a
    ``...ForQuestionAnswering`` architecture), None for a bare encoder."""
    return _load(model, name, question_answering=True)


def _load(model, name: str, *, question_answering: bool):
    source = describe(model, name=name)
    config = check_local_config(read_json(source.path / "config.json", what="model config"),
                                f"{name}={str(model)!r}: config.json")
    _require_transformers()
    from transformers import AutoModel, AutoModelForQuestionAnswering, AutoTokenizer

    qa = question_answering and any(str(a).endswith("ForQuestionAnswering")
                                    for a in config.get("architectures") or ())
    auto = AutoModelForQuestionAnswering if qa else AutoModel
    with _quiet_transformers(), _hub_offline():
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.path, local_files_only=True,
                                                      trust_remote_code=False)
            encoder, info = auto.from_pretrained(
                source.path, local_files_only=True, trust_remote_code=False,
                use_safetensors=(source.path / "model.safetensors").exists() or None,
                output_loading_info=True)
        except (OSError, ValueError, KeyError, RuntimeError, pickle.UnpicklingError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            pickled = not (source.path / "model.safetensors").exists()
            raise ValueError(f"{name}={str(model)!r} could not be loaded by transformers "
                             f"({type(err).__name__}: {first})"
                             + ("; a pickled pytorch_model.bin is read with weights only: "
                                "convert it to model.safetensors." if pickled else ".")
                             ) from None
    _check_loading_info(info, f"{name}={str(model)!r}")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"{name}={str(model)!r} has no fast tokenizer (tokenizer.json); save "
                         f"one with AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR).")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (
        encoder.config.pad_token_id or 0)
    positions = getattr(encoder.config, "max_position_embeddings", None)
    if positions and encoder.config.model_type in _OFFSET_POSITIONS:
        positions -= int(encoder.config.pad_token_id or 0) + 1  # ids start after padding_idx
    limits = [n for n in (positions,
                          tokenizer.model_max_length, source.max_length)
              if isinstance(n, int) and 0 < n < 1_000_000]
    hf_tok = HFTokenizer(backend.to_str(), pad_id=int(pad), lowercase=source.lowercase,
                         max_length=min(limits) if limits else 512)
    head = None
    if qa:
        head, encoder = encoder.qa_outputs, encoder.base_model
    return encoder.eval(), head, hf_tok, source


def _check_loading_info(info: dict, where: str) -> None:
    """Refuse an encoder whose weights file does not fill it: weights the model needs but the
    file lacks would be random (the pooler aside: sentence embeddings never use it), and
    weights of another shape were not loaded."""
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith("pooler.")]
    mismatched = list(info.get("mismatched_keys", ()))
    if missing or mismatched:
        what = (f"{len(missing)} weights missing ({', '.join(sorted(missing)[:3])}"
                f"{' ...' if len(missing) > 3 else ''})" if missing else
                f"{len(mismatched)} weights of the wrong shape ({mismatched[0]})")
        raise ValueError(f"{where}: the weights do not fit the model its config.json "
                         f"describes: {what}. The directory mixes files of two models; save "
                         f"it again with save_pretrained.")


def encoder_from_config(config: dict):
    """A ``transformers`` model of the config dict ``config`` (random weights, to be loaded),
    built offline."""
    _require_transformers()
    from transformers import AutoConfig, AutoModel

    values = dict(check_local_config(config, "a saved encoder's config"))
    model_type = values.pop("model_type", None)
    if not isinstance(model_type, str):
        raise ValueError(f"a saved encoder's config has no model_type (got {model_type!r}).")
    with _quiet_transformers(), _hub_offline():
        try:
            return AutoModel.from_config(AutoConfig.for_model(model_type, **values))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"a saved encoder's config could not be read by transformers: "
                             f"{err}") from None


def encoder_kwargs(encoder, idx: torch.Tensor, mask: torch.Tensor) -> dict:
    """The keyword arguments of the encoder's forward for ids and a padding mask (token type
    ids of zeros where the model takes them)."""
    kwargs = {"input_ids": idx, "attention_mask": mask.long()}
    if "token_type_ids" in inspect.signature(encoder.forward).parameters:
        kwargs["token_type_ids"] = torch.zeros_like(idx)
    return kwargs


def pool_hidden(h: torch.Tensor, mask: torch.Tensor, modes) -> torch.Tensor:
    """(B, T, C) hidden states -> (B, C * len(modes)): each mode over the real tokens (``mask``
    True), concatenated in order, as sentence-transformers' Pooling."""
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
    out = []
    for mode in modes:
        if mode == "cls":
            out.append(h[:, 0])
        elif mode == "max":
            out.append(h.masked_fill(m == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = (h * m).sum(dim=1)
            count = m.sum(dim=1).clamp(min=1e-9)
            out.append(total / (count if mode == "mean" else count.sqrt()))
        elif mode == "lasttoken":
            last = mask.long().sum(dim=1).clamp(min=1) - 1  # right padding
            out.append(h[torch.arange(h.shape[0], device=h.device), last])
        else:
            raise ValueError(f"pooling={mode!r} is not supported; choose from "
                             f"{', '.join(POOLINGS)}.")
    return out[0] if len(out) == 1 else torch.cat(out, dim=-1)


class HFTokenizer:
    """A Hugging Face fast tokenizer (its ``tokenizers`` JSON) as the estimators use it:
    ``encode_batch(texts)`` -> ids with the model's special tokens, cut to ``max_length``
    (the model's own limit), and ``n_truncated`` of the last call. Plain data when pickled."""

    def __init__(self, json: str, *, pad_id: int, lowercase: bool = False,
                 max_length: int = 512):
        self.json = json
        self.pad_id = pad_id
        self.lowercase = lowercase
        self.max_length = max_length
        self._build()

    def _build(self) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_str(self.json)
        self._tok.no_padding()
        self._tok.no_truncation()  # encode_batch cuts, keeping the special tokens
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str], max_length: int | None = None,
                     truncation: str = "head") -> list[list[int]]:
        """Token ids of each text with the model's special tokens, at most ``max_length``
        (default the model's limit): the first tokens of a longer text, or with
        ``truncation="head_tail"`` its first quarter and last three quarters (the special
        tokens always kept). ``n_truncated`` counts the texts that were cut."""
        from hybridnlp.train.data import truncate

        limit = min(max_length or self.max_length, self.max_length)
        texts = [t.lower() for t in texts] if self.lowercase else list(texts)
        out, self.n_truncated = [], 0
        for e in self._tok.encode_batch(texts):
            ids = e.ids
            if len(ids) > limit:
                special = e.special_tokens_mask
                head = next((i for i, m in enumerate(special) if not m), len(ids))
                tail = next((i for i, m in enumerate(reversed(special)) if not m), 0)
                body = ids[head:len(ids) - tail]
                ids = [*ids[:head], *truncate(body, max(limit - head - tail, 0), truncation),
                       *ids[len(ids) - tail:]]
                self.n_truncated += 1
            out.append(ids)
        return out

    def __getstate__(self) -> dict:
        return {"json": self.json, "pad_id": self.pad_id, "lowercase": self.lowercase,
                "max_length": self.max_length}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._build()

    def save(self, path: str | os.PathLike) -> None:
        """One JSON file (atomically): the ``tokenizers`` JSON and the settings."""
        from hybridnlp.utils.io import atomic_write_json

        atomic_write_json(path, {"kind": "hf", **self.__getstate__()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> HFTokenizer:
        state = read_json(path, what="tokenizer")
        if state.pop("kind", None) != "hf":
            raise ValueError(f"{str(path)!r} is not a Hugging Face tokenizer file.")
        return cls(state["json"], pad_id=int(state["pad_id"]),
                   lowercase=bool(state["lowercase"]), max_length=int(state["max_length"]))

    def __eq__(self, other) -> bool:
        return isinstance(other, HFTokenizer) and self.__getstate__() == other.__getstate__()

    __hash__ = None


def pack_encoder(encoder) -> dict:
    """The encoder as plain data: its config dict and its weights (a safetensors file while
    ``hybridnlp.save`` writes the model, float32 NumPy arrays for pickle);
    :func:`unpack_encoder` rebuilds it offline."""
    config = {k: v for k, v in encoder.config.to_dict().items()
              if isinstance(v, str | int | float | bool | list | dict | type(None))}
    return {"config": config, "weights": pack_module(encoder)}


def unpack_encoder(packed: dict):
    """The encoder of :func:`pack_encoder`'s data, in eval mode on CPU."""
    weights = packed["weights"]
    if not ("arrays" in weights or "safetensors" in weights):  # saved before safetensors
        weights = {"arrays": weights}
    return load_packed(lambda _: encoder_from_config(packed["config"]), weights)
