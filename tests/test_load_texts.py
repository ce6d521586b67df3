import gzip
import json
import re

import pytest

from hybridnlp.datasets import load_texts


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def test_csv_with_labels_and_quoted_fields(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"good, really good",pos\n"a ""bad"" one\nover lines",neg\n')
    data = load_texts(path, label_column="label")
    assert data.data == ["good, really good", 'a "bad" one\nover lines']
    assert data.target.tolist() == ["pos", "neg"]
    assert data.target_names == ["neg", "pos"]


def test_tsv_and_gzip(tmp_path):
    path = tmp_path / "data.tsv.gz"
    path.write_bytes(gzip.compress(b"sentence\tstars\nfine film\t4\nawful\t1\n"))
    data = load_texts(path, text_column="sentence", label_column="stars")
    assert data.data == ["fine film", "awful"] and data.target.tolist() == ["4", "1"]


def test_jsonl_keeps_label_types(tmp_path):
    path = tmp_path / "data.jsonl"
    rows = [{"text": "yes", "y": 1}, {"text": "no", "y": 0}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = load_texts(path, label_column="y")
    assert data.data == ["yes", "no"] and data.target.tolist() == [1, 0]


def test_text_file_splits_on_newline_only(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes("first line\u0085still first\nsecond\r\n".encode())
    data = load_texts(path)
    assert data.data == ["first line\u0085still first", "second\r"]
    assert data.target is None


def test_encoding_error_names_the_fix(tmp_path):
    path = tmp_path / "cp1252.txt"
    path.write_bytes(b"caf\xe9\n")
    message = (
        "cp1252.txt is not valid utf-8 (byte 0xe9 at offset 3); pass the file's encoding, "
        "e.g. encoding='cp1252' or 'latin-1'."
    )
    with raises(ValueError, message):
        load_texts(path)
    assert load_texts(path, encoding="cp1252").data == ["café"]


def test_missing_column_suggests(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("review,label\nok,1\n")
    message = (
        "text_column='reviews' is not a column of d.csv; its columns are ['review', 'label']. "
        "Did you mean text_column='review'?"
    )
    with raises(ValueError, message):
        load_texts(path, text_column="reviews")


def test_ragged_csv_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nok,1\nbroken\n")
    message = (
        "d.csv line 3: expected 2 fields (['text', 'label']), found a different number; "
        "check the delimiter and quoting."
    )
    with raises(ValueError, message):
        load_texts(path, label_column="label")


def test_bad_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": oops}\n')
    with raises(ValueError, "d.jsonl line 2 is not valid JSON: Expecting value."):
        load_texts(path)


def test_null_text_and_missing_label(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "y": 1}\n{"text": null, "y": 0}\n')
    message = "d.jsonl row 1: 'text' is missing, not a string; every row needs a text."
    with raises(ValueError, message):
        load_texts(path)
    path.write_text('{"text": "a", "y": 1}\n{"text": "b"}\n')
    message = "d.jsonl row 1: 'y' is missing; drop unlabelled rows or pass label_column=None."
    with raises(ValueError, message):
        load_texts(path, label_column="y")


def test_format_errors(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    message = (
        "cannot tell the format of 'data.xlsx' from its extension; name it .csv, .tsv, .jsonl "
        "or .txt (optionally .gz), or pass format='csv' / 'tsv' / 'jsonl' / 'txt'."
    )
    with raises(ValueError, message):
        load_texts(path)
    assert load_texts(path, format="txt").data == ["x"]
    with raises(FileNotFoundError, f"no such file: {str(tmp_path / 'nope.csv')!r}"):
        load_texts(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with raises(ValueError, "empty.csv holds no texts; the file is empty or has only a header."):
        load_texts(empty)
    lines = tmp_path / "l.txt"
    lines.write_text("a\n")
    message = (
        "label_column='y' cannot be used with a one-text-per-line file; store labels in a "
        "CSV/TSV/JSONL file instead."
    )
    with raises(ValueError, message):
        load_texts(lines, label_column="y")
