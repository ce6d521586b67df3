"""The scikit-learn contract, checked for every text estimator of hybridnlp.

scikit-learn's ``check_estimator`` feeds numeric arrays, so text estimators need their own suite.
Add each new estimator (tiny, seeded configuration) to ``CASES``.
"""

import inspect
import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

import hybridnlp
from hybridnlp import (
    CausalLM,
    FastTextClassifier,
    FusionClassifier,
    HybridClassifier,
    HybridEnsemble,
    InterpolatedLM,
    NBFeatures,
    NBSVMClassifier,
    NGramLM,
    StackingClassifier,
    TfidfFeatures,
    TopicFeatures,
    TransformerClassifier,
    WeightedEnsemble,
    Word2VecFeatures,
)


@pytest.fixture(scope="module")
def mr_small(mr_small):
    """The wiring checks here need texts, not many: the first 100 of the shared 200 (both
    classes in every fold), which halves the suite's longest file."""
    texts, y = mr_small
    return texts[:100], y[:100]


def _nbsvm():
    return Pipeline([("nb", NBFeatures()), ("lr", LogisticRegression(max_iter=500))])


def _tfidf_lr():
    return Pipeline([("tfidf", TfidfFeatures()), ("lr", LogisticRegression(C=10))])


def _tiny_transformer(**kw):
    return TransformerClassifier(preset="tiny", max_epochs=1, batch_size=16, random_state=0, **kw)

# (id, estimator, a parameter grid of two values for GridSearchCV)
CASES = [
    ("tfidf-word", TfidfFeatures(), {"min_df": [1, 2]}),
    ("tfidf-both", TfidfFeatures(analyzer="both", char_ngram_range=(2, 3)),
     {"sublinear_tf": [True, False]}),
    ("nb", NBFeatures(), {"alpha": [0.5, 1.0]}),
    ("nb-both", NBFeatures(analyzer="both", char_ngram_range=(2, 3)), {"binary": [True, False]}),
    ("topics-sklearn", TopicFeatures(n_topics=3, max_iter=3, min_df=1, random_state=0),
     {"n_topics": [2, 3]}),
    ("topics-gensim",
     TopicFeatures(n_topics=3, max_iter=2, min_df=1, backend="gensim", random_state=0),
     {"n_topics": [2, 3]}),
    ("w2v-mean", Word2VecFeatures(vector_size=8, epochs=2, random_state=0), {"window": [2, 5]}),
    ("w2v-tfidf",
     Word2VecFeatures(vector_size=8, epochs=2, pooling="tfidf", oov="mean", norm="l2",
                      random_state=0),
     {"vector_size": [4, 8]}),
    ("transformer",
     TransformerClassifier(preset="tiny", max_epochs=2, batch_size=16, random_state=0),
     {"module__n_layer": [1, 2]}),
    ("transformer-bpe-cls",
     TransformerClassifier(tokenizer="bpe", vocab_size=300, preset="tiny", max_epochs=1,
                           max_len=512, validation_fraction=0, module__pooling="cls",
                           random_state=0),
     {"optimizer__lr": [1e-3, 3e-3]}),
    ("fasttext", FastTextClassifier(dim=16, max_epochs=2, random_state=0), {"dim": [8, 16]}),
    ("nbsvm-classifier", NBSVMClassifier(clf=LogisticRegression(max_iter=500)),
     {"clf__C": [0.5, 1.0]}),
    ("stacking", StackingClassifier(estimators=[("nb", _nbsvm()), ("tfidf", _tfidf_lr())], cv=3,
                                    random_state=0),
     {"nb__lr__C": [0.5, 1.0]}),
    ("ensemble-gated",
     WeightedEnsemble(estimators=[("nb", _nbsvm()), ("tfidf", _tfidf_lr())], cv=3, gating=True,
                      random_state=0),
     {"gate_alpha": [0.1, 1.0]}),
    ("fusion", FusionClassifier(features=_nbsvm(), preset="tiny", max_epochs=1, feature_cv=2,
                                random_state=0),  # word n-grams: the wiring, not the default
     {"feature_cv": [2, 3]}),
    ("hybrid", HybridClassifier(estimators=[("nbsvm", _nbsvm()),
                                            ("transformer", _tiny_transformer())], cv=2,
                                random_state=0),
     {"transformer__module__n_embd": [16, 32]}),
    ("hybrid-ensemble", HybridEnsemble(estimators=[("nbsvm", _nbsvm()),
                                                   ("transformer", _tiny_transformer())], cv=2,
                                       random_state=0),
     {"gating": [False, True]}),
]
IDS = [case[0] for case in CASES]
ESTIMATORS = [case[1] for case in CASES]


def output(est, X):
    """What an estimator produces: transform output as a dense array, or class probabilities."""
    out = est.predict_proba(X) if is_classifier(est) else est.transform(X)
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def as_pipeline(est):
    if is_classifier(est):
        return Pipeline([("model", clone(est))])
    return Pipeline([("features", clone(est)), ("clf", LogisticRegression(max_iter=500))])


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_init_is_keyword_only_and_stores_verbatim(est):
    params = inspect.signature(type(est).__init__).parameters
    for name, param in params.items():
        if name != "self":  # **kwargs carries dunder parameters such as module__n_layer
            assert param.kind in (param.KEYWORD_ONLY, param.VAR_KEYWORD), name
    fresh = type(est)(**est.get_params(deep=False))
    for name, value in est.get_params(deep=False).items():
        assert getattr(fresh, name) is value, name


def same_params(a, b) -> bool:
    """Parameters equal, comparing nested estimators by type and parameters, not identity."""
    if hasattr(a, "get_params") and not isinstance(a, type):
        return type(a) is type(b) and same_params(a.get_params(deep=False),
                                                  b.get_params(deep=False))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_params(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_params(x, z) for x, z in zip(a, b))
    return a == b


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_clone_and_params_round_trip(est):
    cloned = clone(est)
    assert cloned is not est
    assert same_params(cloned.get_params(), est.get_params())
    restored = clone(cloned).set_params(**est.get_params(deep=False))
    assert same_params(restored.get_params(), est.get_params())
    with pytest.raises(ValueError, match="Invalid parameter 'not_a_param'"):
        clone(est).set_params(not_a_param=1)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_fit_returns_self_and_sets_only_trailing_underscore_state(est, mr_small):
    texts, y = mr_small
    est = clone(est)
    before = set(vars(est))
    assert est.fit(texts, y) is est
    learned = {k for k in set(vars(est)) - before if not k.startswith("_")}
    assert learned and all(k.endswith("_") for k in learned), learned


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_not_fitted_error(est, mr_small):
    message = f"^this {type(est).__name__} is not fitted yet; call fit first.$"  # one check
    with pytest.raises(NotFittedError, match=message):
        output(clone(est), mr_small[0][:3])


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_output_shape_and_feature_names(est, mr_small):
    texts, y = mr_small
    est = clone(est).fit(texts, y)
    out = output(est, texts[:7])
    assert out.shape[0] == 7 and np.isfinite(out).all()
    if is_classifier(est):
        assert out.shape[1] == len(est.classes_) and out.dtype == np.float64
        assert np.abs(out.sum(axis=1) - 1).max() < 1e-12  # what sklearn's log_loss expects
        assert set(est.predict(texts[:7])) <= set(est.classes_)
        return
    assert len(est.get_feature_names_out()) == out.shape[1] == est.n_features_out_
    fit_transform = clone(est).fit_transform(texts, y)
    fit_transform = fit_transform.toarray() if sp.issparse(fit_transform) else fit_transform
    assert np.allclose(fit_transform[:7], out, atol=1e-6)


def torch_modules(obj) -> list:
    """Every torch module an estimator holds, however deep (components, meta learners)."""
    import torch

    found, seen, stack = [], set(), [obj]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            found.append(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple):
            stack.extend(obj)
        elif type(obj).__module__.split(".")[0] in ("hybridnlp", "sklearn") \
                and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return found


def check_saved_directory(est, path) -> None:
    """``config.json`` (format_version) and a card; every torch tensor of ``est`` in a
    safetensors file under weights/, none among model.skops's NumPy arrays."""
    config = json.loads((path / "config.json").read_text())
    assert config["format_version"] == hybridnlp.utils.saving.FORMAT_VERSION
    assert (path / "README.md").read_text().startswith(f"# {type(est).__name__}\n")
    tensors = [t.detach().float().numpy() for m in torch_modules(est)
               for t in m.state_dict().values() if t.numel() > 1]
    assert bool(tensors) == (path / "weights").is_dir()
    with zipfile.ZipFile(path / "model.skops") as archive:
        arrays = [np.load(io.BytesIO(archive.read(n)), allow_pickle=False)
                  for n in archive.namelist() if n.endswith(".npy")]
    assert not [a.shape for a in arrays for t in tensors
                if a.dtype.kind == "f" and a.shape == t.shape and np.allclose(a, t)], \
        "torch weights inside model.skops"
    assert not {p.suffix for p in path.rglob("*")} & {".pt", ".bin", ".pkl", ".pth"}


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_pickle_and_save_round_trips_give_identical_output(est, mr_small, tmp_path):
    texts, y = mr_small
    est = clone(est).fit(texts, y)
    expected = output(est, texts[:20])
    restored = pickle.loads(pickle.dumps(est))
    assert np.array_equal(output(restored, texts[:20]), expected)
    saved = est.save(tmp_path / "model")
    check_saved_directory(est, saved)
    loaded = hybridnlp.load(saved)
    assert type(loaded) is type(est)
    np.testing.assert_allclose(output(loaded, texts[:20]), expected, rtol=1e-6, atol=1e-9)
    assert np.array_equal(output(est, texts[:20]), expected)  # output does not drift


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_refit_equals_fresh_fit(est, mr_small):
    texts, y = mr_small
    first = clone(est).fit(texts, y)
    expected = output(first, texts[:20])
    first.fit(texts[:50], y[:50]).fit(texts, y)  # refit after fitting on other data
    assert np.array_equal(output(first, texts[:20]), expected)
    assert np.array_equal(output(clone(est).fit(texts, y), texts[:20]), expected)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_pipeline_equals_manual_composition(est, mr_small):
    texts, y = mr_small
    pipe = as_pipeline(est).fit(texts, y)
    if is_classifier(est):
        manual = clone(est).fit(texts, y).predict(texts)
    else:
        features = clone(est)
        lr = LogisticRegression(max_iter=500).fit(features.fit_transform(texts, y), y)
        manual = lr.predict(features.transform(texts))
    assert np.array_equal(pipe.predict(texts), manual)
    assert set(np.unique(manual)) <= set(np.unique(y))


@pytest.mark.parametrize("est, grid", [(c[1], c[2]) for c in CASES], ids=IDS)
def test_grid_search(est, grid, mr_small):
    texts, y = mr_small
    pipe = as_pipeline(est)
    step = pipe.steps[0][0]
    search = GridSearchCV(pipe, {f"{step}__{k}": v for k, v in grid.items()}, cv=2)
    search.fit(texts, y)
    (key, values), = grid.items()
    assert [p[f"{step}__{key}"] for p in search.cv_results_["params"]] == list(values)
    # each grid point's score is what cross-validating that setting by hand gives, and the
    # best one is the setting refit on everything
    by_hand = [cross_val_score(clone(pipe).set_params(**{f"{step}__{key}": v}), texts, y,
                               cv=2).mean() for v in values]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], by_hand)
    best = values[int(np.argmax(by_hand))]
    assert search.best_params_ == {f"{step}__{key}": best}
    refit = clone(pipe).set_params(**{f"{step}__{key}": best}).fit(texts, y)
    assert np.array_equal(search.predict(texts[:20]), refit.predict(texts[:20]))


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_cross_val_score(est, mr_small):
    texts, y = mr_small
    scores = cross_val_score(as_pipeline(est), texts, y, cv=3)
    by_hand = []
    for train, test in StratifiedKFold(3).split(texts, y):  # cross_val_score's folds
        model = as_pipeline(est).fit([texts[i] for i in train], y[train])
        by_hand.append(np.mean(model.predict([texts[i] for i in test]) == y[test]))
    np.testing.assert_allclose(scores, by_hand)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_accepts_numpy_and_pandas_input(est, mr_small):
    pd = pytest.importorskip("pandas")
    texts, y = mr_small
    expected = output(clone(est).fit(texts, y), texts[:10])
    as_array = output(clone(est).fit(np.array(texts, dtype=object), y), np.array(texts[:10]))
    as_series = output(clone(est).fit(pd.Series(texts), pd.Series(y)), pd.Series(texts[:10]))
    assert np.allclose(as_array, expected) and np.allclose(as_series, expected)


# ---------------------------------------------------------------------- language models
# The same contract for the LMs: fit(corpus) (a list of documents here), score = mean
# log-likelihood per token, so GridSearchCV and cross_val_score select on held-out likelihood
# (word tokenizers: a held-out fold has characters a char tokenizer never saw).

def _tiny_gpt(**kw):
    return CausalLM(preset="gpt-nano", tokenizer="word", max_steps=6, eval_interval=3,
                    batch_size=4, random_state=0, **kw)


LM_CASES = [
    ("causal-lm", _tiny_gpt(), {"optimizer__lr": [1e-3, 3e-3]}),
    ("ngram-lm", NGramLM(order=3), {"order": [2, 3]}),
    ("interpolated-lm", InterpolatedLM(neural=_tiny_gpt(), ngram=NGramLM(order=3)),
     {"ngram__order": [2, 3]}),
]
LM_IDS = [case[0] for case in LM_CASES]
LMS = [case[1] for case in LM_CASES]


@pytest.fixture(scope="module")
def documents(mr_small):
    return list(mr_small[0][:120])


@pytest.mark.parametrize("lm", LMS, ids=LM_IDS)
def test_lm_init_is_keyword_only_and_params_round_trip(lm):
    test_init_is_keyword_only_and_stores_verbatim(lm)
    test_clone_and_params_round_trip(lm)


@pytest.mark.parametrize("lm", LMS, ids=LM_IDS)
def test_lm_fit_returns_self_sets_trailing_state_and_refuses_unfitted_use(lm, documents):
    with pytest.raises(NotFittedError, match=rf"^this {type(lm).__name__} is not fitted yet; "
                                             rf"call fit first.$"):
        clone(lm).score(documents[:3])
    est = clone(lm)
    before = set(vars(est))
    assert est.fit(documents) is est
    learned = {k for k in set(vars(est)) - before if not k.startswith("_")}
    assert learned and all(k.endswith("_") for k in learned), learned
    assert np.isfinite(est.score(documents[:5])) and est.score(documents[:5]) < 0


@pytest.mark.parametrize("lm", LMS, ids=LM_IDS)
def test_lm_pickle_save_and_refit_give_identical_scores(lm, documents, tmp_path):
    est = clone(lm).fit(documents)
    expected = est.score(documents[:10])
    assert pickle.loads(pickle.dumps(est)).score(documents[:10]) == expected
    saved = est.save(tmp_path / "lm")
    assert json.loads((saved / "config.json").read_text())["format_version"] >= 1
    assert (saved / "README.md").read_text().startswith(f"# {type(est).__name__}\n")
    assert not {p.suffix for p in saved.rglob("*")} & {".pt", ".bin", ".pkl", ".pth"}
    assert hybridnlp.load(saved).score(documents[:10]) == pytest.approx(expected, rel=1e-6)
    est.fit(documents[:40]).fit(documents)  # refit after fitting on other data
    assert est.score(documents[:10]) == expected
    assert clone(lm).fit(documents).score(documents[:10]) == expected


@pytest.mark.parametrize("lm, grid", [(c[1], c[2]) for c in LM_CASES], ids=LM_IDS)
def test_lm_grid_search_and_cross_val_score(lm, grid, documents):
    search = GridSearchCV(clone(lm), grid, cv=2).fit(documents)
    (key, values), = grid.items()
    by_hand = []
    for value in values:
        scores = cross_val_score(clone(lm).set_params(**{key: value}), documents, cv=2)
        folds = []
        for train, test in KFold(2).split(documents):  # cross_val_score's folds
            model = clone(lm).set_params(**{key: value}).fit([documents[i] for i in train])
            folds.append(model.score([documents[i] for i in test]))
        np.testing.assert_allclose(scores, folds)
        by_hand.append(np.mean(folds))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], by_hand)
    assert search.best_params_ == {key: values[int(np.argmax(by_hand))]}


@pytest.mark.parametrize("cls, names", [
    ("hybridnlp.estimators.NBSVMClassifier", ("features", "clf")),
    ("hybridnlp.seq2seq.ShallowFusion", ("translator", "lm")),
    ("hybridnlp.pretrained.SentenceEmbeddingFeatures", ("pretrained",)),
    ("hybridnlp.qa.HybridReader", ("readers",)),
    ("hybridnlp.qa.HybridRetriever", ("retrievers",)),
    ("hybridnlp.qa.QAPipeline", ("retriever", "reader")),
])
def test_composite_estimators_are_keyword_only_and_positional_use_warns(cls, names):
    import importlib

    module, _, name = cls.rpartition(".")
    klass = getattr(importlib.import_module(module), name)
    params = inspect.signature(klass.__init__).parameters
    assert all(p.kind is p.KEYWORD_ONLY for n, p in params.items() if n != "self")
    values = [object() for _ in names]
    with pytest.warns(FutureWarning, match=rf"^{name}\({', '.join(names)}\) as positional "
                                           rf"arguments is deprecated"):
        est = klass(*values)
    assert [getattr(est, n) for n in names] == values


# ---------------------------------------------------------------- every public estimator
# The fits above cover the classifiers, features and LMs; the other public estimators are fit
# by the test module named here. A public class missing from both fails the test below.
FIT_ELSEWHERE = {
    "SimplexWeights": "test_hybrid", "MetaSelection": "test_hybrid", "Seq2SeqLM": "test_seq2seq",
    "ShallowFusion": "test_seq2seq", "BM25Retriever": "test_qa", "DenseRetriever": "test_qa",
    "TfidfRetriever": "test_qa", "HybridRetriever": "test_qa", "SlidingWindowReader": "test_qa",
    "LogisticReader": "test_qa", "HybridReader": "test_qa", "ExtractiveReader": "test_qa",
    "QAPipeline": "test_qa", "SentenceEmbeddingFeatures": "test_pretrained",
    "FastTextRegressor": "test_regression", "HybridRegressor": "test_regression",
    "TransformerRegressor": "test_regression",
    "NonNegativeLinear": "test_regression", "PairFeatures": "test_pairs (reads sentence pairs)",
    "TextTransformer": "a base class (tested through TfidfFeatures and the others)",
}
PACKAGES = ("features", "estimators", "hybrid", "lm", "seq2seq", "qa", "pretrained", "text")


def _public_estimators():
    import importlib

    from sklearn.base import BaseEstimator

    found = {}
    for package in PACKAGES:
        module = importlib.import_module(f"hybridnlp.{package}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[name] = obj
    return found


def test_every_public_estimator_is_covered_by_the_contract():
    covered = {type(est).__name__ for est in ESTIMATORS} | {type(lm).__name__ for lm in LMS}
    missing = sorted(set(_public_estimators()) - covered - set(FIT_ELSEWHERE))
    assert missing == [], (f"add {missing} to CASES / LM_CASES (or to FIT_ELSEWHERE with the "
                           f"test module that fits them)")
    stale = sorted(set(FIT_ELSEWHERE) - set(_public_estimators()))
    assert stale == []


@pytest.mark.parametrize("name", sorted(_public_estimators()))
def test_every_public_estimator_is_keyword_only_and_clones(name):
    cls = _public_estimators()[name]
    if cls.__init__ is not object.__init__:  # (a class with no parameters has none to check)
        params = inspect.signature(cls.__init__).parameters
        positional = [n for n, p in params.items() if n != "self" and p.kind not in (
            p.KEYWORD_ONLY, p.VAR_KEYWORD)]
        assert positional == [], f"{name}({', '.join(positional)}) takes positional arguments"
    assert callable(getattr(cls, "save", None)) and callable(hybridnlp.load)
    examples = [est for est in ESTIMATORS if type(est) is cls]  # those that need arguments
    test_clone_and_params_round_trip(examples[0] if examples else cls())
