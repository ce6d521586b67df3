"""Document vectors from word2vec: trained with gensim inside ``fit``, or loaded from a file."""

from __future__ import annotations

import os
from functools import lru_cache
from itertools import islice
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from hybridnlp.features._ngrams import scale_columns
from hybridnlp.features._text_transformer import TextTransformer
from hybridnlp.text import WORD_PATTERN, WordTokenizer
from hybridnlp.text.words import warn_unsegmented
from hybridnlp.utils.io import atomic_path
from hybridnlp.utils.progress import progress_bar
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["Word2VecFeatures", "check_word2vec_params", "load_word_vectors", "save_word_vectors"]

POOLINGS = ("mean", "tfidf")
OOV_POLICIES = ("ignore", "mean")
NORMS = (None, "l2")


class Word2VecFeatures(TextTransformer):
    """Mean (or TF-IDF-weighted mean) of the word2vec vectors of a text's words.

    The word2vec model is trained with gensim in ``fit`` on the texts given (never in
    ``__init__``), or, with ``word_vectors``, loaded from a local file in word2vec format and used
    as is.

    Parameters
    ----------
    vector_size : int, default=100
    window : int, default=5
    min_count : int, default=1
    sg : {0, 1}, default=0
        0 for CBOW, 1 for skip-gram.
    negative : int, default=5
    epochs : int, default=5
    sample : float, default=1e-3
    pooling : {"mean", "tfidf"}, default="mean"
        ``"tfidf"`` weights each word by its inverse document frequency in the training texts.
    oov : {"ignore", "mean"}, default="ignore"
        Words without a vector: ``"ignore"`` skips them (a text with no known word maps to the
        zero vector); ``"mean"`` counts each as the average vector of the vocabulary.
    norm : {None, "l2"}, default=None
    lowercase : bool, default=True
    token_pattern : str, default=hybridnlp.text.WORD_PATTERN
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) that splits the
        words instead of ``token_pattern``. Models holding a registered name save and load.
    word_vectors : path, KeyedVectors or fitted Word2VecFeatures, optional
        Vectors trained elsewhere (e.g. on unlabelled text, see ``save_word_vectors``): a
        word2vec-format file, text or binary, or vectors in memory.
    word_vectors_binary : bool or None, default=None
        Whether the file is in the binary word2vec format; None detects it.
    workers : int, default=1
        gensim worker threads; more than one makes training non-deterministic.
    random_state : int, RandomState or None
    verbose : int, default=0
        A progress bar (tqdm, on standard error) over the training epochs.

    Attributes
    ----------
    vectors_ : gensim.models.KeyedVectors
    idf_ : ndarray of shape (V,), inverse document frequencies aligned with ``vectors_``
    n_features_out_ : int

    Examples
    --------
    >>> w2v = Word2VecFeatures(vector_size=50, random_state=0).fit(texts)  # doctest: +SKIP
    >>> w2v.vectors_.most_similar("good")                                  # doctest: +SKIP
    """

    _renamed = {"tokenizer": "segmenter", "pretrained": "word_vectors",
                "pretrained_binary": "word_vectors_binary"}  # old names warn for one release

    _streams = True  # X may be a file path or TextStream

    def __init__(
        self,
        *,
        vector_size=100,
        window=5,
        min_count=1,
        sg=0,
        negative=5,
        epochs=5,
        sample=1e-3,
        pooling="mean",
        oov="ignore",
        norm=None,
        lowercase=True,
        token_pattern=WORD_PATTERN,
        segmenter=None,
        word_vectors=None,
        word_vectors_binary=None,
        workers=1,
        random_state=None,
        verbose=0,
    ):
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.sg = sg
        self.negative = negative
        self.epochs = epochs
        self.sample = sample
        self.pooling = pooling
        self.oov = oov
        self.norm = norm
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.segmenter = segmenter
        self.word_vectors = word_vectors
        self.word_vectors_binary = word_vectors_binary
        self.workers = workers
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Train (or load) the word vectors and the IDF weights. Returns self."""
        texts, _ = self._validate_fit(X, y)
        self._check_params()
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("oov", self.oov, OOV_POLICIES)
        check_choice("norm", self.norm, NORMS)
        self.tokenizer_ = self._word_tokenizer()
        tokens = self._tokens(texts)
        warn_unsegmented((t for text in islice(tokens, 2000) for t in text), type(self).__name__)
        if self.word_vectors is not None:
            self.vectors_ = self._load_pretrained()
        else:
            self.vectors_ = self._train(tokens)
        counts, _ = self._counts(tokens)  # (n, V)
        df = np.bincount(counts.indices, minlength=counts.shape[1])  # (V,)
        self.idf_ = np.log((1 + counts.shape[0]) / (1 + df)) + 1.0  # smooth idf, as sklearn
        self.n_features_out_ = int(self.vectors_.vector_size)
        return self

    def _restore(self, vectors, idf) -> Word2VecFeatures:
        """Fitted from saved parts: word vectors (KeyedVectors) and their IDF weights, as
        ``fit`` leaves them (``DenseRetriever.load`` reads them so)."""
        self.tokenizer_ = self._word_tokenizer()
        self.vectors_ = vectors
        self.idf_ = np.asarray(idf, dtype=np.float64)
        self.n_features_out_ = int(vectors.vector_size)
        return self

    def _word_tokenizer(self) -> WordTokenizer:
        return WordTokenizer(self.token_pattern, lowercase=self.lowercase,
                             segmenter=self.segmenter)

    def _tokens(self, texts):
        """The token lists of ``texts``: a list, or for a stream an iterable that tokenises
        the file again at each pass (gensim's corpus protocol)."""
        if isinstance(texts, list):
            return self.tokenizer_.tokenize_batch(texts)
        return _Tokenized(texts, self.tokenizer_)

    def _check_params(self) -> None:
        """gensim does not check these: ``window=0`` kills its worker thread and ``fit`` then
        waits for it forever; checked here, before any work."""
        check_word2vec_params(vector_size=self.vector_size, window=self.window,
                              min_count=self.min_count, sg=self.sg, negative=self.negative,
                              epochs=self.epochs, sample=self.sample, workers=self.workers)

    def _train(self, tokens: list[list[str]]):
        from gensim.models import Word2Vec

        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        model = Word2Vec(
            vector_size=self.vector_size, window=self.window, min_count=self.min_count,
            sg=self.sg, negative=self.negative, sample=self.sample, workers=self.workers,
            seed=seed,
        )
        model.build_vocab(tokens)
        if len(model.wv) == 0:
            raise ValueError(
                f"no word occurs min_count={self.min_count} times in the {len(tokens)} texts, "
                f"so word2vec has no vocabulary; lower min_count or pass more text."
            )
        bar = progress_bar(self.epochs, desc="word2vec epochs", verbose=self.verbose)
        try:
            _watched(model.train, tokens, total_examples=model.corpus_count,
                     epochs=self.epochs, callbacks=[_EpochBar(bar)])
        finally:
            bar.close()
        return model.wv

    def _load_pretrained(self):
        return load_word_vectors(self.word_vectors, self.word_vectors_binary)

    def _counts(self, tokens: list[list[str]]):
        """Sparse counts of in-vocabulary words (n, V) and each text's number of OOV tokens."""
        index = self.vectors_.key_to_index
        indptr, indices, n_oov = [0], [], []
        for toks in tokens:
            known = [index[t] for t in toks if t in index]
            indices.extend(known)
            indptr.append(len(indices))
            n_oov.append(len(toks) - len(known))
        data = np.ones(len(indices))
        n_oov = np.asarray(n_oov, dtype=np.float64)
        shape = (len(n_oov), len(index))
        counts = sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), indptr), shape=shape)
        counts.sum_duplicates()
        return counts, n_oov

    def transform(self, X):
        """Pooled vectors, shape (n_texts, vector_size), float32."""
        texts = self._validate_transform(X)
        counts, n_oov = self._counts(self._tokens(texts))
        weights = scale_columns(counts, self.idf_) if self.pooling == "tfidf" else counts  # (n, V)
        vectors = self.vectors_.vectors.astype(np.float64)  # (V, D)
        summed = weights @ vectors  # (n, D)
        total = np.asarray(weights.sum(axis=1)).ravel()  # (n,)
        if self.oov == "mean":
            oov_weight = n_oov * (self.idf_.max() if self.pooling == "tfidf" else 1.0)
            summed += oov_weight[:, None] * vectors.mean(axis=0)[None, :]
            total += oov_weight
        pooled = np.divide(summed, total[:, None], out=np.zeros_like(summed),
                           where=total[:, None] > 0)
        if self.norm == "l2":
            lengths = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = np.divide(pooled, lengths, out=np.zeros_like(pooled), where=lengths > 0)
        return pooled.astype(np.float32)

    # gensim's KeyedVectors is not among the types hybridnlp.load trusts: the vectors are kept as a
    # float array and the words as one newline-joined UTF-8 byte array (word2vec words hold
    # no whitespace), and rebuilt on load.
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        for key in ("vectors_", "word_vectors"):
            if _is_keyed_vectors(state.get(key)):
                state[key] = _pack_vectors(state[key])
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        for key in ("vectors_", "word_vectors", "pretrained"):  # pretrained: before the rename
            if isinstance(state.get(key), dict) and "word2vec_words" in state[key]:
                state[key] = _unpack_vectors(state[key])
        super().__setstate__(state)

    def get_feature_names_out(self, input_features=None):
        check_fitted(self)
        return np.asarray([f"w2v{k}" for k in range(self.n_features_out_)], dtype=object)


class _EpochBar:
    """A gensim training callback that advances ``bar`` once per epoch."""

    def __init__(self, bar):
        self.bar = bar

    def on_train_begin(self, model):
        pass

    def on_epoch_begin(self, model):
        pass

    def on_epoch_end(self, model):
        self.bar.update()

    def on_train_end(self, model):
        pass


def _watched(train, *args, **kwargs):
    """``train(*args, **kwargs)`` (gensim's ``Word2Vec.train``) in a thread of its own, so that
    a gensim worker thread that dies is an error here: gensim itself waits forever for the
    progress report the dead worker never sends."""
    import threading

    died = []
    previous = threading.excepthook

    def hook(args):
        if args.thread is not None and "_worker_loop" in args.thread.name:
            died.append(args)
        else:
            previous(args)

    outcome: dict = {}

    def run():
        try:
            outcome["value"] = train(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = err

    thread = threading.Thread(target=run, name="word2vec-train", daemon=True)
    threading.excepthook = hook
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.1)
            if died:
                err = died[0]
                raise RuntimeError(f"a gensim word2vec worker thread stopped "
                                   f"({err.exc_type.__name__}: {err.exc_value}), so training "
                                   f"cannot finish; check the word2vec settings (window, "
                                   f"vector_size, negative) and the texts.")
    finally:
        threading.excepthook = previous
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def check_word2vec_params(*, vector_size, window, min_count, sg, epochs, workers,
                          negative=5, sample=1e-3) -> None:
    """The gensim word2vec settings that would crash or hang it, checked with one message
    each (also used by a config's ``pretrain.word2vec`` section at load). gensim converts
    them to C ints inside its worker threads, where an overflow kills the thread and leaves
    ``train`` waiting forever: each is bounded here, far above any useful value."""
    for name, value, high in (("vector_size", vector_size, 100_000),
                              ("window", window, _GENSIM_MAX_WORDS),
                              ("min_count", min_count, 2**31 - 1),
                              ("epochs", epochs, 100_000), ("workers", workers, 1024)):
        check_number(name, value, int, low=1, high=high)
    check_choice("sg", sg, (0, 1))
    check_number("negative", negative, int, low=0, high=1000)
    check_number("sample", sample, float, low=0, high=1)


# gensim cuts sentences at 10,000 words (MAX_WORDS_IN_BATCH), so no window needs more
_GENSIM_MAX_WORDS = 10_000


def _is_keyed_vectors(obj) -> bool:
    return hasattr(obj, "key_to_index") and hasattr(obj, "vector_size")


def _pack_vectors(vectors) -> dict:
    words = "\n".join(vectors.index_to_key).encode("utf-8")
    return {"word2vec_words": np.frombuffer(words, dtype=np.uint8).copy(),
            "word2vec_vectors": np.asarray(vectors.vectors)}


def _unpack_vectors(packed: dict):
    from gensim.models import KeyedVectors

    words = packed["word2vec_words"].tobytes().decode("utf-8").split("\n")
    array = packed["word2vec_vectors"]
    vectors = KeyedVectors(array.shape[1], dtype=array.dtype)
    vectors.add_vectors(words, array)
    return vectors


def _sniff_binary(path: str) -> bool:
    """Whether a word2vec file is binary: both formats start with a "<words> <dimensions>"
    line; a text file's next line is a word and that many decimal numbers."""
    with open(path, "rb") as f:
        header = f.readline(256).split()
        if len(header) != 2 or not all(part.isdigit() for part in header):
            raise ValueError('its first line is not "<number of words> <dimensions>"')
        dim = int(header[1])
        first = f.readline(32 * (dim + 1) + 1024)
    try:
        fields = first.decode("utf-8").split()
        [float(x) for x in fields[-dim:]]
    except (UnicodeDecodeError, ValueError):
        return True
    return len(fields) < dim + 1


@lru_cache(maxsize=4)
def _read(path: str, binary: bool, mtime_ns: int, size: int):
    """One read per file version: cross-validation loads the same vectors in every fit."""
    from gensim.models import KeyedVectors

    return KeyedVectors.load_word2vec_format(path, binary=binary)


def load_word_vectors(source, binary: bool | None = None, *, name: str = "word_vectors"):
    """Word vectors (gensim ``KeyedVectors``) from any of the forms the estimators accept.

    Parameters
    ----------
    source : path, gensim KeyedVectors or fitted Word2VecFeatures
        A path names a word2vec-format file (never a pickle); it is read once per version of
        the file, and the same read-only vectors are shared by later calls.
    binary : bool or None, default=None
        For a path: whether the file is in the binary word2vec format (checked against the
        file); None detects it.
    name : str
        The parameter's name in error messages.
    """
    if isinstance(source, Word2VecFeatures):
        check_fitted(source, "vectors_")
        return source.vectors_
    if _is_keyed_vectors(source):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{name} must be a fitted Word2VecFeatures, gensim KeyedVectors or the "
                        f"path of a word2vec-format file, got {type(source).__name__}.")
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}={path!r} does not exist; pass the path of a local "
                                f"word2vec-format file (nothing is downloaded).")
    kind = ""
    try:
        is_binary = _sniff_binary(path)
        kind = "binary " if is_binary else "text "
        if binary is not None and bool(binary) != is_binary:
            given = f"{name}_binary" if name == "word_vectors" else "binary"
            raise ValueError(f"{given}={binary} was given; leave it None to detect the format")
        stat = os.stat(path)
        return _read(os.path.abspath(path), is_binary, stat.st_mtime_ns, stat.st_size)
    except (ValueError, UnicodeDecodeError, EOFError) as err:
        raise ValueError(f"{name}={path!r} could not be read as a word2vec {kind}file ({err}); "
                         f"check the file.") from None


def save_word_vectors(vectors, path, binary: bool | None = None) -> Path:
    """Write word vectors in word2vec format, atomically: binary when ``binary`` is True, or
    when it is None and the name ends in ``.bin``; text otherwise.

    ``vectors`` is anything ``load_word_vectors`` accepts. Returns the path.
    """
    vectors = load_word_vectors(vectors, name="vectors")
    path = Path(path)
    with atomic_path(path) as tmp:
        as_binary = path.suffix == ".bin" if binary is None else bool(binary)
        vectors.save_word2vec_format(str(tmp), binary=as_binary)
    return path


class _Tokenized:
    """The tokens of a ``TextStream``, text by text, anew at each iteration."""

    def __init__(self, texts, tokenizer):
        self.texts, self.segmenter = texts, tokenizer

    def __iter__(self):
        return (self.segmenter(text) for text in self.texts)

    def __len__(self) -> int:
        return len(self.texts)
