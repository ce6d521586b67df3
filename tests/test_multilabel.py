"""Multi-label classification: targets as indicator matrices or label lists, per-label
probabilities, thresholds tuned out of fold, the classifiers and the stacked hybrid."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, hamming_loss
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline

import hybridnlp
from hybridnlp.estimators import FastTextClassifier, NBSVMClassifier, TransformerClassifier
from hybridnlp.features import NBFeatures
from hybridnlp.hybrid import HybridEnsemble, StackingClassifier, WeightedEnsemble, as_multilabel
from hybridnlp.nn.layers import head_loss
from hybridnlp.utils.multilabel import (
    DEFAULT_THRESHOLD,
    check_multilabel,
    is_multilabel,
    label_lists,
    multilabel_scores,
    skip_threshold_tuning,
    tune_thresholds,
)

COLOURS = ["red", "blue", "green"]
FILLER = "the a some very quite bright dark old new small big round".split()


def colour_data(n, seed):
    """Texts naming one or two colours among filler words; the labels are the colours."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        k = 1 + int(rng.random() < 0.4)
        chosen = sorted(rng.choice(COLOURS, size=k, replace=False).tolist())
        words = list(rng.choice(FILLER, size=4)) + chosen
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(chosen)
    return texts, labels


TEXTS, LABELS = colour_data(240, 0)
TEST_TEXTS, TEST_LABELS = colour_data(60, 1)
Y_TEST, _ = check_multilabel(TEST_LABELS, classes=sorted(COLOURS))


# ---------------------------------------------------------------- targets


def test_every_form_of_y_reads_as_one_indicator_matrix():
    lists = [["b", "a"], [], ["c"]]
    Y, classes = check_multilabel(lists)
    assert classes.tolist() == ["a", "b", "c"]
    assert Y.tolist() == [[True, True, False], [False, False, False], [False, False, True]]
    matrix = Y.astype(int)
    for form in (matrix, sp.csr_matrix(matrix), matrix.tolist()):
        again, names = check_multilabel(form)
        assert (again == Y).all() and names.tolist() == [0, 1, 2]
    frame = pd.DataFrame(matrix, columns=["x", "y", "z"])
    again, names = check_multilabel(frame)
    assert (again == Y).all() and names.tolist() == ["x", "y", "z"]
    assert is_multilabel(lists) and is_multilabel(matrix) and is_multilabel(frame)
    assert not is_multilabel(["a", "b"]) and not is_multilabel(np.array([0, 1]))
    assert label_lists(Y, classes) == [["a", "b"], [], ["c"]]


def test_bad_multilabel_targets_name_the_problem():
    with pytest.raises(ValueError, match=r"y is a 2-D array but holds 2 at row 1, column 0; "
                                         r"a multi-label indicator matrix holds only 0 and 1"):
        check_multilabel(np.array([[0, 1], [2, 0]]))
    with pytest.raises(ValueError, match=r"y\[1\] is None; every item of a multi-label y is a "
                                         r"list of that text's labels"):
        check_multilabel([["a"], None, ["b"]])
    with pytest.raises(ValueError, match=r"multi-label classification needs at least 2"):
        check_multilabel([["a"], ["a"], []])
    with pytest.raises(ValueError, match=r"y contains labels unseen at fit time: \['d'\] "
                                         r"\(first at index 1\)"):
        check_multilabel([["a"], ["d"]], classes=["a", "b"])


def test_thresholds_maximise_micro_f1_and_leave_labels_without_positives_alone():
    rng = np.random.default_rng(0)
    y0 = rng.random(400) < 0.3
    p0 = np.where(y0, rng.uniform(0.25, 0.6, 400), rng.uniform(0.0, 0.2, 400))
    Y = np.column_stack([y0, np.zeros(400, bool)])
    P = np.column_stack([p0, rng.random(400)])
    thresholds = tune_thresholds(P, Y)
    assert 0.2 < thresholds[0] <= 0.25  # separates the label perfectly, not at 0.5
    assert thresholds[1] == DEFAULT_THRESHOLD
    assert multilabel_scores(Y[:, :1], P[:, :1] >= thresholds[0])["micro_f1"] == 1.0


def test_multilabel_scores_equal_scikit_learn():
    rng = np.random.default_rng(1)
    T, P = rng.random((50, 4)) < 0.3, rng.random((50, 4)) < 0.3
    scores = multilabel_scores(T, P)
    assert scores["micro_f1"] == pytest.approx(f1_score(T, P, average="micro"))
    assert scores["macro_f1"] == pytest.approx(f1_score(T, P, average="macro",
                                                        zero_division=0))
    assert scores["subset_accuracy"] == pytest.approx(accuracy_score(T, P))
    assert scores["hamming_loss"] == pytest.approx(hamming_loss(T, P))


def test_bool_targets_train_on_binary_cross_entropy():
    logits = torch.randn(5, 3)
    targets = torch.rand(5, 3) < 0.5
    expected = F.binary_cross_entropy_with_logits(logits, targets.float())
    assert torch.allclose(head_loss(logits, targets), expected)
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0])
    per = F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")
    assert torch.allclose(head_loss(logits, targets, sample_weight=w),
                          (per.mean(1) * w).sum() / w.sum())


# ---------------------------------------------------------------- n-gram models


def test_multilabel_ratios_are_each_labels_binary_ratios():
    Y, _ = check_multilabel(LABELS)
    joint = NBFeatures().fit(TEXTS, LABELS)
    assert joint.classes_.tolist() == sorted(COLOURS)
    for j in range(3):
        binary = NBFeatures().fit(TEXTS, Y[:, j].astype(int))
        np.testing.assert_allclose(joint.ratios_[j], binary.ratios_[0], rtol=1e-12)


def test_nbsvm_fits_one_binary_model_per_label():
    clf = NBSVMClassifier().fit(TEXTS, LABELS)
    Y, _ = check_multilabel(LABELS)
    proba = clf.predict_proba(TEST_TEXTS)
    assert clf.multilabel_ and proba.shape == (60, 3)
    for j in range(3):
        binary = NBSVMClassifier().fit(TEXTS, Y[:, j].astype(int))
        np.testing.assert_allclose(proba[:, j], binary.predict_proba(TEST_TEXTS)[:, 1],
                                   atol=1e-10)
    predicted = clf.predict(TEST_TEXTS)
    assert predicted.dtype == np.int64 and predicted.shape == (60, 3)
    assert (predicted == (proba >= clf.thresholds_)).all()
    assert clf.score(TEST_TEXTS, TEST_LABELS) == accuracy_score(Y_TEST, predicted) == 1.0
    assert ((clf.thresholds_ > 0) & (clf.thresholds_ < 1)).all()
    with skip_threshold_tuning():
        assert (NBSVMClassifier().fit(TEXTS, LABELS).thresholds_ == DEFAULT_THRESHOLD).all()


def test_label_lists_and_indicator_matrix_give_one_model():
    Y, _ = check_multilabel(LABELS)
    a = NBSVMClassifier().fit(TEXTS, LABELS)
    b = NBSVMClassifier().fit(TEXTS, Y.astype(int))
    np.testing.assert_array_equal(a.predict_proba(TEST_TEXTS), b.predict_proba(TEST_TEXTS))
    assert b.classes_.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"class_weight=\{'red': 2\} with a multi-label y"):
        NBSVMClassifier(class_weight={"red": 2}).fit(TEXTS, LABELS)


def test_a_label_missing_from_the_training_texts_gets_a_constant_model():
    Y = np.column_stack([check_multilabel(LABELS)[0], np.zeros(len(TEXTS), bool)])
    clf = NBSVMClassifier().fit(TEXTS, Y.astype(int))
    assert (clf.predict_proba(TEST_TEXTS)[:, 3] == 0).all()
    assert (clf.predict(TEST_TEXTS)[:, 3] == 0).all()
    assert np.isneginf(clf.decision_function(TEST_TEXTS)[:, 3]).all()


# ---------------------------------------------------------------- neural models


@pytest.mark.parametrize("make", [
    lambda: FastTextClassifier(max_epochs=30, optimizer__lr=0.05, validation_fraction=0.2,
                               random_state=0),
    lambda: TransformerClassifier(preset="tiny", max_epochs=40, patience=None,
                                  validation_fraction=0.2, optimizer__lr=3e-3,
                                  random_state=0),
], ids=["fasttext", "transformer"])
def test_neural_classifiers_learn_labels_with_a_sigmoid_head(make, tmp_path):
    clf = make().fit(TEXTS, LABELS)
    proba = clf.predict_proba(TEST_TEXTS)
    assert clf.multilabel_ and proba.shape == (60, 3)
    assert not np.allclose(proba.sum(axis=1), 1.0)  # one sigmoid per label, not a softmax
    assert clf.thresholds_.shape == (3,)
    assert multilabel_scores(Y_TEST, clf.predict(TEST_TEXTS))["micro_f1"] > 0.95
    saved = hybridnlp.load(hybridnlp.save(clf, tmp_path / "model"))
    np.testing.assert_allclose(saved.predict_proba(TEST_TEXTS), proba, atol=1e-6)
    assert (saved.thresholds_ == clf.thresholds_).all()


def test_neural_multilabel_refuses_class_weight_and_calibrate():
    with pytest.raises(ValueError, match=r"class_weight='balanced' weighs one class per text, "
                                         r"but y is multi-label"):
        FastTextClassifier(class_weight="balanced").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"calibrate=True scales a softmax over classes, but "
                                         r"y is multi-label"):
        TransformerClassifier(calibrate=True).fit(TEXTS, LABELS)


# ---------------------------------------------------------------- the hybrid


def _stack(**kw):
    return StackingClassifier(estimators=[
        ("nbsvm", NBSVMClassifier()),
        ("mnb", make_pipeline(CountVectorizer(), MultinomialNB())),
        ("fasttext", FastTextClassifier(max_epochs=20, optimizer__lr=0.05, random_state=0)),
    ], cv=3, random_state=0, **kw)


def test_stacking_chooses_its_meta_level_out_of_fold(tmp_path):
    clf = _stack().fit(TEXTS, LABELS)
    assert clf.multilabel_ and clf.classes_.tolist() == sorted(COLOURS)
    assert isinstance(clf.named_estimators_["mnb"][-1], OneVsRestClassifier)
    assert clf.held_out_["nbsvm"].shape == (240, 3) and clf.held_out_y_.shape == (240, 3)
    assert set(clf.meta_scores_) == {"shared", "per_label", "nbsvm", "mnb", "fasttext"}
    assert clf.chosen_ == max(clf.meta_scores_, key=clf.meta_scores_.get)
    proba = clf.predict_proba(TEST_TEXTS)
    parts = clf.component_proba(TEST_TEXTS)
    blocks = np.stack([parts[n] for n in ("nbsvm", "mnb", "fasttext")], axis=2)
    for kind in ("shared", "per_label"):  # each kind combines the components as documented
        from hybridnlp.hybrid._multilabel_meta import _fit, combine

        fitted = _fit(kind, LogisticRegression(max_iter=1000),
                      np.stack([clf.held_out_[n] for n in ("nbsvm", "mnb", "fasttext")], 2),
                      clf.held_out_y_)
        combined = combine(kind, fitted, blocks, ["nbsvm", "mnb", "fasttext"])
        assert combined.shape == (60, 3) and ((combined >= 0) & (combined <= 1)).all()
        if kind == clf.chosen_:
            np.testing.assert_allclose(proba, combined)
    assert multilabel_scores(Y_TEST, clf.predict(TEST_TEXTS))["micro_f1"] > 0.95
    saved = hybridnlp.load(hybridnlp.save(clf, tmp_path / "model"))
    np.testing.assert_allclose(saved.predict_proba(TEST_TEXTS), proba, atol=1e-6)
    np.testing.assert_array_equal(saved.predict(TEST_TEXTS), clf.predict(TEST_TEXTS))


def test_a_component_alone_is_chosen_where_the_others_only_add_noise():
    from hybridnlp.hybrid._multilabel_meta import fit_multilabel_meta

    rng = np.random.default_rng(0)
    Y = rng.random((300, 4)) < 0.2
    good = np.where(Y, rng.uniform(0.6, 1.0, Y.shape), rng.uniform(0.0, 0.4, Y.shape))
    noise = rng.random((2, *Y.shape))
    blocks = np.stack([noise[0], good, noise[1]], axis=2)
    meta = fit_multilabel_meta(LogisticRegression(), blocks, Y, ["a", "b", "c"], seed=0)
    assert meta["scores"]["b"] == 1.0 and meta["scores"]["a"] < 0.5
    assert meta["chosen"] in ("shared", "per_label", "b")
    assert meta["scores"][meta["chosen"]] == 1.0 and meta["thresholds"].shape == (4,)


def test_scikit_learn_components_learn_every_label_one_vs_rest():
    pipe = make_pipeline(CountVectorizer(), LogisticRegression())
    wrapped = as_multilabel(pipe)
    assert isinstance(wrapped, Pipeline) and isinstance(wrapped[-1], OneVsRestClassifier)
    assert wrapped[0] is pipe[0]
    assert isinstance(as_multilabel(LogisticRegression()), OneVsRestClassifier)
    nbsvm = NBSVMClassifier()
    assert as_multilabel(nbsvm) is nbsvm


def test_multilabel_hybrid_refuses_what_needs_one_label_per_text():
    with pytest.raises(ValueError, match=r"calibrate=True is not available with a "
                                         r"multi-label y"):
        _stack(calibrate=True).fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"gating and class_weight weigh one class per text, "
                                         r"but y is multi-label"):
        HybridEnsemble(gating=True).fit(TEXTS, LABELS)


def test_weighted_ensemble_fits_one_set_of_weights_for_every_label():
    from scipy.optimize import minimize_scalar

    ens = WeightedEnsemble(estimators=[
        ("nbsvm", NBSVMClassifier()),
        ("mnb", make_pipeline(CountVectorizer(), MultinomialNB()))], cv=3,
        random_state=0).fit(TEXTS, LABELS)
    assert ens.multilabel_ and ens.weights_.shape == (2,)
    assert ens.weights_.sum() == pytest.approx(1.0)
    parts = ens.component_proba(TEST_TEXTS)
    np.testing.assert_allclose(ens.predict_proba(TEST_TEXTS),
                               ens.weights_[0] * parts["nbsvm"] + ens.weights_[1] * parts["mnb"])
    # the weight minimises the held-out binary log loss (one free number with two parts)
    from hybridnlp.hybrid._heldout import held_out_probas

    Y, _ = check_multilabel(LABELS)
    held_nb, held_mnb = (h.proba for h in held_out_probas(
        [(n, as_multilabel(e)) for n, e in ens.estimators], TEXTS, Y, ens.classes_, [3, 3], 0))

    def loss(a):
        p = np.clip(a * held_nb + (1 - a) * held_mnb, 1e-12, 1 - 1e-12)
        return -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).mean()

    best = minimize_scalar(loss, bounds=(0, 1), method="bounded").x
    assert ens.weights_[0] == pytest.approx(best, abs=1e-3)
    assert multilabel_scores(Y_TEST, ens.predict(TEST_TEXTS))["micro_f1"] > 0.95


def test_fusion_fuses_every_labels_out_of_fold_probabilities():
    from hybridnlp.hybrid import FusionClassifier

    clf = FusionClassifier(preset="tiny", max_epochs=30, patience=None,
                           validation_fraction=0.2, optimizer__lr=3e-3, feature_cv=3,
                           random_state=0).fit(TEXTS, LABELS)
    assert isinstance(clf.features_[-1], OneVsRestClassifier)
    assert clf.model_.config.n_extra == 3 and clf.predict_proba(TEST_TEXTS).shape == (60, 3)
    assert multilabel_scores(Y_TEST, clf.predict(TEST_TEXTS))["micro_f1"] > 0.95


# ---------------------------------------------------------------- configs and the CLI


def test_a_multilabel_config_runs_from_a_csv_and_predict_writes_label_sets(tmp_path, capsys):
    import csv
    import json

    from sklearn.model_selection import KFold

    from hybridnlp.cli import main
    from hybridnlp.experiments import load_config, run

    with open(tmp_path / "colours.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "labels"])
        w.writerows((t, "|".join(labels)) for t, labels in zip(TEXTS, LABELS))
    config = {"name": "colours", "task": "multilabel", "output": str(tmp_path / "runs"),
              "data": {"path": str(tmp_path / "colours.csv"), "label_column": "labels"},
              "evaluation": {"cv": 2},
              "models": [{"type": "nbsvm", "name": "nbsvm"},
                         {"type": "tfidf_lr", "name": "tfidf"}]}
    result = run(config, quiet=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["label_names"] == sorted(COLOURS)
    assert metrics["protocol"] == "2-fold CV (shuffled, seed 0)"
    by_hand = []  # the nbsvm row is the mean over the same folds by hand
    Y, _ = check_multilabel(LABELS)
    for train, test in KFold(2, shuffle=True, random_state=0).split(TEXTS):
        model = NBSVMClassifier(features=NBFeatures(), clf=LogisticRegression(max_iter=1000))
        model.fit([TEXTS[i] for i in train], Y[train].astype(int))
        by_hand.append(multilabel_scores(Y[test], model.predict([TEXTS[i] for i in test])))
    row = metrics["models"]["nbsvm"]
    assert row["micro_f1"] == pytest.approx(np.mean([s["micro_f1"] for s in by_hand]))
    assert set(row["label_f1"]) == set(COLOURS)
    report = (result.run_dir / "report.md").read_text()
    assert "| model | micro_f1 | macro_f1 | subset_accuracy | hamming_loss |" in report
    assert "Each label's F1, the best model" in report
    with pytest.raises(Exception, match="'ridge' is a regression model, but task is "
                                        "'multilabel'"):
        load_config({**config, "models": [{"type": "ridge"}]})
    (tmp_path / "in.csv").write_text("text\nthe red and blue old\na green one\n")
    assert main(["predict", str(result.run_dir / "models" / "nbsvm"),
                 "--input", str(tmp_path / "in.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["text,prediction", "the red and blue old,blue|red", "a green one,green"]


def test_explain_refuses_a_multilabel_model_with_the_fix():
    clf = NBSVMClassifier().fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"^explain explains one label per text, and this "
                                         r"NBSVMClassifier is multi-label; explain a binary "
                                         r"model of the label you want"):
        clf.explain(TEST_TEXTS[:2])
