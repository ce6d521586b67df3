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
- ``stsb``: sentence pairs, STS-B train -> dev: the TF-IDF cosine of the two sentences, the
  peer (ridge on TF-IDF of the joined pair), each default component and ``HybridRegressor``.

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


def stsb_section(command: str) -> None:
    """STS-B: sentence pairs (issue 32, item 3)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from hybridnlp.utils.validation import join_pairs

    train, dev = load_dataset("stsb", split="train"), load_dataset("stsb", split="dev")
    rows = ["| model | Pearson | Spearman | RMSE | fit (s) |", "|---|---|---|---|---|"]

    def row(label, pred, fit_s):
        s = regression_scores(dev.target, pred)
        rows.append(f"| {label} | {s['pearson']:.4f} | {s['spearman']:.4f} | {s['rmse']:.4f} "
                    f"| {fit_s} |")
        print(rows[-1], flush=True)

    start = time.perf_counter()  # unsupervised: the cosine of the two sides' TF-IDF vectors
    tfidf = TfidfVectorizer(sublinear_tf=True).fit([t for pair in train.data for t in pair])
    a = tfidf.transform([p[0] for p in dev.data])
    b = tfidf.transform([p[1] for p in dev.data])
    cosine = np.asarray(a.multiply(b).sum(axis=1)).ravel() * 5
    row("TF-IDF cosine of the two sentences (no training), x5", cosine,
        f"{time.perf_counter() - start:.0f}")
    peer = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), Ridge())
    start = time.perf_counter()
    peer.fit(join_pairs(train.data), train.target)
    row("peer: scikit-learn TfidfVectorizer(1-2 grams) + Ridge on the joined pair",
        peer.predict(join_pairs(dev.data)), f"{time.perf_counter() - start:.0f}")
    hybrid = HybridRegressor(random_state=0)
    start = time.perf_counter()
    hybrid.fit(train.data, train.target)
    fit_s = f"{time.perf_counter() - start:.0f}"
    for name, est in hybrid.named_estimators_.items():
        row(f"component: {name} (refit on all of train)", est.predict(join_pairs(dev.data)),
            "-")
    pred = hybrid.predict(dev.data)
    row("HybridRegressor() on the pairs", pred, fit_s)
    weights = dict(zip(hybrid.named_estimators_, np.round(hybrid.coef_[0], 3).tolist()))
    write_section("regression-stsb", "\n".join([
        "## Regression on sentence pairs: STS-B (issue 32)", "", stamp(command), "",
        f"Trained on STS-B train ({len(train.data):,} pairs), scored on dev "
        f"({len(dev.data):,}; the test split is held out). Every component reads the pair "
        f"joined by a separator; `pair` is ridge regression on `PairFeatures` (TF-IDF "
        f"cosines, overlaps, lengths, numbers). Published, not trained on STS-B: averaged "
        f"GloVe 58.0, USE 74.9 Pearson on test (Cer et al. 2017). The components' fit time is "
        f"inside the hybrid's.", "", *rows, "",
        f"HybridRegressor chose {hybrid.chosen_[0]!r}, weights {weights}, intercept "
        f"{hybrid.intercept_[0]:.3f}; Spearman of its predictions "
        f"{spearmanr(pred, dev.target)[0]:.4f}, Pearson {pearsonr(pred, dev.target)[0]:.4f}.",
        ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["alpha", "emobank"],
                        choices=["alpha", "emobank", "emobank-finetune", "stsb"])
    args = parser.parse_args()
    command = "python benchmarks/regression.py " + " ".join(sys.argv[1:])
    for section in args.sections:
        if section == "alpha":
            alpha_section(command)
        elif section == "stsb":
            stsb_section(command)
        else:
            emobank_section(command, fine_tune=section == "emobank-finetune")


if __name__ == "__main__":
    main()
