"""What the Transformer classifier and regressor share: the encoder sources, the
tokenizer, batches, the training half of ``fit``, truncation warnings and pickling."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import torch

from hybridnlp.estimators._encoders import (
    SOURCES,
    TOKENIZERS,
    fitted_source,
    source_of,
)
from hybridnlp.neural import (
    TRUNCATIONS,
    NeuralEstimator,
    TextBatches,
    held_out_rows,
    holdout_split,
    init_word_vectors,
    load_packed,
    pack_module,
)
from hybridnlp.nn import EncoderConfig
from hybridnlp.text import Tokenizer, WordVocabTokenizer
from hybridnlp.text.segmenters import segmenter_names
from hybridnlp.utils.deprecation import under_new_names
from hybridnlp.utils.device import resolve_device
from hybridnlp.utils.paths import paths_as_strings
from hybridnlp.utils.validation import (
    check_choice,
    check_fitted,
    check_number,
    check_texts,
    text_input_tags,
)

__all__ = ["MODULE_PARAMS"]

_SET_BY_FIT = ("vocab_size", "max_len", "n_classes", "n_extra", "pad_id")
MODULE_PARAMS = tuple(
    f.name for f in dataclasses.fields(EncoderConfig) if f.name not in _SET_BY_FIT
)


class _TransformerEstimator(NeuralEstimator):
    """What the Transformer classifier and regressor share: the encoder sources (scratch, a
    local pretrained directory, our GPT), the tokenizer, batches, the training half of
    ``fit``, truncation warnings and pickling. Parameters: ``TransformerClassifier``'s."""

    _module_fields = MODULE_PARAMS
    _renamed = {"embedding_init": "word_vectors"}  # the old name warns for one release

    def __init__(self, *, tokenizer="word", vocab_size=30000, min_freq=1, pretrained=None,
                 layer_decay=None, init_from=None, lm_weight=0.0, preset="small", max_len=128,
                 truncation="head", word_vectors=None, segmenter=None,
                 warm_start=False,
                 max_epochs=20, patience=3, optimizer__lr=None, trainer__monitor="val_loss",
                 **kwargs):
        self.tokenizer = tokenizer
        self.pretrained = pretrained
        self.layer_decay = layer_decay
        self.init_from = init_from
        self.lm_weight = lm_weight
        self.vocab_size = vocab_size
        self.min_freq = min_freq
        self.preset = preset
        self.max_len = max_len
        self.truncation = truncation
        self.word_vectors = word_vectors
        self.segmenter = segmenter
        self.warm_start = warm_start
        super().__init__(max_epochs=max_epochs, patience=patience, optimizer__lr=optimizer__lr,
                         trainer__monitor=trainer__monitor, **kwargs)

    # ------------------------------------------------------------------ pieces

    def _lr(self) -> float:
        if self.optimizer__lr is None:
            return source_of(self).default_lr
        return self.optimizer__lr

    def _check_params(self) -> None:
        """The settings that need no data, checked before any work (at ``fit`` and when a
        config is loaded); class weights are checked once the classes are known."""
        check_number("max_len", self.max_len, int, low=2)
        check_choice("truncation", self.truncation, TRUNCATIONS)
        if not (isinstance(self.tokenizer, Tokenizer) or callable(self.tokenizer)):
            check_choice("tokenizer", self.tokenizer, (*TOKENIZERS, *segmenter_names()))
        if self.segmenter is not None and self.tokenizer != "word":
            raise ValueError(f"segmenter={self.segmenter!r} splits the words of "
                             f"tokenizer='word', but tokenizer is {self.tokenizer!r}; use "
                             f"tokenizer='word' or leave segmenter out.")
        if isinstance(self.segmenter, str):
            check_choice("segmenter", self.segmenter, segmenter_names())
        source_of(self).check(self)
        super()._check_params()


    def _extra_features(self, texts: list[str], y_idx: np.ndarray | None,
                        fit: bool) -> np.ndarray | None:
        """Dense features for the head (none here; FusionClassifier supplies them). With
        ``fit``, ``texts`` are the training texts and ``y_idx`` their class indices."""
        return None

    def _batches(self, texts, y_idx=None, *, shuffle=False, seed=0, fit=False,
                 source=None) -> TextBatches:
        """``source``: the encoder source of the fit under way (default: the fitted
        module's)."""
        check_choice("truncation", self.truncation, TRUNCATIONS)
        extra = self._extra_features(texts, y_idx, fit)
        source = source or fitted_source(self)
        return source.batches(self, texts, y_idx, extra, shuffle=shuffle, seed=seed)

    # ------------------------------------------------------------------ fit

    def _init_embeddings(self) -> None:
        if not isinstance(self.tokenizer_, WordVocabTokenizer):
            raise ValueError("word_vectors needs tokenizer='word' (word2vec vectors are per "
                             f"word), got tokenizer={self.tokenizer!r}.")
        words = self.tokenizer_.words
        self.n_embeddings_initialised_ = init_word_vectors(
            self.model_.encoder.tok_emb.weight, words, self.word_vectors,
            first_id=self.tokenizer_.vocab_size - len(words))

    def _n_outputs(self) -> int:
        """The head's width: one logit per class, or one output per target."""
        raise NotImplementedError

    def _before_training(self, train_y) -> None:
        """Set what the loss needs from the training targets (a classifier's class weights)."""

    def _after_training(self, val_texts, val_y) -> None:
        """What is fit on the validation part after training (a classifier's temperature)."""

    def _fit_module(self, texts, y, validation_data, seed: int, continuing: bool,
                    resume: bool, sample_weight=None) -> None:
        """Train on ``texts`` and ``y`` (class indices, a multi-label indicator matrix, or
        standardised real targets) with a
        validation part (``validation_data`` given already encoded the same way, else a
        share when ``patience`` is set), each text weighing ``sample_weight`` (checked) in
        the loss: the shared half of every ``fit``."""
        fraction = self.validation_fraction if self.patience is not None else 0
        w = sample_weight
        if validation_data is not None:
            train_texts, train_y, (val_texts, val_y) = texts, y, validation_data
        elif fraction and np.ndim(y) == 1 and not np.issubdtype(np.asarray(y).dtype,
                                                                 np.floating):
            train_texts, train_y, val_texts, val_y, w = holdout_split(
                texts, y, np.arange(self._n_outputs()), None, fraction, seed, w)
        elif fraction:
            train, val = held_out_rows(len(texts), fraction, seed, what="texts")
            train_texts, train_y = [texts[i] for i in train], y[train]
            val_texts, val_y = [texts[i] for i in val], y[val]
            w = None if w is None else w[train]
        else:
            train_texts, train_y, val_texts, val_y = texts, y, None, None
        trainer = self._make_trainer(seed, has_val=val_texts is not None)
        # scratch, a Hugging Face directory or our GPT (warm_start: the fitted one)
        source = fitted_source(self) if continuing else source_of(self)
        if not continuing:
            self.tokenizer_ = source.tokenizer(self, train_texts)
        train = self._batches(train_texts, train_y, shuffle=True, seed=seed, fit=True,
                              source=source).weigh(w)
        if not continuing:
            n_extra = 0 if train.features is None else train.features.shape[1]
            self.model_ = trainer.build_module(lambda: source.module(self, n_extra))
            if self.word_vectors is not None:
                self._init_embeddings()
        self._before_training(train_y)
        self.n_truncated_ = train.n_truncated
        val = None if val_texts is None else self._batches(val_texts, val_y, source=source)
        self._checkpoint_tokenizer(self.tokenizer_, resume)
        self.history_ = trainer.fit(self.model_, train, val, resume=resume,
                                    config=self.model_.config.to_dict())
        self.model_.to("cpu").eval()
        self._warn_truncated(train.n_truncated, len(train_texts))
        self._after_training(val_texts, val_y)

    # ------------------------------------------------------------------ predict

    def _predict_batches(self, X):
        """(row indices, batch of module inputs) over the texts ``X``, for ``predict`` and
        for other runtimes (an ONNX export) that run the same inputs."""
        check_fitted(self)
        texts = check_texts(X, name="X")
        batches = self._batches(texts)
        self._warn_truncated(batches.n_truncated, len(texts))
        return len(texts), batches.indexed()

    @torch.no_grad()
    def _logits(self, X) -> torch.Tensor:
        n, batches = self._predict_batches(X)
        device = resolve_device(self.device)
        module = self.model_.to(device).eval()
        out = torch.empty(n, self._n_outputs(), dtype=torch.float32)
        for index, batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            logits, _ = module(**batch)
            out[index] = logits.float().cpu()
        self.model_.to("cpu")
        return out

    def save_pretrained(self, path):
        """Write a classifier fine-tuned from a local pretrained encoder
        (``pretrained=DIR``, BERT or RoBERTa family, ``pooling="cls"``) as a Hugging Face
        directory: ``AutoModelForSequenceClassification`` and ``AutoTokenizer`` load it and
        give the same probabilities."""
        from hybridnlp.pretrained.hf_export import save_pretrained_classifier

        check_fitted(self)
        return save_pretrained_classifier(self, path)

    def _warn_truncated(self, n_truncated: int, n_texts: int) -> None:
        if n_truncated:
            warnings.warn(
                f"{n_truncated} of {n_texts} texts are longer than max_len={self.max_len} tokens "
                f"and were truncated; raise max_len to keep them whole.", stacklevel=3,
            )

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict:
        state = paths_as_strings(self.__dict__)
        model = state.pop("model_", None)
        if model is not None:  # safetensors under hybridnlp.save, else NumPy arrays (a
            # GPU-fitted model unpickles anywhere)
            state["_model_config"] = model.config.to_dict()
            state["_model_kind"] = fitted_source(self).kind
            state["_model_weights"] = pack_module(model)
        return state

    def __setstate__(self, state: dict) -> None:
        state = under_new_names(self._renamed, state)  # saved before a rename
        config = state.pop("_model_config", state.pop("_module_config", None))
        kind = state.pop("_model_kind", state.pop("_module_kind", "encoder"))
        weights = state.pop("_model_weights", None)
        if "_module_state" in state:  # saved before safetensors (format_version 1)
            weights = {"arrays": state.pop("_module_state")}
        for name, default in (("truncation", "head"), ("pretrained", None), ("segmenter", None),
                              ("layer_decay", None), ("init_from", None), ("lm_weight", 0.0)):
            state.setdefault(name, default)  # saved before the parameter existed
        self.__dict__.update(state)
        if config is not None:
            if kind not in SOURCES:
                raise ValueError(f"a saved TransformerClassifier's module kind is {kind!r}, "
                                 f"expected one of {sorted(SOURCES)}.")
            self.model_ = load_packed(lambda _: SOURCES[kind].rebuild(config), weights)

    def __sklearn_tags__(self):
        return text_input_tags(super().__sklearn_tags__())
