"""``HybridClassifier``: the combination that measured best, with defaults that need no tuning;
``HybridEnsemble``: the same components, soft-voted (or gated) instead of stacked."""

from __future__ import annotations

from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridnlp.estimators import FastTextClassifier, NBSVMClassifier, TransformerClassifier
from hybridnlp.features import NBFeatures, PairFeatures, TfidfFeatures, Word2VecFeatures
from hybridnlp.hybrid.ensemble import WeightedEnsemble
from hybridnlp.hybrid.stacking import StackingClassifier
from hybridnlp.pretrained import SentenceEmbeddingFeatures
from hybridnlp.text import WORD_PATTERN
from hybridnlp.text.words import word_split
from hybridnlp.utils.deprecation import RenamedParams
from hybridnlp.utils.paths import paths_as_strings
from hybridnlp.utils.validation import is_pairs

__all__ = ["HybridClassifier", "HybridEnsemble", "default_components"]

SENTENCE_EMBEDDING_C = 1.0  # the LR on frozen embeddings (benchmarks/RESULTS.md, "Pretrained")
# The shared 20% holdout from this many texts on (1,000 held-out texts for the meta
# learner); below it every component is k-fold (``_DefaultComponents._estimator_cv``).
HOLDOUT_MIN_TEXTS = 5000


def default_components(random_state=None, word_vectors=None, segmenter=None, pretrained=None,
                       fine_tune=True, pairs=False) -> list[tuple[str, object]]:
    """NBSVM on word + char n-grams, TF-IDF word + char logistic regression, multinomial naive
    Bayes on binary word 1-2 grams, fastText (mean of word and bigram embeddings) and a
    Transformer trained from scratch.

    fastText and naive Bayes (MNB-bi of Wang & Manning 2012, alpha=1) joined because they err
    on other texts than the two linear models, for seconds a fit; the stacked accuracies with
    and without them are in benchmarks/RESULTS.md ("What naive Bayes and the simplex-weight
    meta learner changed").

    With ``word_vectors`` (word vectors pretrained on unlabelled text: a word2vec-format path,
    KeyedVectors or a fitted ``Word2VecFeatures``), the Transformer's token embeddings start
    from them, its early stopping watches the validation loss (from pretrained vectors it
    overfits within an epoch or two, and the loss picks the better epoch more reliably than
    accuracy: benchmarks/RESULTS.md), and a last component, logistic regression on the
    texts' mean vectors, joins. With ``segmenter`` (a word segmenter such as ``"jieba"``),
    every component splits words with it.

    On sentence pairs (``pairs``: a hybrid's ``fit`` got pairs) every component reads the
    pair joined by a separator, and ``pair`` joins: logistic regression on
    ``PairFeatures`` (how alike the two texts are: TF-IDF cosines, overlaps, lengths).

    With ``pretrained`` (a local Hugging Face or sentence-transformers directory), a component
    ``sentence_embedding`` joins (logistic regression on its frozen sentence embeddings,
    SetFit's head), and the Transformer is that encoder fine-tuned for 3 epochs
    (``fine_tune=True``, Devlin et al.'s 2-4) or, with ``fine_tune=False``, left out (the
    frozen embeddings stand for it: a fit of seconds per fold once the texts are embedded).
    """
    if pretrained is not None:
        transformer = TransformerClassifier(pretrained=pretrained, max_epochs=3, patience=None,
                                            random_state=random_state)
    else:
        transformer = TransformerClassifier(
            segmenter=segmenter, word_vectors=word_vectors,
            random_state=random_state)
    if word_vectors is not None and pretrained is None:
        transformer.set_params(trainer__monitor="val_loss")
    components = [
        ("nbsvm", NBSVMClassifier(features=NBFeatures(analyzer="both", segmenter=segmenter),
                                  clf=LogisticRegression(C=0.3, max_iter=1000))),
        ("tfidf", make_pipeline(TfidfFeatures(analyzer="both", segmenter=segmenter),
                                LogisticRegression(C=10, max_iter=1000))),
        ("mnb", make_pipeline(CountVectorizer(ngram_range=(1, 2), binary=True,
                                              **word_split(WORD_PATTERN, segmenter)),
                              MultinomialNB(alpha=1.0))),
        ("fasttext", FastTextClassifier(segmenter=segmenter, random_state=random_state)),
        ("transformer", transformer),
    ]
    if pretrained is not None and not fine_tune:
        components.pop()
    if pretrained is not None:
        components.append(("sentence_embedding", make_pipeline(
            SentenceEmbeddingFeatures(pretrained=pretrained),
            LogisticRegression(C=SENTENCE_EMBEDDING_C, max_iter=2000))))
    if word_vectors is not None:
        components.append(("word2vec", make_pipeline(Word2VecFeatures(word_vectors=word_vectors,
                                                                      segmenter=segmenter),
                                                     LogisticRegression(C=1, max_iter=2000))))
    if pairs:
        components.append(("pair", make_pipeline(
            PairFeatures(segmenter=segmenter), StandardScaler(),
            LogisticRegression(max_iter=1000))))
    return components


class _DefaultComponents(RenamedParams):
    """``estimators=None`` means ``default_components(random_state, word_vectors, ...)``;
    dunder parameters (``transformer__max_epochs``) reach them as if they had been passed.
    ``embeddings=`` and ``tokenizer=`` are the old names of ``word_vectors=`` and
    ``segmenter=`` (they warn for one release)."""

    _renamed = {"embeddings": "word_vectors", "tokenizer": "segmenter"}

    def _defaults(self):
        return default_components(self.random_state, self.word_vectors, self.segmenter,
                                  self.pretrained, self.fine_tune,
                                  getattr(self, "pairs_", False))

    def fit(self, X, y, sample_weight=None):
        """As the hybrid's base fits; ``X`` may be sentence pairs (``pairs_``): then the
        default components include ``pair``."""
        self.pairs_ = getattr(self, "text_column", None) is None and is_pairs(X)
        return super().fit(X, y, sample_weight)

    def _materialise(self) -> None:
        if self.estimators is None:
            self.estimators = self._defaults()

    def get_params(self, deep=True):
        if self.estimators is None and deep:
            own = super().get_params(deep=False)
            params = type(self)(**{**own, "estimators": self._defaults()}).get_params(deep=True)
            params.update(super().get_params(deep=False))
            return params
        return super().get_params(deep=deep)

    def set_params(self, **params):
        own = {k: v for k, v in params.items() if "__" not in k}
        nested = {k: v for k, v in params.items() if "__" in k}
        super().set_params(**own)  # word_vectors first: it decides the default components
        if nested:
            self._materialise()
            super().set_params(**nested)
        return self

    def __getstate__(self):
        return paths_as_strings(super().__getstate__())

    def __setstate__(self, state):
        state = {"pretrained": None, "fine_tune": True, **state}  # pickled before they existed
        super().__setstate__(state)

    def _components(self):
        if self.estimators is None:
            return self._defaults()
        components = super()._components()
        defaults = self._defaults()
        if getattr(self, "pairs_", False) and [n for n, _ in components] == [
                n for n, _ in defaults[:-1]]:  # the defaults, set_params'd before the pairs
            components = [*components, defaults[-1]]  # were seen: their pair component
        return components

    def _estimator_cv(self, n_texts: int | None = None) -> dict:
        """With a Transformer among the components and at least ``HOLDOUT_MIN_TEXTS``
        texts, all of them share its 20% holdout: the meta learner (or the weights) can
        only learn from texts that every component held out, so k-fold predictions on the
        other 80% would be computed and dropped (on MR, 4 of every 6 fits of each n-gram
        component). On fewer texts every component is k-fold (``cv``), the Transformer too:
        a 20% holdout would leave the meta learner too few texts to choose on
        (benchmarks/RESULTS.md, "Hybrids: the meta learner chosen out of fold")."""
        if self.estimator_cv is not None:
            return dict(self.estimator_cv)
        estimators = self.estimators or self._defaults()
        names = [name for name, _ in estimators]
        if "transformer" not in names or (n_texts is not None
                                          and n_texts < HOLDOUT_MIN_TEXTS):
            return {}
        return dict.fromkeys(names, 0.2)


_EMBEDDINGS_DOC = """word_vectors : path, KeyedVectors or fitted Word2VecFeatures, optional
        Word vectors pretrained on unlabelled text (``Word2VecFeatures().fit(unlabelled)``,
        saved with ``hybridnlp.features.save_word_vectors``; a path names a word2vec-format
        file), of the Transformer's width (128). The Transformer starts from them and a
        last component, ``word2vec`` (logistic regression on mean word vectors), joins.
        Only used with the default components.
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) for every default
        component; without it words are regex tokens (one per character of Chinese).
    pretrained : path, optional
        A local Hugging Face or sentence-transformers model directory: a last component,
        ``sentence_embedding`` (logistic regression on its frozen sentence embeddings),
        joins, and the Transformer is that encoder fine-tuned (3 epochs) instead of one
        trained from scratch. Nothing is downloaded. Only used with the default components.
    fine_tune : bool, default=True
        With ``pretrained``: False leaves the fine-tuned encoder out (frozen embeddings only;
        minutes instead of hours for a 10-fold run on CPU)."""


class HybridClassifier(_DefaultComponents, StackingClassifier):
    """Classical n-gram models and a Transformer, stacked: the hybrid to reach for first.

    The components are NBSVM (``NBSVMClassifier``: ``NBFeatures(analyzer="both")`` and
    logistic regression, one binary model per class beyond two), TF-IDF
    word + char n-grams + logistic regression, multinomial naive Bayes on word 1-2 grams,
    ``FastTextClassifier`` and ``TransformerClassifier``. A logistic regression on their
    held-out probabilities combines them: of it, ``SimplexWeights`` (soft voting with
    non-negative weights) and ``MetaSelection`` (choosing among those, greedy selection and
    each component alone out of fold), it fell below the best component least often and
    least far, from 300 training texts to the full sets (benchmarks/RESULTS.md, "Hybrids:
    the meta learner chosen out of fold").
    From 5,000 texts on, every component gives held-out predictions on one shared 20%
    holdout (blending: one extra fit each instead of five, and the meta learner could only
    use the texts the Transformer held out anyway); on fewer, each is 5-fold, so the meta
    learner learns from every text. Every component is reachable with dunder parameters, e.g.
    ``set_params(transformer__module__n_layer=2, nbsvm__clf__C=1)`` or a
    ``GridSearchCV`` grid over ``"transformer__optimizer__lr"``.

    Parameters
    ----------
    estimators : list of (name, classifier), optional
        Replaces the default components.
    EMBEDDINGS
    final_estimator : classifier, optional
        The meta learner; default ``LogisticRegression(max_iter=1000)``
        (``SimplexWeights()`` for the soft vote, ``MetaSelection()`` to choose out of fold).
    cv, estimator_cv, passthrough, cache
        As in ``StackingClassifier``; ``estimator_cv`` defaults to 0.2 for every component
        when one is named ``transformer`` and there are 5,000 texts or more (a shared 20%
        holdout), else ``cv`` applies.
    random_state : int or None, default=None
        Seeds the components and the held-out split; an int makes fits repeatable (the
        experiment runner passes the config's ``seed``).
    n_jobs : int or None, default=None
        As in ``StackingClassifier``: the component fits in parallel (joblib; Dask through
        ``joblib.parallel_config``).
    verbose : int, default=0
        A progress bar (tqdm, on standard error) per component over its held-out fits.
    calibrate : bool, "beta" or "temperature", default=False
        Calibrate the probabilities on the meta learner's cross-validated held-out
        predictions (``StackingClassifier``): ``True``/``"beta"`` maps the predicted
        class's confidence (beta calibration), ``"temperature"`` divides by one
        temperature; ``predict`` is unchanged.
    cascade : float or None, default=None
        Cheap first (``StackingClassifier``): a stage of the cheapest components (chosen
        at fit by measured predict time, e.g. NBSVM, MNB and fastText) answers every
        text, the rest (the Transformer or pretrained encoder among them) only those it is
        unsure of, at most this accuracy lost on the held-out texts, one standard error of
        it included (``cascade_escalated_``: the share sent on).
    class_weight : "balanced", dict or None, default=None
        As in ``StackingClassifier``: every component and the meta learner weigh each text
        by its class's weight (times ``fit``'s ``sample_weight``).
    text_column : str or None, default=None
        As in ``StackingClassifier``: ``X`` is a DataFrame, the components read this column
        and the meta learner also reads the other columns (numbers and categories).

    Examples
    --------
    >>> clf = HybridClassifier().fit(train_texts, train_labels)      # doctest: +SKIP
    >>> clf.component_report(test_texts, test_labels).summary         # doctest: +SKIP
    >>> vectors = Word2VecFeatures(vector_size=128).fit(unlabelled_texts)  # doctest: +SKIP
    >>> HybridClassifier(word_vectors=vectors).fit(train_texts, train_labels)  # doctest: +SKIP
    """

    def __init__(self, *, estimators=None, word_vectors=None, segmenter=None, pretrained=None,
                 fine_tune=True, final_estimator=None, cv=5, estimator_cv=None,
                 passthrough=None, cache=True, random_state=None, n_jobs=None, verbose=0,
                 calibrate=False, cascade=None, class_weight=None, text_column=None):
        super().__init__(estimators=estimators, final_estimator=final_estimator, cv=cv,
                         estimator_cv=estimator_cv, passthrough=passthrough, cache=cache,
                         random_state=random_state, n_jobs=n_jobs, verbose=verbose,
                         calibrate=calibrate, cascade=cascade, class_weight=class_weight,
                         text_column=text_column)
        self.word_vectors = word_vectors
        self.segmenter = segmenter
        self.pretrained = pretrained
        self.fine_tune = fine_tune


class HybridEnsemble(_DefaultComponents, WeightedEnsemble):
    """HybridClassifier's components in a ``WeightedEnsemble``, for ``gating=True``: weights
    per text, from its length, its rate of unseen words and the components' confidences.
    Without gating it fits the same weights as
    ``HybridClassifier(final_estimator=SimplexWeights())`` and gives the same predictions.

    Parameters
    ----------
    estimators : list of (name, classifier), optional
        Replaces the default components.
    EMBEDDINGS
    cv, estimator_cv, gating, gate_alpha
        As in ``WeightedEnsemble``; ``estimator_cv`` defaults to 0.2 for every component
        when one is named ``transformer`` and there are 5,000 texts or more (a shared 20%
        holdout), else ``cv`` applies.
    random_state : int or None, default=None
        Seeds the components and the held-out split; an int makes fits repeatable (the
        experiment runner passes the config's ``seed``).
    n_jobs : int or None, default=None
        As in ``StackingClassifier``: the component fits in parallel (joblib; Dask through
        ``joblib.parallel_config``).
    verbose : int, default=0
        A progress bar (tqdm, on standard error) per component over its held-out fits.
    """

    def __init__(self, *, estimators=None, word_vectors=None, segmenter=None, pretrained=None,
                 fine_tune=True, cv=5, estimator_cv=None, gating=False, gate_alpha=1.0,
                 random_state=None, n_jobs=None, verbose=0, class_weight=None):
        super().__init__(estimators=estimators, cv=cv, estimator_cv=estimator_cv,
                         gating=gating, gate_alpha=gate_alpha, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose, class_weight=class_weight)
        self.word_vectors = word_vectors
        self.segmenter = segmenter
        self.pretrained = pretrained
        self.fine_tune = fine_tune


for _cls in (HybridClassifier, HybridEnsemble):
    _cls.__doc__ = _cls.__doc__.replace("EMBEDDINGS", _EMBEDDINGS_DOC)
