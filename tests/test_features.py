"""Behaviour of each classical feature: values against scikit-learn/gensim and hand computation."""

import gzip
import json
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from hybridnlp import NBFeatures, NBSVMClassifier, TfidfFeatures, TopicFeatures, Word2VecFeatures
from hybridnlp.datasets import TextStream, load_dataset
from hybridnlp.text import WORD_PATTERN, WordTokenizer


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


# ---------------------------------------------------------------- TF-IDF


def test_tfidf_equals_sklearn_vectorizer(mr_small):
    texts, _ = mr_small
    ours = TfidfFeatures().fit_transform(texts)
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=WORD_PATTERN)
    expected = ref.fit_transform(texts)
    assert ours.shape == expected.shape
    assert abs(ours - expected).max() < 1e-12
    assert list(TfidfFeatures().fit(texts).get_feature_names_out()[:3]) == list(
        ref.get_feature_names_out()[:3]
    )


def test_tfidf_both_stacks_word_and_char_blocks(mr_small):
    texts, _ = mr_small
    feats = TfidfFeatures(analyzer="both", char_ngram_range=(2, 3)).fit(texts)
    out = feats.transform(texts)
    n_word = len(feats.vectorizers_[0][1].vocabulary_)
    assert out.shape == (len(texts), feats.n_features_out_)
    assert np.allclose(np.sqrt(out[:, :n_word].multiply(out[:, :n_word]).sum(1)), 1.0)
    assert np.allclose(np.sqrt(out[:, n_word:].multiply(out[:, n_word:]).sum(1)), 1.0)
    names = feats.get_feature_names_out()
    assert names[0].startswith("word__") and names[-1].startswith("char__")
    assert len(names) == out.shape[1]


def test_shared_counts_counts_the_texts_once_for_nb_and_tfidf_and_changes_nothing(
        mr_small, monkeypatch):
    from hybridnlp.features import shared_counts
    from hybridnlp.features._counting import NgramCounter

    texts, y = mr_small
    train, new = texts[:150], texts[150:]
    tfidf = TfidfFeatures(analyzer="both", char_ngram_range=(2, 4)).fit(train)
    nb = NBFeatures(analyzer="both", char_ngram_range=(2, 4)).fit(train, y[:150])
    other = NBFeatures(analyzer="both", char_ngram_range=(2, 4), min_df=2).fit(train, y[:150])
    alone = [f.transform(new) for f in (tfidf, nb, other)]
    counted = []
    count = NgramCounter.transform
    monkeypatch.setattr(NgramCounter, "transform", lambda self, *a, **k: (
        counted.append(1), count(self, *a, **k))[1])
    with shared_counts():
        shared = [f.transform(new) for f in (tfidf, nb, other)]
        # the same texts again, in another list: counted already
        again = nb.transform(list(new))
    # word + char blocks: twice for TF-IDF and NB (the same vocabularies), twice for the NB
    # whose min_df made other vocabularies
    assert len(counted) == 4
    for a, b in zip(alone, shared, strict=True):
        assert a.dtype == b.dtype and (a != b).nnz == 0
    assert (again != alone[1]).nnz == 0
    counted.clear()
    assert (nb.transform(new) != alone[1]).nnz == 0  # outside the block: counted as before
    assert len(counted) == 2


def test_tfidf_bad_analyzer(mr_small):
    message = (
        "analyzer='words' is not allowed; choose one of 'word', 'char', 'char_wb', 'both'. "
        "Did you mean 'word'?"
    )
    with raises(ValueError, message):
        TfidfFeatures(analyzer="words").fit(mr_small[0])


# ---------------------------------------------------------------- NB log-count ratios


def test_nb_ratios_by_hand():
    texts, y = ["good good", "good bad", "bad"], [1, 1, 0]
    nb = NBFeatures(word_ngram_range=(1, 1)).fit(texts, y)
    assert list(nb.get_feature_names_out()) == ["bad", "good"]
    # binary counts: positives p = 1 + [bad 1, good 2] = [2, 3]; negatives q = 1 + [1, 0] = [2, 1]
    expected = np.log(np.array([2, 3]) / 5) - np.log(np.array([2, 1]) / 3)
    assert np.allclose(nb.ratios_, [expected])
    out = nb.transform(["good good bad", "unknown"]).toarray()
    assert np.allclose(out, [expected, [0, 0]])  # binary: "good" counted once


def test_nb_multiclass_is_one_vs_rest_blocks(trec_small):
    texts, y = trec_small
    nb = NBFeatures().fit(texts, y)
    n_vocab = len(nb.vectorizers_[0][1].vocabulary_)
    assert nb.ratios_.shape == (6, n_vocab)
    out = nb.transform(texts[:5])
    assert out.shape == (5, 6 * n_vocab)
    for k, c in enumerate(nb.classes_):
        binary = NBFeatures().fit(texts, y == c)
        assert np.allclose(binary.ratios_[0], nb.ratios_[k])  # class c (True) against the rest
    assert nb.get_feature_names_out()[0].startswith(f"{nb.classes_[0]}__")


def test_nb_both_concatenates_per_block_ratios(mr_small):
    texts, y = mr_small
    both = NBFeatures(analyzer="both", char_ngram_range=(2, 3)).fit(texts, y)
    word = NBFeatures(analyzer="word").fit(texts, y)
    char = NBFeatures(analyzer="char_wb", char_ngram_range=(2, 3)).fit(texts, y)
    assert np.allclose(both.ratios_, np.hstack([word.ratios_, char.ratios_]))
    expected = np.hstack([word.transform(texts[:5]).toarray(), char.transform(texts[:5]).toarray()])
    assert np.allclose(both.transform(texts[:5]).toarray(), expected)
    names = both.get_feature_names_out()
    assert names[0].startswith("word__") and names[-1].startswith("char__")


def test_nbsvm_learns_sentiment():
    mr = load_dataset("mr")
    idx = np.random.RandomState(1).choice(len(mr.data), 3000, replace=False)
    texts, y = [mr.data[i] for i in idx], mr.target[idx]
    scores = cross_val_score(make_pipeline(NBFeatures(), LogisticRegression()), texts, y, cv=3)
    assert scores.mean() > 0.70  # chance is 0.5; all of MR gives ~0.79


def test_nbsvm_classifier_is_the_pipeline_for_two_classes(mr_small):
    texts, y = mr_small
    ours = NBSVMClassifier(features=NBFeatures(analyzer="both", char_ngram_range=(2, 3)),
                           clf=LogisticRegression(C=0.3)).fit(texts[:150], y[:150])
    pipe = make_pipeline(NBFeatures(analyzer="both", char_ngram_range=(2, 3)),
                         LogisticRegression(C=0.3)).fit(texts[:150], y[:150])
    assert np.array_equal(ours.predict(texts[150:]), pipe.predict(texts[150:]))
    assert np.allclose(ours.predict_proba(texts[150:]), pipe.predict_proba(texts[150:]))
    assert np.allclose(ours.decision_function(texts[150:]), pipe.decision_function(texts[150:]))
    assert len(ours.estimators_) == 1 and list(ours.classes_) == sorted(set(y))


def test_nbsvm_classifier_one_vs_rest_equals_sklearns_over_the_pipeline(trec_small):
    texts, y = trec_small
    ours = NBSVMClassifier().fit(texts[:240], y[:240])
    peer = OneVsRestClassifier(make_pipeline(NBFeatures(), LogisticRegression(max_iter=1000)))
    peer.fit(texts[:240], y[:240])  # the n-grams counted once per class
    assert len(ours.estimators_) == 6
    assert np.allclose(ours.predict_proba(texts[240:]), peer.predict_proba(texts[240:]))
    assert np.allclose(ours.decision_function(texts[240:]), peer.decision_function(texts[240:]))
    assert np.array_equal(ours.predict(texts[240:]), peer.predict(texts[240:]))
    assert np.allclose(ours.predict_proba(texts[240:]).sum(axis=1), 1)


def test_nbsvm_classifier_joint_is_the_pipeline_on_the_stacked_blocks(trec_small):
    texts, y = trec_small
    joint = NBSVMClassifier(multiclass="joint").fit(texts[:240], y[:240])
    pipe = make_pipeline(NBFeatures(), LogisticRegression(max_iter=1000)).fit(texts[:240], y[:240])
    assert np.allclose(joint.predict_proba(texts[240:]), pipe.predict_proba(texts[240:]))
    assert np.array_equal(joint.predict(texts[240:]), pipe.predict(texts[240:]))


def test_nbsvm_classifier_with_a_linear_svm_and_bad_settings(trec_small):
    texts, y = trec_small
    svm = NBSVMClassifier(clf=LinearSVC()).fit(texts, y)
    assert not hasattr(svm, "predict_proba")
    assert svm.score(texts, y) > 0.9  # training accuracy of a linear SVM on 300 questions
    assert NBSVMClassifier().get_params()["multiclass"] == "ovr"
    with raises(ValueError, "multiclass='jiont' is not allowed; choose one of 'ovr', "
                            "'joint'. Did you mean 'joint'?"):
        NBSVMClassifier(multiclass="jiont").fit(texts, y)
    with raises(TypeError, "features must be an NBFeatures, got TfidfFeatures; pass "
                           "NBFeatures(...) or None."):
        NBSVMClassifier(features=TfidfFeatures()).fit(texts, y)


def test_nb_alpha_must_be_positive(mr_small):
    message = "alpha=0 must be a positive number (the smoothing count), e.g. 1.0."
    with raises(ValueError, message):
        NBFeatures(alpha=0).fit(*mr_small)


def test_nb_needs_y(mr_small):
    message = "NBFeatures is supervised: fit(X, y) needs labels y, got None."
    with raises(ValueError, message):
        NBFeatures().fit(mr_small[0], None)


# ---------------------------------------------------------------- LDA topics

SPORT = "goal match team player score league coach stadium referee season".split()
FOOD = "recipe oven flour butter sugar bake dough salt pepper garlic".split()


def two_topic_corpus(n=60, seed=0):
    rng = np.random.RandomState(seed)
    docs = []
    for i in range(n):
        vocab = SPORT if i % 2 == 0 else FOOD
        docs.append(" ".join(rng.choice(vocab, 12)))
    return docs


@pytest.mark.parametrize("backend", ["sklearn", "gensim"])
def test_topics_separate_two_vocabularies(backend):
    docs = two_topic_corpus()
    topics = TopicFeatures(n_topics=2, backend=backend, max_iter=20, random_state=0).fit(docs)
    theta = topics.transform(docs)
    assert theta.shape == (60, 2)
    assert np.allclose(theta.sum(axis=1), 1.0)
    words = topics.top_words(5)
    assert len(words) == 2 and all(len(w) == 5 for w in words)
    assert {frozenset(set(w) <= set(SPORT) for w in words)} == {frozenset({True, False})}
    sport_topic = 0 if set(words[0]) <= set(SPORT) else 1
    assert (theta[0::2, sport_topic] > 0.8).all() and (theta[1::2, sport_topic] < 0.2).all()
    npmi = topics.coherence(docs, measure="c_npmi", top_n=5, per_topic=True)
    assert npmi.shape == (2,) and np.all(npmi > 0)  # words of a topic co-occur: positive NPMI
    assert -1 <= topics.coherence(docs, measure="c_npmi", top_n=5) <= 1
    assert np.isfinite(topics.coherence(docs, measure="u_mass", top_n=5))


def test_topic_coherence_beats_shuffled_topics():
    docs = two_topic_corpus()
    topics = TopicFeatures(n_topics=2, max_iter=20, random_state=0).fit(docs)
    good = topics.coherence(docs, top_n=6)
    topics.topic_word_ = topics.topic_word_[:, np.random.RandomState(0).permutation(20)]
    mixed = [w for w in topics.top_words(6)]
    assert any(set(m) & set(SPORT) and set(m) & set(FOOD) for m in mixed)
    assert topics.coherence(docs, top_n=6) < good


def test_topics_errors():
    docs = two_topic_corpus()
    topics = TopicFeatures(n_topics=2, random_state=0).fit(docs)
    message = (
        "measure='npmi' is not allowed; choose one of 'c_npmi', 'c_v', 'c_uci', 'u_mass'. "
        "Did you mean 'c_npmi'?"
    )
    with raises(ValueError, message):
        topics.coherence(docs, measure="npmi")
    with pytest.raises(ValueError, match="^TopicFeatures found no words to model"):
        TopicFeatures(min_df=1).fit(["the and of", "a an the"])
    with raises(ValueError, "n_topics=0 must be a positive integer, e.g. 10."):
        TopicFeatures(n_topics=0).fit(docs)


# ---------------------------------------------------------------- word2vec


def test_w2v_mean_pooling_by_hand(mr_small):
    texts, _ = mr_small
    w2v = Word2VecFeatures(vector_size=16, epochs=2, random_state=0).fit(texts)
    assert w2v.vectors_.vector_size == 16
    tokens = WordTokenizer()(texts[3])
    expected = np.mean([w2v.vectors_[t] for t in tokens], axis=0)
    assert np.allclose(w2v.transform([texts[3]])[0], expected, atol=1e-6)


def test_w2v_tfidf_pooling_and_oov(mr_small):
    texts, _ = mr_small
    w2v = Word2VecFeatures(vector_size=8, epochs=1, pooling="tfidf", random_state=0).fit(texts)
    kv, idf = w2v.vectors_, w2v.idf_
    tokens = WordTokenizer()(texts[0]) + ["zzzunseen"]
    known = [t for t in tokens if t in kv.key_to_index]
    weights = np.array([idf[kv.key_to_index[t]] for t in known])
    expected = (weights[:, None] * np.array([kv[t] for t in known])).sum(0) / weights.sum()
    assert np.allclose(w2v.transform([" ".join(tokens)])[0], expected, atol=1e-6)
    assert np.all(w2v.transform(["zzzunseen qqqunseen"]) == 0)  # oov="ignore"
    w2v.set_params(oov="mean", pooling="mean")
    assert np.allclose(w2v.transform(["zzzunseen"])[0], kv.vectors.mean(0), atol=1e-6)


def test_w2v_l2_norm(mr_small):
    w2v = Word2VecFeatures(vector_size=8, epochs=1, norm="l2", random_state=0).fit(mr_small[0])
    assert np.allclose(np.linalg.norm(w2v.transform(mr_small[0][:10]), axis=1), 1.0, atol=1e-5)


def test_w2v_pretrained_file(tmp_path, mr_small):
    texts, _ = mr_small
    trained = Word2VecFeatures(vector_size=8, epochs=1, random_state=0).fit(texts)
    path = tmp_path / "vectors.txt"
    trained.vectors_.save_word2vec_format(str(path), binary=False)
    loaded = Word2VecFeatures(word_vectors=path).fit(texts[:5])
    assert loaded.vectors_.index_to_key == trained.vectors_.index_to_key
    assert np.allclose(loaded.transform(texts[:20]), trained.transform(texts[:20]), atol=1e-5)
    binary = tmp_path / "vectors.bin"
    trained.vectors_.save_word2vec_format(str(binary), binary=True)
    out = Word2VecFeatures(word_vectors=binary, word_vectors_binary=True).fit(texts[:5])
    assert np.allclose(out.transform(texts[:20]), trained.transform(texts[:20]), atol=1e-6)


def test_w2v_errors(tmp_path, mr_small):
    missing = tmp_path / "none.txt"
    message = (
        f"word_vectors={str(missing)!r} does not exist; pass the path of a local word2vec-format "
        f"file (nothing is downloaded)."
    )
    with raises(FileNotFoundError, message):
        Word2VecFeatures(word_vectors=missing).fit(["a b"])
    garbage = tmp_path / "bad.txt"
    garbage.write_text("not a header\n")
    message = (f"word_vectors={str(garbage)!r} could not be read as a word2vec file (its first "
               f"line is not \"<number of words> <dimensions>\"); check the file.")
    with raises(ValueError, message):
        Word2VecFeatures(word_vectors=garbage).fit(["a b"])
    message = (
        "no word occurs min_count=50 times in the 2 texts, so word2vec has no vocabulary; "
        "lower min_count or pass more text."
    )
    with raises(ValueError, message):
        Word2VecFeatures(min_count=50).fit(["a b", "c d"])
    with pytest.raises(ValueError, match="^pooling='max' is not allowed"):
        Word2VecFeatures(pooling="max").fit(["a b"])


def test_vocabulary_is_packed_for_pickle_and_skops_without_mutating_the_model():
    import pickle

    texts = ["good film", "bad film", "a great film", "an awful film"]
    feats = NBFeatures().fit(texts, [1, 0, 1, 0])
    state = feats.__getstate__()
    name, vec, data, offsets = state["vectorizers_"][0]
    assert "vocabulary_" not in vec.__dict__ and data.dtype == np.uint8
    assert len(offsets) == len(feats.vectorizers_[0][1].vocabulary_) + 1  # model untouched
    back = pickle.loads(pickle.dumps(feats))
    assert back.vectorizers_[0][1].vocabulary_ == feats.vectorizers_[0][1].vocabulary_
    assert (back.transform(texts) != feats.transform(texts)).nnz == 0


def test_word_vectors_save_and_load(tmp_path, mr_small):
    from hybridnlp.features import load_word_vectors, save_word_vectors

    texts, _ = mr_small
    trained = Word2VecFeatures(vector_size=8, epochs=1, random_state=0).fit(texts)
    for name in ("vectors.bin", "vectors.txt"):  # the format follows the suffix
        path = save_word_vectors(trained, tmp_path / name)
        loaded = load_word_vectors(path)
        assert loaded.index_to_key == trained.vectors_.index_to_key
        assert np.allclose(loaded.vectors, trained.vectors_.vectors, atol=1e-6)
        assert load_word_vectors(str(path)) is loaded  # read once per version of the file
    assert (tmp_path / "vectors.bin").read_bytes()[:1] != b"\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.bin", "vectors.txt"]
    # in memory: fitted features or KeyedVectors, as Word2VecFeatures(word_vectors=...) takes
    assert load_word_vectors(trained) is trained.vectors_
    from_memory = Word2VecFeatures(word_vectors=trained.vectors_).fit(texts[:5])
    assert np.allclose(from_memory.transform(texts[:20]), trained.transform(texts[:20]))
    with raises(TypeError, "word_vectors must be a fitted Word2VecFeatures, gensim "
                           "KeyedVectors or the path of a word2vec-format file, got int."):
        load_word_vectors(3, name="word_vectors")
    text_named_bin = tmp_path / "text.bin"  # the format is read from the file, not its name
    text_named_bin.write_bytes((tmp_path / "vectors.txt").read_bytes())
    assert load_word_vectors(text_named_bin).index_to_key == trained.vectors_.index_to_key
    message = (f"word_vectors={str(text_named_bin)!r} could not be read as a word2vec text "
               f"file (word_vectors_binary=True was given; leave it None to detect the "
               f"format); check the file.")
    with raises(ValueError, message):
        load_word_vectors(text_named_bin, binary=True, name="word_vectors")



def test_w2v_models_save_and_load_without_gensim_types(tmp_path, mr_small):
    from sklearn.base import clone

    from hybridnlp.persistence import load, save

    texts, y = mr_small
    trained = make_pipeline(Word2VecFeatures(vector_size=8, epochs=1, random_state=0),
                            LogisticRegression()).fit(texts, y)
    in_memory = clone(trained).set_params(
        word2vecfeatures__pretrained=trained[0].vectors_).fit(texts, y)  # a KeyedVectors param
    for i, model in enumerate([trained, in_memory]):
        save(model, tmp_path / str(i))  # load refuses gensim's own types
        loaded = load(tmp_path / str(i))
        assert loaded[0].vectors_.index_to_key == trained[0].vectors_.index_to_key
        assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))


@pytest.mark.parametrize("param, value, message", [
    ("window", 0, "window=0 is out of range; it must be >= 1 and <= 10000."),
    ("vector_size", 0, "vector_size=0 is out of range; it must be >= 1 and <= 100000."),
    ("min_count", 0, "min_count=0 is out of range; it must be >= 1 and <= 2147483647."),
    ("epochs", -1, "epochs=-1 is out of range; it must be >= 1 and <= 100000."),
    ("workers", 0, "workers=0 is out of range; it must be >= 1 and <= 1024."),
    ("window", 2**31, "window=2147483648 is out of range; it must be >= 1 and <= 10000."),
    ("sg", 2, "sg=2 is not allowed; choose one of 0, 1."),
    ("window", "5", "window='5' is a str; it takes an integer."),
])
def test_word2vec_settings_that_would_hang_gensim_are_refused_before_training(
        mr_small, param, value, message):
    """window=0 made gensim's worker die and fit wait for it forever."""
    with pytest.raises((ValueError, TypeError)) as err:
        Word2VecFeatures(**{param: value}).fit(mr_small[0])
    assert str(err.value) == message


def test_a_config_pretraining_with_window_0_is_refused_at_load():
    from hybridnlp.experiments import ConfigError, load_config

    values = {"name": "t", "task": "classification", "data": {"name": "sst2",
                                                              "test_split": "test"},
              "models": [{"type": "nbsvm"}],
              "pretrain": {"word2vec": {"corpus": ["wikitext2:train"], "window": 0}}}
    with pytest.raises(ConfigError, match=r"^pretrain.word2vec.window=0 is out of range; it "
                                          r"must be >= 1 and <= 10000.$"):
        load_config(values)


# ---------------------------------------------------------------- streamed from a file


class CountingStream(TextStream):
    """A TextStream that counts the passes over its file."""

    passes = 0

    def __iter__(self):
        type(self).passes += 1
        return super().__iter__()


def test_features_fit_a_file_streamed_as_they_fit_the_list(tmp_path, trec_small):
    texts, y = trec_small
    txt = tmp_path / "questions.txt"
    txt.write_text("\n".join(texts) + "\n", encoding="utf-8")
    jsonl = tmp_path / "questions.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps({"question": t, "label": str(c)}) + "\n" for t, c in zip(texts, y))
    CountingStream.passes = 0
    stream = CountingStream(jsonl, text_column="question")
    tfidf = TfidfFeatures(analyzer="both").fit(stream)
    # one per vectorizer and the first 2,000 texts for the word check: never held whole
    assert CountingStream.passes == 3
    assert (tfidf.transform(txt) != TfidfFeatures(analyzer="both").fit(texts).transform(texts)
            ).nnz == 0
    nb = NBFeatures().fit(txt, y)
    assert np.allclose(nb.ratios_, NBFeatures().fit(texts, y).ratios_)
    assert np.array_equal(NBSVMClassifier().fit(txt, y).predict(txt),
                          NBSVMClassifier().fit(texts, y).predict(texts))
    topics = TopicFeatures(n_topics=3, max_iter=5, random_state=0)
    assert topics.fit(txt).top_words(5) == topics.fit(texts).top_words(5)
    w2v = Word2VecFeatures(vector_size=8, epochs=2, workers=1, random_state=0)
    assert np.allclose(w2v.fit(txt).transform(txt), w2v.fit(texts).transform(texts))
    with raises(ValueError, f"X and y have different lengths: 300 texts in {txt.name} and 299 "
                            f"labels; pass one label per text."):
        NBFeatures().fit(txt, y[:-1])


def test_a_text_stream_names_what_is_wrong_with_its_file(tmp_path):
    with raises(FileNotFoundError, f"no such file: {str(tmp_path / 'nope.txt')!r}"):
        TextStream(tmp_path / "nope.txt")
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("review,stars\ngood,5\n", encoding="utf-8")
    with raises(ValueError, "text_column='reveiw' is not a column of reviews.csv; its columns "
                            "are ['review', 'stars']. Did you mean text_column='review'?"):
        TfidfFeatures().fit(TextStream(csv_file, text_column="reveiw"))
    assert list(TextStream(csv_file, text_column="review")) == ["good"]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 ok\n".encode("latin-1"))
    with raises(ValueError, "latin.txt is not valid utf-8 (after text 0); pass the file's "
                            "encoding, e.g. encoding='cp1252' or 'latin-1'."):
        TfidfFeatures().fit(latin)
    assert list(TextStream(latin, encoding="latin-1")) == ["caf\xe9 ok"]
