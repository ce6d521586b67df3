"""Experiment configs: YAML (safe loader) validated into dataclasses.

Every key is checked against the schema; an unknown key or a wrong type raises
:class:`ConfigError` naming the key's path (``models[1].params.lr``) and, for a misspelt key,
the closest valid one. Nothing in a config is evaluated as code.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from hybridnlp.exceptions import ConfigError
from hybridnlp.experiments.task import TASKS, check_task_data, task_named
from hybridnlp.utils.safe_yaml import load_yaml

__all__ = [
    "ConfigError",
    "DataConfig",
    "EvaluationConfig",
    "ExecutionConfig",
    "ExperimentConfig",
    "ModelConfig",
    "CausalLMPretrainConfig",
    "PretrainConfig",
    "SearchConfig",
    "Word2VecPretrainConfig",
    "apply_overrides",
    "load_config",
    "read_config_file",
]



@dataclass
class DataConfig:
    """Where the texts come from: a data set by ``name`` (``hybridnlp.datasets``) or a file
    by ``path`` with ``text_column`` / ``label_column``."""

    name: str | None = None
    path: str | None = None
    text_column: str = "text"
    label_column: str | None = "label"
    train_split: str = "train"
    test_split: str | None = None  # None: cross-validation on the train split
    limit: int | None = None  # quick runs: a seeded sample of N texts per split (LM: N chars;
    # translation: the first N pairs of each split)
    data_home: str | None = None
    source: str | None = None  # translation: the source and target languages (e.g. en, de)
    target: str | None = None
    # classification from a file: more columns (numbers, categories) for the models whose
    # text_column is set (the hybrids' meta learner reads them beside the texts)
    feature_columns: list | None = None


@dataclass
class SearchConfig:
    """A hyper-parameter search of one model (``experiments.search.OptunaSearch``): Optuna
    over ``params`` (name -> ``{low, high}``, with ``log: true`` or ``step``, or
    ``{choices: [...]}``), by ``cv``-fold cross-validation on the texts the model is fit on,
    for ``trials`` trials and/or ``timeout`` seconds, scored by ``metric`` (default: the
    task's main metric); the best parameters are refit."""

    params: dict
    trials: int | None = 20
    timeout: float | None = None
    cv: int = 3
    metric: str | None = None
    pruning: bool = True


@dataclass
class ModelConfig:
    """A registered model (``hybridnlp.experiments.MODELS``) and its parameters."""

    type: str
    name: str | None = None  # its label in reports; defaults to the type
    params: dict = field(default_factory=dict)
    search: SearchConfig | None = None

    def __post_init__(self):
        if self.name is None and isinstance(self.type, str):
            self.name = self.type  # set once here; validation changes nothing


@dataclass
class Word2VecPretrainConfig:
    """Word vectors trained on unlabelled text before any model (``Word2VecFeatures``), once
    per run; a model parameter ``{pretrained: word2vec}`` receives the file."""

    # data set names (every split, e.g. "imdb"), "name:split" (e.g. "wikitext2:train") or
    # text files (one text per line); never the experiment's own test texts
    corpus: list[str]
    vector_size: int = 128  # the width of TransformerClassifier's "small" encoder
    window: int = 5
    min_count: int = 3
    sg: int = 0  # 0: CBOW, 1: skip-gram
    epochs: int = 5
    workers: int = 1  # gensim threads; more than one is faster but not reproducible


@dataclass
class CausalLMPretrainConfig:
    """The project's GPT (``CausalLM``) trained on unlabelled text before any model, once per
    run; a model parameter ``{pretrained: causal_lm}`` receives its directory (e.g.
    ``init_from`` of a ``transformer``: GPT-1's recipe)."""

    corpus: list[str]  # as word2vec's; never the experiment's own test texts
    preset: str = "quick"
    tokenizer: str = "bpe"  # a classifier reads words: BPE rather than characters
    vocab_size: int = 8192
    block_size: int | None = 128  # the longest text (in tokens) the classifier reads
    max_time: float | None = 600.0  # seconds of training
    max_steps: int | None = None
    batch_size: int = 32
    params: dict = field(default_factory=dict)  # any other CausalLM parameter


@dataclass
class PretrainConfig:
    word2vec: Word2VecPretrainConfig | None = None
    causal_lm: CausalLMPretrainConfig | None = None


@dataclass
class EvaluationConfig:
    cv: int = 5  # folds when the data has no test split
    metrics: list[str] = field(default_factory=lambda: ["accuracy", "macro_f1"])
    per: str = "token"  # language modelling: perplexity per "token", "word" or "char"
    validation: float = 0.1  # language modelling: share held out when there is no dev split
    samples: int = 1  # language modelling: generated samples in the report
    prompt: str = ""
    max_new_tokens: int = 200
    top_words: int = 10  # topic modelling
    save_models: bool = True  # write each fitted model into the run directory
    # model name -> target of the task's main metric (accuracy, perplexity, coherence), shown
    # in reports as met or missed (perplexity: at most the target; the others: at least)
    targets: dict = field(default_factory=dict)


@dataclass
class ExecutionConfig:
    """Where a classification run's folds are fit: ``n_jobs`` folds at once on a joblib
    backend ("loky": processes on this machine; "threading"; "dask": a local
    ``dask.distributed`` cluster of ``n_jobs`` workers, or the scheduler given on the command
    line, ``hybridnlp run --scheduler ADDRESS``, or in ``$HYBRIDNLP_DASK_SCHEDULER``).

    A config never says where the program connects: Dask moves results with pickle, so a
    scheduler and its workers can run code in this process. ``address`` is refused at load.
    """

    backend: str = "loky"
    n_jobs: int = 1


BACKENDS = ("loky", "threading", "dask")
MAX_NAME_CHARS = 120  # a run's and a model's name become folder names (255 bytes at most)


@dataclass
class ExperimentConfig:
    name: str
    task: str
    data: DataConfig
    models: list[ModelConfig]
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    seed: int = 0
    output: str = "runs"
    description: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _hint(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _convert(value, tp, path: str):
    """Check ``value`` against the annotation ``tp`` (and build nested dataclasses)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, path)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} "
                              f"{value!r}.")
        return _build(tp, value, path)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}.")
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} "
                              f"{value!r}.")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{path}: expected {_type_name(tp)}, got {type(value).__name__} "
                          f"{value!r}.")
    return value


def _build(cls, values: dict, path: str):
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            where = f"{path}.{key}" if path else key
            raise ConfigError(f"{where}: unknown key.{_hint(str(key), fields)} "
                              f"Allowed keys: {', '.join(fields)}.")
    kwargs = {}
    for name, f in fields.items():
        where = f"{path}.{name}" if path else name
        if name in values:
            kwargs[name] = _convert(values[name], hints[name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: required key is missing.")
    return cls(**kwargs)


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


def from_dict(values: dict) -> ExperimentConfig:
    """Validate a plain dict (as YAML gives it). ``model:`` (one) is accepted for ``models:``."""
    if not isinstance(values, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got "
                          f"{type(values).__name__}.")
    values = dict(values)
    _refuse_address(values)
    if "model" in values:
        if "models" in values:
            raise ConfigError("model: give either 'model' (one) or 'models' (a list), not both.")
        values["models"] = [values.pop("model")]
    return _check(_build(ExperimentConfig, values, ""))


def _refuse_address(values: dict) -> None:
    """A config is data: it may not choose a host to connect to (a Dask scheduler's pickled
    results run code here). Run directories saved before this rule hold ``address: null``,
    which is dropped."""
    execution = values.get("execution")
    if not isinstance(execution, dict) or "address" not in execution:
        return
    if execution["address"] is not None:
        raise ConfigError("execution.address: a config may not choose where the program "
                          "connects (a Dask scheduler and its workers can run code in this "
                          "process); remove it and pass --scheduler ADDRESS to hybridnlp run, "
                          "or set HYBRIDNLP_DASK_SCHEDULER, for a cluster you trust.")
    values["execution"] = {k: v for k, v in execution.items() if k != "address"}


def read_config_file(path: str | os.PathLike) -> dict:
    """The settings of a YAML config file, as a dict (not yet validated); every problem with
    the file itself is a :class:`ConfigError` naming it (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist.")
    values = load_yaml(path.read_bytes(), str(path))
    if values is None:
        raise ConfigError(f"{str(path)!r} holds no config (it is empty or only comments); "
                          f"start from experiments/quickstart.yaml.")
    if not isinstance(values, dict):
        raise ConfigError(f"{str(path)!r}: expected a mapping of settings at the top level, "
                          f"got {type(values).__name__}.")
    return values


def load_config(source) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a YAML file path, a YAML string, a dict or a config."""
    if isinstance(source, ExperimentConfig):
        if getattr(source, "_checked", None) == source.to_dict():
            return source  # checked by an earlier load_config and unchanged since
        return _check(source)
    if isinstance(source, dict):
        return from_dict(source)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                           and source.endswith((".yaml", ".yml"))):
        return from_dict(read_config_file(source))
    values = load_yaml(source, "config")
    if values is None:
        raise ConfigError("config: the YAML text holds no config (it is empty or only "
                          "comments).")
    return from_dict(values)


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """``key.path=value`` strings (``models[0].params.lr=1e-3``, values parsed as YAML
    scalars) applied to a config dict (a copy). A path through something that is not a
    mapping or list, or past the end of a list, is a :class:`ConfigError` naming it."""
    import copy

    values = copy.deepcopy(values)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. seed=1.")
        key, raw = item.split("=", 1)
        value = load_yaml(raw, f"--set {key}") if raw else ""
        parts = _split_key(key)
        node = values
        for j, part in enumerate(parts):
            here = _join_key(parts[:j + 1])
            last = j == len(parts) - 1
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise ConfigError(f"--set {key}: {_join_key(parts[:j]) or 'the config'} "
                                      f"is not a list, so [{part}] cannot index it.")
                if part >= len(node):
                    raise ConfigError(f"--set {key}: {here} does not exist (the list has "
                                      f"{len(node)} item{'s' * (len(node) != 1)}); --set "
                                      f"can change items, not add them.")
                if last:
                    node[part] = value
                else:
                    node = node[part]
                continue
            if isinstance(node, list) and len(node) == 1:
                node = node[0]  # model.params.x with a single model
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {_join_key(parts[:j])} is "
                                  f"{type(node).__name__} {node!r}, not a mapping, so it has "
                                  f"no key {part!r}.")
            if part == "model" and "models" in node and "model" not in node:
                part = "models"
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
    return values


def _join_key(parts: list) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _split_key(key: str) -> list:
    parts: list = []
    for piece in key.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                parts.append(head)
            index, closed, piece = rest.partition("]")
            if not closed or not index.isdigit():
                raise ConfigError(f"--set {key}: [{index}] is not a list index; write "
                                  f"a non-negative number, e.g. models[0].")
            parts.append(int(index))
        if piece:
            parts.append(piece)
    if not parts:
        raise ConfigError(f"--set {key}=...: the key is empty.")
    return parts
