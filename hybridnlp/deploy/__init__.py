"""Serving and export runtimes: ``OnnxClassifier`` (``hybridnlp.export(..., to="onnx")``;
the ``export`` extra) and the HTTP model server (``hybridnlp serve``; the ``serve`` extra)."""

from hybridnlp.deploy.onnx import OnnxClassifier

__all__ = ["OnnxClassifier"]
