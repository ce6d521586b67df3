import collections
import hashlib
import re
from importlib import resources

import numpy as np
import pytest
from conftest import requires_data_dir

from hybridnlp.datasets import DATASETS, list_datasets, load_dataset
from hybridnlp.datasets._paths import read_bundled
from hybridnlp.exceptions import DataNotFoundError

BUNDLED = resources.files("hybridnlp.datasets").joinpath("data")


def bundled_files():
    for folder in sorted(p for p in BUNDLED.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.name.endswith(".gz"):
                yield f"{folder.name}/{f.name}"


@pytest.mark.parametrize("relpath", list(bundled_files()))
def test_bundled_file_matches_provenance_sha256(relpath):
    folder, fname = relpath.split("/")
    provenance = BUNDLED.joinpath(folder, "PROVENANCE.md").read_text("utf-8")
    row = re.search(rf"\| `{re.escape(fname[:-3])}` \|.*`([0-9a-f]{{64}})` \|", provenance)
    assert row, f"{fname[:-3]} has no sha256 row in {folder}/PROVENANCE.md"
    assert hashlib.sha256(read_bundled(relpath)).hexdigest() == row.group(1)


def test_every_bundled_set_has_provenance_and_citation():
    index = BUNDLED.joinpath("PROVENANCE.md").read_text("utf-8")
    for info in DATASETS.values():
        if info.bundled:
            descr = load_dataset(info.name).DESCR
            assert "citation" in descr.lower() and "license" in descr.lower(), info.name
            assert f"`{info.folder}/`" in index


def counts(target):
    return dict(sorted(collections.Counter(target.tolist()).items()))


def test_mr_counts_and_decoding():
    mr = load_dataset("mr")
    assert len(mr.data) == 10662
    assert counts(mr.target) == {0: 5331, 1: 5331}
    assert mr.target_names == ["neg", "pos"]
    assert mr.split is None and mr.task == "classification"
    assert mr.data[0] == "simplistic , silly and tedious ."
    joined = "".join(mr.data)
    # cp1252, not latin-1: 0x85/0x91/0x96/0x97 become real punctuation, never C1 controls.
    assert "\x85" not in joined and "\u0085" not in joined and "\x97" not in joined
    assert "é" in joined and "…" in joined and "—" in joined
    assert all(not t.endswith(" ") for t in mr.data)


def test_subj_counts():
    subj = load_dataset("subj")
    assert len(subj.data) == 10000
    assert counts(subj.target) == {0: 5000, 1: 5000}
    assert subj.target_names == ["subjective", "objective"]
    assert "\x85" not in "".join(subj.data)


def test_trec_coarse_and_fine():
    train, test = load_dataset("trec", split="train"), load_dataset("trec", split="test")
    assert (len(train.data), len(test.data)) == (5452, 500)
    names = train.target_names
    assert names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    expected_train = {"DESC": 1162, "ENTY": 1250, "ABBR": 86, "HUM": 1223, "LOC": 835, "NUM": 896}
    expected_test = {"DESC": 138, "ENTY": 94, "ABBR": 9, "HUM": 65, "LOC": 81, "NUM": 113}
    assert {names[k]: v for k, v in counts(train.target).items()} == expected_train
    assert {names[k]: v for k, v in counts(test.target).items()} == expected_test
    assert train.data[0] == "How did serfdom develop in and then leave Russia ?"
    assert "sister\u00f0city" in train.data[65]  # the one 0xF0 byte, decoded as latin-1
    fine = load_dataset("trec_fine", split="train")
    assert len(fine.target_names) == 50 and len(np.unique(fine.target)) == 50
    assert fine.target_names[fine.target[0]] == "DESC:manner"
    assert len(np.unique(load_dataset("trec_fine", split="test").target)) == 42


@pytest.mark.parametrize(
    "name, expected",
    [
        ("sst2", {"train": {0: 3310, 1: 3610}, "dev": {0: 428, 1: 444}, "test": {0: 912, 1: 909}}),
        ("sst5", {"train": {0: 1092, 1: 2218, 2: 1624, 3: 2322, 4: 1288},
                  "dev": {0: 139, 1: 289, 2: 229, 3: 279, 4: 165},
                  "test": {0: 279, 1: 633, 2: 389, 3: 510, 4: 399}}),
    ],
)
def test_sst_splits(name, expected):
    for split, label_counts in expected.items():
        bunch = load_dataset(name, split=split)
        assert counts(bunch.target) == label_counts
        assert len(bunch.data) == sum(label_counts.values())
        assert bunch.split == split
    assert load_dataset(name, split="valid").data == load_dataset(name, split="dev").data


def test_split_none_concatenates_with_split_names():
    whole = load_dataset("sst2")
    assert len(whole.data) == 6920 + 872 + 1821
    assert whole.split.tolist() == ["train"] * 6920 + ["dev"] * 872 + ["test"] * 1821
    test_part = [t for t, s in zip(whole.data, whole.split) if s == "test"]
    assert test_part == load_dataset("sst2", split="test").data
    assert whole.data[0].startswith("a stirring , funny and finally transporting")


def test_tinyshakespeare():
    whole = load_dataset("tinyshakespeare").data[0]
    train = load_dataset("tinyshakespeare", split="train").data[0]
    dev = load_dataset("tinyshakespeare", split="dev").data[0]
    assert len(whole) == 1115394 and len(set(whole)) == 65
    assert whole.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert train + dev == whole and len(train) == 1003854
    assert load_dataset("tinyshakespeare").target is None


def test_returned_lists_are_copies():
    a = load_dataset("mr")
    a.data[0] = "changed"
    a.target[0] = 1
    b = load_dataset("mr")
    assert b.data[0] == "simplistic , silly and tedious ." and b.target[0] == 0


def test_unknown_name_suggests():
    message = (
        "unknown data set name='rm'; known data sets are 20newsgroups, chnsenticorp, cmrc2018, "
        "drcd, duee_event_types, emobank, goemotions, hongloumeng, imdb, mr, multi30k, squad, "
        "sst2, sst2_phrases, sst5, stsb, subj, "
        "tatoeba_cmn_eng, thucnews_titles, tinyshakespeare, trec, trec_fine, wikitext2. Did you "
        "mean 'mr'? For your own files use "
        "load_texts(path)."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        load_dataset("rm")


def test_split_errors():
    message = (
        "mr has no predefined splits (its protocol is cross-validation over the whole set); "
        "got split='train'. Use split=None."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        load_dataset("mr", split="train")
    message = (
        "unknown split='tset' for sst2; allowed: 'train', 'dev', 'test' or None for all of them."
    )
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        load_dataset("sst2", split="tset")


def test_missing_data_dir_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr("hybridnlp.datasets._paths.CHECKOUT_DATA", tmp_path / "no-checkout")
    monkeypatch.delenv("HYBRIDNLP_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("imdb", data_home=tmp_path)
    message = str(info.value)
    assert message.startswith("data set 'imdb' is not bundled and was not found; searched ")
    assert str(tmp_path / "imdb") in message
    assert str(tmp_path / "home" / "hybridnlp_data" / "imdb") in message
    assert "load_dataset('imdb', data_home=PATH)" in message and "HYBRIDNLP_DATA" in message
    assert isinstance(info.value, FileNotFoundError)


def test_list_datasets(tmp_path, monkeypatch):
    monkeypatch.setattr("hybridnlp.datasets._paths.CHECKOUT_DATA", tmp_path / "no-checkout")
    monkeypatch.delenv("HYBRIDNLP_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    rows = {row["name"]: row for row in list_datasets(data_home=tmp_path)}
    assert set(rows) == set(DATASETS)
    assert rows["mr"]["available"] and rows["mr"]["location"] == "bundled"
    assert not rows["imdb"]["available"] and rows["imdb"]["location"].startswith("not found in")


def test_a_source_checkout_finds_the_shared_data_beside_it(tmp_path, monkeypatch):
    """A plain shell in a fresh clone (no HYBRIDNLP_DATA) still finds ../shared/data."""
    from hybridnlp.datasets._paths import candidate_dirs

    monkeypatch.delenv("HYBRIDNLP_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    shared = tmp_path / "shared" / "data"
    (shared / "multi30k").mkdir(parents=True)
    monkeypatch.setattr("hybridnlp.datasets._paths.CHECKOUT_DATA", shared)
    assert candidate_dirs(None) == [tmp_path / "hybridnlp_data", shared]
    assert candidate_dirs(tmp_path / "mine")[0] == tmp_path / "mine"


@requires_data_dir
def test_imdb():
    imdb = load_dataset("imdb")
    assert collections.Counter(imdb.split.tolist()) == {"train": 25000, "test": 25000}
    train = load_dataset("imdb", split="train")
    assert counts(train.target) == {0: 12500, 1: 12500}
    assert counts(train.rating[train.target == 0]) == {1: 5100, 2: 2284, 3: 2420, 4: 2696}
    assert counts(train.rating[train.target == 1]) == {7: 2496, 8: 3009, 9: 2263, 10: 4732}
    # the reviews' HTML line breaks (29,200 reviews have them) are read as newlines
    assert sum("\n" in t for t in imdb.data) == 29200
    assert not any("<br />" in t for t in imdb.data)


@requires_data_dir
def test_sst2_phrases_trains_on_glue_phrases_and_tests_on_sst2_sentences():
    train = load_dataset("sst2_phrases", split="train")
    assert len(train.data) == 67349 and counts(train.target) == {0: 29780, 1: 37569}
    assert train.data[0] == "hide new secretions from the parental units"  # GLUE's trailing space
    assert train.target_names == load_dataset("sst2").target_names
    for split in ("dev", "test"):
        phrases, sentences = load_dataset("sst2_phrases", split=split), load_dataset("sst2", split)
        assert phrases.data == sentences.data
        assert phrases.target.tolist() == sentences.target.tolist()
    # no test sentence is a training phrase, but one three-word question
    assert set(load_dataset("sst2", "test").data) & set(train.data) == {"what 's next ?"}
    assert DATASETS["sst2_phrases"].collection == DATASETS["sst2"].collection


def test_sst2_phrases_refuses_a_file_without_glue_header(tmp_path):
    folder = tmp_path / "sst2_glue"
    folder.mkdir()
    (folder / "train.tsv").write_text("a fine film\t1\n", encoding="utf-8")
    message = (f"{folder / 'train.tsv'}: expected GLUE's header 'sentence<TAB>label', got "
               f"'a fine film\\t1'; check the file against PROVENANCE.md.")
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        load_dataset("sst2_phrases", data_home=tmp_path)


@requires_data_dir
def test_20newsgroups():
    train = load_dataset("20newsgroups", split="train")
    test = load_dataset("20newsgroups", split="test")
    assert (len(train.data), len(test.data)) == (11314, 7532)
    assert len(train.target_names) == 20 and train.target_names[0] == "alt.atheism"
    by_name = {train.target_names[k]: v for k, v in counts(train.target).items()}
    assert by_name["alt.atheism"] == 480 and by_name["talk.religion.misc"] == 377
    assert counts(test.target)[19] == 251


@requires_data_dir
def test_wikitext2():
    expected = {"train": (36718, 2088628), "dev": (3760, 217646), "test": (4358, 245569)}
    for split, (n_lines, n_tokens) in expected.items():
        lines = load_dataset("wikitext2", split=split).data
        assert len(lines) == n_lines
        assert sum(len(line.split()) + 1 for line in lines) == n_tokens  # one <eos> per line
    assert load_dataset("wikitext2", split="train").data[1] == " = Valkyria Chronicles III = "


@requires_data_dir
def test_multi30k_pairs():
    sizes = {"train": 29000, "dev": 1014, "test": 1000}
    for split, n in sizes.items():
        pairs = load_dataset("multi30k", split=split)
        assert len(pairs.data) == len(pairs.target) == n
    train = load_dataset("multi30k", split="train")
    assert train.data[0] == "Two young, White males are outside near many bushes."
    assert train.target[0] == "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."
    assert (train.source_lang, train.target_lang) == ("en", "de")


@requires_data_dir
def test_the_chinese_sets_load_by_name_as_their_provenance_describes():
    senti = {s: load_dataset("chnsenticorp", split=s) for s in ("train", "dev", "test")}
    assert {s: len(b.data) for s, b in senti.items()} == {"train": 9600, "dev": 1200,
                                                          "test": 1200}
    assert counts(senti["train"].target) == {0: 4801, 1: 4799}
    assert counts(senti["test"].target) == {0: 592, 1: 608}
    assert senti["train"].data[0].startswith("选择珠江花园的原因就是方便")
    assert senti["dev"].data[0].startswith("這間酒店環境和服務態度")  # traditional characters
    assert senti["train"].target_names == ["negative", "positive"]
    news = load_dataset("thucnews_titles", split="dev")
    assert len(news.data) == 10000 and len(news.target_names) == 10
    assert news.target_names[:3] == ["finance", "realty", "stocks"]
    assert news.data[0] == "体验2D巅峰 倚天屠龙记十大创新概览" and news.target[0] == 8
    with pytest.raises(ValueError, match="unknown split='train' for thucnews_titles"):
        load_dataset("thucnews_titles", split="train")
    book = load_dataset("hongloumeng")
    train, dev = load_dataset("hongloumeng", "train"), load_dataset("hongloumeng", "dev")
    assert train.data[0] + dev.data[0] == book.data[0] and "贾宝玉" in book.data[0]
    assert len(train.data[0]) == int(len(book.data[0]) * 0.9)


@requires_data_dir
def test_chinese_reading_and_translation_sets_load_by_name():
    """CMRC 2018 (its trial set as train; offsets it counts as UTF-16 repaired, its empty
    questions left out), DRCD and the Tatoeba English-Chinese pairs."""
    dev = load_dataset("cmrc2018", split="dev")
    assert len(dev.data) == 3219 and dev.target[0] == ["光荣和ω-force"] * 3
    for i, (refs, starts) in enumerate(zip(dev.target, dev.answer_starts, strict=True)):
        p = dev.passages[dev.passage_index[i]]
        assert starts[0] >= 0 and p[starts[0]:starts[0] + len(refs[0])] == refs[0]
    assert sum(s < 0 for st in dev.answer_starts for s in st) == 193  # texts not in the passage
    assert len(load_dataset("cmrc2018", split="train").data) == 1000  # 1,002 less 2 empty
    drcd = load_dataset("drcd", split="dev")
    assert len(drcd.data) == 3524 and drcd.target[0] == ["歐洲", "歐洲"]
    pairs = load_dataset("tatoeba_cmn_eng", split="test")
    assert len(pairs.data) == len(pairs.target) == 1520
    assert (pairs.source_lang, pairs.target_lang) == ("en", "zh")
