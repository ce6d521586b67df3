"""The catalogue of known data sets and ``load_dataset``."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.utils import Bunch

from hybridnlp.datasets._paths import bundled_text, candidate_dirs, find_data_dir
from hybridnlp.datasets._readers import READERS
from hybridnlp.exceptions import DataNotFoundError

__all__ = ["DATASETS", "DatasetInfo", "list_datasets", "load_dataset"]

SPLIT_ALIASES = {"valid": "dev", "validation": "dev", "val": "dev"}


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is and where its files are."""

    name: str
    folder: str  # folder under the bundled data or the data directory
    task: str  # "classification", "regression", "language_modeling", "translation", ...
    splits: tuple[str, ...]  # () when the protocol is cross-validation over the whole set
    bundled: bool
    files: tuple[str, ...] = ()  # files required in the data directory (not bundled sets)
    description: str = ""
    texts_of: str = ""  # the collection its sentences come from, when another set shares them

    @property
    def collection(self) -> str:
        """Sets of one collection may share texts: SST's sentences are MR's Rotten Tomatoes
        snippets, Subj's subjective half comes from the same snippets; TREC and TREC fine
        are one set."""
        return self.texts_of or self.folder


DATASETS = {
    info.name: info
    for info in [
        DatasetInfo("mr", "mr", "classification", (), True,
                    description="MR sentence polarity (Pang & Lee 2005), 10,662 sentences",
                    texts_of="rotten tomatoes"),
        DatasetInfo("subj", "subj", "classification", (), True,
                    description="Subjectivity (Pang & Lee 2004), 10,000 sentences",
                    texts_of="rotten tomatoes"),
        DatasetInfo("trec", "trec", "classification", ("train", "test"), True,
                    description="TREC question type, 6 coarse classes (Li & Roth 2002)"),
        DatasetInfo("trec_fine", "trec", "classification", ("train", "test"), True,
                    description="TREC question type, 50 fine classes (Li & Roth 2002)"),
        DatasetInfo("sst2", "sst2", "classification", ("train", "dev", "test"), True,
                    description="SST-2 sentence level, Kim 2014 split (Socher et al. 2013)",
                    texts_of="rotten tomatoes"),
        DatasetInfo("sst2_phrases", "sst2_glue", "classification", ("train", "dev", "test"),
                    False, ("train.tsv",),
                    description="SST-2 trained on phrases, as Kim 2014: 67,349 GLUE train "
                                "phrases, the sentence-level dev and test of sst2",
                    texts_of="rotten tomatoes"),
        DatasetInfo("sst5", "sst5", "classification", ("train", "dev", "test"), True,
                    description="SST-1 fine grained, 5 classes (Socher et al. 2013)",
                    texts_of="rotten tomatoes"),
        DatasetInfo("tinyshakespeare", "tinyshakespeare", "language_modeling",
                    ("train", "dev"), True,
                    description="Tiny Shakespeare, 1,115,394 characters (char-rnn)"),
        DatasetInfo("imdb", "imdb", "classification", ("train", "test"), False,
                    ("aclImdb_labeled_steven66.tar.gz",),
                    description="IMDB movie reviews (Maas et al. 2011), 25,000 / 25,000"),
        DatasetInfo("20newsgroups", "20newsgroups", "classification", ("train", "test"), False,
                    ("20news-bydate_julenminer.tar.gz",),
                    description="20 Newsgroups by date, 11,314 / 7,532 (Lang 1995)"),
        DatasetInfo("wikitext2", "wikitext2", "language_modeling", ("train", "dev", "test"),
                    False, ("train.txt.gz", "valid.txt", "test.txt"),
                    description="WikiText-2 tokenised (Merity et al. 2017)"),
        DatasetInfo("multi30k", "multi30k", "translation", ("train", "dev", "test"), False,
                    tuple(f"{s}.{lang}.gz" for s in ("train", "val", "test_2016_flickr")
                          for lang in ("en", "de")),
                    description="Multi30k En-De, test = test2016 flickr (Elliott et al. 2016)"),
        DatasetInfo("chnsenticorp", "chnsenticorp", "classification", ("train", "dev", "test"),
                    False, ("train.tsv.gz", "dev.tsv", "test.tsv"),
                    description="ChnSentiCorp Chinese review sentiment, 9,600 / 1,200 / 1,200"),
        DatasetInfo("thucnews_titles", "thucnews_titles", "classification", ("dev", "test"),
                    False, ("class.txt", "dev.txt", "test.txt"),
                    description="THUCNews headlines, 10 classes, 10,000 dev / 10,000 test "
                                "(no train split here)"),
        DatasetInfo("squad", "squad", "question_answering", ("train", "dev"), False,
                    ("train.json.gz", "dev.json.gz"),
                    description="SQuAD v1.1 pieces: 3,807 training questions (11 articles), "
                                "4,961 dev questions over 913 passages (24 articles)"),
        DatasetInfo("cmrc2018", "cmrc2018", "question_answering", ("train", "dev"), False,
                    ("trial.json.gz", "dev.json.gz"),
                    description="CMRC 2018 Chinese span extraction (Cui et al. 2019): train = "
                                "the 1,002-question trial set, 3,219 dev questions"),
        DatasetInfo("drcd", "drcd", "question_answering", ("dev",), False, ("dev.json.gz",),
                    description="DRCD traditional Chinese span extraction (Shao et al. "
                                "2018), 3,524 dev questions"),
        DatasetInfo("tatoeba_cmn_eng", "tatoeba_cmn_eng", "translation",
                    ("train", "dev", "test"), False,
                    ("train.tsv.gz", "dev.tsv.gz", "test.tsv.gz"),
                    description="Tatoeba English-Chinese sentence pairs, 24,728 / 1,444 / "
                                "1,520"),
        DatasetInfo("emobank", "emobank", "regression", ("train", "dev"), False,
                    ("emobank_train_dev.csv.gz",),
                    description="EmoBank sentences (Buechel & Hahn 2017), valence, arousal "
                                "and dominance in [1, 5]: 8,062 train / 1,000 dev"),
        DatasetInfo("stsb", "stsb", "regression", ("train", "dev"), False,
                    ("sts-train.csv.gz", "sts-dev.csv.gz"),
                    description="STS Benchmark sentence pairs (Cer et al. 2017), similarity "
                                "in [0, 5]: 5,749 train / 1,500 dev"),
        DatasetInfo("goemotions", "goemotions", "multilabel", ("train", "dev", "test"), False,
                    ("train.tsv.gz", "dev.tsv.gz", "test.tsv.gz", "emotions.txt"),
                    description="GoEmotions Reddit comments (Demszky et al. 2020), 28 "
                                "emotions, 1-5 per text: 43,410 / 5,426 / 5,427"),
        DatasetInfo("duee_event_types", "duee_event_types", "multilabel", ("train",), False,
                    ("train.txt.gz", "event_type.json"),
                    description="DuEE 1.0 Chinese news sentences, their event types (65, "
                                "1-5 per sentence): the 11,958 training sentences"),
        DatasetInfo("hongloumeng", "hongloumeng", "language_modeling", ("train", "dev"), False,
                    ("hongloumeng.utf8.txt.gz",),
                    description="红楼梦 (Dream of the Red Chamber), characters; first 90% "
                                "train, last 10% dev"),
    ]
}


def _check_name(name: str) -> DatasetInfo:
    if not isinstance(name, str) or name.lower() not in DATASETS:
        close = difflib.get_close_matches(str(name).lower(), DATASETS, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown data set name={name!r}; known data sets are "
            f"{', '.join(sorted(DATASETS))}.{hint} For your own files use load_texts(path)."
        )
    return DATASETS[name.lower()]


def _check_split(info: DatasetInfo, split: str | None) -> str | None:
    if split is None:
        return None
    if not info.splits:
        raise ValueError(
            f"{info.name} has no predefined splits (its protocol is cross-validation over the "
            f"whole set); got split={split!r}. Use split=None."
        )
    canonical = SPLIT_ALIASES.get(split, split)
    if canonical not in info.splits:
        raise ValueError(
            f"unknown split={split!r} for {info.name}; allowed: "
            f"{', '.join(repr(s) for s in info.splits)} or None for all of them."
        )
    return canonical


@lru_cache(maxsize=8)
def _read(name: str, data_dir: str | None) -> dict:
    return READERS[name](Path(data_dir) if data_dir else None)


def _descr(info: DatasetInfo, data_dir: Path | None) -> str:
    if info.bundled:
        return bundled_text(f"{info.folder}/PROVENANCE.md")
    provenance = data_dir / "PROVENANCE.md"
    return provenance.read_text("utf-8") if provenance.is_file() else info.description


def load_dataset(
    name: str, split: str | None = None, *, data_home: str | os.PathLike | None = None
) -> Bunch:
    """Load a data set as a scikit-learn ``Bunch``.

    Parameters
    ----------
    name : str
        One of ``mr``, ``subj``, ``trec``, ``trec_fine``, ``sst2``, ``sst5``, ``tinyshakespeare``
        (bundled with the package), ``imdb``, ``20newsgroups``, ``wikitext2``, ``multi30k``,
        ``sst2_phrases``, ``squad`` (questions, ``target`` their reference answers, and
        ``passages``, ``passage_index``, ``answer_starts``, ``ids``; the same for the Chinese
        ``cmrc2018`` and ``drcd``), the English-Chinese pairs ``tatoeba_cmn_eng``, and the
        Chinese ``chnsenticorp``, ``thucnews_titles`` and ``hongloumeng``, and ``emobank``
        (regression: ``target`` (n, 3) valence, arousal, dominance), ``stsb`` (``data`` sentence
        pairs ``(a, b)``, ``target`` their similarity in [0, 5]), the multi-label
        ``goemotions`` and ``duee_event_types`` (``target`` an (n, n_labels) 0/1 indicator
        matrix over ``target_names``) (read from the data
        directory; ``sst2_phrases`` trains on GLUE's
        67,349 SST-2 phrases, as Kim 2014 did, and tests on ``sst2``'s sentences).
    split : str or None, default=None
        ``"train"``, ``"dev"`` (aliases ``"valid"``, ``"validation"``) or ``"test"`` where the data
        set has that split. None returns every split concatenated, with ``split`` naming each
        example's split (for MR and Subj, whose protocol is cross-validation, the only choice).
    data_home : path, optional
        Folder holding ``<name>/`` for the sets that are not bundled; otherwise the
        ``HYBRIDNLP_DATA`` environment variable, then ``~/hybridnlp_data``.

    Returns
    -------
    Bunch
        ``data`` (list of str; IMDB's HTML line breaks ``<br />`` read as newlines),
        ``target`` (int ndarray indexing ``target_names`` for classification; the German
        sentences for ``multi30k``; None for language modelling),
        ``target_names``, ``DESCR`` (the PROVENANCE.md text), ``name`` and ``split``.

    Examples
    --------
    >>> mr = load_dataset("mr")
    >>> len(mr.data), mr.target_names
    (10662, ['neg', 'pos'])
    """
    info = _check_name(name)
    split = _check_split(info, split)
    data_dir = None
    if not info.bundled:
        data_dir = find_data_dir(info.folder, list(info.files), data_home)
    raw = _read(info.name, str(data_dir) if data_dir else None)
    from sklearn.utils import Bunch  # imported here: `hybridnlp datasets` needs no sklearn

    bunch = Bunch(
        target_names=list(raw["target_names"]),
        DESCR=_descr(info, data_dir),
        name=info.name,
        task=info.task,
    )
    for key in ("source_lang", "target_lang"):
        if key in raw:
            bunch[key] = raw[key]
    if "extras" in raw and split is None:
        raise ValueError(f"{info.name} has no single set of passages for all its splits; pass "
                         f"split= one of {', '.join(repr(s) for s in info.splits)}.")
    if split is not None or not info.splits:
        data, target = raw["splits"][split]
        for key, value in raw.get("extras", {}).get(split, {}).items():
            bunch[key] = value.copy() if isinstance(value, np.ndarray) else list(value)
        bunch.update(data=list(data), target=_copy(target), split=split)
        if "rating" in raw:
            bunch.rating = raw["rating"][split].copy()
        return bunch
    if "whole" in raw:  # a corpus whose splits are slices of one text
        data, target = raw["whole"]
        bunch.update(data=list(data), target=target, split=None)
        return bunch
    data, targets, names = [], [], []
    for s in info.splits:
        texts, target = raw["splits"][s]
        data.extend(texts)
        names.extend([s] * len(texts))
        targets.append(target)
    target = None if targets[0] is None else np.concatenate(targets)
    bunch.update(data=data, target=target, split=np.array(names))
    if "rating" in raw:
        bunch.rating = np.concatenate([raw["rating"][s] for s in info.splits])
    return bunch


def _copy(target):
    return None if target is None else target.copy()


def list_datasets(data_home: str | os.PathLike | None = None) -> list[dict]:
    """Every known data set: name, task, splits, bundled or not, and whether it loads now."""
    rows = []
    for info in DATASETS.values():
        if info.bundled:
            available, where = True, "bundled"
        else:
            try:
                where = str(find_data_dir(info.folder, list(info.files), data_home))
                available = True
            except DataNotFoundError:
                where = "not found in " + ", ".join(str(d) for d in candidate_dirs(data_home))
                available = False
        rows.append({
            "name": info.name, "task": info.task, "splits": list(info.splits),
            "bundled": info.bundled, "available": available, "location": where,
            "description": info.description,
        })
    return rows
