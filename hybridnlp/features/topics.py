"""LDA topic proportions as features, with top words and topic coherence."""

from __future__ import annotations

import re

import numpy as np
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils import check_random_state

from hybridnlp.features._ngrams import check_words, vectorize
from hybridnlp.features._text_transformer import TextTransformer
from hybridnlp.text.words import SPACELESS, WordTokenizer
from hybridnlp.utils.validation import check_choice, check_fitted, check_texts

__all__ = ["TopicFeatures"]

BACKENDS = ("sklearn", "gensim")
COHERENCE_MEASURES = ("c_npmi", "c_v", "c_uci", "u_mass")
# Topic words: alphabetic, at least two letters (numbers and punctuation make poor topics).
# Words of two or more letters (no digits), or one character of a space-less script (Chinese
# words are one or two characters, so a character is the unit a topic can show without a
# segmenter).
TOPIC_TOKEN_PATTERN = rf"(?u)[{SPACELESS}]|\b[^\W\d_{SPACELESS}]{{2,}}\b"


class TopicWords:
    """A segmenter's words that a topic can show: letters only, and two or more of them
    outside the space-less scripts (whose words are often one character)."""

    _keep = re.compile(rf"[{SPACELESS}]+|[^\W\d_]{{2,}}")

    def __init__(self, segmenter):
        self.split = WordTokenizer(segmenter=segmenter, lowercase=False)

    def __call__(self, text: str) -> list[str]:
        return [w for w in self.split(text) if self._keep.fullmatch(w)]


class TopicFeatures(TextTransformer):
    """Document-topic proportions of a Latent Dirichlet Allocation model.

    Parameters
    ----------
    n_topics : int, default=10
    backend : {"sklearn", "gensim"}, default="sklearn"
        scikit-learn's ``LatentDirichletAllocation`` (variational Bayes) or gensim's ``LdaModel``.
    max_iter : int, default=10
        Passes over the corpus.
    doc_topic_prior, topic_word_prior : float, optional
        Dirichlet priors (alpha, eta); None uses ``1 / n_topics``.
    min_df, max_df : int or float, default=2 and 0.95
    max_features : int, optional
    stop_words : "english", list or None, default="english"
    lowercase : bool, default=True
    token_pattern : str, default=TOPIC_TOKEN_PATTERN
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) that splits the
        words instead of ``token_pattern`` (words holding a digit or no letter, and
        one-letter words outside Chinese and Japanese, are left out). Models holding a
        registered name save and load.
    random_state : int, RandomState or None

    Attributes
    ----------
    vectorizer_ : CountVectorizer
    model_ : LatentDirichletAllocation or gensim.models.LdaModel
    topic_word_ : ndarray of shape (n_topics, V), rows sum to 1
    n_features_out_ : int

    Examples
    --------
    >>> topics = TopicFeatures(n_topics=5, random_state=0).fit(texts)  # doctest: +SKIP
    >>> topics.top_words(8)                                            # doctest: +SKIP
    >>> topics.coherence(texts, measure="c_npmi")                      # doctest: +SKIP
    """

    _streams = True  # X may be a file path or TextStream

    def __init__(
        self,
        *,
        n_topics=10,
        backend="sklearn",
        max_iter=10,
        doc_topic_prior=None,
        topic_word_prior=None,
        min_df=2,
        max_df=0.95,
        max_features=None,
        stop_words="english",
        lowercase=True,
        token_pattern=TOPIC_TOKEN_PATTERN,
        segmenter=None,
        random_state=None,
    ):
        self.n_topics = n_topics
        self.backend = backend
        self.max_iter = max_iter
        self.doc_topic_prior = doc_topic_prior
        self.topic_word_prior = topic_word_prior
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.stop_words = stop_words
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.segmenter = segmenter
        self.random_state = random_state

    def _word_split(self) -> dict:
        if self.segmenter is None:
            return {"token_pattern": self.token_pattern}
        return {"token_pattern": None, "tokenizer": TopicWords(self.segmenter)}

    def fit(self, X, y=None):
        """Fit the vocabulary and the LDA model. Returns self."""
        texts, _ = self._validate_fit(X, y)
        check_choice("backend", self.backend, BACKENDS)
        if not (isinstance(self.n_topics, int | np.integer) and self.n_topics >= 1):
            raise ValueError(f"n_topics={self.n_topics!r} must be a positive integer, e.g. 10.")
        self.vectorizer_ = CountVectorizer(
            lowercase=self.lowercase, **self._word_split(),
            stop_words=self.stop_words, min_df=self.min_df, max_df=self.max_df,
            max_features=self.max_features,
        )
        check_words([("word", self.vectorizer_)], texts, type(self).__name__)
        try:
            counts = self.vectorizer_.fit_transform(texts)  # (n, V)
        except ValueError as err:
            raise ValueError(
                f"TopicFeatures found no words to model ({err}); with {len(texts)} texts, "
                f"lower min_df={self.min_df!r}, raise max_df={self.max_df!r} or pass "
                f"stop_words=None."
            ) from None
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        if self.backend == "sklearn":
            self._fit_sklearn(counts, seed)
        else:
            self._fit_gensim(counts, seed)
        self.n_features_out_ = int(self.n_topics)
        return self

    def _fit_sklearn(self, counts, seed: int) -> None:
        self.model_ = LatentDirichletAllocation(
            n_components=self.n_topics, max_iter=self.max_iter, learning_method="batch",
            doc_topic_prior=self.doc_topic_prior, topic_word_prior=self.topic_word_prior,
            random_state=seed,
        ).fit(counts)
        components = self.model_.components_  # (K, V)
        self.topic_word_ = components / components.sum(axis=1, keepdims=True)

    def _fit_gensim(self, counts, seed: int) -> None:
        from gensim.models import LdaModel

        vocab = self.vectorizer_.get_feature_names_out()
        prior = 1.0 / self.n_topics
        self.model_ = LdaModel(
            corpus=_bows(counts), id2word=dict(enumerate(vocab)), num_topics=self.n_topics,
            passes=self.max_iter, random_state=seed,
            alpha=np.full(self.n_topics, self.doc_topic_prior or prior),
            eta=self.topic_word_prior or prior,
        )
        self._gensim_seed = seed
        self.topic_word_ = self.model_.get_topics()  # (K, V), rows sum to 1

    def transform(self, X):
        """Topic proportions, shape (n_texts, n_topics); each row sums to 1."""
        texts = self._validate_transform(X)
        counts = vectorize(self.vectorizer_, texts)
        if self.backend == "sklearn":
            return self.model_.transform(counts)
        # gensim's inference draws its starting point from the model's RandomState; reseed it
        # so that transform is a function of its input (and identical after unpickling).
        self.model_.random_state = np.random.RandomState(self._gensim_seed)
        gamma, _ = self.model_.inference(_bows(counts))  # (n, K)
        return gamma / gamma.sum(axis=1, keepdims=True)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        if self.backend == "gensim" and "model_" in state and not isinstance(state["model_"],
                                                                             dict):
            state["model_"] = _pack_lda(state["model_"])  # plain arrays: saves, never pickled
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("model_"), dict):
            state = {**state, "model_": _unpack_lda(state["model_"])}
        super().__setstate__(state)

    def get_feature_names_out(self, input_features=None):
        check_fitted(self)
        return np.asarray([f"topic{k}" for k in range(self.n_topics)], dtype=object)

    def top_words(self, n: int = 10) -> list[list[str]]:
        """The ``n`` most probable words of each topic, most probable first."""
        check_fitted(self)
        vocab = self.vectorizer_.get_feature_names_out()
        order = np.argsort(-self.topic_word_, axis=1, kind="stable")[:, :n]  # (K, n)
        return [[str(vocab[i]) for i in row] for row in order]

    def coherence(self, texts, measure: str = "c_npmi", top_n: int = 10, per_topic: bool = False):
        """Topic coherence on reference texts, through gensim's ``CoherenceModel``.

        Parameters
        ----------
        texts : list of str
            Reference corpus (often the training texts) tokenised as the model was.
        measure : {"c_npmi", "c_v", "c_uci", "u_mass"}, default="c_npmi"
        top_n : int, default=10
            Words per topic.
        per_topic : bool, default=False
            Return one value per topic instead of their mean.
        """
        from gensim.corpora import Dictionary
        from gensim.models import CoherenceModel

        check_fitted(self)
        check_choice("measure", measure, COHERENCE_MEASURES)
        texts = check_texts(texts, name="texts")
        analyze = self.vectorizer_.build_analyzer()
        tokenized = [analyze(t) for t in texts]
        dictionary = Dictionary(tokenized)
        topics = [[w for w in words if w in dictionary.token2id] for words in self.top_words(top_n)]
        if min(len(t) for t in topics) < 2:
            raise ValueError(
                "coherence needs at least 2 of each topic's top words in the reference texts; "
                "pass the training texts or a larger corpus."
            )
        model = CoherenceModel(
            topics=topics, texts=tokenized, dictionary=dictionary, coherence=measure,
            corpus=[dictionary.doc2bow(t) for t in tokenized] if measure == "u_mass" else None,
            topn=top_n, processes=1,
        )
        if per_topic:
            return np.asarray(model.get_coherence_per_topic())
        return float(model.get_coherence())


def _bows(counts) -> list[list[tuple[int, int]]]:
    """CSR document-term counts -> gensim bag-of-words lists."""
    counts = counts.tocsr()
    return [
        list(zip(counts.indices[a:b].tolist(), counts.data[a:b].tolist()))
        for a, b in zip(counts.indptr[:-1], counts.indptr[1:])
    ]


def _pack_lda(model) -> dict:
    """A gensim ``LdaModel`` as what its inference reads: the sufficient statistics, the
    priors and the inference settings (no gensim object, so skops stores it as data)."""
    return {"sstats": model.state.sstats, "alpha": np.asarray(model.alpha),
            "eta": np.asarray(model.eta), "iterations": int(model.iterations),
            "gamma_threshold": float(model.gamma_threshold),
            "dtype": np.dtype(model.dtype).name}


def _unpack_lda(packed: dict):
    """The ``LdaModel`` of :func:`_pack_lda`'s data (its topics and inference identical)."""
    from gensim.models import LdaModel

    sstats = np.asarray(packed["sstats"])
    n_topics, n_words = sstats.shape
    model = LdaModel(num_topics=n_topics, id2word={i: str(i) for i in range(n_words)},
                     alpha=np.asarray(packed["alpha"]), eta=np.asarray(packed["eta"]),
                     iterations=int(packed["iterations"]),
                     gamma_threshold=float(packed["gamma_threshold"]),
                     dtype=np.dtype(packed["dtype"]).type)
    model.state.sstats = sstats.astype(model.dtype, copy=True)
    model.sync_state()
    return model
