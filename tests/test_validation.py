import re

import numpy as np
import pandas as pd
import pytest

from hybridnlp.utils.validation import (
    check_choice,
    check_labels,
    check_ngram_range,
    check_texts,
    check_texts_labels,
)


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize(
    "texts",
    [["a", "b"], ("a", "b"), np.array(["a", "b"]), np.array(["a", "b"], dtype=object),
     pd.Series(["a", "b"], index=[7, 3])],
)
def test_accepts_sequences_arrays_and_series(texts):
    out = check_texts(texts)
    assert out == ["a", "b"]
    assert all(type(t) is str for t in out)


def test_empty_list():
    with raises(ValueError, "X is empty: got 0 texts; pass at least one text."):
        check_texts([])


def test_single_string():
    with raises(TypeError, "X must be a list of str, got a single str; wrap it in a list: [X]."):
        check_texts("a whole sentence")


@pytest.mark.parametrize(
    "missing, shown", [(None, "None"), (float("nan"), "nan"), (np.nan, "nan"), (pd.NA, "<NA>")]
)
def test_missing_values_name_the_index(missing, shown):
    message = (
        f"X contains a missing value ({shown}) at index 2; drop those examples or fill them "
        f"with a string (e.g. '') first."
    )
    with raises(ValueError, message):
        check_texts(["ok", "fine", missing, None])


def test_missing_in_pandas_series():
    with pytest.raises(ValueError, match=r"at index 1;"):
        check_texts(pd.Series(["ok", None, "x"]))


def test_bytes_item():
    message = "X[1] is bytes, not str; decode the texts first, e.g. text.decode('utf-8')."
    with raises(TypeError, message):
        check_texts(["ok", b"raw bytes"])


def test_non_string_item():
    with raises(TypeError, "X[3] has type int; every text must be a str (got 5)."):
        check_texts(["a", "b", "c", 5])


def test_all_empty_rejected_only_when_words_required():
    assert check_texts(["", "  "]) == ["", "  "]
    message = (
        "X contains only empty or whitespace-only texts (2 of them, first at index 0); "
        "at least one text must contain a word."
    )
    with raises(ValueError, message):
        check_texts(["", "  "], require_words=True)


def test_two_dimensional_array():
    message = "X must be one-dimensional (one item per example), got an array of shape (2, 1)."
    with raises(ValueError, message):
        check_texts(np.array([["a"], ["b"]]))


def test_generator_is_rejected_with_fix():
    message = (
        "X must be a list, tuple, numpy array or pandas Series of str, got a generator; "
        "materialise it first, e.g. list(X)."
    )
    with raises(TypeError, message):
        check_texts(t for t in ["a"])


def test_mismatched_lengths():
    message = "X and y have different lengths: 3 texts and 2 labels; pass one label per text."
    with raises(ValueError, message):
        check_texts_labels(["a", "b", "c"], [0, 1])


def test_single_class():
    message = (
        "y contains a single class ('pos'); a classifier needs at least 2 classes. "
        "Check that the labels were read from the right column."
    )
    with raises(ValueError, message):
        check_labels(["pos", "pos", "pos"])


def test_missing_label():
    message = "y contains a missing label (None) at index 1; drop those examples before fitting."
    with raises(ValueError, message):
        check_labels(["pos", None, "neg"])


def test_labels_keep_their_type():
    assert check_labels([True, False]).dtype == bool
    assert check_labels(["a", "b"]).tolist() == ["a", "b"]
    mixed = check_labels([("a", 1), ("b", 2)])
    assert mixed.shape == (2,) and mixed[0] == ("a", 1)


def test_check_choice_suggests():
    message = "analyzer='wrod' is not allowed; choose one of 'word', 'char'. Did you mean 'word'?"
    with raises(ValueError, message):
        check_choice("analyzer", "wrod", ("word", "char"))


@pytest.mark.parametrize("bad", [(2, 1), (0, 1), 3, (1.0, 2), (True, 2), (1, 2, 3)])
def test_ngram_range(bad):
    message = (
        f"ngram_range={bad!r} is not a valid n-gram range; pass (min_n, max_n) with "
        f"1 <= min_n <= max_n, e.g. (1, 2)."
    )
    with raises(ValueError, message):
        check_ngram_range("ngram_range", bad)
    assert check_ngram_range("ngram_range", [1, 3]) == (1, 3)


def test_out_of_fold_places_each_rows_output_from_the_model_that_did_not_see_it():
    from sklearn.model_selection import KFold

    from hybridnlp.utils.folds import out_of_fold

    seen = []

    def fit_predict(train, test):
        seen.append(set(train) & set(test))
        return np.asarray([[i * 10.0, len(train)] for i in test])

    out = out_of_fold(KFold(3).split(np.zeros(7)), fit_predict, 7)
    assert out.shape == (7, 2) and out[:, 0].tolist() == [i * 10.0 for i in range(7)]
    assert seen == [set(), set(), set()]
    listed = out_of_fold(KFold(2).split(np.zeros(4)), lambda tr, te: [f"q{i}" for i in te], 4)
    assert listed == ["q0", "q1", "q2", "q3"]
