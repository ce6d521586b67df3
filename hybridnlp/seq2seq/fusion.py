"""``ShallowFusion``: a translator and a target-side language model, combined at decoding
time (Gulcehre et al. 2015), score = log p_tm(y | x) + weight * log p_lm(y), or by reranking
the translator's n-best list with the same two scores; the weight is chosen on validation
BLEU."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone

from hybridnlp.lm.decoding import length_normaliser
from hybridnlp.seq2seq.metrics import corpus_bleu
from hybridnlp.seq2seq.pairs import check_pairs
from hybridnlp.seq2seq.seq2seq_lm import Seq2SeqLM
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.io import read_json
from hybridnlp.utils.saving import Saveable, save_parts
from hybridnlp.utils.validation import check_choice, check_fitted

__all__ = ["ShallowFusion"]


class ShallowFusion(Saveable, BaseEstimator):
    """A :class:`Seq2SeqLM` with a target-side LM in its beam search (``method="fusion"``) or
    reranking its n-best list (``method="rerank"``).

    Parameters
    ----------
    translator : Seq2SeqLM, fitted or not (default: ``Seq2SeqLM()``).
    lm : NGramLM or CausalLM, fitted or not (default: a 4-gram Kneser-Ney ``NGramLM``).
        An unfitted one is fit on the training targets with the translator's tokenizer, so
        both score the same tokens.
    weight : float, optional
        The LM's weight; None chooses it among ``weights`` on validation BLEU.
    weights : tuple of float
        The candidates (0 keeps the plain translator when nothing helps).
    method : {"fusion", "rerank"}, default="fusion"

    Attributes
    ----------
    translator_, lm_, weight_ : the fitted parts and the weight used.
    weight_scores_ : dict weight -> validation BLEU (when the weight was chosen).
    """

    @positional_deprecated("translator", "lm")
    def __init__(self, *, translator=None, lm=None, weight: float | None = None,
                 weights=(0.0, 0.05, 0.1, 0.2, 0.3), method: str = "fusion"):
        self.translator = translator
        self.lm = lm
        self.weight = weight
        self.weights = weights
        self.method = method

    def fit(self, X, y, *, validation_data=None) -> ShallowFusion:
        """Fit what is not fitted (the translator on the pairs, the LM on ``y``), then choose
        the weight on ``validation_data=(sources, targets)`` (needed unless ``weight`` is
        given)."""
        check_choice("method", self.method, ("fusion", "rerank"))
        src, tgt = check_pairs(X, y)
        if self.weight is None and validation_data is None:
            raise ValueError("ShallowFusion chooses its weight on validation BLEU: pass "
                             "validation_data=(sources, targets) or set weight=.")
        translator = self.translator if self.translator is not None else Seq2SeqLM()
        if not hasattr(translator, "model_"):
            translator = clone(translator).fit(src, tgt, validation_data=validation_data)
        lm = self.lm
        if lm is None:
            from hybridnlp.lm import NGramLM

            lm = NGramLM(order=4)
        if not hasattr(lm, "tokenizer_"):
            lm = clone(lm).set_params(tokenizer=translator.tokenizer_).fit(tgt)
        self.translator_, self.lm_ = translator, lm
        if self.weight is not None:
            self.weight_ = float(self.weight)
            return self
        val_src, val_tgt = check_pairs(*validation_data, names=("validation_data[0]",
                                                                "validation_data[1]"))
        self.weight_scores_ = {}
        for w in self.weights:
            self.weight_ = float(w)
            self.weight_scores_[float(w)] = corpus_bleu(self.predict(val_src), val_tgt).score
        self.weight_ = max(self.weight_scores_, key=lambda w: (self.weight_scores_[w], -w))
        return self

    def predict(self, X, *, batch_size: int = 64, progress: bool = False) -> list[str]:
        check_fitted(self, "weight_")
        tm = self.translator_
        if self.method == "fusion" or not self.weight_:
            return tm.generate(X, lm=self.lm_, lm_weight=self.weight_, batch_size=batch_size,
                               progress=progress)
        nbest = tm.generate(X, num_return_sequences=tm.num_beams, return_scores=True,
                            batch_size=batch_size, progress=progress)
        return [self._rerank(hyps) for hyps in nbest]

    def _rerank(self, hyps: list[tuple[str, float]]) -> str:
        """The hypothesis with the best translator score + weight * LM log-probability per
        normalised length (the LM scores the target and its end)."""
        tok = self.translator_.tokenizer_
        norm = length_normaliser(self.translator_.length_penalty, "gnmt")
        best, best_score = hyps[0][0], -math.inf
        for text, tm_score in hyps:
            ids = tok.encode(text)
            stream = np.array([tok.eos_id, *ids, tok.eos_id])
            lm_score = float(self.lm_.token_log_probs(stream).sum())
            score = tm_score + self.weight_ * lm_score / norm(len(ids))
            if score > best_score:
                best, best_score = text, score
        return best

    def score(self, X, y) -> float:
        """Corpus BLEU of ``predict(X)`` against ``y``."""
        src, tgt = check_pairs(X, y)
        return corpus_bleu(self.predict(src), tgt).score

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike) -> None:
        """Write ``translator/`` and ``lm/`` (each in its own safe format) and
        ``config.json`` (the weight and method) into the directory ``path``."""
        check_fitted(self, "weight_")
        save_parts(path, {"translator": self.translator_, "lm": self.lm_}, {
            "kind": "ShallowFusion", "method": self.method, "weight": self.weight_,
            "weights": list(self.weights), "weight_scores": getattr(self, "weight_scores_",
                                                                    None)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> ShallowFusion:
        """Read a model written by ``save``."""
        from hybridnlp.lm import CausalLM, NGramLM

        path = Path(path)
        meta = read_json(path / "config.json", what="ShallowFusion config")
        if meta.get("kind") != "ShallowFusion":
            raise ValueError(f"{str(path / 'config.json')!r}: field 'kind' is "
                             f"{meta.get('kind')!r}, expected 'ShallowFusion'.")
        translator = Seq2SeqLM.load(path / "translator")
        kind = read_json(path / "lm" / "config.json", what="ShallowFusion LM config").get("kind")
        kinds = {"CausalLM": CausalLM, "NGramLM": NGramLM}
        if kind not in kinds:
            raise ValueError(f"{str(path / 'lm' / 'config.json')!r}: field 'kind' is {kind!r}, "
                             f"expected one of {sorted(kinds)}.")
        lm = kinds[kind].load(path / "lm")
        model = cls(translator=translator, lm=lm, weight=meta["weight"],
                    weights=tuple(meta["weights"]), method=meta["method"])
        model.translator_, model.lm_, model.weight_ = translator, lm, float(meta["weight"])
        if meta.get("weight_scores") is not None:
            model.weight_scores_ = {float(k): v for k, v in meta["weight_scores"].items()}
        return model
