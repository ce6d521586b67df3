"""The segmenter= hook (hybridnlp.text.segmenters): a registered name or a callable splits the
words of every component; a registered name saves and loads, a callable is refused."""

import re

import numpy as np
import pytest

from hybridnlp import (
    FastTextClassifier,
    HybridClassifier,
    NBFeatures,
    TfidfFeatures,
    TopicFeatures,
    TransformerClassifier,
    Word2VecFeatures,
)
from hybridnlp.persistence import load, save
from hybridnlp.text import WordTokenizer, register_segmenter
from hybridnlp.text.segmenters import Segmenter

TEXTS = ["这部电影非常精彩", "这部电影非常无聊", "演员很出色", "演员很糟糕"] * 6
LABELS = ["pos", "neg"] * 12


def _bigrams(text):  # a toy segmenter: two characters a word
    return [text[i:i + 2] for i in range(0, len(text), 2)]


register_segmenter("bigrams", _bigrams)


def test_a_registered_segmenter_splits_the_words_of_every_component():
    assert WordTokenizer(segmenter="bigrams")("这部电影") == ["这部", "电影"]
    tfidf = TfidfFeatures(segmenter="bigrams").fit(TEXTS)
    assert "这部 电影" in tfidf.get_feature_names_out()
    assert "这部" in NBFeatures(segmenter="bigrams").fit(TEXTS, LABELS).get_feature_names_out()
    assert "非常" in FastTextClassifier(segmenter="bigrams", dim=4, max_epochs=1).fit(
        TEXTS, LABELS).vocabulary_
    w2v = Word2VecFeatures(segmenter="bigrams", vector_size=4, epochs=1).fit(TEXTS)
    assert "电影" in w2v.vectors_.key_to_index
    topics = TopicFeatures(segmenter="bigrams", n_topics=2, min_df=1, max_iter=2,
                           stop_words=None).fit(TEXTS)
    assert "电影" in topics.vectorizer_.vocabulary_
    clf = TransformerClassifier(segmenter="bigrams", preset="tiny", max_epochs=1).fit(
        TEXTS, LABELS)
    assert "电影" in clf.tokenizer_.words


def test_a_model_holding_a_registered_name_saves_and_loads(tmp_path):
    clf = HybridClassifier(segmenter="bigrams", cv=2, random_state=0)
    clf.set_params(transformer__preset="tiny", transformer__max_epochs=1).fit(TEXTS, LABELS)
    restored = load(save(clf, tmp_path / "hybrid"))
    np.testing.assert_array_equal(restored.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    assert restored.named_estimators_["fasttext"].segmenter == "bigrams"


def test_a_model_holding_a_callable_is_refused_by_save_model_naming_the_fix(tmp_path):
    clf = TfidfFeatures(segmenter=_bigrams).fit(TEXTS)
    with pytest.raises(ValueError, match=re.escape(
            "the model holds the callable '_bigrams' as its word segmenter (segmenter=), and "
            "code is never saved with a model. Register it: "
            "hybridnlp.text.register_segmenter('_bigrams', _bigrams)")):
        save(clf, tmp_path / "tfidf")
    assert not (tmp_path / "tfidf").exists()


def test_an_unknown_segmenter_name_is_refused_before_any_work():
    with pytest.raises(ValueError, match="segmenter='jeiba' is not a registered segmenter; "
                                         "registered: "):
        TfidfFeatures(segmenter="jeiba").fit(TEXTS)
    with pytest.raises(ValueError, match="segmenter='jeiba' is not allowed"):
        TransformerClassifier(segmenter="jeiba").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"^segmenter='bigrams' splits the words of "
                                         r"tokenizer='word', but tokenizer is 'char'"):
        TransformerClassifier(tokenizer="char", segmenter="bigrams").fit(TEXTS, LABELS)


def test_the_old_tokenizer_name_of_the_segmenter_warns_and_gives_the_same_model():
    """tokenizer= meant a word segmenter in the features, fastText, the retrievers and the
    hybrids: for one release it still does, with a FutureWarning naming segmenter=."""
    from hybridnlp.qa import BM25Retriever

    old_name = r"\(tokenizer=\.\.\.\) is deprecated and will be removed in the next release; " \
               r"use segmenter=\.\.\. instead"
    for cls in (TfidfFeatures, NBFeatures, TopicFeatures, Word2VecFeatures, BM25Retriever):
        with pytest.warns(FutureWarning, match=cls.__name__ + old_name):
            old = cls(tokenizer="bigrams")
        assert old.get_params()["segmenter"] == "bigrams" and "tokenizer" not in old.get_params()
        with pytest.warns(FutureWarning, match=cls.__name__ + old_name):
            assert cls().set_params(tokenizer="bigrams").segmenter == "bigrams"
    with pytest.warns(FutureWarning, match="FastTextClassifier" + old_name):
        assert FastTextClassifier(tokenizer="bigrams").segmenter == "bigrams"
    with pytest.warns(FutureWarning, match="HybridClassifier" + old_name):
        assert HybridClassifier(tokenizer="bigrams").segmenter == "bigrams"
    old = TransformerClassifier(tokenizer="bigrams", preset="tiny", max_epochs=1, random_state=0)
    with pytest.warns(FutureWarning, match=r"^TransformerClassifier\(tokenizer='bigrams'\) as a "
                                           r"word segmenter is deprecated .* use "
                                           r"segmenter='bigrams' \(tokenizer='word'\) instead"):
        old.fit(TEXTS, LABELS)
    assert old.tokenizer_.words == TransformerClassifier(
        segmenter="bigrams", preset="tiny", max_epochs=1, random_state=0).fit(
        TEXTS, LABELS).tokenizer_.words



def test_jieba_segments_words_when_installed():
    pytest.importorskip("jieba")
    assert Segmenter("jieba")("这部电影非常精彩") == ["这部", "电影", "非常", "精彩"]
    tfidf = TfidfFeatures(segmenter="jieba").fit(TEXTS)
    assert {"电影", "非常", "精彩"} <= set(tfidf.get_feature_names_out())
