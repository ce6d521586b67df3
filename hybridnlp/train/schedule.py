"""Learning-rate schedule: linear warmup, then cosine (or linear) decay to a floor. Pure
functions."""

from __future__ import annotations

import math

__all__ = ["SCHEDULES", "cosine_lr", "cosine_lr_by_progress"]

SCHEDULES = ("cosine", "linear")


def _decayed(decay: float, base_lr: float, min_lr: float, shape: str) -> float:
    """The rate after a share ``decay`` in [0, 1] of the decay phase."""
    if shape == "linear":  # fastText's: straight down to the floor
        return min_lr + (1.0 - decay) * (base_lr - min_lr)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * decay)) * (base_lr - min_lr)


def cosine_lr(step: int, *, base_lr: float, warmup_steps: int, total_steps: int,
              min_lr_ratio: float = 0.1, shape: str = "cosine") -> float:
    """Learning rate at optimizer step ``step`` (0-based).

    Rises linearly from ``base_lr / warmup_steps`` to ``base_lr`` over ``warmup_steps``, then
    follows a half cosine (``shape="linear"``: a straight line) down to
    ``min_lr_ratio * base_lr`` at ``total_steps``, and stays there.
    """
    min_lr = min_lr_ratio * base_lr
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return _decayed(progress, base_lr, min_lr, shape)


def cosine_lr_by_progress(progress: float, step: int, *, base_lr: float, warmup: float,
                          min_lr_ratio: float = 0.1, shape: str = "cosine") -> float:
    """Learning rate when the length of training is a time budget: ``progress`` in [0, 1] is
    the share of the budget spent. ``warmup`` < 1 is a share of the budget, else a number of
    steps; the decay (``shape``) then runs over the rest of the budget."""
    min_lr = min_lr_ratio * base_lr
    progress = min(max(progress, 0.0), 1.0)
    if warmup >= 1:
        if step < warmup:
            return base_lr * (step + 1) / warmup
        decay = progress
    else:
        if progress < warmup:
            return base_lr * max(progress / warmup, 1e-3)
        decay = (progress - warmup) / (1.0 - warmup)
    return _decayed(decay, base_lr, min_lr, shape)
