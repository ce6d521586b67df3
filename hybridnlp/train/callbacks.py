"""Training callbacks and the per-epoch History."""

from __future__ import annotations

__all__ = ["Callback", "History", "LambdaCallback"]


class History(list):
    """A list of per-epoch dicts (``epoch``, ``train_loss``, ``val_loss``, metrics, ``lr``,
    ``time``). ``history.get("val_loss")`` is that column."""

    def get(self, key: str) -> list:
        return [row.get(key) for row in self]


class Callback:
    """Hooks the Trainer calls. Set ``trainer.should_stop = True`` to end training cleanly."""

    def on_fit_start(self, trainer, model) -> None: ...

    def on_epoch_start(self, trainer, model, epoch: int) -> None: ...

    def on_batch_end(self, trainer, model, step: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer, model, row: dict) -> None: ...

    def on_fit_end(self, trainer, model) -> None: ...


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda t, m, row: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"unknown hook {name!r}; hooks are on_fit_start, "
                                 f"on_epoch_start, on_batch_end, on_epoch_end, on_fit_end.")
            setattr(self, name, fn)
