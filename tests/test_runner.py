"""The experiment runner: run directories, reports, resume, signals, LM and topic runs."""

import csv
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import _with
from sklearn.model_selection import StratifiedKFold, cross_val_score
from yaml import safe_dump as yaml_dump
from yaml import safe_load as yaml_load

from hybridnlp import load_dataset
from hybridnlp.exceptions import DataError
from hybridnlp.experiments import (
    ConfigError,
    build_model,
    compare_runs,
    load_config,
    run,
)
from hybridnlp.persistence import load


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_run_matches_the_direct_api_and_writes_a_full_run_directory(tmp_path):
    result = run(_with(output=str(tmp_path), **{"evaluation.metrics": ["accuracy"]}),
                 quiet=True)
    d = result.run_dir
    metrics = json.loads((d / "metrics.json").read_text())
    mr = load_dataset("mr")
    keep = np.sort(np.random.default_rng(0).choice(len(mr.data), 300, replace=False))
    X, y = [mr.data[i] for i in keep], mr.target[keep]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    direct = cross_val_score(build_model("nbsvm", {}), X, y, cv=cv)
    assert metrics["models"]["nbsvm"]["accuracy"] == pytest.approx(direct.mean(), abs=1e-12)
    assert [f["accuracy"] for f in metrics["models"]["nbsvm"]["folds"]] == pytest.approx(direct)
    for name in ("config.yaml", "predictions.csv", "log.txt", "report.md"):
        assert (d / name).stat().st_size > 0
    assert metrics["environment"]["torch"] and metrics["wall_time"] > 0
    report = (d / "report.md").read_text()
    for png in ("accuracy.png", "confusion.png"):
        assert f"]({png})" in report
        assert _png_size(d / png) == (640, 400)
    lines = (d / "predictions.csv").read_text().splitlines()
    assert lines[0] == "index,text,label,nbsvm" and len(lines) == 301
    # accuracy by slice: the classes partition the 300 texts; a text's unseen words are
    # counted against the training texts of its own fold
    slices = metrics["slices"]["nbsvm"]
    assert list(slices) == ["length", "class", "unseen words"]
    assert sum(r["n"] for r in slices["class"].values()) == 300
    proba, truth = np.zeros((300, 2)), np.zeros(300, int)
    for tr, te in cv.split(X, y):
        proba[te] = build_model("nbsvm", {}).fit([X[i] for i in tr], y[tr]).predict_proba(
            [X[i] for i in te])
        truth[te] = y[te]
    pooled = sum(r["n"] * r["accuracy"] for r in slices["class"].values()) / 300
    assert pooled == pytest.approx(np.mean(proba.argmax(1) == truth))
    # the reliability diagram's bins are the pooled out-of-fold probabilities'
    from hybridnlp.utils.calibration import expected_calibration_error

    reliability = metrics["reliability"]["nbsvm"]
    assert reliability["ece"] == pytest.approx(expected_calibration_error(truth, proba))
    assert sum(b["n"] for b in reliability["bins"]) == 300
    assert "![reliability diagram](reliability.png)" in report
    from hybridnlp.experiments.slices import UNSEEN_BUCKETS
    from hybridnlp.text import WordTokenizer

    counts = {}
    for tr, te in cv.split(X, y):
        seen = {w for i in tr for w in WordTokenizer()(X[i])}
        for i in te:
            words = WordTokenizer()(X[i])
            u = np.mean([w not in seen for w in words]) if words else 0.0
            name = next(name for low, high, name in UNSEEN_BUCKETS
                        if (low < u <= high if high > low else u == 0))
            counts[name] = counts.get(name, 0) + 1
    assert {k: r["n"] for k, r in slices["unseen words"].items()} == counts
    assert "## Where the models fail: accuracy by slice (nbsvm)" in report
    assert _png_size(d / "slices.png")[0] == 640
    table = compare_runs([d, d])
    assert table.count(" | nbsvm | accuracy |") == 2  # a row per run
    assert "| nbsvm | " in table and "| +0.0000 | ± 0.0000 | paired over the same 300 texts |" \
        in table and "Config keys that differ: none." in table
    # another C: the same 300 texts and folds, so the difference is paired per text
    other = run(_with(output=str(tmp_path), **{"evaluation.metrics": ["accuracy"],
                                               "models.0.params": {"clf__C": 0.1}}),
                quiet=True).run_dir
    right = []
    for run_dir in (d, other):
        with open(run_dir / "predictions.csv", newline="", encoding="utf-8") as f:
            right.append(np.array([r[3] == r[2] for r in list(csv.reader(f))[1:]], float))
    half = 1.96 * (right[1] - right[0]).std(ddof=1) / 300 ** 0.5
    table = compare_runs([d, other])
    second = json.loads((other / "metrics.json").read_text())["models"]["nbsvm"]["accuracy"]
    assert (f"| {second - metrics['models']['nbsvm']['accuracy']:+.4f} | ± {half:.4f} | "
            f"paired over the same 300 texts |") in table
    assert "Config keys that differ: `models.0.params.clf__C`: None -> 0.1." in table
    # another seed samples other texts: the runs' spreads over folds, not paired
    reseeded = run(_with(output=str(tmp_path), seed=1, **{"evaluation.metrics": ["accuracy"]}),
                   quiet=True).run_dir
    assert "spreads over 3 and 3 folds |" in compare_runs([d, reseeded])


def _comparable(metrics: dict) -> dict:
    """metrics.json without the fields that depend on when and how long it ran."""
    drop = {"wall_time", "finished", "environment", "fit_time", "fit_time_std"}
    out = {k: v for k, v in metrics.items() if k not in drop}
    out["models"] = {name: {k: v for k, v in row.items() if k not in drop}
                     for name, row in metrics["models"].items()}
    return out


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_to_the_metrics_of_an_uninterrupted_one(tmp_path,
                                                                         monkeypatch):
    import hybridnlp.experiments.classification as runner  # where each fold's fit runs

    config = _with(output=str(tmp_path / "a"), models=[{"type": "nbsvm"}, {"type": "tfidf_lr"}])
    whole = run(config, quiet=True)
    real_fit, fits = runner._fit, []

    def fit_then_stop(model, *args, **kwargs):  # the 5th fit (tfidf_lr, fold 1) is cut off
        fits.append(type(model).__name__)
        if len(fits) == 5:
            raise Interrupted
        return real_fit(model, *args, **kwargs)

    monkeypatch.setattr(runner, "_fit", fit_then_stop)
    config["output"] = str(tmp_path / "b")
    with pytest.raises(Interrupted):
        run(config, quiet=True)
    (run_dir,) = (tmp_path / "b").iterdir()
    assert not (run_dir / "metrics.json").exists()
    assert sorted(p.name for p in (run_dir / "progress").iterdir()) == [
        "0-nbsvm.json", "1-tfidf_lr-fold0.json"]  # the last fold is kept with its model
    fits.clear()
    resumed = run(resume=run_dir, quiet=True)
    assert len(fits) == 2  # tfidf_lr folds 1 and 2; nbsvm and fold 0 come from the records
    assert resumed.run_dir == run_dir and resumed.metrics["resumed"]
    assert _comparable(resumed.metrics) == _comparable(whole.metrics) | {"resumed": True}
    assert (run_dir / "predictions.csv").read_text() == \
        (whole.run_dir / "predictions.csv").read_text()
    assert set(resumed.models) == {"nbsvm", "tfidf_lr"}  # nbsvm loaded from models/
    fits.clear()
    run(config, quiet=True, resume=run_dir)  # everything recorded: nothing is refit
    assert fits == []
    config["data"]["limit"] = 200
    with pytest.raises(ValueError, match=r"the config differs from the one in .*config.yaml' "
                                         r"at data\.limit \(200 vs 300\); resume with the same"):
        run(config, resume=run_dir)
    with pytest.raises(FileNotFoundError, match="is not a run directory"):
        run(resume=tmp_path)


def test_hybrid_components_targets_and_the_results_section_of_one_run(tmp_path):
    from hybridnlp.experiments.report import write_results_section

    tiny = {"transformer__max_epochs": 1, "transformer__preset": "tiny", "cv": 2}
    config = tmp_path / "h.yaml"
    config.write_text(yaml_dump({
        "name": "h", "task": "classification", "output": str(tmp_path / "runs"),
        "description": "A tiny hybrid.", "data": {"name": "sst2", "test_split": "test",
                                                  "limit": 240},
        "models": [{"type": "hybrid", "params": tiny},
                   {"type": "hybrid", "name": "stacked", "params": {
                       **tiny, "final_estimator": {"type": "simplex_weights"}}},
                   {"type": "nbsvm"}],
        "evaluation": {"metrics": ["accuracy"], "targets": {"hybrid": 0.0, "nbsvm": 1.0}}}))
    result = run(config, quiet=True)
    row = result.metrics["models"]["hybrid"]
    test = load_dataset("sst2", split="test")
    keep = np.sort(np.random.default_rng(0).choice(len(test.data), 240, replace=False))
    X, y = [test.data[i] for i in keep], test.target[keep]
    direct = result.models["hybrid"].component_report(X, y).summary["accuracy"]
    assert row["components"] == pytest.approx(direct) and set(direct) == {
        "nbsvm", "tfidf", "mnb", "fasttext", "transformer", "final"}
    assert row["accuracy"] == pytest.approx(direct["final"])
    # two hybrids of the same components: the second reuses the first one's fits
    names = ["nbsvm", "tfidf", "mnb", "fasttext", "transformer"]
    assert "shared_components" not in row
    assert result.metrics["models"]["stacked"]["shared_components"] == names
    stacked = result.models["stacked"]
    assert all(stacked.named_estimators_[n] is result.models["hybrid"].named_estimators_[n]
               for n in names)
    assert stacked.final_estimator_.weights_.shape == (len(names),)  # the config's meta learner
    assert ("Fits shared between hybrids (`hybridnlp.hybrid.share_fits`): stacked reused nbsvm, "
            "tfidf, mnb, fasttext, transformer from an earlier model's fit") in (
        result.run_dir / "report.md").read_text()
    results = tmp_path / "RESULTS.md"
    write_results_section([result.run_dir], results, "tiny")
    text = results.read_text()
    assert f"Command: `hybridnlp run {config}`" in text and "A tiny hybrid." in text
    for comp in names:
        assert f"| hybrid: component {comp} | {direct[comp]:.4f} | - | - | - |" in text
    assert f"| hybrid | **{direct['final']:.4f}** | - |" in text  # one test split: no spread
    assert "| 0: met |" in text
    assert "stacked reused " + ", ".join(names) + " from an earlier model's fit" in text
    nbsvm = result.metrics["models"]["nbsvm"]["accuracy"]
    assert f"| 1: missed by {1 - nbsvm:.4f} |" in text
    assert "![h](tiny.png)" in text and _png_size(tmp_path / "tiny.png") == (640, 400)
    with pytest.raises(ConfigError, match=r"^evaluation.targets.hybird: no model is named "
                                          r"'hybird'. Did you mean 'hybrid'\?"):
        load_config({**yaml_load(config.read_text()), "evaluation": {"targets": {"hybird": 1}}})


def test_language_modeling_and_topic_runs(tmp_path):
    lm = run({"name": "lm", "task": "language_modeling", "output": str(tmp_path),
              "data": {"name": "tinyshakespeare", "limit": 20000},
              "models": [{"type": "causal_lm", "params": {"preset": "gpt-nano",
                                                          "max_steps": 20,
                                                          "eval_interval": 10}},
                         {"type": "ngram_lm", "params": {"order": 3, "tokenizer": "char"}}],
              "evaluation": {"max_new_tokens": 20}}, quiet=True)
    rows = lm.metrics["models"]
    assert rows["causal_lm"]["perplexity"] > rows["ngram_lm"]["perplexity"] > 1
    assert 0 < len(rows["causal_lm"]["samples"][0]) <= 20  # ends early at <eos>
    assert _png_size(lm.run_dir / "loss_curves.png") == (640, 400)
    assert load(lm.run_dir / "models" / "ngram_lm").perplexity("First Citizen") == \
        pytest.approx(lm.models["ngram_lm"].perplexity("First Citizen"))
    topics = run({"name": "tp", "task": "topic_modeling", "output": str(tmp_path),
                  "data": {"name": "mr", "limit": 300},
                  "models": [{"type": "topics", "params": {"n_topics": 3, "random_state": 0}}],
                  "evaluation": {"top_words": 5}}, quiet=True)
    row = topics.metrics["models"]["topics"]
    assert len(row["top_words"]) == 3 and all(len(w) == 5 for w in row["top_words"])
    assert "Top words of topics" in (topics.run_dir / "report.md").read_text()


# ---------------------------------------------------------------------- CLI


def test_pretrained_word_vectors_reach_the_models_and_the_report(tmp_path):
    from hybridnlp.experiments import pretrain as pretrain_module

    tiny = {"preset": "tiny", "max_epochs": 1, "module__n_embd": 16,
            "word_vectors": {"pretrained": "word2vec"}}
    values = {**_with(models=[{"type": "transformer", "params": tiny}]),
              "data": {"name": "trec", "test_split": "test", "limit": 300},
              "output": str(tmp_path / "runs"),
              "pretrain": {"word2vec": {"corpus": ["mr", "subj", "trec:train"],
                                        "vector_size": 16, "epochs": 1}}}
    result = run(values, quiet=True)
    info = result.metrics["pretrain"]["word2vec"]
    assert info["n_texts"] == 10662 + 10000 + 5452
    assert info["corpus"] == ["mr", "subj", "trec:train"]
    assert info["vector_size"] == 16 and info["method"] == "CBOW"
    path = result.run_dir / "pretrain" / "word2vec.bin"
    assert result.pretrained == {"word2vec": str(path)}
    model = result.models["transformer"]
    assert model.word_vectors == str(path)
    from hybridnlp.features import load_word_vectors

    assert len(load_word_vectors(path)) == info["vocabulary"]
    assert model.n_embeddings_initialised_ > 100
    report = (result.run_dir / "report.md").read_text()
    assert ("Unsupervised pretraining: word2vec (CBOW, 16 dimensions, 1 epochs) on the "
            "unlabelled texts of mr, subj, trec:train (26,114 texts,") in report
    # a resumed run reuses the vectors of its first attempt
    calls = []
    original = pretrain_module._word2vec
    pretrain_module._word2vec = lambda *a: calls.append(a) or original(*a)
    try:
        (result.run_dir / "progress" / "0-transformer.json").unlink()
        again = run(resume=result.run_dir, quiet=True)
    finally:
        pretrain_module._word2vec = original
    assert calls == [] and again.metrics["pretrain"] == result.metrics["pretrain"]
    first, second = result.metrics["models"], again.metrics["models"]
    assert second["transformer"]["accuracy"] == pytest.approx(first["transformer"]["accuracy"])


def test_pretraining_corpus_from_data_sets_and_files(tmp_path):
    import gzip

    from hybridnlp.experiments.pretrain import corpus_texts

    plain, packed = tmp_path / "a.txt", tmp_path / "b.txt.gz"
    plain.write_text("first text\n\nsecond text\n", "utf-8")
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write("third text\n")
    texts = corpus_texts([str(plain), "trec:test", str(packed)])
    assert texts[:2] == ["first text", "second text"] and texts[-1] == "third text"
    assert texts[2:-1] == load_dataset("trec", split="test").data  # 500 questions
    missing = str(tmp_path / "none.txt")
    with pytest.raises(DataError, match=r"^pretraining corpus\[0\]: pretraining corpus file "
                                        r".*none\.txt' does not exist; name a data set or a "
                                        r"local text file with one text per line\.$"):
        corpus_texts([missing])
    config = load_config(_with(pretrain={"word2vec": {"corpus": [str(plain)]}}))
    assert config.pretrain.word2vec.corpus == [str(plain)]  # files pass the leakage check


SLOW_STACK = """
import sys, time
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from hybridnlp import StackingClassifier, TfidfFeatures
from hybridnlp.utils.signals import exit_on_sigterm

class Slow(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        print("fitting", flush=True)
        time.sleep(60)
        return self

stack = StackingClassifier(estimators=[
    ("tfidf", make_pipeline(TfidfFeatures(), LogisticRegression())), ("slow", Slow())], cv=2)
if sys.argv[1] == "handled":
    with exit_on_sigterm():
        stack.fit(["a good film", "a bad film"] * 5, [1, 0] * 5)
else:
    stack.fit(["a good film", "a bad film"] * 5, [1, 0] * 5)
"""


@pytest.mark.parametrize("mode", ["handled", "default"])
def test_sigterm_removes_the_stacking_cache_when_handled(tmp_path, mode):
    import os
    import signal

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_STACK, mode], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "fitting\n"
        assert len(list(tmp_path.glob("hybridnlp-stack-*"))) == 1  # the cache, mid-fit
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == (143 if mode == "handled" else -signal.SIGTERM)
    finally:
        proc.kill()
    left = list(tmp_path.glob("hybridnlp-stack-*"))
    assert len(left) == (0 if mode == "handled" else 1)  # unhandled: left behind


def test_exit_on_sigterm_restores_the_previous_handler():
    import signal

    from hybridnlp.utils.signals import exit_on_sigterm

    before = signal.getsignal(signal.SIGTERM)
    with exit_on_sigterm():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(SystemExit) as info:
            signal.raise_signal(signal.SIGTERM)
        assert info.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_two_resumes_of_one_run_get_in_use_and_run_files_follow_the_umask(tmp_path):
    import os

    from hybridnlp.exceptions import InUseError
    from hybridnlp.utils.io import exclusive_lock

    old = os.umask(0o022)
    try:
        result = run(_with(output=str(tmp_path)), quiet=True)
    finally:
        os.umask(old)
    for name in ("metrics.json", "config.yaml", "predictions.csv", "report.md"):
        assert (result.run_dir / name).stat().st_mode & 0o777 == 0o644, name
    with exclusive_lock(result.run_dir / ".lock", "the first resume"):
        where = re.escape(repr(str(result.run_dir)))
        with pytest.raises(InUseError, match=rf"^run directory {where} is in use by process "
                                             rf"{os.getpid()}"):
            run(None, resume=result.run_dir, quiet=True)


def test_pretrained_causal_lm_initialises_the_transformer(tmp_path):
    params = {"init_from": {"pretrained": "causal_lm"}, "max_len": 32, "max_epochs": 1,
              "patience": None}
    values = {**_with(models=[{"type": "transformer", "params": params}]),
              "data": {"name": "trec", "test_split": "test", "limit": 120},
              "output": str(tmp_path / "runs"),
              "pretrain": {"causal_lm": {"corpus": ["subj"], "preset": "gpt-nano",
                                         "tokenizer": "char", "block_size": 32,
                                         "max_time": None, "max_steps": 5}}}
    result = run(values, quiet=True)
    info = result.metrics["pretrain"]["causal_lm"]
    path = result.run_dir / "pretrain" / "causal_lm"
    assert info["n_texts"] == 10000 and info["steps"] == 5 and info["tokens"] > 10 ** 6
    assert result.pretrained == {"causal_lm": str(path)}
    model = result.models["transformer"]
    assert model.init_from == str(path) and type(model.model_).__name__ == "GPTClassifier"
    report = (result.run_dir / "report.md").read_text()
    assert ("Unsupervised pretraining: a causal LM (gpt-nano preset, char tokens, 5 steps, "
            "validation loss") in report


def test_pretrain_causal_lm_section_is_checked_at_load():
    from hybridnlp.experiments.config import ConfigError, from_dict

    values = {**_with(), "pretrain": {"causal_lm": {"corpus": ["trec"], "preset": "gpt-nona"}}}
    with pytest.raises(ConfigError, match="pretrain.causal_lm: unknown GPT preset 'gpt-nona'"):
        from_dict(values)
