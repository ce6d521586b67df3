"""``run(config) -> RunResult``: fit and evaluate every model of a config, and write a run
directory: the resolved config, ``metrics.json``, per-fold and per-example predictions, the
fitted models, the environment, a log, and ``report.md`` with its plots.

Each finished unit of work (a model's fold, a whole model) is recorded in ``progress/`` as it
ends, so ``run(resume=run_dir)`` (``hybridnlp run --resume RUN_DIR``) continues an interrupted
run where it stopped and gives the metrics an uninterrupted run would have written."""

from __future__ import annotations

import datetime
import functools
import json
import logging
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from hybridnlp.exceptions import Interrupted
from hybridnlp.experiments.classification import classification, load_split
from hybridnlp.experiments.config import ExperimentConfig, load_config
from hybridnlp.experiments.execution import scheduler_address
from hybridnlp.experiments.model_loop import finish_model, pending_models
from hybridnlp.experiments.pretrain import pretrain
from hybridnlp.experiments.question_answering import question_answering
from hybridnlp.experiments.report import MAIN_METRIC, shown_path, write_report
from hybridnlp.experiments.run_state import jsonable, resume_dir
from hybridnlp.experiments.task_data import reading_data
from hybridnlp.experiments.translation import translation
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


# ---------------------------------------------------------------------- language modelling


def _corpus(config):
    from hybridnlp.datasets import load_dataset
    from hybridnlp.lm import read_corpus, split_corpus

    d = config.data
    if d.path is not None:
        with reading_data("data.path"):
            corpus = read_corpus(Path(d.path))
        train, val = split_corpus(corpus, config.evaluation.validation)
        return train, val
    with reading_data("data.name"):
        train = load_dataset(d.name, split=d.train_split, data_home=d.data_home).data
    test_split = d.test_split
    if test_split is None:
        whole = train if len(train) > 1 else train[0]
        return split_corpus(whole, config.evaluation.validation)
    with reading_data("data.name"):
        val = load_dataset(d.name, split=test_split, data_home=d.data_home).data
    join = (lambda xs: xs[0]) if len(train) == 1 else (lambda xs: "\n".join(xs) + "\n")
    return join(train), join(val)


def _language_modeling(config, run_dir, result, progress) -> dict:
    from hybridnlp.lm import count_units
    from hybridnlp.text import CharTokenizer

    ev = config.evaluation
    train, val = _corpus(config)
    if config.data.limit is not None:
        train, val = train[:config.data.limit], val[:max(config.data.limit // 10, 1000)]
    rows = {}
    for i, spec, model in pending_models(config, run_dir, result, rows):
        if spec.type == "ngram_lm" and model.tokenizer == "char":  # same inventory as GPT
            model.set_params(tokenizer=CharTokenizer().train([train, val]))
        start = time.perf_counter()
        if spec.type in ("interpolated_lm", "causal_lm"):  # the parts, then the weight
            model.fit(train, validation_data=val)
        else:
            model.fit(train)
        eval_text = val
        if spec.type == "interpolated_lm":  # weights cross-fitted on the held-out halves
            total, n = model.cross_fit_log_likelihood(eval_text)
        else:
            total, n = model.log_likelihood(eval_text)
        fit_time = time.perf_counter() - start
        per_n = count_units(eval_text, ev.per, n, model.tokenizer_)
        row = {"loss": -total / max(n, 1), "perplexity": math.exp(-total / max(per_n, 1)),
               "per": ev.per, "eval_tokens": n, "fit_time": fit_time}
        if getattr(model, "val_loss_", None) is not None:
            row["val_loss_windows"] = model.val_loss_
        if hasattr(model, "history_"):
            row["history"] = [dict(r) for r in model.history_]
        row["samples"] = [model.generate(ev.prompt, ev.max_new_tokens, seed=config.seed + s)
                          for s in range(ev.samples)]
        finish_model(config, run_dir, result, rows, i, spec, model, row)
    held_out = config.data.test_split or f"the last {ev.validation:.0%} of the training text"
    return {"models": rows, "protocol": (
        f"perplexity per {ev.per} on the held-out text ({held_out}); an interpolation's "
        f"weights are cross-fitted on its two halves")}


# ---------------------------------------------------------------------- topic modelling


def _topic_modeling(config, run_dir, result, progress) -> dict:
    texts, _, _ = load_split(config, config.data.train_split)
    rows = {}
    for i, spec, model in pending_models(config, run_dir, result, rows):
        start = time.perf_counter()
        model.fit(texts)
        finish_model(config, run_dir, result, rows, i, spec, model, {
            "fit_time": time.perf_counter() - start,
            "top_words": model.top_words(config.evaluation.top_words),
            "coherence": float(model.coherence(texts))})
    return {"models": rows, "protocol": "topics fit on the train split; c_v coherence there"}


# ---------------------------------------------------------------------- run


def run(config=None, *, output: str | None = None, quiet: bool = False,
        resume: str | os.PathLike | None = None, scheduler: str | None = None) -> RunResult:
    """Run an experiment config (path, YAML string, dict or ExperimentConfig).

    ``resume``: the directory of an interrupted run. Work it recorded (folds, models) is
    taken from it, the rest is done, and its metrics and report are written as an
    uninterrupted run would have written them. ``config`` may then be omitted; if given, it
    must equal the run's ``config.yaml``.

    ``scheduler``: the address of a Dask scheduler for ``execution.backend: dask`` (default
    ``$HYBRIDNLP_DASK_SCHEDULER``; without either, a local cluster). Only the caller chooses
    it, never the config: joining a cluster trusts it to run code in this process.
    """
    source = None  # the config file, for the report's command line
    if isinstance(config, str | os.PathLike) and "\n" not in str(config) and \
            Path(config).is_file():
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
        task = {"classification": functools.partial(classification, scheduler=scheduler),
                "language_modeling": _language_modeling, "topic_modeling": _topic_modeling,
                "translation": translation,
                "question_answering": question_answering}[config.task]
        metrics = task(config, run_dir, result, progress)
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
    key = MAIN_METRIC[m["task"]]
    lines = []
    for name, row in m["models"].items():
        spread = f" (+/- {row[key + '_std']:.4f})" if key + "_std" in row else ""
        lines.append(f"{name:<28} {key} {row[key]:.4f}{spread}  fit {row['fit_time']:.1f} s")
    lines += [f"run directory: {result.run_dir}", f"report: {result.run_dir / 'report.md'}"]
    return "\n".join(lines)


def read_metrics(run_dir) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text("utf-8"))
