"""The loop every task runs over a config's models: take what an interrupted run of the
directory finished, seed and build the rest, and record each as it ends (its row in
``progress/``, the model saved in ``models/`` with its card)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from hybridnlp.experiments.registry import build_model
from hybridnlp.experiments.run_state import Progress, model_dir, resumed
from hybridnlp.utils.seed import seed_everything

__all__ = ["finish_model", "pending_models"]

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
