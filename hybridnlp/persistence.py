"""``save_model(estimator, dir)`` / ``load_model(dir)`` for every hybridnlp estimator, without
plain pickle.

* ``CausalLM``: ``model.safetensors`` + ``config.json`` + ``tokenizer.json``.
* ``NGramLM``: ``ngrams.npz`` (no object arrays) + ``config.json`` + ``tokenizer.json``.
* Everything else (pipelines of our features, ``TransformerClassifier``, the hybrids): one
  ``model.skops`` file (skops stores arrays as ``.npy`` and objects as JSON schemas; neural
  weights travel as NumPy arrays), plus ``model.json`` naming the class and versions.

``load_model`` refuses a skops file that holds types outside scikit-learn, NumPy, SciPy,
hybridnlp and Python builtins, and lists them; nothing from the file is executed.
"""

from __future__ import annotations

import os
from pathlib import Path

from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json

__all__ = ["TRUSTED_PREFIXES", "load_model", "save_model"]

TRUSTED_PREFIXES = ("hybridnlp.", "sklearn.", "numpy.", "scipy.", "builtins.", "collections.",
                    "tokenizers.")


def save_model(estimator, path: str | os.PathLike) -> Path:
    """Write ``estimator`` (fitted) into the directory ``path``; returns it."""
    import sklearn

    import hybridnlp
    from hybridnlp.lm import CausalLM, NGramLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if isinstance(estimator, CausalLM | NGramLM):
        estimator.save(path)
        return path
    import skops.io as sio

    with atomic_path(path / "model.skops") as tmp:
        sio.dump(estimator, tmp)
    atomic_write_json(path / "model.json", {
        "kind": "skops", "class": f"{type(estimator).__module__}.{type(estimator).__name__}",
        "hybridnlp": hybridnlp.__version__, "scikit-learn": sklearn.__version__,
    })
    return path


def load_model(path: str | os.PathLike):
    """Read a model directory written by :func:`save_model` (or by ``CausalLM.save`` /
    ``NGramLM.save``)."""
    path = Path(path)
    if (path / "model.skops").exists():
        import skops.io as sio

        read_json(path / "model.json", what="model description")
        try:
            untrusted = sio.get_untrusted_types(file=path / "model.skops")
        except Exception as err:
            raise ValueError(f"model file {str(path / 'model.skops')!r} is corrupt: "
                             f"{err}") from None
        foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if foreign:
            raise ValueError(f"model file {str(path / 'model.skops')!r} holds types outside "
                             f"scikit-learn, NumPy, SciPy and hybridnlp: {foreign}; it was not "
                             f"loaded. Inspect it with skops.io.get_untrusted_types.")
        try:
            return sio.load(path / "model.skops", trusted=untrusted)
        except Exception as err:
            raise ValueError(f"model file {str(path / 'model.skops')!r} could not be loaded: "
                             f"{err}") from None
    config = path / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"{str(path)!r} holds no model (no model.skops and no "
                                f"config.json).")
    kind = read_json(config, what="model config").get("kind")
    from hybridnlp.lm import CausalLM, NGramLM

    kinds = {"CausalLM": CausalLM, "NGramLM": NGramLM}
    if kind not in kinds:
        raise ValueError(f"{str(config)!r}: field 'kind' is {kind!r}, expected one of "
                         f"{sorted(kinds)}.")
    return kinds[kind].load(path)
