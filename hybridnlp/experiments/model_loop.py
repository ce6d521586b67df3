"""The loop every task runs over a config's models: take what an interrupted run of the
directory finished, seed and build the rest, and record each as it ends (its row in
``progress/``, the model saved in ``models/`` with its card)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold

from hybridnlp.experiments.registry import build_model
from hybridnlp.experiments.run_state import Progress, model_dir, resumed
from hybridnlp.utils.seed import seed_everything

__all__ = ["finish_model", "fit_folds", "folds_of", "pending_models"]

logger = logging.getLogger("hybridnlp.experiments")


def pending_models(config, run_dir, result, rows: dict) -> Iterator[tuple[int, object, object]]:
    """``(i, spec, model)`` for each model still to fit, freshly built after seeding; the
    rows (and saved models) of models an earlier run finished go into ``rows`` and
    ``result.models`` instead."""
    done = Progress(run_dir)
    for i, spec in enumerate(config.models):
        if resumed(done, f"{i}-{spec.name}", run_dir, spec.name, rows, result.models):
            continue
        seed_everything(config.seed)
        model = build_model(spec.type, spec.params, f"models[{i}]", result.pretrained,
                            seed=config.seed)
        if spec.search is not None:  # Optuna over its parameters, inside every fit
            from hybridnlp.experiments.search import OptunaSearch

            s = spec.search
            model = OptunaSearch(estimator=model, space=s.params, n_trials=s.trials,
                                 timeout=s.timeout, cv=s.cv, pruning=s.pruning,
                                 scoring=s.metric or "accuracy", random_state=config.seed)
        yield i, spec, model


def finish_model(config, run_dir, result, rows: dict, i: int, spec, model, row: dict, *,
                 card_metrics: dict | None = None, class_names=None,
                 data: dict | None = None) -> None:
    """Record a fitted model: its row, the model (saved into the run directory when
    ``evaluation.save_models``, with ``class_names`` and a card naming the data, ``data``'s
    extra facts and ``card_metrics``, by default the row's numbers; one that cannot be saved
    yet is logged and noted in the row as ``saved``, not fatal) and its progress entry, so
    a resumed run skips it."""
    rows[spec.name] = row
    model = getattr(model, "best_estimator_", model)  # a search: the refit best model
    result.models[spec.name] = model
    if config.evaluation.save_models and hasattr(model, "save"):
        from hybridnlp.persistence import save

        d = config.data
        if card_metrics is None:
            card_metrics = {k: v for k, v in row.items() if isinstance(v, int | float)}
        try:
            save(model, model_dir(run_dir, spec.name), class_names=class_names,
                 data={"name": d.name or d.path, "split": d.train_split, **(data or {})},
                 metrics=card_metrics)
        except NotImplementedError as err:
            logger.warning("model %s not saved: %s", spec.name, err)
            row["saved"] = str(err)
    Progress(run_dir).put(f"{i}-{spec.name}", row)


def folds_of(config, texts, y, test_texts=None, y_test=None):
    """``(folds, protocol, truth)`` of a task scored per example: one fold (train on the
    train split, test on the test split) or ``evaluation.cv`` shuffled k folds; each fold is
    (train texts, train targets, test texts, test targets, test rows in ``truth``)."""
    if config.data.test_split:
        folds = [(texts, y, test_texts, y_test, np.arange(len(test_texts)))]
        return folds, (f"train on {config.data.train_split}, test on "
                       f"{config.data.test_split}"), y_test
    split = KFold(config.evaluation.cv, shuffle=True, random_state=config.seed)
    folds = [([texts[i] for i in tr], y[tr], [texts[i] for i in te], y[te], te)
             for tr, te in split.split(texts)]
    return folds, f"{config.evaluation.cv}-fold CV (shuffled, seed {config.seed})", y


def fit_folds(est, folds, truth, metrics: tuple[str, ...], predict: Callable,
              score: Callable, *, desc: str, progress=None) -> tuple[dict, np.ndarray, object]:
    """A clone of ``est`` fit on each fold and scored on its test part: (the row: each of
    ``metrics`` as the mean over folds, its spread ``_std``, ``fit_time`` summed, ``folds``;
    the predictions of every row of ``truth``; the last fold's model). ``predict(model,
    texts)`` gives predictions shaped as the targets, ``score(true, predicted)`` a dict."""
    scores, fit_times, pred, model = [], [], np.zeros_like(truth), None
    steps = range(len(folds))
    for k in (progress(steps, desc=desc) if progress else steps):
        tr_x, tr_y, te_x, te_y, ids = folds[k]
        model = clone(est)
        start = time.perf_counter()
        model.fit(tr_x, tr_y)
        fit_times.append(time.perf_counter() - start)
        pred[ids] = predict(model, te_x)
        scores.append(score(te_y, pred[ids]))
    row = {m: float(np.mean([s[m] for s in scores])) for m in metrics}
    row.update({f"{m}_std": float(np.std([s[m] for s in scores])) for m in metrics})
    row["fit_time"] = float(np.sum(fit_times))
    row["folds"] = [{m: s[m] for m in metrics} for s in scores]
    return row, pred, model
