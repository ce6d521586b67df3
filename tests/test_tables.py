"""Tables: a DataFrame's text column for the components and its other columns (numbers,
categories) for the hybrid's meta learner; pandas output of the feature transformers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import hybridnlp
from hybridnlp.estimators import NBSVMClassifier
from hybridnlp.features import NBFeatures, PairFeatures, TfidfFeatures
from hybridnlp.hybrid import HybridClassifier, SimplexWeights, StackingClassifier
from hybridnlp.utils.validation import check_texts

WORDS = "film plot acting scene story cast music ending script camera".split()


def reviews(n, seed):
    """Texts that say the label with 20% noise, and metadata that says more: the label is
    positive when the rating is high, unless the channel is "spam"."""
    rng = np.random.default_rng(seed)
    rating = rng.integers(1, 6, n).astype(float)
    channel = rng.choice(["web", "app", "spam"], n)
    label = ((rating >= 4) & (channel != "spam")).astype(int)
    noisy = rng.random(n) < 0.2
    words = [" ".join(rng.choice(WORDS, 4)) + (" good" if (y ^ f) else " bad")
             for y, f in zip(label, noisy)]
    rating[rng.random(n) < 0.05] = np.nan  # a missing number: the column's mean
    frame = pd.DataFrame({"review": words, "rating": rating, "channel": channel})
    return frame, label


TRAIN, Y = reviews(400, 0)
TEST, Y_TEST = reviews(200, 1)


def _stack(**kw):
    return StackingClassifier(estimators=[("nbsvm", NBSVMClassifier())], cv=3,
                              random_state=0, **kw)


def test_the_meta_learner_reads_the_metadata_columns(tmp_path):
    clf = _stack(text_column="review").fit(TRAIN, Y)
    texts_only = _stack().fit(TRAIN["review"].tolist(), Y)
    assert clf.score(TEST, Y_TEST) > texts_only.score(TEST["review"].tolist(), Y_TEST) + 0.05
    # the components read the text column; the meta learner one probability + 1 number +
    # 3 channels
    assert clf.final_estimator_.coef_.shape == (1, 5)
    np.testing.assert_array_equal(
        clf.component_proba(TEST)["nbsvm"],
        clf.named_estimators_["nbsvm"].predict_proba(TEST["review"].tolist()))
    unseen = TEST.assign(channel="email")  # an unseen category: all its one-hot columns 0
    assert clf.predict_proba(unseen).shape == (200, 2)
    missing = TEST.assign(channel=None, rating=np.nan)  # missing values too
    assert np.isfinite(clf.predict_proba(missing)).all()
    saved = hybridnlp.load(hybridnlp.save(clf, tmp_path / "model"))
    np.testing.assert_allclose(saved.predict_proba(TEST), clf.predict_proba(TEST))
    report = clf.component_report(TEST, Y_TEST)
    np.testing.assert_allclose(report.proba, clf.predict_proba(TEST))


def test_text_column_errors_name_the_fix():
    clf = _stack(text_column="text")
    with pytest.raises(ValueError, match=r"text_column='text': X must be a pandas DataFrame "
                                         r"with a 'text' column .* got columns \['review', "
                                         r"'rating', 'channel'\]"):
        clf.fit(TRAIN, Y)
    with pytest.raises(ValueError, match=r"needs a meta learner that takes extra columns; "
                                         r"SimplexWeights combines probabilities only"):
        _stack(text_column="review", final_estimator=SimplexWeights()).fit(TRAIN, Y)
    with pytest.raises(ValueError, match=r"cascade cannot be combined with text_column"):
        HybridClassifier(text_column="review", cascade=0.01).fit(TRAIN, Y)
    fitted = _stack(text_column="review").fit(TRAIN, Y)
    with pytest.raises(ValueError, match=r"explain reads texts alone"):
        fitted.explain(TEST)


def test_a_one_column_dataframe_is_its_texts():
    frame = TRAIN[["review"]]
    assert check_texts(frame) == TRAIN["review"].tolist()
    clf = NBSVMClassifier().fit(frame, Y)
    np.testing.assert_array_equal(clf.predict(TEST[["review"]]),
                                  clf.predict(TEST["review"].tolist()))


def test_feature_transformers_give_pandas_output():
    texts = TRAIN["review"].tolist()
    for features in (TfidfFeatures(), NBFeatures()):
        dense = features.fit_transform(texts, Y).toarray()
        frame = features.set_output(transform="pandas").fit_transform(texts, Y)
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == list(features.get_feature_names_out())
        np.testing.assert_allclose(frame.sparse.to_dense().to_numpy(), dense)
        assert isinstance(features.transform(texts[:3]), pd.DataFrame)
        assert not isinstance(features.set_output(transform="default").transform(texts[:3]),
                              pd.DataFrame)
    with pytest.raises(ValueError, match=r"set_output\(transform='polars'\): TfidfFeatures "
                                         r"gives 'pandas'"):
        TfidfFeatures().set_output(transform="polars")
    pairs = PairFeatures().set_output(transform="pandas").fit([("a b", "a c")])
    assert list(pairs.transform([("a b", "a c")]).columns)[:2] == ["word_cosine", "char_cosine"]
    pipe = make_pipeline(TfidfFeatures(), LogisticRegression()).set_output(transform="pandas")
    assert pipe.fit(texts, Y).score(texts, Y) > 0.8


def test_a_config_names_the_feature_columns_for_the_hybrid(tmp_path):
    import json

    from hybridnlp.exceptions import ConfigError
    from hybridnlp.experiments import load_config, run

    frame = TRAIN.assign(label=np.where(Y == 1, "pos", "neg"))
    frame.loc[3, "rating"] = None  # an empty cell: a missing number
    frame.to_csv(tmp_path / "reviews.csv", index=False)
    config = {"name": "reviews", "task": "classification", "output": str(tmp_path / "runs"),
              "data": {"path": str(tmp_path / "reviews.csv"), "text_column": "review",
                       "feature_columns": ["rating", "channel"]},
              "evaluation": {"cv": 3, "save_models": False},
              "models": [{"type": "stacking", "name": "texts only"},
                         {"type": "stacking", "name": "with metadata",
                          "params": {"text_column": "review"}}]}
    result = run(config, quiet=True)
    rows = json.loads((result.run_dir / "metrics.json").read_text())["models"]
    assert rows["with metadata"]["accuracy"] > rows["texts only"]["accuracy"] + 0.05
    with pytest.raises(ConfigError, match=r"data.feature_columns: no model reads them; set "
                                          r"params: \{text_column: review\}"):
        load_config({**config, "models": [{"type": "stacking"}]})
    with pytest.raises(ConfigError, match=r"models\[0\].params.text_column: 'text' is not the "
                                          r"data's text column 'review'"):
        load_config({**config, "models": [{"type": "stacking",
                                           "params": {"text_column": "text"}}]})
