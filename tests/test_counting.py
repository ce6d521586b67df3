"""N-gram counting with NumPy (``hybridnlp.features._counting``): the same matrices as
scikit-learn's vectorizers, for every analysis, and its own fallbacks."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from hybridnlp.features import _counting
from hybridnlp.features._counting import NgramCounter, _HashTable
from hybridnlp.features._ngrams import vectorize
from hybridnlp.text import WORD_PATTERN

TRAIN = [
    "The film's first hour is a joy;  the second\tdrags.",
    "A joy to watch, and a JOY to hear!",
    "  leading spaces, trailing spaces  ",
    "naïve café, résumé: accents and ümlauts",
    "一部好电影，演员很好。",
    "emoji 🎬🎬 and\nnew\n\nlines",
    "a b c d e f g a b c",
    "x",
]
NEW = [
    "The second hour is a joy, the first drags",
    "",
    "   ",
    "unknown ⊕ symbols ⊗ here and a joy",
    "好电影，很好",
    "🎬 a  b\t\tc d",
    "naïve résumé x",
    "x",
    "zzz qqq",
] + TRAIN


@pytest.fixture(autouse=True)
def no_small_batches(monkeypatch):
    """Count every batch with NumPy, however small, from the first (a counter built with
    fallback None fails if it falls back)."""
    monkeypatch.setattr(_counting, "SMALL_BATCH", 0)
    monkeypatch.setattr(_counting, "BUILD_AFTER", 0)


def assert_same(ours, expected):
    assert ours.shape == expected.shape and ours.dtype == expected.dtype
    assert ours.has_sorted_indices
    assert np.array_equal(ours.indptr, expected.indptr)
    assert np.array_equal(ours.indices, expected.indices)
    assert np.array_equal(ours.data, expected.data)


@pytest.mark.parametrize("params", [
    dict(analyzer="word", ngram_range=(1, 2)),
    dict(analyzer="word", ngram_range=(1, 3), token_pattern=WORD_PATTERN),
    dict(analyzer="word", ngram_range=(2, 3), stop_words="english"),
    dict(analyzer="word", ngram_range=(1, 1), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(2, 5)),
    dict(analyzer="char_wb", ngram_range=(1, 3), strip_accents="unicode"),
    dict(analyzer="char", ngram_range=(1, 4)),
    dict(analyzer="char", ngram_range=(3, 6), lowercase=False),
    dict(analyzer="char", ngram_range=(2, 2), preprocessor=str.upper),
    dict(analyzer="word", ngram_range=(1, 2), binary=True, dtype=np.float32),
])
def test_counts_equal_sklearns_transform(params):
    vec = CountVectorizer(**params).fit(TRAIN)
    counter = NgramCounter.for_vectorizer(vec, None)
    raw = CountVectorizer(**{**params, "binary": False, "dtype": np.float64},
                          vocabulary=vec.vocabulary_)
    for texts in (NEW, NEW[:1], NEW[1:3]):
        assert_same(counter.transform(texts), raw.transform(texts))
    assert_same(vectorize(vec, NEW), vec.transform(NEW))  # binary and dtype as sklearn's
    assert counter.transform([]).shape == (0, len(vec.vocabulary_))


def test_a_batch_of_a_text_or_two_is_counted_by_sklearn(monkeypatch):
    monkeypatch.setattr(_counting, "SMALL_BATCH", 400)
    vec = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(TRAIN)
    one, three = NEW[:1], NEW[:1] * 3  # 41 characters x 4 sizes: 164 windows; 492
    assert_same(NgramCounter.for_vectorizer(vec, vec).transform(one), vec.transform(one))
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute"):
        NgramCounter.for_vectorizer(vec, None).transform(one)  # went to the fallback
    assert_same(NgramCounter.for_vectorizer(vec, None).transform(three),
                vec.transform(three).astype(np.float64))


def test_the_key_table_is_built_once_sklearn_would_have_counted_the_vocabulary(monkeypatch):
    monkeypatch.setattr(_counting, "BUILD_AFTER", 1.0)
    vec = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5)).fit(TRAIN)
    calls = []

    class Fallback:
        def transform(self, texts):
            calls.append(len(texts))
            return vec.transform(texts).astype(np.float64)

    counter = NgramCounter.for_vectorizer(vec, Fallback())
    assert len(vec.vocabulary_) == 457
    first = counter.transform(NEW[:5])  # 84 characters x 4 sizes: 336 windows
    assert counter.table is None and calls == [5]
    assert_same(first, vec.transform(NEW[:5]).astype(np.float64))
    second = counter.transform(NEW)  # 336 + 1,316 windows, past 457: the table is built
    assert counter.table is not None and calls == [5]
    assert_same(second, vec.transform(NEW).astype(np.float64))


def test_tfidf_and_min_df_vocabularies_equal_sklearns(mr_small):
    texts, _ = mr_small
    for vec in (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                CountVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.3),
                TfidfVectorizer(ngram_range=(1, 2), max_features=300)):
        vec.fit(texts[:120])
        ours, expected = vectorize(vec, texts[120:]), vec.transform(texts[120:])
        assert ours.dtype == expected.dtype and (ours != expected).nnz == 0


def test_chinese_characters_beyond_the_dense_table_and_segmented_words():
    texts = ["我们喜欢这部电影", "这部电影很无聊", "𠀋𠀌 rare characters 𠀋"]
    vec = CountVectorizer(analyzer="char", ngram_range=(1, 2)).fit(texts)
    counter = NgramCounter.for_vectorizer(vec, None)
    new = ["电影很好", "𠀋𠀌𠀋", "喜欢"]
    assert_same(counter.transform(new), vec.transform(new).astype(np.float64))
    assert int(counter.alphabet[-1]) >= 1 << 17  # the binary-search path
    words = CountVectorizer(tokenizer=lambda t: [c for c in t if not c.isspace()],
                            token_pattern=None, ngram_range=(1, 2)).fit(texts)
    assert_same(vectorize(words, new), words.transform(new))


def test_analyses_it_cannot_reproduce_fall_back_to_sklearn():
    def pairs(text):  # tokens holding spaces: "a b" would read as a bigram
        words = text.split()
        return [" ".join(words[i:i + 2]) for i in range(len(words))]

    spaced = CountVectorizer(tokenizer=pairs, token_pattern=None, ngram_range=(1, 2)).fit(TRAIN)
    short_words = CountVectorizer(analyzer="char_wb", ngram_range=(4, 5)).fit(TRAIN)
    own = CountVectorizer(analyzer=str.split).fit(TRAIN)
    for vec, fast in ((spaced, True), (short_words, False), (own, False)):
        assert NgramCounter.for_vectorizer(vec, None)._fast is fast
        assert_same(vectorize(vec, NEW), vec.transform(NEW))
    # bytes are decoded by sklearn's own transform
    vec = CountVectorizer().fit(TRAIN)
    counter = NgramCounter.for_vectorizer(vec, vec)
    assert_same(counter.transform([b"a joy"]), vec.transform([b"a joy"]))


def test_a_base_too_large_for_64_bit_keys_falls_back():
    # 3,000 distinct words and 6-grams: 3001**6 > 2**63
    rng = np.random.default_rng(0)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 3000, 40)) for _ in range(200)]
    vec = CountVectorizer(ngram_range=(1, 6)).fit(texts)
    counter = NgramCounter.for_vectorizer(vec, vec)
    counter._build()
    assert not counter._fast
    assert_same(vectorize(vec, texts[:5]), vec.transform(texts[:5]))


def test_hash_table_finds_every_key_and_misses_the_rest():
    rng = np.random.default_rng(1)
    keys = rng.choice(2 ** 40, size=5000, replace=False)
    values = rng.permutation(5000)
    table = _HashTable(keys, values)
    assert len(table.keys) >= 2 * len(keys)
    assert np.array_equal(table.get(keys), values)
    others = np.setdiff1d(rng.integers(0, 2 ** 40, 5000), keys)
    assert (table.get(others) == -1).all()
    # keys that share their high bits (what n-gram keys of one prefix do) still spread
    clustered = np.arange(1000, dtype=np.int64) * 7 + (1 << 50)
    assert np.array_equal(_HashTable(clustered, np.arange(1000)).get(clustered),
                          np.arange(1000))
    assert (_HashTable(np.zeros(0, np.int64), np.zeros(0, np.int64)).get(keys) == -1).all()


def test_fasttext_encodes_the_rows_of_its_python_path_in_the_same_order(mr_small):
    from hybridnlp import FastTextClassifier

    texts, y = mr_small
    model = FastTextClassifier(max_epochs=1, random_state=0).fit(texts[:150], y[:150])
    new = texts[150:] + ["", "an unseen-word text , with punctuation !"]
    flat, starts = model._encode_texts(new)
    expected_flat, expected_starts = model._encode(model._ngrams(new))
    assert len(flat) > 500 and np.array_equal(starts, expected_starts)
    assert np.array_equal(flat, expected_flat)
    proba = model.predict_proba(new)
    _counting.SMALL_BATCH = float("inf")  # (the fixture restores it) the Python path
    assert np.array_equal(model.predict_proba(new), proba)
