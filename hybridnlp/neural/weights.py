"""Module weights in safetensors files: the header checked against the model before any tensor
is read, then the tensors, named on any mismatch (the one reader: ``train.checkpoint``'s)."""

from __future__ import annotations

import os

import numpy as np
import torch

from hybridnlp.train.checkpoint import load_state_dict_file
from hybridnlp.utils.saving import pack_tensors, packed_file

__all__ = ["check_weights_header", "load_packed", "load_weights", "pack_module"]


def check_weights_header(model: torch.nn.Module, file: str | os.PathLike) -> None:
    """The tensor names and shapes in a safetensors file's header against ``model``'s (which
    may live on the meta device), before any tensor is read or allocated."""
    from safetensors import safe_open

    file = str(file)
    try:
        with safe_open(file, framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except FileNotFoundError:
        raise FileNotFoundError(f"weights file {file!r} does not exist.") from None
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise ValueError(f"weights file {file!r} is corrupt: {err}") from None
    _compare(model, shapes, file)


def _compare(model: torch.nn.Module, shapes: dict, file: str) -> None:
    expected = model.state_dict()
    tied = getattr(getattr(model, "config", None), "tie_weights", False)
    missing = [k for k in expected if k not in shapes and not (tied and k == "lm_head.weight")]
    unexpected = [k for k in shapes if k not in expected]
    if missing or unexpected:
        raise ValueError(f"weights file {file!r} does not match the model: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}.")
    for k, shape in shapes.items():
        if tuple(shape) != tuple(expected[k].shape):
            raise ValueError(f"weights file {file!r}: tensor {k!r} has shape "
                             f"{tuple(shape)}, the model expects {tuple(expected[k].shape)}; "
                             f"config.json and the weights come from different models.")


def _read(file: str | os.PathLike) -> dict:
    """The tensors of a weights file, every float one finite."""
    state = load_state_dict_file(file, what="weights file")
    if any(v.is_floating_point() and not torch.isfinite(v).all() for v in state.values()):
        raise ValueError(f"weights file {str(file)!r} holds NaN or infinite weights.")
    return state


def load_weights(model: torch.nn.Module, file: str | os.PathLike) -> None:
    """Load a safetensors file into ``model``, naming the file and tensor on any mismatch."""
    state = _read(file)
    _compare(model, {k: tuple(v.shape) for k, v in state.items()}, str(file))
    model.load_state_dict(state, strict=False)


def pack_module(model: torch.nn.Module) -> dict:
    """A fitted module's weights as an estimator's state holds them: a safetensors file while
    ``hybridnlp.save`` writes the model, NumPy arrays for pickle and ``clone``."""
    return pack_tensors(model.state_dict())


def load_packed(build, packed, *, what: str = "saved model") -> torch.nn.Module:
    """The module ``build(tensors)`` makes (from the saved config; ``tensors`` are the weights
    :func:`pack_module` packed) with those weights, in eval mode. ``build`` runs first on the
    meta device and the shapes are compared, so a crafted config allocates nothing."""
    if isinstance(packed, dict) and isinstance(packed.get("arrays"), dict):  # pickle, clone
        state = {k: torch.as_tensor(np.asarray(v)) for k, v in packed["arrays"].items()}
        name = what
    else:
        file = packed_file(packed)
        state, name = _read(file), str(file)
    with torch.device("meta"):
        shapes = build(state)
    _compare(shapes, {k: tuple(v.shape) for k, v in state.items()}, str(name))
    model = build(state)
    model.load_state_dict(state, strict=False)
    return model.eval()
