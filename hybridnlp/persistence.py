"""``hybridnlp.save(obj, dir)`` / ``hybridnlp.load(dir)``: one way to save and read every model
of the project, never with plain pickle.

* What saves itself (a :class:`~hybridnlp.utils.saving.Saveable`: ``CausalLM``, ``NGramLM``,
  ``InterpolatedLM``, ``Seq2SeqLM``, ``ShallowFusion``, the QA retrievers, readers and
  ``QAPipeline``, tokenizers): its own ``save(dir)``, safetensors / npz + JSON. ``load`` finds
  the class by the name ``config.json`` (or a reader's ``reader.json``) gives, in the one
  registry those classes fill by ``__init_subclass__``.
* Everything else (the features, the text classifiers, the hybrids, pipelines of them: each
  has ``save(dir)`` from :class:`~hybridnlp.utils.saving.SaveMixin`): one ``model.skops``
  file (skops stores arrays as ``.npy`` and objects as JSON schemas), the torch modules'
  weights beside it in ``weights/*.safetensors``, plus ``model.json`` naming the class.

Every directory also gets ``config.json`` with ``format_version`` and the library versions,
and a model card ``README.md``. ``save_model`` / ``load_model`` are the older names of the
same two functions.

``load`` reads a skops file only when every type and function it names is one skops
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

from hybridnlp.utils.deprecation import warn_renamed_function
from hybridnlp.utils.io import directory_snapshot, read_json
from hybridnlp.utils.saved_arrays import check_loaded_sparse
from hybridnlp.utils.saving import (
    Saveable,
    registered,
    registered_kinds,
    save_skops,
    weights_directory,
    write_whole,
)

__all__ = ["EXPORT_FORMATS", "allowed_type_names", "allowed_types", "export", "export_formats",
           "load", "load_model", "model_class_names",
           "save", "save_model"]


@functools.cache
def allowed_types() -> tuple[type, ...]:
    """The classes :func:`load` accepts beyond skops' defaults (imported on first use:
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

    from hybridnlp.estimators import (
        FastTextClassifier,
        FastTextRegressor,
        NBSVMClassifier,
        TransformerClassifier,
        TransformerRegressor,
    )
    from hybridnlp.features import (
        NBFeatures,
        PairFeatures,
        TfidfFeatures,
        TopicFeatures,
        Word2VecFeatures,
    )
    from hybridnlp.features.topics import TopicWords
    from hybridnlp.hybrid import (
        FusionClassifier,
        HybridClassifier,
        HybridEnsemble,
        HybridRegressor,
        NonNegativeLinear,
        SimplexWeights,
        StackingClassifier,
        WeightedEnsemble,
    )
    from hybridnlp.hybrid.meta_selection import GreedySelection, MetaSelection, SingleLearner
    from hybridnlp.pretrained import HFTokenizer, SentenceEmbeddingFeatures
    from hybridnlp.text import BPETokenizer, CharTokenizer, WordTokenizer, WordVocabTokenizer
    from hybridnlp.text.segmenters import Segmenter
    from hybridnlp.text.vocab import WhitespaceTokenizer
    from hybridnlp.train.callbacks import History

    return (
        # hybridnlp's estimators, transformers and tokenizers (each rebuilds from plain data)
        TfidfFeatures, NBFeatures, TopicFeatures, Word2VecFeatures, PairFeatures,
        FastTextClassifier, TransformerClassifier, FusionClassifier, NBSVMClassifier,
        StackingClassifier, WeightedEnsemble, SimplexWeights, HybridClassifier, HybridEnsemble,
        MetaSelection, GreedySelection, SingleLearner,
        FastTextRegressor, TransformerRegressor, HybridRegressor, NonNegativeLinear,
        WordTokenizer, WordVocabTokenizer, WhitespaceTokenizer, CharTokenizer, BPETokenizer,
        Segmenter, TopicWords, History, SentenceEmbeddingFeatures, HFTokenizer,
        # scikit-learn's splitters, given as a stacking's ``cv`` (skops trusts estimators only)
        KFold, StratifiedKFold, GroupKFold, ShuffleSplit, StratifiedShuffleSplit,
        RepeatedKFold, RepeatedStratifiedKFold, PredefinedSplit,
    )


def allowed_type_names() -> frozenset[str]:
    """The exact ``module.Name`` strings :func:`load` accepts beyond skops' defaults."""
    return frozenset(f"{t.__module__}.{t.__name__}" for t in allowed_types())


def save(obj, path: str | os.PathLike, *, class_names=None, data: dict | None = None,
         metrics: dict | None = None) -> Path:
    """Write ``obj`` (fitted) into the directory ``path``; returns it. Any model of the
    project: an estimator, a language model or translator, a QA retriever, reader or
    pipeline, a tokenizer (the same as ``obj.save(path)``, which every one of them has; a
    scikit-learn pipeline of our parts saves here too).

    The directory is written whole beside ``path`` and renamed into place, replacing what was
    there: a concurrent :func:`load` reads the old model or the new one, never a mix.
    ``class_names`` (the data set's ``target_names``, for integer classes 0..K-1) is kept so
    that ``hybridnlp predict`` writes names, not ids. ``data`` (name, size, sha256 of the
    training data) and ``metrics`` go into the model card ``README.md``."""
    from hybridnlp.text import Tokenizer

    path = Path(path)
    if isinstance(obj, Tokenizer):  # a file of its own, in the directory
        return write_whole(path, obj, lambda tmp: obj.save(tmp / "tokenizer.json"), data=data,
                           metrics=metrics)
    if isinstance(obj, Saveable):
        return obj.save(path, data=data, metrics=metrics)
    return save_skops(obj, path, class_names=class_names, data=data, metrics=metrics)


def save_model(estimator, path: str | os.PathLike, *, class_names=None) -> Path:
    """:func:`save` under its older name (deprecated: it warns, and goes in the next
    release)."""
    warn_renamed_function("hybridnlp.persistence.save_model", "hybridnlp.save")
    return save(estimator, path, class_names=class_names)


def model_class_names(path: str | os.PathLike) -> list[str] | None:
    """The class names saved with the model in ``path``, or None."""
    try:
        names = read_json(Path(path) / "model.json", what="model description").get(
            "class_names")
    except (FileNotFoundError, ValueError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def load(path: str | os.PathLike):
    """The model saved in the directory ``path`` (by :func:`save`, or by a class's own
    ``save``), read from one snapshot of its files: a writer replacing it meanwhile is never
    seen half-way. A tokenizer's JSON file is read too, and an ARPA file (``.arpa``,
    ``.arpa.gz``) as an :class:`~hybridnlp.NGramLM`."""
    path = Path(path)
    if path.is_file() and path.name.endswith((".arpa", ".arpa.gz")):
        from hybridnlp.lm import NGramLM

        return NGramLM.from_arpa(path)
    if path.is_file():  # a tokenizer file (tokenizer.json)
        from hybridnlp.text import load_tokenizer

        return load_tokenizer(path)
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


def load_model(path: str | os.PathLike):
    """:func:`load` under its older name (deprecated: it warns, and goes in the next
    release)."""
    warn_renamed_function("hybridnlp.persistence.load_model", "hybridnlp.load")
    return load(path)


def _read(path: Path):
    """The model in the folder ``path`` (a snapshot of the model directory)."""
    if (path / "translator.json").exists():  # a CTranslate2 export
        from hybridnlp.seq2seq.ctranslate2 import CTranslate2Translator

        return CTranslate2Translator.load(path)
    if (path / "model.onnx").exists():  # an ONNX export around its estimator
        from hybridnlp.estimators.onnx import OnnxClassifier

        return OnnxClassifier.from_directory(path, _read(path / "estimator"))
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
            with weights_directory(path):
                model = sio.load(path / "model.skops", trusted=untrusted)
        except (FileNotFoundError, ValueError):  # a weights file's own, naming it
            raise
        except Exception as err:
            raise ValueError(f"model file {str(path / 'model.skops')!r} could not be loaded: "
                             f"{err}") from None
        check_loaded_sparse(model, what=f"model file {str(path / 'model.skops')!r}")
        return model
    for name in ("config.json", "reader.json"):  # reader.json: a classical or stacked reader
        if (path / name).exists():
            file = path / name
            break
    else:
        raise FileNotFoundError(f"{str(path)!r} holds no model (no model.skops and no "
                                f"config.json).")
    config = read_json(file, what="model config")
    kind = config.get("kind")
    if kind is None and config.get("model_type") == "gpt2":  # a Hugging Face GPT-2 folder
        from hybridnlp.lm import CausalLM

        return CausalLM.from_pretrained(path)
    if kind is None and "model_type" in config:
        raise ValueError(f"{str(path)!r} is a Hugging Face {config['model_type']!r} model "
                         f"directory, not a hybridnlp one: fine-tune it with "
                         f"TransformerClassifier(pretrained=DIR) or embed with "
                         f"SentenceEmbeddingFeatures(pretrained=DIR); transformers runs it "
                         f"as it is.")
    _register_kinds()
    cls = registered(kind)
    if cls is None:
        raise ValueError(f"{str(file)!r}: field 'kind' is {kind!r}, expected one of "
                         f"{sorted(registered_kinds())}.")
    from hybridnlp.text import Tokenizer, load_tokenizer

    if issubclass(cls, Tokenizer):
        return load_tokenizer(path / "tokenizer.json", expected=cls)
    return cls.load(path)


# ---------------------------------------------------------------------- export

EXPORT_FORMATS = ("hf", "onnx", "ctranslate2", "arpa")


def export_formats(model) -> list[str]:
    """The formats :func:`export` writes ``model`` (fitted) in."""
    from hybridnlp.estimators.onnx import onnx_inputs
    from hybridnlp.lm import CausalLM, NGramLM
    from hybridnlp.pretrained.hf_export import exportable_reason

    out = []
    if isinstance(model, CausalLM) and hasattr(getattr(model, "tokenizer_", None), "backend"):
        out.append("hf")
    if hasattr(model, "save_pretrained") and not isinstance(model, CausalLM) \
            and exportable_reason(model) is None:
        out.append("hf")
    if hasattr(model, "model_") and onnx_inputs(model) is not None:
        out.append("onnx")
    from hybridnlp.seq2seq import Seq2SeqLM

    if isinstance(model, Seq2SeqLM) and getattr(model, "architecture", None) == \
            "encoder_decoder" and hasattr(getattr(model, "tokenizer_", None), "backend"):
        out.append("ctranslate2")
    if isinstance(model, NGramLM):
        out.append("arpa")
    return out


def export(model, *, to: str, output: str | os.PathLike, quantize: str | None = None) -> Path:
    """Write ``model`` (fitted, or the directory :func:`save` wrote) in a format another
    runtime reads; returns ``output``, which :func:`load` reads back.

    - ``to="hf"``: a :class:`~hybridnlp.CausalLM` (byte-level BPE tokens) as a Hugging Face
      GPT-2 directory, or a ``TransformerClassifier(pretrained=DIR)`` as a sequence
      classification directory, each with its tokenizer (``transformers``' Auto classes load
      them);
    - ``to="onnx"``: a neural classifier's network for onnxruntime
      (:class:`~hybridnlp.estimators.onnx.OnnxClassifier`; ``quantize="int8"``: dynamic
      int8 weights);
    - ``to="ctranslate2"``: a :class:`~hybridnlp.Seq2SeqLM` (encoder-decoder) as a
      CTranslate2 model with its tokenizer (``quantize="int8"`` ...), read back as a
      :class:`~hybridnlp.seq2seq.CTranslate2Translator`;
    - ``to="arpa"``: an :class:`~hybridnlp.NGramLM` as an ARPA file (KenLM, SRILM).
    """
    if to not in EXPORT_FORMATS:
        raise ValueError(f"to={to!r} is not an export format; choose one of "
                         f"{list(EXPORT_FORMATS)}.")
    if isinstance(model, str | os.PathLike):
        model = load(model)
    supported = export_formats(model)
    if to not in supported:
        can = (f"it exports to {supported}" if supported
               else "it has no export format (save it with hybridnlp.save)")
        raise ValueError(f"a {type(model).__name__} cannot be exported to {to!r}: {can}. "
                         f"hf takes a CausalLM with BPE tokens or a TransformerClassifier "
                         f"fine-tuned from a pretrained encoder; onnx takes "
                         f"TransformerClassifier, FusionClassifier and FastTextClassifier; "
                         f"ctranslate2 takes an encoder-decoder Seq2SeqLM; arpa takes "
                         f"NGramLM.")
    if quantize is not None and to not in ("onnx", "ctranslate2"):
        raise ValueError(f"quantize={quantize!r} applies to to='onnx' and to='ctranslate2' "
                         f"only.")
    if to == "arpa":
        return model.to_arpa(output)
    if to == "hf":
        return model.save_pretrained(output)
    if to == "ctranslate2":
        from hybridnlp.seq2seq.ctranslate2 import save_ctranslate2

        return save_ctranslate2(model, output, quantization=quantize)
    from hybridnlp.estimators.onnx import OnnxClassifier

    return OnnxClassifier.from_estimator(model, quantize=quantize).save(output)


def _register_kinds() -> None:
    """Import the packages whose classes save themselves, so that they are registered."""
    import hybridnlp.lm  # noqa: F401
    import hybridnlp.qa  # noqa: F401
    import hybridnlp.seq2seq  # noqa: F401
    import hybridnlp.text  # noqa: F401
