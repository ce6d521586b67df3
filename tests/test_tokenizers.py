import pickle
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridnlp.datasets import load_dataset
from hybridnlp.text import BPETokenizer, CharTokenizer, Tokenizer, WordVocabTokenizer

EDGE = ["", " ", "\n\n", "\x00\x01\x7f", "🤖👩‍👩‍👧 ok", "日本語 العربية Ελληνικά", "<pad> <eos>",
        "a\u0085b\u2028c", "tab\tand\r\nCRLF", "e\u0301 vs é"]


@pytest.fixture(scope="module")
def bpe():
    text = load_dataset("tinyshakespeare", split="dev").data[0]
    return BPETokenizer(vocab_size=600).train(text.split("\n"))


def raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text())
def test_bpe_round_trip_any_string(bpe, s):
    assert bpe.decode(bpe.encode(s)) == s


@pytest.mark.parametrize("s", EDGE)
def test_bpe_round_trip_edge_strings(bpe, s):
    ids = bpe.encode(s)
    assert bpe.decode(ids) == s
    assert all(0 <= i < bpe.vocab_size for i in ids)


def test_bpe_whole_file_and_compression(bpe):
    text = load_dataset("tinyshakespeare", split="dev").data[0]
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert len(ids) < len(text) / 2  # merges learned on this text compress it


def test_bpe_special_tokens_and_batch(bpe):
    assert [bpe.token_to_id(t) for t in ["<pad>", "<bos>", "<eos>", "<unk>", "<sep>"]] == [
        0, 1, 2, 3, 4]
    ids = bpe.encode("hi", add_special_tokens=True)
    assert ids[0] == bpe.bos_id and ids[-1] == bpe.eos_id
    assert bpe.decode(ids) == "hi"
    assert bpe.decode(ids, skip_special_tokens=False) == "<bos>hi<eos>"
    batch = bpe.encode_batch(["a b", "", "ROMEO:"])
    assert batch == [bpe.encode("a b"), [], bpe.encode("ROMEO:")]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_char_round_trip_any_string(s):
    tok = CharTokenizer().train([s, "x"])
    assert tok.decode(tok.encode(s)) == s
    assert tok.vocab_size == 5 + len(set(s + "x"))


def test_char_unknown_character():
    tok = CharTokenizer().train(["abc"])
    message = (
        "character 'z' (U+007A) at position 2 was not in the training text of this "
        "CharTokenizer; remove it, or use CharTokenizer(unknown='unk') or a BPE tokenizer, "
        "which can encode any text."
    )
    with raises(ValueError, message):
        tok.encode("abz")
    lenient = CharTokenizer(unknown="unk").train(["abc"])
    assert lenient.encode("abz") == [lenient.encode("a")[0], lenient.encode("b")[0], 3]


def test_word_vocab():
    tok = WordVocabTokenizer(min_freq=2).train(["a good film", "a bad film", "a film"])
    assert tok.words == ["a", "film"]  # by frequency, then alphabetically
    assert tok.decode(tok.encode("A good FILM")) == "a <unk> film"
    capped = WordVocabTokenizer(max_size=1).train(["b a a"])
    assert capped.words == ["a"]
    with pytest.raises(ValueError, match="no word seen min_freq=5 times"):
        WordVocabTokenizer(min_freq=5).train(["rare words"])


@pytest.mark.parametrize("make", [
    lambda: CharTokenizer().train(["hello world"]),
    lambda: WordVocabTokenizer().train(["hello world"]),
    lambda: BPETokenizer(vocab_size=300, min_frequency=1).train(["hello world"] * 3),
], ids=["char", "word", "bpe"])
def test_save_load_and_pickle(tmp_path, make):
    tok = make()
    path = tmp_path / "tok.json"
    tok.save(path)
    for restored in (type(tok).load(path), Tokenizer.load(path), pickle.loads(pickle.dumps(tok))):
        assert type(restored) is type(tok)
        assert restored == tok
        assert restored.encode("hello world") == tok.encode("hello world")
        assert restored.vocab_size == tok.vocab_size


def test_load_errors(tmp_path):
    path = tmp_path / "tok.json"
    path.write_text("{not json")
    corrupt = r"^tokenizer file '.*tok.json' is corrupt: not valid JSON"
    with pytest.raises(ValueError, match=corrupt):
        Tokenizer.load(path)
    path.write_text('{"kind": "wordpiece"}')
    with pytest.raises(ValueError, match=r"field 'kind' is 'wordpiece', expected one of"):
        Tokenizer.load(path)
    path.write_text('{"kind": "char", "unknown": "error"}')
    with pytest.raises(ValueError, match=r"is corrupt: KeyError: 'chars'"):
        Tokenizer.load(path)
    CharTokenizer().train(["ab"]).save(path)
    with pytest.raises(ValueError, match=r"holds a 'char' tokenizer, not a 'bpe' one"):
        BPETokenizer.load(path)
    with pytest.raises(FileNotFoundError, match=r"^tokenizer file not found: "):
        Tokenizer.load(tmp_path / "missing.json")


def test_untrained_and_bad_arguments():
    message = (
        "this CharTokenizer is not trained; call train(texts) or CharTokenizer.load(path) first."
    )
    with raises(ValueError, message):
        CharTokenizer().encode("a")
    message = (
        "vocab_size=100 is too small: byte-level BPE needs at least 261 (256 bytes + 5 special "
        "tokens)."
    )
    with raises(ValueError, message):
        BPETokenizer(vocab_size=100)


def test_one_factory_makes_every_models_vocabulary():
    """hybridnlp.text.make_tokenizer: "word" is whitespace words (case kept) for language
    models and translators, the shared regex splitter (lower-cased, capped) for classifiers;
    a segmenter replaces the splitting of either; the LMs and the classifier both use it."""
    from hybridnlp.lm import make_tokenizer as lm_tokenizer
    from hybridnlp.text import (
        BPETokenizer,
        CharTokenizer,
        WhitespaceTokenizer,
        WordVocabTokenizer,
        make_tokenizer,
    )

    assert type(make_tokenizer("word")) is WhitespaceTokenizer
    regex = make_tokenizer("word", words="regex", vocab_size=10, min_freq=2)
    assert type(regex) is WordVocabTokenizer and (regex.max_size, regex.min_freq) == (10, 2)
    assert make_tokenizer("char", unknown="unk").unknown == "unk"
    assert type(make_tokenizer("bpe", vocab_size=300)) is BPETokenizer
    assert type(lm_tokenizer("char")) is CharTokenizer and lm_tokenizer("char").unknown == "error"
    trained = CharTokenizer().train(["abc"])
    assert make_tokenizer(trained) is trained
    untrained = CharTokenizer()
    assert make_tokenizer(untrained) is not untrained  # never trained in place
    with pytest.raises(ValueError, match=r"^tokenizer='wordpiece' is not allowed; choose one of "
                                         r"\('char', 'word', 'bpe'\)"):
        make_tokenizer("wordpiece")
    with pytest.raises(ValueError, match=r"^words='split' is not allowed"):
        make_tokenizer("word", words="split")
