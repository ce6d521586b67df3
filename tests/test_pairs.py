"""Sentence pairs: every estimator reads ``[(a, b), ...]`` (or two columns) as the joined
pair; ``PairFeatures`` measures how alike the two texts are; the hybrids add a ``pair``
component."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

import hybridnlp
from hybridnlp.estimators import FastTextRegressor, NBSVMClassifier
from hybridnlp.features import PairFeatures, TfidfFeatures
from hybridnlp.features.pairs import FEATURE_NAMES
from hybridnlp.hybrid import HybridClassifier, HybridRegressor
from hybridnlp.utils.validation import PAIR_SEPARATOR, check_texts

WORDS = ("cat dog bird fish horse cow sheep goat lion tiger bear wolf fox deer mouse "
         "frog duck owl hawk crow").split()


def similar_pairs(n, seed):
    """(pairs, similarity, paraphrase label): the second text shares a random share of the
    first's words; the score is that share times 5."""
    rng = np.random.default_rng(seed)
    pairs, scores = [], []
    for _ in range(n):
        a = rng.choice(WORDS, size=6, replace=False).tolist()
        keep = int(rng.integers(0, 7))
        b = a[:keep] + rng.choice([w for w in WORDS if w not in a], size=6 - keep,
                                  replace=False).tolist()
        rng.shuffle(b)
        pairs.append((" ".join(a), " ".join(b)))
        scores.append(5 * keep / 6)
    scores = np.asarray(scores)
    return pairs, scores, (scores >= 2.5).astype(int)


PAIRS, SCORES, LABELS = similar_pairs(200, 0)
TEST_PAIRS, TEST_SCORES, TEST_LABELS = similar_pairs(60, 1)


def test_pairs_in_any_form_read_as_the_joined_pair():
    joined = [f"a b{PAIR_SEPARATOR}c d", f"e{PAIR_SEPARATOR}f"]
    assert check_texts([("a b", "c d"), ["e", "f"]]) == joined
    assert check_texts(pd.DataFrame({"s1": ["a b", "e"], "s2": ["c d", "f"]})) == joined
    assert check_texts(np.array([["a b", "c d"], ["e", "f"]], dtype=object)) == joined
    with pytest.raises(TypeError, match=r"X\[1\] is \('e', 3\); sentence pairs are two strings "
                                        r"each, \(text_a, text_b\)"):
        check_texts([("a", "b"), ("e", 3)])


def test_pair_features_measure_how_alike_the_two_texts_are():
    f = PairFeatures().fit(PAIRS)
    same, apart, numbers = f.transform([("the cat sat", "the cat sat"),
                                        ("cat dog", "fish owl"),
                                        ("it costs 12 dollars", "it costs 13 dollars")])
    names = list(f.get_feature_names_out())
    assert names == list(FEATURE_NAMES)
    expected_same = {"word_cosine": 1, "char_cosine": 1, "word_jaccard": 1, "bigram_jaccard": 1,
                     "word_overlap": 1, "idf_overlap": 1, "length_ratio": 1,
                     "length_difference": 0, "numbers_agree": 0.5}
    np.testing.assert_allclose(same, [expected_same[n] for n in names], atol=1e-12)
    for name in ("word_cosine", "word_jaccard", "word_overlap", "idf_overlap"):
        assert apart[names.index(name)] == 0
    assert numbers[names.index("numbers_agree")] == 0
    assert numbers[names.index("word_jaccard")] == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match=r"X\[0\] is not a sentence pair \('a cat'\); "
                                         r"PairFeatures reads pairs"):
        f.transform(["a cat"])


def test_pair_features_alone_predict_similarity():
    model = make_pipeline(PairFeatures(), Ridge(alpha=1.0)).fit(PAIRS, SCORES)
    assert np.corrcoef(model.predict(TEST_PAIRS), TEST_SCORES)[0, 1] > 0.95


def test_estimators_fit_and_predict_pairs():
    clf = NBSVMClassifier().fit(PAIRS, LABELS)
    assert clf.predict(TEST_PAIRS).shape == (60,)
    tfidf = TfidfFeatures().fit(PAIRS)
    assert tfidf.transform(TEST_PAIRS).shape[0] == 60
    reg = FastTextRegressor(max_epochs=2, random_state=0).fit(PAIRS, SCORES)
    np.testing.assert_array_equal(reg.predict(TEST_PAIRS),
                                  reg.predict(check_texts(TEST_PAIRS)))


def test_hybrid_regressor_adds_the_pair_component_and_beats_the_n_grams(tmp_path):
    reg = HybridRegressor(random_state=0).set_params(fasttext__max_epochs=2)
    reg.fit(PAIRS, SCORES)
    assert reg.pairs_ and list(reg.named_estimators_) == ["tfidf", "fasttext", "pair"]
    pred = reg.predict(TEST_PAIRS)
    tfidf = reg.named_estimators_["tfidf"].predict(check_texts(TEST_PAIRS))
    assert np.corrcoef(pred, TEST_SCORES)[0, 1] > np.corrcoef(tfidf, TEST_SCORES)[0, 1] + 0.15
    saved = hybridnlp.load(hybridnlp.save(reg, tmp_path / "model"))
    np.testing.assert_allclose(saved.predict(TEST_PAIRS), pred)
    plain = HybridRegressor(random_state=0).set_params(fasttext__max_epochs=1)
    assert "pair" not in plain.fit([a for a, _ in PAIRS], SCORES).named_estimators_


def test_hybrid_classifier_reads_paraphrase_pairs():
    clf = HybridClassifier(random_state=0, estimators=None).set_params(
        transformer__max_epochs=1, fasttext__max_epochs=2, cv=3)
    clf.fit(PAIRS, LABELS)
    assert "pair" in clf.named_estimators_
    assert clf.score(TEST_PAIRS, TEST_LABELS) > 0.9
    alone = make_pipeline(TfidfFeatures(), LogisticRegression()).fit(check_texts(PAIRS), LABELS)
    assert clf.score(TEST_PAIRS, TEST_LABELS) > alone.score(check_texts(TEST_PAIRS),
                                                            TEST_LABELS)


def test_predict_command_reads_pairs_from_two_columns(tmp_path, capsys):
    from hybridnlp.cli import main

    reg = HybridRegressor(random_state=0).set_params(fasttext__max_epochs=1).fit(PAIRS, SCORES)
    reg.save(tmp_path / "model")
    (tmp_path / "in.csv").write_text("a,b\ncat dog bird,cat dog bird\ncat dog,owl hawk\n")
    assert main(["predict", str(tmp_path / "model"), "--input", str(tmp_path / "in.csv"),
                 "--text-column", "a", "--second-column", "b"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "text,second,prediction"
    assert lines[1].startswith("cat dog bird,cat dog bird,")
    same, apart = (float(line.rsplit(",", 1)[1]) for line in lines[1:])
    expected = reg.predict([("cat dog bird", "cat dog bird"), ("cat dog", "owl hawk")])
    np.testing.assert_allclose([same, apart], expected)
    assert same > apart


def test_pair_features_keep_the_estimator_contract(tmp_path):
    import pickle

    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.model_selection import GridSearchCV

    f = PairFeatures(lowercase=False)
    assert clone(f).get_params() == f.get_params() == {
        "lowercase": False, "token_pattern": f.token_pattern, "segmenter": None}
    with pytest.raises(NotFittedError, match=r"this PairFeatures is not fitted yet; call fit "
                                             r"first"):
        f.transform(TEST_PAIRS)
    grid = GridSearchCV(make_pipeline(PairFeatures(), Ridge()),
                        {"pairfeatures__lowercase": [True, False]}, cv=3).fit(PAIRS, SCORES)
    assert grid.best_score_ > 0.9
    fitted = PairFeatures().fit(PAIRS)
    expected = fitted.transform(TEST_PAIRS)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).transform(TEST_PAIRS),
                                  expected)
    saved = hybridnlp.load(hybridnlp.save(fitted, tmp_path / "model"))
    np.testing.assert_array_equal(saved.transform(TEST_PAIRS), expected)
