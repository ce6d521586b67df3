"""``run(config) -> RunResult``: fit and evaluate every model of a config, and write a run
directory: the resolved config, ``metrics.json``, per-fold and per-example predictions, the
fitted models, the environment, a log, and ``report.md`` with its plots.

Each finished unit of work (a model's fold, a whole model) is recorded in ``progress/`` as it
ends, so ``run(resume=run_dir)`` (``hybridnlp run --resume RUN_DIR``) continues an interrupted
run where it stopped and gives the metrics an uninterrupted run would have written."""

from __future__ import annotations

import csv
import datetime
import json
import logging
import math
import os
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold

from hybridnlp.experiments.config import ExperimentConfig, load_config
from hybridnlp.experiments.pretrain import pretrain
from hybridnlp.experiments.progress import (
    Progress,
    jsonable,
    load_saved,
    resume_dir,
    resumed,
    slug,
)
from hybridnlp.experiments.registry import build_model
from hybridnlp.experiments.report import MAIN_METRIC, shown_path, write_report
from hybridnlp.utils.io import atomic_path, atomic_write_bytes, atomic_write_json

__all__ = ["RunResult", "run"]

logger = logging.getLogger("hybridnlp.experiments")


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    config: ExperimentConfig
    models: dict = field(default_factory=dict)  # name -> fitted estimator (last fit)
    pretrained: dict = field(default_factory=dict)  # pretrain section -> its file


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may still use the global state
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def environment() -> dict:
    import sklearn
    import torch

    import hybridnlp
    from hybridnlp.utils.device import cpu_name

    cpu = cpu_name()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"python": platform.python_version(), "hybridnlp": hybridnlp.__version__,
            "torch": torch.__version__, "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "platform": platform.platform(), "cpu": cpu,
            "cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "gpu": gpu,
            "device": "cuda" if gpu else "cpu"}


def _run_dir(config: ExperimentConfig, output: str | None) -> Path:
    root = Path(output or config.output)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = slug(config.name).strip("-") or "run"
    path = root / f"{stamp}_{name}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}_{name}-{n}"
    path.mkdir(parents=True)
    return path


def _fit(model, *args, **kwargs):
    return model.fit(*args, **kwargs)


# ---------------------------------------------------------------------- data


def _load(config: ExperimentConfig, split: str | None):
    from hybridnlp.datasets import load_dataset, load_texts
    from hybridnlp.datasets._registry import DATASETS

    d = config.data
    if d.name is not None:
        info = DATASETS.get(d.name)
        if info is not None and not info.splits and split == d.train_split:
            split = None  # MR, Subj: one set, cross-validated
        bunch = load_dataset(d.name, split=split, data_home=d.data_home)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    else:
        if split not in (None, d.train_split):
            raise ValueError(f"data.path gives one file; test_split={split!r} cannot be read "
                             f"from it. Set data.test_split to null for cross-validation.")
        bunch = load_texts(d.path, text_column=d.text_column, label_column=d.label_column)
        texts, target = bunch.data, bunch.target
        names = list(getattr(bunch, "target_names", None) or [])
    if d.limit is not None and d.limit < len(texts):  # a seeded sample, in corpus order
        keep = np.sort(np.random.default_rng(config.seed).choice(len(texts), d.limit,
                                                                 replace=False))
        texts = [texts[i] for i in keep]
        target = None if target is None else np.asarray(target)[keep]
    return list(texts), (None if target is None else np.asarray(target)), names


# ---------------------------------------------------------------------- classification


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


def _classification(config, run_dir, result, progress) -> dict:
    ev = config.evaluation
    texts, y, target_names = _load(config, config.data.train_split)
    if y is None:
        raise ValueError("classification needs labels; set data.label_column.")
    if config.data.test_split:
        test_texts, y_test, _ = _load(config, config.data.test_split)
        folds = [(np.arange(len(texts)), None)]
    else:
        splitter = StratifiedKFold(ev.cv, shuffle=True, random_state=config.seed)
        folds = list(splitter.split(texts, y))
    models, rows, attribution = {}, {}, None
    per_example = {"index": [], "text": [], "label": []}
    done = Progress(run_dir)
    for i, spec in enumerate(config.models):
        key = f"{i}-{spec.name}"
        record = done.get(key)
        if record is None:
            record = _classification_model(config, run_dir, spec, i, key, done, texts, y,
                                           folds, test_texts if config.data.test_split else
                                           None, y_test if config.data.test_split else None,
                                           progress, models, result.pretrained)
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


def _classification_model(config, run_dir, spec, i, key, done, texts, y, folds, test_texts,
                          y_test, progress, models, pretrained) -> dict:
    """Fit and score one model over the folds (skipping folds recorded in ``done``); record
    and return its summary, per-example predictions and attribution."""
    ev = config.evaluation
    est = build_model(spec.type, spec.params, f"models[{i}]", pretrained)
    fold_metrics, preds, fit_times, model, report = [], {}, [], None, None
    iterator = progress(folds, desc=spec.name) if progress else folds
    for k, (train_idx, test_idx) in enumerate(iterator):
        last = k == len(folds) - 1  # the last fold's model is kept: it is never skipped
        fold_record = None if last else done.get(f"{key}-fold{k}")
        if fold_record is not None:
            fold_metrics.append(fold_record["metrics"])
            fit_times.append(fold_record["fit_time"])
            preds.update(dict(fold_record["predictions"]))
            continue
        seed_everything(config.seed + k)
        model = clone(est)
        if test_idx is None:
            X_tr, y_tr, X_te, y_te = texts, y, test_texts, y_test
            ids = np.arange(len(test_texts))
        else:
            X_tr = [texts[j] for j in train_idx]
            y_tr, X_te, y_te = y[train_idx], [texts[j] for j in test_idx], y[test_idx]
            ids = test_idx
        start = time.perf_counter()
        _fit(model, X_tr, y_tr)
        fit_times.append(time.perf_counter() - start)
        pred = model.predict(X_te)
        proba = model.predict_proba(X_te) if hasattr(model, "predict_proba") else None
        m = _class_metrics(ev.metrics, y_te, pred, proba, model.classes_)
        if hasattr(model, "component_report"):  # each component's accuracy, from this fit
            report = model.component_report(X_te, y_te)
            m["components"] = report.summary["accuracy"]
        m["fold"] = k
        fold_metrics.append(m)
        fold_preds = list(zip(ids.tolist(), pred.tolist(), strict=True))
        preds.update(fold_preds)
        logger.info("%s fold %d: %s", spec.name, k, m)
        if not last:
            done.put(f"{key}-fold{k}", {"metrics": m, "fit_time": fit_times[-1],
                                        "predictions": fold_preds})
    models[spec.name] = model
    summary = {name: float(np.mean([f[name] for f in fold_metrics]))
               for name in fold_metrics[0] if name not in ("fold", "components")}
    summary.update({f"{name}_std": float(np.std([f[name] for f in fold_metrics]))
                    for name in list(summary)})
    if "components" in fold_metrics[0]:
        summary["components"] = {c: float(np.mean([f["components"][c] for f in fold_metrics]))
                                 for c in fold_metrics[0]["components"]}
    summary["fit_time"] = float(np.sum(fit_times))
    summary["folds"] = fold_metrics
    history = getattr(model, "history_", None)
    if history:
        summary["history"] = [dict(r) for r in history]
    attribution = None  # on a test split the one fold's report is the test set's
    if hasattr(model, "component_report") and test_texts is not None:
        attribution = {"model": spec.name, "summary": jsonable(report.summary)}
    if ev.save_models:
        from hybridnlp.persistence import save_model

        try:
            save_model(model, run_dir / "models" / spec.name)
        except NotImplementedError as err:
            logger.warning("model %s not saved: %s", spec.name, err)
            summary["saved"] = str(err)
    record = {"summary": summary, "predictions": sorted(preds.items()),
              "attribution": attribution}
    done.put(key, record)
    for k in range(len(folds) - 1):  # the model's record holds its folds now
        done.drop(f"{key}-fold{k}")
    return jsonable(record)


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


# ---------------------------------------------------------------------- language modelling


def _corpus(config):
    from hybridnlp.datasets import load_dataset
    from hybridnlp.lm._corpus import read_corpus, split_corpus

    d = config.data
    if d.path is not None:
        corpus = read_corpus(d.path)
        train, val = split_corpus(corpus, config.evaluation.validation)
        return train, val
    train = load_dataset(d.name, split=d.train_split, data_home=d.data_home).data
    test_split = d.test_split
    if test_split is None:
        whole = train if len(train) > 1 else train[0]
        return split_corpus(whole, config.evaluation.validation)
    val = load_dataset(d.name, split=test_split, data_home=d.data_home).data
    join = (lambda xs: xs[0]) if len(train) == 1 else (lambda xs: "\n".join(xs) + "\n")
    return join(train), join(val)


def _language_modeling(config, run_dir, result, progress) -> dict:
    from hybridnlp.lm._corpus import count_words
    from hybridnlp.text import CharTokenizer

    ev = config.evaluation
    train, val = _corpus(config)
    if config.data.limit is not None:
        train, val = train[:config.data.limit], val[:max(config.data.limit // 10, 1000)]
    rows, fitted = {}, {}
    done = Progress(run_dir)
    for i, spec in enumerate(config.models):
        if resumed(done, f"{i}-{spec.name}", run_dir, spec.name, rows, fitted):
            continue
        seed_everything(config.seed)
        model = build_model(spec.type, spec.params, f"models[{i}]", result.pretrained)
        if spec.type == "ngram_lm" and model.tokenizer == "char":  # same inventory as GPT
            model.set_params(tokenizer=CharTokenizer().train([train, val]))
        start = time.perf_counter()
        if spec.type == "interpolated_lm":
            model.neural.fit(train, validation_data=val)
            if model.ngram.tokenizer in ("char", "word", "bpe"):
                model.ngram.set_params(tokenizer=model.neural.tokenizer_)
            model.ngram.fit(train)
            eval_text = val
        elif spec.type == "causal_lm":
            model.fit(train, validation_data=val)
            eval_text = val
        else:
            model.fit(train)
            eval_text = val
        if spec.type == "interpolated_lm":  # weights cross-fitted on the held-out halves
            total, n = model.cross_fit_log_likelihood(eval_text)
        else:
            total, n = model.log_likelihood(eval_text)
        fit_time = time.perf_counter() - start
        per_n = n if ev.per == "token" else count_words(eval_text)
        row = {"loss": -total / max(n, 1), "perplexity": math.exp(-total / max(per_n, 1)),
               "per": ev.per, "eval_tokens": n, "fit_time": fit_time}
        if getattr(model, "val_loss_", None) is not None:
            row["val_loss_windows"] = model.val_loss_
        if hasattr(model, "history_"):
            row["history"] = [dict(r) for r in model.history_]
        row["samples"] = [model.generate(ev.prompt, ev.max_new_tokens, seed=config.seed + s)
                          for s in range(ev.samples)]
        rows[spec.name] = row
        fitted[spec.name] = model
        if ev.save_models and hasattr(model, "save"):
            model.save(run_dir / "models" / spec.name)
        done.put(f"{i}-{spec.name}", row)
    result.models.update(fitted)
    held_out = config.data.test_split or f"the last {ev.validation:.0%} of the training text"
    return {"models": rows, "protocol": (
        f"perplexity per {ev.per} on the held-out text ({held_out}); an interpolation's "
        f"weights are cross-fitted on its two halves")}


# ---------------------------------------------------------------------- topic modelling


def _topic_modeling(config, run_dir, result, progress) -> dict:
    texts, _, _ = _load(config, config.data.train_split)
    rows = {}
    done = Progress(run_dir)
    for i, spec in enumerate(config.models):
        if resumed(done, f"{i}-{spec.name}", run_dir, spec.name, rows, result.models):
            continue
        seed_everything(config.seed)
        model = build_model(spec.type, spec.params, f"models[{i}]", result.pretrained)
        start = time.perf_counter()
        model.fit(texts)
        rows[spec.name] = {"fit_time": time.perf_counter() - start,
                           "top_words": model.top_words(config.evaluation.top_words),
                           "coherence": float(model.coherence(texts))}
        result.models[spec.name] = model
        if config.evaluation.save_models:
            from hybridnlp.persistence import save_model

            save_model(model, run_dir / "models" / spec.name)
        done.put(f"{i}-{spec.name}", rows[spec.name])
    return {"models": rows, "protocol": "topics fit on the train split; c_v coherence there"}


# ---------------------------------------------------------------------- run


def run(config=None, *, output: str | None = None, quiet: bool = False,
        resume: str | os.PathLike | None = None) -> RunResult:
    """Run an experiment config (path, YAML string, dict or ExperimentConfig).

    ``resume``: the directory of an interrupted run. Work it recorded (folds, models) is
    taken from it, the rest is done, and its metrics and report are written as an
    uninterrupted run would have written them. ``config`` may then be omitted; if given, it
    must equal the run's ``config.yaml``.
    """
    source = None  # the config file, for the report's command line
    if isinstance(config, str | os.PathLike) and "\n" not in str(config) and \
            Path(config).is_file():
        source = shown_path(config)
    if resume is not None:
        config, run_dir = resume_dir(config, resume)
    elif config is None:
        raise TypeError("run() needs a config, or resume= with the directory of a run.")
    else:
        config = load_config(config)
        run_dir = _run_dir(config, output)
    handler = logging.FileHandler(run_dir / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("hybridnlp")
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    progress = None
    if not quiet:
        from tqdm.auto import tqdm

        def progress(items, desc):
            return tqdm(items, desc=desc, leave=False)
    try:
        atomic_write_bytes(run_dir / "config.yaml", yaml.safe_dump(
            config.to_dict(), sort_keys=False, allow_unicode=True).encode("utf-8"))
        env = environment()
        seed_everything(config.seed)
        result = RunResult(run_dir=run_dir, metrics={}, config=config)
        start = time.perf_counter()
        result.pretrained, pretrained = pretrain(config, run_dir)
        task = {"classification": _classification, "language_modeling": _language_modeling,
                "topic_modeling": _topic_modeling}[config.task]
        metrics = task(config, run_dir, result, progress)
        if pretrained:
            metrics["pretrain"] = pretrained
        metrics.update(name=config.name, task=config.task, seed=config.seed,
                       description=config.description, targets=config.evaluation.targets,
                       source=source, resumed=resume is not None,
                       wall_time=time.perf_counter() - start, environment=env,
                       finished=datetime.datetime.now().isoformat(timespec="seconds"))
        metrics = jsonable(metrics)
        atomic_write_json(run_dir / "metrics.json", metrics)
        result.metrics = metrics

        write_report(run_dir)
        if not quiet:
            key = MAIN_METRIC[config.task]
            for name, row in metrics["models"].items():
                spread = f" (+/- {row[key + '_std']:.4f})" if key + "_std" in row else ""
                print(f"{name:<28} {key} {row[key]:.4f}{spread}  fit {row['fit_time']:.1f} s")
            print(f"run directory: {run_dir}\nreport: {run_dir / 'report.md'}")
        return result
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def read_metrics(run_dir) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text("utf-8"))
