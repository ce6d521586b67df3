"""``CausalLM``: a GPT trained from scratch on a corpus, as a scikit-learn style estimator:
``fit(corpus)``, ``perplexity``, ``score``, ``generate`` (batched, streamed), ``save``/``load``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from hybridnlp.lm._corpus import make_tokenizer, read_corpus, split_corpus, token_stream
from hybridnlp.lm._scoring import LMScoringMixin
from hybridnlp.lm._text_generation import TextGenerationMixin
from hybridnlp.lm.data import RandomWindows, SequentialWindows
from hybridnlp.neural import NeuralEstimator
from hybridnlp.nn.gpt import GPT, GPTConfig
from hybridnlp.text import Tokenizer, load_tokenizer
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.saving import Saveable
from hybridnlp.utils.validation import check_fitted, check_number

__all__ = ["CausalLM"]

_GPT_FIELDS = tuple(f for f in GPTConfig.__dataclass_fields__ if f != "vocab_size")
_RENAMED = {  # the names before the one neural-estimator base (one release of warnings)
    "model": "preset", "lr": "optimizer__lr", "weight_decay": "optimizer__weight_decay",
    "warmup": "trainer__warmup", "min_lr_ratio": "trainer__min_lr_ratio",
    "grad_clip": "trainer__grad_clip", "validation": "validation_fraction",
    "dropout": "module__dropout", "bpe_vocab_size": "vocab_size",
    "trainer__betas": "optimizer__betas", "trainer__eps": "optimizer__eps",
    "trainer__callbacks": "callbacks", "trainer__checkpoint_dir": "checkpoint_dir",
    "trainer__progress": "verbose",
}


class CausalLM(Saveable, TextGenerationMixin, LMScoringMixin, NeuralEstimator):
    """A GPT language model, p(y) = prod_t p(y_t | y_<t), trained from scratch.

    The parameters shared by every neural estimator (budgets, validation, device, checkpoints,
    ``optimizer__*``, ``trainer__*``, ``module__*``) are those of
    :mod:`hybridnlp.neural.base`; their defaults here are below.

    Parameters
    ----------
    preset : str, dict or GPTConfig, default="quick"
        A preset of :data:`hybridnlp.nn.GPT_PRESETS` or :class:`GPTConfig` fields;
        ``module__<field>=`` overrides one field (``module__n_layer=2``,
        ``module__dropout=0.1``). "quick" (two blocks, 128 wide, context 128) learns the most
        per CPU second; "word" (two blocks, 192 wide) is the choice for word-level text; "baby" is
        nanoGPT's 4-layer baby GPT; "gpt2" is GPT-2 small. The small presets put a word-level
        vocabulary (20,000 words or more) behind the adaptive softmax
        (``module__adaptive_cutoffs``, :mod:`hybridnlp.nn.adaptive`), which trains an order
        of magnitude more tokens per second than a full softmax over it.
    tokenizer : {"char", "word", "bpe"} or Tokenizer, default="char"
        ``"word"``: whitespace words with line breaks as ``<eos>`` and ``<unk>`` for words not
        in the training text; ``"bpe"``: byte-level BPE trained in fit (``vocab_size``).
    vocab_size : int, default=4096
        BPE vocabulary size (``tokenizer="bpe"``).
    block_size : int, optional
        Context window in tokens (the preset's by default).
    batch_size : int, default=12
    max_steps : int or "auto", default="auto"
        Optimizer steps; "auto" is 2,000 unless ``max_time`` is given (then the time is the
        budget).
    max_time : float, optional
        Training budget in seconds; the learning rate decays over it.
    max_epochs : float, optional
        Passes over the training tokens (a fraction is fine), at most.
    eval_interval : int, default=250
        Steps between validation estimates (and checkpoints, and early-stopping checks).
    eval_windows : int, default=200
        Windows of the validation stream used for the estimate during training; the full
        validation loss is computed once at the end (``val_loss_``).
    validation_fraction : float, default=0.1
        Share of the corpus held out when ``fit`` gets no ``validation_data``: the end of
        each tenth of a string (up to 10 contiguous pieces) or of each run of
        ``1 / validation_fraction`` documents of a list (``lm.split_corpus(...,
        spread=True)``), so the model still trains on the text nearest what follows it;
        the last tokens of token ids. 0 trains on everything.
    patience : int, optional
        Stop after this many evaluations without improvement; the best weights are kept.
    trainer__optimizer : {"muon", "adamw"}, default="muon"
        "muon": Muon on the blocks' matrices and AdamW on embeddings, output layer and norms,
        at one rate (:class:`~hybridnlp.train.optim.Muon`); it learnt more in the same time
        than AdamW alone on Tiny Shakespeare and WikiText-2 validation (RESULTS.md).
    optimizer__lr, optimizer__weight_decay, optimizer__betas : 7e-3, 0.1, (0.9, 0.99)
        The rate (for Muon's updates matched to AdamW's size) chosen with "quick" on Tiny
        Shakespeare validation loss with a 90 s budget (RESULTS.md); weight decay and betas
        as nanoGPT's Shakespeare recipe. Larger presets want a lower rate (1e-3 for "baby").
    trainer__warmup : float, default=100
        Warmup steps (a share of the budget if < 1), then cosine decay to
        ``trainer__min_lr_ratio``.
    trainer__min_lr_ratio : float, default=0.0
        The rate at the end of the budget, as a share of ``optimizer__lr``: decayed to zero
        learnt more in a fixed time than to 0.1 of it (RESULTS.md).
    trainer__compile : bool or dict, default=False
        ``torch.compile`` the forward (for GPUs).
    random_state : int, RandomState or None
        With an int, refitting on CPU gives the same model.
    **kwargs : ``module__<GPTConfig field>``.

    Attributes
    ----------
    model_ : GPT
    tokenizer_ : Tokenizer
    config_ : GPTConfig
    history_ : list of dict, one row per evaluation
    val_loss_ : float, mean loss per token on the validation windows (nats), or None

    Examples
    --------
    >>> lm = CausalLM(preset="gpt-nano", max_steps=20).fit("to be or not to be " * 50)
    >>> text = lm.generate("to be", max_new_tokens=10, seed=0)
    """

    _module_fields = _GPT_FIELDS
    _renamed = _RENAMED
    _fitted_attr = "model_"

    @positional_deprecated("preset", "tokenizer")
    def __init__(self, *, preset="quick", tokenizer="char", vocab_size: int = 4096,
                 block_size: int | None = None, eval_interval: int = 250,
                 eval_windows: int = 200, max_epochs: float | None = None,
                 max_steps="auto", batch_size: int = 12, optimizer__lr: float = 7e-3,
                 optimizer__weight_decay: float = 0.1, optimizer__betas=(0.9, 0.99),
                 trainer__warmup: float = 100, trainer__min_lr_ratio: float = 0.0,
                 trainer__optimizer: str = "muon", **kwargs):
        self.preset = preset
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.eval_interval = eval_interval
        self.eval_windows = eval_windows
        super().__init__(max_epochs=max_epochs, max_steps=max_steps, batch_size=batch_size,
                         optimizer__lr=optimizer__lr,
                         optimizer__weight_decay=optimizer__weight_decay,
                         optimizer__betas=optimizer__betas, trainer__warmup=trainer__warmup,
                         trainer__min_lr_ratio=trainer__min_lr_ratio,
                         trainer__optimizer=trainer__optimizer, **kwargs)

    # ------------------------------------------------------------------ fit

    def _config(self, vocab_size: int) -> GPTConfig:
        overrides = self._module_overrides()
        if self.block_size is not None:
            overrides["block_size"] = self.block_size
        if isinstance(self.preset, GPTConfig):
            base = self.preset.to_dict()
        elif isinstance(self.preset, dict):
            base = dict(self.preset)
        else:
            base = GPTConfig.from_preset(self.preset).to_dict()
        return GPTConfig.from_dict({**base, **overrides, "vocab_size": vocab_size})

    def _check_params(self) -> None:
        """The settings that need no data, checked before any work (at ``fit`` and when a
        config is loaded)."""
        for name in ("eval_interval", "eval_windows"):
            check_number(name, getattr(self, name), int, low=1, none_ok=name == "eval_windows")
        check_number("max_epochs", self.max_epochs, float, low=0, low_open=True, none_ok=True)
        if self.max_steps != "auto":
            check_number("max_steps", self.max_steps, int, low=1, none_ok=True)
        if self.max_steps is None and self.max_time is None and self.max_epochs is None:
            raise ValueError("CausalLM has no training budget: max_steps, max_time and "
                             "max_epochs are all None; set one of them (max_steps='auto' "
                             "is 2,000 steps).")
        super()._check_params(max_epochs=1, max_steps=self._steps())

    def _steps(self, n_tokens: int | None = None, block_size: int = 1) -> int | None:
        """The step budget: ``max_steps`` ("auto": 2,000 without ``max_time``), and no more
        than ``max_epochs`` passes over ``n_tokens``."""
        steps = self.max_steps
        if steps == "auto":
            steps = 2000 if self.max_time is None else None
        if self.max_epochs is not None and n_tokens is not None:
            passes = math.ceil(self.max_epochs * n_tokens / (self.batch_size * block_size))
            steps = max(1, passes) if steps is None else min(steps, max(1, passes))
        return steps

    def _texts(self, corpus, validation_data):
        corpus = read_corpus(corpus)
        if validation_data is not None:
            train, val = corpus, read_corpus(validation_data, what="validation_data")
        elif self.validation_fraction:
            train, val = split_corpus(corpus, self.validation_fraction, spread=True)
        else:
            train, val = corpus, None
        tok = make_tokenizer(self.tokenizer, self.vocab_size)
        if not getattr(tok, "is_trained", False):
            texts = train if isinstance(train, list) else [train]
            if self.tokenizer == "char" and val is not None:  # the character inventory
                texts = texts + (val if isinstance(val, list) else [val])  # as nanoGPT
            tok.train(texts)
        val_ids = token_stream(tok, val) if val is not None else None
        return tok, token_stream(tok, train), val_ids

    def _token_ids(self, ids: np.ndarray, validation_data):
        tok = self.tokenizer
        if not (isinstance(tok, Tokenizer) and tok.is_trained):
            raise ValueError("fit got token ids, so tokenizer= must be the trained Tokenizer "
                             "that produced them (e.g. the one given to encode_to_file).")
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"token ids must be a 1-D integer array, got shape {ids.shape} "
                             f"and dtype {ids.dtype}.")
        if len(ids) and int(ids.max()) >= tok.vocab_size:  # one pass, no copy of a memmap
            raise ValueError(f"token id {int(ids.max())} is outside the tokenizer's "
                             f"vocabulary of {tok.vocab_size}.")
        if isinstance(validation_data, np.ndarray):
            return tok, ids, validation_data
        if validation_data is not None:
            val = read_corpus(validation_data, what="validation_data")
            return tok, ids, token_stream(tok, val)
        if self.validation_fraction:
            cut = int(len(ids) * (1.0 - self.validation_fraction))
            return tok, ids[:cut], ids[cut:]  # views: nothing is copied
        return tok, ids, None

    def fit(self, corpus, y=None, *, validation_data=None, resume: bool = False) -> CausalLM:
        """Train on ``corpus``: a string, a list of strings, a text file path, or token ids
        (a NumPy array or the memory map of :func:`hybridnlp.lm.open_token_file`, for corpora
        larger than memory; ``tokenizer`` must then be the trained Tokenizer that made them).

        ``validation_data`` (same kinds) is used for validation loss and early stopping;
        without it, ``validation_fraction`` of the corpus is held out. With ``resume=True``
        and a checkpoint in ``checkpoint_dir``, training continues from it.
        """
        self._check_params()
        if isinstance(corpus, np.ndarray):
            tok, train_ids, val_ids = self._token_ids(corpus, validation_data)
        else:
            tok, train_ids, val_ids = self._texts(corpus, validation_data)
        config = self._config(tok.vocab_size)
        if len(train_ids) < config.block_size + 1:
            raise ValueError(
                f"the training corpus has {len(train_ids)} tokens (with the leading <eos>), "
                f"fewer than one window of block_size+1={config.block_size + 1}; pass a longer "
                f"corpus or a smaller block_size."
            )
        seed = self._seed()
        steps = self._steps(len(train_ids), config.block_size)
        rounds = math.ceil(steps / self.eval_interval) if steps else 10**9  # Trainer epochs
        loader = RandomWindows(train_ids, config.block_size, self.batch_size,
                               self.eval_interval, seed=seed)
        val_loader = None
        if val_ids is not None and len(val_ids) >= 2:
            val_loader = SequentialWindows(val_ids, config.block_size,
                                           max_windows=self.eval_windows)
        trainer = self._make_trainer(seed, has_val=val_loader is not None, max_epochs=rounds,
                                     max_steps=steps)
        model = trainer.build_module(lambda: GPT(config))
        self._checkpoint_tokenizer(tok, resume)
        trainer.fit(model, loader, val_loader, resume=resume,
                    config={"gpt": config.to_dict()})
        model.eval()
        self.model_, self.tokenizer_, self.config_ = model, tok, config
        self.history_ = list(trainer.history)
        self.n_train_tokens_ = len(train_ids)
        self.val_loss_ = None
        if val_ids is not None and len(val_ids) >= 2:
            full = SequentialWindows(val_ids, config.block_size)
            self.val_loss_ = trainer.evaluate(model, full)["val_loss"]
        return self

    # ------------------------------------------------------------------ scoring

    @torch.no_grad()
    def token_log_probs(self, ids, *, stride: int | None = None,
                        batch_tokens: int = 2**22) -> np.ndarray:
        """log p(ids[j] | ids[:j]) for j >= 1 (float64, len(ids) - 1), the context truncated
        to a sliding window: windows of ``block_size`` move by ``stride`` (half a window by
        default), and each token is scored once, in the first window that holds it with
        ``block_size - stride`` tokens of context (all in the first window)."""
        check_fitted(self, self._fitted_attr)
        ids = np.asarray(ids, dtype=np.int64)
        n, T = len(ids), self.config_.block_size
        stride = stride or max(1, T // 2)
        if not 1 <= stride <= T:
            raise ValueError(f"stride={stride!r} must be between 1 and block_size={T}.")
        out = np.empty(max(n - 1, 0), dtype=np.float64)
        if n < 2:
            return out
        jobs, begin, done = [], 0, 0  # window [begin, end) predicts targets [done, end)
        while done < n - 1:
            end = min(begin + T, n - 1)
            jobs.append((begin, end, done))
            done = end
            begin = min(begin + stride, max(n - 1 - T, 0)) if end < n - 1 else begin
        rows = max(1, batch_tokens // (T * self.config_.vocab_size))
        device = self._device
        for i in range(0, len(jobs), rows):
            chunk = jobs[i:i + rows]
            width = max(e - b for b, e, _ in chunk)
            x = np.zeros((len(chunk), width), dtype=np.int64)
            y = np.zeros((len(chunk), width), dtype=np.int64)
            for r, (b, e, _) in enumerate(chunk):
                x[r, :e - b] = ids[b:e]
                y[r, :e - b] = ids[b + 1:e + 1]
            logits, _ = self.model_(torch.from_numpy(x).to(device))
            lp = torch.log_softmax(logits.float(), dim=-1)
            lp = lp.gather(2, torch.from_numpy(y).to(device)[..., None])[..., 0]
            lp = lp.double().cpu().numpy()
            for r, (b, e, d) in enumerate(chunk):
                out[d:e] = lp[r, d - b:e - b]
        return out

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write ``model.safetensors``, ``config.json`` and ``tokenizer.json`` into ``path``
        (a directory, created if needed); each file is written atomically."""
        check_fitted(self, self._fitted_attr)
        path = self._save_module(path, "CausalLM", {
            "gpt": self.config_.to_dict(), "val_loss": self.val_loss_,
            "history": self.history_}, skip=("lm_head.weight",) if self.config_.tie_weights
            else ())
        self.tokenizer_.save(path / "tokenizer.json")

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, device: str = "cpu") -> CausalLM:
        """A local Hugging Face GPT-2 directory (``config.json``, ``model.safetensors`` or
        ``pytorch_model.bin``, and ``tokenizer.json`` or ``vocab.json`` + ``merges.txt``) as
        a fitted CausalLM: it generates, scores, fine-tunes (``warm_start``-style, by
        ``init_from`` of the classifiers) and saves like one trained here. Nothing is
        downloaded; the directory's code (``auto_map``) is never run. Generation starts
        after ``<|endoftext|>``, the separator GPT-2's documents were trained behind."""
        from hybridnlp.lm.gpt2 import load_gpt2
        from hybridnlp.text import PretrainedBPETokenizer

        path = Path(path)
        tok = PretrainedBPETokenizer.from_directory(path)
        model = load_gpt2(path)
        if tok.vocab_size > model.config.vocab_size:
            raise ValueError(f"the tokenizer of {str(path)!r} has {tok.vocab_size} tokens, "
                             f"more than the model's vocab_size={model.config.vocab_size}; "
                             f"the files come from different models.")
        lm = cls(tokenizer=tok, device=device)
        lm.model_, lm.tokenizer_, lm.config_ = model.to(device), tok, model.config
        lm.history_, lm.n_train_tokens_, lm.val_loss_ = [], 0, None
        return lm

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the model as a Hugging Face GPT-2 directory that ``transformers`` loads
        (``AutoModelForCausalLM`` and ``AutoTokenizer``): weights, config and the tokenizer.
        Needs byte-level BPE tokens (``tokenizer="bpe"`` or a pretrained GPT-2's)."""
        from hybridnlp.lm.gpt2 import export_hf

        check_fitted(self, self._fitted_attr)
        return export_hf(self.model_, self.tokenizer_, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu") -> CausalLM:
        """Read a model written by ``save`` (weights via safetensors; nothing is unpickled)."""
        path = Path(path)
        meta = cls._read_meta(path)
        try:
            config = GPTConfig.from_dict(meta["gpt"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{str(path / 'config.json')!r}: field 'gpt' is invalid: "
                             f"{err}") from None
        tok = load_tokenizer(path / "tokenizer.json")
        if tok.vocab_size != config.vocab_size:
            raise ValueError(f"{str(path / 'tokenizer.json')!r} has {tok.vocab_size} tokens "
                             f"but the model's vocab_size is {config.vocab_size}; the files "
                             f"come from different models.")
        lm = cls._from_saved(meta, lambda: GPT(config), path, device)
        lm.tokenizer_, lm.config_ = tok, config
        lm.val_loss_ = meta.get("val_loss")
        return lm
