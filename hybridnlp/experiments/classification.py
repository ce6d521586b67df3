"""The classification task of an experiment run: each model fit and scored over the folds (or
the test split), per-example predictions, confusions, and the hybrids' component reports;
every fold and model recorded in ``progress/`` as it ends."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold

from hybridnlp.experiments._classification_report import best_model, class_name, render
from hybridnlp.experiments.config import ExperimentConfig
from hybridnlp.experiments.data import load_split
from hybridnlp.experiments.execution import execution_backend
from hybridnlp.experiments.explanations import explained_examples, html_explanations
from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.run_state import Progress, jsonable
from hybridnlp.experiments.search import journalled
from hybridnlp.experiments.slices import accuracy_by_slice, slice_labels
from hybridnlp.experiments.task import Task, register_task, task_named
from hybridnlp.text.words import WordTokenizer
from hybridnlp.utils.calibration import expected_calibration_error, reliability_bins
from hybridnlp.utils.device import torch_threads
from hybridnlp.utils.io import atomic_path
from hybridnlp.utils.jobs import run_jobs, threads_per_job
from hybridnlp.utils.seed import seed_everything

__all__ = ["CLASSIFICATION", "classification", "load_split", "render"]

logger = logging.getLogger("hybridnlp.experiments")


def _fit(model, *args, **kwargs):
    return model.fit(*args, **kwargs)


# ---------------------------------------------------------------------- classification

ENSEMBLE_TYPES = ("stacking", "ensemble", "hybrid_ensemble", "hybrid")


def _sharing(config):
    """With two or more hybrids in a run, they share component fits (``share_fits``):
    ``HybridClassifier`` and ``HybridEnsemble`` of the same components fit them once per
    fold. Fitted components stay in memory until the task ends."""
    from hybridnlp.hybrid import share_fits

    if sum(spec.type in ENSEMBLE_TYPES for spec in config.models) >= 2:
        if config.execution.n_jobs != 1:
            logger.warning("execution.n_jobs=%d: each fold is fit in a job of its own, so the "
                           "hybrids fit their shared components once per hybrid (share_fits "
                           "holds within one process); predictions are the same.",
                           config.execution.n_jobs)
        return share_fits()
    return contextlib.nullcontext()


def _class_metrics(names: list[str], y, pred, proba, classes) -> dict:
    out = {}
    for m in names:
        if m == "accuracy":
            out[m] = float(accuracy_score(y, pred))
        elif m == "macro_f1":
            out[m] = float(f1_score(y, pred, average="macro"))
        elif m == "log_loss" and proba is not None:
            out[m] = float(log_loss(y, proba, labels=classes))
        elif m == "ece" and proba is not None:  # 15 bins, as Guo et al. 2017
            out[m] = expected_calibration_error(np.searchsorted(classes, y), proba)
    return out


@dataclasses.dataclass
class _Folds:
    """What every model of a classification task is fit and scored on."""

    config: ExperimentConfig
    done: Progress
    texts: list
    y: np.ndarray
    folds: list
    test_texts: list | None
    y_test: np.ndarray | None
    progress: object
    table: object = None  # with data.feature_columns: the texts and those columns
    test_table: object = None

    def fold_data(self, train_idx, test_idx, tabular: bool = False):
        """(train texts, train labels, test texts, test labels, test ids) of one fold; with
        ``tabular``, DataFrames of the texts and the feature columns instead of texts."""
        texts, test_texts = ((self.table, self.test_table) if tabular
                             else (self.texts, self.test_texts))
        if test_idx is None:
            return (texts, self.y, test_texts, self.y_test, np.arange(len(self.y_test)))
        if tabular:
            return (texts.iloc[train_idx], self.y[train_idx], texts.iloc[test_idx],
                    self.y[test_idx], test_idx)
        return ([texts[j] for j in train_idx], self.y[train_idx],
                [texts[j] for j in test_idx], self.y[test_idx], test_idx)


def classification(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    """The classification task of ``run``: every model over the folds (or the test split);
    ``scheduler``: the Dask scheduler's address the caller gave (never the config's)."""
    ev = config.evaluation
    texts, y, target_names, table = load_split(config, config.data.train_split,
                                               with_table=True)
    if y is None:
        raise ValueError("classification needs labels; set data.label_column.")
    if np.ndim(y) == 2:  # a multi-label data set: the multilabel task's run and report
        out = task_named("multilabel").run(config, run_dir, result, progress=progress,
                                           scheduler=scheduler)
        for row in out["models"].values():  # scikit-learn's accuracy of label sets
            row["accuracy"] = row["subset_accuracy"]
        return {**out, "task": "multilabel"}
    test_texts, y_test, test_table = None, None, None
    if config.data.test_split:
        test_texts, y_test, _, test_table = load_split(config, config.data.test_split,
                                                       with_table=True)
        folds = [(np.arange(len(texts)), None)]
    else:
        splitter = StratifiedKFold(ev.cv, shuffle=True, random_state=config.seed)
        folds = list(splitter.split(texts, y))
    task = _Folds(config, Progress(run_dir), texts, y, folds, test_texts, y_test, progress,
                  table, test_table)
    records = {}  # model name -> {"summary", "predictions", "attribution"}
    with execution_backend(config.execution, scheduler), _sharing(config):  # shared component fits
        for i, spec, est in pending_models(config, run_dir, result, records):
            record, model = _classification_model(task, spec, i, est)
            finish_model(config, run_dir, result, records, i, spec, model, record,
                         card_metrics={k: v for k, v in record["summary"].items()
                                       if isinstance(v, int | float)},
                         class_names=target_names, data={"texts": len(texts)})
            for k in range(len(task.folds) - 1):  # the model's record holds its folds now
                task.done.drop(f"{i}-{spec.name}-fold{k}")
    rows, attribution = {}, None
    source_texts, source_y = (test_texts, y_test) if config.data.test_split else (texts, y)
    per_example = {"index": [], "text": [], "label": []}
    for spec in config.models:
        record = records[spec.name]
        rows[spec.name] = record["summary"]
        preds = dict((int(j), p) for j, p in record["predictions"])
        per_example[spec.name] = [preds[j] for j in sorted(preds)]
        if attribution is None and record.get("attribution"):
            attribution = record["attribution"]
        if not per_example["index"]:
            per_example["index"] = sorted(preds)
            per_example["text"] = [source_texts[j] for j in per_example["index"]]
            per_example["label"] = [source_y[j] for j in per_example["index"]]
    _write_predictions(run_dir / "predictions.csv", per_example)
    labels = np.array(per_example["label"], dtype=object)
    dims = _slice_labels(task, per_example)
    reliability, slices = {}, {}
    explanations = {spec.name: records[spec.name].get("explanations")
                    for spec in config.models if records[spec.name].get("explanations")}
    searches = {spec.name: records[spec.name]["search"]
                for spec in config.models if records[spec.name].get("search")}
    for spec in config.models:
        right = np.array(per_example[spec.name], dtype=object) == labels
        slices[spec.name] = accuracy_by_slice(dims, right)
        conf = records[spec.name].get("confidence")
        if conf:
            by_id = dict((int(j), c) for j, c in conf)
            reliability[spec.name] = reliability_bins(
                np.array([by_id[j] for j in per_example["index"]]), right)
    return {"models": rows, "target_names": [str(t) for t in target_names],
            "slices": slices, "reliability": reliability,
            "attribution": attribution, "explanations": explanations, "search": searches,
            "protocol": (f"train on {config.data.train_split}, test on "
                         f"{config.data.test_split}" if config.data.test_split
                         else f"{ev.cv}-fold stratified CV (seed {config.seed})"),
            "n_train": len(texts), "confusion": _confusions(per_example)}


def _slice_labels(task: _Folds, per_example: dict) -> dict:
    """The slices of the evaluated texts (``slice_labels``), each text split into words
    once: a text's unseen words are counted against the training texts it was evaluated
    against (the training split, or its own fold's training part)."""
    tokenize = WordTokenizer()
    train_words = [tokenize(t) for t in task.texts]
    index = per_example["index"]
    if task.test_texts is not None:
        vocabulary = set().union(*train_words)
        seen = [vocabulary] * len(index)
        words = [tokenize(t) for t in per_example["text"]]
    else:
        fold_of = {}
        for train_idx, test_idx in task.folds:
            vocabulary = set().union(*(train_words[j] for j in train_idx))
            fold_of.update(dict.fromkeys(test_idx.tolist(), vocabulary))
        seen = [fold_of[j] for j in index]
        words = [train_words[j] for j in index]
    return slice_labels(words, per_example["label"], train_vocabularies=seen)


def _classification_model(task: _Folds, spec, i: int, est) -> tuple[dict, object]:
    """Fit and score ``est`` (built from ``spec``) over the folds, skipping folds recorded in
    ``task.done``: (its record: summary, per-example predictions and attribution; the last
    fold's fitted model)."""
    config, key = task.config, f"{i}-{spec.name}"
    fold_metrics, preds, fit_times, model, report = [], {}, [], None, None
    confidence, searches = {}, []
    records = {}  # fold -> its record, for the folds fit before (an interrupted run)
    for k in range(len(task.folds) - 1):  # the last fold's model is kept: never skipped
        found = task.done.get(f"{key}-fold{k}")
        if found is not None:
            records[k] = found
    todo = [k for k in range(len(task.folds)) if k not in records]
    n_jobs = config.execution.n_jobs
    threads = threads_per_job(n_jobs, len(todo))
    tabular = task.table is not None and bool(spec.params.get("text_column"))
    results = run_jobs(_fold_job, [
        (journalled(est, task.done.dir.parent, spec.name, k), config.evaluation.metrics,
         config.seed + k, task.fold_data(*task.folds[k], tabular), threads,
         k == len(task.folds) - 1)
        for k in todo], n_jobs)
    folds = range(len(task.folds))
    for k in (task.progress(folds, desc=spec.name) if task.progress else folds):
        fold_record = records.get(k)
        if fold_record is None:
            fold_record, fold_report, fold_model = next(results)
            fold_record["metrics"]["fold"] = k
            logger.info("%s fold %d: %s", spec.name, k, fold_record["metrics"])
            if k == len(task.folds) - 1:
                model, report = fold_model, fold_report
            else:
                task.done.put(f"{key}-fold{k}", fold_record)
        fold_metrics.append(fold_record["metrics"])
        fit_times.append(fold_record["fit_time"])
        preds.update(dict(fold_record["predictions"]))
        confidence.update(dict(fold_record.get("confidence") or []))
        if fold_record.get("search"):
            searches.append({"fold": k, **fold_record["search"]})
    summary = _summary(fold_metrics, fit_times, model)
    explained = None
    if model is not None and len(confidence) == len(preds) and not tabular:  # last fold
        _, _, X_te, y_te, ids = task.fold_data(*task.folds[-1])
        explained = explained_examples(model, X_te, y_te, [preds[j] for j in ids.tolist()],
                                       [confidence[j] for j in ids.tolist()])
    attribution = None  # on a test split the one fold's report is the test set's
    if hasattr(model, "component_report") and task.test_texts is not None:
        attribution = {"model": spec.name, "summary": jsonable(report.summary)}
    record = {"summary": summary, "predictions": sorted(preds.items()),
              "confidence": sorted(confidence.items()) if len(confidence) == len(preds)
              else None,
              "attribution": attribution, "explanations": explained,
              "search": searches or None}
    return jsonable(record), model


def _fold_job(est, metrics, seed, data, threads, keep):
    """One fold, as a joblib job: a seeded clone of ``est`` fit and scored on ``data``;
    (the fold's record, and its component report and model when ``keep``)."""
    seed_everything(seed)
    model = clone(est)
    with torch_threads(threads):
        record, report = _fit_fold(metrics, model, *data)
    return (record, report, model) if keep else (record, None, None)


def _fit_fold(metrics: list[str], model, X_tr, y_tr, X_te, y_te, ids):
    """Fit ``model`` on one fold and score it: (the fold's record, its component report)."""
    start = time.perf_counter()
    _fit(model, X_tr, y_tr)
    fit_time = time.perf_counter() - start
    report = None
    if hasattr(model, "component_report"):  # each component's accuracy, from this fit;
        report = model.component_report(X_te, y_te)  # every component predicts once
        proba = report.proba
        pred = model.classes_[proba.argmax(axis=1)]
    else:
        pred = model.predict(X_te)
        proba = model.predict_proba(X_te) if hasattr(model, "predict_proba") else None
    scores = _class_metrics(metrics, y_te, pred, proba, model.classes_)
    if report is not None:
        scores["components"] = report.summary["accuracy"]
    predictions = list(zip(ids.tolist(), pred.tolist(), strict=True))
    record = {"metrics": scores, "fit_time": fit_time, "predictions": predictions}
    if hasattr(model, "trials_"):  # a search: its trials and the parameters it chose
        record["search"] = {"best_params": model.best_params_, "best_score": model.best_score_,
                            "trials": model.trials_}
    if proba is not None:  # the predicted class's probability: the reliability diagram
        record["confidence"] = list(zip(ids.tolist(), np.max(proba, axis=1).tolist(),
                                        strict=True))
    return record, report


def _summary(fold_metrics: list[dict], fit_times: list[float], model) -> dict:
    """Means and standard deviations over the folds, fit time, the last fit's history."""
    summary = {name: float(np.mean([f[name] for f in fold_metrics]))
               for name in fold_metrics[0] if name not in ("fold", "components")}
    summary.update({f"{name}_std": float(np.std([f[name] for f in fold_metrics]))
                    for name in list(summary)})
    if getattr(model, "shared_components_", None):
        summary["shared_components"] = list(model.shared_components_)
    if "components" in fold_metrics[0]:
        summary["components"] = {c: float(np.mean([f["components"][c] for f in fold_metrics]))
                                 for c in fold_metrics[0]["components"]}
    summary["fit_time"] = float(np.sum(fit_times))
    summary["folds"] = fold_metrics
    history = getattr(model, "history_", None)
    if history:
        summary["history"] = [dict(r) for r in history]
    return summary


def _confusions(per_example: dict) -> dict:
    labels = sorted(set(per_example["label"]), key=str)
    out = {}
    for name, preds in per_example.items():
        if name in ("index", "text", "label"):
            continue
        index = {lab: i for i, lab in enumerate(labels)}
        mat = np.zeros((len(labels), len(labels)), dtype=int)
        for t, p in zip(per_example["label"], preds, strict=True):
            if p in index:
                mat[index[t], index[p]] += 1
        out[name] = {"labels": [str(lab) for lab in labels], "matrix": mat.tolist()}
    return out


def _write_predictions(path: Path, per_example: dict) -> None:
    keys = list(per_example)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for row in zip(*(per_example[k] for k in keys), strict=True):
            w.writerow([_scalar(v) for v in row])


def _scalar(v):
    return v.item() if hasattr(v, "item") else v


CLASSIFICATION = register_task(Task(
    name="classification", metrics=("accuracy", "macro_f1", "log_loss", "ece"),
    main_metric="accuracy",
    model_types=("tfidf_lr", "nbsvm", "fasttext", "transformer", "fusion", "stacking",
                 "ensemble", "hybrid_ensemble", "hybrid"),
    run=classification, render=render, chooses_metrics=True, parallel=True,
    html_sections=lambda m: html_explanations(m, best_model(m), class_name(m))))
