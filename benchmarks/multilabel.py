"""Multi-label classification (issue 32, item 1) -> benchmarks/RESULTS.md "Multi-label".

- ``goemotions``: trained on GoEmotions train (43,410 Reddit comments, 28 labels), scored on
  dev (5,426) and test (5,427); nothing is tuned on either (thresholds and meta learners are
  fit on held-out parts of train).
- ``duee``: DuEE 1.0 event types (Chinese, 65 labels): the visible training sentences, a
  seeded 80/20 split (train 9,566 / evaluation 2,392).

Rows: the peer a scikit-learn user writes (``TfidfVectorizer`` + ``OneVsRestClassifier(
LogisticRegression())``, predicting at 0.5), the same peer with per-label thresholds tuned
on its 5-fold out-of-fold probabilities, each default component of ``HybridClassifier`` (the
one the hybrid refit on all training texts, its thresholds tuned on the held-out
probabilities the hybrid's meta learners learned from, so out of fold), and
``HybridClassifier()`` (one meta learner per label over the components' held-out
probabilities, thresholds tuned on their cross-validated predictions).

Run alone: ``HYBRIDNLP_DATA=../shared/data .venv/bin/python benchmarks/multilabel.py
goemotions duee`` (about an hour on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _report import stamp, write_section  # noqa: E402

from hybridnlp import load_dataset  # noqa: E402
from hybridnlp.hybrid import HybridClassifier  # noqa: E402
from hybridnlp.utils.multilabel import multilabel_scores, tune_thresholds  # noqa: E402

METRICS = ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")
DUMP = os.environ.get("HYBRIDNLP_BENCH_DUMP")  # a folder for the probabilities, optional


def peer(chinese: bool):
    """What a scikit-learn user writes: TF-IDF (word 1-2 grams; character 1-3 grams for
    Chinese, which has no spaces) and one logistic regression per label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    vectorizer = (TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
                  if chinese else TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True))
    return make_pipeline(vectorizer, OneVsRestClassifier(LogisticRegression(max_iter=1000)))


def out_of_fold(model, texts, Y) -> np.ndarray:
    from sklearn.model_selection import KFold, cross_val_predict

    return cross_val_predict(model, texts, Y, cv=KFold(5, shuffle=True, random_state=0),
                             method="predict_proba")


def evaluate(train, evals: dict, chinese: bool, dump: str | None = None) -> list[str]:
    """Rows of the table: every model scored on each evaluation split."""
    texts, Y = train
    header = "| model | fit (s) | " + " | ".join(
        f"{split} {m}" for split in evals for m in ("micro F1", "macro F1", "subset acc.")) + " |"
    rows = [header, "|---" * (2 + 3 * len(evals)) + "|"]

    def row(label, fit_s, predict):
        cells = []
        for split_texts, split_Y in evals.values():
            s = multilabel_scores(split_Y, predict(split_texts))
            cells += [f"{s['micro_f1']:.4f}", f"{s['macro_f1']:.4f}",
                      f"{s['subset_accuracy']:.4f}"]
        fit = "-" if fit_s is None else f"{fit_s:.0f}"
        rows.append(f"| {label} | {fit} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)

    model = peer(chinese)
    start = time.perf_counter()
    model.fit(texts, Y)
    fit_s = time.perf_counter() - start
    row("peer: TfidfVectorizer + OneVsRestClassifier(LogisticRegression), at 0.5", fit_s,
        model.predict)
    start = time.perf_counter()
    thresholds = tune_thresholds(out_of_fold(peer(chinese), texts, Y), Y)
    row("peer, thresholds tuned on its 5-fold out-of-fold probabilities",
        fit_s + time.perf_counter() - start,
        lambda t: model.predict_proba(t) >= thresholds)

    start = time.perf_counter()
    hybrid = HybridClassifier(random_state=0, verbose=0).fit(texts, Y)
    fit_s = time.perf_counter() - start
    for comp, est in hybrid.named_estimators_.items():
        t = tune_thresholds(hybrid.held_out_[comp], hybrid.held_out_y_)
        row(f"component: {comp} (thresholds tuned on its held-out probabilities)", None,
            lambda x, est=est, t=t: est.predict_proba(x) >= t)
    row("HybridClassifier()", fit_s, hybrid.predict)
    scores = ", ".join(f"{k} {v:.4f}" for k, v in hybrid.meta_scores_.items())
    rows += ["", f"HybridClassifier: its meta level was chosen on {hybrid.n_meta_rows_:,} "
             f"held-out texts, by micro F1 out of fold ({scores}): **{hybrid.chosen_}**; "
             f"thresholds from {hybrid.thresholds_.min():.2f} to "
             f"{hybrid.thresholds_.max():.2f} (median {np.median(hybrid.thresholds_):.2f})."]
    if dump:  # the components' held-out and evaluation probabilities, for study
        np.savez_compressed(dump, y=hybrid.held_out_y_, **{
            f"held_{n}": p for n, p in hybrid.held_out_.items()}, **{
            f"{split}_{n}": est.predict_proba(x) for split, (x, _) in evals.items()
            for n, est in hybrid.named_estimators_.items()}, **{
            f"{split}_y": y for split, (_, y) in evals.items()})
    return rows


def goemotions_section(command: str) -> None:
    train, dev, test = (load_dataset("goemotions", split=s) for s in ("train", "dev", "test"))
    rows = evaluate((train.data, train.target),
                    {"dev": (dev.data, dev.target), "test": (test.data, test.target)}, False,
                    DUMP and f"{DUMP}/goemotions.npz")
    write_section("multilabel-goemotions", "\n".join([
        "## Multi-label: GoEmotions, 28 emotions (issue 32)", "", stamp(command), "",
        f"Trained on GoEmotions train ({len(train.data):,} comments), scored on dev "
        f"({len(dev.data):,}) and test ({len(test.data):,}); nothing is tuned on either. The "
        f"paper's BERT-base reaches macro F1 0.46 on test (Demszky et al. 2020). The "
        f"components' fit time is inside the hybrid's.", "", *rows, ""]))


def duee_section(command: str) -> None:
    from sklearn.model_selection import train_test_split

    data = load_dataset("duee_event_types", split="train")
    idx = np.arange(len(data.data))
    train, held = train_test_split(idx, test_size=0.2, random_state=0)
    texts = [data.data[i] for i in train]
    rows = evaluate((texts, data.target[train]),
                    {"held-out 20%": ([data.data[i] for i in held], data.target[held])}, True,
                    DUMP and f"{DUMP}/duee.npz")
    write_section("multilabel-duee", "\n".join([
        "## Multi-label: DuEE 1.0 event types, 65 labels, Chinese (issue 32)", "",
        stamp(command), "",
        f"The visible DuEE training sentences, split 80/20 (seed 0): trained on "
        f"{len(train):,}, scored on {len(held):,} (DuEE's dev set is held out from us). "
        f"Words are characters (the shared splitter), no segmenter.", "", *rows, ""]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", default=["goemotions", "duee"],
                        choices=["goemotions", "duee"])
    args = parser.parse_args()
    command = "python benchmarks/multilabel.py " + " ".join(sys.argv[1:])
    for section in args.sections:
        (goemotions_section if section == "goemotions" else duee_section)(command)


if __name__ == "__main__":
    main()
