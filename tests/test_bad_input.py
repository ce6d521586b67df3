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
