"""``OnnxClassifier``: a neural text classifier whose network runs in onnxruntime.

The export traces the fitted torch module with ``torch.onnx.export`` (the dynamo exporter:
batch size and length are dynamic) and, with ``quantize="int8"``, quantises its weights with
onnxruntime's dynamic quantisation. Text preparation stays the estimator's own
(``_predict_batches``: its tokenizer or n-gram vocabulary, truncation, padding), so the two
runtimes see the same inputs; only the network changes runtime.

A directory holds ``model.onnx``, the estimator saved by :func:`hybridnlp.save` (its
preparation and ``classes_``) in ``estimator/``, and ``config.json``; ``hybridnlp.load`` reads
it back. Needs the ``export`` extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from hybridnlp.utils.io import atomic_write_json, read_json
from hybridnlp.utils.saving import write_whole
from hybridnlp.utils.validation import check_choice

__all__ = ["OnnxClassifier", "onnx_inputs"]

QUANTIZATIONS = (None, "int8")


def onnx_inputs(estimator) -> dict[str, tuple[str, ...]] | None:
    """The named inputs of ``estimator``'s network and their dynamic axes, or None where the
    estimator has no network that exports (a linear model, a hybrid)."""
    from hybridnlp.estimators import FastTextClassifier, TransformerClassifier

    if isinstance(estimator, FastTextClassifier):
        return {"ids": ("n_rows",), "offsets": ("batch",)}
    if isinstance(estimator, TransformerClassifier):
        inputs = {"idx": ("batch", "time"), "mask": ("batch", "time")}
        head = getattr(estimator.model_, "head", None)
        if getattr(head, "extra_norm", None) is not None:  # FusionClassifier's features
            inputs["features"] = ("batch",)
        return inputs
    return None


def _example_texts(estimator) -> list[str]:
    """Two texts of different lengths whose inputs have no axis of size 1 (the exporter
    would fix such an axis)."""
    vocabulary = getattr(estimator, "vocabulary_", None)
    if vocabulary is not None:  # fastText: known n-grams, so neither bag is empty
        words = [g for g in vocabulary if " " not in g][:3] or ["a", "b", "c"]
        words = (words * 3)[:3]
        return [f"{words[0]} {words[1]}", words[2]]
    return ["an example text for the export", "a second one"]


class _Logits(torch.nn.Module):
    """The module's logits alone, inputs by position (the exporter's calling convention)."""

    def __init__(self, module, names):
        super().__init__()
        self.module, self.names = module, names

    def forward(self, *inputs):
        return self.module(**dict(zip(self.names, inputs, strict=True)))[0]


class _BagLogits(torch.nn.Module):
    """fastText's logits with the bag written as gathers and sums: ONNX has no
    ``EmbeddingBag``, and the exporter's loop over bags runs in onnxruntime at a third of
    torch's speed (benchmarks/RESULTS.md "Export"). Bag b holds ids[offsets[b]:offsets[b + 1]];
    an empty bag's mean is zeros, as ``EmbeddingBag(mode="mean")`` gives."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *inputs) -> torch.Tensor:  # (ids, offsets), as _Logits takes them
        ids, offsets = inputs
        n, n_bags = ids.shape[0], offsets.shape[0]
        starts = torch.zeros(n + 1, dtype=torch.float32).index_add(
            0, offsets, torch.ones(n_bags, dtype=torch.float32))
        bag = (torch.cumsum(starts[:n], 0) - 1).long()  # the bag of each id
        weight = self.module.embedding.weight
        sums = torch.zeros(n_bags, weight.shape[1], dtype=weight.dtype).index_add(
            0, bag, weight[ids])
        ends = torch.cat([offsets[1:], offsets.new_full((1,), n)])
        sizes = (ends - offsets).to(weight.dtype)
        return self.module.linear(sums / sizes.clamp(min=1.0)[:, None])


@contextlib.contextmanager
def _quiet():
    """The exporter's and the quantiser's progress lines and advice, kept off the console
    (an error still raises with its own message)."""
    loggers = [logging.getLogger(n) for n in ("", "torch.onnx", "torch.export", "onnxscript",
                                              "onnx_ir", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    sink = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def export_onnx_bytes(estimator, *, quantize: str | None = None) -> bytes:
    """The ONNX model of ``estimator``'s fitted network (int8 weights with ``quantize``)."""
    check_choice("quantize", quantize, QUANTIZATIONS)
    inputs = onnx_inputs(estimator)
    if inputs is None:
        raise ValueError(f"{type(estimator).__name__} has no neural network to export to "
                         f"ONNX; ONNX export takes a TransformerClassifier, FusionClassifier "
                         f"or FastTextClassifier (linear models are fast as they are).")
    _, batches = estimator._predict_batches(_example_texts(estimator))
    _, batch = next(iter(batches))
    names = list(inputs)
    args = tuple(batch[k] for k in names)
    dims = {}
    for name, axes in inputs.items():
        dims[name] = {i: torch.export.Dim(axis, min=1) for i, axis in enumerate(axes)}
    module = estimator.model_.to("cpu").eval()
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        path = Path(tmp) / "model.onnx"
        with torch.no_grad():
            bag = isinstance(getattr(module, "embedding", None), torch.nn.EmbeddingBag)
            wrapper = _BagLogits(module) if bag else _Logits(module, names)
            torch.onnx.export(wrapper.eval(), args, str(path), dynamo=True,
                              input_names=names, output_names=["logits"],
                              dynamic_shapes=(tuple(dims[k] for k in names),), verbose=False,
                              external_data=False)
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(path, Path(tmp) / "int8.onnx", weight_type=QuantType.QInt8)
            path = Path(tmp) / "int8.onnx"
        return path.read_bytes()


class OnnxClassifier:
    """A fitted neural classifier with its network in onnxruntime (``predict``,
    ``predict_proba``, ``classes_``), from :func:`hybridnlp.export` (``to="onnx"``) or
    :meth:`from_estimator`.

    Parameters
    ----------
    estimator : TransformerClassifier, FusionClassifier or FastTextClassifier, fitted
    onnx_model : bytes
        The serialised ONNX model of its network.
    quantize : {None, "int8"}
        What the weights were quantised to (recorded).
    """

    def __init__(self, estimator, onnx_model: bytes, *, quantize: str | None = None):
        import onnxruntime as ort

        self.estimator_ = estimator
        self.quantize = quantize
        self._onnx_model = onnx_model
        self.classes_ = estimator.classes_
        self._inputs = list(onnx_inputs(estimator))
        self._session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])

    @classmethod
    def from_estimator(cls, estimator, *, quantize: str | None = None) -> OnnxClassifier:
        """Export ``estimator``'s network and wrap it."""
        return cls(estimator, export_onnx_bytes(estimator, quantize=quantize),
                   quantize=quantize)

    def decision_logits(self, X) -> np.ndarray:
        """The network's logits (n_texts, n_classes), float32."""
        n, batches = self.estimator_._predict_batches(X)
        out = np.zeros((n, len(self.classes_)), dtype=np.float32)
        for index, batch in batches:
            feed = {k: batch[k].numpy() for k in self._inputs}
            out[index] = self._session.run(None, feed)[0]
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order, float64 (the logits divided
        by the estimator's ``temperature_`` when it was fit with ``calibrate``)."""
        z = self.decision_logits(X).astype(np.float64) / getattr(self.estimator_,
                                                                  "temperature_", 1.0)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.decision_logits(X).argmax(axis=1)]

    def save(self, path: str | os.PathLike) -> Path:
        """``model.onnx``, the estimator (its own ``save``) in ``estimator/`` and
        ``config.json``, written whole into the directory ``path``; ``hybridnlp.load`` reads
        it back."""

        def write(tmp: Path) -> None:
            (tmp / "model.onnx").write_bytes(self._onnx_model)
            self.estimator_.save(tmp / "estimator")
            atomic_write_json(tmp / "config.json", {
                "kind": "OnnxClassifier", "estimator": type(self.estimator_).__name__,
                "quantize": self.quantize, "inputs": self._inputs,
            })

        return write_whole(Path(path), self, write)

    @classmethod
    def from_directory(cls, path: Path, estimator) -> OnnxClassifier:
        """The classifier in ``path`` around its ``estimator`` (read by ``hybridnlp.load``
        from ``path / "estimator"``)."""
        meta = read_json(path / "config.json", what="OnnxClassifier config")
        if type(estimator).__name__ != meta.get("estimator"):
            raise ValueError(f"{str(path)!r}: estimator/ holds a {type(estimator).__name__}, "
                             f"config.json says {meta.get('estimator')!r}.")
        try:
            onnx_model = (path / "model.onnx").read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"{str(path)!r} has no model.onnx; export again with "
                                    f"hybridnlp export MODEL_DIR --to onnx.") from None
        return cls(estimator, onnx_model, quantize=meta.get("quantize"))
