"""The ``multilabel`` task: any number of labels per text (GoEmotions' emotions, DuEE's event
types, a file's column of labels joined by ``|``). Each model is fit and scored over k folds
(shuffled) or on the test split: micro F1 (the main metric), macro F1, subset accuracy and
Hamming loss; each label's F1 per model. scikit-learn classifiers (``tfidf_lr``) learn every
label one-vs-rest; the hybrids stack per label (``hybridnlp.hybrid.StackingClassifier``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridnlp.experiments.data import load_split
from hybridnlp.experiments.model_loop import finish_model, fit_folds, folds_of, pending_models
from hybridnlp.experiments.plots import bar_chart
from hybridnlp.experiments.report import metric_table
from hybridnlp.experiments.task import Task, register_task
from hybridnlp.hybrid import as_multilabel
from hybridnlp.utils.multilabel import check_multilabel, label_f1, multilabel_scores

__all__ = ["MULTILABEL", "multilabel", "render"]

METRICS = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")
SEPARATOR = "|"  # between the labels of one text in a file's label column


def indicator(target, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """``target`` as an (n, n_labels) boolean matrix and a name per label: a data set's
    indicator matrix, or a file's label strings split on ``|`` (an empty cell: no label)."""
    target = np.asarray(target)
    if target.ndim == 2:
        Y, _ = check_multilabel(target)
        return Y, [str(n) for n in names] if len(names) == Y.shape[1] else [
            str(j) for j in range(Y.shape[1])]
    if target.dtype.kind in "iu" and len(target) and target.min() >= 0 and \
            target.max() < len(names):  # a data set's class ids (not a file's numbers)
        target = np.asarray(names, dtype=object)[target]
    lists = [[part for part in str(v).split(SEPARATOR) if part] for v in target]
    Y, classes = check_multilabel(lists)
    return Y, [str(c) for c in classes]


def multilabel(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    """Every model of the config over the folds (or the test split)."""
    texts, target, names = load_split(config, config.data.train_split)
    if target is None:
        raise ValueError("the multilabel task needs labels; set data.label_column (labels "
                         "joined by '|').")
    Y, names = indicator(target, names)
    test_texts, Y_test = None, None
    if config.data.test_split:
        test_texts, test_target, test_names = load_split(config, config.data.test_split)
        Y_test = _test_indicator(test_target, test_names, names)
    folds, protocol, truth = folds_of(config, texts, Y.astype(np.int64), test_texts,
                                      None if Y_test is None else Y_test.astype(np.int64))
    truth = truth.astype(bool)
    rows = {}
    for i, spec, est in pending_models(config, run_dir, result, rows):
        row, pred, model = fit_folds(
            as_multilabel(est), folds, truth, METRICS,
            lambda model, x: np.asarray(model.predict(x)).astype(bool), multilabel_scores,
            desc=spec.name, progress=progress)
        row["label_f1"] = dict(zip(names, label_f1(truth, pred).tolist()))
        finish_model(config, run_dir, result, rows, i, spec, model, row,
                     card_metrics={m: row[m] for m in METRICS},
                     data={"texts": len(texts), "labels": len(names)}, class_names=names)
    return {"models": rows, "protocol": protocol, "label_names": names,
            "label_counts": truth.sum(axis=0).tolist()}


def _test_indicator(target, test_names, names: list[str]) -> np.ndarray:
    Y, found = indicator(target, test_names)
    if found == names:
        return Y
    unseen = sorted(set(found) - set(names))
    if unseen:
        raise ValueError(f"the test split has labels the training split lacks: {unseen[:10]}.")
    out = np.zeros((len(Y), len(names)), dtype=bool)
    out[:, [names.index(n) for n in found]] = Y
    return out


def render(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    counts = dict(zip(m["label_names"], m["label_counts"]))
    lines = [f"Protocol: {m['protocol']}. {len(m['label_names'])} labels; micro F1 pools "
             f"every label decision, macro F1 averages the labels' F1, subset accuracy counts "
             f"texts whose label set is exactly right, Hamming loss the wrong decisions.", "",
             *metric_table(m, METRICS, "micro_f1")]
    best = max(rows, key=lambda n: rows[n]["micro_f1"])
    f1 = rows[best]["label_f1"]
    order = sorted(f1, key=f1.get)
    lines += ["", f"Each label's F1, the best model ({best}); the hardest labels first, with "
                  f"their count in the evaluated texts:", "",
              "| label | texts | " + " | ".join(rows) + " |", "|---" * (len(rows) + 2) + "|"]
    for label in order:
        lines.append(f"| {label} | {counts.get(label, 0)} | " + " | ".join(
            f"{rows[n]['label_f1'].get(label, 0.0):.3f}" for n in rows) + " |")
    bar_chart(list(rows), [r["micro_f1"] for r in rows.values()], None, "micro F1",
              run_dir / "micro_f1.png", title=m.get("name", "run"))
    lines += ["", "![micro F1 per model](micro_f1.png)", ""]
    return lines


MULTILABEL = register_task(Task(
    name="multilabel", metrics=METRICS, main_metric="micro_f1",
    model_types=("tfidf_lr", "nbsvm", "fasttext", "transformer", "fusion", "stacking",
                 "ensemble", "hybrid_ensemble", "hybrid"),
    run=multilabel, render=render))
