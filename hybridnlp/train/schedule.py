"""Learning-rate schedule: linear warmup, then cosine decay to a floor. A pure function."""

from __future__ import annotations

import math

__all__ = ["cosine_lr"]


def cosine_lr(step: int, *, base_lr: float, warmup_steps: int, total_steps: int,
              min_lr_ratio: float = 0.1) -> float:
    """Learning rate at optimizer step ``step`` (0-based).

    Rises linearly from ``base_lr / warmup_steps`` to ``base_lr`` over ``warmup_steps``, then
    follows a half cosine down to ``min_lr_ratio * base_lr`` at ``total_steps``, and stays there.
    """
    min_lr = min_lr_ratio * base_lr
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (base_lr - min_lr)
