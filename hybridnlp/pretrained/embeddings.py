"""``SentenceEmbeddingFeatures``: a frozen local encoder as a scikit-learn transformer."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from hybridnlp.features import TextTransformer
from hybridnlp.pretrained.local import (
    POOLINGS,
    encoder_kwargs,
    fingerprint,
    load_encoder,
    pack_encoder,
    pool_hidden,
    unpack_encoder,
)
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.device import autocast_context, resolve_device, resolve_precision
from hybridnlp.utils.io import atomic_path
from hybridnlp.utils.paths import paths_as_strings
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["SentenceEmbeddingFeatures", "clear_embedding_cache"]

# Embeddings computed in this process, by model key -> text hash -> vector: a k-fold run (or
# a stacking's refits) embeds each text once. Bounded: the oldest model's entries go first.
_MEMORY: OrderedDict[str, dict[bytes, np.ndarray]] = OrderedDict()
_MEMORY_LIMIT = 500_000  # vectors, all models together
_ENCODERS: OrderedDict[str, tuple] = OrderedDict()  # fingerprint -> (encoder, tokenizer)


def clear_embedding_cache() -> None:
    """Forget the embeddings and encoders kept in memory (not the ones on disk)."""
    _MEMORY.clear()
    _ENCODERS.clear()


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class SentenceEmbeddingFeatures(TextTransformer):
    """Sentence embeddings of a pretrained encoder in a local directory, frozen.

    Reads a sentence-transformers directory (its pooling and normalisation) or a plain
    Hugging Face one (``transformers.AutoModel``), with ``local_files_only=True``: a name that
    is not a local directory is an error saying how to point at one. Texts are embedded in
    batches of similar length (sorted by token count, so padding is short).

    Parameters
    ----------
    pretrained : path
        The local model directory (``model=`` before, which warns for one release).
    pooling : {"config", "mean", "cls", "max", "mean_sqrt_len_tokens", "lasttoken"}
        ``"config"``: the directory's sentence-transformers pooling, else ``"mean"``.
    batch_size : int, default=32
    max_length : int, optional
        Tokens per text (special tokens included); default the model's limit
        (sentence-transformers' ``max_seq_length`` where it is set).
    normalize : {"config", True, False}, default="config"
        Unit-length vectors; ``"config"``: where the directory has a Normalize module.
    device, precision : default "auto"
        Where to run the encoder (cuda, then mps, then cpu) and whether in bf16 (on CUDA).
    cache : {"memory", None} or path, default="memory"
        Where embeddings are kept, keyed by a hash of the model's files and settings and of the
        text: in this process (``"memory"``), also in files under a directory (a path: other
        processes and later runs reuse them), or nowhere (None).
    verbose : int, default=0
        A progress bar over the batches.

    Attributes
    ----------
    n_features_out_ : int
    fingerprint_ : str
        The hash of the model's config, weights and tokenizer.
    pooling_ : tuple of str
    normalize_ : bool
    """

    _renamed = {"model": "pretrained"}

    @positional_deprecated("pretrained")
    def __init__(self, *, pretrained=None, pooling="config", batch_size=32, max_length=None,
                 normalize="config", device="auto", precision="auto", cache="memory",
                 verbose=0):
        self.pretrained = pretrained
        self.pooling = pooling
        self.batch_size = batch_size
        self.max_length = max_length
        self.normalize = normalize
        self.device = device
        self.precision = precision
        self.cache = cache
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.pretrained is None:
            raise ValueError("SentenceEmbeddingFeatures needs pretrained=DIR, the local directory "
                             "of a sentence-transformers or Hugging Face model.")
        check_choice("pooling", self.pooling, ("config", *POOLINGS))
        check_number("batch_size", self.batch_size, int, low=1)
        check_number("max_length", self.max_length, int, low=2, none_ok=True)
        check_choice("normalize", self.normalize, ("config", True, False))
        check_number("verbose", self.verbose, int, low=0)
        if not (self.cache in ("memory", None) or isinstance(self.cache, str | os.PathLike)):
            raise TypeError(f"cache={self.cache!r} must be 'memory', None or a directory.")
        resolve_precision(self.precision, resolve_device(self.device))

    def fit(self, X=None, y=None):
        """Load the encoder (no training: it stays frozen). Returns self."""
        self._check_params()
        if X is not None:
            self._validate_fit(X)
        from hybridnlp.pretrained.local import describe

        source = describe(self.pretrained)
        self.fingerprint_ = fingerprint(source)
        if self.fingerprint_ in _ENCODERS:
            self.encoder_, self.tokenizer_ = _ENCODERS[self.fingerprint_]
        else:
            self.encoder_, self.tokenizer_, _ = load_encoder(self.pretrained)
            _ENCODERS[self.fingerprint_] = (self.encoder_, self.tokenizer_)
            while len(_ENCODERS) > 2:
                _ENCODERS.popitem(last=False)
        if self.pooling == "config":
            self.pooling_ = source.pooling or ("mean",)
        else:
            self.pooling_ = (self.pooling,)
        self.normalize_ = source.normalize if self.normalize == "config" else self.normalize
        self.max_length_ = min(self.max_length or self.tokenizer_.max_length,
                               self.tokenizer_.max_length)
        self.n_features_out_ = int(self.encoder_.config.hidden_size) * len(self.pooling_)
        return self

    # ------------------------------------------------------------------ embedding

    def _key(self) -> str:
        settings = f"{self.fingerprint_}|{','.join(self.pooling_)}|{self.normalize_}|" \
                   f"{self.max_length_}"
        return hashlib.sha256(settings.encode()).hexdigest()[:32]

    def transform(self, X) -> np.ndarray:
        """(n_texts, n_features_out_) float32 embeddings."""
        texts = self._validate_transform(X)
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        memo = self._cached()
        keys = [_text_key(t) for t in texts]
        todo = [i for i, k in enumerate(keys) if memo is None or k not in memo]
        for i, k in enumerate(keys):
            if memo is not None and k in memo:
                out[i] = memo[k]
        if todo:
            fresh = self._embed([texts[i] for i in todo])
            out[todo] = fresh
            if memo is not None:
                self._remember({keys[i]: fresh[j] for j, i in enumerate(todo)})
        return out

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> np.ndarray:
        from hybridnlp.train.data import pad_sequences

        ids = self.tokenizer_.encode_batch(texts, self.max_length_)
        order = np.argsort([len(s) for s in ids], kind="stable")[::-1]  # longest first
        device = resolve_device(self.device)
        precision = resolve_precision(self.precision, device)
        encoder = self.encoder_.to(device)
        out = np.empty((len(texts), self.n_features_out_), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        if self.verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", leave=False)
        for start in starts:
            index = order[start:start + self.batch_size]
            idx, mask = pad_sequences([ids[i] for i in index], self.tokenizer_.pad_id)
            idx, mask = idx.to(device), mask.to(device)
            with autocast_context(device, precision):
                h = encoder(**encoder_kwargs(encoder, idx, mask)).last_hidden_state
            vec = pool_hidden(h.float(), mask, self.pooling_)
            if self.normalize_:
                vec = torch.nn.functional.normalize(vec, dim=-1)
            out[index] = vec.cpu().numpy()
        self.encoder_.to("cpu")
        return out

    def _cached(self) -> dict | None:
        if self.cache is None:
            return None
        key = self._key()
        if key not in _MEMORY:
            _MEMORY[key] = {}
            if self.cache != "memory":
                for shard in sorted(self._cache_dir().glob("*.npz")):
                    with np.load(shard, allow_pickle=False) as data:
                        if data["vectors"].shape[1] != self.n_features_out_:
                            continue
                        _MEMORY[key].update(zip((bytes(k) for k in data["keys"]),
                                                data["vectors"], strict=True))
        _MEMORY.move_to_end(key)
        return _MEMORY[key]

    def _cache_dir(self) -> Path:
        return Path(self.cache) / self._key()

    def _remember(self, fresh: dict[bytes, np.ndarray]) -> None:
        _MEMORY[self._key()].update(fresh)
        while sum(len(v) for v in _MEMORY.values()) > _MEMORY_LIMIT and len(_MEMORY) > 1:
            _MEMORY.popitem(last=False)
        if self.cache != "memory":  # one new shard per call, written atomically
            folder = self._cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            keys = np.frombuffer(b"".join(fresh), dtype="S16")
            with atomic_path(folder / f"{uuid.uuid4().hex}.npz") as tmp, open(tmp, "wb") as f:
                np.savez(f, keys=keys, vectors=np.stack(list(fresh.values())))

    def get_feature_names_out(self, input_features=None):
        check_fitted(self)
        return np.asarray([f"embedding{i}" for i in range(self.n_features_out_)], dtype=object)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict:
        state = paths_as_strings(super().__getstate__())
        encoder = state.pop("encoder_", None)
        if encoder is not None:
            state["_encoder"] = pack_encoder(encoder)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        packed = state.pop("_encoder", None)
        super().__setstate__(state)
        if packed is not None:
            cached = _ENCODERS.get(self.fingerprint_)
            self.encoder_ = cached[0] if cached else unpack_encoder(packed)
