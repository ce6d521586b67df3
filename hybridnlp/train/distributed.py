"""Data-parallel training under ``torchrun``: PyTorch's DistributedDataParallel, nothing
home-made.

Started as ``torchrun --nproc_per_node N script.py`` (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``/``MASTER_PORT`` in the environment), the :class:`~hybridnlp.train.Trainer`
initialises the process group (gloo on CPU, nccl on CUDA), wraps the module in
``DistributedDataParallel`` and gives each rank its share of every batch: ``batch_size`` stays
the global batch, so N ranks take the same optimizer steps on the same examples as one
process (and reach the same weights, up to float summation order). Only rank 0 writes
checkpoints and draws progress bars. Every estimator gets this through the Trainer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
import torch.distributed as dist

from hybridnlp.train.data import Batches

__all__ = ["ShardedBatches", "agree", "all_reduce_mean", "finish", "init_distributed",
           "is_main", "local_device", "world"]


def world() -> tuple[int, int]:
    """(rank, world size) of this process: from the process group once initialised, else from
    torchrun's environment (0, 1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} and WORLD_SIZE="
                         f"{os.environ.get('WORLD_SIZE')!r} must be integers (torchrun sets "
                         f"them).") from None


def is_main() -> bool:
    return world()[0] == 0


def init_distributed(device: torch.device) -> bool:
    """Join the process group when started by torchrun with more than one process (gloo on
    CPU, nccl on CUDA, each rank on its own GPU). Returns whether training is distributed."""
    rank, size = world()
    if size <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed.")
    if not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise RuntimeError(f"WORLD_SIZE={size} but {name} is not set; start the "
                                   f"script with torchrun --nproc_per_node {size}.")
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=size)
    return True


def finish() -> None:
    """Leave the process group, if this process joined one (at the end of a script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """Each rank's own GPU (``LOCAL_RANK``) when training on CUDA."""
    if device.type == "cuda" and device.index is None:
        local = int(os.environ.get("LOCAL_RANK", world()[0]))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return device


def all_reduce_mean(value: float) -> float:
    """The mean of ``value`` over the ranks (itself without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([float(value)], dtype=torch.float64, device=_device())
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def agree(elapsed: float, stop: bool) -> tuple[float, bool]:
    """The largest ``elapsed`` and whether any rank wants to ``stop``, over the ranks (one
    all-reduce a step): time budgets and learning rates then agree on every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return elapsed, stop
    t = torch.tensor([float(elapsed), 1.0 if stop else 0.0], dtype=torch.float64,
                     device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t[0]), bool(t[1] > 0)


class ShardedBatches(Batches):
    """A loader of global batches whose every batch this rank sees one contiguous share of
    (rows ``tensor_split`` into ``world`` parts); ``weight`` of each share is its rows times
    ``world`` over the batch's rows, so averaging the ranks' weighted losses (what DDP's
    gradient averaging does) gives the global batch's mean. A batch with fewer rows than ranks
    is computed whole by every rank (weight 1: the same gradient everywhere)."""

    def __init__(self, loader, rank: int, size: int):
        self.loader, self.rank, self.size = loader, rank, size

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        for obj in (getattr(self.loader, "batch_sampler", None),
                    getattr(self.loader, "sampler", None), self.loader):
            if hasattr(obj, "set_epoch"):
                obj.set_epoch(epoch)
                return

    def __iter__(self) -> Iterator[tuple[dict, float]]:
        for batch in self.loader:
            rows = _rows(batch)
            if rows < self.size:
                yield batch, 1.0
                continue
            share = {k: torch.tensor_split(v, self.size)[self.rank]
                     if torch.is_tensor(v) and v.dim() and v.shape[0] == rows else v
                     for k, v in batch.items()}
            yield share, _rows(share) * self.size / rows


def _device() -> torch.device:
    """Where a collective's tensor must live: the rank's GPU under nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _rows(batch: dict) -> int:
    for value in batch.values():
        if torch.is_tensor(value) and value.dim():
            return int(value.shape[0])
    return 0
