"""What a run has finished, kept in its directory so an interrupted run resumes: one JSON
record per finished unit of work (a model's fold, a whole model) under ``RUN_DIR/progress``,
and the check that a resumed run has the config it started with."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from hybridnlp.experiments.config import ExperimentConfig, load_config
from hybridnlp.utils.io import atomic_write_json
from hybridnlp.utils.paths import inside, slug

__all__ = ["Progress", "jsonable", "load_saved", "model_dir", "resume_dir", "resumed"]

logger = logging.getLogger("hybridnlp.experiments")


def jsonable(obj):
    """``obj`` with NumPy scalars, tuples and non-finite floats made JSON-ready."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class Progress:
    """Finished units of work of a run, one JSON file each under ``run_dir/progress``."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir / "progress"
        self.dir.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.dir / (slug(key) + ".json")

    def get(self, key: str):
        path = self._path(key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError:  # writes are atomic; a damaged file is redone
            logger.warning("progress record %s is unreadable; redoing that part", path)
            return None

    def put(self, key: str, value) -> None:
        atomic_write_json(self._path(key), jsonable(value))

    def drop(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def model_dir(run_dir: Path, name: str) -> Path:
    """Where the model named ``name`` is saved in ``run_dir``: ``models/<slug of name>``."""
    return inside(Path(run_dir) / "models", name)


def load_saved(run_dir: Path, name: str, models: dict) -> None:
    """Put the model an earlier run saved under ``models/<name>`` into ``models``, if any."""
    if model_dir(run_dir, name).is_dir():
        from hybridnlp.persistence import load

        models[name] = load(model_dir(run_dir, name))


def resumed(done: Progress, key: str, run_dir: Path, name: str, rows: dict,
             models: dict) -> bool:
    """Take a model's row from an earlier, interrupted run of this directory (and the model,
    if it was saved); False when that model has to be fit."""
    row = done.get(key)
    if row is None:
        return False
    rows[name] = row
    load_saved(run_dir, name, models)
    logger.info("%s: taken from the earlier run (progress/%s.json)", name, key)
    return True


def resume_dir(config, resume) -> tuple[ExperimentConfig, Path]:
    """The config and directory of the run to resume; ``config`` (or None: the run's own)
    must equal the run's ``config.yaml``, or the first differing key is named."""
    run_dir = Path(resume)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise FileNotFoundError(f"resume={str(run_dir)!r} is not a run directory (no "
                                f"config.yaml); pass the directory an earlier run created.")
    recorded = load_config(saved)
    if config is None:
        return recorded, run_dir
    config = load_config(config)
    if config.to_dict() != recorded.to_dict():
        a, b = _flatten(config.to_dict()), _flatten(recorded.to_dict())
        key = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        raise ValueError(f"the config differs from the one in {str(saved)!r} at {key} "
                         f"({a.get(key)!r} vs {b.get(key)!r}); resume with the same config, "
                         f"or start a new run.")
    return config, run_dir


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items()
                for k, v in _flatten(item, f"{prefix}.{key}" if prefix else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value)
                for k, v in _flatten(item, f"{prefix}[{i}]").items()}
    return {prefix: value}
