"""The one registry of what saves itself, and the model card every saved directory carries.

Every class that writes its own files (``save(path)`` / ``load(path)``: the language models,
translators, QA retrievers, readers and pipelines, tokenizers) derives from :class:`Saveable`,
whose ``__init_subclass__`` records it under its class name. ``hybridnlp.load(dir)`` reads
the name a directory's ``config.json`` gives and asks this registry for the class, so a base
module never imports its children to find them (``load_tokenizer``, ``load_reader`` and
``load_retriever`` look up here too).

Only classes defined inside the ``hybridnlp`` package register: a name in a file can only
ever reach the project's own readers, which never run code from the file.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import inspect
import json
import os
import platform
from pathlib import Path

from hybridnlp.utils.io import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["FORMAT_VERSION", "Saveable", "registered", "registered_kinds", "save_parts",
           "stamp_config", "write_card"]

# The version of the saved-directory layout: config.json's ``format_version``. Directories
# written before it existed have none and read as version 0 (they still load).
FORMAT_VERSION = 1

_KINDS: dict[str, type] = {}


class Saveable:
    """Base of every class that saves itself as a directory (or, for tokenizers, a file):
    subclasses define ``save(path)`` and the classmethod ``load(path)``, and are registered
    under their class name for ``hybridnlp.load``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "hybridnlp" and not cls.__name__.startswith("_"):
            _KINDS[cls.__name__] = cls


def registered(kind: str, base: type | None = None) -> type | None:
    """The registered class named ``kind`` (a subclass of ``base`` when given), or None."""
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None or (base is not None and not issubclass(cls, base)):
        return None
    return cls


def registered_kinds(base: type | None = None) -> dict[str, type]:
    """Every registered class (the subclasses of ``base`` when given), by name."""
    return {name: cls for name, cls in _KINDS.items() if base is None or issubclass(cls, base)}


def save_parts(path: str | os.PathLike, parts: dict, config: dict) -> Path:
    """A composite model's directory: each part saved by its own ``save`` into the folder of
    its name, then ``config.json`` (written last, so a reader finds complete parts)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.save(path / name)
    atomic_write_json(path / "config.json", config)
    return path


@functools.cache
def _versions() -> dict:
    """The library versions a saved directory records (read once per process)."""
    out = {"python": platform.python_version()}
    for dist in ("hybridnlp", "numpy", "scipy", "scikit-learn", "torch", "tokenizers",
                 "safetensors", "skops", "transformers", "gensim"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def stamp_config(path: str | os.PathLike, defaults: dict) -> dict:
    """Add ``format_version`` and the library versions to the directory's ``config.json``
    (creating it from ``defaults`` when the writer made none); returns its content."""
    file = Path(path) / "config.json"
    config = read_json(file, what="model config") if file.exists() else dict(defaults)
    config["format_version"] = FORMAT_VERSION
    config["versions"] = dict(_versions())
    atomic_write_json(file, config)
    return config


def _plain(value, depth: int = 0):
    """``value`` if it reads well in a card (numbers, strings, short lists), else its type."""
    if isinstance(value, bool | int | float | str | type(None)):
        return value
    if isinstance(value, tuple | list) and depth == 0 and len(value) <= 8:
        return [_plain(v, 1) for v in value]
    return f"<{type(value).__name__}>"


def write_card(path: str | os.PathLike, obj, *, data: dict | None = None,
               metrics: dict | None = None) -> None:
    """The model card ``README.md`` of a saved directory: what the model is, the library and
    dependency versions, its parameters, the training data (``data``: name, size, sha256,
    where known) and metrics (where a run or a benchmark measured them), and its intended
    use (the class's own description)."""
    cls = type(obj)
    doc = inspect.getdoc(cls) or ""
    summary = doc.split("\n\n")[0].replace("\n", " ") if doc else cls.__name__
    lines = [f"# {cls.__name__}", "", summary, "",
             f"Saved by hybridnlp {_versions().get('hybridnlp', '?')} on "
             f"{datetime.date.today().isoformat()}; load it with `hybridnlp.load(DIR)`.", "",
             "## Parameters", ""]
    params = obj.get_params(deep=False) if hasattr(obj, "get_params") else {}
    if params:
        lines += [f"- `{k}`: `{_plain(v)}`" for k, v in sorted(params.items())]
    else:
        lines.append("(none)")
    lines += ["", "## Training data", ""]
    if data:
        lines += [f"- {k}: {v}" for k, v in data.items()]
    else:
        lines.append("Not recorded (the model was saved from Python without `data=`).")
    lines += ["", "## Metrics", ""]
    if metrics:
        lines += [f"- {k}: {_plain(v)}" for k, v in metrics.items()]
    else:
        lines.append("None measured at save time: see the run's report or "
                     "benchmarks/RESULTS.md.")
    lines += ["", "## Intended use", "",
              "What the class documents (above); the figures it reaches on public data are in "
              "benchmarks/RESULTS.md. Not evaluated for any use beyond that.", "",
              "## Versions", "", "```json", json.dumps(dict(_versions()), indent=2), "```", ""]
    atomic_write_bytes(Path(path) / "README.md", "\n".join(lines).encode("utf-8"))
