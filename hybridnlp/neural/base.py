"""``NeuralEstimator``: the one base of hybridnlp's neural estimators (classifiers, language
models, translators, readers).

``TransformerClassifier``, ``FastTextClassifier`` and ``CausalLM`` (and the models built on
them) take the same names for the same things, and train through the one ``Trainer``:

- budgets: ``max_epochs``, ``max_steps``, ``max_time`` (seconds);
- ``batch_size``, ``validation_fraction`` (held out when ``fit`` gets no ``validation_data``),
  ``patience`` (early stopping on ``trainer__monitor``, the best weights restored);
- ``device``, ``precision``, ``checkpoint_dir`` (``fit(..., resume=True)`` continues from it),
  ``callbacks``, ``random_state``, ``verbose``;
- ``optimizer__lr``, ``optimizer__weight_decay``, ``optimizer__betas``, ``optimizer__eps``;
- ``trainer__warmup``, ``trainer__min_lr_ratio``, ``trainer__schedule``,
  ``trainer__grad_clip``, ``trainer__grad_accum``, ``trainer__monitor``, ``trainer__compile``,
  ``trainer__optimizer`` ("adamw", or "muon" for a GPT's hidden matrices);
- ``module__<field>``: one field of the module's config, over the ``preset``'s value.

Every one of them, with its default, is in ``get_params()``; a subclass states its own
defaults in its signature. Each subclass's ``__init__`` lists only its own parameters and
passes the rest on: ``__init_subclass__`` gives it the signature of the whole (what
``get_params``, ``clone`` and the repr read).
"""

from __future__ import annotations

import difflib
import inspect
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from hybridnlp.neural.weights import check_weights_header, load_weights
from hybridnlp.text import Tokenizer
from hybridnlp.train import Trainer
from hybridnlp.train.checkpoint import claim_checkpoint_dir
from hybridnlp.utils.deprecation import under_new_names, warn_renamed, warn_renamed_function
from hybridnlp.utils.io import atomic_path, atomic_write_json, read_json
from hybridnlp.utils.validation import check_number

__all__ = ["NeuralEstimator"]

DUNDER_PREFIXES = ("module__", "optimizer__", "trainer__")
TRAINER_NAMES = {  # Trainer argument -> the estimators' parameter
    **{name: f"optimizer__{name}" for name in ("lr", "weight_decay", "betas", "eps")},
    **{name: f"trainer__{name}" for name in ("warmup", "min_lr_ratio", "schedule",
                                             "grad_clip", "grad_accum", "monitor", "compile",
                                             "optimizer")},
}


def _merged_signature(own: inspect.Signature, inherited: inspect.Signature) -> inspect.Signature:
    """``self``, the class's own keyword-only parameters, then the inherited ones it does not
    redeclare, then ``**kwargs`` (the ``module__`` fields and renamed parameters)."""
    mine = [p for p in own.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY]
    names = {p.name for p in mine}
    rest = [p for p in inherited.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in names]
    self_ = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return inspect.Signature([self_, *mine, *rest, kwargs])


class NeuralEstimator(BaseEstimator):
    """Base of the neural estimators: one parameter vocabulary, one Trainer.

    Subclasses set ``_module_fields`` (the names ``module__`` takes), optionally
    ``_renamed`` (old parameter name -> new, accepted for one release with a FutureWarning)
    and ``_metrics`` (the Trainer's validation metrics), and implement ``fit``. Parameters:
    see the module docstring.
    """

    _module_fields: tuple[str, ...] = ()
    _renamed: dict[str, str] = {}
    _metrics: dict = {}  # validation metrics, name -> fn(logits, targets) (monitor val_<name>)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            init = cls.__dict__["__init__"]
            init.__signature__ = _merged_signature(
                inspect.signature(init), inspect.signature(super(cls, cls).__init__))

    def __init__(self, *, max_epochs=10, max_steps=None, max_time=None, batch_size=32,
                 validation_fraction=0.1, patience=None, device="auto", precision="auto",
                 checkpoint_dir=None, callbacks=None, random_state=None, verbose=0,
                 optimizer__lr=1e-3, optimizer__weight_decay=0.01,
                 optimizer__betas=(0.9, 0.999), optimizer__eps=1e-8,
                 trainer__warmup=0.1, trainer__min_lr_ratio=0.1, trainer__schedule="cosine",
                 trainer__grad_clip=1.0, trainer__grad_accum=1, trainer__monitor="val_loss",
                 trainer__compile=False, trainer__optimizer="adamw", **kwargs):
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.max_time = max_time
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.optimizer__lr = optimizer__lr
        self.optimizer__weight_decay = optimizer__weight_decay
        self.optimizer__betas = optimizer__betas
        self.optimizer__eps = optimizer__eps
        self.trainer__warmup = trainer__warmup
        self.trainer__min_lr_ratio = trainer__min_lr_ratio
        self.trainer__schedule = trainer__schedule
        self.trainer__grad_clip = trainer__grad_clip
        self.trainer__grad_accum = trainer__grad_accum
        self.trainer__monitor = trainer__monitor
        self.trainer__compile = trainer__compile
        self.trainer__optimizer = trainer__optimizer
        self._set_extra(kwargs)

    # ------------------------------------------------------------------ parameters

    def _set_extra(self, params: dict) -> None:
        """``module__`` fields and renamed parameters (the keyword arguments no signature
        names)."""
        for key, value in params.items():
            if key in self._renamed:
                new = self._renamed[key]
                warn_renamed(type(self).__name__, key, new)
                key = new
                if not key.startswith("module__"):
                    setattr(self, key, value)
                    continue
            self._check_extra(key)
            setattr(self, key, value)

    def _check_extra(self, key: str) -> None:
        prefix, _, name = key.partition("__")
        if prefix == "module" and name in self._module_fields:
            return
        candidates = [*self._get_param_names(), *(f"module__{f}" for f in self._module_fields)]
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if not close:  # "lr" -> "optimizer__lr": match on the part after the prefix
            short = {c.partition("__")[2]: c for c in candidates if "__" in c}
            hit = difflib.get_close_matches(name or key, short, n=1, cutoff=0.75)
            close = [short[hit[0]]] if hit else []
        hint = f" Did you mean {close[0]}?" if close else ""
        if prefix == "module":
            allowed = ", ".join(f"module__{n}" for n in self._module_fields)
            raise ValueError(f"{key} is not a parameter of {type(self).__name__}.{hint} "
                             f"Allowed module parameters: {allowed}.")
        if key.startswith(DUNDER_PREFIXES):
            allowed = ", ".join(c for c in candidates if c.startswith(prefix + "__"))
            raise ValueError(f"{key} is not a parameter of {type(self).__name__}.{hint} "
                             f"Allowed {prefix} parameters: {allowed}.")
        raise TypeError(f"{type(self).__name__} got an unexpected keyword argument "
                        f"{key!r}.{hint}")

    def _module_overrides(self) -> dict:
        """The ``module__`` fields set, without the prefix."""
        return {k[len("module__"):]: v for k, v in vars(self).items()
                if k.startswith("module__")}

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=deep)
        params.update({k: v for k, v in vars(self).items() if k.startswith("module__")})
        return params

    def set_params(self, **params):
        names = set(self._get_param_names())
        extra = {k: v for k, v in params.items() if k not in names
                 and (k in self._renamed or k.startswith(DUNDER_PREFIXES))}
        dunder = {k: v for k, v in params.items() if k in names and "__" in k}
        rest = {k: v for k, v in params.items()
                if k not in extra and k not in dunder}  # scikit-learn's own errors
        for key, value in dunder.items():
            setattr(self, key, value)
        self._set_extra(extra)
        return super().set_params(**rest) if rest else self

    # ------------------------------------------------------------------ fitting pieces

    def _seed(self) -> int:
        """The one int every RNG of a fit is drawn from (``check_random_state``)."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _check_params(self, **budget) -> None:
        """The shared settings that need no data, checked before any work (at ``fit`` and
        when a config is loaded); the Trainer checks the optimizer__ and trainer__ ones
        (``budget``: the ``max_epochs``/``max_steps`` it gets, where a subclass counts its own
        way)."""
        check_number("batch_size", self.batch_size, int, low=1)
        check_number("validation_fraction", self.validation_fraction, float, low=0, high=1,
                     high_open=True, none_ok=True)
        check_number("verbose", self.verbose, int, low=0)
        self._make_trainer(0, has_val=True, **budget)

    def _make_trainer(self, seed: int, *, has_val: bool, **budget) -> Trainer:
        """The Trainer these settings describe; ``budget`` (``max_epochs``, ``max_steps``)
        replaces the parameters where a subclass counts its own way (an LM's evaluation
        rounds)."""
        budget = {"max_epochs": self.max_epochs, "max_steps": self.max_steps, **budget}
        try:
            return self._trainer(seed, has_val, **budget)
        except (TypeError, ValueError) as err:  # name the estimator's parameter
            message = str(err)
            for name, param in TRAINER_NAMES.items():
                if message.startswith(name) and message[len(name):][:1] in ("=", "["):
                    raise type(err)(param + message[len(name):]) from None
            raise

    def _trainer(self, seed, has_val, *, max_epochs, max_steps) -> Trainer:
        checkpoints = self._checkpoint_path("trainer")
        monitor = self.trainer__monitor
        return Trainer(
            max_epochs=max_epochs, max_steps=max_steps,
            max_time=self.max_time, lr=self._lr(),
            weight_decay=self.optimizer__weight_decay, betas=self.optimizer__betas,
            eps=self.optimizer__eps, warmup=self.trainer__warmup,
            min_lr_ratio=self.trainer__min_lr_ratio, schedule=self.trainer__schedule,
            grad_clip=self.trainer__grad_clip, grad_accum=self.trainer__grad_accum,
            precision=self.precision, device=self.device,
            patience=self.patience if has_val else None,
            monitor=monitor if has_val or not monitor.startswith("val_") else "train_loss",
            metrics=self._metrics, callbacks=list(self.callbacks or []),
            progress=bool(self.verbose), checkpoint_dir=checkpoints, seed=seed,
            compile=self.trainer__compile, optimizer=self.trainer__optimizer,
        )

    def _lr(self) -> float:
        """The learning rate the Trainer gets (a subclass may resolve an "auto" default)."""
        return self.optimizer__lr

    def _checkpoint_path(self, name: str) -> Path | None:
        """``name`` inside ``checkpoint_dir`` (claimed first: a folder that is not empty and
        not a checkpoint folder of ours is refused, untouched)."""
        if self.checkpoint_dir is None:
            return None
        return claim_checkpoint_dir(self.checkpoint_dir) / name

    def _check_resume(self, resume: bool) -> None:
        if resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir, the folder of the checkpoint.")

    def _checkpoint_tokenizer(self, tokenizer: Tokenizer, resume: bool) -> None:
        """Keep the tokenizer beside the checkpoint; on resume, check it is the same one."""
        self._check_resume(resume)
        path = self._checkpoint_path("tokenizer.json")
        if path is None:
            return
        if resume and path.exists() and type(tokenizer).load(path) != tokenizer:
            raise ValueError(
                f"the checkpoint in {str(self.checkpoint_dir)!r} was trained with another "
                f"vocabulary; resume with the same data and random_state as the interrupted fit."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tokenizer.save(path)

    @property
    def module_(self):
        """The fitted module under its older name (deprecated: it warns; use ``model_``)."""
        model = self.model_  # AttributeError before fit, so hasattr(est, "module_") is False
        warn_renamed_function(f"{type(self).__name__}.module_", f"{type(self).__name__}.model_")
        return model

    @property
    def _device(self) -> torch.device:
        """Where the fitted module lives."""
        return next(self.model_.parameters()).device

    # ------------------------------------------------------------------ persistence pieces

    def _json_params(self) -> dict:
        """The parameters JSON can hold (numbers, strings, None, tuples of numbers)."""
        return {k: v for k, v in self.get_params(deep=False).items()
                if isinstance(v, str | int | float | bool | type(None))
                or (isinstance(v, tuple | list) and all(isinstance(x, int | float) for x in v))}

    def _save_module(self, path: str | os.PathLike, kind: str, meta: dict, *,
                     skip: tuple[str, ...] = ()) -> Path:
        """``model.safetensors`` (the module's tensors but ``skip``, e.g. tied weights) and
        ``config.json`` (``kind``, the parameters, ``meta``) in the directory ``path``, each
        written atomically; returns the directory."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model_.state_dict().items()
                 if k not in skip}
        with atomic_path(path / "model.safetensors") as tmp:
            save_file(state, tmp, metadata={"format": f"hybridnlp.{kind}"})
        atomic_write_json(path / "config.json", {"kind": kind, "params": self._json_params(),
                                                 **meta})
        return path

    @classmethod
    def _read_meta(cls, path: str | os.PathLike) -> dict:
        """``config.json`` of a directory written by ``_save_module``, its kind checked."""
        file = Path(path) / "config.json"
        meta = read_json(file, what=f"{cls.__name__} config")
        if meta.get("kind") != cls.__name__:
            raise ValueError(f"{str(file)!r}: field 'kind' is {meta.get('kind')!r}, expected "
                             f"{cls.__name__!r}.")
        return meta

    @classmethod
    def _from_saved(cls, meta: dict, build, path, device: str):
        """The estimator of saved parameters with the module ``build()`` makes (its weights
        read from ``path``) on ``device``, in eval mode. The module is first built on the
        meta device (no memory) and its shapes checked against the weights file's header, so
        a config whose sizes do not match the weights allocates nothing."""
        file = Path(path) / "model.safetensors"
        with torch.device("meta"):
            shapes = build()
        check_weights_header(shapes, file)
        model = build()
        load_weights(model, file)
        params = under_new_names(cls._renamed, meta.get("params", {}))
        if isinstance(params.get("optimizer__betas"), list):
            params["optimizer__betas"] = tuple(params["optimizer__betas"])
        est = cls(**{**params, "device": device})
        est.model_ = model.to(torch.device(device)).eval()
        est.history_ = meta.get("history", [])
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
