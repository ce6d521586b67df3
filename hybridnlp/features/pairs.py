"""Features of a sentence pair as a pair: how alike its two texts are (paraphrase,
entailment, similarity as in STS-B), for the classical components of a hybrid."""

from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from hybridnlp.features._ngrams import vectorize
from hybridnlp.features._text_transformer import TextTransformer
from hybridnlp.text import WORD_PATTERN
from hybridnlp.text.words import word_split
from hybridnlp.utils.validation import PAIR_SEPARATOR, check_fitted

__all__ = ["PairFeatures", "split_pairs"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
FEATURE_NAMES = (
    "word_cosine", "char_cosine", "word_jaccard", "bigram_jaccard", "word_overlap",
    "idf_overlap", "length_ratio", "length_difference", "numbers_agree",
)


def split_pairs(texts: list[str]) -> tuple[list[str], list[str]]:
    """The two sides of joined pairs (``hybridnlp.utils.validation.join_pairs``)."""
    left, right = [], []
    for i, text in enumerate(texts):
        a, sep, b = text.partition(PAIR_SEPARATOR)
        if not sep:
            raise ValueError(f"X[{i}] is not a sentence pair ({text!r:.60}); PairFeatures reads "
                             f"pairs: a list of (text_a, text_b) or a 2-column DataFrame.")
        left.append(a)
        right.append(b)
    return left, right


class PairFeatures(TextTransformer):
    """How alike the two texts of each sentence pair are, as dense features (one row per
    pair, ``FEATURE_NAMES``): the cosine of their TF-IDF word 1-2 gram vectors and of their
    character 2-4 gram vectors (the IDF fit on every side of the training pairs), the
    Jaccard similarity of their word sets and of their word-bigram sets, the overlap
    coefficient of their word sets, the IDF-weighted share of words they share, the ratio
    and the log difference of their lengths in words, and whether the numbers in them agree
    (1 all equal, 0 some differ, 0.5 none in either). The lexical-overlap features of the
    classical STS systems (e.g. Šarić et al. 2012), none of which the n-grams of the joined
    pair give a linear model.

    Parameters
    ----------
    lowercase : bool, default=True
    token_pattern : str, default=hybridnlp.text.WORD_PATTERN
    segmenter : str or callable, optional
        A word segmenter instead of ``token_pattern`` (as ``TfidfFeatures``).

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> pairs = [("a man plays a guitar", "a man plays guitar"), ("a cat", "the stock fell")]
    >>> make_pipeline(PairFeatures(), Ridge()).fit(pairs, [4.8, 0.2]).predict(pairs).shape
    (2,)
    """

    def __init__(self, *, lowercase=True, token_pattern=WORD_PATTERN, segmenter=None):
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.segmenter = segmenter

    def fit(self, X, y=None):
        """Learn the IDF of words and character n-grams over both sides. Returns self."""
        texts, _ = self._validate_fit(X, y)
        left, right = split_pairs(texts)
        sides = left + right
        split = word_split(self.token_pattern, self.segmenter)
        self.word_idf_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                                         lowercase=self.lowercase, **split).fit(sides)
        self.char_idf_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                         sublinear_tf=True, lowercase=self.lowercase).fit(sides)
        self.n_features_out_ = len(FEATURE_NAMES)
        return self

    def transform(self, X):
        """(n_pairs, 9) float64."""
        texts = self._validate_transform(X)
        left, right = split_pairs(list(texts))
        out = np.zeros((len(left), len(FEATURE_NAMES)))
        for k, vec in enumerate((self.word_idf_, self.char_idf_)):
            a, b = vectorize(vec, left), vectorize(vec, right)
            out[:, k] = np.asarray(a.multiply(b).sum(axis=1)).ravel()  # rows are unit length
        analyse = self.word_idf_.build_analyzer()
        idf = dict(zip(self.word_idf_.get_feature_names_out(), self.word_idf_.idf_))
        unseen = float(self.word_idf_.idf_.max())
        for i, (a, b) in enumerate(zip(left, right)):
            grams_a, grams_b = analyse(a), analyse(b)
            wa = {g for g in grams_a if " " not in g}
            wb = {g for g in grams_b if " " not in g}
            ba, bb = set(grams_a) - wa, set(grams_b) - wb
            union = wa | wb
            shared = wa & wb
            out[i, 2] = len(shared) / len(union) if union else 1.0
            out[i, 3] = len(ba & bb) / len(ba | bb) if ba | bb else 1.0
            out[i, 4] = len(shared) / min(len(wa), len(wb)) if wa and wb else 0.0
            weight = sum(idf.get(w, unseen) for w in union)
            out[i, 5] = sum(idf.get(w, unseen) for w in shared) / weight if weight else 1.0
            na, nb = max(len(wa), 1), max(len(wb), 1)
            out[i, 6] = min(na, nb) / max(na, nb)
            out[i, 7] = abs(np.log(na / nb))
            nums_a, nums_b = set(_NUMBER.findall(a)), set(_NUMBER.findall(b))
            out[i, 8] = 0.5 if not (nums_a or nums_b) else float(nums_a == nums_b)
        return out

    def get_feature_names_out(self, input_features=None):
        check_fitted(self)
        return np.asarray(FEATURE_NAMES, dtype=object)
