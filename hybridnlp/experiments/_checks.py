"""The checks a config passes after its keys and types: data, models and their parameters,
metrics, searches, pretraining corpora, names that become folders, the execution backend."""

from __future__ import annotations

import dataclasses

from hybridnlp.exceptions import ConfigError
from hybridnlp.experiments._schema import (
    BACKENDS,
    MAX_NAME_CHARS,
    CausalLMPretrainConfig,
    ExecutionConfig,
    ExperimentConfig,
    SearchConfig,
    _hint,
)
from hybridnlp.experiments.task import TASKS, check_task_data, task_named


def _check_feature_columns(config: ExperimentConfig) -> None:
    d = config.data
    if not (isinstance(d.feature_columns, list) and d.feature_columns
            and all(isinstance(c, str) for c in d.feature_columns)):
        raise ConfigError(f"data.feature_columns: expected a list of column names, got "
                          f"{d.feature_columns!r}.")
    if d.path is None or config.task != "classification":
        raise ConfigError("data.feature_columns: metadata columns are read from a file "
                          "(data.path) in a classification run; remove the key.")
    if not any(m.params.get("text_column") for m in config.models):
        raise ConfigError(f"data.feature_columns: no model reads them; set params: "
                          f"{{text_column: {d.text_column}}} on a stacking or hybrid model.")
    for i, m in enumerate(config.models):
        column = m.params.get("text_column")
        if column is not None and column != d.text_column:
            raise ConfigError(f"models[{i}].params.text_column: {column!r} is not the data's "
                              f"text column {d.text_column!r}; give the same name.")


def _check(config: ExperimentConfig) -> ExperimentConfig:
    task = task_named(config.task)
    d = config.data
    if (d.name is None) == (d.path is None):
        raise ConfigError("data: give exactly one of 'name' (a data set) and 'path' (a file).")
    if not config.models:
        raise ConfigError("models: the list is empty; name at least one model.")
    check_task_data(config)
    if d.feature_columns is not None:
        _check_feature_columns(config)
    from hybridnlp.experiments.registry import MODELS, PARTS, build_model

    names: set[str] = set()
    dirs: dict[str, str] = {}
    for i, m in enumerate(config.models):
        if m.type not in MODELS:
            raise ConfigError(f"models[{i}].type: unknown model {m.type!r}."
                              f"{_hint(m.type, MODELS)} Registered: {', '.join(MODELS)}.")
        if PARTS.get(m.type) == "meta_learner":
            raise ConfigError(f"models[{i}].type: {m.type!r} is a meta learner, not a model of "
                              f"texts; give it as the final_estimator of a stacking or hybrid "
                              f"model: {{type: hybrid, params: {{final_estimator: "
                              f"{{type: {m.type}}}}}}}.")
        if PARTS.get(m.type) == "qa_part":
            raise ConfigError(f"models[{i}].type: {m.type!r} is a part of a question-answering "
                              f"pipeline; give it as its retriever or reader: {{type: "
                              f"qa_pipeline, params: {{retriever: {{type: bm25}}, reader: "
                              f"{{type: logistic_reader}}}}}}.")
        if m.type not in task.model_types:
            owners = [t.name for t in TASKS.values() if m.type in t.model_types]
            raise ConfigError(f"models[{i}].type: {m.type!r} is a {' or '.join(owners)} "
                              f"model, but task is {config.task!r}.")
        # checks every parameter now; {pretrained: NAME} must name a configured pretraining
        model = build_model(m.type, m.params, f"models[{i}]",
                            pretrained=_pretrained_names(config))
        if m.search is not None:
            _check_search(m.search, model, config, f"models[{i}].search")
        if m.name in names:
            raise ConfigError(f"models[{i}].name: {m.name!r} is used twice; give each model "
                              f"a distinct name.")
        _check_name(m.name, f"models[{i}].name", dirs)
        names.add(m.name)
    allowed = task.metrics
    for i, metric in enumerate(config.evaluation.metrics):
        if task.chooses_metrics and metric not in allowed:
            raise ConfigError(f"evaluation.metrics[{i}]: unknown metric {metric!r}."
                              f"{_hint(metric, allowed)} Choose from {', '.join(allowed)}.")
    if config.evaluation.per not in ("token", "word", "char"):
        raise ConfigError(f"evaluation.per: {config.evaluation.per!r} must be 'token', "
                          f"'word' or 'char'.")
    for name, value in config.evaluation.targets.items():
        if name not in names:
            raise ConfigError(f"evaluation.targets.{name}: no model is named {name!r}."
                              f"{_hint(str(name), names)} Models: {', '.join(sorted(names))}.")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"evaluation.targets.{name}: expected a number, got "
                              f"{type(value).__name__} {value!r}.")
    if config.pretrain.word2vec is not None:
        from hybridnlp.features.word2vec import check_word2vec_params

        w2v = config.pretrain.word2vec
        _check_corpus(config, "pretrain.word2vec.corpus", w2v.corpus)
        try:
            check_word2vec_params(vector_size=w2v.vector_size, window=w2v.window,
                                  min_count=w2v.min_count, sg=w2v.sg, epochs=w2v.epochs,
                                  workers=w2v.workers)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"pretrain.word2vec.{err}") from None
    if config.pretrain.causal_lm is not None:
        spec = config.pretrain.causal_lm
        _check_corpus(config, "pretrain.causal_lm.corpus", spec.corpus)
        try:
            lm = causal_lm_of(spec, config.seed)
            lm._check_params()
            lm._config(spec.vocab_size)  # the preset and module__ fields
        except (TypeError, ValueError) as err:
            raise ConfigError(f"pretrain.causal_lm: {err}") from None
    if len(config.name) > MAX_NAME_CHARS:
        raise ConfigError(f"name: {config.name[:40]!r}... is {len(config.name)} characters; the "
                          f"run's name becomes its folder's, so keep it to {MAX_NAME_CHARS} "
                          f"(file systems refuse longer names).")
    if config.evaluation.cv < 2:
        raise ConfigError(f"evaluation.cv: {config.evaluation.cv} folds; use at least 2.")
    _check_execution(config.execution)
    if config.execution != ExecutionConfig() and not task.parallel:
        parallel = " and ".join(t.name for t in TASKS.values() if t.parallel)
        raise ConfigError(f"execution: folds run as parallel jobs in {parallel} runs; a "
                          f"{config.task} run fits one model at a time. Remove the section.")
    config._checked = config.to_dict()  # what was checked: a later change is checked again
    return config


def _check_search(search: SearchConfig, model, config: ExperimentConfig, where: str) -> None:
    from hybridnlp.experiments.search import SCORERS, check_space

    if config.task != "classification":
        raise ConfigError(f"{where}: a search runs in classification runs; this task is "
                          f"{config.task!r}. Remove the section.")
    try:
        check_space(search.params, model.get_params(deep=True), where)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if search.trials is None and search.timeout is None:
        raise ConfigError(f"{where}: give trials, timeout or both (a search needs a budget).")
    if search.trials is not None and search.trials < 1:
        raise ConfigError(f"{where}.trials: {search.trials}; use at least 1.")
    if search.timeout is not None and search.timeout <= 0:
        raise ConfigError(f"{where}.timeout: {search.timeout}; give seconds above 0.")
    if search.cv < 2:
        raise ConfigError(f"{where}.cv: {search.cv} folds; use at least 2.")
    if search.metric is not None and search.metric not in SCORERS:
        raise ConfigError(f"{where}.metric: {search.metric!r} is not one of "
                          f"{', '.join(SCORERS)}.{_hint(str(search.metric), SCORERS)}")


def _check_execution(ex: ExecutionConfig) -> None:
    if ex.backend not in BACKENDS:
        raise ConfigError(f"execution.backend: {ex.backend!r} is not a backend."
                          f"{_hint(ex.backend, BACKENDS)} Choose one of {', '.join(BACKENDS)}.")
    if ex.n_jobs == 0:
        raise ConfigError("execution.n_jobs: 0 jobs; use a positive number, or -1 for one "
                          "per core.")
    if ex.backend == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ConfigError("execution.backend: 'dask' needs dask.distributed, which is not "
                              "installed; pip install 'hybridnlp[distributed]'.") from None


def causal_lm_of(spec: CausalLMPretrainConfig, seed):
    """The unfitted ``CausalLM`` a ``pretrain.causal_lm`` section describes."""
    from hybridnlp.lm import CausalLM

    return CausalLM(preset=spec.preset, tokenizer=spec.tokenizer, vocab_size=spec.vocab_size,
                    block_size=spec.block_size, max_time=spec.max_time,
                    max_steps=spec.max_steps if spec.max_steps is not None else "auto",
                    batch_size=spec.batch_size, random_state=seed, **spec.params)


def _check_name(name: str, where: str, dirs: dict) -> None:
    """A model's name becomes the folder ``models/<slug>`` of the run directory: refuse one
    that names a path (separators, ``..``) and two that share a folder."""
    from hybridnlp.utils.paths import slug

    if not name.strip() or "/" in name or "\\" in name or "\0" in name or name.strip(".") == "":
        raise ConfigError(f"{where}: {name!r} is not a usable name: a model's name becomes a "
                          f"folder inside the run directory, so it cannot be empty, hold '/' "
                          f"or '\\', or be '.' or '..'; use letters, digits, '_', '-', '.'.")
    folder = slug(name)
    if len(folder.encode("utf-8")) > MAX_NAME_CHARS:
        raise ConfigError(f"{where}: {name[:40]!r}... is {len(name)} characters; a model's "
                          f"name becomes a folder, so keep it to {MAX_NAME_CHARS} (file systems "
                          f"refuse longer names).")
    if folder in dirs:
        raise ConfigError(f"{where}: {name!r} and {dirs[folder]!r} would both be saved as "
                          f"models/{folder}; give them names that differ in letters or digits.")
    dirs[folder] = name


def _pretrained_names(config: ExperimentConfig) -> dict:
    """Names a model parameter can take as ``{pretrained: NAME}`` (values filled in by the
    runner once trained; None while checking)."""
    return {f.name: None for f in dataclasses.fields(config.pretrain)
            if getattr(config.pretrain, f.name) is not None}


def _check_corpus(config: ExperimentConfig, path: str, corpus: list[str]) -> None:
    """Pretraining text must not include the texts the experiment is scored on."""
    from hybridnlp.datasets import DATASETS

    if not corpus:
        raise ConfigError(f"{path}: the list is empty; name data sets (e.g. imdb, "
                          f"wikitext2:train) or text files.")
    own = config.data.name
    for i, entry in enumerate(corpus):
        name, _, split = entry.partition(":")
        if name not in DATASETS:
            if split or not entry.endswith((".txt", ".gz")):
                raise ConfigError(f"{path}[{i}]: {entry!r} is neither a data set "
                                  f"({', '.join(DATASETS)}, optionally NAME:SPLIT) nor a .txt "
                                  f"file.{_hint(name, DATASETS)}")
            continue
        if split and split not in DATASETS[name].splits:
            raise ConfigError(f"{path}[{i}]: {name!r} has no split {split!r}; its splits are "
                              f"{', '.join(DATASETS[name].splits) or 'none (one set)'}.")
        same = own in DATASETS and DATASETS[name].collection == DATASETS[own].collection
        if same and (not config.data.test_split or split != config.data.train_split):
            fix = (f"use {own}:{config.data.train_split} or other data sets"
                   if config.data.test_split else "use other data sets (it is cross-validated, "
                   "so every text is a test text once)")
            raise ConfigError(f"{path}[{i}]: {entry!r} holds the texts {own!r} is scored on, "
                              f"so pretraining would see them; {fix}.")
