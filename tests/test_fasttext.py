"""FastTextClassifier: n-gram vocabulary, what bigrams add, parameters and persistence."""

import re

import numpy as np
import pytest
import torch

from hybridnlp import FastTextClassifier
from hybridnlp.persistence import load, save

# Unigrams cannot fit these four (a linear model on the mean of word vectors would need
# good > bad from the one-word texts and bad > good from the two-word ones); bigrams can.
NEGATION = ["good", "bad", "not bad", "not good"] * 10
NEGATION_Y = np.array(["pos", "neg", "pos", "neg"] * 10)


def test_vocabulary_holds_words_and_bigrams_most_frequent_first():
    clf = FastTextClassifier(max_epochs=1, random_state=0).fit(
        ["A fine film!", "a fine mess", "a dull film"], [1, 1, 0])
    assert list(clf.vocabulary_)[:3] == ["a", "fine", "film"]  # counts 3, 2, 2
    assert {"a fine", "fine film", "film !", "dull film"} <= set(clf.vocabulary_)
    assert len(clf.vocabulary_) == 6 + 6  # 6 words, 6 distinct bigrams
    assert clf.model_.embedding.weight.shape == (12, 100)
    top = FastTextClassifier(max_features=2, max_epochs=1).fit(["a a b c", "a b"], [0, 1])
    assert list(top.vocabulary_) == ["a", "b"]
    frequent = FastTextClassifier(min_count=2, ngram_range=(1, 1), max_epochs=1).fit(
        ["a a b c", "a b"], [0, 1])
    assert list(frequent.vocabulary_) == ["a", "b"]


@pytest.mark.parametrize("ngram_range, expected", [((1, 2), 1.0), ((1, 1), 0.75)])
def test_bigrams_fit_what_unigrams_cannot(ngram_range, expected):
    clf = FastTextClassifier(dim=8, ngram_range=ngram_range, max_epochs=60, optimizer__lr=0.05,
                             random_state=0).fit(NEGATION, NEGATION_Y)
    assert clf.score(NEGATION, NEGATION_Y) <= expected
    if expected == 1.0:
        assert clf.score(NEGATION, NEGATION_Y) == 1.0
        assert list(clf.predict(["not bad", "not good"])) == ["pos", "neg"]


def test_text_without_known_ngrams_gets_the_bias_alone():
    clf = FastTextClassifier(dim=8, max_epochs=3, random_state=0).fit(NEGATION, NEGATION_Y)
    bias = torch.softmax(clf.model_.linear.bias.detach(), -1).numpy()
    assert np.allclose(clf.predict_proba(["unseen words only", "   "]), bias)
    assert clf.predict_proba(["unseen", "good"]).shape == (2, 2)


def test_seeded_fit_is_reproducible_and_seeds_differ():
    fit = lambda seed: FastTextClassifier(dim=8, max_epochs=2, random_state=seed).fit(  # noqa: E731
        NEGATION, NEGATION_Y).predict_proba(NEGATION[:4])
    assert np.array_equal(fit(0), fit(0))
    assert not np.array_equal(fit(0), fit(1))


@pytest.mark.parametrize("params, message", [
    ({"ngram_range": (2, 1)}, "ngram_range=(2, 1) is not a valid n-gram range; pass (min_n, "
                              "max_n) with 1 <= min_n <= max_n, e.g. (1, 2)."),
    ({"dim": 0}, "dim=0 is out of range; it must be >= 1."),
    ({"max_epochs": 2.5}, "max_epochs=2.5 is a float; it takes an integer."),
    ({"optimizer__lr": 0}, "optimizer__lr=0 is out of range; it must be > 0."),
    ({"optimizer__lr": "0.01"}, "optimizer__lr='0.01' is a str; it takes a number."),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises((ValueError, TypeError), match="^" + re.escape(message) + "$"):
        FastTextClassifier(**params).fit(NEGATION, NEGATION_Y)


def test_save_and_load_model_give_the_same_probabilities(tmp_path):
    clf = FastTextClassifier(dim=8, max_epochs=2, random_state=0).fit(NEGATION, NEGATION_Y)
    restored = load(save(clf, tmp_path / "ft"))
    assert np.array_equal(restored.predict_proba(NEGATION), clf.predict_proba(NEGATION))
    assert restored.vocabulary_ == clf.vocabulary_
