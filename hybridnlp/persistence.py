"""``save_model(estimator, dir)`` / ``load_model(dir)`` for every hybridnlp estimator, without
plain pickle.

* ``CausalLM`` and ``Seq2SeqLM``: ``model.safetensors`` + ``config.json`` +
  ``tokenizer.json``; ``ShallowFusion``: its translator and LM in two such folders + its
  ``config.json``; ``QAPipeline``: its passages, retriever (npz + JSON) and reader (JSON,
  or safetensors + JSON).
* ``NGramLM``: ``ngrams.npz`` (no object arrays) + ``config.json`` + ``tokenizer.json``.
* Everything else (pipelines of our features, ``TransformerClassifier``, the hybrids): one
  ``model.skops`` file (skops stores arrays as ``.npy`` and objects as JSON schemas; neural
  weights travel as NumPy arrays), plus ``model.json`` naming the class and versions.

``load_model`` reads a skops file only when every type and function it names is one skops
trusts by default (scikit-learn's estimators, NumPy/SciPy arrays, dtypes and ufuncs, Python's
primitive types and containers) or one of :func:`allowed_types`, named exactly: no module is
trusted as a whole, since ``builtins.eval`` or ``hybridnlp.utils.io.atomic_write_json`` would
then run on load. Anything else is refused, with the list, before an object is built.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

from hybridnlp.utils.io import atomic_directory, atomic_write_json, directory_snapshot, read_json
from hybridnlp.utils.saved_arrays import check_loaded_sparse

__all__ = ["allowed_type_names", "allowed_types", "load_model", "model_class_names",
           "save_model"]


@functools.cache
def allowed_types() -> tuple[type, ...]:
    """The classes :func:`load_model` accepts beyond skops' defaults (imported on first use:
    they pull in torch)."""
    from sklearn.model_selection import (
        GroupKFold,
        KFold,
        PredefinedSplit,
        RepeatedKFold,
        RepeatedStratifiedKFold,
        ShuffleSplit,
        StratifiedKFold,
        StratifiedShuffleSplit,
    )

    from hybridnlp.estimators import FastTextClassifier, NBSVMClassifier, TransformerClassifier
    from hybridnlp.features import NBFeatures, TfidfFeatures, TopicFeatures, Word2VecFeatures
    from hybridnlp.features.topics import TopicWords
    from hybridnlp.hybrid import (
        FusionClassifier,
        HybridClassifier,
        HybridEnsemble,
        SimplexWeights,
        StackingClassifier,
        WeightedEnsemble,
    )
    from hybridnlp.pretrained import HFTokenizer, SentenceEmbeddingFeatures
    from hybridnlp.text import BPETokenizer, CharTokenizer, WordTokenizer, WordVocabTokenizer
    from hybridnlp.text.segmenters import Segmenter
    from hybridnlp.text.vocab import WhitespaceTokenizer
    from hybridnlp.train.callbacks import History

    return (
        # hybridnlp's estimators, transformers and tokenizers (each rebuilds from plain data)
        TfidfFeatures, NBFeatures, TopicFeatures, Word2VecFeatures,
        FastTextClassifier, TransformerClassifier, FusionClassifier, NBSVMClassifier,
        StackingClassifier, WeightedEnsemble, SimplexWeights, HybridClassifier, HybridEnsemble,
        WordTokenizer, WordVocabTokenizer, WhitespaceTokenizer, CharTokenizer, BPETokenizer,
        Segmenter, TopicWords, History, SentenceEmbeddingFeatures, HFTokenizer,
        # scikit-learn's splitters, given as a stacking's ``cv`` (skops trusts estimators only)
        KFold, StratifiedKFold, GroupKFold, ShuffleSplit, StratifiedShuffleSplit,
        RepeatedKFold, RepeatedStratifiedKFold, PredefinedSplit,
    )


def allowed_type_names() -> frozenset[str]:
    """The exact ``module.Name`` strings :func:`load_model` accepts beyond skops' defaults."""
    return frozenset(f"{t.__module__}.{t.__name__}" for t in allowed_types())


def save_model(estimator, path: str | os.PathLike, *, class_names=None) -> Path:
    """Write ``estimator`` (fitted) into the directory ``path``; returns it.

    The directory is written whole beside ``path`` and renamed into place, replacing what was
    there: a concurrent :func:`load_model` reads the old model or the new one, never a mix.
    ``class_names`` (the data set's ``target_names``, for integer classes 0..K-1) is kept in
    ``model.json`` so that ``hybridnlp predict`` writes names, not ids."""
    path = Path(path)
    with atomic_directory(path) as tmp:
        _write(estimator, tmp, list(class_names) if class_names else None)
    return path


def model_class_names(path: str | os.PathLike) -> list[str] | None:
    """The class names saved with the model in ``path``, or None."""
    try:
        names = read_json(Path(path) / "model.json", what="model description").get(
            "class_names")
    except (FileNotFoundError, ValueError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def _write(estimator, path: Path, class_names: list | None = None) -> None:
    import sklearn

    import hybridnlp
    if isinstance(estimator, _native_kinds()):
        estimator.save(path)
        return
    import skops.io as sio

    _refuse_code(estimator)
    sio.dump(estimator, path / "model.skops")
    atomic_write_json(path / "model.json", {
        "kind": "skops", "class": f"{type(estimator).__module__}.{type(estimator).__name__}",
        "hybridnlp": hybridnlp.__version__, "scikit-learn": sklearn.__version__,
        **({"class_names": [str(n) for n in class_names]} if class_names else {}),
    })


def _native_kinds() -> tuple[type, ...]:
    """The estimators that save themselves as safetensors / npz + JSON (``save``/``load``)."""
    from hybridnlp.lm import CausalLM, NGramLM
    from hybridnlp.qa import QAPipeline
    from hybridnlp.seq2seq import Seq2SeqLM, ShallowFusion

    return CausalLM, NGramLM, QAPipeline, Seq2SeqLM, ShallowFusion


def _refuse_code(estimator) -> None:
    """A model whose word segmenter is a callable (not a registered name) would need its code
    on load, which a saved model never runs: refused with the way to register it."""
    from hybridnlp.text.segmenters import CallableSegmenter, Segmenter, unsaveable_segmenter

    seen, stack = set(), [estimator]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool | type(None)):
            continue
        seen.add(id(obj))
        if isinstance(obj, CallableSegmenter):
            raise ValueError(unsaveable_segmenter(obj))
        module = type(obj).__module__.split(".")[0]
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set):
            stack.extend(obj)
        elif module in ("hybridnlp", "sklearn") and not isinstance(obj, Segmenter) \
                and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())


def load_model(path: str | os.PathLike):
    """Read a model directory written by :func:`save_model` (or by ``CausalLM.save`` /
    ``NGramLM.save``), from one snapshot of its files."""
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            snap = stack.enter_context(directory_snapshot(path))
        except FileNotFoundError:
            raise FileNotFoundError(f"{str(path)!r} holds no model (no such directory).") \
                from None
        try:
            return _read(snap)
        except (FileNotFoundError, ValueError) as err:  # name the folder, not the snapshot
            raise type(err)(str(err).replace(str(snap), str(path))) from None


def _read(path: Path):
    """The model in the folder ``path`` (a snapshot of the model directory)."""
    if (path / "model.skops").exists():
        import skops.io as sio

        read_json(path / "model.json", what="model description")
        try:
            untrusted = sio.get_untrusted_types(file=path / "model.skops")
        except Exception as err:
            raise ValueError(f"model file {str(path / 'model.skops')!r} is corrupt: "
                             f"{err}") from None
        allowed = allowed_type_names()
        foreign = [t for t in untrusted if t not in allowed]
        if foreign:
            raise ValueError(f"model file {str(path / 'model.skops')!r} names types or "
                             f"functions outside the allow-list: {foreign}; it was not loaded "
                             f"(the allow-list is hybridnlp.persistence.allowed_types() plus "
                             f"what skops trusts by default). Inspect the file with "
                             f"skops.io.get_untrusted_types.")
        try:
            model = sio.load(path / "model.skops", trusted=untrusted)
        except Exception as err:
            raise ValueError(f"model file {str(path / 'model.skops')!r} could not be loaded: "
                             f"{err}") from None
        check_loaded_sparse(model, what=f"model file {str(path / 'model.skops')!r}")
        return model
    config = path / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"{str(path)!r} holds no model (no model.skops and no "
                                f"config.json).")
    kind = read_json(config, what="model config").get("kind")
    kinds = {k.__name__: k for k in _native_kinds()}
    if kind not in kinds:
        raise ValueError(f"{str(config)!r}: field 'kind' is {kind!r}, expected one of "
                         f"{sorted(kinds)}.")
    return kinds[kind].load(path)
