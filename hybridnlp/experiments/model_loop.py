"""The loop every non-classification task runs over a config's models: take what an
interrupted run of the directory finished, seed and build the rest, and record each as it
ends (its row in ``progress/``, the model saved in ``models/``)."""

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
        yield i, spec, build_model(spec.type, spec.params, f"models[{i}]", result.pretrained,
                                   seed=config.seed)


def finish_model(config, run_dir, result, rows: dict, i: int, spec, model, row: dict) -> None:
    """Record a fitted model: its row, the model (saved into the run directory when
    ``evaluation.save_models``; one that cannot be saved yet is logged, not fatal) and its
    progress entry, so a resumed run skips it."""
    rows[spec.name] = row
    result.models[spec.name] = model
    if config.evaluation.save_models and hasattr(model, "save"):
        from hybridnlp.persistence import save

        d = config.data
        try:
            save(model, model_dir(run_dir, spec.name),
                 data={"name": d.name or d.path, "split": d.train_split},
                 metrics={k: v for k, v in row.items() if isinstance(v, int | float)})
        except NotImplementedError as err:
            logger.warning("model %s not saved: %s", spec.name, err)
    Progress(run_dir).put(f"{i}-{spec.name}", row)
