"""``load_texts``: users' own CSV, TSV, JSONL and one-text-per-line files."""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import itertools
import json
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hybridnlp.utils.io import read_file_bytes

if TYPE_CHECKING:
    from sklearn.utils import Bunch

from hybridnlp.utils.validation import is_missing

__all__ = ["TextStream", "load_texts"]

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "txt",
}


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in set(FORMATS.values()):
            raise ValueError(
                f"unknown format={fmt!r}; allowed: 'csv', 'tsv', 'jsonl', 'txt' or None to "
                f"infer it from the file name."
            )
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in FORMATS:
        return FORMATS[suffixes[-1]]
    raise ValueError(
        f"cannot tell the format of {path.name!r} from its extension; name it .csv, .tsv, "
        f".jsonl or .txt (optionally .gz), or pass format='csv' / 'tsv' / 'jsonl' / 'txt'."
    )


def _read_text(path: Path, encoding: str) -> str:
    raw = read_file_bytes(path)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path.name} is not valid {encoding} (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); pass the file's encoding, e.g. encoding='cp1252' or 'latin-1'."
        ) from None


def _column(columns: list[str], wanted: str, param: str, path: Path) -> str:
    if wanted in columns:
        return wanted
    close = difflib.get_close_matches(wanted, columns, n=1)
    hint = f" Did you mean {param}={close[0]!r}?" if close else ""
    raise ValueError(
        f"{param}={wanted!r} is not a column of {path.name}; its columns are {columns}.{hint}"
    )


def _rows_delimited(text: str, delimiter: str, path: Path) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns = list(reader.fieldnames or [])
    return columns, list(_checked_rows(reader, columns, path))


def _rows_jsonl(text: str, path: Path) -> tuple[list[str], list[dict]]:
    rows = list(_iter_jsonl(text.split("\n"), path))
    columns = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _texts_from_rows(rows, text_col, label_col, path) -> tuple[list[str], list | None]:
    texts, labels = [], ([] if label_col else None)
    for i, row in enumerate(rows):
        text = row.get(text_col)
        if not isinstance(text, str):
            what = "missing" if is_missing(text) else f"a {type(text).__name__}"
            raise ValueError(
                f"{path.name} row {i}: {text_col!r} is {what}, not a string; every row needs "
                f"a text."
            )
        texts.append(text)
        if label_col:
            label = row.get(label_col)
            if is_missing(label) or label == "":
                raise ValueError(
                    f"{path.name} row {i}: {label_col!r} is missing; drop unlabelled rows or "
                    f"pass label_column=None."
                )
            labels.append(label)
    return texts, labels


def load_texts(
    path: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    feature_columns=None,
) -> Bunch:
    """Read texts (and optionally labels) from a CSV, TSV, JSONL or plain-text file.

    Parameters
    ----------
    path : path
        ``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` or ``.txt`` (one text per line, split on
        "\\n" only), each optionally gzip-compressed (``.csv.gz`` ...).
    text_column : str, default="text"
        Column (CSV/TSV header or JSON key) holding the texts. Ignored for ``.txt``.
    label_column : str, optional
        Column holding the labels; None reads texts only.
    format : {"csv", "tsv", "jsonl", "txt"}, optional
        Overrides the format inferred from the file name.
    encoding : str, default="utf-8"
    feature_columns : list of str, optional
        More columns to read (metadata: numbers or categories), as ``frame``, a pandas
        DataFrame: a column whose values all read as numbers (empty: missing) is numeric.

    Returns
    -------
    Bunch
        ``data`` (list of str), ``target`` (ndarray of the labels as read, or None),
        ``target_names`` (sorted distinct labels), ``DESCR``.

    Examples
    --------
    >>> reviews = load_texts("reviews.csv", text_column="review", label_column="stars")
    ... # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    fmt = _format_of(path, format)
    text = _read_text(path, encoding)
    frame = None
    if fmt == "txt":
        if feature_columns:
            raise ValueError("feature_columns cannot be used with a one-text-per-line file; "
                             "store them in a CSV/TSV/JSONL file instead.")
        if label_column is not None:
            raise ValueError(
                f"label_column={label_column!r} cannot be used with a one-text-per-line file; "
                f"store labels in a CSV/TSV/JSONL file instead."
            )
        texts = text.split("\n")
        if texts and texts[-1] == "":
            texts.pop()
        labels = None
    else:
        if fmt == "jsonl":
            columns, rows = _rows_jsonl(text, path)
        else:
            columns, rows = _rows_delimited(text, "," if fmt == "csv" else "\t", path)
        text_col = _column(columns, text_column, "text_column", path)
        label_col = _column(columns, label_column, "label_column", path) if label_column else None
        texts, labels = _texts_from_rows(rows, text_col, label_col, path)
        if feature_columns:
            frame = _frame(rows, [_column(columns, c, "feature_columns", path)
                                  for c in feature_columns])
    if not texts:
        raise ValueError(f"{path.name} holds no texts; the file is empty or has only a header.")
    target = None
    target_names = []
    if labels is not None:
        target = np.empty(len(labels), dtype=object)
        target[:] = labels
        if all(isinstance(v, str) for v in labels) or all(
            isinstance(v, int | float) for v in labels
        ):
            target = np.asarray(labels)
        target_names = sorted({str(v) if not isinstance(v, str) else v for v in labels})
    from sklearn.utils import Bunch

    bunch = Bunch(
        data=texts, target=target, target_names=target_names,
        DESCR=f"{len(texts)} texts read from {path} ({fmt})", name=path.name,
    )
    if frame is not None:
        bunch.frame = frame
    return bunch


def _frame(rows, columns: list[str]):
    """The ``columns`` of ``rows`` as a DataFrame; a column whose values all read as numbers
    (an empty cell: missing) is numeric, the others are strings (an empty cell: missing)."""
    import pandas as pd

    out = {}
    for column in columns:
        values = [None if is_missing(v) or v == "" else v for v in (r.get(column) for r in rows)]
        try:
            out[column] = [np.nan if v is None else float(v) for v in values]
        except (TypeError, ValueError):
            out[column] = pd.Series([None if v is None else str(v) for v in values],
                                    dtype=object)
    return pd.DataFrame(out)


class TextStream:
    """The texts of a file, read a line (or row) at a time each time they are iterated, for
    ``fit``/``transform`` of the classical features on more text than fits in memory.

    ``TfidfFeatures``, ``NBFeatures``, ``TopicFeatures`` and ``Word2VecFeatures`` take one (or
    a path, which means ``TextStream(path)``) in place of a list: they hold the counts they
    need, never the texts. Each reads the file once per vectorizer (twice for
    ``analyzer="both"``; word2vec once per epoch and twice more), and its first 2,000 texts
    once more for the check that words are split. Formats as :func:`load_texts` (``.txt``: a
    text per line; ``.csv``, ``.tsv``, ``.jsonl``; each optionally ``.gz``).

    Parameters
    ----------
    path : path
    text_column : str, default="text"
        Column (CSV/TSV header or JSON key) holding the texts; ignored for ``.txt``.
    format : {"csv", "tsv", "jsonl", "txt"}, optional
    encoding : str, default="utf-8"

    Examples
    --------
    >>> TfidfFeatures().fit(TextStream("reviews.jsonl", text_column="review"))
    ... # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike, *, text_column: str = "text",
                 format: str | None = None, encoding: str = "utf-8"):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {str(self.path)!r}")
        self.format = _format_of(self.path, format)
        self.text_column = text_column
        self.encoding = encoding
        self._len: int | None = None

    def __repr__(self) -> str:
        return f"TextStream({str(self.path)!r}, format={self.format!r})"

    def __len__(self) -> int:
        """The number of texts (one pass over the file, the first time it is asked)."""
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len

    def __iter__(self):
        opener = gzip.open if self.path.suffix.lower() == ".gz" else open
        newline = "\n" if self.format == "txt" else ""  # .txt splits on "\n" only
        n = 0
        with opener(self.path, "rt", encoding=self.encoding, newline=newline) as f:
            try:
                for text in self._texts(f):
                    n += 1
                    yield text
            except UnicodeDecodeError:
                raise ValueError(
                    f"{self.path.name} is not valid {self.encoding} (after text {n}); pass the "
                    f"file's encoding, e.g. encoding='cp1252' or 'latin-1'.") from None
            except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                raise ValueError(f"{str(self.path)!r} is a truncated or corrupt gzip file "
                                 f"(after text {n}: {err}); compress it again.") from None
        if n == 0:
            raise ValueError(f"{self.path.name} holds no texts; the file is empty or has only "
                             f"a header.")
        self._len = n

    def _texts(self, f):
        if self.format == "txt":
            for line in f:
                yield line[:-1] if line.endswith("\n") else line
            return
        if self.format == "jsonl":
            rows = _iter_jsonl(f, self.path)
            first = next(rows, None)
            if first is None:
                return
            if self.text_column not in first:
                _column(list(first), self.text_column, "text_column", self.path)
            rows = itertools.chain([first], rows)
        else:
            reader = csv.DictReader(f, delimiter="," if self.format == "csv" else "\t")
            columns = list(reader.fieldnames or [])
            _column(columns, self.text_column, "text_column", self.path)
            rows = _checked_rows(reader, columns, self.path)
        for i, row in enumerate(rows):
            text = row.get(self.text_column)
            if not isinstance(text, str):
                what = "missing" if is_missing(text) else f"a {type(text).__name__}"
                raise ValueError(f"{self.path.name} row {i}: {self.text_column!r} is {what}, "
                                 f"not a string; every row needs a text.")
            yield text


# Python's csv refuses fields over 131,072 characters by default: long documents (a book
# chapter, a legal text) are real texts, so the limit is the file limit's.
_MAX_FIELD = 2**31 - 1


def _checked_rows(reader, columns, path):
    if csv.field_size_limit() < _MAX_FIELD:
        csv.field_size_limit(_MAX_FIELD)
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as err:
            raise ValueError(f"{path.name} line {reader.line_num}: not valid "
                             f"{'CSV' if reader.reader.dialect.delimiter == ',' else 'TSV'} "
                             f"({err}); check the quoting.") from None
        if None in row.values() or None in row:
            raise ValueError(
                f"{path.name} line {reader.line_num}: expected {len(columns)} fields "
                f"({columns}), found a different number; check the delimiter and quoting.")
        yield row


def _iter_jsonl(lines, path):
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path.name} line {lineno} is not valid JSON: {err.msg}.") from None
        if not isinstance(row, dict):
            raise ValueError(
                f"{path.name} line {lineno} is a JSON {type(row).__name__}, not an object; "
                f"each line must be an object such as {{\"text\": ..., \"label\": ...}}.")
        yield row
