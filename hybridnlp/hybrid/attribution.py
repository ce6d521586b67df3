"""Per-example attribution: which component of a hybrid is right on which texts."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from hybridnlp.text import WordTokenizer
from hybridnlp.utils.validation import check_texts_labels

__all__ = ["ComponentReportMixin", "component_report"]


def _length_buckets(lengths: np.ndarray, n_buckets: int = 4) -> list[tuple[int, int]]:
    """Token-length ranges holding about equal numbers of texts."""
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, n_buckets + 1)).astype(int))
    return [(int(lo) + (i > 0), int(hi)) for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]


def component_report(components: dict[str, np.ndarray], final: np.ndarray, classes: np.ndarray,
                     texts: list[str], y: np.ndarray) -> ComponentReport:
    """Attribution from class probabilities of each component and of the final model.

    Returns
    -------
    Bunch
        ``examples``: columns (dict of arrays, ``pandas.DataFrame(report.examples)`` works):
        text, length, true, and per component and ``final``: ``<name>_pred``,
        ``<name>_confidence``, ``<name>_correct``.
        ``summary``: ``accuracy`` per component and final; ``only_right`` (fraction of texts
        where this component alone is right); ``oracle`` (some component is right);
        ``final_beats_best`` (final accuracy minus the best component's); ``by_length`` (list of
        dicts: token-length range, n, accuracy per component and final).
    """
    lengths = np.array([len(tokens) for tokens in WordTokenizer().tokenize_batch(texts)])
    examples = {"text": list(texts), "length": lengths, "true": y}
    correct = {}
    for name, proba in {**components, "final": final}.items():
        pred = classes[proba.argmax(axis=1)]
        examples[f"{name}_pred"] = pred
        examples[f"{name}_confidence"] = proba.max(axis=1)
        examples[f"{name}_correct"] = correct[name] = pred == y
    names = list(components)
    right = np.vstack([correct[n] for n in names])  # (M, n)
    accuracy = {name: float(c.mean()) for name, c in correct.items()}
    only_right = {n: float((right[i] & (right.sum(0) == 1)).mean()) for i, n in enumerate(names)}
    by_length = []
    for lo, hi in _length_buckets(lengths):
        mask = (lengths >= lo) & (lengths <= hi)
        if mask.any():
            by_length.append({"tokens": f"{lo}-{hi}", "n": int(mask.sum()),
                              "accuracy": {n: float(c[mask].mean()) for n, c in correct.items()}})
    summary = {
        "accuracy": accuracy, "only_right": only_right, "oracle": float(right.any(0).mean()),
        "final_beats_best": accuracy["final"] - max(accuracy[n] for n in names),
        "by_length": by_length,
    }
    return ComponentReport(examples=examples, summary=summary)


class ComponentReport(Bunch):
    """What :func:`component_report` returns: a ``Bunch`` (``examples``, ``summary``,
    ``proba``) that prints as a table and converts with :meth:`to_frame`."""

    def __repr__(self) -> str:
        summary = self.summary
        acc, only = summary["accuracy"], summary["only_right"]
        names = [n for n in acc if n != "final"]
        n_texts = len(self.examples["text"])
        lines = [f"ComponentReport: {len(names)} components on {n_texts} texts; final "
                 f"{acc['final']:.4f} ({summary['final_beats_best']:+.4f} vs the best "
                 f"component), oracle {summary['oracle']:.4f}",
                 f"{'component':<16}{'accuracy':>10}{'only right':>12}"]
        lines += [f"{n:<16}{acc[n]:>10.4f}{only[n]:>12.4f}" for n in names]
        lines.append(f"{'final':<16}{acc['final']:>10.4f}")
        lines.append("only right: share of texts this component alone gets right (what it "
                     "adds that no other component has); oracle: some component is right.")
        lines.append("by length (tokens, n, final accuracy): " + ", ".join(
            f"{b['tokens']} n={b['n']} {b['accuracy']['final']:.3f}"
            for b in summary["by_length"]))
        return "\n".join(lines)

    def to_frame(self, what: str = "summary"):
        """A ``pandas.DataFrame``: ``"summary"`` (one row per component and ``final``:
        accuracy, only_right), ``"examples"`` (one row per text) or ``"by_length"``."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame needs pandas: pip install pandas") from None
        if what == "examples":
            return pd.DataFrame(self.examples)
        if what == "by_length":
            return pd.DataFrame([{"tokens": b["tokens"], "n": b["n"], **b["accuracy"]}
                                 for b in self.summary["by_length"]])
        if what != "summary":
            raise ValueError(f"what={what!r} is not allowed; choose one of 'summary', "
                             f"'examples', 'by_length'.")
        acc, only = self.summary["accuracy"], self.summary["only_right"]
        return pd.DataFrame({"accuracy": list(acc.values()),
                             "only_right": [only.get(n, float("nan")) for n in acc]},
                            index=list(acc))


class ComponentReportMixin:
    """``component_report(X, y)`` for hybrids that define ``component_proba`` and
    ``_combine`` (components' probabilities -> the hybrid's)."""

    def component_report(self, X, y) -> ComponentReport:
        """Per-example predictions and confidences of every component and of the hybrid, with
        a summary (accuracies, who is right when the others are wrong, accuracy by length),
        and ``proba``, the hybrid's ``predict_proba(X)``: every component predicts once."""
        texts, table = self._split_input(X)
        texts, y = check_texts_labels(texts, y, require_words=False, min_classes=1)
        components = self._component_proba(texts)
        final = self._combine(components, texts, table)
        report = component_report(components, final, self.classes_, texts, y)
        report.proba = final
        return report
