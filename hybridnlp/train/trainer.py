"""One training loop for every neural model in hybridnlp.

The Trainer knows nothing of the model but its contract: ``model(**batch) -> (logits, loss)``,
where a batch is a dict of tensors (``targets`` among them for evaluation metrics).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from hybridnlp.exceptions import NonFiniteLossError
from hybridnlp.train import distributed
from hybridnlp.train.callbacks import Callback, History
from hybridnlp.train.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint
from hybridnlp.train.data import Batches
from hybridnlp.train.optim import OPTIMIZERS, build_optimizer
from hybridnlp.train.schedule import SCHEDULES, cosine_lr, cosine_lr_by_progress
from hybridnlp.utils.device import (
    autocast_context,
    compile_options,
    resolve_device,
    resolve_precision,
)
from hybridnlp.utils.io import exclusive_lock
from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["Trainer"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class FitState:
    """Where a fit is; saved in every checkpoint (``trainer.json``) and restored on resume."""

    epoch: int = 0
    step: int = 0
    elapsed: float = 0.0
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    history: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, state: dict) -> FitState:
        return cls(**{f.name: state[f.name] for f in dataclasses.fields(cls) if f.name in state})


@dataclasses.dataclass
class _Run:
    """What one fit's epochs share."""

    model: torch.nn.Module
    forward: Callable
    optimizer: torch.optim.Optimizer
    loader: Iterable
    state: FitState
    start: float
    total_steps: int
    warmup_steps: int
    best_state: dict | None = None


class Trainer:
    """AdamW, warmup + cosine schedule, clipping, accumulation, bf16 autocast, early stopping,
    time budget, callbacks, checkpoints with exact resume.

    Parameters
    ----------
    max_epochs : int, default=10
    max_steps : int, optional
        Stop after this many optimizer steps (the schedule then spans ``max_steps``).
    max_time : float, optional
        Stop after this many seconds of training; checked after every optimizer step. The
        learning-rate schedule then follows the time spent (or the steps, if they run out
        first), so the rate has decayed when the budget ends.
    optimizer : {"adamw", "muon"}, default="adamw"
        "muon": Muon (:class:`~hybridnlp.train.optim.Muon`) on the hidden matrices a model
        names (``hidden_matrices()``, as :class:`~hybridnlp.nn.GPT` and the sequence-to-
        sequence models do) and AdamW on the rest, one rate for both; more learnt in the same
        time by small GPTs and translation models (benchmarks/RESULTS.md, "Tiny Shakespeare",
        "Translation").
    lr, weight_decay, betas, eps : AdamW settings (weight decay on matrices only).
    warmup : float, default=0.1
        Warmup length: a fraction of the total steps if < 1, else a number of steps.
    min_lr_ratio : float, default=0.1
        Final learning rate as a fraction of ``lr``.
    schedule : {"cosine", "linear"}, default="cosine"
        Shape of the decay after warmup.
    grad_clip : float or None, default=1.0
        Clip the global gradient norm.
    grad_accum : int, default=1
        Batches per optimizer step.
    precision : {"auto", "bf16", "fp32"}, default="auto"
    device : str, default="auto"
    patience : int, optional
        Early stopping: stop after this many epochs without improvement of ``monitor``. With
        validation data the best weights are restored at the end, whether or not it stopped early.
    monitor : str, default="val_loss"
    mode : {"min", "max"}, optional
        Inferred from ``monitor``: "min" for losses, "max" otherwise.
    metrics : dict of name -> fn(logits, targets) -> float, optional
        Computed on validation data, logged as ``val_<name>``.
    callbacks : list of Callback
    progress : bool, default=False
        A tqdm progress bar per epoch.
    checkpoint_dir : path, optional
        Written at the end of every epoch (and when a time or step budget ends training).
    seed : int, default=0
        Seeds the torch RNG at the start of a fresh fit (and in :meth:`build_module`); the one
        place the neural estimators' torch RNG is seeded.
    compile : bool or dict, default=False
        Run the forward passes through ``torch.compile`` (a dict is passed to it as keyword
        arguments, e.g. ``{"mode": "max-autotune"}``). Worth it on GPUs; the weights, the
        checkpoints and the returned model stay the plain, uncompiled module.

    A model with a ``configure_optimizer(lr=, weight_decay=, betas=, eps=)`` method gets the
    optimizer it returns (e.g. an :class:`~hybridnlp.train.optim.OptimizerChain`) instead of
    AdamW; one with ``optimizer_groups(weight_decay)`` gets AdamW over those parameter groups
    (a group's ``lr_scale`` multiplies the scheduled rate: layer-wise decay).
    """

    def __init__(self, *, max_epochs: int = 10, max_steps: int | None = None,
                 max_time: float | None = None, lr: float = 1e-3, weight_decay: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 warmup: float = 0.1, min_lr_ratio: float = 0.1, schedule: str = "cosine",
                 grad_clip: float | None = 1.0, grad_accum: int = 1, precision: str = "auto",
                 device: str = "auto", patience: int | None = None, monitor: str = "val_loss",
                 mode: str | None = None,
                 metrics: dict[str, Callable] | None = None,
                 callbacks: Iterable[Callback] = (), progress: bool = False,
                 checkpoint_dir: str | None = None, seed: int = 0,
                 compile: bool | dict = False, optimizer: str = "adamw"):
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.max_time = max_time
        self.lr = lr
        self.weight_decay = weight_decay
        self.betas = tuple(betas) if isinstance(betas, list | tuple) else (betas,)
        self.eps = eps
        self.warmup = warmup
        self.min_lr_ratio = min_lr_ratio
        self.schedule = schedule
        self.grad_clip = grad_clip
        self.grad_accum = grad_accum
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.patience = patience
        self.monitor = monitor
        self.mode = mode or ("min" if "loss" in monitor else "max")
        self.metrics = dict(metrics or {})
        self.callbacks = list(callbacks)
        self.progress = progress
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.seed = seed
        compile_options(compile)  # a bad setting fails here, not at fit
        self.compile = compile
        self.optimizer = optimizer
        self.should_stop = False
        self.history = History()
        self._check()

    def _check(self) -> None:
        """Every setting, checked when the Trainer is made: estimators make theirs at the start
        of ``fit``, so a bad value is an error naming it before any training."""
        check_number("max_epochs", self.max_epochs, int, low=1)
        check_number("max_steps", self.max_steps, int, low=1, none_ok=True)
        check_number("max_time", self.max_time, float, low=0, none_ok=True)
        check_number("lr", self.lr, float, low=0, low_open=True)
        check_number("weight_decay", self.weight_decay, float, low=0)
        if len(self.betas) != 2:
            raise ValueError(f"betas={self.betas!r} must be two numbers (beta1, beta2), e.g. "
                             f"(0.9, 0.999).")
        for i, beta in enumerate(self.betas):
            check_number(f"betas[{i}]", beta, float, low=0, high=0.999999)
        check_number("eps", self.eps, float, low=0, low_open=True)
        check_number("warmup", self.warmup, float, low=0)
        check_number("min_lr_ratio", self.min_lr_ratio, float, low=0, high=1)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_number("grad_clip", self.grad_clip, float, low=0, low_open=True, none_ok=True)
        check_number("grad_accum", self.grad_accum, int, low=1)
        check_number("patience", self.patience, int, low=1, none_ok=True)
        check_choice("mode", self.mode, ("min", "max"))
        monitors = ["val_loss", "train_loss", *(f"val_{name}" for name in self.metrics)]
        check_choice("monitor", self.monitor, monitors)

    # ------------------------------------------------------------------ set-up

    def build_module(self, make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
        """``make()`` with torch seeded by ``seed``, so initial weights follow the seed."""
        torch.manual_seed(self.seed)
        return make()

    def make_optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        """:func:`~hybridnlp.train.optim.build_optimizer` with these settings (fused kernels
        on CUDA, and on CPU since torch 2.4: 6x faster steps there)."""
        return build_optimizer(model, self.optimizer, lr=self.lr, weight_decay=self.weight_decay,
                               betas=self.betas, eps=self.eps,
                               fused=self.device.type in ("cuda", "cpu"))

    def _total_steps(self, n_batches: int) -> int:
        if self.max_steps is not None:
            return self.max_steps
        return self.max_epochs * math.ceil(n_batches / self.grad_accum)

    def _warmup_steps(self, total: int) -> int:
        return int(self.warmup * total) if self.warmup < 1 else int(self.warmup)

    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                for k, v in batch.items()}

    def _forward_module(self, model: torch.nn.Module):
        """``model``, or a compiled view of it sharing its parameters."""
        options = compile_options(self.compile)
        return model if options is None else torch.compile(model, **options)

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # ------------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, loader: Iterable[dict], *,
                 forward: Callable | None = None) -> dict:
        """Mean loss over ``loader`` (weighted by batch size) and the configured metrics.
        ``forward`` (default ``model``) computes ``(logits, loss)``, e.g. a compiled view."""
        was_training = model.training
        model.eval()
        forward = model if forward is None else forward
        total, count, all_logits, all_targets = 0.0, 0, [], []
        for batch in loader:
            batch = self._to_device(batch)
            with autocast_context(self.device, self.precision):
                logits, loss = forward(**batch)
            n = len(next(iter(batch.values())))
            total += float(loss) * n
            count += n
            if self.metrics:
                all_logits.append(logits.float().cpu())
                all_targets.append(batch["targets"].cpu())
        model.train(was_training)
        out = {"val_loss": total / max(count, 1)}
        if self.metrics:
            logits, targets = torch.cat(all_logits), torch.cat(all_targets)
            for name, fn in self.metrics.items():
                out[f"val_{name}"] = float(fn(logits, targets))
        return out

    def _improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    # ------------------------------------------------------------------ fit

    def fit(self, model: torch.nn.Module, train_loader, val_loader=None, *,
            resume: bool = False, config: dict | None = None) -> History:
        """Train ``model`` in place and return the History.

        With ``resume=True`` and a checkpoint in ``checkpoint_dir``, training continues from it
        and ends with the weights an uninterrupted run would have reached (same data order,
        same dropout masks).
        """
        if self.checkpoint_dir is None or not distributed.is_main():  # rank 0 writes
            return self._fit(model, train_loader, val_loader, resume=resume, config=config)
        lock = self.checkpoint_dir.with_name(self.checkpoint_dir.name + ".lock")
        with exclusive_lock(lock, f"checkpoint_dir {str(self.checkpoint_dir)!r}"):
            return self._fit(model, train_loader, val_loader, resume=resume, config=config)

    def _fit(self, model, train_loader, val_loader, *, resume: bool, config: dict | None):
        parallel = distributed.init_distributed(self.device)  # under torchrun, N > 1
        if parallel:
            self.device = distributed.local_device(self.device)
        model.to(self.device)
        forward = eval_forward = self._forward_module(model)
        if parallel:  # the module itself stays unwrapped: checkpoints and saving see it
            from torch.nn.parallel import DistributedDataParallel

            wrapped = DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=getattr(model, "ddp_find_unused_parameters", False))
            forward, eval_forward = self._forward_module(wrapped), model
            train_loader = distributed.ShardedBatches(train_loader, *distributed.world())
        optimizer = self.make_optimizer(model)
        state, best_state = FitState(), None
        found = recover_checkpoint(self.checkpoint_dir) if resume and self.checkpoint_dir \
            else None
        if found is not None:
            saved = load_checkpoint(found, model=model, optimizer=optimizer)
            state, best_state = FitState.from_dict(saved), saved["best_state"]
            logger.info("resumed from %s at epoch %d, step %d", found, state.epoch, state.step)
        else:
            if resume:
                logger.info("resume=True but %s holds no checkpoint; training from step 0",
                            self.checkpoint_dir or "no checkpoint_dir")
            torch.manual_seed(self.seed)
        self.history = History(state.history)
        self.should_stop = False
        total_steps = self._total_steps(len(train_loader))
        run = _Run(model, forward, optimizer, train_loader, state,
                   start=time.perf_counter() - state.elapsed, total_steps=total_steps,
                   warmup_steps=self._warmup_steps(total_steps), best_state=best_state)
        self._call("on_fit_start", model)
        while state.epoch < self.max_epochs and not self.should_stop:
            epoch = state.epoch
            if isinstance(train_loader, Batches):  # the project's batch protocol
                train_loader.set_epoch(epoch)
            else:  # a torch DataLoader (its sampler's), or a user's loader of its own
                sampler = getattr(train_loader, "batch_sampler", None)
                for obj in (sampler, getattr(train_loader, "sampler", None), train_loader):
                    if hasattr(obj, "set_epoch"):
                        obj.set_epoch(epoch)
                        break
            self._call("on_epoch_start", model, epoch)
            train_loss = self._train_epoch(run)
            row = {"epoch": epoch + 1, "step": state.step, "train_loss": train_loss,
                   "lr": max(g["lr"] for g in optimizer.param_groups)}
            if parallel:
                row["train_loss"] = distributed.all_reduce_mean(train_loss)
            if val_loader is not None:  # every rank: the whole validation set, same metrics
                row.update(self.evaluate(model, val_loader, forward=eval_forward))
                value = row[self.monitor]
                if self._improved(value, state.best):
                    state.best, state.best_epoch, state.bad_epochs = value, epoch + 1, 0
                    run.best_state = _snapshot(model)
                else:
                    state.bad_epochs += 1
                if self.patience is not None and state.bad_epochs >= self.patience:
                    self.should_stop = True
            state.elapsed = time.perf_counter() - run.start
            row["time"] = state.elapsed
            self.history.append(row)
            state.history = list(self.history)
            state.epoch = epoch + 1
            self._call("on_epoch_end", model, row)
            if self._budget_spent(state):
                self.should_stop = True
            if self.checkpoint_dir and distributed.is_main():
                save_checkpoint(self.checkpoint_dir, model=model, optimizer=optimizer,
                                trainer_state=dataclasses.asdict(state), config=config,
                                best_state=run.best_state)
        if run.best_state is not None:
            model.load_state_dict(run.best_state)
        self._call("on_fit_end", model)
        return self.history

    def _learning_rate(self, step: int, warmup_steps: int, total_steps: int,
                       elapsed: float) -> float:
        """Warmup + cosine over the steps; under a time budget, over whichever of steps and
        time runs out first, so the rate has decayed when ``max_time`` stops training."""
        if self.max_time is None:
            return cosine_lr(step, base_lr=self.lr, warmup_steps=warmup_steps,
                             total_steps=total_steps, min_lr_ratio=self.min_lr_ratio,
                             shape=self.schedule)
        progress = max(step / max(total_steps, 1), elapsed / self.max_time
                       if self.max_time > 0 else 1.0)
        return cosine_lr_by_progress(progress, step, base_lr=self.lr, warmup=self.warmup,
                                     min_lr_ratio=self.min_lr_ratio, shape=self.schedule)

    def _budget_spent(self, state: FitState) -> bool:
        if self.max_steps is not None and state.step >= self.max_steps:
            return True
        return self.max_time is not None and state.elapsed >= self.max_time

    def _train_epoch(self, run: _Run) -> float:
        model, forward, optimizer, loader, state = (run.model, run.forward, run.optimizer,
                                                    run.loader, run.state)
        model.train()
        batches = loader
        sharded = isinstance(loader, distributed.ShardedBatches)
        if self.progress and distributed.is_main():
            from tqdm.auto import tqdm

            batches = tqdm(loader, desc=f"epoch {state.epoch + 1}", leave=False)
        total, count, n_batches = 0.0, 0, len(loader)
        optimizer.zero_grad(set_to_none=True)
        for i, item in enumerate(batches):
            batch, weight = item if sharded else (item, 1.0)  # weight: this rank's share
            batch = self._to_device(batch)
            with autocast_context(self.device, self.precision):
                _, loss = forward(**batch)
            loss_value = loss.item()  # one host sync per batch, shared by the NaN check and logs
            if not math.isfinite(loss_value):
                self._stop_on_nan(model, loss_value, state, run.best_state)
            (loss * (weight / self.grad_accum)).backward()
            total += loss_value
            count += 1
            if (i + 1) % self.grad_accum and i + 1 < n_batches:
                continue
            elapsed = time.perf_counter() - run.start
            if sharded:  # the time all ranks agreed on at the last step: the same rate
                elapsed = state.elapsed
            lr = self._learning_rate(state.step, run.warmup_steps, run.total_steps, elapsed)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            if self.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            self._call("on_batch_end", model, state.step, loss_value)
            if self.progress and distributed.is_main():
                batches.set_postfix(loss=f"{total / count:.4f}")
            state.elapsed = time.perf_counter() - run.start
            if sharded:  # the slowest rank's clock and any rank's stop, so all stop together
                state.elapsed, self.should_stop = distributed.agree(state.elapsed,
                                                                    self.should_stop)
            if self._budget_spent(state) or self.should_stop:
                break
        return total / max(count, 1)

    def _stop_on_nan(self, model, loss: float, state: FitState, best_state) -> None:
        if self.checkpoint_dir is None:
            where = "No checkpoint was kept (no checkpoint_dir was given)."
        elif (self.checkpoint_dir / "trainer.json").exists():
            where = f"The last good checkpoint is kept in {str(self.checkpoint_dir)!r}."
        else:
            where = (f"No checkpoint was written yet (the first is saved at the end of epoch 1 "
                     f"in {str(self.checkpoint_dir)!r}).")
        if best_state is not None:
            model.load_state_dict(best_state)
        raise NonFiniteLossError(
            f"loss is {loss} at step {state.step + 1} (epoch {state.epoch + 1}); "
            f"training stopped. {where} Lower the learning rate, keep grad_clip on, or check "
            f"the inputs for inf/NaN."
        )


def _snapshot(model: torch.nn.Module) -> dict:
    """A CPU copy of the model's weights."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
