"""``hybridnlp serve``: an HTTP JSON API over saved models (FastAPI on uvicorn; the ``serve``
extra, imported on first use)."""

from hybridnlp.serve.server import MicroBatcher, build_app, load_models, model_kind, serve

__all__ = ["MicroBatcher", "build_app", "load_models", "model_kind", "serve"]
