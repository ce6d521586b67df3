"""Bad input gets the same clear error from every text estimator, at fit and at transform."""

import re

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from test_contract import ESTIMATORS, IDS, output

GOOD = ["a fine film", "a dull film", "great fun", "no fun at all"]
LABELS = ["pos", "neg", "pos", "neg"]


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def supervised(est):
    return is_classifier(est) or getattr(est, "_requires_y", False)


BAD_TEXTS = [
    ([], ValueError, "X is empty: got 0 texts; pass at least one text."),
    (["ok", "fine", None, "x"], ValueError,
     "X contains a missing value (None) at index 2; drop those examples or fill them with a "
     "string (e.g. '') first."),
    (["ok", np.nan, "fine", "x"], ValueError,
     "X contains a missing value (nan) at index 1; drop those examples or fill them with a "
     "string (e.g. '') first."),
    (["ok", "fine", "x", 7], TypeError, "X[3] has type int; every text must be a str (got 7)."),
    (["ok", b"bytes", "fine", "x"], TypeError,
     "X[1] is bytes, not str; decode the texts first, e.g. text.decode('utf-8')."),
    ("a single string", TypeError,
     "X must be a list of str, got a single str; wrap it in a list: [X]."),
    (["", " ", "\n", ""], ValueError,
     "X contains only empty or whitespace-only texts (4 of them, first at index 0); at least "
     "one text must contain a word."),
]


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("texts, exc, message", BAD_TEXTS,
                         ids=["empty", "none", "nan", "int", "bytes", "str", "blank"])
def test_bad_texts_at_fit(est, texts, exc, message):
    y = LABELS[: len(texts)] if not isinstance(texts, str) else LABELS
    with raises(exc, message):
        clone(est).fit(texts, y)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize("texts, exc, message", BAD_TEXTS[:-1],
                         ids=["empty", "none", "nan", "int", "bytes", "str"])
def test_bad_texts_at_transform(est, texts, exc, message):
    fitted = clone(est).set_params(**_tiny_ok(est)).fit(GOOD * 3, LABELS * 3)
    with raises(exc, message):
        output(fitted, texts)


def test_blank_texts_are_fine_after_fit():
    for est in ESTIMATORS:
        fitted = clone(est).set_params(**_tiny_ok(est)).fit(GOOD * 3, LABELS * 3)
        assert output(fitted, ["", "   "]).shape[0] == 2


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if supervised(e)],
                         ids=[i for i, e in zip(IDS, ESTIMATORS) if supervised(e)])
def test_supervised_label_errors(est):
    with raises(ValueError,
                "X and y have different lengths: 4 texts and 3 labels; pass one label per text."):
        clone(est).fit(GOOD, LABELS[:3])
    with raises(ValueError,
                "y contains a single class ('pos'); a classifier needs at least 2 classes. "
                "Check that the labels were read from the right column."):
        clone(est).fit(GOOD, ["pos"] * 4)
    with raises(ValueError,
                "y contains a missing label (None) at index 2; drop those examples before "
                "fitting."):
        clone(est).fit(GOOD, ["pos", "neg", None, "neg"])


def _tiny_ok(est):
    """Parameters that let an estimator fit on a dozen short texts."""
    params = est.get_params(deep=False)
    return {"min_df": 1} if "min_df" in params else {}


@pytest.mark.parametrize("est", [e for e in ESTIMATORS if is_classifier(e)],
                         ids=[i for i, e in zip(IDS, ESTIMATORS) if is_classifier(e)])
def test_classifiers_refuse_continuous_mixed_and_unseen_labels(est):
    """Float targets were taken as dozens of classes, "a"/1 silently became strings, and
    ``score`` on labels never seen in fit returned 0.0."""
    texts = GOOD * 3
    with raises(ValueError, "Unknown label type: continuous. y holds non-integer numbers (e.g. "
                            "0.5); a classifier needs discrete classes (strings or integers), "
                            "not a regression target."):
        clone(est).fit(texts, [0.5, 1.5, 2.25, 3.0] * 3)
    with raises(TypeError, "y mixes strings and numbers (e.g. 'pos' and 1 at index 1); they "
                           "would all become strings. Give every label the same type."):
        clone(est).fit(texts, ["pos", 1, "pos", 1] * 3)
    fitted = clone(est).set_params(**_tiny_ok(est)).fit(texts, LABELS * 3)
    with raises(ValueError, "y contains labels unseen at fit time: ['negative', 'positive'] "
                            "(first at index 0); the classifier knows ['neg', 'pos']."):
        fitted.score(GOOD, ["positive", "negative", "pos", "neg"])
    assert fitted.score(GOOD * 3, LABELS * 3) >= 0.5


def _transformer(**params):
    from hybridnlp.estimators import TransformerClassifier

    return TransformerClassifier(**{"max_epochs": 1, "module__n_layer": 1, **params})


@pytest.mark.parametrize("params, exc, message", [
    ({"max_epochs": 0}, ValueError, "max_epochs=0 is out of range; it must be >= 1."),
    ({"batch_size": 0}, ValueError, "batch_size=0 is out of range; it must be >= 1."),
    ({"class_weight": {"pos": -1}}, ValueError,
     "class_weight['pos']=-1 is out of range; it must be > 0."),
    ({"class_weight": {"good": 2}}, ValueError,
     "class_weight names classes not in y: ['good']; the classes are ['neg', 'pos']."),
    ({"trainer__grad_accum": 0}, ValueError,
     "trainer__grad_accum=0 is out of range; it must be >= 1."),
    ({"optimizer__lr": "0.001"}, TypeError, "optimizer__lr='0.001' is a str; it takes a number."),
    ({"optimizer__betas": (0.9,)}, ValueError,
     "optimizer__betas=(0.9,) must be two numbers (beta1, beta2), e.g. (0.9, 0.999)."),
    ({"trainer__monitor": "val_acc"}, ValueError,
     "trainer__monitor='val_acc' is not allowed; choose one of 'val_loss', 'train_loss', "
     "'val_accuracy'. Did you mean 'val_accuracy'?"),
])
def test_transformer_settings_are_refused_at_fit_before_training(params, exc, message):
    seen = []
    est = _transformer(**params)
    est.set_params(callbacks=[_Recorder(seen)])
    with raises(exc, message):
        est.fit(GOOD * 3, LABELS * 3)
    assert seen == []  # no epoch started


class _Recorder:
    def __init__(self, seen):
        self.seen = seen

    def __getattr__(self, hook):
        return lambda *args: self.seen.append(hook)


@pytest.mark.parametrize("params, message", [
    ({"batch_size": 0}, "batch_size=0 is out of range; it must be >= 1."),
    ({"eval_interval": 0}, "eval_interval=0 is out of range; it must be >= 1."),
    ({"max_steps": 0}, "max_steps=0 is out of range; it must be >= 1."),
    ({"max_steps": -5}, "max_steps=-5 is out of range; it must be >= 1."),
])
def test_causal_lm_settings_are_refused_at_fit(params, message):
    from hybridnlp.lm import CausalLM

    with raises(ValueError, message):
        CausalLM(preset="gpt-nano", **params).fit("to be or not to be " * 20)


def test_predict_under_a_float64_default_dtype():
    import torch

    clf = _transformer(random_state=0).fit(GOOD * 3, LABELS * 3)
    expected = clf.predict_proba(GOOD)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        np.testing.assert_allclose(clf.predict_proba(GOOD), expected, rtol=1e-6)
    finally:
        torch.set_default_dtype(old)


def test_nan_on_a_fresh_fit_does_not_cite_a_checkpoint_that_does_not_exist(tmp_path):
    import torch

    from hybridnlp.exceptions import NonFiniteLossError
    from hybridnlp.train import LambdaCallback

    def poison(trainer, model, step, loss):  # weights turn NaN after the first step
        with torch.no_grad():
            next(model.parameters()).fill_(float("nan"))

    clf = _transformer(checkpoint_dir=tmp_path / "ckpt", batch_size=4,
                       callbacks=[LambdaCallback(on_batch_end=poison)])
    with pytest.raises(NonFiniteLossError, match=r"No checkpoint was written yet \(the first "
                                                 r"is saved at the end of epoch 1"):
        clf.fit(GOOD * 3, LABELS * 3)
