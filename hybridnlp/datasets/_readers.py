"""One reader per data set. Each returns a dict of split name -> (texts, targets) plus metadata.

Decoding follows each data set's PROVENANCE.md: MR and Subj are cp1252, TREC is latin-1, the rest
UTF-8; lines are split on "\\n" only.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import numpy as np

from hybridnlp.datasets._paths import bundled_text, decode_lines, read_bundled
from hybridnlp.utils.io import read_file_bytes

__all__ = ["READERS"]


def _strip(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines]


def read_mr(data_dir: Path | None) -> dict:
    neg = _strip(decode_lines(read_bundled("mr/rt-polarity.neg.gz"), "cp1252"))
    pos = _strip(decode_lines(read_bundled("mr/rt-polarity.pos.gz"), "cp1252"))
    target = np.array([0] * len(neg) + [1] * len(pos))
    return {"splits": {None: (neg + pos, target)}, "target_names": ["neg", "pos"]}


def read_subj(data_dir: Path | None) -> dict:
    subj = _strip(decode_lines(read_bundled("subj/subj.subjective.gz"), "cp1252"))
    obj = _strip(decode_lines(read_bundled("subj/subj.objective.gz"), "cp1252"))
    target = np.array([0] * len(subj) + [1] * len(obj))
    return {"splits": {None: (subj + obj, target)}, "target_names": ["subjective", "objective"]}


def _read_trec_raw() -> dict[str, list[tuple[str, str]]]:
    """(label "COARSE:fine", question) pairs per split."""
    out = {}
    for split, fname in (("train", "TREC.train"), ("test", "TREC.test")):
        lines = decode_lines(read_bundled(f"trec/{fname}.gz"), "latin-1")
        pairs = []
        for line in lines:
            label, _, question = line.partition(" ")
            pairs.append((label, question.strip()))
        out[split] = pairs
    return out


def _read_trec(fine: bool) -> dict:
    raw = _read_trec_raw()

    def label_of(label: str) -> str:
        return label if fine else label.split(":")[0]

    names = sorted({label_of(label) for pairs in raw.values() for label, _ in pairs})
    index = {name: i for i, name in enumerate(names)}
    splits = {}
    for split, pairs in raw.items():
        texts = [q for _, q in pairs]
        splits[split] = (texts, np.array([index[label_of(label)] for label, _ in pairs]))
    return {"splits": splits, "target_names": names}


def read_trec(data_dir: Path | None) -> dict:
    return _read_trec(fine=False)


def read_trec_fine(data_dir: Path | None) -> dict:
    return _read_trec(fine=True)


def _read_stsa(prefix: str, target_names: list[str]) -> dict:
    splits = {}
    for split in ("train", "dev", "test"):
        lines = decode_lines(read_bundled(f"{prefix}.{split}.gz"), "utf-8")
        labels, texts = [], []
        for line in lines:
            label, _, sentence = line.partition(" ")
            labels.append(int(label))
            texts.append(sentence.strip())
        splits[split] = (texts, np.array(labels))
    return {"splits": splits, "target_names": target_names}


def read_sst2(data_dir: Path | None) -> dict:
    return _read_stsa("sst2/stsa.binary", ["negative", "positive"])


def read_sst2_phrases(data_dir: Path) -> dict:
    """SST-2 with the phrase-level training set, as Kim (2014) trained: GLUE's train.tsv
    (67,349 phrases and sentences of the SST train split, "sentence<TAB>label"), and the
    sentence-level dev and test sets of ``sst2``."""
    lines = decode_lines((data_dir / "train.tsv").read_bytes(), "utf-8")
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise ValueError(f"{data_dir / 'train.tsv'}: expected GLUE's header 'sentence<TAB>label', "
                         f"got {lines[0][:40]!r}; check the file against PROVENANCE.md.")
    texts, labels = [], []
    for line in lines[1:]:
        if line:
            sentence, _, label = line.rpartition("\t")
            texts.append(sentence.strip())
            labels.append(int(label))
    sentences = read_sst2(None)
    sentences["splits"]["train"] = (texts, np.array(labels))
    return sentences


def read_sst5(data_dir: Path | None) -> dict:
    names = ["very negative", "negative", "neutral", "positive", "very positive"]
    return _read_stsa("sst5/stsa.fine", names)


def read_tinyshakespeare(data_dir: Path | None) -> dict:
    text = bundled_text("tinyshakespeare/input.txt.gz", "utf-8")
    cut = int(len(text) * 0.9)  # protocol: first 90% of characters train, last 10% validation
    return {
        "splits": {"train": ([text[:cut]], None), "dev": ([text[cut:]], None)},
        "whole": ([text], None),
        "target_names": [],
    }


def read_wikitext2(data_dir: Path) -> dict:
    splits = {}
    for split, fname in (("train", "train.txt.gz"), ("dev", "valid.txt"), ("test", "test.txt")):
        splits[split] = (decode_lines(_file_bytes(data_dir / fname), "utf-8"), None)
    return {"splits": splits, "target_names": []}


def read_multi30k(data_dir: Path) -> dict:
    splits = {}
    for split, stem in (("train", "train"), ("dev", "val"), ("test", "test_2016_flickr")):
        en = decode_lines(_file_bytes(data_dir / f"{stem}.en.gz"), "utf-8")
        de = decode_lines(_file_bytes(data_dir / f"{stem}.de.gz"), "utf-8")
        if len(en) != len(de):
            raise ValueError(
                f"multi30k {stem}: {len(en)} English and {len(de)} German lines; the files in "
                f"{data_dir} are not line-aligned (check them against PROVENANCE.md)."
            )
        splits[split] = (en, np.array(de, dtype=object))
    return {"splits": splits, "target_names": [], "source_lang": "en", "target_lang": "de"}


_IMDB_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def read_imdb(data_dir: Path) -> dict:
    rows = {"train": [], "test": []}
    with tarfile.open(data_dir / "aclImdb_labeled_steven66.tar.gz", mode="r:gz") as tar:
        for member in tar:
            match = _IMDB_MEMBER.match(member.name)
            if not match or not member.isfile():
                continue
            split, polarity, doc_id, rating = match.groups()
            text = tar.extractfile(member).read().decode("utf-8")
            text = text.replace("<br />", "\n")  # HTML line breaks, markup not words
            rows[split].append((polarity == "pos", int(doc_id), int(rating), text))
    splits, ratings = {}, {}
    for split, items in rows.items():
        items.sort()  # neg before pos, then by id: independent of archive order
        splits[split] = ([t for *_, t in items], np.array([int(p) for p, *_ in items]))
        ratings[split] = np.array([r for _, _, r, _ in items])
    return {"splits": splits, "target_names": ["neg", "pos"], "rating": ratings}


_NEWS_MEMBER = re.compile(r"20news-bydate-(train|test)/([^/]+)/([^/]+)$")


def read_20newsgroups(data_dir: Path) -> dict:
    rows = {"train": [], "test": []}
    with tarfile.open(data_dir / "20news-bydate_julenminer.tar.gz", mode="r:gz") as tar:
        for member in tar:
            match = _NEWS_MEMBER.match(member.name)
            if not match or not member.isfile():
                continue
            split, group, _ = match.groups()
            text = tar.extractfile(member).read().decode("latin-1")
            rows[split].append((group, member.name, text))
    names = sorted({group for items in rows.values() for group, _, _ in items})
    index = {name: i for i, name in enumerate(names)}
    splits = {}
    for split, items in rows.items():
        items.sort()
        splits[split] = ([t for *_, t in items], np.array([index[g] for g, _, _ in items]))
    return {"splits": splits, "target_names": names}


def _file_bytes(path: Path) -> bytes:
    return read_file_bytes(path)


def read_chnsenticorp(data_dir: Path) -> dict:
    """The 9,600 / 1,200 / 1,200 split, TSV with a ``label\ttext_a`` header, as published."""
    splits = {}
    for split, fname in (("train", "train.tsv.gz"), ("dev", "dev.tsv"), ("test", "test.tsv")):
        lines = decode_lines(_file_bytes(data_dir / fname), "utf-8")
        if not lines or lines[0].split("\t") != ["label", "text_a"]:
            raise ValueError(f"chnsenticorp {fname}: the header is not 'label<TAB>text_a'; "
                             f"check the file against {data_dir / 'PROVENANCE.md'}.")
        rows = [line.split("\t", 1) for line in lines[1:] if line]
        splits[split] = ([text for _, text in rows], np.array([int(lab) for lab, _ in rows]))
    return {"splits": splits, "target_names": ["negative", "positive"]}


def read_thucnews_titles(data_dir: Path) -> dict:
    """THUCNews headlines, 10 classes (``class.txt``); only dev and test are here."""
    names = decode_lines(_file_bytes(data_dir / "class.txt"), "utf-8")
    splits = {}
    for split in ("dev", "test"):
        rows = [line.rsplit("\t", 1) for line in
                decode_lines(_file_bytes(data_dir / f"{split}.txt"), "utf-8") if line]
        splits[split] = ([text for text, _ in rows], np.array([int(lab) for _, lab in rows]))
    return {"splits": splits, "target_names": [n.strip() for n in names if n.strip()]}


def read_hongloumeng(data_dir: Path) -> dict:
    """红楼梦 as one text; protocol: the first 90% of characters train, the last 10% dev."""
    text = _file_bytes(data_dir / "hongloumeng.utf8.txt.gz").decode("utf-8")
    cut = int(len(text) * 0.9)
    return {
        "splits": {"train": ([text[:cut]], None), "dev": ([text[cut:]], None)},
        "whole": ([text], None),
        "target_names": [],
    }


def read_squad(data_dir: Path) -> dict:
    """SQuAD v1.1 pieces (train: 11 articles, dev: 24): questions, answers and passages."""
    return _squad_splits(data_dir, {"train": "train.json.gz", "dev": "dev.json.gz"})


def _squad_splits(data_dir: Path, files: dict[str, str], repair: bool = False) -> dict:
    """SQuAD-format splits: questions, answers and passages (``repair``: CMRC 2018's faults
    mended, as :func:`~hybridnlp.datasets.squad.load_squad` says)."""
    from hybridnlp.datasets.squad import load_squad

    splits, extras = {}, {}
    for split, name in files.items():
        b = load_squad(data_dir / name, repair=repair)
        target = np.empty(len(b.target), dtype=object)
        target[:] = b.target
        splits[split] = (b.data, target)
        extras[split] = {k: b[k] for k in ("answer_starts", "ids", "passages", "passage_index",
                                           "titles")}
    return {"splits": splits, "extras": extras, "target_names": []}


def read_cmrc2018(data_dir: Path) -> dict:
    """CMRC 2018: ``train`` is the 1,002-question trial set (the official training set is not
    in the data directory), ``dev`` the 3,219 dev questions; offsets counted as UTF-16
    repaired."""
    return _squad_splits(data_dir, {"train": "trial.json.gz", "dev": "dev.json.gz"}, True)


def read_drcd(data_dir: Path) -> dict:
    return _squad_splits(data_dir, {"dev": "dev.json.gz"}, True)


def read_tatoeba_cmn_eng(data_dir: Path) -> dict:
    """Tatoeba English-Chinese pairs: ``english<TAB>chinese<TAB>attribution`` lines."""
    splits = {}
    for split in ("train", "dev", "test"):
        rows = [line.split("\t") for line in
                decode_lines(_file_bytes(data_dir / f"{split}.tsv.gz"), "utf-8") if line]
        bad = next((i for i, r in enumerate(rows) if len(r) < 2), None)
        if bad is not None:
            raise ValueError(f"tatoeba_cmn_eng {split}.tsv.gz line {bad + 1} has no Chinese "
                             f"column; check the file against {data_dir / 'PROVENANCE.md'}.")
        splits[split] = ([r[0] for r in rows], np.array([r[1] for r in rows], dtype=object))
    return {"splits": splits, "target_names": [], "source_lang": "en", "target_lang": "zh"}


def read_emobank(data_dir: Path) -> dict:
    """EmoBank: CSV ``id,split,V,A,D,text``; the authors' train and dev split, targets the
    (valence, arousal, dominance) rows, each in [1, 5]."""
    import csv
    import io

    text = _file_bytes(data_dir / "emobank_train_dev.csv.gz").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or rows[0] != ["id", "split", "V", "A", "D", "text"]:
        raise ValueError(f"emobank emobank_train_dev.csv.gz: the header is not "
                         f"'id,split,V,A,D,text'; check the file against "
                         f"{data_dir / 'PROVENANCE.md'}.")
    splits = {}
    for split in ("train", "dev"):
        part = [r for r in rows[1:] if len(r) == 6 and r[1] == split]
        splits[split] = ([r[5] for r in part],
                         np.array([[float(r[2]), float(r[3]), float(r[4])] for r in part]))
    return {"splits": splits, "target_names": ["valence", "arousal", "dominance"]}


def read_goemotions(data_dir: Path) -> dict:
    """GoEmotions: TSV ``text<TAB>label ids<TAB>comment id``, quote-aware (PROVENANCE.md);
    targets the (n, 28) indicator matrix over ``emotions.txt``."""
    import csv
    import io

    names = (data_dir / "emotions.txt").read_text("utf-8").split()
    splits = {}
    for split in ("train", "dev", "test"):
        text = _file_bytes(data_dir / f"{split}.tsv.gz").decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))
        bad = next((i for i, r in enumerate(rows) if len(r) != 3), None)
        if bad is not None:
            raise ValueError(f"goemotions {split}.tsv.gz line {bad + 1} has {len(rows[bad])} "
                             f"fields, expected 3; check the file against "
                             f"{data_dir / 'PROVENANCE.md'}.")
        target = np.zeros((len(rows), len(names)), dtype=np.int8)
        for i, row in enumerate(rows):
            target[i, [int(j) for j in row[1].split(",")]] = 1
        splits[split] = ([r[0] for r in rows], target)
    return {"splits": splits, "target_names": names}


def read_duee_event_types(data_dir: Path) -> dict:
    """DuEE 1.0 event types (the visible training part): ``TYPES<space>sentence`` lines, the
    types joined by ``|``; targets the (n, 65) indicator matrix over ``event_type.json``."""
    import json

    names = json.loads((data_dir / "event_type.json").read_text("utf-8"))
    index = {name: j for j, name in enumerate(names)}
    texts, rows = [], []
    for number, line in enumerate(decode_lines(_file_bytes(data_dir / "train.txt.gz"),
                                               "utf-8"), 1):
        if not line:
            continue
        types, _, sentence = line.partition(" ")
        unknown = [t for t in types.split("|") if t not in index]
        if not sentence or unknown:
            raise ValueError(f"duee_event_types train.txt.gz line {number}: expected 'TYPES "
                             f"sentence' with types from event_type.json, got {line[:40]!r}.")
        texts.append(sentence)
        rows.append([index[t] for t in types.split("|")])
    target = np.zeros((len(texts), len(names)), dtype=np.int8)
    for i, row in enumerate(rows):
        target[i, row] = 1
    return {"splits": {"train": (texts, target)}, "target_names": names}


def read_stsb(data_dir: Path) -> dict:
    """STS Benchmark: TAB-separated ``genre, file, year, id, score, sentence1, sentence2``
    (fields after the 7th ignored; no quoting: PROVENANCE.md); ``data`` the sentence pairs,
    ``target`` the similarity in [0, 5]."""
    splits = {}
    for split, name in (("train", "sts-train.csv.gz"), ("dev", "sts-dev.csv.gz")):
        pairs, scores = [], []
        for number, line in enumerate(decode_lines(_file_bytes(data_dir / name), "utf-8"), 1):
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) < 7:
                raise ValueError(f"stsb {name} line {number} has {len(fields)} fields, expected "
                                 f"at least 7; check the file against "
                                 f"{data_dir / 'PROVENANCE.md'}.")
            pairs.append((fields[5], fields[6]))
            scores.append(float(fields[4]))
        splits[split] = (pairs, np.asarray(scores))
    return {"splits": splits, "target_names": ["similarity"]}


READERS = {
    "mr": read_mr,
    "subj": read_subj,
    "trec": read_trec,
    "trec_fine": read_trec_fine,
    "sst2": read_sst2,
    "sst2_phrases": read_sst2_phrases,
    "sst5": read_sst5,
    "tinyshakespeare": read_tinyshakespeare,
    "wikitext2": read_wikitext2,
    "multi30k": read_multi30k,
    "imdb": read_imdb,
    "20newsgroups": read_20newsgroups,
    "chnsenticorp": read_chnsenticorp,
    "thucnews_titles": read_thucnews_titles,
    "hongloumeng": read_hongloumeng,
    "squad": read_squad,
    "cmrc2018": read_cmrc2018,
    "drcd": read_drcd,
    "tatoeba_cmn_eng": read_tatoeba_cmn_eng,
    "emobank": read_emobank,
    "goemotions": read_goemotions,
    "stsb": read_stsb,
    "duee_event_types": read_duee_event_types,
}
