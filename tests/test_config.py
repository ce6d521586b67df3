"""Configs refused at load, before any work: unsafe names, alias bombs, broken YAML, bad --set.

Each case is checked through the CLI too: exit status 2 and one line naming the file, line or
key path, never a traceback.
"""


import time

import pytest
import yaml
from conftest import EXPERIMENTS, _with, cli_error

from hybridnlp.experiments import (
    ConfigError,
    apply_overrides,
    load_config,
    run,
)
from hybridnlp.utils.safe_yaml import load_yaml

BASE = {"name": "t", "task": "classification", "data": {"name": "mr", "limit": 120},
        "models": [{"type": "nbsvm"}], "evaluation": {"cv": 2}, "output": "runs"}


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".", "a\\b", " "])
def test_a_model_name_that_would_escape_the_run_directory_is_refused(name):
    values = {**BASE, "models": [{"type": "nbsvm", "name": name}]}
    with pytest.raises(ConfigError, match=r"^models\[0\].name: .* is not a usable name: a "
                                          r"model's name becomes a folder inside the run"):
        load_config(values)


def test_model_names_become_slugs_and_two_that_share_one_are_refused(tmp_path):
    values = {**BASE, "output": str(tmp_path), "models": [{"type": "nbsvm", "name": "NB + SVM"}]}
    result = run(values, quiet=True)
    assert sorted(p.name for p in (result.run_dir / "models").iterdir()) == ["NB-SVM"]
    assert [p.name for p in tmp_path.iterdir()] == [result.run_dir.name]
    twins = {**BASE, "models": [{"type": "nbsvm", "name": "a b"},
                                {"type": "tfidf_lr", "name": "a  b"}]}
    with pytest.raises(ConfigError, match=r"^models\[1\].name: 'a  b' and 'a b' would both be "
                                          r"saved as models/a-b"):
        load_config(twins)


def _bomb(levels: int = 9) -> str:
    """Nested anchors, each level nine aliases of the one before: 9**9 strings once expanded."""
    lines = ["name: bomb", "task: classification", "data: {name: mr}", "models:",
             "  - type: nbsvm", "    params:",
             '      l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"      l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_load_in_milliseconds(tmp_path, capsys):
    text = _bomb()
    assert len(text.encode()) < 800
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^config: the document expands to more than 100,000 "
                                          r"nodes through its aliases \(line 1[0-3]\)"):
        load_config(text)
    assert time.perf_counter() - start < 5  # unbounded expansion took minutes and gigabytes
    (tmp_path / "bomb.yaml").write_text(text)
    err = cli_error(["run", str(tmp_path / "bomb.yaml")], capsys)
    assert f"{tmp_path / 'bomb.yaml'}: the document expands to more than 100,000" in err


def test_small_aliases_and_merge_keys_still_work():
    assert load_yaml("a: &x {b: 1}\nc: *x\nd: {<<: *x, e: 2}\n") == {
        "a": {"b": 1}, "c": {"b": 1}, "d": {"b": 1, "e": 2}}


@pytest.mark.parametrize("content, message", [
    (b"", "holds no config (it is empty or only comments)"),
    (b"# nothing here\n", "holds no config (it is empty or only comments)"),
    (b"name: x\ntask: [classification\n", ":3: expected ',' or ']'"),
    (b"name: \xff\xfe\n", ": not UTF-8 text (byte 6); save the file as UTF-8."),
    (b"name: !!python/object/apply:os.system ['true']\n",
     ":1: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    (b"name: a\ntask: classification\nname: b\n",
     ":3: duplicate key 'name' (first at line 1); give each key once."),
    (b"- just\n- a list\n", ": expected a mapping of settings at the top level, got list."),
])
def test_a_file_that_is_not_a_config_gets_one_line_naming_it(tmp_path, capsys, content,
                                                              message):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert message in cli_error(["run", str(path)], capsys)


@pytest.mark.parametrize("override, message", [
    ("models[5]=x", "--set models[5]: models[5] does not exist (the list has 1 item); --set "
                    "can change items, not add them."),
    ("models[a].x=1", "--set models[a].x: [a] is not a list index; write a non-negative "
                      "number, e.g. models[0]."),
    ("evaluation.cv.x=1", "--set evaluation.cv.x: evaluation.cv is int 2, not a mapping, so it "
                          "has no key 'x'."),
    ("output.dir=X", "--set output.dir: output is str 'runs', not a mapping, so it has no key "
                     "'dir'."),
    ("seed[0]=1", "--set seed[0]: seed is not a list, so [0] cannot index it."),
    ("seed", "--set seed: expected KEY=VALUE, e.g. seed=1."),
])
def test_a_bad_override_is_a_config_error_naming_the_path(tmp_path, capsys, override, message):
    with pytest.raises(ConfigError) as err:
        apply_overrides(BASE, [override])
    assert str(err.value) == message
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert message in cli_error(["run", str(path), "--set", override], capsys)


def test_overrides_still_reach_lists_and_single_models():
    values = apply_overrides(BASE, ["seed=3", "models[0].params.clf__C=4",
                                    "model.name=nb", "evaluation.metrics=[accuracy]"])
    assert values["seed"] == 3 and values["models"][0] == {
        "type": "nbsvm", "params": {"clf__C": 4}, "name": "nb"}
    assert values["evaluation"]["metrics"] == ["accuracy"]
    assert BASE["models"] == [{"type": "nbsvm"}]  # a copy was changed


@pytest.mark.parametrize("task, model, message", [
    ("classification", {"type": "transformer", "params": {"max_epochs": "ten"}},
     "models[0].params: max_epochs='ten' is a str; it takes an integer."),
    ("classification", {"type": "nbsvm", "params": {"C": 1}},
     "models[0].params.C: NBSVMClassifier has no parameter 'C'. Did you mean 'clf__C'?"),
    ("classification", {"type": "tfidf_lr", "params": {"clf__C": "big"}},
     "models[0].params: The 'C' parameter of LogisticRegression must be a float in the range "
     "(0.0, inf]. Got 'big' instead."),
    ("classification", {"type": "stacking", "params": {"estimators": [
        {"type": "fasttext", "params": {"optimizer__lr": "x"}}]}},
     "models[0].params.estimators[0].params: optimizer__lr='x' is a str; it takes a number."),
    ("language_modeling", {"type": "interpolated_lm", "params": {"neural": "GPT"}},
     "models[0].params: neural='GPT' is a str, not a language model; pass a CausalLM (neural) "
     "and an NGramLM (ngram), or in a config {type: causal_lm} / {type: ngram_lm}."),
    ("language_modeling", {"type": "causal_lm", "params": {"batch_size": 0}},
     "models[0].params: batch_size=0 is out of range; it must be >= 1."),
])
def test_model_parameter_values_are_checked_at_load(task, model, message):
    """These passed load_config and crashed mid-run, after earlier models had trained."""
    data = {"name": "mr"} if task == "classification" else {"name": "tinyshakespeare"}
    with pytest.raises(ConfigError) as err:
        load_config({"name": "t", "task": task, "data": data, "models": [model]})
    assert str(err.value) == message


def test_a_config_is_validated_once_and_each_model_built_once_per_fit(tmp_path, monkeypatch):
    """cli -> load_config -> run -> load_config again -> fit built a one-model config three
    times; validation also filled in model names as it went."""
    from hybridnlp.experiments import model_loop, registry
    from hybridnlp.experiments.config import ModelConfig

    assert ModelConfig(type="nbsvm").name == "nbsvm"  # at construction, not by validation
    builds = []
    real = registry.build_model

    def counting(type_, *args, **kw):
        builds.append(type_)
        return real(type_, *args, **kw)

    monkeypatch.setattr(registry, "build_model", counting)
    monkeypatch.setattr(model_loop, "build_model", counting)  # the one loop over models
    config = load_config({**BASE, "output": str(tmp_path)})
    assert builds == ["nbsvm"]  # the check at load
    run(config, quiet=True)
    assert builds == ["nbsvm", "nbsvm"]  # and the fit: no second validation
    config.models[0].params = {"clf__C": "x"}  # changed after load: checked again
    with pytest.raises(ConfigError, match=r"^models\[0\].params: The 'C' parameter"):
        run(config, quiet=True)


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
    (_with(**{"models.0.params": {"clf__c": 4}}), "models[0].params.clf__c: NBSVMClassifier has no "
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
