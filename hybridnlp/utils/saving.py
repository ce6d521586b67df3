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

import contextlib
import contextvars
import datetime
import functools
import importlib.metadata
import inspect
import json
import os
import platform
import re
from pathlib import Path

from hybridnlp.utils.io import atomic_directory, atomic_write_bytes, atomic_write_json, read_json

__all__ = ["FORMAT_VERSION", "SaveMixin", "Saveable", "pack_tensors", "packed_file",
           "registered", "registered_kinds", "save_parts", "save_skops", "stamp_config",
           "weights_directory", "write_card", "write_whole"]

# The version of the saved-directory layout: config.json's ``format_version``. Directories
# written before it existed have none and read as version 0 (they still load).
FORMAT_VERSION = 1

_KINDS: dict[str, type] = {}

# The directory a skops-saved model's torch weights go to (and are read from), while
# hybridnlp.save / hybridnlp.load run: [path, number of files written].
_WEIGHTS_DIR: contextvars.ContextVar = contextvars.ContextVar("hybridnlp_weights_dir",
                                                              default=None)
_WEIGHTS_NAME = re.compile(r"weights/[0-9]{1,6}\.safetensors")


class Saveable:
    """Base of every class that saves itself as a directory (or, for tokenizers, a file):
    subclasses define ``save(path)`` and the classmethod ``load(path)``, and are registered
    under their class name for ``hybridnlp.load``.

    A class's own ``save(path)`` writes its files into a folder; the base makes it whole:
    the folder is written beside ``path`` and renamed into place (a reader never sees half a
    model), then gets ``config.json``'s ``format_version`` and the model card ``README.md``
    (``save(path, data=..., metrics=...)`` fill the card's training data and metrics).
    Tokenizers (``_saves_to_file``) write one JSON file instead."""

    _saves_to_file = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.split(".")[0] == "hybridnlp" and not cls.__name__.startswith("_"):
            _KINDS[cls.__name__] = cls
        if "save" in cls.__dict__ and not cls._saves_to_file:
            cls.save = _whole_directory(cls.__dict__["save"])


_WRITING: contextvars.ContextVar = contextvars.ContextVar("hybridnlp_writing", default=None)


def _whole_directory(save):
    """``save`` (a class's own, writing its files into a folder) made atomic, stamped and
    carded; a subclass's ``save`` calling its base's writes into the same folder."""

    @functools.wraps(save)
    def whole(self, path, *, data: dict | None = None, metrics: dict | None = None) -> Path:
        path = Path(path)
        if _WRITING.get() == path:  # super().save(path) inside a subclass's save
            save(self, path)
            return path

        def write(tmp: Path) -> None:
            token = _WRITING.set(tmp)
            try:
                save(self, tmp)
            finally:
                _WRITING.reset(token)

        return write_whole(path, self, write, data=data, metrics=metrics)

    return whole


class SaveMixin:
    """``save(path)`` for the estimators made of scikit-learn objects (the features, the text
    classifiers, the hybrids): :func:`save_skops`, read back by ``hybridnlp.load``."""

    def save(self, path: str | os.PathLike, *, class_names=None, data: dict | None = None,
             metrics: dict | None = None) -> Path:
        """Write the fitted estimator into the directory ``path`` (replacing it whole);
        ``class_names`` name integer classes for ``hybridnlp predict``; ``data`` and
        ``metrics`` go into the model card."""
        return save_skops(self, path, class_names=class_names, data=data, metrics=metrics)


def save_skops(obj, path: str | os.PathLike, *, class_names=None, data: dict | None = None,
               metrics: dict | None = None) -> Path:
    """``obj`` (a composition of scikit-learn objects) in the directory ``path``: one
    ``model.skops`` (skops: arrays as ``.npy``, objects as JSON schemas, never pickle), its
    torch modules' weights in ``weights/*.safetensors`` beside it, ``model.json`` naming the
    class, ``config.json`` and the card. Written whole beside ``path``, then renamed."""
    import sklearn
    import skops.io as sio

    _refuse_code(obj)

    def write(tmp: Path) -> dict:
        with weights_directory(tmp):
            sio.dump(obj, tmp / "model.skops")
        description = {
            "kind": "skops", "class": f"{type(obj).__module__}.{type(obj).__name__}",
            "hybridnlp": _versions().get("hybridnlp"), "scikit-learn": sklearn.__version__,
            **({"class_names": [str(n) for n in class_names]} if class_names else {}),
        }
        atomic_write_json(tmp / "model.json", description)
        return description

    return write_whole(path, obj, write, data=data, metrics=metrics)


def write_whole(path: str | os.PathLike, obj, write, *, data: dict | None = None,
                metrics: dict | None = None) -> Path:
    """The one way a model directory is written: ``write(folder)`` fills a fresh folder beside
    ``path`` (and may return ``config.json``'s defaults), which gets ``format_version`` and
    the model card, then replaces ``path`` by renames: a reader never sees half a model."""
    path = Path(path)
    with atomic_directory(path) as tmp:
        defaults = write(tmp) or {"kind": type(obj).__name__}
        stamp_config(tmp, defaults)
        write_card(tmp, obj, data=data, metrics=metrics)
    return path


def _refuse_code(obj) -> None:
    """A model holding code (a user's callable as its word segmenter, not a registered name)
    would need it on load, which a saved model never runs: refused with the way out that the
    holder's ``unsaveable_reason()`` gives."""
    seen, stack = set(), [obj]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(obj))
        reason = getattr(type(obj), "unsaveable_reason", None)
        if reason is not None:
            raise ValueError(reason(obj))
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set):
            stack.extend(obj)
        elif type(obj).__module__.split(".")[0] in ("hybridnlp", "sklearn") \
                and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())


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


@contextlib.contextmanager
def weights_directory(path: str | os.PathLike):
    """While open, :func:`pack_tensors` writes each torch module's tensors to a safetensors
    file under ``path/weights/`` and ``hybridnlp.neural.load_packed`` reads them back: how
    the torch members of a skops-saved model (a classifier, or one inside a hybrid) are
    stored."""
    token = _WEIGHTS_DIR.set([Path(path), 0])
    try:
        yield
    finally:
        _WEIGHTS_DIR.reset(token)


def pack_tensors(state_dict: dict) -> dict:
    """What an estimator's state holds for a torch module's weights: inside
    :func:`weights_directory` (``hybridnlp.save``), the name of the safetensors file written
    there; elsewhere (pickle, ``clone``), float32 NumPy arrays, so that a GPU-fitted model
    unpickles on any machine."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    where = _WEIGHTS_DIR.get()
    if where is None:
        return {"arrays": {k: (v.float() if v.is_floating_point() else v).numpy()
                           for k, v in tensors.items()}}
    from safetensors.torch import save

    name = f"weights/{where[1]}.safetensors"
    where[1] += 1
    (where[0] / "weights").mkdir(exist_ok=True)
    tensors = {k: v.clone() if v.is_floating_point() else v for k, v in tensors.items()}
    atomic_write_bytes(where[0] / name, save(tensors, metadata={"format": "pt"}))
    return {"safetensors": name}


def packed_file(packed) -> Path:
    """The safetensors file a :func:`pack_tensors` entry names, in the open
    :func:`weights_directory`; a name that is not one ``pack_tensors`` writes is refused (the
    file itself is read by ``hybridnlp.neural``'s one weights reader)."""
    name = packed.get("safetensors") if isinstance(packed, dict) else None
    if not isinstance(name, str) or not _WEIGHTS_NAME.fullmatch(name):
        raise ValueError(f"a saved model's weights entry is {packed!r:.80}, expected "
                         f"{{'safetensors': 'weights/N.safetensors'}}; the file is corrupt or "
                         f"was crafted.")
    where = _WEIGHTS_DIR.get()
    if where is None:
        raise ValueError(f"weights file {name!r} can only be read by hybridnlp.load from the "
                         f"directory that holds it.")
    return where[0] / name


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
