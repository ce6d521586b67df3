"""Experiments from YAML configs: schema (``load_config``), model registry (``MODELS``), one
``Task`` per task in one registry (``TASKS``; each task's module registers its own), the
runner (``run`` -> ``RunResult`` and a run directory) and reports."""

# the tasks: each module registers its Task when imported
from hybridnlp.experiments import (  # noqa: F401  (isort: the registry fills in this order)
    classification,
    language_modeling,
    multilabel,
    question_answering,
    regression,
    topic_modeling,
    translation,
)
from hybridnlp.experiments.config import (
    ConfigError,
    DataConfig,
    EvaluationConfig,
    ExperimentConfig,
    ModelConfig,
    apply_overrides,
    load_config,
)
from hybridnlp.experiments.registry import MODELS, build_model
from hybridnlp.experiments.report import compare_runs, write_report
from hybridnlp.experiments.runner import RunResult, run
from hybridnlp.experiments.task import TASKS, Task, register_task

__all__ = [
    "MODELS",
    "TASKS",
    "Task",
    "ConfigError",
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "ModelConfig",
    "RunResult",
    "apply_overrides",
    "build_model",
    "compare_runs",
    "load_config",
    "register_task",
    "run",
    "write_report",
]
