import pickle

import pytest

from hybridnlp.text import WORD_PATTERN, WordTokenizer


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("It isn't bad, it's GREAT!", ["it", "isn't", "bad", ",", "it's", "great", "!"]),
        (
            "the film 's charm wo n't fade .",
            ["the", "film", "'s", "charm", "wo", "n't", "fade", "."],
        ),
        ("Who wrote `` Hamlet '' ?", ["who", "wrote", "`", "`", "hamlet", "'", "'", "?"]),
        ("café naïve 1930s", ["café", "naïve", "1930s"]),
        ("", []),
        ("   \n\t", []),
    ],
)
def test_tokens(text, tokens):
    assert WordTokenizer()(text) == tokens


def test_case_kept_when_asked():
    assert WordTokenizer(lowercase=False)("Hello World") == ["Hello", "World"]


def test_batch_and_pickle():
    tok = WordTokenizer()
    restored = pickle.loads(pickle.dumps(tok))
    assert restored == tok and hash(restored) == hash(tok)
    assert restored.tokenize_batch(["a b", "c"]) == [["a", "b"], ["c"]]


def test_capturing_group_rejected():
    with pytest.raises(ValueError, match=r"^pattern='\(a\)\+' has 1 capturing group\(s\); use"):
        WordTokenizer(pattern="(a)+")


def test_pattern_matches_sklearn_token_pattern():
    from sklearn.feature_extraction.text import CountVectorizer

    text = "It isn't bad, it's GREAT! (really)"
    analyzer = CountVectorizer(token_pattern=WORD_PATTERN).build_analyzer()
    assert analyzer(text) == WordTokenizer()(text)
