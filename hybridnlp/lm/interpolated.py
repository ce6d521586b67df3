"""``InterpolatedLM``: p(w | h) = lambda * p_neural(w | h) + (1 - lambda) * p_ngram(w | h), the
mixture of Mikolov et al. (KN5 + RNN LM), with lambda fit on validation text by EM; optionally
one lambda per n-gram confidence level (the highest order whose context the n-gram has seen).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone

from hybridnlp.lm._scoring import LMScoringMixin
from hybridnlp.lm.decoding import Stepper, sample
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.saving import Saveable, save_parts
from hybridnlp.utils.validation import check_choice, check_fitted, check_number

__all__ = ["InterpolatedLM", "fit_mixture_weight"]


def fit_mixture_weight(p_a: np.ndarray, p_b: np.ndarray, *, n_iter: int = 200,
                       tol: float = 1e-9) -> float:
    """The lambda in [0, 1] maximising sum log(lambda p_a + (1 - lambda) p_b), by EM."""
    lam = 0.5
    for _ in range(n_iter):
        mix = lam * p_a + (1.0 - lam) * p_b
        new = float(np.mean(lam * p_a / np.maximum(mix, 1e-300)))
        if abs(new - lam) < tol:
            return new
        lam = new
    return lam


class InterpolatedLM(Saveable, LMScoringMixin, BaseEstimator):
    """Linear interpolation of a :class:`CausalLM` and an :class:`NGramLM` that share one
    tokenizer.

    ``fit(corpus, validation_data=val)`` fits both parts on ``corpus`` (the n-gram model on
    the neural model's tokenizer) and the weight on ``val``; parts that are already fitted are
    used as they are (as scikit-learn's ``cv="prefit"``) and ``fit(val)`` fits only the
    weight. So ``clone(mix).fit(...)`` refits everything.

    Parameters
    ----------
    neural : CausalLM, default=None (``CausalLM()``)
    ngram : NGramLM, default=None (``NGramLM()``; a tokenizer given by name is replaced by the
        neural model's)
    weight : float, optional
        The neural model's weight; None fits it by EM on the validation text.
    per_context : bool, default=False
        One weight per n-gram confidence level (matched order 1..order), each fit by EM on
        the validation tokens of that level (levels with under ``min_tokens`` tokens use the
        global weight).
    min_tokens : int, default=100
    prefit : {"auto", True, False}, default="auto"
        True: the parts are fitted, ``fit(texts)`` fits the weight on ``texts``. False: ``fit``
        fits the parts too. "auto": True when both parts are fitted.

    Attributes
    ----------
    neural_, ngram_ : the fitted parts (the given objects when prefit)
    weight_ : float, the global neural weight
    weights_ : ndarray (order + 1,), the weight per matched order (all ``weight_`` unless
        ``per_context``)
    """

    @positional_deprecated("neural", "ngram")
    def __init__(self, *, neural=None, ngram=None, weight: float | None = None,
                 per_context: bool = False, min_tokens: int = 100, prefit="auto"):
        self.neural = neural
        self.ngram = ngram
        self.weight = weight
        self.per_context = per_context
        self.min_tokens = min_tokens
        self.prefit = prefit

    def _parts_given(self):
        from hybridnlp.lm.causal_lm import CausalLM
        from hybridnlp.lm.ngram import NGramLM

        return (CausalLM() if self.neural is None else self.neural,
                NGramLM() if self.ngram is None else self.ngram)

    def _check_params(self) -> None:
        """The parts' types and the settings, before any work."""
        for name, part in zip(("neural", "ngram"), self._parts_given(), strict=True):
            if not hasattr(part, "token_log_probs"):
                raise TypeError(f"{name}={part!r} is a {type(part).__name__}, not a language "
                                f"model; pass a CausalLM (neural) and an NGramLM (ngram), or "
                                f"in a config {{type: causal_lm}} / {{type: ngram_lm}}.")
        check_number("weight", self.weight, float, low=0, high=1, none_ok=True)
        check_number("min_tokens", self.min_tokens, int, low=1)
        check_choice("prefit", self.prefit, ("auto", True, False))

    def _is_prefit(self) -> bool:
        if self.prefit != "auto":
            return bool(self.prefit)
        return all(hasattr(part, "tokenizer_") for part in self._parts_given())

    def _check_components(self) -> None:
        check_fitted(self, "neural_")
        check_fitted(self.neural_, self.neural_._fitted_attr)
        check_fitted(self.ngram_, self.ngram_._fitted_attr)
        if self.neural_.tokenizer_ != self.ngram_.tokenizer_:
            raise ValueError(
                "the neural and n-gram models use different tokenizers, so their token "
                "probabilities cannot be mixed; fit the n-gram with "
                "NGramLM(tokenizer=neural.tokenizer_)."
            )

    @property
    def tokenizer_(self):
        check_fitted(self, "neural_")
        return self.neural_.tokenizer_

    def _parts(self, ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p_nn = np.exp(self.neural_.token_log_probs(ids))
        lp_ng, orders = self.ngram_.token_log_probs(ids, return_orders=True)
        return p_nn, np.exp(lp_ng), orders

    def fit(self, corpus=None, y=None, *, validation_data=None) -> InterpolatedLM:
        """Prefit parts: fit the weight(s) on ``corpus`` (validation text, not the n-gram's
        training text, which it has memorised). Otherwise: fit both parts on ``corpus`` and
        the weight(s) on ``validation_data`` (default: the neural model's held-out share of
        ``corpus``). With ``weight`` set, no weight is fit."""
        self._check_params()
        neural, ngram = self._parts_given()
        if self._is_prefit():
            if validation_data is not None:
                raise ValueError("the parts are prefit: fit(texts) fits the weight on texts; "
                                 "validation_data is for fitting the parts too (prefit=False).")
            self.neural_, self.ngram_ = neural, ngram
            weight_text = corpus
        else:
            if corpus is None:
                raise ValueError("fit needs the training corpus of the parts (or prefit "
                                 "parts and validation text).")
            train, weight_text = self._split(neural, corpus, validation_data)
            self.neural_ = clone(neural).fit(train, validation_data=weight_text)
            self.ngram_ = clone(ngram)
            if isinstance(self.ngram_.tokenizer, str):  # the same tokens as the neural model
                self.ngram_.set_params(tokenizer=self.neural_.tokenizer_)
            self.ngram_.fit(train)
        self._check_components()
        if self.weight is not None:
            self.weights_ = self._fit_weights(None, None, None)
        elif weight_text is None:
            raise ValueError("fit needs validation texts to fit the weight, or pass weight=.")
        else:
            self.weights_ = self._fit_weights(*self._parts(self.stream(weight_text)))
        self.weight_ = float(self.weights_[0])  # level 0 (never matched) keeps the global one
        return self

    @staticmethod
    def _split(neural, corpus, validation_data):
        """(training text, weight-fitting text): ``validation_data`` when given, else the
        neural model's ``validation_fraction`` share of ``corpus``, held out as the neural
        model holds it out (spread: ``split_corpus``)."""
        from hybridnlp.lm._corpus import read_corpus, split_corpus

        corpus = read_corpus(corpus)
        if validation_data is not None:
            return corpus, read_corpus(validation_data, what="validation_data")
        return split_corpus(corpus, neural.validation_fraction or 0.1, spread=True)

    def cross_fit_log_likelihood(self, texts) -> tuple[float, int]:
        """Honest held-out score on text that also fits the weights: the weight(s) fit on
        each half score the other half. Returns (total log-likelihood, tokens); afterwards the
        weights are those fit on all of ``texts``."""
        if not hasattr(self, "neural_") and self._is_prefit():
            self._check_params()
            self.neural_, self.ngram_ = self._parts_given()
        self._check_components()
        p_nn, p_ng, orders = self._parts(self.stream(texts))
        half = len(p_nn) // 2
        total = 0.0
        for fit, ev in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
            lam = self._fit_weights(p_nn[fit], p_ng[fit], orders[fit])[orders[ev]]
            total += float(np.log(np.maximum(lam * p_nn[ev] + (1 - lam) * p_ng[ev],
                                             1e-300)).sum())
        self.weights_ = self._fit_weights(p_nn, p_ng, orders)
        self.weight_ = float(self.weights_[0])
        return total, len(p_nn)

    def save(self, path) -> None:
        """Its two parts in ``neural/`` and ``ngram/`` (each its own safetensors / npz +
        JSON) and the weights in ``config.json`` (nothing is pickled)."""
        self._check_components()
        save_parts(path, {"neural": self.neural_, "ngram": self.ngram_}, {
            "kind": "InterpolatedLM",
            "params": {"weight": self.weight, "per_context": self.per_context,
                       "min_tokens": self.min_tokens, "prefit": self.prefit},
            "weights": [float(w) for w in self.weights_]})

    @classmethod
    def load(cls, path, *, device: str = "cpu") -> InterpolatedLM:
        """Read a mixture written by ``save``: both parts, then the weights (checked: one per
        matched order of the n-gram part, each in [0, 1])."""
        from pathlib import Path

        from hybridnlp.lm.causal_lm import CausalLM
        from hybridnlp.lm.ngram import NGramLM
        from hybridnlp.utils.io import read_json
        from hybridnlp.utils.saved_arrays import checked_array

        path = Path(path)
        file = str(path / "config.json")
        meta = read_json(path / "config.json", what="InterpolatedLM config")
        if meta.get("kind") != "InterpolatedLM" or not isinstance(meta.get("params"), dict):
            raise ValueError(f"{file!r}: field 'kind' is {meta.get('kind')!r}, expected "
                             f"'InterpolatedLM'.")
        neural, ngram = CausalLM.load(path / "neural", device=device), NGramLM.load(path /
                                                                                   "ngram")
        try:
            mix = cls(neural=neural, ngram=ngram, **meta["params"])
            mix._check_params()
        except (TypeError, ValueError) as err:
            raise ValueError(f"{file!r}: {err}") from None
        mix.neural_, mix.ngram_ = neural, ngram
        mix.weights_ = checked_array(meta.get("weights"), what=f"{file}: weights",
                                     shape=(ngram.order + 1,), low=0, high=1).astype(float)
        mix.weight_ = float(mix.weights_[0])
        mix._check_components()
        return mix

    def _fit_weights(self, p_nn, p_ng, orders) -> np.ndarray:
        n_levels = self.ngram_.order + 1
        if self.weight is not None:
            return np.full(n_levels, float(self.weight))
        weights = np.full(n_levels, fit_mixture_weight(p_nn, p_ng))
        if self.per_context:
            for k in range(1, n_levels):
                sel = orders == k
                if sel.sum() >= self.min_tokens:
                    weights[k] = fit_mixture_weight(p_nn[sel], p_ng[sel])
        return weights

    def token_log_probs(self, ids, **_) -> np.ndarray:
        """log of the mixture probability of ids[j] given ids[:j], j >= 1."""
        check_fitted(self, "weights_")
        p_nn, p_ng, orders = self._parts(ids)
        lam = self.weights_[orders]
        return np.log(np.maximum(lam * p_nn + (1.0 - lam) * p_ng, 1e-300))

    @torch.no_grad()
    def generate(self, prompt: str = "", max_new_tokens: int = 100, *,
                 temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, seed: int | None = None) -> str:
        """Sample from the mixture, token by token (the neural part keeps its KV cache)."""
        check_fitted(self, "weights_")
        lm, ng = self.neural_, self.ngram_
        tok = lm.tokenizer_
        ids = [tok.eos_id, *tok.encode(prompt)]
        device = lm._device
        seq = torch.zeros(1, len(ids) + max_new_tokens, dtype=torch.long, device=device)
        seq[0, :len(ids)] = torch.tensor(ids)
        stepper = Stepper(lm.model_, 1)
        history = max(ng.order - 1, 0)

        def step(seq: torch.Tensor, cur: int) -> torch.Tensor:
            p_nn = stepper.logits(seq, cur).softmax(dim=1)[0].double().cpu().numpy()
            hist = seq[0, max(0, cur - history):cur].tolist() if history else []
            p_ng = ng.next_token_probs(hist)
            lam = self.weights_[ng.matched_order(hist)]
            p = lam * p_nn + (1.0 - lam) * p_ng
            return torch.from_numpy(np.log(np.maximum(p, 1e-300))).float()[None].to(device)

        generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
        out = [int(c[0]) for c in sample(step, seq, len(ids), max_new_tokens,
                                         temperature=temperature, top_k=top_k, top_p=top_p,
                                         suppress=lm._suppress(), generator=generator)]
        return tok.decode(out)
