"""``FastTextClassifier``: the mean of word and word n-gram embeddings, then a linear layer
(Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification"), as a scikit-learn
classifier; ``FastTextRegressor``: the same model with a squared-error loss."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from hybridnlp.estimators._classifier import (
    LogitTemperature,
    TextClassifierMixin,
    TextRegressorMixin,
)
from hybridnlp.features import NgramCounter, counter_for
from hybridnlp.neural import (
    NeuralEstimator,
    accuracy,
    held_out_rows,
    holdout_split,
    load_packed,
    pack_module,
    target_tensor,
)
from hybridnlp.nn.layers import head_loss
from hybridnlp.text.words import WORD_PATTERN, WordTokenizer
from hybridnlp.train import OptimizerChain
from hybridnlp.train.data import Batches
from hybridnlp.utils.class_weight import weighted_by_class
from hybridnlp.utils.deprecation import under_new_names
from hybridnlp.utils.device import torch_threads
from hybridnlp.utils.multilabel import check_texts_multilabel, is_multilabel
from hybridnlp.utils.validation import (
    check_fitted,
    check_ngram_range,
    check_number,
    check_sample_weight,
    check_texts,
    check_texts_labels,
    check_texts_targets,
    text_input_tags,
)

__all__ = ["FastTextClassifier", "FastTextRegressor"]


def _one_thread():
    """Batches of 32 bags of 100-wide vectors are too small to share well between threads:
    two threads were a little faster on an idle machine and many times slower beside another
    process (parallel cross-validation), so one thread is the choice that never collapses
    (benchmarks/RESULTS.md)."""
    return torch_threads(1)


class _BagModel(torch.nn.Module):
    """fastText's initialisation: uniform(+-1/dim) vectors, a zero linear layer."""

    def __init__(self, n_features: int, dim: int, n_classes: int, regression: bool = False):
        super().__init__()
        self.regression = regression  # n_classes outputs, squared error against them
        self.embedding = torch.nn.EmbeddingBag(n_features, dim, mode="mean", sparse=True)
        self.linear = torch.nn.Linear(dim, n_classes)
        torch.nn.init.uniform_(self.embedding.weight, -1.0 / dim, 1.0 / dim)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor,
                targets: torch.Tensor | None = None, sample_weight: torch.Tensor | None = None):
        logits = self.linear(self.embedding(ids, offsets))
        if targets is None:
            return logits, None
        return logits, head_loss(logits, targets, None, sample_weight)

    def configure_optimizer(self, *, lr, weight_decay, betas, eps) -> OptimizerChain:
        """Sparse Adam for the (sparse) embedding gradients, Adam for the linear layer."""
        return OptimizerChain(
            torch.optim.SparseAdam(list(self.embedding.parameters()), lr=lr, betas=betas,
                                   eps=eps),
            torch.optim.Adam(self.linear.parameters(), lr=lr, betas=betas, eps=eps,
                             weight_decay=weight_decay),
        )


class _BagBatches(Batches):
    """Batch dicts ``{"ids", "offsets", "targets"?}`` of texts given as one flat array of
    n-gram rows and where each text starts; shuffled per epoch as a function of the seed."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray, targets: np.ndarray | None, *,
                 batch_size: int, shuffle: bool = False, seed: int = 0, sample_weight=None):
        self.flat, self.starts = flat, starts
        self.sample_weight = None if sample_weight is None else torch.as_tensor(
            np.asarray(sample_weight), dtype=torch.float32)
        self.targets = None if targets is None else target_tensor(targets)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-(len(self.starts) - 1) // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.starts) - 1
        if not self.shuffle:
            return np.arange(n)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.epoch):  # epoch e's order is the generator's e-th permutation
            rng.permutation(n)
        return rng.permutation(n)

    def batch(self, index) -> dict:
        pieces = [self.flat[self.starts[i]:self.starts[i + 1]] for i in index]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        ids = np.concatenate(pieces) if len(pieces) else np.zeros(0, dtype=np.int64)
        out = {"ids": torch.from_numpy(ids), "offsets": torch.from_numpy(offsets)}
        if self.targets is not None:
            out["targets"] = self.targets[index]
        if self.sample_weight is not None:
            out["sample_weight"] = self.sample_weight[index]
        return out

    def indexed(self):
        """(row indices, batch) pairs, in this epoch's order."""
        order = self._order()
        for begin in range(0, len(order), self.batch_size):
            index = order[begin:begin + self.batch_size]
            yield index, self.batch(index)

    def __iter__(self):
        for _, batch in self.indexed():
            yield batch


class _FastText(NeuralEstimator):
    """What fastText's classifier and regressor share: the n-gram vocabulary, the bag model
    and its training; parameters as ``FastTextClassifier``'s."""

    _renamed = {"epochs": "max_epochs", "lr": "optimizer__lr", "tokenizer": "segmenter"}
    _regression = False

    def __init__(self, *, dim=100, ngram_range=(1, 2), max_features=200_000, min_count=1,
                 lowercase=True, segmenter=None, max_epochs=5, validation_fraction=0.0,
                 optimizer__lr=0.01, optimizer__weight_decay=0.0, trainer__warmup=0,
                 trainer__min_lr_ratio=0.0, trainer__schedule="linear",
                 trainer__grad_clip=None, **kwargs):
        self.dim = dim
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_count = min_count
        self.lowercase = lowercase
        self.segmenter = segmenter
        super().__init__(max_epochs=max_epochs, validation_fraction=validation_fraction,
                         optimizer__lr=optimizer__lr,
                         optimizer__weight_decay=optimizer__weight_decay,
                         trainer__warmup=trainer__warmup,
                         trainer__min_lr_ratio=trainer__min_lr_ratio,
                         trainer__schedule=trainer__schedule,
                         trainer__grad_clip=trainer__grad_clip, **kwargs)

    def _check_params(self) -> None:
        check_ngram_range("ngram_range", self.ngram_range)
        for name in ("dim", "max_features", "min_count"):
            check_number(name, getattr(self, name), int, low=1)
        super()._check_params()

    def _ngrams(self, texts: list[str]) -> list[list[str]]:
        tokenize = WordTokenizer(WORD_PATTERN, lowercase=self.lowercase,
                                 segmenter=self.segmenter)
        low, high = self.ngram_range
        out = []
        for text in texts:
            tokens = tokenize(text)
            grams = []
            for n in range(low, high + 1):
                grams.extend(tokens if n == 1 else
                             (" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)))
            out.append(grams)
        return out

    def _encode(self, grams: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Every text's known n-gram rows, concatenated, and where each text starts."""
        vocabulary = self.vocabulary_
        rows = [[vocabulary[g] for g in text if g in vocabulary] for text in grams]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=starts[1:])
        flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(starts[-1]))
        return flat, starts

    def _encode_texts(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``_encode(_ngrams(texts))``, the same rows in the same order, counted with NumPy
        over the vocabulary's integer keys where it applies (``NgramCounter.ids``)."""
        counter = counter_for(self, self.vocabulary_, lambda: NgramCounter(
            self.vocabulary_, "word", self.ngram_range, tokenize=WordTokenizer(
                WORD_PATTERN, lowercase=self.lowercase, segmenter=self.segmenter)))
        found = counter.ids(texts)
        return found if found is not None else self._encode(self._ngrams(texts))

    def _train(self, train_texts, train_y, val_texts, val_y, n_out: int, seed: int,
               resume: bool, train_w=None) -> None:
        """Learn the n-gram vocabulary of ``train_texts`` and train a bag model with ``n_out``
        outputs on them (``val_*``: the validation part, or None; ``train_w``: the training
        texts' weights in the loss)."""
        trainer = self._make_trainer(seed, has_val=val_texts is not None)
        grams = self._ngrams(train_texts)
        counts = Counter(g for text in grams for g in text)
        kept = [g for g, c in counts.most_common(self.max_features) if c >= self.min_count]
        self.vocabulary_ = {g: i for i, g in enumerate(kept)}
        train = _BagBatches(*self._encode(grams), train_y, batch_size=self.batch_size,
                            shuffle=True, seed=seed, sample_weight=train_w)
        val = None if val_texts is None else _BagBatches(
            *self._encode(self._ngrams(val_texts)), val_y, batch_size=4096)
        regression = self._regression
        with _one_thread():
            module = trainer.build_module(
                lambda: _BagModel(max(len(kept), 1), self.dim, n_out, regression))
            self.history_ = trainer.fit(module, train, val, resume=resume)
        self.model_ = module.to("cpu").eval()

    def _outputs(self, X) -> torch.Tensor:
        """The bag model's outputs (n_texts, n_out), float64."""
        n, batches = self._predict_batches(X)
        out = torch.zeros(n, self.model_.linear.out_features, dtype=torch.float64)
        with torch.no_grad(), _one_thread():
            for index, batch in batches:
                logits, _ = self.model_(**batch)
                out[index] = logits.double()
        return out

    def _predict_batches(self, X):
        """(row indices, batch of module inputs) over the texts ``X``, for ``predict_proba``
        and for other runtimes (an ONNX export) that run the same inputs."""
        check_fitted(self, "model_")
        texts = check_texts(X)
        batches = _BagBatches(*self._encode_texts(texts), None, batch_size=4096)
        return len(texts), batches.indexed()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:  # safetensors under hybridnlp.save, else NumPy arrays
            state["_model_weights"] = pack_module(model)
        return state

    def __setstate__(self, state: dict) -> None:
        state = under_new_names(self._renamed, state)  # saved before a rename
        weights = state.pop("_model_weights", None)
        if "_module_state" in state:  # saved before safetensors (format_version 1)
            weights = {"arrays": state.pop("_module_state")}
        self.__dict__.update(state)
        if weights is not None:
            self.model_ = load_packed(lambda w: _BagModel(
                *w["embedding.weight"].shape, w["linear.weight"].shape[0], self._regression),
                weights)

    def __sklearn_tags__(self):
        return text_input_tags(super().__sklearn_tags__())


class FastTextClassifier(LogitTemperature, TextClassifierMixin, _FastText):
    """Bag of word n-gram embeddings, averaged, and a linear layer: fastText's supervised model.

    Each word and word n-gram of the training texts (up to ``max_features``, most frequent
    first) gets a ``dim``-wide vector; a text is the mean of its vectors, a linear layer reads
    it. The n-grams share a low-rank space through the linear layer, which is what separates it
    from a linear model on the same n-grams: on TREC and SST-2 it adds to NBSVM and TF-IDF
    models in a stack (``benchmarks/RESULTS.md``). Trained by the ``Trainer`` with Adam (sparse
    for the embeddings) for a fixed number of epochs, the learning rate decaying linearly to
    zero, as fastText does; seconds for 10,000 sentences on one CPU core (RESULTS.md).

    The parameters shared by every neural estimator are those of
    :mod:`hybridnlp.neural.base`, with fastText's defaults below.

    Parameters
    ----------
    dim : int, default=100
        Width of the n-gram vectors.
    ngram_range : (int, int), default=(1, 2)
        Word n-gram lengths (tokens of ``WORD_PATTERN``, as every classical feature here).
    max_features : int, default=200000
        Most frequent n-grams kept; the others are ignored.
    min_count : int, default=1
        N-grams seen fewer times in training are ignored.
    lowercase : bool, default=True
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) instead of
        ``WORD_PATTERN``'s tokens.
    max_epochs : int, default=5
    optimizer__lr : float, default=0.01
        Starting learning rate (Adam), decaying linearly (``trainer__schedule="linear"``,
        ``trainer__warmup=0``, ``trainer__min_lr_ratio=0``) to 0.
    optimizer__weight_decay : float, default=0.0
    batch_size : int, default=32
    validation_fraction : float, default=0.0
        With ``patience``, a held-out share for early stopping; fastText trains a fixed
        number of epochs on everything.
    trainer__grad_clip : float or None, default=None
    random_state : int, RandomState or None
        With an int, refitting gives identical predictions.
    verbose : int, default=0
        A progress bar (tqdm, on standard error) per epoch.
    class_weight : "balanced", dict or None, default=None
        Each text's weight times its class's ("balanced": n_texts / (n_classes x the
        class's count), as scikit-learn's); combined with ``fit``'s ``sample_weight``.
    calibrate : bool, default=False
        Fit a temperature to the logits on the validation texts after training
        (``temperature_``); ``predict_proba`` divides the logits by it, ``predict`` is
        unchanged. Needs validation texts (``validation_data`` or ``validation_fraction``).

    Attributes
    ----------
    classes_ : ndarray
    vocabulary_ : dict of str -> int
        N-gram (tokens joined by one space) -> row of the embedding.
    model_ : torch.nn.Module

    Examples
    --------
    >>> clf = FastTextClassifier(random_state=0).fit(texts, labels)     # doctest: +SKIP
    >>> clf.predict_proba(["a gripping film"])                          # doctest: +SKIP
    """

    _metrics = {"accuracy": accuracy}

    def __init__(self, *, class_weight=None, calibrate=False, **kwargs):
        self.class_weight = class_weight
        self.calibrate = calibrate
        super().__init__(**kwargs)

    def __setstate__(self, state: dict) -> None:
        # pickled before they existed
        super().__setstate__({"class_weight": None, "calibrate": False, **state})

    def fit(self, X, y, sample_weight=None, *, validation_data=None, resume=False):
        """Learn the n-gram vocabulary and train. Returns self.

        ``sample_weight``: each text's weight in the loss (an integer weight counts it that
        many times). ``validation_data`` (texts, labels) or ``validation_fraction`` with
        ``patience`` stop early; ``resume=True`` continues from the checkpoint in
        ``checkpoint_dir``.
        """
        self._check_params()
        self.multilabel_ = is_multilabel(y)
        self._check_calibration(validation_data is not None or bool(self.validation_fraction),
                                self.multilabel_)
        self._check_resume(resume)
        if self.multilabel_:
            texts, Y, self.classes_ = check_texts_multilabel(X, y)
            w = check_sample_weight(sample_weight, len(texts))
            seed = self._seed()
            train_texts, train_y, val_texts, val_y, train_w = self._multilabel_split(
                texts, Y, validation_data, seed, w)
        else:
            texts, y = check_texts_labels(X, y)
            w = check_sample_weight(sample_weight, len(texts))
            seed = self._seed()
            self.classes_, y_idx = np.unique(y, return_inverse=True)
            w = weighted_by_class(w, self.class_weight, self.classes_, y)
            train_texts, train_y, val_texts, val_y, train_w = holdout_split(
                texts, y_idx, self.classes_, validation_data, self.validation_fraction, seed, w)
        self._train(train_texts, train_y, val_texts, val_y, len(self.classes_), seed, resume,
                    train_w)
        self._fit_calibration(val_texts, val_y)
        return self

    def _multilabel_split(self, texts, Y, validation_data, seed: int, w):
        """(train texts, train indicator rows, validation texts, their rows, train weights):
        ``validation_data`` as given, else a random ``validation_fraction``, else none."""
        if validation_data is not None:
            val_texts, val_Y, _ = check_texts_multilabel(*validation_data, require_words=False,
                                                         classes=self.classes_)
            return texts, Y, val_texts, val_Y, w
        if not self.validation_fraction:
            return texts, Y, None, None, w
        train, val = held_out_rows(len(texts), self.validation_fraction, seed, what="texts")
        return ([texts[i] for i in train], Y[train], [texts[i] for i in val], Y[val],
                None if w is None else w[train])

    def _class_logits(self, texts) -> torch.Tensor:
        return self._outputs(texts)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_texts, n_classes), float64; multi-label: each label's
        sigmoid probability."""
        return self._scaled_proba(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        return self._labels_of(self.predict_proba(X))


class FastTextRegressor(TextRegressorMixin, _FastText):
    """fastText's model for real-valued targets: the mean of word and word n-gram embeddings,
    a linear layer, trained on squared error against the targets standardised (mean 0,
    variance 1 each; ``predict`` gives them back on their own scale). ``y`` is one number
    per text or one row of several targets per text (``predict`` returns the same shape).
    Parameters as :class:`FastTextClassifier`'s; ``validation_data`` and
    ``validation_fraction`` hold out texts and targets the same way (a random share).

    Attributes
    ----------
    target_mean_, target_scale_ : ndarray (n_targets,)
        What the targets were standardised by.
    vocabulary_, model_ : as :class:`FastTextClassifier`'s.

    Examples
    --------
    >>> reg = FastTextRegressor(random_state=0).fit(texts, valence)     # doctest: +SKIP
    >>> reg.predict(["a gripping film"])                                # doctest: +SKIP
    """

    _regression = True

    def fit(self, X, y, sample_weight=None, *, validation_data=None, resume=False):
        """Learn the n-gram vocabulary and train (``sample_weight``: each text's weight in
        the loss). Returns self."""
        self._check_params()
        self._check_resume(resume)
        texts, y = check_texts_targets(X, y)
        w = check_sample_weight(sample_weight, len(texts))
        seed = self._seed()
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        y2 = y.reshape(len(y), -1)
        self.target_mean_ = y2.mean(axis=0)
        self.target_scale_ = np.where(y2.std(axis=0) > 0, y2.std(axis=0), 1.0)
        z = ((y2 - self.target_mean_) / self.target_scale_).astype(np.float32)
        val_texts = val_z = None
        if validation_data is not None:
            val_texts, val_y = check_texts_targets(*validation_data, require_words=False)
            val_z = ((val_y.reshape(len(val_y), -1) - self.target_mean_)
                     / self.target_scale_).astype(np.float32)
            if val_z.shape[1] != self.n_outputs_:
                raise ValueError(f"validation_data has {val_z.shape[1]} targets per text, y "
                                 f"{self.n_outputs_}.")
        elif self.validation_fraction:
            train, val = held_out_rows(len(texts), self.validation_fraction, seed, what="texts")
            val_texts, val_z = [texts[i] for i in val], z[val]
            texts, z = [texts[i] for i in train], z[train]
            w = None if w is None else w[train]
        self._train(texts, z, val_texts, val_z, self.n_outputs_, seed, resume, w)
        return self

    def predict(self, X) -> np.ndarray:
        """The predicted targets: (n_texts,) for one target, else (n_texts, n_targets)."""
        out = self._outputs(X).numpy() * self.target_scale_ + self.target_mean_
        return out[:, 0] if self.n_outputs_ == 1 else out

