"""``run(config) -> RunResult``: fit and evaluate every model of a config, and write a run
directory: the resolved config, ``metrics.json``, per-fold and per-example predictions, the
fitted models, the environment, a log, and ``report.md`` with its plots.

Each finished unit of work (a model's fold, a whole model) is recorded in ``progress/`` as it
ends, so ``run(resume=run_dir)`` (``hybridnlp run --resume RUN_DIR``) continues an interrupted
run where it stopped and gives the metrics an uninterrupted run would have written."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hybridnlp.exceptions import Interrupted
from hybridnlp.experiments.config import ExperimentConfig, load_config
from hybridnlp.experiments.execution import scheduler_address
from hybridnlp.experiments.pretrain import pretrain
from hybridnlp.experiments.report import main_metric, shown_path, write_report
from hybridnlp.experiments.run_state import jsonable, resume_dir
from hybridnlp.experiments.task import task_named
from hybridnlp.utils.io import atomic_write_bytes, atomic_write_json, exclusive_lock
from hybridnlp.utils.paths import slug
from hybridnlp.utils.seed import seed_everything

__all__ = ["RunResult", "run", "summary"]

logger = logging.getLogger("hybridnlp.experiments")


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    config: ExperimentConfig
    models: dict = field(default_factory=dict)  # name -> fitted estimator (last fit)
    pretrained: dict = field(default_factory=dict)  # pretrain section -> its file


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


# ---------------------------------------------------------------------- run


def run(config=None, *, output: str | None = None, quiet: bool = False,
        resume: str | os.PathLike | None = None, scheduler: str | None = None,
        source: str | None = None) -> RunResult:
    """Run an experiment config (path, YAML string, dict or ExperimentConfig).

    ``resume``: the directory of an interrupted run. Work it recorded (folds, models) is
    taken from it, the rest is done, and its metrics and report are written as an
    uninterrupted run would have written them. ``config`` may then be omitted; if given, it
    must equal the run's ``config.yaml``.

    ``scheduler``: the address of a Dask scheduler for ``execution.backend: dask`` (default
    ``$HYBRIDNLP_DASK_SCHEDULER``; without either, a local cluster). Only the caller chooses
    it, never the config: joining a cluster trusts it to run code in this process.

    ``source``: the command line's config file and ``--set`` overrides, for the report's
    command (default: ``config`` when it is a file's path).
    """
    # the config file (and what the command line added to it), for the report's command
    if source is None and isinstance(config, str | os.PathLike) and "\n" not in str(config) \
            and Path(config).is_file():
        source = shown_path(config)
    if resume is not None:
        config, run_dir = resume_dir(config, resume)
        scheduler = scheduler_address(config.execution, scheduler)
    elif config is None:
        raise TypeError("run() needs a config, or resume= with the directory of a run.")
    else:
        config = load_config(config)
        scheduler = scheduler_address(config.execution, scheduler)  # before any directory
        run_dir = _run_dir(config, output)
    try:
        with exclusive_lock(run_dir / ".lock", f"run directory {str(run_dir)!r}"):
            return _run(config, run_dir, source, resume, quiet, scheduler)
    except KeyboardInterrupt:
        raise Interrupted(f"the folds and models that finished are kept in {str(run_dir)!r}; "
                          f"continue with: hybridnlp run --resume {run_dir}") from None


def _run(config: ExperimentConfig, run_dir: Path, source, resume, quiet: bool,
         scheduler: str | None) -> RunResult:
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
        result.pretrained, pretrain_info = pretrain(config, run_dir)
        metrics = task_named(config.task).run(config, run_dir, result, progress=progress,
                                              scheduler=scheduler)
        if pretrain_info:
            metrics["pretrain"] = pretrain_info
        metrics.update(name=config.name, task=config.task, seed=config.seed,
                       description=config.description, targets=config.evaluation.targets,
                       source=source, resumed=resume is not None,
                       wall_time=time.perf_counter() - start, environment=env,
                       finished=datetime.datetime.now().isoformat(timespec="seconds"))
        metrics = jsonable(metrics)
        atomic_write_json(run_dir / "metrics.json", metrics)
        result.metrics = metrics

        write_report(run_dir)
        return result
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def summary(result: RunResult) -> str:
    """The lines the CLI prints after a run: each model's main metric (with its spread over
    folds) and fit time, then where the run directory and report are."""
    m = result.metrics
    key = main_metric(m)
    lines = []
    for name, row in m["models"].items():
        spread = f" (+/- {row[key + '_std']:.4f})" if key + "_std" in row else ""
        lines.append(f"{name:<28} {key} {row[key]:.4f}{spread}  fit {row['fit_time']:.1f} s")
    lines += [f"run directory: {result.run_dir}", f"report: {result.run_dir / 'report.md'}"]
    return "\n".join(lines)


def read_metrics(run_dir) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text("utf-8"))
