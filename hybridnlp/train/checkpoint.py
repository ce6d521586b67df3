"""Checkpoints: safetensors for tensors, JSON for everything else. No pickle anywhere.

A checkpoint is a folder:

- ``model.safetensors``      the model's state dict
- ``best.safetensors``       the best weights so far (early stopping), when there are any
- ``optimizer.safetensors``  the optimizer's tensors (Adam moments, step counts)
- ``optimizer.json``         the optimizer's param groups and non-tensor state
- ``trainer.json``           epoch, step, history, early-stopping state, RNG state
- ``config.json``            the model config, to rebuild the module
- ``.hybridnlp-checkpoint``  the marker: only folders carrying it (or, written before it
  existed, a ``trainer.json``) are ever replaced or deleted

An estimator's ``checkpoint_dir`` carries the marker too (:func:`claim_checkpoint_dir`): a
folder that is not empty and not ours is refused, never written into.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from hybridnlp.utils.io import atomic_write_bytes, atomic_write_json, read_json

logger = logging.getLogger(__name__)

__all__ = [
    "MARKER",
    "claim_checkpoint_dir",
    "load_state_dict_file",
    "load_checkpoint",
    "optimizer_from_flat",
    "optimizer_to_flat",
    "recover_checkpoint",
    "save_checkpoint",
    "save_state_dict_file",
]


MARKER = ".hybridnlp-checkpoint"


def _ours(folder: Path) -> bool:
    """A folder hybridnlp wrote as a checkpoint (the marker, or an older checkpoint's
    ``trainer.json``)."""
    return (folder / MARKER).is_file() or (folder / "trainer.json").is_file()


def _mark(folder: Path) -> None:
    if not (folder / MARKER).is_file():
        atomic_write_json(folder / MARKER, {"written_by": "hybridnlp", "what": "checkpoints; "
                                            "hybridnlp replaces only folders carrying this"})


def _refuse_foreign(folder: Path, what: str = "checkpoint_dir") -> None:
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {str(folder)!r} is a file, not a folder; give a new or empty "
                         f"folder.")
    if folder.is_dir() and not _ours(folder):
        # another process (a DDP rank) writing the marker leaves its temporary beside it
        entries = sorted(p.name for p in folder.iterdir()
                         if not p.name.startswith(f".{MARKER}."))
        if entries:
            shown = ", ".join(entries[:3]) + (" ..." if len(entries) > 3 else "")
            raise ValueError(f"{what} {str(folder)!r} is a folder hybridnlp did not write (it "
                             f"holds {shown}); nothing in it was touched. Give a new or empty "
                             f"folder for checkpoints.")


def claim_checkpoint_dir(directory: str | os.PathLike) -> Path:
    """``directory`` made (or found) as a checkpoint folder of ours, with the marker; a file,
    or a folder with other contents and no marker, is refused before anything is written."""
    directory = Path(directory)
    _refuse_foreign(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _mark(directory)
    return directory


def save_state_dict_file(path: str | os.PathLike, state_dict: dict) -> None:
    """Write tensors to safetensors, atomically (CPU copies, so tied weights are fine)."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    atomic_write_bytes(path, safetensors_bytes(tensors))


def load_state_dict_file(path: str | os.PathLike, expected: dict | None = None, *,
                         what: str = "checkpoint file") -> dict:
    """Read a safetensors file (the one reader of the project's weights files); with
    ``expected`` (a state dict), check names and shapes. ``what`` names the file in errors.

    Raises ValueError naming the file and the first offending tensor.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist.")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{what} {str(path)!r} is corrupt: {err}.") from None
    if expected is not None:
        missing = [k for k in expected if k not in tensors]
        unexpected = [k for k in tensors if k not in expected]
        if missing or unexpected:
            raise ValueError(
                f"{what} {str(path)!r} does not match the model: missing tensors "
                f"{missing[:3]}, unexpected tensors {unexpected[:3]}; was it saved from another "
                f"architecture or config?"
            )
        for k, v in expected.items():
            if tuple(tensors[k].shape) != tuple(v.shape):
                raise ValueError(
                    f"{what} {str(path)!r} does not match the model: tensor {k!r} has "
                    f"shape {tuple(tensors[k].shape)}, the model expects {tuple(v.shape)}."
                )
    return tensors


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer state dict into (tensors, JSON-able rest)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, pstate in state["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict, rest: dict) -> dict:
    """Inverse of ``optimizer_to_flat``: an optimizer state dict."""
    state: dict[int, dict] = {}
    for flat, value in [*tensors.items(), *rest["scalars"].items()]:
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def _step(folder: Path) -> int | None:
    """The step of the complete checkpoint in ``folder`` (``trainer.json`` is written last),
    or None when there is none."""
    try:
        return int(read_json(folder / "trainer.json", what="checkpoint file")["step"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def recover_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint folder ``directory`` if it holds a complete checkpoint, else None.

    A save writes ``DIR.tmp``, then renames ``DIR`` to ``DIR.old`` and ``DIR.tmp`` to ``DIR``.
    When a kill fell between the two renames, the newest complete one of ``DIR.tmp`` and
    ``DIR.old`` is moved back to ``DIR`` (and a warning says which), so nothing is lost."""
    directory = Path(directory)
    if _step(directory) is not None:
        return directory
    candidates = [(step, folder) for folder in (directory.with_name(directory.name + ".tmp"),
                                                directory.with_name(directory.name + ".old"))
                  if (step := _step(folder)) is not None]
    if not candidates:
        return None
    step, newest = max(candidates, key=lambda c: c[0])
    if directory.exists():  # an incomplete folder (no trainer.json) in the way
        _refuse_foreign(directory)
        shutil.rmtree(directory)
    newest.rename(directory)
    logger.warning("checkpoint %s was missing (a save was interrupted between its two "
                   "renames); recovered the complete checkpoint of step %d from %s",
                   directory, step, newest.name)
    return directory


def save_checkpoint(directory: str | os.PathLike, *, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None, trainer_state: dict,
                    config: dict | None = None, best_state: dict | None = None) -> None:
    """Write a checkpoint folder. Written beside the old one, then swapped in, so a crash
    mid-write leaves the previous checkpoint intact (:func:`recover_checkpoint` puts it back
    when the crash fell inside the swap)."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    old = directory.with_name(directory.name + ".old")
    for folder in (directory, tmp, old):  # before anything is moved or deleted
        _refuse_foreign(folder)
    recover_checkpoint(directory)  # never delete the only complete copy below
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _mark(tmp)
    save_state_dict_file(tmp / "model.safetensors", model.state_dict())
    if best_state is not None:
        save_state_dict_file(tmp / "best.safetensors", best_state)
    if optimizer is not None:
        tensors, rest = optimizer_to_flat(optimizer)
        save_state_dict_file(tmp / "optimizer.safetensors", tensors)
        atomic_write_json(tmp / "optimizer.json", rest)
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_state_dict_file(tmp / "rng.safetensors", rng)
    if config is not None:
        atomic_write_json(tmp / "config.json", config)
    atomic_write_json(tmp / "trainer.json", trainer_state)  # last: it marks the folder complete
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(directory: str | os.PathLike, *, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Restore model (and optimizer, RNG) from a checkpoint folder; return the trainer state,
    with ``best_state`` added (the best weights, or None)."""
    directory = Path(directory)
    weights = load_state_dict_file(directory / "model.safetensors", model.state_dict())
    model.load_state_dict(weights)
    if optimizer is not None:
        tensors = load_state_dict_file(directory / "optimizer.safetensors")
        rest = read_json(directory / "optimizer.json", what="checkpoint file")
        try:
            optimizer.load_state_dict(optimizer_from_flat(tensors, rest))
        except (KeyError, ValueError) as err:
            raise ValueError(
                f"checkpoint file {str(directory / 'optimizer.json')!r} does not match the "
                f"optimizer: {err}."
            ) from None
    rng = load_state_dict_file(directory / "rng.safetensors")
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    state = read_json(directory / "trainer.json", what="checkpoint file")
    best = directory / "best.safetensors"
    state["best_state"] = load_state_dict_file(best, model.state_dict()) if best.exists() else None
    return state
