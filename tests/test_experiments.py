"""Experiment configs, the runner, reports, persistence and the CLI."""

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score
from yaml import safe_dump as yaml_dump
from yaml import safe_load as yaml_load

from hybridnlp import load_dataset
from hybridnlp.cli import main
from hybridnlp.experiments import (
    ConfigError,
    apply_overrides,
    build_model,
    compare_runs,
    load_config,
    run,
)
from hybridnlp.persistence import load_model, save_model

EXPERIMENTS = sorted((Path(__file__).parents[1] / "experiments").glob("*.yaml"))

BASE = {"name": "t", "task": "classification", "data": {"name": "mr", "limit": 300},
        "models": [{"type": "nbsvm"}], "evaluation": {"cv": 3}}


def _with(**changes):
    values = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        node = values
        *head, last = key.split(".")
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return values


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_every_experiment_config_validates(path):
    config = load_config(path)
    assert config.models and config.name


def test_experiments_folder_has_the_quickstart_and_benchmarks():
    names = {p.name for p in EXPERIMENTS}
    assert {"quickstart.yaml", "shakespeare_char.yaml", "sst2_hybrid.yaml"} <= names


@pytest.mark.parametrize("values, message", [
    (_with(**{"data.nmae": "mr"}), "data.nmae: unknown key. Did you mean 'name'?"),
    (_with(seed="one"), "seed: expected int, got str 'one'."),
    (_with(**{"evaluation.cv": 1.5}), "evaluation.cv: expected int, got float 1.5."),
    (_with(**{"models.0.type": "nbsmv"}), "models[0].type: unknown model 'nbsmv'. Did you mean "
                                          "'nbsvm'?"),
    (_with(**{"models.0.params": {"clf__c": 4}}), "models[0].params.clf__c: Pipeline has no "
                                                  "parameter 'clf__c'. Did you mean 'clf__C'?"),
    (_with(**{"models.0.type": "causal_lm"}), "models[0].type: 'causal_lm' is a "
                                              "language_modeling model, but task is "
                                              "'classification'."),
    (_with(**{"models.0.type": "simplex_weights"}),
     "models[0].type: 'simplex_weights' is a meta learner, not a model of texts; give it as the "
     "final_estimator of a stacking or hybrid model: {type: hybrid, params: {final_estimator: "
     "{type: simplex_weights}}}."),
    (_with(task="clasification"), "task: 'clasification' is not a task. Did you mean "
                                  "'classification'?"),
    (_with(**{"evaluation.metrics": ["acuracy"]}), "evaluation.metrics[0]: unknown metric "
                                                   "'acuracy'. Did you mean 'accuracy'?"),
    (_with(**{"data.path": "x.csv"}), "data: give exactly one of 'name' (a data set) and "
                                      "'path' (a file)."),
    ({"name": "t", "task": "classification", "models": []}, "data: required key is missing."),
    (_with(models=[]), "models: the list is empty"),
    (_with(models=[{"type": "nbsvm"}, {"type": "nbsvm"}]), "models[1].name: 'nbsvm' is used "
                                                          "twice"),
    (_with(pretrain={"word2vec": {"corpus": ["trec", "mr"]}}),
     "pretrain.word2vec.corpus[1]: 'mr' holds the texts 'mr' is scored on, so pretraining "
     "would see them; use other data sets (it is cross-validated, so every text is a test "
     "text once)."),
    ({**_with(pretrain={"word2vec": {"corpus": ["sst5"]}}), "data": {
        "name": "sst2", "test_split": "test"}},
     "pretrain.word2vec.corpus[0]: 'sst5' holds the texts 'sst2' is scored on, so pretraining "
     "would see them; use sst2:train or other data sets."),
    (_with(pretrain={"word2vec": {"corpus": ["subj"]}}),  # Subj shares MR's snippets
     "pretrain.word2vec.corpus[0]: 'subj' holds the texts 'mr' is scored on"),
    (_with(pretrain={"word2vec": {"corpus": ["trec:dev"]}}),
     "pretrain.word2vec.corpus[0]: 'trec' has no split 'dev'; its splits are train, test."),
    (_with(pretrain={"word2vec": {"corpus": ["imbd"]}}),
     "pretrain.word2vec.corpus[0]: 'imbd' is neither a data set"),
    (_with(pretrain={"word2vec": {"corpus": []}}), "pretrain.word2vec.corpus: the list is "
                                                   "empty"),
    (_with(**{"models.0.type": "hybrid", "models.0.params": {"embeddings": {
        "pretrained": "word2vec"}}}),
     "models[0].params.embeddings: {pretrained: word2vec} names nothing the config pretrains "
     "(pretrain sections: none); add pretrain.word2vec."),
])
def test_bad_configs_get_the_exact_message(values, message):
    with pytest.raises(ConfigError) as err:
        load_config(values)
    assert str(err.value).startswith(message)


def test_yaml_is_loaded_safely():
    evil = "name: x\ntask: !!python/object/apply:os.system ['echo pwned']\n"
    with pytest.raises(ConfigError, match="^config:2: tag 'tag:yaml.org,2002:python/object/"
                                          "apply:os.system' is not allowed; a config holds"):
        load_config(evil)


def test_overrides_reach_nested_keys():
    values = apply_overrides(BASE, ["seed=3", "models[0].params.clf__C=4",
                                    "evaluation.metrics=[accuracy]"])
    config = load_config(values)
    assert config.seed == 3 and config.models[0].params == {"clf__C": 4}
    assert config.evaluation.metrics == ["accuracy"]
    assert "seed" not in BASE  # the input is not modified
    with pytest.raises(ConfigError, match="--set seed: expected KEY=VALUE"):
        apply_overrides(BASE, ["seed"])


def test_nested_model_specs_build_members():
    stack = build_model("stacking", {"estimators": [{"type": "nbsvm", "name": "a"},
                                                    {"type": "tfidf_lr", "name": "b"}]})
    assert [name for name, _ in stack.estimators] == ["a", "b"]


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
    table = compare_runs([d, d])
    assert table.count("| nbsvm |") == 2


def test_saved_model_loads_in_a_fresh_process_and_predicts_identically(tmp_path):
    result = run(_with(output=str(tmp_path), **{"data.test_split": "test", "data.name": "sst2",
                                                "data.limit": 400}), quiet=True)
    model_dir = result.run_dir / "models" / "nbsvm"
    texts = list(load_dataset("sst2", split="test").data[:50])  # any texts
    expected = result.models["nbsvm"].predict_proba(texts)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = ("import json, numpy as np; from hybridnlp.persistence import load_model; "
            f"m = load_model({str(model_dir)!r}); "
            f"t = json.load(open({str(tmp_path / 'texts.json')!r})); "
            "print(json.dumps(m.predict_proba(t).tolist()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert np.array_equal(np.array(json.loads(out)), expected)


def test_persistence_of_a_transformer_and_refusal_of_foreign_types(tmp_path):
    mr = load_dataset("mr")
    idx = np.random.default_rng(0).permutation(len(mr.data))[:200]
    X, y = [mr.data[i] for i in idx], mr.target[idx]
    clf = build_model("transformer", {"max_epochs": 1, "module__n_layer": 1}).fit(X, y)
    save_model(clf, tmp_path / "clf")
    assert np.array_equal(load_model(tmp_path / "clf").predict_proba(X), clf.predict_proba(X))
    for kind, params in (("stacking", {}), ("ensemble", {"gating": True}),
                         ("fusion", {"max_epochs": 1})):
        model = build_model(kind, params).fit(X, y)
        save_model(model, tmp_path / kind)
        restored = load_model(tmp_path / kind)
        assert type(restored) is type(model)
        assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))
    import skops.io as sio

    sio.dump({"f": Path("x")}, tmp_path / "clf" / "model.skops")
    with pytest.raises(ValueError, match="names types or functions outside the allow-list: "
                                         "\\['pathlib.PosixPath'\\]; it was not loaded"):
        load_model(tmp_path / "clf")
    with pytest.raises(FileNotFoundError, match="holds no model"):
        load_model(tmp_path)


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

    tiny = {"transformer__max_epochs": 1, "transformer__preset": "tiny"}
    config = tmp_path / "h.yaml"
    config.write_text(yaml_dump({
        "name": "h", "task": "classification", "output": str(tmp_path / "runs"),
        "description": "A tiny hybrid.", "data": {"name": "sst2", "test_split": "test",
                                                  "limit": 240},
        "models": [{"type": "hybrid", "params": tiny},
                   {"type": "hybrid", "name": "stacked", "params": {
                       **tiny, "final_estimator": {"type": "logistic_regression"}}},
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
    assert stacked.final_estimator_.coef_.shape == (1, len(names))  # the config's meta learner
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
    assert load_model(lm.run_dir / "models" / "ngram_lm").perplexity("First Citizen") == \
        pytest.approx(lm.models["ngram_lm"].perplexity("First Citizen"))
    topics = run({"name": "tp", "task": "topic_modeling", "output": str(tmp_path),
                  "data": {"name": "mr", "limit": 300},
                  "models": [{"type": "topics", "params": {"n_topics": 3, "random_state": 0}}],
                  "evaluation": {"top_words": 5}}, quiet=True)
    row = topics.metrics["models"]["topics"]
    assert len(row["top_words"]) == 3 and all(len(w) == 5 for w in row["top_words"])
    assert "Top words of topics" in (topics.run_dir / "report.md").read_text()


# ---------------------------------------------------------------------- CLI


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["report", "--help"],
                                  ["predict", "--help"], ["train-lm", "--help"],
                                  ["generate", "--help"], ["datasets", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "usage: hybridnlp" in capsys.readouterr().out


def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'frobnicate'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: classification\ndata: {name: mr}\nmodels: [{type: nbsmv}]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == ("hybridnlp run: error: models[0].type: unknown model 'nbsmv'. Did you mean "
                   "'nbsvm'? Registered: " + err.split("Registered: ")[1])
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(tmp_path / "missing.yaml")])
    assert exit_.value.code == 2
    capsys.readouterr()
    for argv, message in (
            (["run"], "give a config file, or --resume RUN_DIR"),
            (["run", "--resume", str(tmp_path)], "is not a run directory (no config.yaml)"),
            (["run", "--resume", str(tmp_path), "--set", "seed=1"],
             "--set, --data-home and --output start")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_cli_run_predict_train_lm_generate_and_datasets(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: cli\ntask: classification\ndata: {name: sst2, test_split: test, limit: 300}\n"
        f"models: [{{type: nbsvm}}]\noutput: {tmp_path / 'runs'}\n")
    assert main(["run", str(config), "--quiet", "--set", "models[0].params.clf__C=2"]) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    assert "clf__C: 2" in (run_dir / "config.yaml").read_text()
    inputs = tmp_path / "in.txt"
    inputs.write_text("a wonderful , moving film\na dull , lifeless mess\n")
    assert main(["predict", str(run_dir / "models" / "nbsvm"), "--input", str(inputs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "text,prediction" and len(out) == 3
    assert {line.rsplit(",", 1)[1] for line in out[1:]} <= {"positive", "negative"}  # not 0/1
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(load_dataset("tinyshakespeare").data[0][:5000])
    assert main(["train-lm", str(corpus), "--output", str(tmp_path / "lm"), "--max-steps", "3",
                 "--quiet"]) == 0
    assert main(["generate", str(tmp_path / "lm"), "--prompt", "ROMEO:", "--max-new-tokens",
                 "10", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "ROMEO:" in out
    assert main(["datasets"]) == 0
    assert "mr" in capsys.readouterr().out
    assert main(["report", str(run_dir)]) == 0
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    for _ in range(2):  # idempotent: the section is replaced, not appended
        assert main(["report", str(run_dir), "--results", str(results), "--section", "cli"]) == 0
    text = results.read_text()
    assert "kept" in text and text.count("<!-- cli:start -->") == 1 and "| nbsvm |" in text
    help_run = subprocess.run([sys.executable, "-m", "hybridnlp.cli", "--help"],
                              capture_output=True, text=True)
    assert help_run.returncode == 0 and "usage: hybridnlp" in help_run.stdout


def test_pretrained_word_vectors_reach_the_models_and_the_report(tmp_path):
    from hybridnlp.experiments import pretrain as pretrain_module

    tiny = {"preset": "tiny", "max_epochs": 1, "module__n_embd": 16,
            "embedding_init": {"pretrained": "word2vec"}}
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
    assert model.embedding_init == str(path)
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
    with pytest.raises(FileNotFoundError, match=r"^pretraining corpus file .*none\.txt' does "
                                                r"not exist; name a data set or a local text "
                                                r"file with one text per line\.$"):
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
    import subprocess
    import sys

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


def test_the_config_seed_reaches_every_model_and_makes_runs_repeatable(tmp_path):
    """config.seed reached the folds and global RNGs but never an estimator's random_state."""
    def weights(seed):
        values = _with(output=str(tmp_path / str(seed)), seed=seed,
                       models=[{"type": "transformer", "params": {"max_epochs": 1,
                                                                  "module__n_layer": 1}}])
        values["data"] = {"name": "sst2", "test_split": "test", "limit": 120}
        model = run(values, quiet=True).models["transformer"]
        assert model.random_state == seed
        return model.module_.encoder.tok_emb.weight.detach().clone()

    import torch

    one, again, two = weights(1), weights(1), weights(2)
    assert torch.equal(one, again)
    assert one.shape != two.shape or not torch.equal(one, two)
    spec = {"type": "stacking", "params": {"estimators": [{"type": "fasttext"},
                                                          {"type": "transformer"}]}}
    stack = build_model(spec["type"], spec["params"], seed=7)
    assert stack.random_state == 7
    assert [est.random_state for _, est in stack.estimators] == [7, 7]
    assert build_model("fasttext", {"random_state": 3}, seed=7).random_state == 3
