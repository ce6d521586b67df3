"""Seq2SeqLM: the encoder-decoder, the batched beam search of the one generation engine,
fusion with a target-side LM, metrics, persistence and bad input."""

import itertools
import json
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import requires_data_dir
from sklearn.base import clone

from hybridnlp.exceptions import NotFittedError
from hybridnlp.lm import NGramLM
from hybridnlp.lm.decoding import (
    FusedScorer,
    NGramStepper,
    banned_ngram_tokens,
    batch_beam_search,
    length_normaliser,
)
from hybridnlp.nn.seq2seq import ARCHITECTURES, Seq2SeqConfig, Seq2SeqStepper
from hybridnlp.seq2seq import Seq2SeqLM, ShallowFusion, corpus_bleu, corpus_chrf
from hybridnlp.train import Trainer

WORDS = "red blue green big small cat dog bird sees chases likes".split()
GERMAN = dict(zip(WORDS, "rot blau gruen gross klein katze hund vogel sieht jagt mag".split()))


def toy_pairs(n, seed):
    """A word-for-word dictionary task with reversed word order: the decoder must attend."""
    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 6))]
        src.append(" ".join(words))
        tgt.append(" ".join(GERMAN[w] for w in reversed(words)))
    return src, tgt


@pytest.fixture(scope="module")
def toy():
    return toy_pairs(2000, 0), toy_pairs(60, 1)


@pytest.fixture(scope="module")
def fitted(toy):
    (X, y), _ = toy
    return Seq2SeqLM(preset="tiny", tokenizer="word", max_epochs=8, random_state=0,
                     module__n_embd=64, optimizer__lr=3e-3).fit(X, y)


ARCHS = ["encoder_decoder", "prefix_lm"]


def tiny_model(vocab_size=6, seed=0, arch="encoder_decoder"):
    torch.manual_seed(seed)
    config = Seq2SeqConfig.from_preset("tiny", vocab_size=vocab_size, dropout=0.0)
    return ARCHITECTURES[arch](config).eval()


def teacher_forced_log_prob(model, src, ys):
    """log p(ys | src) by one full forward pass per prefix (no cache)."""
    src_t = torch.tensor([src])
    mask = torch.ones_like(src_t, dtype=torch.bool)
    total = 0.0
    for i, y in enumerate(ys):
        tgt = torch.tensor([[1, *ys[:i]]])
        logits, _ = model(src_t, mask, tgt)
        total += F.log_softmax(logits[0, -1].float(), -1)[y].item()
    return total


# ---------------------------------------------------------------------- the model and engine

def test_training_loss_is_label_smoothed_and_eval_loss_is_the_nll():
    model = tiny_model(vocab_size=9)
    src = torch.tensor([[3, 4, 5, 0]])
    mask = src != 0
    tgt, targets = torch.tensor([[1, 6, 7]]), torch.tensor([[6, 7, 2]])
    logits, nll = model(src, mask, tgt, targets)
    assert logits.shape == (3, 9)
    assert nll.item() == pytest.approx(F.cross_entropy(logits, targets[0]).item(), rel=1e-5)
    model.train()
    torch.manual_seed(0)
    model.drop.p = 0.0
    _, smoothed = model(src, mask, tgt, targets)
    expected = F.cross_entropy(logits, targets[0], label_smoothing=0.1)
    assert smoothed.item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="a source of 65 tokens is longer than max_len=64"):
        model.encode(torch.ones(1, 65, dtype=torch.long), torch.ones(1, 65, dtype=torch.bool))


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_in_the_source_does_not_change_the_translation_scores(arch):
    model = tiny_model(vocab_size=8, seed=3, arch=arch)
    src, padded = torch.tensor([[3, 4, 5]]), torch.tensor([[3, 4, 5, 0, 0]])
    tgt = torch.tensor([[1, 6, 7]])
    a, _ = model(src, src != 0, tgt)
    b, _ = model(padded, padded != 0, tgt)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_equals_brute_force_on_a_tiny_vocabulary(alpha, arch):
    model = tiny_model(vocab_size=6, seed=1, arch=arch)
    src = [3, 5, 4]
    L, eos, suppress = 3, 2, [0, 1]
    stepper = model.stepper(torch.tensor([src]), torch.ones(1, 3, dtype=torch.bool), 41, L + 1)
    found = batch_beam_search(stepper, torch.ones(1, 1, dtype=torch.long), L, num_beams=41,
                              length_penalty=alpha, length_norm="gnmt", eos_id=eos,
                              suppress=suppress, num_return_sequences=41)[0]
    norm = length_normaliser(alpha, "gnmt")
    candidates = []  # every hypothesis: ends at eos before L tokens, or runs to L tokens
    for n in range(L + 1):
        for body in itertools.product((3, 4, 5), repeat=n):
            if n < L:
                candidates.append((list(body), teacher_forced_log_prob(model, src,
                                                                       [*body, eos]) / norm(n)))
            else:
                candidates.append((list(body), teacher_forced_log_prob(model, src,
                                                                       list(body)) / norm(n)))
    candidates.sort(key=lambda c: -c[1])
    assert found[0][0] == candidates[0][0]
    assert found[0][1] == pytest.approx(candidates[0][1], abs=1e-4)
    assert [f[0] for f in found[:5]] == [c[0] for c in candidates[:5]]


@pytest.mark.parametrize("arch", ARCHS)
def test_batched_beam_search_equals_one_sentence_at_a_time(arch):
    from hybridnlp.train.data import pad_sequences

    model = tiny_model(vocab_size=12, seed=4, arch=arch)
    sources, limits = [[3, 4, 5, 6, 7, 8], [9, 3], [10, 11, 4, 5]], [8, 5, 7]

    def run(batch, max_new, use_cache=True):
        src, mask = pad_sequences(batch)
        stepper = model.stepper(src, mask, 4, 9, use_cache=use_cache)
        return batch_beam_search(stepper, torch.ones(len(batch), 1, dtype=torch.long),
                                 max_new, num_beams=4, length_penalty=0.6, length_norm="gnmt",
                                 eos_id=2, suppress=[0, 1], num_return_sequences=2)

    together = run(sources, limits)
    alone = [run([s], m)[0] for s, m in zip(sources, limits, strict=True)]
    uncached = run(sources, limits, use_cache=False)
    for hyps, one, slow, limit in zip(together, alone, uncached, limits, strict=True):
        assert [h for h, _ in hyps] == [h for h, _ in one] == [h for h, _ in slow]
        assert [s for _, s in hyps] == pytest.approx([s for _, s in one], abs=1e-4)
        assert len(hyps) == 2 and all(len(h) <= limit for h, _ in hyps)
        assert hyps[0][1] >= hyps[1][1]


def test_no_repeat_ngram_bans_exactly_the_tokens_that_repeat_an_ngram():
    assert banned_ngram_tokens([[5, 6, 5, 7, 5]], 2) == [[6, 7]]
    assert banned_ngram_tokens([[5, 6, 5]], 3) == [[]]
    assert banned_ngram_tokens([[5, 6, 7, 5, 6]], 3) == [[7]]
    assert banned_ngram_tokens([[4, 4]], 1) == [[4, 4]]


# ---------------------------------------------------------------------- the estimator

def test_fit_learns_the_toy_task_and_scores_bleu(fitted, toy):
    _, (Xt, yt) = toy
    history = fitted.history_
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert fitted.val_loss_ is not None and fitted.val_loss_ < math.log(fitted.config_.vocab_size)
    hyps = fitted.predict(Xt)
    assert len(hyps) == len(Xt) and all(isinstance(h, str) for h in hyps)
    bleu = fitted.score(Xt, yt)
    assert bleu == pytest.approx(corpus_bleu(hyps, yt).score)
    assert bleu > 15
    assert fitted.perplexity(Xt, yt) < 5


def test_generate_cached_equals_uncached_and_greedy_is_one_beam(fitted, toy):
    _, (Xt, _) = toy
    assert fitted.generate(Xt[:8], use_cache=False) == fitted.generate(Xt[:8])
    greedy = fitted.generate(Xt[:8], num_beams=1)
    assert fitted.generate(Xt[:8], num_beams=1, use_cache=False) == greedy
    one = fitted.generate(Xt[0], num_beams=1)
    assert isinstance(one, str) and one == greedy[0]
    # the decoding batch does not change a translation
    assert fitted.generate(Xt[:8], batch_size=3) == fitted.generate(Xt[:8])


def test_generate_options(fitted, toy):
    _, (Xt, _) = toy
    nbest = fitted.generate(Xt[:2], num_return_sequences=3, return_scores=True)
    assert [len(n) for n in nbest] == [3, 3]
    assert all(a[1] >= b[1] for n in nbest for a, b in zip(n, n[1:]))
    assert all(len(t.split()) <= 2 for t in fitted.generate(Xt[:4], max_new_tokens=2))
    s1 = fitted.generate(Xt[:4], do_sample=True, num_beams=1, seed=0, temperature=1.5)
    assert s1 == fitted.generate(Xt[:4], do_sample=True, num_beams=1, seed=0,
                                 temperature=1.5)
    for text in fitted.generate(Xt[:10], no_repeat_ngram_size=1):
        assert len(set(text.split())) == len(text.split())


def test_log_likelihood_is_the_sum_of_the_teacher_forced_token_log_probs(fitted, toy):
    _, (Xt, yt) = toy
    total, n = fitted.log_likelihood(Xt[:1], yt[:1])
    tok = fitted.tokenizer_
    ys = [*tok.encode(yt[0]), tok.eos_id]
    assert n == len(ys)
    assert total == pytest.approx(
        teacher_forced_log_prob(fitted.model_, tok.encode(Xt[0]), ys), abs=1e-4)


def test_save_load_round_trip(fitted, toy, tmp_path):
    _, (Xt, _) = toy
    fitted.save(tmp_path / "mt")
    loaded = Seq2SeqLM.load(tmp_path / "mt")
    assert loaded.predict(Xt[:10]) == fitted.predict(Xt[:10])
    assert loaded.get_params()["module__n_embd"] == 64
    meta = json.loads((tmp_path / "mt" / "config.json").read_text())
    meta["seq2seq"]["n_embd"] = 32
    (tmp_path / "mt" / "config.json").write_text(json.dumps(meta))
    shape = r"model\.safetensors': tensor '\w+\.weight' has shape \(64, 64\)"
    with pytest.raises(ValueError, match=shape):
        Seq2SeqLM.load(tmp_path / "mt")
    meta["kind"] = "CausalLM"
    (tmp_path / "mt" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="field 'kind' is 'CausalLM', expected 'Seq2SeqLM'"):
        Seq2SeqLM.load(tmp_path / "mt")


def test_params_and_clone():
    mt = Seq2SeqLM(preset="tiny", module__n_encoder_layers=2, num_beams=3)
    params = mt.get_params()
    assert params["module__n_encoder_layers"] == 2 and params["num_beams"] == 3
    assert params["optimizer__lr"] == 3e-3 and params["length_penalty"] == 0.6
    assert (params["trainer__optimizer"], params["trainer__min_lr_ratio"]) == ("muon", 0.0)
    assert clone(mt).get_params() == params
    with pytest.raises(ValueError, match="module__n_layers is not a parameter of Seq2SeqLM"):
        Seq2SeqLM(module__n_layers=2)


# ---------------------------------------------------------------------- bad input

@pytest.mark.parametrize("X, y, error, message", [
    ([], [], ValueError, "X is empty: got 0 texts"),
    (["a b", "c"], ["x"], ValueError, "X has 2 sources and y has 1 targets"),
    (["a", None], ["x", "y"], ValueError, r"X contains a missing value \(None\) at index 1"),
    (["a", "b"], ["x", float("nan")], ValueError, "y contains a missing value .* at index 1"),
    (["a", "b", ""], ["x", "y", "z"], ValueError, r"X\[2\] is an empty string"),
    ("a b", ["x"], TypeError, "X must be a list of str"),
    (["a"], None, TypeError, "y is None"),
])
def test_bad_pairs_are_refused_before_training(X, y, error, message):
    with pytest.raises(error, match=message):
        Seq2SeqLM(preset="tiny").fit(X, y)


def test_bad_settings_and_unfitted_models():
    with pytest.raises(ValueError, match="num_beams=0"):
        Seq2SeqLM(num_beams=0).fit(["a"], ["b"])
    with pytest.raises(ValueError, match="unknown sequence-to-sequence preset 'huge'"):
        Seq2SeqLM(preset="huge").fit(["a"], ["b"])
    with pytest.raises(ValueError, match="optimizer__lr=-1"):
        Seq2SeqLM(optimizer__lr=-1).fit(["a"], ["b"])
    with pytest.raises(NotFittedError, match="this Seq2SeqLM is not fitted yet"):
        Seq2SeqLM().predict(["a"])


def test_long_sources_are_truncated_with_a_warning_that_counts_them(fitted):
    long = " ".join(["red"] * 80)
    with pytest.warns(UserWarning, match="1 of 2 sources are longer than 64 tokens"):
        out = fitted.predict([long, "red cat"])
    assert len(out) == 2


# ---------------------------------------------------------------------- fusion and metrics

def test_fused_scores_are_the_translator_plus_the_weighted_lm(fitted, toy):
    (X, y), _ = toy
    lm = NGramLM(order=3, tokenizer=fitted.tokenizer_).fit(y)
    tok = fitted.tokenizer_
    src = torch.tensor([tok.encode("red cat")])
    main = Seq2SeqStepper(fitted.model_, src, torch.ones_like(src, dtype=torch.bool), 1, 10)
    seq = torch.tensor([[tok.bos_id, tok.encode("katze")[0], 0]])
    fused = FusedScorer(main, [(NGramStepper(lm, 1, (tok.eos_id,)), 0.5)]).log_probs(seq, 2)
    plain = F.log_softmax(Seq2SeqStepper(fitted.model_, src, torch.ones_like(
        src, dtype=torch.bool), 1, 10).logits(seq, 2), -1)
    with np.errstate(divide="ignore"):  # the special tokens have probability 0
        ngram = np.log(lm.next_token_probs([tok.eos_id, int(seq[0, 1])]))
    expected = plain + 0.5 * torch.from_numpy(ngram).float()
    finite = torch.isfinite(expected)
    torch.testing.assert_close(fused[finite], expected[finite], rtol=1e-4, atol=1e-4)


def test_shallow_fusion_chooses_its_weight_on_validation_bleu(fitted, toy):
    (X, y), (Xt, yt) = toy
    fusion = ShallowFusion(translator=fitted, lm=NGramLM(order=3), weights=(0.0, 0.3)).fit(
        X, y, validation_data=(Xt, yt))
    assert set(fusion.weight_scores_) == {0.0, 0.3}
    assert fusion.weight_ == max(fusion.weight_scores_, key=fusion.weight_scores_.get)
    assert fusion.lm_.tokenizer_ == fitted.tokenizer_
    plain = ShallowFusion(translator=fitted, lm=fusion.lm_, weight=0.0).fit(X, y)
    assert plain.predict(Xt) == fitted.predict(Xt)
    rerank = ShallowFusion(translator=fitted, lm=fusion.lm_, weight=0.3, method="rerank").fit(X, y)
    assert len(rerank.predict(Xt[:5])) == 5
    with pytest.raises(ValueError, match="pass validation_data"):
        ShallowFusion(translator=fitted).fit(X, y)
    other = NGramLM(order=2).fit(y)
    with pytest.raises(ValueError, match="lm was trained with another tokenizer"):
        fitted.generate(Xt[:1], lm=other, lm_weight=0.1)


def test_bleu_and_chrf_come_from_sacrebleu_with_their_signatures():
    import sacrebleu

    hyps, refs = ["the cat sat on the mat .", "a dog"], ["the cat sat on a mat .", "a dog ."]
    bleu = corpus_bleu(hyps, refs)
    assert bleu.score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert "tok:13a" in bleu.signature and "nrefs:1" in bleu.signature
    assert corpus_chrf(hyps, refs).score == pytest.approx(sacrebleu.corpus_chrf(hyps,
                                                                                [refs]).score)
    two = corpus_bleu(hyps, [[r, r] for r in refs])
    assert "nrefs:2" in two.signature
    with pytest.raises(ValueError, match="got 2 hypotheses and 1 references"):
        corpus_bleu(hyps, refs[:1])


# ---------------------------------------------------------------------- configs and CLI

def test_fusion_saves_and_loads_through_save_model(fitted, toy, tmp_path):
    from hybridnlp.persistence import load, save

    (X, y), (Xt, _) = toy
    fusion = ShallowFusion(translator=fitted, lm=NGramLM(order=3), weight=0.2).fit(X, y)
    save(fusion, tmp_path / "fused")
    loaded = load(tmp_path / "fused")
    assert isinstance(loaded, ShallowFusion) and loaded.weight_ == 0.2
    assert loaded.predict(Xt[:10]) == fusion.predict(Xt[:10])
    save(fitted, tmp_path / "plain")
    assert load(tmp_path / "plain").predict(Xt[:5]) == fitted.predict(Xt[:5])


def test_cli_translate_keeps_line_order_and_refuses_bad_input(fitted, toy, tmp_path, capsys):
    from conftest import cli_error

    from hybridnlp.cli import main
    from hybridnlp.persistence import save

    _, (Xt, _) = toy
    save(fitted, tmp_path / "mt")
    (tmp_path / "in.txt").write_text("\n".join([Xt[0], "", Xt[1], Xt[2]]) + "\n")
    assert main(["translate", str(tmp_path / "mt"), "--input", str(tmp_path / "in.txt"),
                 "--output", str(tmp_path / "out.txt"), "--quiet"]) == 0
    lines = (tmp_path / "out.txt").read_text().split("\n")
    assert lines[:4] == [*fitted.predict(Xt[:1]), "", *fitted.predict(Xt[1:3])]
    err = cli_error(["translate", str(tmp_path / "mt"), "--input", str(tmp_path / "no.txt")],
                    capsys)
    assert "input file" in err and "does not exist" in err
    NGramLM(order=2).fit(["a b"]).save(tmp_path / "lm")
    err = cli_error(["translate", str(tmp_path / "lm"), "--input", str(tmp_path / "in.txt")],
                    capsys)
    assert "is not a translation model (a Seq2SeqLM or ShallowFusion)" in err
    (tmp_path / "blank.txt").write_text("")
    err = cli_error(["translate", str(tmp_path / "mt"), "--input", str(tmp_path / "blank.txt")],
                    capsys)
    assert "blank.txt' holds no sentence (one sentence a line)" in err


def test_translation_config_checks(tmp_path):
    from hybridnlp.experiments import ConfigError, load_config

    base = {"name": "mt", "task": "translation", "data": {"name": "multi30k", "source": "de",
                                                          "target": "en"},
            "models": [{"type": "seq2seq_lm", "params": {"preset": "tiny"}}]}
    assert load_config(base).data.source == "de"
    bad = {**base, "data": {"name": "multi30k", "source": "fr"}}
    with pytest.raises(ConfigError, match="data.source: 'fr' is not a language of multi30k"):
        load_config(bad)
    with pytest.raises(ConfigError, match="reads the sentence pairs of a translation data set"):
        load_config({**base, "data": {"name": "mr"}})
    with pytest.raises(ConfigError, match="'nbsvm' is a classification or multilabel model, "
                                          "but task is "
                                          "'translation'"):
        load_config({**base, "models": [{"type": "nbsvm"}]})
    with pytest.raises(ConfigError, match="data.source: only the translation task"):
        load_config({"name": "c", "task": "classification",
                     "data": {"name": "mr", "source": "en"}, "models": [{"type": "nbsvm"}]})
    with pytest.raises(ConfigError, match="num_beams=0"):
        load_config({**base, "models": [{"type": "seq2seq_lm", "params": {"num_beams": 0}}]})


@requires_data_dir
def test_translation_run_writes_bleu_samples_and_curves(tmp_path):
    from hybridnlp.experiments import run

    config = {"name": "mt", "task": "translation", "output": str(tmp_path),
              "data": {"name": "multi30k", "source": "de", "target": "en", "limit": 120},
              "models": [{"name": "tiny", "type": "seq2seq_lm",
                          "params": {"preset": "tiny", "vocab_size": 300, "max_epochs": 2,
                                     "module__max_len": 160}}]}
    result = run(config, quiet=True)
    row = result.metrics["models"]["tiny"]
    assert {"bleu", "chrf", "bleu_dev", "sentences_per_s", "samples", "history"} <= set(row)
    assert len(row["samples"]) == 8 and row["samples"][0]["source"].startswith("Ein Mann")
    assert "tok:13a" in result.metrics["signature"]["bleu"]
    report = (result.run_dir / "report.md").read_text()
    assert "| tiny |" in report and "sacreBLEU signatures" in report
    assert (result.run_dir / "loss_curves.png").exists()
    assert (result.run_dir / "models" / "tiny" / "model.safetensors").exists()


# ---------------------------------------------------------------------- the shared contract

def _tiny(**kw):
    return Seq2SeqLM(**{"preset": "tiny", "tokenizer": "word", "max_epochs": 2,
                        "random_state": 0, "validation_fraction": None, **kw})


def test_keyword_only_init_pickle_refit_and_grid_search_on_bleu(toy):
    import pickle

    from sklearn.model_selection import GridSearchCV, KFold
    from test_contract import test_init_is_keyword_only_and_stores_verbatim

    (X, y), (Xt, yt) = toy
    test_init_is_keyword_only_and_stores_verbatim(_tiny(module__n_embd=48))
    est = _tiny().fit(X[:400], y[:400])
    expected = est.predict(Xt[:10])
    assert pickle.loads(pickle.dumps(est)).predict(Xt[:10]) == expected
    assert est.fit(X[:100], y[:100]).fit(X[:400], y[:400]).predict(Xt[:10]) == expected
    search = GridSearchCV(_tiny(), {"num_beams": [1, 3]}, cv=2).fit(X[:200], y[:200])
    by_hand = [np.mean([_tiny(num_beams=k).fit([X[i] for i in tr], [y[i] for i in tr])
                        .score([X[i] for i in te], [y[i] for i in te])
                        for tr, te in KFold(2).split(X[:200])]) for k in (1, 3)]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], by_hand)  # BLEU
    assert search.best_params_ == {"num_beams": [1, 3][int(np.argmax(by_hand))]}


def test_an_interrupted_fit_resumes_to_the_same_model(toy, tmp_path):
    from test_neural import _StopAfter  # raises KeyboardInterrupt after an epoch

    (X, y), (Xt, _) = toy
    params = dict(max_epochs=4, checkpoint_dir=tmp_path)
    full = _tiny(**params).fit(X[:300], y[:300]).predict(Xt[:10])
    with pytest.raises(KeyboardInterrupt):
        _tiny(**params, callbacks=[_StopAfter(2)]).fit(X[:300], y[:300])
    resumed = _tiny(**params).fit(X[:300], y[:300], resume=True)
    assert [row["epoch"] for row in resumed.history_] == [1, 2, 3, 4]
    assert resumed.predict(Xt[:10]) == full


def test_fusion_with_a_causal_lm_reads_eos_then_the_target(fitted, toy):
    from hybridnlp.lm import CausalLM

    (X, y), (Xt, _) = toy
    gpt = CausalLM(preset="gpt-nano", tokenizer=fitted.tokenizer_, max_steps=20,
                   random_state=0).fit(y[:500])
    plain = fitted.generate(Xt[:6])
    assert fitted.generate(Xt[:6], lm=gpt, lm_weight=0.0) == plain
    fused = fitted.generate(Xt[:6], lm=gpt, lm_weight=5.0, return_scores=True)
    unfused = fitted.generate(Xt[:6], return_scores=True)
    assert [s for _, s in fused] != pytest.approx([s for _, s in unfused])


def test_the_prefix_lm_architecture_fits_decodes_and_round_trips(toy, tmp_path):
    (X, y), (Xt, yt) = toy
    mt = Seq2SeqLM(preset="tiny", tokenizer="word", architecture="prefix_lm", max_epochs=3,
                   random_state=0, module__n_embd=64, optimizer__lr=3e-3).fit(X, y)
    assert type(mt.model_).__name__ == "PrefixLM" and len(mt.model_.blocks) == 2
    assert mt.history_[-1]["train_loss"] < mt.history_[0]["train_loss"]
    assert mt.generate(Xt[:8], use_cache=False) == mt.generate(Xt[:8])
    total, n = mt.log_likelihood(Xt[:1], yt[:1])
    tok = mt.tokenizer_
    ys = [*tok.encode(yt[0]), tok.eos_id]
    assert total == pytest.approx(teacher_forced_log_prob(mt.model_, tok.encode(Xt[0]), ys),
                                  abs=1e-4)
    mt.save(tmp_path / "p")
    assert Seq2SeqLM.load(tmp_path / "p").predict(Xt[:5]) == mt.predict(Xt[:5])
    with pytest.raises(ValueError, match="architecture='rnn' is not allowed"):
        Seq2SeqLM(architecture="rnn").fit(["a"], ["b"])


def test_sinusoidal_positions_and_scaled_embeddings():
    from hybridnlp.nn.seq2seq import sinusoids

    table = sinusoids(10, 8)
    assert torch.equal(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table[3, 0] == pytest.approx(math.sin(3.0)) and table[3, 1] == pytest.approx(
        math.cos(3.0))
    for arch in ARCHS:
        torch.manual_seed(0)
        config = Seq2SeqConfig.from_preset("tiny", vocab_size=9, positions="sinusoidal",
                                           scale_embedding=True)
        model = ARCHITECTURES[arch](config).eval()
        assert not any("pos" in k or "wpe" in k for k in model.state_dict())  # not saved
        src = torch.tensor([[3, 4, 5]])
        logits, _ = model(src, src != 0, torch.tensor([[1, 6]]))
        assert logits.shape == (1, 2, 9) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="positions='rope' is not allowed"):
        Seq2SeqConfig(positions="rope")


@pytest.mark.parametrize("arch", ARCHS)
def test_muon_takes_the_blocks_matrices_and_adamw_the_rest(arch):
    model = tiny_model(arch=arch)
    blocks = model.blocks if arch == "prefix_lm" else [*model.encoder, *model.decoder]
    matrices = [p for b in blocks for p in b.parameters() if p.dim() == 2]
    assert [id(p) for p in model.hidden_matrices()] == [id(p) for p in matrices]
    muon, adamw = Trainer(optimizer="muon").make_optimizer(model).optimizers
    assert [id(p) for g in muon.param_groups for p in g["params"]] == [id(p) for p in matrices]
    rest = {id(p) for g in adamw.param_groups for p in g["params"]}
    assert model.wte.weight.dim() == 2 and id(model.wte.weight) in rest  # tied embedding
    assert rest | {id(p) for p in matrices} == {id(p) for p in model.parameters()}
