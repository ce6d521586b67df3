"""Experiment configs: YAML (safe loader) validated into dataclasses.

Every key is checked against the schema (:mod:`hybridnlp.experiments._schema`); an unknown key
or a wrong type raises :class:`ConfigError` naming the key's path (``models[1].params.lr``)
and, for a misspelt key, the closest valid one; then the config's values are checked
(:mod:`hybridnlp.experiments._checks`). Nothing in a config is evaluated as code.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path

from hybridnlp.exceptions import ConfigError
from hybridnlp.experiments._checks import _check, causal_lm_of
from hybridnlp.experiments._schema import (
    CausalLMPretrainConfig,
    DataConfig,
    EvaluationConfig,
    ExecutionConfig,
    ExperimentConfig,
    ModelConfig,
    PretrainConfig,
    SearchConfig,
    Word2VecPretrainConfig,
    _hint,
)
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
    "causal_lm_of",
    "load_config",
    "read_config_file",
]


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
