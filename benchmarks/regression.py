"""Regression (issue 32) -> benchmarks/RESULTS.md "Regression".

- ``alpha``: the TF-IDF ridge's ``alpha``, chosen by 5-fold cross-validation on EmoBank train
  (no dev text is seen): mean Pearson over valence, arousal and dominance.
- ``emobank``: trained on EmoBank train (8,062 sentences), Pearson / Spearman / RMSE on dev
  (1,000; the test split is held out) per dimension: the peer (scikit-learn's
  ``TfidfVectorizer`` word 1-2 grams + ``Ridge``), each default component of
  ``HybridRegressor`` fit alone, and ``HybridRegressor()``; with the bench extra also
  ``HybridRegressor(pretrained=all-MiniLM-L6-v2, fine_tune=False)`` (frozen sentence
  embeddings + ridge joins). ``emobank-finetune``: the same, and MiniLM fine-tuned as a
  ``TransformerRegressor`` (3 epochs) alone and inside ``HybridRegressor(pretrained=...)``.

Run alone: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/regression.py alpha
emobank`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.hybrid import HybridRegressor, default_regressors  # noqa: E402
from hybridnlp.utils.metrics import regression_scores  # noqa: E402

ALPHAS = (0.3, 1.0, 3.0, 10.0)


def alpha_section(command: str) -> None:
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    train = load_dataset("emobank", split="train")
    y = train.target
    ridge = dict(default_regressors(0))["tfidf"]
    rows = ["| alpha | mean Pearson (5-fold CV, train) |", "|---|---|"]
    for alpha in ALPHAS:
        pred = np.zeros_like(y)
        for fit_rows, test in KFold(5, shuffle=True, random_state=0).split(train.data):
            model = clone(ridge).set_params(ridge__alpha=alpha).fit(
                [train.data[i] for i in fit_rows], y[fit_rows])
            pred[test] = model.predict([train.data[i] for i in test])
        rows.append(f"| {alpha} | {regression_scores(y, pred)['pearson']:.4f} |")
        print(rows[-1], flush=True)
    write_section("regression-alpha", "\n".join([
        "## Regression: the TF-IDF ridge's alpha (issue 32)", "", stamp(command), "",
        "Ridge on TF-IDF word + char n-grams, 5-fold cross-validation on EmoBank train only; "
        "the default (`RIDGE_ALPHA`) is the best row.", "", *rows, ""]))


def emobank_section(command: str, fine_tune: bool = False) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    train, dev = load_dataset("emobank", split="train"), load_dataset("emobank", split="dev")
    names = train.target_names
    models = [("peer: scikit-learn TfidfVectorizer(1-2 grams) + Ridge",
               make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                             Ridge(alpha=1.0)))]
    models += [(f"component: {name}", est) for name, est in default_regressors(0)]
    models.append(("HybridRegressor()", HybridRegressor(random_state=0)))
    if importlib.util.find_spec("all_minilm_l6_v2") is not None:  # the bench extra
        from pretrained import minilm_dir

        pre = dict(default_regressors(0, pretrained=minilm_dir()))
        models.append(("component: sentence_embedding (all-MiniLM-L6-v2, frozen)",
                       pre["sentence_embedding"]))
        models.append(("HybridRegressor(pretrained=all-MiniLM-L6-v2, fine_tune=False)",
                       HybridRegressor(pretrained=minilm_dir(), fine_tune=False,
                                       random_state=0)))
        if fine_tune:
            models.append(("component: transformer (all-MiniLM-L6-v2 fine-tuned, 3 epochs)",
                           pre["transformer"]))
            models.append(("HybridRegressor(pretrained=all-MiniLM-L6-v2)",
                           HybridRegressor(pretrained=minilm_dir(), random_state=0)))
    header = ("| model | " + " | ".join(f"Pearson {n[0].upper()}" for n in names)
              + " | mean Pearson | mean Spearman | mean RMSE | fit (s) |")
    rows = [header, "|---" * (len(names) + 5) + "|"]
    chosen = []
    for label, model in models:
        start = time.perf_counter()
        model.fit(train.data, train.target)
        fit = time.perf_counter() - start
        s = regression_scores(dev.target, model.predict(dev.data), names)
        per = " | ".join(f"{s['per_target'][n]['pearson']:.4f}" for n in names)
        rows.append(f"| {label} | {per} | {s['pearson']:.4f} | {s['spearman']:.4f} | "
                    f"{s['rmse']:.4f} | {fit:.0f} |")
        print(rows[-1], flush=True)
        if isinstance(model, HybridRegressor):
            chosen.append(f"{label}: chose {dict(zip(names, model.chosen_, strict=True))}, "
                          f"weights {np.round(model.coef_, 3).tolist()} over "
                          f"{list(model.named_estimators_)}.")
    write_section("regression-emobank", "\n".join([
        "## Regression: EmoBank valence, arousal, dominance (issue 32)", "", stamp(command), "",
        f"Trained on EmoBank train ({len(train.data):,} sentences), scored on dev "
        f"({len(dev.data):,}; the official test split is held out). `HybridRegressor` stacks "
        f"its components' 5-fold out-of-fold predictions with non-negative weights per target, "
        f"or takes one component alone where that had the lower out-of-fold error.", "",
        *rows, "", *chosen, ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["alpha", "emobank"],
                        choices=["alpha", "emobank", "emobank-finetune"])
    args = parser.parse_args()
    command = "python benchmarks/regression.py " + " ".join(sys.argv[1:])
    for section in args.sections:
        if section == "alpha":
            alpha_section(command)
        else:
            emobank_section(command, fine_tune=section == "emobank-finetune")


if __name__ == "__main__":
    main()
