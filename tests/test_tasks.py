"""One Task object per task, in one registry: a new task is one block of code (here, a toy task
defined in this file alone), and the config check, the runner, the report, the CLI summary
and run comparisons all read it from the registry."""

import json
import time

import pytest

from hybridnlp.exceptions import ConfigError
from hybridnlp.experiments import TASKS, Task, load_config, register_task, run
from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.report import compare_runs
from hybridnlp.experiments.runner import summary

TEXTS = ["a good film", "a great movie", "bad plot", "awful acting"] * 3
LABELS = ["pos", "pos", "neg", "neg"] * 3


def _run(config, run_dir, result, *, progress=None, scheduler=None):
    rows = {}
    for i, spec, model in pending_models(config, run_dir, result, rows):
        start = time.perf_counter()
        model.fit(TEXTS, LABELS)
        finish_model(config, run_dir, result, rows, i, spec, model, {
            "train_accuracy": float(model.score(TEXTS, LABELS)),
            "fit_time": time.perf_counter() - start})
    return {"models": rows, "protocol": f"fit and scored on {len(TEXTS)} toy texts"}


def _render(m, run_dir):
    return [f"Protocol: {m['protocol']}.", "", "| model | train accuracy |", "|---|---|",
            *(f"| {name} | {r['train_accuracy']:.2f} |" for name, r in m["models"].items()), ""]


@pytest.fixture
def toy_task():
    """The toy task, registered for one test only (the registry is left as it was)."""
    task = register_task(Task(name="toy", metrics=("train_accuracy",),
                              main_metric="train_accuracy", model_types=("nbsvm",),
                              run=_run, render=_render))
    try:
        yield task
    finally:
        del TASKS["toy"]


def test_a_task_defined_in_one_place_runs_end_to_end(toy_task, tmp_path):
    config = {"name": "toy-run", "task": "toy", "output": str(tmp_path),
              "data": {"name": "mr", "limit": 20},
              "models": [{"type": "nbsvm", "name": "NBSVM"}]}
    result = run(config, quiet=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["task"] == "toy" and metrics["models"]["NBSVM"]["train_accuracy"] == 1.0
    report = (result.run_dir / "report.md").read_text()
    assert "Task: toy." in report and "| NBSVM | 1.00 |" in report
    assert summary(result).splitlines()[0].startswith("NBSVM")
    assert "train_accuracy 1.0000" in summary(result)
    assert "| toy | NBSVM | train_accuracy | 1.0000 |" in compare_runs([result.run_dir])
    assert (result.run_dir / "models" / "NBSVM" / "config.json").is_file()  # the shared loop


def test_a_model_of_another_task_and_an_unknown_task_are_named(toy_task):
    base = {"name": "x", "data": {"name": "mr"}}
    with pytest.raises(ConfigError, match=r"^models\[0\].type: 'ngram_lm' is a "
                                          r"language_modeling model, but task is 'toy'.$"):
        load_config({**base, "task": "toy", "models": [{"type": "ngram_lm"}]})
    with pytest.raises(ConfigError, match=r"^task: 'toyy' is not a task. Did you mean 'toy'\? "
                                          r"Choose one of classification, .*, toy.$"):
        load_config({**base, "task": "toyy", "models": [{"type": "nbsvm"}]})
    with pytest.raises(ConfigError, match=r"^execution: folds run as parallel jobs in "
                                          r"classification runs; a toy run fits one model at "
                                          r"a time. Remove the section.$"):
        load_config({**base, "task": "toy", "models": [{"type": "nbsvm"}],
                     "execution": {"n_jobs": 2}})


def test_the_built_in_tasks_are_registered_with_their_main_metrics():
    assert {name: task.main_metric for name, task in TASKS.items()} == {
        "classification": "accuracy", "language_modeling": "perplexity",
        "multilabel": "micro_f1", "question_answering": "f1", "regression": "pearson",
        "topic_modeling": "coherence", "translation": "bleu"}
    assert [name for name, task in TASKS.items() if task.lower_is_better] == [
        "language_modeling"]
    with pytest.raises(ValueError, match=r"^task 'bad': main_metric 'f1' is not one of its "
                                         r"metrics \('accuracy',\)."):
        register_task(Task(name="bad", metrics=("accuracy",), main_metric="f1",
                           model_types=(), run=_run, render=_render))
