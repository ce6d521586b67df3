"""CausalLM, NGramLM, InterpolatedLM, token files, GPT-2 interop."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

import hybridnlp
from hybridnlp import CausalLM, InterpolatedLM, NGramLM, load_dataset
from hybridnlp.exceptions import NotFittedError
from hybridnlp.lm import (
    RandomWindows,
    encode_to_file,
    fit_mixture_weight,
    load_gpt2,
    open_token_file,
    save_gpt2,
)
from hybridnlp.lm._corpus import token_stream
from hybridnlp.lm.ngram import FALLBACK_DISCOUNTS, modified_discounts
from hybridnlp.text import CharTokenizer, WhitespaceTokenizer


@pytest.fixture(scope="module")
def shakespeare():
    text = load_dataset("tinyshakespeare").data[0]
    return text[:20000], text[20000:23000]


@pytest.fixture(scope="module")
def char_lm(shakespeare):
    train, val = shakespeare
    return CausalLM(preset="gpt-nano", max_steps=60, eval_interval=20, optimizer__lr=3e-3,
                    random_state=0, batch_size=8).fit(train, validation_data=val)


# ---------------------------------------------------------------------- CausalLM


def test_fit_learns_and_records_history(char_lm):
    h = char_lm.history_
    assert [row["step"] for row in h] == [20, 40, 60]
    assert h[-1]["train_loss"] < h[0]["train_loss"] < math.log(char_lm.config_.vocab_size)
    assert char_lm.val_loss_ < math.log(char_lm.config_.vocab_size)
    assert char_lm.config_.vocab_size == char_lm.tokenizer_.vocab_size


def test_perplexity_score_and_per_word_are_one_likelihood(char_lm, shakespeare):
    val = shakespeare[1][:1500]
    total, n = char_lm.log_likelihood(val)
    assert n == len(val)  # every character is predicted once (after the leading <eos>)
    assert char_lm.score(val) == pytest.approx(total / n)
    assert char_lm.perplexity(val) == pytest.approx(math.exp(-total / n))
    words = len(val.split()) + val.count("\n")
    assert char_lm.perplexity(val, per="word") == pytest.approx(math.exp(-total / words))
    assert char_lm.perplexity(val, per="char") == pytest.approx(math.exp(-total / len(val)))
    with pytest.raises(ValueError, match="per='byte' is not allowed; choose one of token, "
                                         "word, char"):
        char_lm.perplexity(val, per="byte")


def test_sliding_window_scores_each_token_with_the_stated_context(char_lm, shakespeare):
    ids = token_stream(char_lm.tokenizer_, shakespeare[1][:150]).astype(np.int64)
    T = char_lm.config_.block_size
    lp = char_lm.token_log_probs(ids, stride=1)
    model = char_lm.model_
    device = next(model.parameters()).device
    for t in (0, 10, T - 1, T, 100, len(ids) - 2):  # target t predicts ids[t + 1]
        ctx = ids[max(0, t - T + 1):t + 1]
        logits, _ = model(torch.from_numpy(ctx)[None].to(device))
        ref = torch.log_softmax(logits[0, -1], -1)[ids[t + 1]].item()
        assert lp[t] == pytest.approx(ref, abs=1e-5)
    short = ids[:T]  # one window: the stride does not matter
    assert np.allclose(char_lm.token_log_probs(short, stride=1),
                       char_lm.token_log_probs(short), atol=1e-6)


def test_generate_forms_and_options(char_lm):
    # <eos> (end of document) ends a sequence early, except within min_new_tokens; which
    # tokens a seed draws depends on the device's generator, so the lengths are pinned by it.
    one = char_lm.generate("ROMEO:", 20, seed=0, min_new_tokens=20)
    assert isinstance(one, str) and len(one) == 20
    assert char_lm.generate("ROMEO:", 20, seed=0, min_new_tokens=20) == one
    assert char_lm.generate("ROMEO:", 20, seed=0, min_new_tokens=20,
                            include_prompt=True) == "ROMEO:" + one
    assert len(char_lm.generate("ROMEO:", 20, seed=0)) <= 20
    many = char_lm.generate("ROMEO:", 10, num_return_sequences=3, seed=1, min_new_tokens=10)
    assert len(many) == 3 and all(len(t) == 10 for t in many)
    assert len(char_lm.generate("ROMEO:", 10, num_beams=2, min_new_tokens=10)) == 10
    with pytest.raises(ValueError, match=r"^min_new_tokens=11 must be an int between 0 and "
                                         r"max_new_tokens=10\.$"):
        char_lm.generate("ROMEO:", 10, min_new_tokens=11)
    batch = char_lm.generate(["ROMEO:", "O"], 8, seed=0)
    assert isinstance(batch, list) and len(batch) == 2
    nested = char_lm.generate(["a", "b"], 5, num_return_sequences=2, seed=0)
    assert [len(g) for g in nested] == [2, 2]
    text = char_lm.generate("ROMEO:", 60, temperature=0)
    stop = text[10:12]
    assert char_lm.generate("ROMEO:", 60, temperature=0, stop=stop) == text[:text.index(stop)]
    assert char_lm.generate("", 5, seed=0) != ""  # unconditional


def test_batched_left_padded_prompts_decode_like_single_prompts(char_lm):
    prompts = ["ROMEO:\nWhat", "O", "First Citizen:"]
    batch = char_lm.generate(prompts, 25, temperature=0)
    assert batch == [char_lm.generate(p, 25, temperature=0) for p in prompts]
    assert batch == char_lm.generate(prompts, 25, temperature=0, use_cache=False)
    # the compiled decoding step (here traced by dynamo's eager backend) decodes the same
    traced = {"backend": "eager"}
    assert batch == char_lm.generate(prompts, 25, temperature=0, compile=traced)
    assert char_lm.generate("ROMEO:", 40, seed=3, compile=traced) == \
        char_lm.generate("ROMEO:", 40, seed=3)
    with pytest.raises(ValueError, match="beam search .* runs uncompiled"):
        char_lm.generate("ROMEO:", 5, num_beams=2, compile=True)


def test_generation_past_the_context_window_slides(char_lm):
    n = 3 * char_lm.config_.block_size
    cached = char_lm.generate("First", n, temperature=0)
    assert len(cached) == n
    assert cached == char_lm.generate("First", n, temperature=0, use_cache=False)


def test_streaming_yields_the_same_text(char_lm):
    pieces = list(char_lm.generate("ROMEO:", 40, seed=3, stream=True))
    assert len(pieces) > 1
    assert "".join(pieces) == char_lm.generate("ROMEO:", 40, seed=3)
    full = char_lm.generate("ROMEO:", 40, seed=3)
    stop = full[20:23]
    streamed = "".join(char_lm.generate("ROMEO:", 40, seed=3, stream=True, stop=stop))
    assert streamed == full[:full.index(stop)]
    with pytest.raises(ValueError, match="stream=True streams one sequence"):
        char_lm.generate(["a", "b"], 5, stream=True)


def test_beam_search_generation(char_lm):
    beams = char_lm.generate("ROMEO:", 8, num_beams=3, num_return_sequences=2)
    assert len(beams) == 2 and all(isinstance(b, str) for b in beams)
    assert beams[0] == char_lm.generate("ROMEO:", 8, num_beams=3)


def test_bad_prompts_and_arguments(char_lm):
    with pytest.raises(ValueError, match="character '€' \\(U\\+20AC\\) at position 2 was not in"):
        char_lm.generate("ab€", 5)
    with pytest.raises(ValueError, match="max_new_tokens=-1 must be a non-negative int"):
        char_lm.generate("a", -1)
    with pytest.raises(ValueError, match="top_p=1.5 must be in \\(0, 1\\]"):
        char_lm.generate("a", 3, top_p=1.5)
    with pytest.raises(ValueError, match="temperature=-1 must be >= 0"):
        char_lm.generate("a", 3, temperature=-1)
    with pytest.raises(TypeError, match="prompt must be a str or a non-empty list of str"):
        char_lm.generate([], 3)
    with pytest.raises(NotFittedError, match="this CausalLM is not fitted yet"):
        CausalLM().generate("a")


def test_bad_corpora_get_clear_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        CausalLM(preset="gpt-nano").fit("")
    with pytest.raises(ValueError, match="corpus is empty \\(no text in 2 documents\\)"):
        CausalLM(preset="gpt-nano").fit(["", ""])
    with pytest.raises(ValueError, match="corpus\\[1\\] is None; drop missing texts"):
        CausalLM(preset="gpt-nano").fit(["abc", None])
    with pytest.raises(ValueError, match="the training corpus has 12 tokens .* fewer than one "
                                         "window of block_size\\+1=65"):
        CausalLM(preset="gpt-nano", validation_fraction=0).fit("to be or n\n")
    with pytest.raises(ValueError, match="module__n_layers is not a parameter of CausalLM. "
                                         "Did you mean module__n_layer\\?"):
        CausalLM(module__n_layers=2)


def test_word_and_bpe_tokenizers_and_dunder_params():
    text = "the cat sat on the mat\nthe dog sat on the log\n" * 40
    lm = CausalLM(preset="gpt-nano", tokenizer="word", max_steps=5, block_size=16,
                  module__n_layer=1).fit(text)
    assert isinstance(lm.tokenizer_, WhitespaceTokenizer)
    assert lm.config_.n_layer == 1 and lm.config_.block_size == 16
    val = "the cat sat on the log\n"
    assert lm.perplexity(val, per="word") == pytest.approx(lm.perplexity(val))
    bpe = CausalLM(preset="gpt-nano", tokenizer="bpe", vocab_size=300, max_steps=3,
                   block_size=16).fit(text)
    assert bpe.tokenizer_.kind == "bpe"
    assert isinstance(bpe.generate("the", 5, seed=0), str)
    params = clone(lm).get_params()
    assert params["module__n_layer"] == 1 and params["tokenizer"] == "word"


def test_save_load_roundtrip_in_a_fresh_process(char_lm, shakespeare, tmp_path):
    char_lm.save(tmp_path / "lm")
    loaded = CausalLM.load(tmp_path / "lm")
    val = shakespeare[1][:500]
    assert loaded.perplexity(val) == pytest.approx(char_lm.perplexity(val), rel=1e-6)
    assert loaded.generate("ROMEO:", 15, temperature=0) == char_lm.generate("ROMEO:", 15,
                                                                             temperature=0)
    code = (f"from hybridnlp import CausalLM; lm = CausalLM.load({str(tmp_path / 'lm')!r}); "
            f"print(repr(lm.generate('ROMEO:', 15, temperature=0)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == repr(char_lm.generate("ROMEO:", 15, temperature=0))


def test_corrupt_and_mismatched_checkpoints_name_file_and_field(char_lm, tmp_path):
    char_lm.save(tmp_path / "lm")
    weights = tmp_path / "lm" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="weights file .*model.safetensors' is corrupt"):
        CausalLM.load(tmp_path / "lm")
    char_lm.save(tmp_path / "lm2")
    WhitespaceTokenizer().train("a b c").save(tmp_path / "lm2" / "tokenizer.json")
    with pytest.raises(ValueError, match="tokenizer.json' has 8 tokens but the model's "
                                         "vocab_size is"):
        CausalLM.load(tmp_path / "lm2")
    char_lm.save(tmp_path / "lm3")
    (tmp_path / "lm3" / "config.json").write_text('{"kind": "CausalLM", "gpt": {"n_layers": 1}}')
    with pytest.raises(ValueError, match="config.json': field 'gpt' is invalid: GPTConfig has "
                                         "no field 'n_layers'"):
        CausalLM.load(tmp_path / "lm3")


def test_resume_continues_from_the_checkpoint(shakespeare, tmp_path):
    train, val = shakespeare
    kw = dict(max_steps=40, eval_interval=10, batch_size=4, checkpoint_dir=tmp_path,
              random_state=0)
    full = CausalLM(preset="gpt-nano", **kw).fit(train, validation_data=val)
    ref = [row["train_loss"] for row in full.history_]
    resumed = CausalLM(preset="gpt-nano", **kw).fit(train, validation_data=val, resume=True)
    assert [row["train_loss"] for row in resumed.history_] == ref  # nothing left to train
    assert resumed.perplexity(val[:300]) == pytest.approx(full.perplexity(val[:300]))


# ---------------------------------------------------------------------- token files


def test_split_corpus_holds_out_the_tail_or_the_end_of_each_tenth():
    from hybridnlp.lm import split_corpus

    text = "".join(chr(65 + i % 26) for i in range(50_000))
    assert split_corpus(text, 0.1) == (text[:45_000], text[45_000:])
    train, held = split_corpus(text, 0.1, spread=True)
    # 5,000 held-out characters: 5 pieces of 1,000 (each at least SPREAD_MIN_CHARS), each
    # the end of a fifth of the text
    assert held == "".join(text[end - 1000:end] for end in range(10_000, 50_001, 10_000))
    assert train == "".join(text[start:start + 9000] for start in range(0, 50_000, 10_000))
    big = text * 4  # 20,000 held out: 10 pieces of 2,000
    train, held = split_corpus(big, 0.1, spread=True)
    assert held == "".join(big[end - 2000:end] for end in range(20_000, 200_001, 20_000))
    assert len(train) + len(held) == len(big)
    short = text[:5000]  # 500 held out: one piece, the tail
    assert split_corpus(short, 0.1, spread=True) == split_corpus(short, 0.1)
    docs = [f"d{i}" for i in range(25)]
    train, held = split_corpus(docs, 0.2, spread=True)
    assert held == ["d4", "d9", "d14", "d19", "d24"] and len(train) == 20
    assert split_corpus(docs, 0.2) == (docs[:20], docs[20:])
    assert split_corpus(docs[:3], 0.1, spread=True) == (docs[:2], [docs[2]])  # none would be
    lm = CausalLM(preset="gpt-nano", tokenizer="char", max_steps=2, eval_interval=1,
                  random_state=0).fit(big)
    train, _ = split_corpus(big, 0.1, spread=True)  # CausalLM holds out the spread share
    assert lm.n_train_tokens_ == len(train) + 1  # and a leading <eos>
    assert train.endswith(big[-20_000:-2_000])  # it trains on text near the end


def test_token_file_roundtrip_and_random_windows(tmp_path):
    tok = CharTokenizer().train("abcdefgh")
    tokens = encode_to_file(tok, ["abcabc", "defgh"], tmp_path / "tok.bin")
    assert tokens.dtype == np.uint16
    assert tokens.tolist() == [2, *tok.encode("abcabc"), 2, *tok.encode("defgh")]
    assert open_token_file(tmp_path / "tok.bin").tolist() == tokens.tolist()
    windows = RandomWindows(tokens, 4, 3, steps=2, seed=0)
    windows.set_epoch(1)
    a, b = list(windows), list(windows)
    assert all(torch.equal(x["idx"], y["idx"]) for x, y in zip(a, b, strict=True))
    assert torch.equal(a[0]["idx"][:, 1:], a[0]["targets"][:, :-1])
    corpus = load_dataset("tinyshakespeare").data[0][:20000].split("\n\n")
    big = CharTokenizer().train(corpus)
    ids = encode_to_file(big, corpus, tmp_path / "big.bin")  # memory-mapped
    lm = CausalLM(preset="gpt-nano", tokenizer=big, max_steps=4, eval_interval=2).fit(ids)
    assert lm.val_loss_ is not None and lm.n_train_tokens_ == int(len(ids) * 0.9)
    with pytest.raises(ValueError, match="fit got token ids, so tokenizer= must be the trained"):
        CausalLM(preset="gpt-nano").fit(ids)
    (tmp_path / "tok.bin").write_bytes(b"\x00" * 5)
    with pytest.raises(ValueError, match="holds 5 bytes, but its metadata says 13 uint16"):
        open_token_file(tmp_path / "tok.bin")


# ---------------------------------------------------------------------- n-grams


SMALL = ("the cat sat on the mat\nthe dog sat on the log\na cat and a dog met on the mat\n"
         "the end of the log\nthe cat ate\n")


@pytest.mark.parametrize("order", [2, 3, 4])
def test_ngram_matches_nltk_kneser_ney(order):
    nltk_lm = pytest.importorskip("nltk.lm")
    lm = NGramLM(order=order, discount=0.1, interpolate_unigram=False).fit(SMALL)
    ids = token_stream(lm.tokenizer_, SMALL).tolist()
    ngrams = [tuple(str(t) for t in ids[i - k + 1:i + 1])
              for i in range(order - 1, len(ids)) for k in range(1, order + 1)]
    ref = nltk_lm.KneserNeyInterpolated(order, discount=0.1)
    ref.fit([ngrams], vocabulary_text=[str(t) for t in ids])
    for j in range(1, len(ids), 3):
        hist = ids[max(0, j - order + 1):j]
        for w in sorted(set(ids)):
            ours, _ = lm.prob(w, hist)
            assert ours == pytest.approx(ref.score(str(w), [str(h) for h in hist]), abs=1e-12)


def test_modified_kn_is_a_distribution_and_vector_matches_scalar():
    lm = NGramLM(order=3).fit(SMALL)
    ids = token_stream(lm.tokenizer_, SMALL).tolist()
    for hist in ([], ids[3:5], [4, 4], [lm.tokenizer_.unk_id] * 2):
        p = lm.next_token_probs(hist)
        assert p.sum() == pytest.approx(1.0)
        assert p[lm.tokenizer_.pad_id] == 0.0
        for w in range(lm.vocab_size_):
            assert p[w] == pytest.approx(lm.prob(w, hist)[0], abs=1e-15)


def test_discounts_fall_back_where_the_closed_form_fails():
    # a repeated corpus has (almost) no singletons or doubletons: the closed form gives a
    # discount of 0 (no mass left for unseen continuations), KenLM's BadDiscountException
    assert modified_discounts(np.array([3] * 50 + [2] * 2 + [1] * 2 + [6])) == \
        FALLBACK_DISCOUNTS
    assert modified_discounts(np.array([2] * 8 + [3])) == FALLBACK_DISCOUNTS  # n1 = 0
    text = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n"
    lm = NGramLM(order=3).fit(text * 3)
    assert lm.discounts_[-1] == FALLBACK_DISCOUNTS
    lp = lm.token_log_probs([lm.tokenizer_.eos_id, *lm.tokenizer_.encode("the cat sat")])
    assert np.isfinite(lp).all()
    assert np.isfinite(lm.perplexity("a dog sat on the cat\n"))


def test_modified_discounts_follow_chen_goodman():
    counts = np.array([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2)
    y = 10 / (10 + 2 * 5)
    d = modified_discounts(counts)
    assert d == pytest.approx((1 - 2 * y * 5 / 10, 2 - 3 * y * 3 / 5, 3 - 4 * y * 2 / 3))


def test_hand_computed_bigram_probability():
    # stream: <eos> a b a c ; bigrams (<eos> a) (a b) (b a) (a c); discount 0.5, no uniform
    lm = NGramLM(order=2, tokenizer="word", discount=0.5, interpolate_unigram=False).fit("a b a c")
    tok = lm.tokenizer_
    a, b, c = (tok.encode(w)[0] for w in "abc")
    # continuation counts: a <- {<eos>, b} = 2, b <- {a} = 1, c <- {a} = 1; total 4
    p_uni_b = 1 / 4
    # after "a": c(a b) = 1, c(a c) = 1, total 2, two types -> gamma = 0.5 * 2 / 2
    assert lm.prob(b, [a])[0] == pytest.approx((1 - 0.5) / 2 + 0.5 * p_uni_b)
    assert lm.prob(a, [a])[0] == pytest.approx(0.5 * 2 / 4)


def test_ngram_perplexity_save_load_and_errors(tmp_path):
    lm = NGramLM(order=3, tokenizer="char").fit(SMALL * 3)
    assert lm.perplexity(SMALL) < lm.perplexity("".join(sorted(SMALL)))
    lm.save(tmp_path / "ng")
    loaded = NGramLM.load(tmp_path / "ng")
    assert loaded.perplexity(SMALL) == pytest.approx(lm.perplexity(SMALL))
    assert isinstance(lm.generate("the ", 10, seed=0), str)
    with pytest.raises(ValueError, match="order=0 must be a positive integer"):
        NGramLM(order=0).fit(SMALL)
    with pytest.raises(ValueError, match="discount=1.5 must be 'modified' or a number in"):
        NGramLM(discount=1.5).fit(SMALL)
    with pytest.raises(ValueError, match="the corpus has 3 tokens .* fewer than order=5"):
        NGramLM(order=5).fit("a b")


# ---------------------------------------------------------------------- ARPA


def _line_log10(lm, line):
    """log10 p of each word of ``line`` and of its end, from the line's start (<s>)."""
    tok = lm.tokenizer_
    return lm.token_log_probs([tok.eos_id, *tok.encode(line), tok.eos_id]) / math.log(10)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_an_arpa_file_written_here_scores_the_same_in_kenlm(tmp_path, order):
    kenlm = pytest.importorskip("kenlm")
    lm = NGramLM(order=order).fit(SMALL * 2 + "x y z\n")
    lm.to_arpa(tmp_path / "lm.arpa")
    ref = kenlm.Model(str(tmp_path / "lm.arpa"))
    for line in ("the cat sat on the log", "a dog ate the mat", "zebra the cat", "the"):
        theirs = [score for score, _, _ in ref.full_scores(line)]
        np.testing.assert_allclose(_line_log10(lm, line), theirs, atol=1e-4)


def test_arpa_round_trip_scores_saves_generates_and_interpolates(tmp_path):
    lm = NGramLM(order=3).fit(SMALL * 2)
    lm.to_arpa(tmp_path / "lm.arpa.gz")
    back = hybridnlp.load(tmp_path / "lm.arpa.gz")
    assert isinstance(back, NGramLM) and back.order == 3 and back.discounts_ is None
    for line in ("the cat sat on the log", "a dog ate the mat", "zebra the cat"):
        np.testing.assert_allclose(_line_log10(back, line), _line_log10(lm, line), atol=1e-6)
    hist = back.tokenizer_.encode("on the")
    assert back.next_token_probs(hist).sum() == pytest.approx(1.0, abs=1e-5)
    back.save(tmp_path / "saved")
    again = hybridnlp.load(tmp_path / "saved")
    assert again.perplexity(SMALL) == pytest.approx(back.perplexity(SMALL), rel=1e-12)
    assert set(again.generate("the", 8, seed=0).split()) <= set(SMALL.split()) | {"<unk>"}
    gpt = CausalLM(preset="gpt-nano", tokenizer=back.tokenizer_, max_steps=5,
                   random_state=0).fit(SMALL * 4)
    mix = InterpolatedLM(neural=gpt, ngram=back).fit(SMALL)  # prefit parts: the weight only
    assert mix.perplexity(SMALL) < gpt.perplexity(SMALL)


def test_an_arpa_file_from_elsewhere_backs_off_as_written(tmp_path):
    (tmp_path / "hand.arpa").write_text(
        "\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n-1.0\t<unk>\n"
        "-99\t<s>\t-0.5\n-0.6\t</s>\n-0.4\ta\t-0.3\n-0.7\tb\n\n"
        "\\2-grams:\n-0.2\t<s> a\n-0.1\ta b\n-0.9\ta </s>\n\n\\end\\\n")
    lm = NGramLM.from_arpa(tmp_path / "hand.arpa")
    # <s> a: listed; a b: listed; b </s>: b has no backoff, so p(</s>); then a a: bo(a) p(a)
    np.testing.assert_allclose(_line_log10(lm, "a b"), [-0.2, -0.1, -0.6], atol=1e-9)
    np.testing.assert_allclose(_line_log10(lm, "a a"), [-0.2, -0.3 - 0.4, -0.9], atol=1e-9)
    np.testing.assert_allclose(_line_log10(lm, "c"), [-0.5 - 1.0, -0.6], atol=1e-9)


def test_bad_arpa_files_and_unwritable_tokens_are_named(tmp_path):
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t<s>\n-1\ta\n\\end\\\n")
    with pytest.raises(ValueError, match=r"the header says 3 1-grams, the file has 2"):
        NGramLM.from_arpa(bad)
    bad.write_text("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1\t</s>\n-1\ta\n"
                   "\n\\2-grams:\n-1\ta c\n\\end\\\n")
    with pytest.raises(ValueError, match=r"the word 'c' of a 2-gram is not among the 1-grams"):
        NGramLM.from_arpa(bad)
    bad.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t</s>\nminus\ta\n\\end\\\n")
    with pytest.raises(ValueError, match=r"line 6: 'minus\\ta' has a number that does not"):
        NGramLM.from_arpa(bad)
    with pytest.raises(ValueError, match=r"token 5 \(' '\) cannot be an ARPA word"):
        NGramLM(order=2, tokenizer="char").fit(" ab" * 5).to_arpa(tmp_path / "c.arpa")


# ---------------------------------------------------------------------- interpolation


def test_fit_mixture_weight_maximises_the_likelihood():
    rng = np.random.default_rng(0)
    p_a, p_b = rng.uniform(0.01, 1, 500), rng.uniform(0.01, 1, 500)
    lam = fit_mixture_weight(p_a, p_b)
    grid = np.linspace(0, 1, 1001)
    best = grid[np.argmax([np.log(g * p_a + (1 - g) * p_b).sum() for g in grid])]
    assert lam == pytest.approx(best, abs=2e-3)
    assert fit_mixture_weight(p_a + 1.0, p_a) > 0.99


def test_interpolated_lm_beats_both_parts_where_fit(char_lm, shakespeare):
    train, val = shakespeare
    ngram = NGramLM(order=4, tokenizer=char_lm.tokenizer_).fit(train)
    mix = InterpolatedLM(neural=char_lm, ngram=ngram).fit(val)
    assert 0.0 < mix.weight_ < 1.0
    # the likelihood-maximising weight on this text is at least as good as either end
    assert mix.perplexity(val) <= min(char_lm.perplexity(val), ngram.perplexity(val)) * (1 + 1e-8)
    per = InterpolatedLM(neural=char_lm, ngram=ngram, per_context=True, min_tokens=50).fit(val)
    assert per.weights_.shape == (5,)
    assert per.perplexity(val) <= mix.perplexity(val) * (1 + 1e-8)
    assert isinstance(mix.generate("ROMEO:", 10, seed=0), str)
    total, n = InterpolatedLM(neural=char_lm, ngram=ngram).cross_fit_log_likelihood(val)
    assert n == len(val) and math.isfinite(total)
    assert -total / n >= math.log(mix.perplexity(val)) - 1e-9  # weights fit on other halves
    fixed = InterpolatedLM(neural=char_lm, ngram=ngram, weight=1.0).fit()
    assert fixed.perplexity(val[:500]) == pytest.approx(char_lm.perplexity(val[:500]))


def test_interpolation_refuses_different_tokenizers(char_lm):
    ngram = NGramLM(order=2, tokenizer="char").fit("abc def")
    with pytest.raises(ValueError, match="use different tokenizers.*NGramLM\\(tokenizer="
                                         "neural.tokenizer_\\)"):
        InterpolatedLM(neural=char_lm, ngram=ngram).fit("abc")


# ---------------------------------------------------------------------- GPT-2 interop


def test_hugging_face_gpt2_weights_load_and_export(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=97, n_positions=32, n_embd=48, n_layer=2, n_head=3)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    hf.save_pretrained(tmp_path / "hf")
    ours = load_gpt2(tmp_path / "hf")
    x = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        ref = hf(x).logits
        got, _ = ours(x)
        assert torch.allclose(got, ref, atol=1e-5)
        cont = hf.generate(x[:1, :5], max_new_tokens=12, do_sample=False, pad_token_id=0)
    seq = torch.zeros(1, 17, dtype=torch.long)
    seq[0, :5] = x[0, :5]
    from hybridnlp.lm import Stepper, sample

    list(sample(Stepper(ours, 1).logits, seq, 5, 12, do_sample=False))
    assert seq[0, 5:].tolist() == cont[0, 5:].tolist()
    # pytorch_model.bin, read with weights_only=True
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text((tmp_path / "hf" / "config.json").read_text())
    torch.save(hf.state_dict(), tmp_path / "bin" / "pytorch_model.bin")
    with torch.no_grad():
        assert torch.allclose(load_gpt2(tmp_path / "bin")(x)[0], ref, atol=1e-5)
    save_gpt2(ours, tmp_path / "out")
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "out").eval()
    with torch.no_grad():
        assert torch.allclose(back(x).logits, ref, atol=1e-5)
    (tmp_path / "hf" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="weights file .*model.safetensors' is corrupt"):
        load_gpt2(tmp_path / "hf")


def test_a_string_is_text_never_a_file_name(tmp_path, monkeypatch):
    """``perplexity("ROMEO")`` read a file named ROMEO when one existed."""
    from pathlib import Path

    from hybridnlp.lm import NGramLM

    lm = NGramLM(order=2, tokenizer="char").fit("ROMEO: what light through yonder window "
                                                "breaks? " * 10)
    expected = lm.perplexity("ROMEO")
    monkeypatch.chdir(tmp_path)
    Path("ROMEO").write_text("what light through yonder window breaks? " * 5)
    assert lm.perplexity("ROMEO") == expected
    assert lm.perplexity(Path("ROMEO")) != expected  # a Path is a file


def test_interpolated_lm_fits_its_parts_and_clone_refits(shakespeare):
    """InterpolatedLM fitted itself inside prediction and clone(mix) could not be refit."""
    from sklearn.base import clone

    train, val = shakespeare
    mix = InterpolatedLM(neural=CausalLM(preset="gpt-nano", max_steps=20, eval_interval=10,
                                         random_state=0),
                         ngram=NGramLM(order=3, tokenizer="char"))
    with pytest.raises(NotFittedError):
        mix.perplexity(val)
    mix.fit(train, validation_data=val)
    assert mix.ngram_.tokenizer_ == mix.neural_.tokenizer_  # same tokens, by construction
    assert mix.neural.get_params()["max_steps"] == 20 and not hasattr(mix.neural, "model_")
    assert 0.0 < mix.weight_ < 1.0
    again = clone(mix).fit(train, validation_data=val)
    assert again.perplexity(val[:500]) == pytest.approx(mix.perplexity(val[:500]))
    # prefit parts ("auto"): fit(texts) fits only the weight, on those texts
    prefit = InterpolatedLM(neural=mix.neural_, ngram=mix.ngram_).fit(val)
    assert prefit.neural_ is mix.neural_ and prefit.weight_ == pytest.approx(mix.weight_)
    with pytest.raises(ValueError, match="^the parts are prefit: fit\\(texts\\) fits the weight"):
        InterpolatedLM(neural=mix.neural_, ngram=mix.ngram_).fit(train, validation_data=val)


STREAM_TEXT = ("First line of the text.\n\n\nSecond  line, with  spaces.\n   indented line\n"
               "\n 中文文本没有空格。\nlast line without an end") * 7


@pytest.mark.parametrize("tokenizer", ["char", "word", "bpe"])
def test_a_corpus_file_is_streamed_in_pieces_to_the_tokens_of_the_whole(tokenizer, tmp_path,
                                                                        monkeypatch):
    import gzip

    from hybridnlp.lm import _corpus
    from hybridnlp.lm._corpus import corpus_chunks, make_tokenizer, token_stream_of_file

    path = tmp_path / "corpus.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(STREAM_TEXT)
    monkeypatch.setattr(_corpus, "CHUNK_CHARS", 16)  # many pieces, cut inside runs of \n
    pieces = list(corpus_chunks(path))
    assert "".join(pieces) == STREAM_TEXT and len(pieces) > 10
    assert all(p.endswith("\n") for p in pieces[:-1])
    tok = make_tokenizer(tokenizer, 300).train([STREAM_TEXT])
    np.testing.assert_array_equal(token_stream_of_file(tok, path),
                                  token_stream(tok, STREAM_TEXT))
    streamed = NGramLM(order=3, tokenizer=tokenizer, vocab_size=300).fit(path)
    whole = NGramLM(order=3, tokenizer=tokenizer, vocab_size=300).fit(STREAM_TEXT)
    assert streamed.n_tokens_ == whole.n_tokens_
    assert streamed.tokenizer_.vocab_size == whole.tokenizer_.vocab_size
    probe = "Second line of the text, without spaces.\n"
    assert streamed.perplexity(probe) == pytest.approx(whole.perplexity(probe), rel=1e-12)


def test_an_empty_or_missing_corpus_file_is_named(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"^corpus is empty; pass a non-empty string"):
        NGramLM().fit(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match=r"^corpus file '.*nothing.txt' does not exist"):
        NGramLM().fit(tmp_path / "nothing.txt")


def test_a_word_lm_with_the_adaptive_softmax_fits_saves_and_scores(tmp_path):
    text = " ".join(f"w{i % 37} w{(i * 7) % 53}" for i in range(400)) + "\n"
    lm = CausalLM(preset="gpt-nano", tokenizer="word", max_steps=30, block_size=16,
                  module__adaptive_cutoffs=[10, 30], eval_interval=10,
                  random_state=0).fit(text)
    assert lm.model_.adaptive and lm.config_.adaptive_cutoffs == [10, 30]
    assert lm.history_[-1]["train_loss"] < lm.history_[0]["train_loss"]
    val = "w1 w7 w2 w14\n"
    lm.save(tmp_path / "lm")
    loaded = CausalLM.load(tmp_path / "lm")
    assert loaded.model_.adaptive
    assert loaded.perplexity(val) == pytest.approx(lm.perplexity(val), rel=1e-6)
    assert loaded.generate("w1", 8, temperature=0) == lm.generate("w1", 8, temperature=0)
    with pytest.raises(ValueError, match="a GPT with the adaptive softmax has no GPT-2 form"):
        lm.save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match=r"adaptive_cutoffs=\[10, 500\] must all be below "
                                         r"vocab_size="):
        CausalLM(preset="gpt-nano", tokenizer="word", max_steps=1, block_size=16,
                 module__adaptive_cutoffs=[10, 500]).fit(text)
