"""The ``regression`` task: real-valued targets (EmoBank's valence, arousal and dominance, a
CSV's numeric column). Each model is fit and scored over k folds (shuffled) or on the test
split: Pearson (the main metric), Spearman, RMSE and MAE, each the mean over targets;
per-example predictions and a predicted-against-true plot of the best model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridnlp.experiments.data import load_split
from hybridnlp.experiments.model_loop import finish_model, fit_folds, folds_of, pending_models
from hybridnlp.experiments.plots import scatter_plot
from hybridnlp.experiments.report import metric_table
from hybridnlp.experiments.task import Task, register_task
from hybridnlp.utils.metrics import regression_scores

__all__ = ["REGRESSION", "regression", "render"]

METRICS = ("pearson", "spearman", "rmse", "mae")


def _targets(y, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """``y`` as floats, (n,) or (n, k), and a name per target; a clear error for labels."""
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("task: regression needs numeric targets; the data's labels are not "
                         "numbers (use task: classification, or point data.label_column at "
                         "a numeric column).") from None
    k = 1 if y.ndim == 1 else y.shape[1]
    names = [str(n) for n in names] if len(names) == k else (
        ["target"] if k == 1 else [f"target {j}" for j in range(k)])
    return y, names


def regression(config, run_dir, result, *, progress=None, scheduler=None) -> dict:
    """Every model of the config over the folds (or the test split)."""
    texts, y, names = load_split(config, config.data.train_split)
    if y is None:
        raise ValueError("regression needs targets; set data.label_column.")
    if config.data.path is not None:  # a file's column: its distinct values are no names
        names = [config.data.label_column]
    y, names = _targets(y, names)
    test_texts, y_test = None, None
    if config.data.test_split:
        test_texts, y_test, _ = load_split(config, config.data.test_split)
        y_test, _ = _targets(y_test, names)
    folds, protocol, truth = folds_of(config, texts, y, test_texts, y_test)
    rows, predictions = {}, {}
    for i, spec, est in pending_models(config, run_dir, result, rows):
        row, pred, model = fit_folds(
            est, folds, truth, METRICS, lambda model, x: np.asarray(
                model.predict(x), dtype=np.float64).reshape(len(x), *truth.shape[1:]),
            lambda t, p: regression_scores(t, p, names), desc=spec.name, progress=progress)
        if len(names) > 1:
            row["per_target"] = regression_scores(truth, pred, names)["per_target"]
        if hasattr(model, "chosen_"):
            row["chosen"] = [str(c) for c in model.chosen_]
        predictions[spec.name] = pred.tolist()
        finish_model(config, run_dir, result, rows, i, spec, model, row,
                     card_metrics={m: row[m] for m in METRICS}, data={"texts": len(texts)},
                     class_names=names if len(names) > 1 else None)  # a column each
    return {"models": rows, "protocol": protocol, "target_names": names,
            "truth": truth.tolist(), "predictions": predictions}


def render(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}. Each score is the mean over the targets "
             f"({', '.join(m['target_names'])}).", "", *metric_table(m, METRICS, "pearson"),
             ""]
    for name, r in rows.items():
        if r.get("per_target"):
            lines.append(f"{name}, Pearson per target: " + ", ".join(
                f"{t} {s['pearson']:.4f}" for t, s in r["per_target"].items()) + ".")
        if r.get("chosen"):
            lines.append(f"{name} chose, per target: {', '.join(r['chosen'])}.")
    lines.append("")
    best = max(rows, key=lambda n: rows[n]["pearson"])
    if best in m.get("predictions", {}):
        scatter_plot(np.asarray(m["truth"]), np.asarray(m["predictions"][best]),
                     m["target_names"], run_dir / "predicted.png",
                     title=f"{m.get('name', 'run')}: {best}, predicted against true")
        lines += [f"Predicted against true, the best model ({best}):", "",
                  "![predicted against true](predicted.png)", ""]
    return lines


REGRESSION = register_task(Task(
    name="regression", metrics=METRICS, main_metric="pearson",
    model_types=("ridge", "fasttext_regressor", "transformer_regressor", "hybrid_regressor"),
    run=regression, render=render))
