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

from hybridnlp.experiments.config import ExperimentConfig
from hybridnlp.experiments.execution import execution_backend
from hybridnlp.experiments.registry import build_model
from hybridnlp.experiments.run_state import Progress, jsonable, load_saved, model_dir
from hybridnlp.experiments.task_data import reading_data
from hybridnlp.utils.device import torch_threads
from hybridnlp.utils.io import atomic_path
from hybridnlp.utils.jobs import run_jobs, threads_per_job
from hybridnlp.utils.seed import seed_everything

__all__ = ["classification", "load_split"]

logger = logging.getLogger("hybridnlp.experiments")


def _fit(model, *args, **kwargs):
    return model.fit(*args, **kwargs)


# ---------------------------------------------------------------------- data


def load_split(config: ExperimentConfig, split: str | None):
    """(texts, labels or None, label names) of one split of the config's data (``data.limit``
    applied)."""
    from hybridnlp.datasets import DATASETS, load_dataset, load_texts

    d = config.data
    if d.name is not None:
        info = DATASETS.get(d.name)
        if info is not None and not info.splits and split == d.train_split:
            split = None  # MR, Subj: one set, cross-validated
        with reading_data("data.name"):
            bunch = load_dataset(d.name, split=split, data_home=d.data_home)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    else:
        if split not in (None, d.train_split):
            raise ValueError(f"data.path gives one file; test_split={split!r} cannot be read "
                             f"from it. Set data.test_split to null for cross-validation.")
        with reading_data("data.path"):
            bunch = load_texts(d.path, text_column=d.text_column,
                               label_column=d.label_column)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    if d.limit is not None and d.limit < len(texts):  # a seeded sample, in corpus order
        keep = np.sort(np.random.default_rng(config.seed).choice(len(texts), d.limit,
                                                                 replace=False))
        texts = [texts[i] for i in keep]
        target = None if target is None else np.asarray(target)[keep]
    return list(texts), (None if target is None else np.asarray(target)), names


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
    return out


@dataclasses.dataclass
class _Task:
    """What every model of a classification task is fit and scored on."""

    config: ExperimentConfig
    run_dir: Path
    done: Progress
    texts: list
    y: np.ndarray
    folds: list
    test_texts: list | None
    y_test: np.ndarray | None
    progress: object
    pretrained: dict
    target_names: list
    models: dict = dataclasses.field(default_factory=dict)

    def fold_data(self, train_idx, test_idx):
        """(train texts, train labels, test texts, test labels, test ids) of one fold."""
        if test_idx is None:
            return (self.texts, self.y, self.test_texts, self.y_test,
                    np.arange(len(self.test_texts)))
        return ([self.texts[j] for j in train_idx], self.y[train_idx],
                [self.texts[j] for j in test_idx], self.y[test_idx], test_idx)


def classification(config, run_dir, result, progress, scheduler=None) -> dict:
    """The classification task of ``run``: every model over the folds (or the test split);
    ``scheduler``: the Dask scheduler's address the caller gave (never the config's)."""
    ev = config.evaluation
    texts, y, target_names = load_split(config, config.data.train_split)
    if y is None:
        raise ValueError("classification needs labels; set data.label_column.")
    test_texts, y_test = None, None
    if config.data.test_split:
        test_texts, y_test, _ = load_split(config, config.data.test_split)
        folds = [(np.arange(len(texts)), None)]
    else:
        splitter = StratifiedKFold(ev.cv, shuffle=True, random_state=config.seed)
        folds = list(splitter.split(texts, y))
    task = _Task(config, run_dir, Progress(run_dir), texts, y, folds, test_texts, y_test,
                 progress, result.pretrained, target_names)
    models, rows, attribution = task.models, {}, None
    per_example = {"index": [], "text": [], "label": []}
    with execution_backend(config.execution, scheduler), _sharing(config):  # shared component fits
        for i, spec in enumerate(config.models):
            record = task.done.get(f"{i}-{spec.name}")
            if record is None:
                record = _classification_model(task, spec, i)
            else:
                load_saved(run_dir, spec.name, models)
            rows[spec.name] = record["summary"]
            preds = dict(record["predictions"])
            per_example[spec.name] = [preds[i] for i in sorted(preds)]
            if attribution is None and record.get("attribution"):
                attribution = record["attribution"]
            if not per_example["index"]:
                per_example["index"] = sorted(preds)
                source_texts = test_texts if config.data.test_split else texts
                source_y = y_test if config.data.test_split else y
                per_example["text"] = [source_texts[i] for i in per_example["index"]]
                per_example["label"] = [source_y[i] for i in per_example["index"]]
    _write_predictions(run_dir / "predictions.csv", per_example)
    result.models.update(models)
    return {"models": rows, "target_names": [str(t) for t in target_names],
            "attribution": attribution,
            "protocol": (f"train on {config.data.train_split}, test on "
                         f"{config.data.test_split}" if config.data.test_split
                         else f"{ev.cv}-fold stratified CV (seed {config.seed})"),
            "n_train": len(texts), "confusion": _confusions(per_example)}


def _classification_model(task: _Task, spec, i: int) -> dict:
    """Fit and score one model over the folds (skipping folds recorded in ``task.done``);
    record and return its summary, per-example predictions and attribution."""
    config, key = task.config, f"{i}-{spec.name}"
    est = build_model(spec.type, spec.params, f"models[{i}]", task.pretrained, seed=config.seed)
    fold_metrics, preds, fit_times, model, report = [], {}, [], None, None
    records = {}  # fold -> its record, for the folds fit before (an interrupted run)
    for k in range(len(task.folds) - 1):  # the last fold's model is kept: never skipped
        found = task.done.get(f"{key}-fold{k}")
        if found is not None:
            records[k] = found
    todo = [k for k in range(len(task.folds)) if k not in records]
    n_jobs = config.execution.n_jobs
    threads = threads_per_job(n_jobs, len(todo))
    results = run_jobs(_fold_job, [
        (est, config.evaluation.metrics, config.seed + k, task.fold_data(*task.folds[k]),
         threads, k == len(task.folds) - 1) for k in todo], n_jobs)
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
    task.models[spec.name] = model
    summary = _summary(fold_metrics, fit_times, model)
    attribution = None  # on a test split the one fold's report is the test set's
    if hasattr(model, "component_report") and task.test_texts is not None:
        attribution = {"model": spec.name, "summary": jsonable(report.summary)}
    if config.evaluation.save_models:
        from hybridnlp.persistence import save

        d = config.data
        try:
            save(model, model_dir(task.run_dir, spec.name), class_names=task.target_names,
                 data={"name": d.name or d.path, "split": d.train_split,
                       "texts": len(task.texts)},
                 metrics={k: v for k, v in summary.items() if isinstance(v, int | float)})
        except NotImplementedError as err:
            logger.warning("model %s not saved: %s", spec.name, err)
            summary["saved"] = str(err)
    record = {"summary": summary, "predictions": sorted(preds.items()),
              "attribution": attribution}
    task.done.put(key, record)
    for k in range(len(task.folds) - 1):  # the model's record holds its folds now
        task.done.drop(f"{key}-fold{k}")
    return jsonable(record)


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
    return {"metrics": scores, "fit_time": fit_time, "predictions": predictions}, report


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
