"""Hybrid classifiers against their components (../shared/BENCHMARKS.md section 1) -> RESULTS.md.

For each data set, in one run: every component alone (NBSVM word+char, TF-IDF word+char + LR,
TransformerClassifier), the out-of-fold stacking (``HybridClassifier`` defaults), a weighted
ensemble whose weights are fit on the same held-out predictions, and on TREC and SST-2 a gated
ensemble and ``FusionClassifier``; with the published NBSVM/CNN figures and wall times.
MR and Subj: 10-fold CV; TREC, SST-2, IMDB: train -> test. A plot per data set is saved beside
RESULTS.md.

Run: ``.venv/bin/python benchmarks/hybrid.py [--data sst2 trec mr subj imdb]`` (about an hour on
2 cores for all five; results are written after each data set).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from _report import RESULTS, stamp, write_section  # noqa: E402

from hybridnlp import (  # noqa: E402
    FusionClassifier,
    HybridClassifier,
    WeightedEnsemble,
    load_dataset,  # noqa: E402
)
from hybridnlp.hybrid import default_components  # noqa: E402
from hybridnlp.hybrid.ensemble import fit_simplex_weights  # noqa: E402

PUBLISHED = {  # NBSVM-bi (Wang & Manning 2012) / CNN-rand / CNN-non-static (Kim 2014)
    "mr": "79.4 / 76.1 / 81.5", "subj": "93.2 / 89.6 / 93.4", "trec": "- / 91.2 / 93.6",
    "sst2": "- / 82.7 / 87.2", "imdb": "91.2 / - / - (NBSVM+RNNLM+PV ensemble 92.57)",
}
TARGET = {"mr": 80.5, "subj": 94.0, "trec": 94.0, "sst2": 85.0, "imdb": 92.6}
COMPONENTS = ("nbsvm", "tfidf", "transformer")
BR = re.compile(r"<br\s*/?>")


def evaluate_split(train_x, train_y, test_x, test_y, extras: bool) -> dict[str, float]:
    """Accuracy (%) of every component and hybrid, fitting the components once."""
    hybrid = HybridClassifier().fit(train_x, train_y)
    summary = hybrid.component_report(test_x, test_y).summary
    scores = {name: 100 * summary["accuracy"][name] for name in COMPONENTS}
    scores["stacking (HybridClassifier)"] = 100 * summary["accuracy"]["final"]
    weights = fit_simplex_weights(np.stack(list(hybrid.held_out_.values())),
                                  np.searchsorted(hybrid.classes_, hybrid.held_out_y_))
    probas = np.stack(list(hybrid.component_proba(test_x).values()))  # (M, n, K)
    voted = hybrid.classes_[np.einsum("m,mnk->nk", weights, probas).argmax(1)]
    scores["weighted ensemble"] = 100 * float(np.mean(voted == test_y))
    if extras:
        gated = WeightedEnsemble(estimators=default_components(0),
                                 estimator_cv={"transformer": 0.2}, gating=True, random_state=0)
        scores["gated ensemble"] = 100 * gated.fit(train_x, train_y).score(test_x, test_y)
        fusion = FusionClassifier(random_state=0).fit(train_x, train_y)
        scores["fusion (Transformer + NBSVM features)"] = 100 * fusion.score(test_x, test_y)
    return scores


def evaluate(name: str) -> tuple[dict[str, float], str]:
    if name in ("mr", "subj"):
        data = load_dataset(name)
        texts = np.array(data.data, dtype=object)
        folds = []
        for tr, te in StratifiedKFold(10, shuffle=True, random_state=0).split(texts, data.target):
            folds.append(evaluate_split(list(texts[tr]), data.target[tr], list(texts[te]),
                                        data.target[te], extras=False))
        return {k: float(np.mean([f[k] for f in folds])) for k in folds[0]}, "10-fold CV"
    train, test = load_dataset(name, split="train"), load_dataset(name, split="test")
    train_x, test_x = train.data, test.data
    if name == "imdb":
        train_x, test_x = [BR.sub(" ", t) for t in train_x], [BR.sub(" ", t) for t in test_x]
    # The gated ensemble and fusion refit every component again: measured on the small sets.
    extras = name in ("trec", "sst2")
    return evaluate_split(train_x, train.target, test_x, test.target, extras), "train -> test"


def plot(name: str, scores: dict[str, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = list(scores)
    colors = ["#8da0cb" if k in COMPONENTS else "#fc8d62" for k in labels]
    ax.barh(labels, [scores[k] for k in labels], color=colors)
    low = min(scores.values())
    ax.set_xlim(max(0, low - 5), max(scores.values()) + 2)
    ax.axvline(TARGET[name], color="k", linestyle="--", linewidth=1, label="target")
    ax.set_xlabel("accuracy (%)")
    ax.set_title(f"{name}: components (blue) and hybrids (orange)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = RESULTS.with_name(f"hybrid_{name}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", nargs="+", default=["sst2", "trec", "mr", "subj", "imdb"])
    args = parser.parse_args()
    for name in args.data:
        start = time.perf_counter()
        scores, protocol = evaluate(name)
        elapsed = time.perf_counter() - start
        best_component = max(scores[k] for k in COMPONENTS)
        rows = "\n".join(f"| {k} | {v:.1f} |" for k, v in scores.items())
        hybrid = scores["stacking (HybridClassifier)"]
        body = f"""## Hybrid vs components: {name} ({protocol})

{stamp(f"python benchmarks/hybrid.py --data {name}")}
Wall time for everything below: {elapsed / 60:.1f} min. Published NBSVM-bi / CNN-rand /
CNN-non-static: {PUBLISHED[name]}. Target for `HybridClassifier` defaults: {TARGET[name]}
({"met" if hybrid >= TARGET[name] else f"missed by {TARGET[name] - hybrid:.1f}"}); above
its best component ({best_component:.1f}): {"yes" if hybrid > best_component else "no"}.

| model | accuracy (%) |
| --- | ---: |
{rows}

![{name}]({plot(name, scores)})
"""
        write_section(f"hybrid_{name}", body)
        print(name, scores, f"{elapsed:.0f}s", flush=True)


if __name__ == "__main__":
    main()
