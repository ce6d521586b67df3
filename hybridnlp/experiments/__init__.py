"""Experiments from YAML configs: schema (``load_config``), model registry (``MODELS``), the
runner (``run`` -> ``RunResult`` and a run directory) and reports."""

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

__all__ = [
    "MODELS",
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
    "run",
    "write_report",
]
