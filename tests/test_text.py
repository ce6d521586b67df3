import pickle
import warnings

import numpy as np
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


# ---------------------------------------------------------------------- space-less scripts

def test_space_less_scripts_are_one_token_per_character_and_latin_words_stay_words():
    tok = WordTokenizer()
    assert tok("这部电影非常精彩，演员很出色！") == [
        "这", "部", "电", "影", "非", "常", "精", "彩", "，", "演", "员", "很", "出", "色", "！"]
    assert tok("我爱NLP和Python 3.11") == ["我", "爱", "nlp", "和", "python", "3", ".", "11"]
    assert tok("日本語のテキスト") == ["日", "本", "語", "の", "テ", "キ", "ス", "ト"]
    assert tok("It isn't bad, it's GREAT!") == ["it", "isn't", "bad", ",", "it's", "great", "!"]
    assert tok("한국어 문장") == ["한국어", "문장"]  # Hangul is written with spaces


def test_the_whitespace_lm_tokenizer_splits_and_rejoins_chinese():
    from hybridnlp.lm._corpus import count_words
    from hybridnlp.text import WhitespaceTokenizer

    text = "贾宝玉笑道：好 妹妹\nthe end"
    tok = WhitespaceTokenizer().train(text)
    assert tok.tokenize(text) == ["贾", "宝", "玉", "笑", "道", "：", "好", "妹", "妹", "<eos>",
                                  "the", "end"]
    assert tok.decode(tok.encode(text)) == "贾宝玉笑道：好妹妹\nthe end"
    assert count_words(text) == 9 + 2 + 1  # characters, English words, the line end


def test_unsegmented_words_warn_once_naming_the_fix():
    from hybridnlp.features import TfidfFeatures
    from hybridnlp.text import WordVocabTokenizer

    texts = ["这部电影非常精彩，演员很出色！", "这家餐厅非常难吃，服务很糟糕！"] * 5
    old_pattern = r"'?\w+(?:'\w+)*|[^\w\s]"  # the word pattern before space-less scripts
    with pytest.warns(UserWarning, match="TfidfFeatures: 50% of the training words are runs of "
                                         "4 or more characters of a script written without "
                                         "spaces \\(such as '这部电影非常精彩'\\)"):
        TfidfFeatures(token_pattern=old_pattern).fit(texts)
    with pytest.warns(UserWarning, match="WordVocabTokenizer: 50% .* Use the default token "
                                         "pattern"):
        WordVocabTokenizer(pattern=old_pattern).train(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TfidfFeatures().fit(texts)  # the default: one token per character, no warning
        TfidfFeatures().fit(["a good film", "a bad film"])
    rng = np.random.RandomState(0)
    words = "the a film plot actor scene was is very quite good bad dull fine long".split()
    sentences = [" ".join(rng.choice(words, 8)) + "." for _ in range(1500)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TfidfFeatures().fit(sentences)  # 15 words, each frequent
    with pytest.warns(UserWarning, match="^TfidfFeatures: 100% of the 1,500 distinct training "
                                         "words occur only once in 1,500 \\(the longest: '.*'\\), "
                                         "so the words are probably not being split"):
        TfidfFeatures(token_pattern=r"[^.]+").fit(sentences)  # a sentence per "word"
