"""``FastTextClassifier``: the mean of word and word n-gram embeddings, then a linear layer
(Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification"), as a scikit-learn
classifier."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from hybridnlp.estimators._classifier import TextClassifierMixin
from hybridnlp.text.words import WORD_PATTERN, WordTokenizer
from hybridnlp.utils.progress import progress
from hybridnlp.utils.validation import (
    check_ngram_range,
    check_number,
    check_texts,
    check_texts_labels,
    text_input_tags,
)

__all__ = ["FastTextClassifier"]


@contextmanager
def _one_thread() -> Iterator[None]:
    """Batches of 32 bags of 100-wide vectors are too small to share well between threads:
    two threads were a little faster on an idle machine and many times slower beside another
    process (parallel cross-validation), so one thread is the choice that never collapses
    (benchmarks/RESULTS.md)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _BagModel(torch.nn.Module):
    def __init__(self, n_features: int, dim: int, n_classes: int):
        super().__init__()
        self.embedding = torch.nn.EmbeddingBag(n_features, dim, mode="mean", sparse=True)
        self.linear = torch.nn.Linear(dim, n_classes)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.linear(self.embedding(ids, offsets))


class FastTextClassifier(TextClassifierMixin, BaseEstimator):
    """Bag of word n-gram embeddings, averaged, and a linear layer: fastText's supervised model.

    Each word and word n-gram of the training texts (up to ``max_features``, most frequent
    first) gets a ``dim``-wide vector; a text is the mean of its vectors, a linear layer reads
    it. The n-grams share a low-rank space through the linear layer, which is what separates it
    from a linear model on the same n-grams: on TREC and SST-2 it adds to NBSVM and TF-IDF
    models in a stack (``benchmarks/RESULTS.md``). Trained with Adam (sparse for the
    embeddings) for a fixed number of epochs, the learning rate decaying linearly to zero, as
    fastText does; a few seconds for 10,000 sentences on one CPU core.

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
    epochs : int, default=5
    lr : float, default=0.01
        Starting learning rate (Adam), decaying linearly to 0.
    batch_size : int, default=32
    random_state : int, RandomState or None
        With an int, refitting gives identical predictions.
    verbose : int, default=0
        A progress bar (tqdm, on standard error) over the epochs.

    Attributes
    ----------
    classes_ : ndarray
    vocabulary_ : dict of str -> int
        N-gram (tokens joined by one space) -> row of the embedding.
    module_ : torch.nn.Module

    Examples
    --------
    >>> clf = FastTextClassifier(random_state=0).fit(texts, labels)     # doctest: +SKIP
    >>> clf.predict_proba(["a gripping film"])                          # doctest: +SKIP
    """

    def __init__(self, *, dim=100, ngram_range=(1, 2), max_features=200_000, min_count=1,
                 lowercase=True, epochs=5, lr=0.01, batch_size=32, random_state=None,
                 verbose=0):
        self.dim = dim
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_count = min_count
        self.lowercase = lowercase
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        check_ngram_range("ngram_range", self.ngram_range)
        for name in ("dim", "max_features", "min_count", "epochs", "batch_size"):
            check_number(name, getattr(self, name), int, low=1)
        check_number("lr", self.lr, float, low=0, low_open=True)

    def _ngrams(self, texts: list[str]) -> list[list[str]]:
        tokenize = WordTokenizer(WORD_PATTERN, lowercase=self.lowercase)
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

    @staticmethod
    def _batch(flat, starts, index) -> tuple[torch.Tensor, torch.Tensor]:
        pieces = [flat[starts[i]:starts[i + 1]] for i in index]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        ids = np.concatenate(pieces) if len(pieces) else np.zeros(0, dtype=np.int64)
        return torch.from_numpy(ids), torch.from_numpy(offsets)

    def fit(self, X, y):
        """Learn the n-gram vocabulary and train. Returns self."""
        self._check_params()
        texts, y = check_texts_labels(X, y)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        grams = self._ngrams(texts)
        counts = Counter(g for text in grams for g in text)
        kept = [g for g, c in counts.most_common(self.max_features) if c >= self.min_count]
        self.vocabulary_ = {g: i for i, g in enumerate(kept)}
        flat, starts = self._encode(grams)
        with _one_thread():
            self.module_ = self._train(flat, starts, y_idx, len(kept), seed)
        return self

    def _train(self, flat, starts, y_idx, n_features, seed) -> _BagModel:
        torch.manual_seed(seed)
        model = _BagModel(max(n_features, 1), self.dim, len(self.classes_))
        torch.nn.init.uniform_(model.embedding.weight, -1.0 / self.dim, 1.0 / self.dim)
        torch.nn.init.zeros_(model.linear.weight)
        torch.nn.init.zeros_(model.linear.bias)
        optimizers = [torch.optim.SparseAdam(list(model.embedding.parameters()), lr=self.lr),
                      torch.optim.Adam(model.linear.parameters(), lr=self.lr)]
        targets = torch.as_tensor(y_idx, dtype=torch.long)
        order = np.random.default_rng(seed)
        n_texts = len(y_idx)
        steps = self.epochs * -(-n_texts // self.batch_size)
        step = 0
        model.train()
        for _ in progress(range(self.epochs), desc="fastText epochs", verbose=self.verbose):
            perm = order.permutation(n_texts)
            for begin in range(0, len(perm), self.batch_size):
                index = perm[begin:begin + self.batch_size]
                for opt in optimizers:
                    for group in opt.param_groups:
                        group["lr"] = self.lr * (1.0 - step / steps)
                step += 1
                loss = torch.nn.functional.cross_entropy(
                    model(*self._batch(flat, starts, index)), targets[index])
                for opt in optimizers:
                    opt.zero_grad()
                loss.backward()
                for opt in optimizers:
                    opt.step()
        return model.eval()

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        texts = check_texts(X)
        flat, starts = self._encode(self._ngrams(texts))
        out = []
        with torch.no_grad(), _one_thread():
            for begin in range(0, len(texts), 4096):
                index = range(begin, min(begin + 4096, len(texts)))
                logits = self.module_(*self._batch(flat, starts, index))
                out.append(torch.softmax(logits.double(), -1))  # rows sum to 1 in float64
        return torch.cat(out).numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        module = state.pop("module_", None)
        if module is not None:  # NumPy arrays, so skops (hybridnlp.persistence) stores them
            state["_module_state"] = {k: v.detach().cpu().numpy()
                                      for k, v in module.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.pop("_module_state", None)
        self.__dict__.update(state)
        if weights is not None:
            n_features, dim = weights["embedding.weight"].shape
            module = _BagModel(n_features, dim, weights["linear.weight"].shape[0])
            module.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in weights.items()})
            self.module_ = module.eval()

    def __sklearn_tags__(self):
        tags = text_input_tags(super().__sklearn_tags__())
        tags.non_deterministic = self.random_state is None
        return tags
