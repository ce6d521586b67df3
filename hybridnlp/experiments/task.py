"""The one registry of experiment tasks. A :class:`Task` holds everything the config check, the
runner and the report know of a task: its name, its metrics and main metric, the model types
it runs, what its data must be, how it runs and how its report section reads. Each task's
module registers its own (``register_task``); nothing here names a task, so a new task is one
new module (or one block in a test)."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable
from dataclasses import dataclass

from hybridnlp.exceptions import ConfigError, DataError, HybridNLPError

__all__ = ["TASKS", "Task", "check_task_data", "reading_data", "register_task", "task_named"]


@dataclass(frozen=True)
class Task:
    """One task of experiment configs (``task: NAME``).

    name : str
        What ``task:`` says.
    metrics : tuple of str
        What its rows report; with ``chooses_metrics``, what ``evaluation.metrics`` may name.
    main_metric : str
        The column the CLI summary, run comparisons and RESULTS.md sections show.
    model_types : tuple of str
        The registered model types (``hybridnlp.experiments.MODELS``) it runs.
    run : callable
        ``run(config, run_dir, result, *, progress, scheduler) -> dict``: fit and score every
        model (``experiments.model_loop`` records each as it ends); the dict goes into
        ``metrics.json`` (``"models"``: a row per model, ``"protocol"``: one sentence).
    render : callable
        ``render(metrics, run_dir) -> list of str``: the task's lines of ``report.md``.
    lower_is_better : bool
        Whether its main metric improves downwards (perplexity).
    data_task : bool
        The data set must be one of this task (``hybridnlp.datasets.DATASETS[name].task``).
    reads : str
        What it reads, for the error when ``data_task`` fails.
    languages : tuple of str
        ``data.source`` / ``data.target`` it accepts (none: the keys are refused).
    chooses_metrics : bool
        ``evaluation.metrics`` selects among ``metrics``.
    parallel : bool
        Its folds run as parallel jobs (the ``execution`` section applies).
    html_sections : callable, optional
        ``html_sections(metrics) -> list of (heading, html)``: what ``report.html`` shows
        beyond ``report.md`` at the end of the section with that heading (the explanation
        highlights).
    """

    name: str
    metrics: tuple[str, ...]
    main_metric: str
    model_types: tuple[str, ...]
    run: Callable
    render: Callable
    lower_is_better: bool = False
    data_task: bool = False
    reads: str = "a data set"
    languages: tuple[str, ...] = ()
    chooses_metrics: bool = False
    parallel: bool = False
    html_sections: Callable | None = None


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry (replacing one of the same name); returns it."""
    if task.main_metric not in task.metrics:
        raise ValueError(f"task {task.name!r}: main_metric {task.main_metric!r} is not one of "
                         f"its metrics {task.metrics}.")
    TASKS[task.name] = task
    return task


def task_named(name: str) -> Task:
    """The registered task ``name``; a :class:`ConfigError` naming the choices otherwise."""
    task = TASKS.get(name) if isinstance(name, str) else None
    if task is None:
        close = difflib.get_close_matches(str(name), list(TASKS), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"task: {name!r} is not a task.{hint} Choose one of "
                          f"{', '.join(TASKS)}.")
    return task


@contextlib.contextmanager
def reading_data(key: str):
    """Inside the block, a file that cannot be read (missing, truncated, too large, not the
    format it claims) is a :class:`DataError` starting with the config ``key`` that named
    it, so the CLI prints one line and exits 2 rather than a traceback."""
    try:
        yield
    except HybridNLPError:
        raise
    except (OSError, ValueError) as err:  # FileNotFoundError, UnicodeDecodeError included
        raise DataError(f"{key}: {err}") from None


def check_task_data(config) -> None:
    """What the config's task asks of its data: a data set of that task (``data_task``), and
    source / target languages only where the task has them, two different ones."""
    from hybridnlp.datasets import DATASETS

    task, d = task_named(config.task), config.data
    if task.data_task:
        info = DATASETS.get(d.name) if d.name is not None else None
        if info is None or info.task != task.name:
            have = ", ".join(n for n, i in DATASETS.items() if i.task == task.name)
            raise ConfigError(f"data.name: the {task.name} task reads {task.reads} ({have}); "
                              f"got {d.name or 'path ' + repr(d.path)}.")
    for key in ("source", "target"):
        value = getattr(d, key)
        if value is None:
            continue
        if not task.languages:
            having = " or ".join(t.name for t in TASKS.values() if t.languages) or "no"
            raise ConfigError(f"data.{key}: only the {having} task has a {key} language; "
                              f"remove it (task is {task.name!r}).")
        if value not in task.languages:
            raise ConfigError(f"data.{key}: {value!r} is not a language of {d.name}; choose "
                              f"one of {', '.join(task.languages)}.")
    if d.source is not None and d.source == d.target:
        raise ConfigError(f"data.target: source and target are both {d.source!r}; give two "
                          f"different languages.")

